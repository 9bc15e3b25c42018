"""Input the API used to accept silently is refused with a 422 naming the field, and a refused
request changes nothing: a NUL character anywhere (on every database, not only where
PostgreSQL fails), an unknown multipart form field, a number where a date or time is expected
(pydantic reads it as a Unix time) and a filter value no row can have."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from celltrace.api.api import api
from celltrace.audit.models import AuditEvent
from celltrace.bank.models import Collection, Donor
from celltrace.imports.models import ImportRun
from celltrace.qc.models import TestRequest
from celltrace.storage.models import Site
from tests.api.test_errors import _inputs, _operations, client_of, post, problem
from tests.bank import factories

pytestmark = pytest.mark.django_db

NUMBER = 12345  # 1970-01-01T03:25:45Z, read as a Unix time


@pytest.fixture
def lab(operator: Any, make_user: Any) -> Any:
    """Laboratory staff holding every operator role: no operation stops at a permission."""
    return make_user(operator, "admin", "bank_technician", "qc_analyst", "qc_reviewer", "qa")


def counts() -> tuple[int, ...]:
    return (
        AuditEvent.objects.count(),
        Donor.objects.count(),
        Collection.objects.count(),
        Site.objects.count(),
        ImportRun.objects.count(),
        TestRequest.objects.count(),
    )


# --- NUL characters -----------------------------------------------------------------------------


def test_a_nul_in_a_json_body_is_refused_naming_the_field(lab: Any, client_a: Any) -> None:
    c = client_of(lab)
    before = counts()
    donor = post(c, "/api/v1/donors", {"organisation_id": client_a.pk, "reference": "a\u0000b"})
    body = problem(donor, 422)
    assert body["field"] == "reference" and body["code"] == "invalid"
    assert body["errors"] == [
        {
            "loc": ["body", "payload", "reference"],
            "msg": body["errors"][0]["msg"],
            "type": "nul_character",
        }
    ]
    site = post(c, "/api/v1/storage/sites", {"name": "Site", "code": "s1", "timezone": "UTC\u0000"})
    assert problem(site, 422)["field"] == "timezone"
    rows = [
        {"sensor": "P1", "measured_at": "2026-01-01T00:00:00Z", "temperature_c": -190},
        {"sensor": "P\u00001", "measured_at": "2026-01-01T00:00:00Z", "temperature_c": -190},
    ]
    readings = problem(post(c, "/api/v1/monitoring/readings", rows), 422)
    assert readings["field"] == "1.sensor"
    assert readings["errors"][0]["loc"] == ["body", 1, "sensor"]  # rows as the operation says
    # a key of a mapping: named with the character escaped
    analysts = problem(post(c, "/api/v1/qc/requests/1/tests", {"analysts": {"a\u0000": 1}}), 422)
    assert analysts["field"] == "analysts.a\\u0000"
    # a JSON body sent under another Content-Type is read as JSON, and checked as JSON
    disguised = c.post(
        "/api/v1/storage/sites",
        data=json.dumps({"name": "Si\u0000te", "code": "s2", "timezone": "UTC"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert problem(disguised, 422)["field"] == "name"
    assert counts() == before


def test_a_nul_in_a_nested_list_names_the_item(client_a: Any, make_user: Any) -> None:
    c = client_of(make_user(client_a, "client_user", username="aurora"))
    before = counts()
    request = {
        "product": "Aurocel",
        "product_type": "car_t",
        "batch": "B-1",
        "samples": [{"client_sample_id": "S-1"}, {"client_sample_id": "S-\u00002"}],
        "method_codes": ["viability"],
    }
    body = problem(post(c, "/api/v1/qc/requests", request), 422)
    assert body["field"] == "samples.1.client_sample_id"
    assert counts() == before


def test_a_nul_in_a_query_form_or_path_is_refused_naming_it(lab: Any, operator: Any) -> None:
    c = client_of(lab)
    assert problem(c.get("/api/v1/aliquots?q=a%00b"), 422)["field"] == "q"
    assert problem(c.get("/api/v1/donors?reference=%00"), 422)["field"] == "reference"
    assert problem(c.get("/api/v1/qc/methods/via%00bility"), 422)["field"] == "code"
    before = counts()
    upload = SimpleUploadedFile("inventory.csv", b"reference\n", content_type="text/csv")
    form = {"organisation_id": str(operator.pk), "reason": "a\x00b", "file": upload}
    assert problem(c.post("/api/v1/imports", form), 422)["field"] == "reason"
    assert counts() == before


# --- unknown multipart form fields --------------------------------------------------------------


def test_an_unknown_form_field_of_an_upload_is_refused_naming_it(lab: Any, operator: Any) -> None:
    c = client_of(lab)
    before = counts()
    upload = SimpleUploadedFile("inventory.csv", b"reference\n", content_type="text/csv")
    form = {"organisation_id": str(operator.pk), "reason": "x", "zz": "1", "file": upload}
    body = problem(c.post("/api/v1/imports", form), 422)
    assert body["field"] == "zz" and body["errors"][0]["type"] == "extra_forbidden"
    assert counts() == before  # no import run queued
    upload = SimpleUploadedFile("inventory.csv", b"reference\n", content_type="text/csv")
    extra_file = SimpleUploadedFile("other.csv", b"x\n", content_type="text/csv")
    form = {"organisation_id": str(operator.pk), "reason": "x", "file": upload, "more": extra_file}
    assert problem(c.post("/api/v1/imports", form), 422)["field"] == "more"
    assert counts() == before


# --- numbers are no dates or times --------------------------------------------------------------


def test_a_number_for_a_collection_time_is_refused_and_mints_no_din(
    tech: Any, client_a: Any
) -> None:
    donor = factories.donor(tech, client_a)
    c = client_of(tech)
    before = counts()
    body = {"collection_type": "apheresis", "collected_at": NUMBER, "volume_ml": "100.5"}
    refused = problem(post(c, f"/api/v1/donors/{donor.pk}/collections", body), 422)
    assert refused["field"] == "collected_at"
    assert refused["errors"][0]["type"] == "date_time_number"
    assert counts() == before
    body["collected_at"] = "2026-01-15T09:30:00+08:00"  # ISO 8601 text is still fine
    made = post(c, f"/api/v1/donors/{donor.pk}/collections", body)
    assert made.status_code == 201, made.content
    assert made.json()["collected_at"] == "2026-01-15T01:30:00Z"


def _body_at(where: str, value: Any) -> Any:
    body: Any = value
    for part in reversed(where.split(".")):
        body = [body] if part == "*" else {part: body}
    return body


def test_every_date_and_time_input_refuses_a_number(lab: Any) -> None:
    """Every query parameter, JSON body field and form field of format date-time or date: a
    number (a JSON number; digits in a query or form) is a 422 whose error names the field."""
    components = api.get_openapi_schema()["components"]["schemas"]
    c = client_of(lab, raise_request_exception=False)
    found = set()
    for url, method, op in _operations():
        address = url.format(**dict.fromkeys(re.findall(r"{(\w+)}", url), "1"))
        for source, where, schema in _inputs(op, components):
            if schema.get("format") not in ("date-time", "date"):
                continue
            found.add((op["operationId"], where))
            if source == "query":
                for number in (str(NUMBER), "1.5e3"):
                    body = problem(getattr(c, method)(f"{address}?{where}={number}"), 422)
                    assert body["field"] == where, (op["operationId"], where)
                continue
            content = op["requestBody"]["content"]
            if "application/json" in content:
                body = problem(post(c, address, _body_at(where, NUMBER)), 422)
            else:
                assert "multipart/form-data" in content
                body = problem(c.post(address, {where: str(NUMBER)}), 422)
            numbers = [e for e in body["errors"] if e["type"] == "date_time_number"]
            expected = where.replace("*", "0").split(".")
            assert numbers, (op["operationId"], where, body["errors"])
            assert [str(p) for p in numbers[0]["loc"]][-len(expected) :] == expected
    assert {
        ("collection_create", "collected_at"),
        ("collection_process", "expiry"),
        ("donor_create", "date_of_birth"),
        ("tokens_create", "expires_at"),
        ("ledger_list", "since"),
        ("metabolism_runs_create", "sampled_on"),
    } <= found


# --- filter values no row can have --------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ("/api/v1/aliquots?status=bogus", "status"),
        ("/api/v1/aliquots?product_type=bogus", "product_type"),
        ("/api/v1/metabolism/runs?assay=bogus", "assay"),
        ("/api/v1/monitoring/excursions?kind=bogus", "kind"),
        ("/api/v1/distributions?status=bogus", "status"),
        ("/api/v1/aliquots/lookup?code=", "code"),
    ],
)
def test_a_filter_value_outside_its_choices_is_a_422_naming_it(
    lab: Any, address: str, field: str
) -> None:
    assert problem(client_of(lab).get(address), 422)["field"] == field


def test_filters_take_their_choices(lab: Any) -> None:
    c = client_of(lab)
    for address in (
        "/api/v1/aliquots?status=available&product_type=pbmc",
        "/api/v1/metabolism/runs?assay=mito-stress",
        "/api/v1/monitoring/excursions?kind=above",
    ):
        response = c.get(address)
        assert response.status_code == 200, (address, response.content)
        assert response.json()["count"] == 0
