"""Sterility: USP <71> / Ph. Eur. 2.6.1 / ChP 1101 (harmonised) and Ph. Eur. 2.6.27.

Manual (compendial) incubation
    Each medium (FTM at 30-35 °C, SCDM/TSB at 20-25 °C) is incubated for at least 14 days
    (configurable) and read daily (the schedule is configurable). Growth in any reading means the
    test fails ("Growth"). "No growth" is concluded only when every medium has every scheduled
    reading; until then the result is "Pending" and the missing readings are listed.
    A reading counts for day *d* when it was made on the calendar date ``start date + d`` in the
    time zone of the incubation start (the lab's clock).
Automated growth-based systems (Ph. Eur. 2.6.27; BacT/ALERT, BACTEC-like)
    Bottle results are imported from the CSV layout documented in ``docs/assays.md``
    (:func:`parse_blood_culture_csv`) and decided by :func:`evaluate_blood_culture`.

All datetimes must be timezone-aware; naive datetimes are rejected.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final

from celltrace.assays.errors import AssayInputError, InstrumentFileError

CALCULATION_VERSION: Final = "sterility/1.0.0"

INCUBATION_DAYS_DEFAULT: Final = 14
#: Media the harmonised <71>/2.6.1 test requires; TSB is accepted as a name for SCDM.
REQUIRED_MEDIA_DEFAULT: Final = ("FTM", "SCDM")
#: Published practice for cellular products with automated systems: aerobic and anaerobic.
REQUIRED_ATMOSPHERES_DEFAULT: Final = ("aerobic", "anaerobic")
_MEDIUM_ALIASES: Final = {"TSB": "SCDM"}


class SterilityOutcome(StrEnum):
    NO_GROWTH = "No growth"
    GROWTH = "Growth"
    PENDING = "Pending"
    INVALID = "Invalid"


def _require_aware(value: datetime, name: str, *, row: int | None = None) -> datetime:
    where = f"row {row}, " if row is not None else ""
    if not isinstance(value, datetime):
        raise AssayInputError(
            f"{where}{name}: must be a datetime, got {type(value).__name__}", row=row, field=name
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise AssayInputError(
            f"{where}{name}: must be timezone-aware (naive datetimes are rejected), got {value!r}",
            row=row,
            field=name,
        )
    return value


def _medium_key(name: str) -> str:
    key = name.strip().upper()
    return _MEDIUM_ALIASES.get(key, key)


# ----------------------------------------------------------------------------- manual readings


@dataclass(frozen=True)
class Incubation:
    """One medium of one sample: inoculated at ``started_at`` and incubated for ``days``."""

    medium: str
    started_at: datetime
    days: int = INCUBATION_DAYS_DEFAULT
    temperature: str = ""
    #: days on which a reading is due; ``None`` = every day 1..days
    reading_days: tuple[int, ...] | None = None

    def schedule(self) -> tuple[int, ...]:
        return tuple(range(1, self.days + 1)) if self.reading_days is None else self.reading_days

    def day_of(self, moment: datetime) -> int:
        """Incubation day of ``moment``: calendar days since the start, in the start's zone."""
        tz = self.started_at.tzinfo
        return (moment.astimezone(tz).date() - self.started_at.date()).days

    def due_date(self, day: int) -> date:
        return self.started_at.date() + timedelta(days=day)


@dataclass(frozen=True)
class Reading:
    """A visual reading of one medium: growth (turbidity) or not."""

    medium: str
    observed_at: datetime
    growth: bool
    note: str = ""


@dataclass(frozen=True)
class DueReading:
    medium: str
    day: int
    due_date: date
    overdue: bool


@dataclass(frozen=True)
class Detection:
    medium: str
    day: int | None
    detected_at: datetime
    source: str


@dataclass(frozen=True)
class SterilityResult:
    """Decision of a manually read sterility test."""

    incubations: tuple[Incubation, ...]
    readings: tuple[Reading, ...]
    as_of: datetime
    required_media: tuple[str, ...]
    outcome: SterilityOutcome
    detections: tuple[Detection, ...]
    missing: tuple[DueReading, ...]
    reasons: tuple[str, ...]
    calculation_version: str = CALCULATION_VERSION

    @property
    def complete(self) -> bool:
        return self.outcome in (SterilityOutcome.NO_GROWTH, SterilityOutcome.GROWTH)


