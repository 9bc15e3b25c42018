"""Demo data of temperature monitoring: sensors for the demo units, three days of readings.

Deterministic values (a daily wave plus a fixed pseudo-random ripple around the set point),
every 5 minutes up to the current 5-minute mark, written through :func:`readings_ingest` in
chunks. It contains a closed excursion above the limit (acknowledged by ``qa``), one below the
limit, one still open at the end, and one sensor that went silent six hours ago. Idempotent:
does nothing once the first demo sensor exists, nor when there are no storage units yet.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from django.test import RequestFactory

from celltrace.audit.services import record_sign
from celltrace.core.demo import DEMO_PASSWORD
from celltrace.core.models import User
from celltrace.monitoring import services
from celltrace.monitoring.choices import ExcursionKind, ReadingSource
from celltrace.monitoring.models import Excursion, Sensor
from celltrace.storage.models import StorageUnit

STEP = dt.timedelta(minutes=5)
DAYS = 3
CHUNK = 2000
SILENT_FOR = dt.timedelta(hours=6)


def _band(unit: StorageUnit) -> Decimal:
    """A warning band that leaves the set point outside it: at most 5 °C, half the margin."""
    margin = min(unit.set_point_c - unit.alarm_low_c, unit.alarm_high_c - unit.set_point_c)
    return max(min(Decimal("5.0"), (margin / 2).quantize(Decimal("0.1"))), Decimal("0.0"))


def _value(unit: StorageUnit, sensor_no: int, i: int, steps: int) -> Decimal:
    sp = float(unit.set_point_c)
    amp = min(1.0, float(_band(unit)) / 3)
    ripple = (((i * 7919 + sensor_no * 104729) % 997) / 997 - 0.5) * amp * 0.4
    return Decimal(repr(round(sp + amp * math.sin(2 * math.pi * i / 288) + ripple, 1)))


def _bump(limit: Decimal, i: int, a: int, b: int, sign: int) -> Decimal:
    """A smooth excursion over steps [a, b): beyond ``limit`` by up to 6 °C."""
    depth = 1.0 + 6.0 * math.sin(math.pi * (i - a + 1) / (b - a + 1))
    return Decimal(repr(round(float(limit) + sign * depth, 1)))


def _series(units: list[StorageUnit], end: dt.datetime) -> list[dict[str, Any]]:
    steps = DAYS * 24 * 12
    start = end - STEP * (steps - 1)
    plan: list[tuple[StorageUnit, str, int, int]] = []  # unit, probe, sensor no., last step
    for n, unit in enumerate(units):
        plan.append((unit, f"{unit.code.upper()}-T1", n, steps))
    silent_steps = steps - int(SILENT_FOR / STEP)
    plan.append((units[0], f"{units[0].code.upper()}-T2", len(units), silent_steps))
    first, last = units[0], units[-1]
    middle = units[min(2, len(units) - 1)]
    rows: list[dict[str, Any]] = []
    for i in range(steps):
        moment = start + STEP * i
        for unit, probe, no, upto in plan:
            if i >= upto:
                continue
            value = _value(unit, no, i, steps)
            if no == 0 and 300 <= i < 312:  # an hour above the limit: acknowledged
                value = _bump(first.alarm_high_c, i, 300, 312, +1)
            elif unit.pk == middle.pk and no != len(units) and 500 <= i < 506:
                value = _bump(middle.alarm_low_c, i, 500, 506, -1)  # below the limit
            elif unit.pk == last.pk and no != len(units) and i >= steps - 6:
                value = _bump(last.alarm_high_c, i, steps - 6, steps + 6, +1)  # still open
            rows.append(
                {"sensor": probe, "measured_at": moment.isoformat(), "temperature_c": value}
            )
    return rows


def load(progress: bool) -> None:
    units = list(StorageUnit.objects.order_by("pk")[:6])
    if not units:
        return
    if Sensor.objects.filter(probe_id=f"{units[0].code.upper()}-T1").exists():
        return
    tech = User.objects.filter(username="tech").first()
    qa = User.objects.filter(username="qa").first()
    if tech is None:
        return
    calibration_due = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=180)
    for n, unit in enumerate(units):
        services.unit_monitoring_set(
            actor=tech,
            unit=unit,
            warning_band_c=_band(unit),
            silent_after_intervals=3,
            reason="demo set-up",
        )
        services.sensor_create(
            actor=tech,
            unit=unit,
            probe_id=f"{unit.code.upper()}-T1",
            calibration_due=calibration_due,
            interval_s=300,
            description=f"PT100 probe, {unit.name}",
        )
        if n == 0:
            services.sensor_create(
                actor=tech,
                unit=unit,
                probe_id=f"{unit.code.upper()}-T2",
                calibration_due=calibration_due - dt.timedelta(days=150),
                interval_s=300,
                description=f"Backup probe, {unit.name}",
            )
    now = dt.datetime.now(dt.UTC)
    end = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=now.minute % 5)
    rows = _series(units, end)
    for i in range(0, len(rows), CHUNK):
        services.readings_ingest(
            actor=tech, readings=rows[i : i + CHUNK], source=ReadingSource.DEMO
        )
    if progress:
        print(f"  {len(rows)} readings", flush=True)
    services.sensors_check_silent(now=now)
    first = (
        Excursion.objects.filter(sensor__probe_id=f"{units[0].code.upper()}-T1")
        .filter(kind=ExcursionKind.ABOVE, ended_at__isnull=False)
        .select_related("alarm")
        .order_by("started_at")
        .first()
    )
    if first is None or qa is None:
        return
    alarm = services.alarm_comment_set(
        actor=qa,
        alarm=first.alarm,
        comment="Lid left ajar during a retrieval; closed at once, LN2 topped up. "
        "QA impact assessment: no product above -150 °C for longer than 1 h.",
    )
    request = RequestFactory().post("/sign/")
    request.user = qa
    request.META["REMOTE_ADDR"] = "127.0.0.1"
    record_sign(
        request=request, actor=qa, record=alarm, meaning="acknowledged", password=DEMO_PASSWORD
    )
