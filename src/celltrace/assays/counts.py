"""Cell count and viability (Ph. Eur. 2.7.29; USP <1046>).

::

    Viability %  = viable / (viable + non-viable) × 100
    cells/mL     = (cells counted / large squares counted) × dilution factor × 10^4   # Neubauer
    TNC          = concentration × volume;  viable cells = TNC × viability
    dose per kg  = cells / body mass

A 1:1 trypan-blue mix is dilution factor 2. Automated-counter exports are read from the two CSV
layouts documented in ``docs/assays.md`` (:class:`CounterLayout`).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from celltrace.assays import stats
from celltrace.assays.errors import AssayInputError, InstrumentFileError

CALCULATION_VERSION: Final = "counts/1.0.0"

#: Neubauer large square: 1 mm × 1 mm × 0.1 mm = 0.1 µL = 10^-4 mL.
CHAMBER_FACTOR_PER_ML: Final = 10_000
#: Allowed difference between the instrument's viability and ours, percentage points.
VIABILITY_TOLERANCE_PP: Final = 0.5
#: Allowed relative difference between total and live + dead in an export.
TOTAL_TOLERANCE_RELATIVE: Final = 0.01


def viability_percent(viable: float, nonviable: float) -> float:
    """``viable / (viable + non-viable) × 100``."""
    v = stats.require_non_negative(viable, "viable")
    d = stats.require_non_negative(nonviable, "nonviable")
    if v + d == 0:
        raise AssayInputError(
            "viable + nonviable: no cells counted, viability is undefined", field="viable"
        )
    return v / (v + d) * 100.0


def total_cells(concentration_per_ml: float, volume_ml: float) -> float:
    """Total cells = concentration × volume."""
    return stats.require_non_negative(
        concentration_per_ml, "concentration_per_ml"
    ) * stats.require_positive(volume_ml, "volume_ml")


def total_viable_cells(total: float, viability_pct: float) -> float:
    """Viable cells = total cells × viability."""
    t = stats.require_non_negative(total, "total")
    pct = stats.require_finite(viability_pct, "viability_percent")
    if not 0 <= pct <= 100:
        raise AssayInputError(
            f"viability_percent: must be within 0-100, got {pct}", field="viability_percent"
        )
    return t * pct / 100.0


def dose_per_kg(cells: float, body_mass_kg: float) -> float:
    """Cells per kg of body mass (store the weight used and its date with the dose)."""
    return stats.require_non_negative(cells, "cells") / stats.require_positive(
        body_mass_kg, "body_mass_kg"
    )


# ----------------------------------------------------------------------------- hemocytometer


@dataclass(frozen=True)
class HemocytometerResult:
    """A manual Neubauer count with trypan blue (or another exclusion dye)."""

    viable_counts: tuple[int, ...]
    nonviable_counts: tuple[int, ...]
    dilution_factor: float
    volume_ml: float | None
    squares: int
    viable_per_ml: float
    nonviable_per_ml: float
    total_per_ml: float
    viability_percent: float
    total_cells: float | None
    viable_cells: float | None
    valid: bool
    reasons: tuple[str, ...]
    calculation_version: str = CALCULATION_VERSION


def hemocytometer_count(
    viable_counts: Sequence[int],
    nonviable_counts: Sequence[int],
    *,
    dilution_factor: float,
    volume_ml: float | None = None,
    min_cells_counted: int | None = None,
) -> HemocytometerResult:
    """Count per large square, one entry per square counted (viable and non-viable aligned).

    ``cells/mL = mean count per large square × dilution factor × 10^4``. ``dilution_factor`` is
    the total dilution of the counted suspension (2 for a 1:1 trypan-blue mix). With
    ``min_cells_counted`` (a lab SOP rule) a count with fewer cells in total is flagged.
    """
    viable = [stats.require_count(c, "viable_counts", row=i) for i, c in enumerate(viable_counts)]
    dead = [
        stats.require_count(c, "nonviable_counts", row=i) for i, c in enumerate(nonviable_counts)
    ]
    if not viable:
        raise AssayInputError(
            "viable_counts: at least one large square must be counted", field="viable_counts"
        )
    if len(viable) != len(dead):
        raise AssayInputError(
            f"nonviable_counts: {len(dead)} squares for {len(viable)} viable squares; one entry "
            "per square counted is required",
            field="nonviable_counts",
        )
    dilution = stats.require_finite(dilution_factor, "dilution_factor")
    if dilution < 1:
        raise AssayInputError(
            f"dilution_factor: must be >= 1, got {dilution}", field="dilution_factor"
        )
    volume = None if volume_ml is None else stats.require_positive(volume_ml, "volume_ml")
    squares = len(viable)
    viable_per_ml = sum(viable) / squares * dilution * CHAMBER_FACTOR_PER_ML
    dead_per_ml = sum(dead) / squares * dilution * CHAMBER_FACTOR_PER_ML
    total_per_ml = viable_per_ml + dead_per_ml
    viability = viability_percent(sum(viable), sum(dead))
    reasons: list[str] = []
    counted = sum(viable) + sum(dead)
    if min_cells_counted is not None and counted < min_cells_counted:
        reasons.append(f"{counted} cells counted; at least {min_cells_counted} are required")
    return HemocytometerResult(
        viable_counts=tuple(viable),
        nonviable_counts=tuple(dead),
        dilution_factor=dilution,
        volume_ml=volume,
        squares=squares,
        viable_per_ml=viable_per_ml,
        nonviable_per_ml=dead_per_ml,
        total_per_ml=total_per_ml,
        viability_percent=viability,
        total_cells=None if volume is None else total_per_ml * volume,
        viable_cells=None if volume is None else viable_per_ml * volume,
        valid=not reasons,
        reasons=tuple(reasons),
    )


# ----------------------------------------------------------------------------- counter exports


class CounterLayout(StrEnum):
    """Accepted automated-counter CSV layouts (see docs/assays.md)."""

    COUNTESS = "countess"
    VICELL = "vicell"


# field -> header (matched case-insensitively after trimming), and the unit multiplier
_LAYOUTS: Final[dict[CounterLayout, dict[str, str]]] = {
    CounterLayout.COUNTESS: {
        "sample": "Sample",
        "total": "Total cells/mL",
        "viable": "Live cells/mL",
        "nonviable": "Dead cells/mL",
        "viability": "Viability (%)",
        "dilution": "Dilution factor",
    },
    CounterLayout.VICELL: {
        "sample": "Sample ID",
        "total": "Total (x10^6) cells/mL",
        "viable": "Viable (x10^6) cells/mL",
        "viability": "Viability (%)",
        "dilution": "Dilution",
    },
}
_MULTIPLIER: Final = {CounterLayout.COUNTESS: 1.0, CounterLayout.VICELL: 1e6}
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class CounterReading:
    """One count row of an automated-counter export, in cells/mL of the counted sample."""

    source: str
    row: int
    layout: CounterLayout
    sample: str
    total_per_ml: float
    viable_per_ml: float
    nonviable_per_ml: float
    viability_percent: float
    instrument_viability_percent: float
    dilution_factor: float
    valid: bool
    reasons: tuple[str, ...]
    calculation_version: str = CALCULATION_VERSION


def _cell_number(text: str, *, source: str, row: int, header: str) -> float:
    value = text.strip()
    if header.lower().startswith("viability") and value.endswith("%"):
        value = value[:-1].strip()
    if not _NUMBER.fullmatch(value):
        raise InstrumentFileError(
            f"{source}: row {row}, column {header!r}: {text!r} is not a number (use '.' as the "
            "decimal separator and no thousands separators)",
            row=row,
            field=header,
        )
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise InstrumentFileError(
            f"{source}: row {row}, column {header!r}: must be a finite number >= 0, got {text!r}",
            row=row,
            field=header,
        )
    return number


def _detect_layout(headers: set[str], source: str) -> CounterLayout:
    for layout, fields in _LAYOUTS.items():
        if all(h.lower() in headers for h in fields.values()):
            return layout
    expected = "; ".join(
        f"{layout.value}: {', '.join(f.values())}" for layout, f in _LAYOUTS.items()
    )
    raise InstrumentFileError(f"{source}: header matches no accepted counter layout ({expected})")


def _counter_row(
    values: dict[str, str],
    *,
    line: int,
    layout: CounterLayout,
    source: str,
    viability_tolerance_pp: float,
    total_tolerance_relative: float,
) -> CounterReading:
    fields = _LAYOUTS[layout]

    def num(field: str) -> float:
        return _cell_number(values[field], source=source, row=line, header=fields[field])

    sample = values["sample"].strip()
    if not sample:
        raise InstrumentFileError(
            f"{source}: row {line}, column {fields['sample']!r}: sample name is empty",
            row=line,
            field=fields["sample"],
        )
    factor = _MULTIPLIER[layout]
    total = num("total") * factor
    viable = num("viable") * factor
    reasons: list[str] = []
    if layout is CounterLayout.COUNTESS:
        dead = num("nonviable") * factor
        if abs(viable + dead - total) > total_tolerance_relative * max(total, 1.0):
            reasons.append(f"total {total:.4g}/mL differs from live + dead {viable + dead:.4g}/mL")
    else:
        dead = total - viable
    if viable > total:
        raise InstrumentFileError(
            f"{source}: row {line}: viable {viable:.4g}/mL exceeds total {total:.4g}/mL", row=line
        )
    if total == 0:
        raise InstrumentFileError(f"{source}: row {line}: total concentration is 0", row=line)
    instrument_viability = num("viability")
    if instrument_viability > 100:
        raise InstrumentFileError(
            f"{source}: row {line}, column {fields['viability']!r}: above 100 %",
            row=line,
            field=fields["viability"],
        )
    viability = viable / total * 100.0
    if abs(viability - instrument_viability) > viability_tolerance_pp:
        reasons.append(
            f"viability {viability:.2f} % from the counts differs from the instrument's "
            f"{instrument_viability:g} % by more than {viability_tolerance_pp:g} points"
        )
    dilution = num("dilution")
    if dilution < 1:
        raise InstrumentFileError(
            f"{source}: row {line}, column {fields['dilution']!r}: must be >= 1, got {dilution:g}",
            row=line,
            field=fields["dilution"],
        )
    return CounterReading(
        source=source,
        row=line,
        layout=layout,
        sample=sample,
        total_per_ml=total,
        viable_per_ml=viable,
        nonviable_per_ml=dead,
        viability_percent=viability,
        instrument_viability_percent=instrument_viability,
        dilution_factor=dilution,
        valid=not reasons,
        reasons=tuple(reasons),
    )


def parse_counter_csv(
    text: str,
    *,
    source: str = "<counter csv>",
    layout: CounterLayout | None = None,
    viability_tolerance_pp: float = VIABILITY_TOLERANCE_PP,
    total_tolerance_relative: float = TOTAL_TOLERANCE_RELATIVE,
) -> list[CounterReading]:
    """Read an automated-counter CSV export (comma-separated, header on line 1).

    Row numbers in errors are file line numbers (the header is line 1). Each reading recomputes
    the viability from live and total counts and flags a difference from the instrument's
    viability larger than ``viability_tolerance_pp`` percentage points, and (Countess layout)
    a total that differs from live + dead by more than ``total_tolerance_relative``.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text))
    try:
        header_row = next(reader)
    except StopIteration:
        raise InstrumentFileError(f"{source}: the file is empty") from None
    index = {h.strip().lower(): i for i, h in enumerate(header_row)}
    chosen = _detect_layout(set(index), source) if layout is None else CounterLayout(layout)
    fields = _LAYOUTS[chosen]
    missing = [h for h in fields.values() if h.lower() not in index]
    if missing:
        raise InstrumentFileError(
            f"{source}: missing column(s) for layout {chosen.value}: {', '.join(missing)}"
        )
    readings: list[CounterReading] = []
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < len(header_row):
            raise InstrumentFileError(
                f"{source}: row {line}: {len(cells)} columns, the header has {len(header_row)}",
                row=line,
            )
        values = {field: cells[index[header.lower()]] for field, header in fields.items()}
        readings.append(
            _counter_row(
                values,
                line=line,
                layout=chosen,
                source=source,
                viability_tolerance_pp=viability_tolerance_pp,
                total_tolerance_relative=total_tolerance_relative,
            )
        )
    if not readings:
        raise InstrumentFileError(f"{source}: no data rows after the header")
    return readings