def _check_incubations(incubations: Sequence[Incubation]) -> dict[str, Incubation]:
    if not incubations:
        raise AssayInputError("incubations: at least one medium is required", field="incubations")
    by_medium: dict[str, Incubation] = {}
    for i, inc in enumerate(incubations):
        if not inc.medium.strip():
            raise AssayInputError(
                f"row {i}, incubations.medium: must not be empty", row=i, field="medium"
            )
        _require_aware(inc.started_at, "incubations.started_at", row=i)
        if isinstance(inc.days, bool) or not isinstance(inc.days, int) or inc.days < 1:
            raise AssayInputError(
                f"row {i}, incubations.days: must be a whole number >= 1, got {inc.days!r}",
                row=i,
                field="days",
            )
        for d in inc.schedule():
            if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= inc.days:
                raise AssayInputError(
                    f"row {i}, incubations.reading_days: {d!r} is not a day within 1-{inc.days}",
                    row=i,
                    field="reading_days",
                )
        if inc.days not in inc.schedule():
            raise AssayInputError(
                f"row {i}, incubations.reading_days: must include the last day {inc.days}",
                row=i,
                field="reading_days",
            )
        key = _medium_key(inc.medium)
        if key in by_medium:
            raise AssayInputError(
                f"row {i}, incubations.medium: {inc.medium!r} appears twice", row=i, field="medium"
            )
        by_medium[key] = inc
    return by_medium


def _readings_by_day(
    by_medium: dict[str, Incubation], readings: Sequence[Reading], as_of: datetime | None
) -> dict[str, dict[int, list[Reading]]]:
    out: dict[str, dict[int, list[Reading]]] = {k: {} for k in by_medium}
    for i, reading in enumerate(readings):
        key = _medium_key(reading.medium)
        if key not in by_medium:
            raise AssayInputError(
                f"row {i}, readings.medium: {reading.medium!r} is not an incubated medium "
                f"({', '.join(inc.medium for inc in by_medium.values())})",
                row=i,
                field="medium",
            )
        _require_aware(reading.observed_at, "readings.observed_at", row=i)
        if not isinstance(reading.growth, bool):
            raise AssayInputError(
                f"row {i}, readings.growth: must be True or False", row=i, field="growth"
            )
        inc = by_medium[key]
        if reading.observed_at < inc.started_at:
            raise AssayInputError(
                f"row {i}, readings.observed_at: {reading.observed_at.isoformat()} is before the "
                f"incubation started ({inc.started_at.isoformat()})",
                row=i,
                field="observed_at",
            )
        if as_of is not None and reading.observed_at > as_of:
            raise AssayInputError(
                f"row {i}, readings.observed_at: {reading.observed_at.isoformat()} is after as_of "
                f"({as_of.isoformat()})",
                row=i,
                field="observed_at",
            )
        out[key].setdefault(inc.day_of(reading.observed_at), []).append(reading)
    return out


def evaluate_sterility(
    incubations: Sequence[Incubation],
    readings: Sequence[Reading],
    *,
    as_of: datetime,
    required_media: Sequence[str] = REQUIRED_MEDIA_DEFAULT,
) -> SterilityResult:
    """Decide a manually read sterility test at ``as_of`` (every reason is listed)."""
    as_of = _require_aware(as_of, "as_of")
    by_medium = _check_incubations(incubations)
    by_day = _readings_by_day(by_medium, readings, as_of)
    reasons: list[str] = []
    detections: list[Detection] = []
    for key, inc in by_medium.items():
        for day in sorted(by_day[key]):
            for reading in by_day[key][day]:
                if reading.growth:
                    detections.append(Detection(inc.medium, day, reading.observed_at, "reading"))
                    reasons.append(f"{inc.medium}: growth observed on day {day}")
    missing_media = [m for m in required_media if _medium_key(m) not in by_medium]
    for m in missing_media:
        reasons.append(f"required medium {m} was not incubated")
    missing: list[DueReading] = []
    for key, inc in by_medium.items():
        local_today = as_of.astimezone(inc.started_at.tzinfo).date()
        for day in inc.schedule():
            if day not in by_day[key]:
                due = inc.due_date(day)
                missing.append(DueReading(inc.medium, day, due, overdue=due < local_today))
    if detections:
        outcome = SterilityOutcome.GROWTH
    elif missing_media:
        outcome = SterilityOutcome.INVALID
    elif missing:
        outcome = SterilityOutcome.PENDING
        for m_ in missing:
            state = "overdue" if m_.overdue else "not yet read"
            reasons.append(f"{m_.medium} day {m_.day} (due {m_.due_date.isoformat()}): {state}")
    else:
        outcome = SterilityOutcome.NO_GROWTH
    return SterilityResult(
        incubations=tuple(incubations),
        readings=tuple(readings),
        as_of=as_of,
        required_media=tuple(required_media),
        outcome=outcome,
        detections=tuple(detections),
        missing=tuple(missing),
        reasons=tuple(reasons),
    )


