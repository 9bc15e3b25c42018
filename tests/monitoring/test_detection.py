"""Excursion detection on generated series: start, end, peak, duration, and the edge cases.

Unit limits: -196.0 … -150.0 °C, inclusive (a reading equal to a limit is within limits).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from celltrace.audit.verification import verify_database
from celltrace.monitoring.choices import ExcursionKind
from celltrace.monitoring.models import Excursion, Sensor
from tests.monitoring.conftest import STEP, T0, series

pytestmark = pytest.mark.django_db

NORMAL = "-190.0"


def only_excursion() -> Excursion:
    [exc] = list(Excursion.objects.all())
    return exc


def test_an_excursion_above_the_limit_has_start_end_peak_and_duration(
    sensor: Sensor, ingest: Any
) -> None:
    values = [NORMAL] * 3 + ["-149.9", "-140.5", "-130.25", "-145.0"] + [NORMAL] * 3
    result = ingest(series("LN2-T1", values))
    exc = only_excursion()
    assert exc.kind == ExcursionKind.ABOVE
    assert exc.started_at == T0 + 3 * STEP  # first reading over the limit
    assert exc.ended_at == T0 + 7 * STEP  # first reading back within limits
    assert exc.duration_s == 4 * 5 * 60
    assert exc.duration() == dt.timedelta(minutes=20)
    assert exc.peak_c == Decimal("-130.250")
    assert exc.peak_at == T0 + 5 * STEP
    assert exc.readings_outside == 4
    assert exc.limit_c == Decimal("-150.0")
    assert exc.alarm.raised_at is not None
    assert [e.pk for e in result.opened] == [exc.pk]
    assert [e.pk for e in result.closed] == [exc.pk]
    assert verify_database().ok


def test_below_the_low_limit_tracks_the_lowest_reading(sensor: Sensor, ingest: Any) -> None:
    ingest(series("LN2-T1", [NORMAL, "-196.5", "-197.75", "-196.1", NORMAL]))
    exc = only_excursion()
    assert exc.kind == ExcursionKind.BELOW
    assert exc.peak_c == Decimal("-197.750")
    assert (exc.started_at, exc.ended_at) == (T0 + STEP, T0 + 4 * STEP)


def test_a_single_reading_over_the_limit_is_an_excursion_of_one_interval(
    sensor: Sensor, ingest: Any
) -> None:
    ingest(series("LN2-T1", [NORMAL, "-149.999", NORMAL]))
    exc = only_excursion()
    assert exc.started_at == T0 + STEP and exc.ended_at == T0 + 2 * STEP
    assert exc.duration_s == 300 and exc.readings_outside == 1
    assert exc.peak_c == Decimal("-149.999")


def test_readings_exactly_at_either_limit_are_within_limits(sensor: Sensor, ingest: Any) -> None:
    """Limits are inclusive (USP GN 7.10): -150.0 and -196.0 open no excursion."""
    ingest(series("LN2-T1", [NORMAL, "-150.0", "-150.000", "-196.0", "-196", NORMAL]))
    assert Excursion.objects.count() == 0


def test_an_excursion_still_open_at_the_end_of_the_series(sensor: Sensor, ingest: Any) -> None:
    ingest(series("LN2-T1", [NORMAL, NORMAL, "-148", "-145"]))
    exc = only_excursion()
    assert exc.ended_at is None and exc.duration_s is None and exc.is_open
    assert exc.peak_c == Decimal("-145.000")
    assert exc.duration(now=T0 + 5 * STEP) == 3 * STEP
    sensor.refresh_from_db()
    assert sensor.last_reading_at == T0 + 3 * STEP
    assert sensor.last_temperature_c == Decimal("-145.000")


def test_detection_continues_across_batches(sensor: Sensor, ingest: Any) -> None:
    ingest(series("LN2-T1", [NORMAL, "-148", "-140"]))
    ingest(series("LN2-T1", ["-135", "-149", NORMAL], start=T0 + 3 * STEP))
    exc = only_excursion()
    assert exc.started_at == T0 + STEP and exc.ended_at == T0 + 5 * STEP
    assert exc.peak_c == Decimal("-135.000") and exc.readings_outside == 4


def test_rows_of_a_batch_in_any_order_are_processed_in_time_order(
    sensor: Sensor, ingest: Any
) -> None:
    rows = series("LN2-T1", [NORMAL, "-140", "-145", NORMAL])
    ingest(list(reversed(rows)))
    exc = only_excursion()
    assert (exc.started_at, exc.ended_at, exc.peak_c) == (
        T0 + STEP,
        T0 + 3 * STEP,
        Decimal("-140.000"),
    )


def test_crossing_from_above_to_below_closes_one_and_opens_another(
    sensor: Sensor, ingest: Any
) -> None:
    ingest(series("LN2-T1", ["-140", "-200", NORMAL]))
    above, below = Excursion.objects.order_by("started_at")
    assert above.kind == ExcursionKind.ABOVE and above.ended_at == T0 + STEP
    assert below.kind == ExcursionKind.BELOW and below.started_at == T0 + STEP
    assert below.ended_at == T0 + 2 * STEP


def test_two_excursions_in_one_series(sensor: Sensor, ingest: Any) -> None:
    ingest(series("LN2-T1", [NORMAL, "-140", NORMAL, NORMAL, "-120", "-125", NORMAL]))
    first, second = Excursion.objects.order_by("started_at")
    assert (first.peak_c, first.duration_s) == (Decimal("-140.000"), 300)
    assert (second.peak_c, second.duration_s) == (Decimal("-120.000"), 600)
    assert second.started_at == T0 + 4 * STEP


def test_long_generated_series_with_periodic_excursions(sensor: Sensor, ingest: Any) -> None:
    """Two days at 5 min; every 6 h a warm spell of 3 readings peaking at -140 + k."""
    values = []
    for i in range(576):
        k, r = divmod(i, 72)
        values.append(
            f"{-140 + k}" if 10 <= r < 13 and r != 12 else ("-149" if r == 12 else NORMAL)
        )
    ingest(series("LN2-T1", values))
    excs = list(Excursion.objects.order_by("started_at"))
    assert len(excs) == 8
    for k, exc in enumerate(excs):
        assert exc.started_at == T0 + (72 * k + 10) * STEP
        assert exc.ended_at == T0 + (72 * k + 13) * STEP
        assert exc.peak_c == Decimal(-140 + k)
        assert exc.duration_s == 900
