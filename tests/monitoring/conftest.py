"""Fixtures of the monitoring tests: a technician, an LN2 tank (-196 … -150 °C) with a sensor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from celltrace.audit.models import AuditEvent
from celltrace.monitoring import services
from celltrace.monitoring.models import Alarm, Excursion, Reading, ReadingBatch, Sensor
from tests.bank import factories

#: A fixed past instant for generated series (readings may not lie in the future).
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
STEP = dt.timedelta(minutes=5)
HIGH = Decimal("-150.0")
LOW = Decimal("-196.0")


@pytest.fixture
def store(tech: Any) -> dict[str, Any]:
    return factories.hierarchy(tech, boxes=1, rows=9, columns=9)


@pytest.fixture
def unit(store: dict[str, Any]) -> Any:
    return store["unit"]


@pytest.fixture
def sensor(tech: Any, unit: Any) -> Sensor:
    return services.sensor_create(
        actor=tech,
        unit=unit,
        probe_id="LN2-T1",
        calibration_due=dt.date(2027, 1, 1),
        interval_s=300,
    )


def series(probe: str, values: list[str], start: dt.datetime = T0) -> list[dict[str, Any]]:
    """Rows every 5 minutes from ``start`` with the given temperatures (text)."""
    return [
        {"sensor": probe, "measured_at": (start + STEP * i).isoformat(), "temperature_c": v}
        for i, v in enumerate(values)
    ]


@pytest.fixture
def ingest(tech: Any) -> Callable[..., Any]:
    def run(rows: list[dict[str, Any]], **kw: Any) -> Any:
        return services.readings_ingest(actor=tech, readings=rows, **kw)

    return run


def counts() -> dict[str, int]:
    """Row counts of every table a batch may write, and the ledger length."""
    return {
        "readings": Reading.objects.count(),
        "batches": ReadingBatch.objects.count(),
        "excursions": Excursion.objects.count(),
        "alarms": Alarm.objects.count(),
        "ledger": AuditEvent.objects.count(),
    }


def connection_vendor() -> str:
    return connection.vendor
