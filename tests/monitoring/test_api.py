"""The monitoring API: bulk readings (422 naming row and field, nothing written), reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from celltrace.audit import ledger
from celltrace.audit.verification import verify_database
from celltrace.core import services as core_services
from celltrace.monitoring.models import Excursion, Sensor
from tests.monitoring.conftest import STEP, T0, counts

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, user: Any) -> None:
        self.secret = core_services.api_token_create(actor=user, name="test").secret
        self.client = Client()

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params, HTTP_AUTHORIZATION=f"Bearer {self.secret}")

    def post(self, path: str, body: str) -> Any:
        return self.client.post(
            f"/api/v1{path}",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.secret}",
        )


def rows(values: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "sensor": "LN2-T1",
            "measured_at": (T0 + STEP * i).isoformat().replace("+00:00", "Z"),
            "temperature_c": v,
        }
        for i, v in enumerate(values)
    ]


def test_bulk_readings_then_excursions_alarms_impact_and_series(
    sensor: Sensor, tech: Any, qa_user: Any, unit: Any
) -> None:
    api = Api(tech)
    r = api.post("/monitoring/readings", json.dumps(rows([-190.0, -140.5, -130, -190.25])))
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["rows"] == 4
    assert (body["rows"], body["digest"]) == ledger.rows_digest(
        {"sensor": "LN2-T1", "measured_at": T0 + STEP * i, "temperature_c": v}
        for i, v in enumerate(["-190.000", "-140.500", "-130.000", "-190.250"])
    )
    [exc_id] = body["excursions_opened"]
    assert body["excursions_closed"] == [exc_id]

    reader = Api(qa_user)
    listed = reader.get("/monitoring/excursions", open="false").json()
    assert listed["count"] == 1
    item = listed["items"][0]
    assert item["id"] == exc_id and item["kind"] == "above" and item["peak_c"] == "-130.000"
    assert item["duration_s"] == 600 and item["acknowledged"] is False
    assert reader.get(f"/monitoring/excursions/{exc_id}").json()["sensor"] == "LN2-T1"
    alarms = reader.get("/monitoring/alarms", acknowledged="false").json()
    assert alarms["count"] == 1 and alarms["items"][0]["excursion_id"] == exc_id
    alarm_id = alarms["items"][0]["id"]
    assert reader.get(f"/monitoring/alarms/{alarm_id}").json()["kind"] == "above"
    impact = reader.get(f"/monitoring/excursions/{exc_id}/impact").json()
    assert impact["count"] == 0 and impact["excursion"]["id"] == exc_id
    series = reader.get(
        f"/monitoring/units/{unit.pk}/series",
        start=T0.isoformat(),
        end=(T0 + 10 * STEP).isoformat(),
    ).json()
    assert series["alarm_high_c"] == "-150.0"
    [s] = series["sensors"]
    assert s["raw_count"] == 4 and [p["c"] for p in s["points"]][2] == "-130.000"
    assert verify_database().ok


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ('"-190.0"', "temperature_c"),  # a string, not a number
        ("NaN", "temperature_c"),
        ("Infinity", "temperature_c"),
        ("true", "temperature_c"),
    ],
)
def test_non_numbers_are_refused_with_row_and_field(
    sensor: Sensor, tech: Any, value: str, field: str
) -> None:
    good = json.dumps(rows([-190, -191]))[:-1]
    body = (
        good
        + ', {"sensor": "LN2-T1", "measured_at": "2026-03-01T00:10:00Z", "temperature_c": '
        + value
        + "}]"
    )
    api = Api(tech)
    before = counts()
    r = api.post("/monitoring/readings", body)
    assert r.status_code == 422, r.content
    problem = r.json()
    # shaped as the domain's row errors: ["body", row, field], without the union member's
    # name pydantic adds ("temperature_c.int"), nor the parameter's name ("payload")
    assert problem["errors"] and all(e["loc"] == ["body", 2, field] for e in problem["errors"])
    assert problem["field"] == f"2.{field}"
    assert counts() == before


def test_naive_timestamp_and_extra_fields_are_refused(sensor: Sensor, tech: Any) -> None:
    api = Api(tech)
    before = counts()
    bad = rows([-190, -191])
    bad[1]["measured_at"] = "2026-03-01T00:05:00"
    r = api.post("/monitoring/readings", json.dumps(bad))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", 1, "measured_at"]
    assert r.json()["field"] == "1.measured_at"
    extra = rows([-190])
    extra[0]["unit"] = "C"
    assert api.post("/monitoring/readings", json.dumps(extra)).status_code == 422
    assert counts() == before


def test_an_empty_batch_is_refused(sensor: Sensor, tech: Any) -> None:
    api = Api(tech)
    before = counts()
    r = api.post("/monitoring/readings", "[]")
    assert r.status_code == 422
    # the body as a whole, not a row 0 that does not exist nor a field the request has not
    assert r.json()["field"] is None
    errors = r.json()["errors"]
    assert [(e["loc"], e["type"]) for e in errors] == [(["body"], "too_short")]
    assert counts() == before


def test_domain_rules_answer_422_with_every_row_field_and_rule(sensor: Sensor, tech: Any) -> None:
    api = Api(tech)
    data = rows([-190, -191, -192])
    data[1]["sensor"] = "UNKNOWN"
    data[2]["measured_at"] = data[0]["measured_at"]
    before = counts()
    r = api.post("/monitoring/readings", json.dumps(data))
    assert r.status_code == 422
    assert r["Content-Type"] == "application/problem+json"
    problem = r.json()
    assert [(e["loc"], e["type"]) for e in problem["errors"]] == [
        (["body", 1, "sensor"], "unknown_sensor"),
        (["body", 2, "measured_at"], "duplicate"),
    ]
    assert problem["field"] == "1.sensor"
    assert counts() == before


def test_client_users_see_nothing_and_cannot_send(
    sensor: Sensor, tech: Any, client_a: Any, make_user: Any, unit: Any
) -> None:
    Api(tech).post("/monitoring/readings", json.dumps(rows([-190, -100])))
    exc = Excursion.objects.get()
    client = Api(make_user(client_a, "client_user"))
    for path in (
        "/monitoring/excursions",
        f"/monitoring/excursions/{exc.pk}",
        f"/monitoring/excursions/{exc.pk}/impact",
        "/monitoring/alarms",
        f"/monitoring/alarms/{exc.alarm.pk}",
        f"/monitoring/units/{unit.pk}/series",
    ):
        assert client.get(path).status_code == 404, path
    before = counts()
    assert client.post("/monitoring/readings", json.dumps(rows([-190]))).status_code == 404
    assert counts() == before


def test_an_oversized_batch_is_refused_before_any_row_is_checked(sensor: Sensor, tech: Any) -> None:
    """A batch longer than MAX_BATCH is refused on its length, before its rows are validated
    one by one (a 9 MB body of 3,000,000 empty objects used to take minutes and gigabytes),
    and a refusal lists at most 100 of its errors."""
    from celltrace.api.errors import MAX_LISTED_ERRORS
    from celltrace.monitoring.api import MAX_BATCH

    api = Api(tech)
    before = counts()
    r = api.post("/monitoring/readings", "[" + ",".join(["{}"] * (MAX_BATCH + 1)) + "]")
    assert r.status_code == 422
    # one error, on the length: no row was validated
    assert [e["type"] for e in r.json()["errors"]] == ["too_long"]
    many = api.post("/monitoring/readings", "[" + ",".join(["{}"] * 500) + "]")
    assert many.status_code == 422
    problem = many.json()
    assert len(problem["errors"]) == MAX_LISTED_ERRORS and "1500 errors" in problem["detail"]
    assert counts() == before


def test_a_body_over_the_upload_limit_is_a_json_problem(sensor: Sensor, tech: Any) -> None:
    from django.conf import settings

    api = Api(tech)
    before = counts()
    body = "[" + " " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + "]"
    r = api.post("/monitoring/readings", body)
    assert r.status_code == 413 and r["Content-Type"] == "application/problem+json"
    assert "fewer rows" in r.json()["detail"]
    assert counts() == before
