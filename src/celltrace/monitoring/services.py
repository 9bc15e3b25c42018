"""Writes of the monitoring app: sensors, readings batches, excursion detection, silent sensors.

Rules (see ``docs/monitoring.md``):

- Limits are the unit's ``alarm_low_c``/``alarm_high_c`` and are **inclusive**: a reading equal
  to a limit is within limits. Strictly above the high limit opens an *above* excursion,
  strictly below the low limit a *below* excursion.
- An excursion starts at its first reading outside the limits and ends at the first reading
  back within them (or crossing to the other side, which opens a new excursion at that
  reading). Its peak is the extreme reading; its duration is end − start.
- Readings of a sensor arrive in time order: a batch may hold them in any order, but none may
  be older than (or equal to) the sensor's latest stored reading. This keeps the detection
  incremental: each batch continues from the state the previous one left.
- A sensor that has not reported for more than N intervals (``UnitMonitoring``, default 3)
  gets a *silent* excursion and alarm from :func:`sensors_check_silent`; its next reading
  closes it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from celltrace.audit import ledger
from celltrace.audit.choices import Action
from celltrace.core.choices import Role
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.core.models import User
from celltrace.monitoring.choices import EventType, ExcursionKind, ReadingSource, Rule
from celltrace.monitoring.models import (
    DEFAULT_SILENT_AFTER_INTERVALS,
    Alarm,
    Excursion,
    Reading,
    ReadingBatch,
    Sensor,
    UnitMonitoring,
)
from celltrace.storage.models import StorageUnit

#: Roles that may send readings and configure sensors.
INGEST_ROLES = (Role.ADMIN, Role.BANK_TECHNICIAN)
#: Roles that may acknowledge an alarm (sign it with meaning *acknowledged*).
ACKNOWLEDGE_ROLES = (Role.ADMIN, Role.BANK_TECHNICIAN, Role.QA)

FIELDS = ("sensor", "measured_at", "temperature_c")
MAX_PROBLEMS = 100
MIN_TEMPERATURE = Decimal("-273.15")
MAX_TEMPERATURE = Decimal("150")
#: Readings may be this far ahead of the server clock (probe clocks drift a little).
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
_Q3 = Decimal("0.001")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _require(actor: User, roles: Sequence[str], message: str) -> None:
    if not (actor.is_active and actor.is_operator_staff and actor.has_role(*roles)):
        raise PermissionDenied(message)


def require_ingest_role(actor: User) -> None:
    _require(
        actor,
        INGEST_ROLES,
        _("Only bank technicians and administrators of the operator can send readings."),
    )


def temperature_text(value: Decimal) -> str:
    """The canonical text of a temperature: three decimals (``-190.000``)."""
    return str(value.quantize(_Q3))


# --- sensors and thresholds -------------------------------------------------------------------


def sensor_create(
    *,
    actor: User,
    unit: StorageUnit,
    probe_id: str,
    calibration_due: dt.date,
    interval_s: int = 300,
    description: str = "",
) -> Sensor:
    require_ingest_role(actor)
    probe_id = probe_id.strip()
    if not probe_id:
        raise Invalid(_("Give the probe ID."), field="probe_id")
    if interval_s < 1:
        raise Invalid(_("The reporting interval must be at least one second."), field="interval_s")
    with transaction.atomic():
        if Sensor.objects.filter(probe_id=probe_id).exists():
            raise Conflict(
                _("There is already a sensor with probe ID %(probe)s.") % {"probe": probe_id},
                field="probe_id",
            )
        sensor = Sensor.objects.create(
            unit=unit,
            probe_id=probe_id,
            description=description.strip(),
            calibration_due=calibration_due,
            interval_s=interval_s,
        )
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.SENSOR_CREATED,
            entity_type="monitoring.sensor",
            entity_id=sensor.pk,
            entity_label=probe_id,
            new={
                "unit_id": unit.pk,
                "probe_id": probe_id,
                "description": sensor.description,
                "calibration_due": calibration_due,
                "interval_s": interval_s,
            },
        )
    return sensor


def unit_monitoring_set(
    *,
    actor: User,
    unit: StorageUnit,
    warning_band_c: Decimal,
    silent_after_intervals: int,
    reason: str,
) -> UnitMonitoring:
    """Set a unit's warning band and silent-sensor threshold (the alarm limits stay the unit's)."""
    require_ingest_role(actor)
    if not reason.strip():
        raise Invalid(_("Give a reason."), field="reason")
    if warning_band_c < 0:
        raise Invalid(_("The warning band cannot be negative."), field="warning_band_c")
    if silent_after_intervals < 1:
        raise Invalid(
            _("A sensor is silent after at least one missed interval."),
            field="silent_after_intervals",
        )
    with transaction.atomic():
        StorageUnit.objects.select_for_update().get(pk=unit.pk)
        settings, _created = UnitMonitoring.objects.get_or_create(unit=unit)
        old = {
            "warning_band_c": settings.warning_band_c,
            "silent_after_intervals": settings.silent_after_intervals,
        }
        settings.warning_band_c = warning_band_c
        settings.silent_after_intervals = silent_after_intervals
        settings.save(update_fields=["warning_band_c", "silent_after_intervals"])
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.UNIT_THRESHOLDS_SET,
            entity_type="storage.storageunit",
            entity_id=unit.pk,
            entity_label=str(unit),
            old=old,
            new={
                "warning_band_c": warning_band_c,
                "silent_after_intervals": silent_after_intervals,
                "alarm_low_c": unit.alarm_low_c,
                "alarm_high_c": unit.alarm_high_c,
            },
            reason=reason.strip(),
        )
    return settings


# --- validation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    """One refused value: where (row number, field) and which rule."""

    row: int
    field: str
    rule: str
    message: str

    @property
    def rule_label(self) -> str:
        return str(Rule(self.rule).label)


class ReadingsRejected(Invalid):
    """A batch refused as a whole; ``problems`` lists every bad value (up to 100)."""

    def __init__(self, problems: list[RowProblem], total: int) -> None:
        first = problems[0]
        message = _(
            "%(count)s problem(s) in the readings; nothing was written. "
            "First: row %(row)s, %(field)s: %(message)s."
        ) % {"count": total, "row": first.row, "field": first.field, "message": first.message}
        super().__init__(message, field=first.field)
        self.problems = problems
        self.total = total


@dataclass(frozen=True)
class CleanReading:
    row: int
    sensor: Sensor
    measured_at: dt.datetime
    temperature_c: Decimal


def _parse_time(value: Any) -> tuple[dt.datetime | None, str]:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None, Rule.BAD_TIMESTAMP
    else:
        return None, Rule.BAD_TIMESTAMP
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None, Rule.NAIVE_TIMESTAMP
    return moment.astimezone(dt.UTC), ""


def _parse_temperature(value: Any) -> tuple[Decimal | None, str]:
    if isinstance(value, bool):
        return None, Rule.NOT_A_NUMBER
    if isinstance(value, float):
        if not math.isfinite(value):
            return None, Rule.NOT_FINITE
        number = Decimal(repr(value))
    elif isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None, Rule.NOT_A_NUMBER
    else:
        return None, Rule.NOT_A_NUMBER
    if not number.is_finite():
        return None, Rule.NOT_FINITE
    if not MIN_TEMPERATURE <= number <= MAX_TEMPERATURE:
        return None, Rule.OUT_OF_RANGE
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -3:
        return None, Rule.TOO_PRECISE
    return number.quantize(_Q3), ""


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def readings_validate(
    readings: Sequence[Mapping[str, Any]], *, first_row: int = 1, now: dt.datetime | None = None
) -> tuple[list[CleanReading], list[RowProblem], int]:
    """Check every row; returns the clean rows, the problems (up to 100) and their total.

    Rows are numbered from ``first_row`` (the API uses 0, as its JSON index; a CSV file 2, its
    line number after the header). Reads only.
    """
    now = now or _now()
    problems: list[RowProblem] = []
    total = 0

    def add(row: int, name: str, rule: str) -> None:
        nonlocal total
        total += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append(RowProblem(row, name, rule, str(Rule(rule).label)))

    probes = {
        str(r.get("sensor")).strip()
        for r in readings
        if isinstance(r.get("sensor"), str) and r.get("sensor", "").strip()
    }
    sensors: dict[str, Sensor] = {}
    probe_list = sorted(probes)
    for i in range(0, len(probe_list), 500):
        for s in Sensor.objects.filter(probe_id__in=probe_list[i : i + 500], is_active=True):
            sensors[s.probe_id] = s
    clean: list[CleanReading] = []
    seen: set[tuple[int, dt.datetime]] = set()
    for index, raw in enumerate(readings):
        row = index + first_row
        bad = False
        for name in FIELDS:
            if _blank(raw.get(name)):
                add(row, name, Rule.REQUIRED)
                bad = True
        if bad:
            continue
        probe = raw["sensor"]
        sensor = sensors.get(probe.strip()) if isinstance(probe, str) else None
        if sensor is None:
            add(row, "sensor", Rule.UNKNOWN_SENSOR)
        moment, rule = _parse_time(raw["measured_at"])
        if moment is None:
            add(row, "measured_at", rule)
        elif moment > now + FUTURE_TOLERANCE:
            add(row, "measured_at", Rule.FUTURE_TIMESTAMP)
            moment = None
        temperature, rule = _parse_temperature(raw["temperature_c"])
        if temperature is None:
            add(row, "temperature_c", rule)
        if sensor is None or moment is None or temperature is None:
            continue
        if sensor.last_reading_at is not None and moment <= sensor.last_reading_at:
            add(row, "measured_at", Rule.BEFORE_LATEST)
            continue
        key = (sensor.pk, moment)
        if key in seen:
            add(row, "measured_at", Rule.DUPLICATE)
            continue
        seen.add(key)
        clean.append(CleanReading(row, sensor, moment, temperature))
    return clean, problems, total


# --- ingestion and excursion detection ----------------------------------------------------------


@dataclass
class IngestResult:
    batch: ReadingBatch
    rows: int
    digest: str
    ledger_seq: int
    opened: list[Excursion] = field(default_factory=list)
    closed: list[Excursion] = field(default_factory=list)


def _digest_rows(clean: Iterable[CleanReading]) -> list[dict[str, Any]]:
    """The rows as written, in (probe ID, time) order: recomputable from the database."""
    ordered = sorted(clean, key=lambda r: (r.sensor.probe_id, r.measured_at))
    return [
        {
            "sensor": r.sensor.probe_id,
            "measured_at": r.measured_at,
            "temperature_c": temperature_text(r.temperature_c),
        }
        for r in ordered
    ]


def batch_rows(batch: ReadingBatch) -> Iterable[dict[str, Any]]:
    """The rows of a stored batch in digest order, to recompute its ledger digest."""
    qs = (
        Reading.objects.filter(batch=batch)
        .order_by("sensor__probe_id", "measured_at")
        .values_list("sensor__probe_id", "measured_at", "temperature_c")
    )
    for probe, moment, temperature in qs.iterator(chunk_size=5000):
        yield {
            "sensor": probe,
            "measured_at": moment,
            "temperature_c": temperature_text(temperature),
        }


def _close(exc: Excursion, end: dt.datetime) -> None:
    exc.ended_at = end
    exc.duration_s = int((end - exc.started_at).total_seconds())


def _detect(
    sensor: Sensor,
    unit: StorageUnit,
    rows: list[CleanReading],
    now: dt.datetime,
    opened: list[Excursion],
    closed: list[Excursion],
) -> None:
    """Continue the excursion state of one sensor over its new readings (time order)."""
    open_temp = (
        Excursion.objects.select_for_update()
        .filter(
            sensor=sensor,
            ended_at__isnull=True,
            kind__in=[ExcursionKind.ABOVE, ExcursionKind.BELOW],
        )
        .first()
    )
    open_silent = (
        Excursion.objects.select_for_update()
        .filter(sensor=sensor, ended_at__isnull=True, kind=ExcursionKind.SILENT)
        .first()
    )
    if open_silent is not None and rows:
        _close(open_silent, rows[0].measured_at)
        open_silent.save(update_fields=["ended_at", "duration_s"])
        closed.append(open_silent)
    dirty = False
    for r in rows:
        t = r.temperature_c
        if t > unit.alarm_high_c:
            kind: str | None = ExcursionKind.ABOVE
        elif t < unit.alarm_low_c:
            kind = ExcursionKind.BELOW
        else:
            kind = None
        if open_temp is not None and open_temp.kind != kind:
            _close(open_temp, r.measured_at)
            open_temp.save(
                update_fields=["ended_at", "duration_s", "peak_c", "peak_at", "readings_outside"]
            )
            closed.append(open_temp)
            open_temp, dirty = None, False
        if kind is None:
            continue
        if open_temp is None:
            open_temp = Excursion.objects.create(
                unit=unit,
                sensor=sensor,
                kind=kind,
                started_at=r.measured_at,
                limit_c=unit.alarm_high_c if kind == ExcursionKind.ABOVE else unit.alarm_low_c,
                peak_c=t,
                peak_at=r.measured_at,
                readings_outside=1,
            )
            Alarm.objects.create(excursion=open_temp, raised_at=now)
            opened.append(open_temp)
            continue
        assert open_temp.peak_c is not None
        more_extreme = t > open_temp.peak_c if kind == ExcursionKind.ABOVE else t < open_temp.peak_c
        if more_extreme:
            open_temp.peak_c, open_temp.peak_at = t, r.measured_at
        open_temp.readings_outside += 1
        dirty = True
    if open_temp is not None and dirty:
        open_temp.save(update_fields=["peak_c", "peak_at", "readings_outside"])


def readings_ingest(
    *,
    actor: User,
    readings: Sequence[Mapping[str, Any]],
    source: str = ReadingSource.API,
    filename: str = "",
    first_row: int = 1,
) -> IngestResult:
    """Validate a batch of readings, write it whole or not at all, and detect excursions.

    Each row is a mapping with ``sensor`` (probe ID), ``measured_at`` (aware datetime or ISO
    8601 text with an offset) and ``temperature_c`` (number, Decimal or decimal text). Every
    row is checked first; any problem raises :class:`ReadingsRejected` listing them all (row,
    field, rule) and nothing is written. A clean batch is written in bulk with ONE ledger entry
    carrying ``rows_digest`` of the rows and the excursions it opened and closed.
    """
    require_ingest_role(actor)
    if source not in ReadingSource.values:
        raise Invalid(_("Unknown source of readings."), field="source")
    if not readings:
        raise ReadingsRejected(
            [RowProblem(first_row, "readings", Rule.EMPTY, str(Rule.EMPTY.label))], 1
        )
    now = _now()
    with transaction.atomic():
        # Lock the batch's sensors (pk order) before reading their state, so that two batches
        # for one sensor serialise and the second sees the first one's latest reading.
        probes = sorted({str(r.get("sensor", "")).strip() for r in readings} - {""})
        for i in range(0, len(probes), 500):
            list(
                Sensor.objects.select_for_update()
                .filter(probe_id__in=probes[i : i + 500])
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        clean, problems, total = readings_validate(readings, first_row=first_row, now=now)
        if problems:
            raise ReadingsRejected(problems, total)
        digest_rows = _digest_rows(clean)
        count, digest = ledger.rows_digest(digest_rows)
        batch = ReadingBatch.objects.create(
            received_at=now,
            received_by=actor,
            source=source,
            filename=filename[:200],
            rows=count,
            digest=digest,
        )
        Reading.objects.bulk_create(
            (
                Reading(
                    sensor_id=r.sensor.pk,
                    measured_at=r.measured_at,
                    temperature_c=r.temperature_c,
                    batch=batch,
                )
                for r in clean
            ),
            batch_size=2000,
        )
        by_sensor: dict[int, list[CleanReading]] = defaultdict(list)
        for r in clean:
            by_sensor[r.sensor.pk].append(r)
        units = {
            u.pk: u for u in StorageUnit.objects.filter(pk__in={r.sensor.unit_id for r in clean})
        }
        opened: list[Excursion] = []
        closed: list[Excursion] = []
        for sensor_pk in sorted(by_sensor):
            rows = sorted(by_sensor[sensor_pk], key=lambda r: r.measured_at)
            sensor = rows[0].sensor
            _detect(sensor, units[sensor.unit_id], rows, now, opened, closed)
            last = rows[-1]
            Sensor.objects.filter(pk=sensor_pk).update(
                last_reading_at=last.measured_at, last_temperature_c=last.temperature_c
            )
        appended = ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.READINGS_INGESTED,
            entity_type="monitoring.readingbatch",
            entity_id=batch.pk,
            entity_label=str(batch),
            new={
                "source": source,
                "filename": filename[:200],
                "rows": count,
                "digest": digest,
                "sensors": sorted({r.sensor.probe_id for r in clean}),
                "first_measured_at": min(r.measured_at for r in clean),
                "last_measured_at": max(r.measured_at for r in clean),
                "excursions_opened": [e.pk for e in opened],
                "excursions_closed": [e.pk for e in closed],
            },
        )
        batch.ledger_seq = appended.seq
        batch.save(update_fields=["ledger_seq"])
    return IngestResult(batch, count, digest, appended.seq, opened, closed)


# --- silent sensors -----------------------------------------------------------------------------


def sensors_check_silent(
    *, now: dt.datetime | None = None, actor: User | None = None
) -> list[Excursion]:
    """Open a *silent* excursion and alarm for each active sensor that has not reported for
    more than N intervals (N from the unit's :class:`UnitMonitoring`, default 3).

    Idempotent: a sensor already marked silent is left alone; running it again changes nothing
    and writes no ledger entry. One ledger entry lists the sensors newly found silent.
    """
    now = now or _now()
    if now.tzinfo is None:
        raise Invalid(_("The time has no UTC offset."), field="now")
    opened: list[Excursion] = []
    with transaction.atomic():
        sensors = list(
            Sensor.objects.select_for_update(of=("self",))
            .filter(is_active=True)
            .exclude(
                pk__in=Excursion.objects.filter(
                    kind=ExcursionKind.SILENT, ended_at__isnull=True
                ).values("sensor_id")
            )
            .select_related("unit")
            .order_by("pk")
        )
        settings = {
            m.unit_id: m.silent_after_intervals
            for m in UnitMonitoring.objects.filter(unit_id__in={s.unit_id for s in sensors})
        }
        for sensor in sensors:
            n = settings.get(sensor.unit_id, DEFAULT_SILENT_AFTER_INTERVALS)
            since = sensor.last_reading_at or sensor.created_at
            if now - since <= dt.timedelta(seconds=sensor.interval_s * n):
                continue
            exc = Excursion.objects.create(
                unit=sensor.unit, sensor=sensor, kind=ExcursionKind.SILENT, started_at=since
            )
            Alarm.objects.create(excursion=exc, raised_at=now)
            opened.append(exc)
        if opened:
            ledger.append(
                actor=actor,
                action=Action.CREATE,
                event_type=EventType.SENSORS_SILENT,
                entity_type="monitoring.excursion",
                entity_id=opened[0].pk,
                entity_label=_("%(count)s silent sensor(s)") % {"count": len(opened)},
                new={
                    "checked_at": now,
                    "silent": [
                        {
                            "excursion_id": e.pk,
                            "sensor": e.sensor.probe_id,
                            "unit_id": e.unit_id,
                            "since": e.started_at,
                        }
                        for e in opened
                    ],
                },
            )
    return opened


# --- alarms -------------------------------------------------------------------------------------


def alarm_is_acknowledged(alarm: Alarm) -> bool:
    from celltrace.audit import signing

    return any(m.valid and m.meaning == "acknowledged" for m in signing.manifestations(alarm))


def alarm_can_sign(actor: User, alarm: Alarm, meaning: str) -> str | None:
    """Who may acknowledge: bank technicians, QA and administrators of the operator, once the
    acknowledgement comment is written."""
    if not (actor.is_active and actor.is_operator_staff and actor.has_role(*ACKNOWLEDGE_ROLES)):
        return _("Only bank technicians, QA and administrators of the operator acknowledge alarms.")
    if not alarm.comment.strip():
        return _("Write the acknowledgement comment first.")
    return None


def alarm_comment_set(*, actor: User, alarm: Alarm, comment: str) -> Alarm:
    """Write the acknowledgement comment the signature will bind (not once acknowledged)."""
    _require(
        actor,
        ACKNOWLEDGE_ROLES,
        _("Only bank technicians, QA and administrators of the operator acknowledge alarms."),
    )
    comment = comment.strip()
    if not comment:
        raise Invalid(_("Write a comment."), field="comment")
    with transaction.atomic():
        locked = (
            Alarm.objects.select_for_update(of=("self",))
            .select_related("excursion")
            .get(pk=alarm.pk)
        )
        if alarm_is_acknowledged(locked):
            raise Conflict(
                _("The alarm is already acknowledged; its comment cannot change."), field="comment"
            )
        old = {"comment": locked.comment}
        locked.comment = comment
        locked.save(update_fields=["comment"])
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.ALARM_COMMENTED,
            entity_type="monitoring.alarm",
            entity_id=locked.pk,
            entity_label=ledger.label_of(locked),
            old=old,
            new={"comment": comment},
        )
    return locked


def open_excursion_filter() -> Q:
    return Q(ended_at__isnull=True)
