"""Reads of the monitoring app. Operator staff only: anyone else gets :class:`NotFound`.

The impact report crosses into client data (aliquots); it is one query over placements and,
like every monitoring read, answers only to operator staff.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import CharField, Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from celltrace.audit.choices import SignatureMeaning
from celltrace.audit.models import Signature
from celltrace.core.errors import NotFound
from celltrace.core.models import User
from celltrace.core.tenancy import sees_all_tenants
from celltrace.monitoring.models import (
    DEFAULT_SILENT_AFTER_INTERVALS,
    DEFAULT_WARNING_BAND_C,
    Alarm,
    Excursion,
    Reading,
    Sensor,
    UnitMonitoring,
)
from celltrace.storage.models import Placement, StorageUnit

#: At most this many points per sensor in a chart or series (min and max of each bucket).
MAX_POINTS = 2000


def require_operator(actor: User) -> None:
    if not sees_all_tenants(actor):
        raise NotFound(_("Not found."))


def _acknowledged() -> Exists:
    return Exists(
        Signature.objects.filter(
            record_type="monitoring.alarm",
            record_id=Cast(OuterRef("pk"), CharField()),
            meaning=SignatureMeaning.ACKNOWLEDGED,
            withdrawal__isnull=True,
        )
    )


def units_visible(actor: User) -> QuerySet[StorageUnit]:
    require_operator(actor)
    return StorageUnit.objects.select_related("site")


def unit_get(actor: User, pk: Any) -> StorageUnit:
    try:
        return units_visible(actor).get(pk=pk)
    except (StorageUnit.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(_("Not found.")) from exc


def sensors_visible(actor: User) -> QuerySet[Sensor]:
    require_operator(actor)
    return Sensor.objects.select_related("unit")


def excursions_visible(actor: User) -> QuerySet[Excursion]:
    require_operator(actor)
    return Excursion.objects.select_related("unit", "sensor", "alarm").annotate(
        acknowledged=Exists(
            Signature.objects.filter(
                record_type="monitoring.alarm",
                record_id=Cast(OuterRef("alarm__pk"), CharField()),
                meaning=SignatureMeaning.ACKNOWLEDGED,
                withdrawal__isnull=True,
            )
        )
    )


def excursion_get(actor: User, pk: Any) -> Excursion:
    try:
        return excursions_visible(actor).get(pk=pk)
    except (Excursion.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(_("Not found.")) from exc


def alarms_visible(actor: User) -> QuerySet[Alarm]:
    """Alarms, with ``acknowledged`` (a signature that was not withdrawn) annotated."""
    require_operator(actor)
    return Alarm.objects.select_related("excursion__unit", "excursion__sensor").annotate(
        acknowledged=_acknowledged()
    )


def alarms_signable(actor: User) -> QuerySet[Alarm]:
    """What the signing page may load: every alarm for operator staff, nothing for others."""
    if not sees_all_tenants(actor):
        return Alarm.objects.none()
    return Alarm.objects.select_related("excursion")


def excursions_history(actor: User) -> QuerySet[Excursion]:
    return Excursion.objects.all() if sees_all_tenants(actor) else Excursion.objects.none()


def sensors_history(actor: User) -> QuerySet[Sensor]:
    return Sensor.objects.all() if sees_all_tenants(actor) else Sensor.objects.none()


def alarm_get(actor: User, pk: Any) -> Alarm:
    try:
        return alarms_visible(actor).get(pk=pk)
    except (Alarm.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(_("Not found.")) from exc


@dataclass(frozen=True)
class Thresholds:
    low_c: Decimal
    high_c: Decimal
    warning_band_c: Decimal
    silent_after_intervals: int

    @property
    def warn_low_c(self) -> Decimal:
        return self.low_c + self.warning_band_c

    @property
    def warn_high_c(self) -> Decimal:
        return self.high_c - self.warning_band_c


def thresholds_of(unit: StorageUnit) -> Thresholds:
    m = UnitMonitoring.objects.filter(unit=unit).first()
    return Thresholds(
        low_c=unit.alarm_low_c,
        high_c=unit.alarm_high_c,
        warning_band_c=m.warning_band_c if m else DEFAULT_WARNING_BAND_C,
        silent_after_intervals=m.silent_after_intervals if m else DEFAULT_SILENT_AFTER_INTERVALS,
    )


@dataclass(frozen=True)
class UnitStatus:
    unit: StorageUnit
    sensors: list[Sensor]
    open_alarms: int
    unacknowledged: int

    @property
    def current_c(self) -> Decimal | None:
        latest = max(
            (s for s in self.sensors if s.last_reading_at is not None),
            key=lambda s: s.last_reading_at or dt.datetime.min.replace(tzinfo=dt.UTC),
            default=None,
        )
        return latest.last_temperature_c if latest else None

    @property
    def last_reading_at(self) -> dt.datetime | None:
        times = [s.last_reading_at for s in self.sensors if s.last_reading_at is not None]
        return max(times) if times else None

    @property
    def state(self) -> str:
        if self.open_alarms:
            return "alarm"
        c = self.current_c
        if c is None:
            return "unknown"
        t = thresholds_of(self.unit)
        return "warning" if c > t.warn_high_c or c < t.warn_low_c else "ok"


def units_overview(actor: User) -> list[UnitStatus]:
    """Each unit with its sensors' latest temperature and its open and unacknowledged alarms."""
    units = list(
        units_visible(actor).annotate(
            open_alarms=Count(
                "monitoring_sensors__excursions",
                filter=Q(monitoring_sensors__excursions__ended_at__isnull=True),
                distinct=True,
            )
        )
    )
    sensors: dict[int, list[Sensor]] = {}
    for s in Sensor.objects.filter(is_active=True).order_by("probe_id"):
        sensors.setdefault(s.unit_id, []).append(s)
    unack = dict(
        alarms_visible(actor)
        .filter(Q(acknowledged=False))
        .values_list("excursion__unit_id")
        .annotate(n=Count("pk"))
        .values_list("excursion__unit_id", "n")
    )
    return [
        UnitStatus(u, sensors.get(u.pk, []), getattr(u, "open_alarms", 0), unack.get(u.pk, 0))
        for u in units
    ]


