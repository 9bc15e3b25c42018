"""Benchmark of the flow cytometry path: ``python -m bench.assays``.

Processes the largest FCS fixture end to end (read, compensate with the file's spillover,
logicle transform, gate, statistics) through ``celltrace.assays.flow.analyze_fcs`` and through
the same steps called directly on FlowKit, alternating the two, and prints median times.  The
last line is ``assays flow_ms=<ours> flow_overhead=<ours/flowkit>``.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FCS_DIR = ROOT / "tests" / "fixtures" / "fcs"
TEMPLATE = ROOT / "tests" / "fixtures" / "flow" / "t_panel_100715.gatingml.xml"
REPETITIONS = 15


def _largest_fcs() -> Path:
    return max(FCS_DIR.glob("*.fcs"), key=lambda p: p.stat().st_size)


def _ours(fcs: Path) -> dict[str, int]:
    from celltrace.assays.flow import analyze_fcs

    result = analyze_fcs(fcs, TEMPLATE)
    return {g.path: g.count for g in result.gate_counts}


def _flowkit(fk: Any, fcs: Path) -> dict[str, int]:
    sample = fk.Sample(str(fcs))
    strategy = fk.parse_gating_xml(str(TEMPLATE))
    results = strategy.gate_sample(sample, cache_events=True)
    report = results.report
    return {
        "/".join((*path[1:], name)): int(count)
        for path, name, count in zip(
            report["gate_path"], report["gate_name"], report["count"], strict=True
        )
    }


def main() -> None:
    warnings.simplefilter("ignore")
    import flowkit as fk

    fcs = _largest_fcs()
    print(
        f"bench: {fcs.name} ({fcs.stat().st_size} bytes), template {TEMPLATE.name}", file=sys.stderr
    )
    # warm-up (imports, caches) and a consistency check: both paths must count the same events
    ours_counts, fk_counts = _ours(fcs), _flowkit(fk, fcs)
    if ours_counts != fk_counts:
        raise SystemExit(f"bench: counts differ: ours {ours_counts} vs FlowKit {fk_counts}")
    ours_ms: list[float] = []
    fk_ms: list[float] = []
    for i in range(REPETITIONS):
        start = time.perf_counter()
        _ours(fcs)
        ours_ms.append((time.perf_counter() - start) * 1000.0)
        start = time.perf_counter()
        _flowkit(fk, fcs)
        fk_ms.append((time.perf_counter() - start) * 1000.0)
        print(
            f"bench: rep {i + 1}/{REPETITIONS} ours={ours_ms[-1]:.1f} ms "
            f"flowkit={fk_ms[-1]:.1f} ms",
            file=sys.stderr,
        )
    ours = statistics.median(ours_ms)
    direct = statistics.median(fk_ms)
    print(f"bench: median flowkit_ms={direct:.1f}", file=sys.stderr)
    print(f"assays flow_ms={ours:.1f} flow_overhead={ours / direct:.2f}")


if __name__ == "__main__":
    main()