def readings_due(
    incubations: Sequence[Incubation],
    readings: Sequence[Reading],
    on: date,
    *,
    include_overdue: bool = True,
) -> list[DueReading]:
    """Reminders: readings due on ``on`` (a date in each incubation's own zone) not yet made,
    plus earlier missed ones when ``include_overdue``. A medium that has shown growth needs no
    further reminders (its test has failed)."""
    if isinstance(on, datetime) or not isinstance(on, date):
        raise AssayInputError("on: must be a date (not a datetime)", field="on")
    by_medium = _check_incubations(incubations)
    by_day = _readings_by_day(by_medium, readings, None)
    due: list[DueReading] = []
    for key, inc in by_medium.items():
        if any(r.growth for day_readings in by_day[key].values() for r in day_readings):
            continue
        for day in inc.schedule():
            if day in by_day[key]:
                continue
            when = inc.due_date(day)
            if when == on or (include_overdue and when < on):
                due.append(DueReading(inc.medium, day, when, overdue=when < on))
    return sorted(due, key=lambda d: (d.due_date, d.medium, d.day))


# ----------------------------------------------------------------------------- automated systems


class BottleStatus(StrEnum):
    POSITIVE = "POSITIVE"
    NEGATIVE = "NEGATIVE"
    IN_PROGRESS = "IN_PROGRESS"


BLOOD_CULTURE_COLUMNS: Final = (
    "sample_id",
    "bottle_id",
    "bottle_type",
    "atmosphere",
    "loaded_at",
    "protocol_days",
    "status",
    "time_to_detection_h",
)


@dataclass(frozen=True)
class Bottle:
    """One bottle of an automated growth-based system, as imported."""

    row: int
    sample_id: str
    bottle_id: str
    bottle_type: str
    atmosphere: str
    loaded_at: datetime
    protocol_days: int
    status: BottleStatus
    time_to_detection_h: float | None

    @property
    def detected_at(self) -> datetime | None:
        if self.time_to_detection_h is None:
            return None
        return self.loaded_at + timedelta(hours=self.time_to_detection_h)


def _csv_error(source: str, row: int, column: str, message: str) -> InstrumentFileError:
    return InstrumentFileError(
        f"{source}: row {row}, column {column!r}: {message}", row=row, field=column
    )


def parse_blood_culture_csv(text: str, *, source: str = "<blood culture csv>") -> list[Bottle]:
    """Read bottle results in the celltrace automated-culture layout (docs/assays.md).

    Comma-separated, header on line 1 with exactly the columns of :data:`BLOOD_CULTURE_COLUMNS`
    (any order, extra columns ignored); row numbers in errors are file line numbers.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InstrumentFileError(f"{source}: the file is empty") from None
    missing = [c for c in BLOOD_CULTURE_COLUMNS if c not in header]
    if missing:
        raise InstrumentFileError(f"{source}: missing column(s): {', '.join(missing)}")
    index = {name: header.index(name) for name in BLOOD_CULTURE_COLUMNS}
    bottles: list[Bottle] = []
    seen: set[str] = set()
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < len(header):
            raise InstrumentFileError(
                f"{source}: row {line}: {len(cells)} columns, the header has {len(header)}",
                row=line,
            )
        v = {name: cells[i].strip() for name, i in index.items()}
        for name in ("sample_id", "bottle_id", "bottle_type", "atmosphere", "loaded_at", "status"):
            if not v[name]:
                raise _csv_error(source, line, name, "must not be empty")
        if v["bottle_id"] in seen:
            raise _csv_error(source, line, "bottle_id", f"{v['bottle_id']!r} appears twice")
        seen.add(v["bottle_id"])
        atmosphere = v["atmosphere"].lower()
        if atmosphere not in ("aerobic", "anaerobic"):
            raise _csv_error(
                source, line, "atmosphere", f"must be aerobic or anaerobic, got {v['atmosphere']!r}"
            )
        try:
            loaded_at = datetime.fromisoformat(v["loaded_at"])
        except ValueError:
            raise _csv_error(
                source, line, "loaded_at", f"{v['loaded_at']!r} is not an ISO 8601 date-time"
            ) from None
        if loaded_at.tzinfo is None:
            raise _csv_error(
                source, line, "loaded_at", "must include a UTC offset (e.g. +01:00 or Z)"
            )
        if not v["protocol_days"].isdigit() or int(v["protocol_days"]) < 1:
            raise _csv_error(
                source,
                line,
                "protocol_days",
                f"must be a whole number >= 1, got {v['protocol_days']!r}",
            )
        try:
            status = BottleStatus(v["status"].upper().replace(" ", "_").replace("-", "_"))
        except ValueError:
            raise _csv_error(
                source,
                line,
                "status",
                f"must be POSITIVE, NEGATIVE or IN_PROGRESS, got {v['status']!r}",
            ) from None
        ttd: float | None = None
        if status is BottleStatus.POSITIVE:
            try:
                ttd = float(v["time_to_detection_h"])
            except ValueError:
                raise _csv_error(
                    source,
                    line,
                    "time_to_detection_h",
                    "a positive bottle needs its time to detection (hours)",
                ) from None
            if not math.isfinite(ttd) or ttd < 0:
                raise _csv_error(
                    source,
                    line,
                    "time_to_detection_h",
                    f"must be a finite number >= 0, got {v['time_to_detection_h']!r}",
                )
        elif v["time_to_detection_h"]:
            raise _csv_error(
                source, line, "time_to_detection_h", f"must be empty for a {status.value} bottle"
            )
        bottles.append(
            Bottle(
                row=line,
                sample_id=v["sample_id"],
                bottle_id=v["bottle_id"],
                bottle_type=v["bottle_type"],
                atmosphere=atmosphere,
                loaded_at=loaded_at,
                protocol_days=int(v["protocol_days"]),
                status=status,
                time_to_detection_h=ttd,
            )
        )
    if not bottles:
        raise InstrumentFileError(f"{source}: no data rows after the header")
    return bottles


def read_blood_culture_csv(path: Path | str) -> list[Bottle]:
    file = Path(path)
    return parse_blood_culture_csv(file.read_text(encoding="utf-8-sig"), source=file.name)


@dataclass(frozen=True)
class BloodCultureResult:
    """Decision for one sample's bottles."""

    sample_id: str
    bottles: tuple[Bottle, ...]
    required_days: int
    required_atmospheres: tuple[str, ...]
    outcome: SterilityOutcome
    detections: tuple[Detection, ...]
    reasons: tuple[str, ...]
    calculation_version: str = field(default=CALCULATION_VERSION)