# --- impact report ------------------------------------------------------------------------------


def excursion_impact(actor: User, excursion: Excursion) -> list[dict[str, Any]]:
    """The aliquots that were in the excursion's unit at any time during it, in ONE query.

    A placement ``[placed_at, removed_at)`` overlaps the excursion ``[started_at, ended_at)``
    when it was placed before the excursion ended and not removed before it started (an open
    placement or an open excursion extends to infinity). Location is the position's current
    box and rack in that unit.
    """
    require_operator(actor)
    overlap = Q(removed_at__isnull=True) | Q(removed_at__gt=excursion.started_at)
    if excursion.ended_at is not None:
        overlap &= Q(placed_at__lt=excursion.ended_at)
    qs = (
        Placement.objects.filter(overlap, position__box__rack__unit_id=excursion.unit_id)
        .order_by(
            "position__box__rack__name",
            "position__box__name",
            "position__row",
            "position__col",
            "placed_at",
        )
        .values(
            "aliquot_id",
            "aliquot__din",
            "aliquot__pdc",
            "aliquot__isbt_collection_type",
            "aliquot__division",
            "aliquot__barcode",
            "aliquot__status",
            "organisation__name",
            "position__box__rack__name",
            "position__box__name",
            "position__label",
            "placed_at",
            "removed_at",
        )
    )
    return [
        {
            "aliquot_id": r["aliquot_id"],
            "din": r["aliquot__din"],
            "product_code": r["aliquot__pdc"] + r["aliquot__isbt_collection_type"],
            "division": r["aliquot__division"],
            "barcode": r["aliquot__barcode"],
            "status": r["aliquot__status"],
            "organisation": r["organisation__name"],
            "rack": r["position__box__rack__name"],
            "box": r["position__box__name"],
            "position": r["position__label"],
            "placed_at": r["placed_at"],
            "removed_at": r["removed_at"],
        }
        for r in qs
    ]


# --- temperature series -------------------------------------------------------------------------


@dataclass(frozen=True)
class SensorSeries:
    sensor: Sensor
    times: list[dt.datetime]
    values: list[Decimal]
    raw_count: int


def _downsample(
    rows: list[tuple[dt.datetime, Decimal]], start: dt.datetime, end: dt.datetime, max_points: int
) -> tuple[list[dt.datetime], list[Decimal]]:
    """Keep every point if few; otherwise the min and max of each time bucket, in time order,
    so that peaks (excursions) survive the decimation."""
    if len(rows) <= max_points:
        return [r[0] for r in rows], [r[1] for r in rows]
    buckets = max(max_points // 2, 1)
    width = (end - start) / buckets
    times: list[dt.datetime] = []
    values: list[Decimal] = []
    current = -1
    lo: tuple[dt.datetime, Decimal] | None = None
    hi: tuple[dt.datetime, Decimal] | None = None

    def flush() -> None:
        if lo is None or hi is None:
            return
        for t, v in sorted({lo, hi}):
            times.append(t)
            values.append(v)

    for t, v in rows:
        b = min(int((t - start) / width), buckets - 1)
        if b != current:
            flush()
            current, lo, hi = b, (t, v), (t, v)
            continue
        assert lo is not None and hi is not None
        if v < lo[1]:
            lo = (t, v)
        if v > hi[1]:
            hi = (t, v)
    flush()
    return times, values


def unit_series(
    actor: User,
    unit: StorageUnit,
    start: dt.datetime,
    end: dt.datetime,
    max_points: int = MAX_POINTS,
) -> list[SensorSeries]:
    """Readings of each active sensor of the unit in ``[start, end]``, downsampled."""
    require_operator(actor)
    out = []
    for sensor in Sensor.objects.filter(unit=unit).order_by("probe_id"):
        rows = list(
            Reading.objects.filter(sensor=sensor, measured_at__gte=start, measured_at__lte=end)
            .order_by("measured_at")
            .values_list("measured_at", "temperature_c")
        )
        if not rows and not sensor.is_active:
            continue
        times, values = _downsample(rows, start, end, max_points)
        out.append(SensorSeries(sensor, times, values, len(rows)))
    return out


def template_sensors() -> list[tuple[str, Decimal]]:
    """Up to three active sensors (probe ID, the unit's set point) for the readings template
    (operator pages only)."""
    return list(
        Sensor.objects.filter(is_active=True, unit__is_active=True)
        .order_by("probe_id")
        .values_list("probe_id", "unit__set_point_c")[:3]
    )
