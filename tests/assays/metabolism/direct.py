"""Independent reading of the Wave fixtures for the tests: straight from the sheet cells.

Nothing here imports celltrace: these helpers are the reference the analyses are checked
against. They rely on the documented Wave layout (Rate sheet columns A–G) and on the standard
Mito Stress Test protocol of the shared exports (3 measurements per phase), which the tests
confirm independently from each file's Operation Log.
"""

from __future__ import annotations

import functools
from pathlib import Path

import openpyxl

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SEAHORSE = FIXTURES / "seahorse"
EXPORTS = sorted(SEAHORSE.glob("*.xlsx"))
XFE24 = [SEAHORSE / "xfe24-mst-raw_1.xlsx", SEAHORSE / "xfe24-mst-raw_2.xlsx"]
COUNTS = {
    SEAHORSE / "xfe24-mst-raw_1.xlsx": SEAHORSE / "xfe24-mst-counts_1.csv",
    SEAHORSE / "xfe24-mst-raw_2.xlsx": SEAHORSE / "xfe24-mst-counts_2.csv",
}
XFE96 = SEAHORSE / "xfe96-mito-glyco-rep1.xlsx"


@functools.lru_cache(maxsize=8)
def load(path: Path) -> Rates:
    """Cached :class:`Rates` of a fixture (the tests only read it)."""
    return Rates(path)


class Rates:
    """OCR/ECAR/PER by well and measurement number (1-based), and each well's group."""

    def __init__(self, path: Path) -> None:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        self.ocr: dict[str, dict[int, float]] = {}
        self.ecar: dict[str, dict[int, float]] = {}
        self.per: dict[str, dict[int, float]] = {}
        self.group: dict[str, str] = {}
        for m, well, group, _time, ocr, ecar, per, *_ in wb["Rate"].iter_rows(
            min_row=2, values_only=True
        ):
            self.ocr.setdefault(well, {})[m] = ocr
            self.ecar.setdefault(well, {})[m] = ecar
            self.per.setdefault(well, {})[m] = per
            self.group[well] = group
        # Groups table: the injection strategy next to each group name.
        self.strategy: dict[str, str] = {}
        rows = list(wb["Assay Configuration"].iter_rows(values_only=True))
        for r, row in enumerate(rows):
            if "Group Name" in row:
                c = row.index("Group Name")
                for below in rows[r + 1 :]:
                    if below[c] in (None, ""):
                        break
                    self.strategy[below[c]] = below[c + 1] or ""
                break
        self.labels = {row[0]: row[1] for row in rows if row and row[0] is not None}
        # Operation Log: count Measure commands before each Inject command.
        self.injected_after: list[tuple[str, int]] = []
        measures = 0
        for name, command, *_ in wb["Operation Log"].iter_rows(min_row=2, values_only=True):
            if command == "Measure":
                measures += 1
            elif command == "Inject":
                self.injected_after.append((name, measures))
        self.n_measurements = measures
        wb.close()

    def wells(self, strategy_contains: str) -> list[str]:
        return [
            w
            for w, g in self.group.items()
            if g != "Background" and strategy_contains in self.strategy.get(g, "")
        ]


def mito_stress_direct(ocr: dict[int, float]) -> dict[str, float]:
    """Agilent Mito Stress Test rules with the standard points (domain-facts §9.1)."""
    nm = min(ocr[m] for m in (10, 11, 12))
    basal = ocr[3] - nm
    maximal = max(ocr[m] for m in (7, 8, 9)) - nm
    leak = min(ocr[m] for m in (4, 5, 6)) - nm
    atp = ocr[3] - min(ocr[m] for m in (4, 5, 6))
    return {
        "non_mitochondrial_ocr": nm,
        "basal_respiration": basal,
        "maximal_respiration": maximal,
        "proton_leak": leak,
        "atp_linked_respiration": atp,
        "spare_respiratory_capacity": maximal - basal,
        "spare_respiratory_capacity_percent": maximal / basal * 100,
        "coupling_efficiency_percent": atp / basal * 100,
    }


def atp_rate_direct(
    ocr: dict[int, float], per: dict[int, float], ccf: float, po: float
) -> dict[str, float]:
    """Real-Time ATP rate (domain-facts §9.3) on Wave's PER column; oligo after m3, Rot/AA
    after m9 in the shared exports."""
    mito_atp = (ocr[3] - min(ocr[m] for m in (4, 5, 6))) * 2 * po
    mito_per = (ocr[3] - min(ocr[m] for m in (10, 11, 12))) * ccf
    glyco_atp = per[3] - mito_per
    total = mito_atp + glyco_atp
    return {
        "mito_atp_production_rate": mito_atp,
        "glyco_atp_production_rate": glyco_atp,
        "total_atp_production_rate": total,
        "atp_rate_index": mito_atp / glyco_atp,
        "glyco_atp_percent": glyco_atp / total * 100,
    }
