"""Benchmark: the 96-well Seahorse fixture end to end.

One run = read the Wave export, find the assays the plate supports (Mito Stress Test and
Real-Time ATP Rate for this plate), compute all their parameters for every well and group, and
draw all the plate's charts (kinetic OCR, ECAR and PER traces, the energy map, one parameter
chart per assay; see ``charts.plate_charts``).
The baseline, measured in the same process, is what any importer pays at least: opening the
workbook with openpyxl (read-only) and reading the rows of its Rate sheet.

    cd /work/main && .venv/bin/python -m bench.metabolism

The last line is exactly ``metabolism plate_ms=<median>``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl

from celltrace.assays.metabolism.analysis import analyse, supported_assays
from celltrace.assays.metabolism.charts import plate_charts
from celltrace.assays.metabolism.seahorse import read_wave_export

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "fixtures"
    / "seahorse"
    / "xfe96-mito-glyco-rep1.xlsx"
)
RUNS = 7


def baseline() -> int:
    wb = openpyxl.load_workbook(FIXTURE, read_only=True, data_only=True)
    n = sum(1 for _ in wb["Rate"].iter_rows(values_only=True))
    wb.close()
    return n


def plate() -> tuple[int, int]:
    export = read_wave_export(FIXTURE)
    results = [analyse(export, assay) for assay in supported_assays(export)]
    charts = plate_charts(results)
    return sum(len(r.parameters) * len(r.wells) for r in results), len(charts)


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def main() -> None:
    rows = baseline()  # warm-up (imports, caches)
    n_params, n_charts = plate()
    base_ms = _median_ms(baseline, RUNS)
    plate_ms = _median_ms(plate, RUNS)
    print(
        f"fixture {FIXTURE.name}: {rows} Rate rows; per run {n_params} well parameters, "
        f"{n_charts} SVG charts; {RUNS} runs each"
    )
    print(f"baseline (openpyxl read-only load + Rate rows) median_ms={base_ms:.1f}")
    print(f"ratio plate/baseline={plate_ms / base_ms:.1f}")
    print(f"metabolism plate_ms={plate_ms:.1f}")


if __name__ == "__main__":
    main()