def evaluate_blood_culture(
    bottles: Sequence[Bottle],
    *,
    sample_id: str | None = None,
    required_days: int = INCUBATION_DAYS_DEFAULT,
    required_atmospheres: Sequence[str] = REQUIRED_ATMOSPHERES_DEFAULT,
) -> BloodCultureResult:
    """Decide one sample from its bottles.

    Any positive bottle -> Growth (the other reasons are still listed). Otherwise a missing
    required atmosphere, or a negative bottle whose protocol was shorter than ``required_days``,
    -> Invalid; any bottle still in progress -> Pending; else No growth.
    """
    if isinstance(required_days, bool) or not isinstance(required_days, int) or required_days < 1:
        raise AssayInputError(
            f"required_days: must be a whole number >= 1, got {required_days!r}",
            field="required_days",
        )
    ids = {b.sample_id for b in bottles}
    if sample_id is None:
        if len(ids) != 1:
            raise AssayInputError(
                f"sample_id: the bottles belong to {len(ids)} samples {sorted(ids)}; name one",
                field="sample_id",
            )
        sample_id = next(iter(ids))
    chosen = [b for b in bottles if b.sample_id == sample_id]
    if not chosen:
        raise AssayInputError(f"sample_id: no bottle for {sample_id!r}", field="sample_id")
    reasons: list[str] = []
    detections: list[Detection] = []
    invalid = False
    for b in chosen:
        if b.status is BottleStatus.POSITIVE and b.detected_at is not None:
            detections.append(Detection(b.atmosphere, None, b.detected_at, f"bottle {b.bottle_id}"))
            reasons.append(
                f"bottle {b.bottle_id} ({b.atmosphere}): positive after {b.time_to_detection_h:g} h"
            )
        elif b.status is BottleStatus.NEGATIVE and b.protocol_days < required_days:
            invalid = True
            reasons.append(
                f"bottle {b.bottle_id} (row {b.row}): protocol of {b.protocol_days} days is "
                f"shorter than the required {required_days}"
            )
    present = {b.atmosphere for b in chosen}
    for atmosphere in required_atmospheres:
        if atmosphere.lower() not in present:
            invalid = True
            reasons.append(f"no {atmosphere.lower()} bottle for sample {sample_id}")
    in_progress = [b for b in chosen if b.status is BottleStatus.IN_PROGRESS]
    if detections:
        outcome = SterilityOutcome.GROWTH
    elif invalid:
        outcome = SterilityOutcome.INVALID
    elif in_progress:
        outcome = SterilityOutcome.PENDING
        reasons.extend(f"bottle {b.bottle_id}: still incubating" for b in in_progress)
    else:
        outcome = SterilityOutcome.NO_GROWTH
    return BloodCultureResult(
        sample_id=sample_id,
        bottles=tuple(chosen),
        required_days=required_days,
        required_atmospheres=tuple(a.lower() for a in required_atmospheres),
        outcome=outcome,
        detections=tuple(detections),
        reasons=tuple(reasons),
    )
