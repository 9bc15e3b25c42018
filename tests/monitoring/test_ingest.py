"""A readings batch: every row validated first, refused whole, written with ONE ledger entry."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from celltrace.audit import ledger
from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.core.errors import PermissionDenied
from celltrace.monitoring import services
from celltrace.monitoring.choices import EventType, Rule
from celltrace.monitoring.models import Reading, ReadingBatch, Sensor
from tests.monitoring.conftest import STEP, T0, counts, series

pytestmark = pytest.mark.django_db


def last_entry() -> dict[str, Any]:
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    return dict(json.loads(event.body))


def test_a_clean_batch_is_written_with_one_ledger_entry_carrying_its_digest(
    sensor: Sensor, ingest: Any
) -> None:
    before = counts()
    rows = series("LN2-T1", ["-190.0", "-189.5", "-140", "-190.125"])
    result = ingest(rows)
    after = counts()
    assert after["readings"] - before["readings"] == 4
    assert after["ledger"] - before["ledger"] == 1  # one entry for the whole batch
    entry = last_entry()
    assert entry["event_type"] == EventType.READINGS_INGESTED
    assert entry["entity_type"] == "monitoring.readingbatch"
    assert entry["new"]["rows"] == 4
    expected = ledger.rows_digest(
        {
            "sensor": "LN2-T1",
            "measured_at": T0 + STEP * i,
            "temperature_c": v,
        }
        for i, v in enumerate(["-190.000", "-189.500", "-140.000", "-190.125"])
    )
    assert (entry["new"]["rows"], entry["new"]["digest"]) == expected
    assert (result.rows, result.digest) == expected
    # the digest can be recomputed from the stored rows of the batch
    batch = ReadingBatch.objects.get(pk=result.batch.pk)
    assert ledger.rows_digest(services.batch_rows(batch)) == expected
    assert batch.ledger_seq == result.ledger_seq
    assert entry["new"]["excursions_opened"] == [e.pk for e in result.opened]
    assert Reading.objects.get(measured_at=T0 + 3 * STEP).temperature_c == Decimal("-190.125")
    assert verify_database().ok


def test_typed_values_are_accepted_and_converted_to_utc(sensor: Sensor, ingest: Any) -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    ingest(
        [
            {"sensor": "LN2-T1", "measured_at": T0.astimezone(shanghai), "temperature_c": -190},
            {"sensor": "LN2-T1", "measured_at": T0 + STEP, "temperature_c": -189.7},
            {"sensor": "LN2-T1", "measured_at": T0 + 2 * STEP, "temperature_c": Decimal("-189")},
        ]
    )
    stored = list(
        Reading.objects.order_by("measured_at").values_list("measured_at", "temperature_c")
    )
    assert stored[0] == (T0, Decimal("-190.000"))
    assert stored[1][1] == Decimal("-189.700")  # from the float's shortest repr, not binary noise


BAD_ROWS: list[tuple[dict[str, Any], str, str]] = [
    (
        {"sensor": "NOPE", "measured_at": T0.isoformat(), "temperature_c": "-190"},
        "sensor",
        Rule.UNKNOWN_SENSOR,
    ),
    (
        {"sensor": "LN2-T1", "measured_at": "yesterday", "temperature_c": "-190"},
        "measured_at",
        Rule.BAD_TIMESTAMP,
    ),
    (
        {"sensor": "LN2-T1", "measured_at": "2026-03-01T00:00:00", "temperature_c": "-190"},
        "measured_at",
        Rule.NAIVE_TIMESTAMP,
    ),
    (
        {
            "sensor": "LN2-T1",
            "measured_at": dt.datetime(2026, 3, 1),  # noqa: DTZ001 - naive on purpose
            "temperature_c": "-190",
        },
        "measured_at",
        Rule.NAIVE_TIMESTAMP,
    ),
    (
        {"sensor": "LN2-T1", "measured_at": "2099-01-01T00:00:00Z", "temperature_c": "-190"},
        "measured_at",
        Rule.FUTURE_TIMESTAMP,
    ),
    (
        {"sensor": "LN2-T1", "measured_at": T0.isoformat(), "temperature_c": "cold"},
        "temperature_c",
        Rule.NOT_A_NUMBER,
    ),
    (
        {"sensor": "LN2-T1", "measured_at": T0.isoformat(), "temperature_c": "NaN"},
        "temperature_c",
        Rule.NOT_FINITE,
    ),
    (
        {"sensor": "LN2-T1", "measured_at": T0.isoformat(), "temperature_c": float("nan")},
        "temperature_c",
        Rule.NOT_FINITE,
    ),
    (
        {"sensor": "LN2-T1", "measured_at": T0.isoformat(), "temperature_c": float("inf")},
        "temperature_c",
        Rule.NOT_FINITE,
    ),
    (
        {"sensor": "LN2-T1", "measured_at": T0.isoformat(), "temperature_c": True},
        "temperature_c",
        Rule.NOT_A_NUMBER,
    ),
    (
        {"sensor": "LN2-T1", "measured_at": T0.isoformat(), "temperature_c": "-300"},
        "temperature_c",
        Rule.OUT_OF_RANGE,
    ),
    (
        {"sensor": "LN2-T1", "measured_at": T0.isoformat(), "temperature_c": "-190.0001"},
        "temperature_c",
        Rule.TOO_PRECISE,
    ),
    (
        {"sensor": "LN2-T1", "measured_at": T0.isoformat(), "temperature_c": ""},
        "temperature_c",
        Rule.REQUIRED,
    ),
    ({"sensor": "LN2-T1", "measured_at": T0.isoformat()}, "temperature_c", Rule.REQUIRED),
]


@pytest.mark.parametrize(
    ("bad", "field", "rule"), BAD_ROWS, ids=[f"{r[2]}-{i}" for i, r in enumerate(BAD_ROWS)]
)
def test_one_bad_row_refuses_the_whole_batch_and_changes_nothing(
    sensor: Sensor, ingest: Any, bad: dict[str, Any], field: str, rule: str
) -> None:
    ingest(series("LN2-T1", ["-190"], start=T0 - STEP * 10))  # some state to keep
    before = counts()
    rows = [*series("LN2-T1", ["-190", "-140", "-141"], start=T0 + STEP), bad]
    with pytest.raises(services.ReadingsRejected) as caught:
        ingest(rows)
    assert [(p.row, p.field, p.rule) for p in caught.value.problems] == [(4, field, rule)]
    assert "row 4" in caught.value.message
    assert counts() == before  # no reading, batch, excursion, alarm nor ledger entry
    sensor.refresh_from_db()
    assert sensor.last_reading_at == T0 - STEP * 10


def test_every_problem_is_listed_with_row_field_and_rule(sensor: Sensor, ingest: Any) -> None:
    rows = [
        {"sensor": "LN2-T1", "measured_at": T0.isoformat(), "temperature_c": "-190"},
        {"sensor": "LN2-T1", "measured_at": T0.isoformat(), "temperature_c": "-191"},
        {"sensor": "GONE", "measured_at": "soon", "temperature_c": "x"},
    ]
    before = counts()
    with pytest.raises(services.ReadingsRejected) as caught:
        ingest(rows, first_row=2)
    assert [(p.row, p.field, p.rule) for p in caught.value.problems] == [
        (3, "measured_at", Rule.DUPLICATE),
        (4, "sensor", Rule.UNKNOWN_SENSOR),
        (4, "measured_at", Rule.BAD_TIMESTAMP),
        (4, "temperature_c", Rule.NOT_A_NUMBER),
    ]
    assert caught.value.total == 4
    assert counts() == before


def test_a_duplicate_of_a_stored_reading_is_refused(sensor: Sensor, ingest: Any) -> None:
    ingest(series("LN2-T1", ["-190", "-190"]))
    before = counts()
    with pytest.raises(services.ReadingsRejected) as caught:
        ingest(series("LN2-T1", ["-190"], start=T0 + STEP))
    assert caught.value.problems[0].rule == Rule.BEFORE_LATEST
    with pytest.raises(services.ReadingsRejected):
        ingest(series("LN2-T1", ["-190"], start=T0))
    assert counts() == before


def test_an_inactive_sensor_is_unknown(sensor: Sensor, ingest: Any) -> None:
    Sensor.objects.filter(pk=sensor.pk).update(is_active=False)
    with pytest.raises(services.ReadingsRejected) as caught:
        ingest(series("LN2-T1", ["-190"]))
    assert caught.value.problems[0].rule == Rule.UNKNOWN_SENSOR


def test_an_empty_batch_is_refused(sensor: Sensor, ingest: Any) -> None:
    before = counts()
    with pytest.raises(services.ReadingsRejected) as caught:
        ingest([])
    assert caught.value.problems[0].rule == Rule.EMPTY
    assert counts() == before


def test_only_bank_technicians_and_admins_send_readings(
    sensor: Sensor, operator: Any, make_user: Any, client_a: Any
) -> None:
    users = (make_user(operator, "qc_analyst"), make_user(client_a, "client_user"))
    before = counts()
    for user in users:
        with pytest.raises(PermissionDenied):
            services.readings_ingest(actor=user, readings=series("LN2-T1", ["-190"]))
    assert counts() == before


def test_the_problem_list_is_capped_but_the_total_counted(sensor: Sensor, ingest: Any) -> None:
    rows = [{"sensor": "X", "measured_at": T0.isoformat(), "temperature_c": "-1"}] * 150
    with pytest.raises(services.ReadingsRejected) as caught:
        ingest(rows)
    assert len(caught.value.problems) == services.MAX_PROBLEMS
    assert caught.value.total == 150