def read_counter_csv(
    path: Path | str, *, layout: CounterLayout | None = None
) -> list[CounterReading]:
    """Read a counter export file (UTF-8, optional BOM)."""
    file = Path(path)
    return parse_counter_csv(file.read_text(encoding="utf-8-sig"), source=file.name, layout=layout)


@dataclass(frozen=True)
class CountSummary:
    """Replicate counts of one sample combined."""

    sample: str
    readings: tuple[CounterReading, ...]
    extra_dilution: float
    total_per_ml: float
    viable_per_ml: float
    viability_percent: float
    total_cv_percent: float | None
    valid: bool
    reasons: tuple[str, ...]
    calculation_version: str = CALCULATION_VERSION


def summarise_counts(
    readings: Sequence[CounterReading],
    *,
    extra_dilution: float = 1.0,
    cv_max_percent: float | None = None,
) -> CountSummary:
    """Mean of replicate readings of one sample; viability = mean viable / mean total × 100.

    ``extra_dilution`` covers a pre-dilution made before counting that the instrument was not
    told about (the exports already include the stain dilution set on the instrument).
    """
    if not readings:
        raise AssayInputError("readings: at least one reading is required", field="readings")
    names = {r.sample for r in readings}
    if len(names) != 1:
        raise AssayInputError(
            f"readings: mix samples {sorted(names)}; summarise one sample at a time",
            field="readings",
        )
    extra = stats.require_finite(extra_dilution, "extra_dilution")
    if extra < 1:
        raise AssayInputError(f"extra_dilution: must be >= 1, got {extra}", field="extra_dilution")
    totals = [r.total_per_ml for r in readings]
    viables = [r.viable_per_ml for r in readings]
    reasons = [f"row {r.row}: {reason}" for r in readings for reason in r.reasons]
    cv = stats.cv_percent(totals, "total_per_ml") if len(readings) > 1 else None
    if cv_max_percent is not None and cv is not None and cv > cv_max_percent:
        reasons.append(f"replicate CV {cv:.1f} % exceeds {cv_max_percent:g} %")
    mean_total = stats.mean(totals)
    mean_viable = stats.mean(viables)
    return CountSummary(
        sample=readings[0].sample,
        readings=tuple(readings),
        extra_dilution=extra,
        total_per_ml=mean_total * extra,
        viable_per_ml=mean_viable * extra,
        viability_percent=mean_viable / mean_total * 100.0,
        total_cv_percent=cv,
        valid=not reasons,
        reasons=tuple(reasons),
    )
