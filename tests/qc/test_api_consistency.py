"""The QC API's collections page like ``/aliquots``, its numbers are decimal strings (null when
absent), and numbers in bodies out of what the database or the catalogue holds are refused with
a 422 naming the field and write nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from celltrace.api.api import api
from celltrace.audit.models import AuditEvent
from celltrace.qc import services
from celltrace.qc.models import MethodVersion, Specification, SpecificationLimit, TestPanel
from tests.qc.conftest import CAR_T, Lab, in_testing, reviewed, sign, snapshot, submitted
from tests.qc.test_api import Api, ok

pytestmark = pytest.mark.django_db

BEYOND = 2**63  # one more than a 64-bit database integer holds


def floats_in(value: Any, where: str = "") -> list[str]:
    """Where a JSON document holds a floating-point number."""
    if isinstance(value, float):
        return [where]
    if isinstance(value, dict):
        return [w for k, v in value.items() for w in floats_in(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [w for i, v in enumerate(value) for w in floats_in(v, f"{where}.{i}")]
    return []


def pages_of(api: Api, url: str) -> list[Any]:
    """Check ``url``'s paging (count is the total, limit and offset choose the items) and return
    every item."""
    sep = "&" if "?" in url else "?"
    whole = ok(api.get(f"{url}{sep}limit=500"))
    total = whole["count"]
    assert total >= 2 and len(whole["items"]) == total, (url, total)
    first = ok(api.get(f"{url}{sep}limit=1"))
    assert first["count"] == total and first["items"] == whole["items"][:1]
    second = ok(api.get(f"{url}{sep}limit=1&offset=1"))
    assert second["count"] == total and second["items"] == whole["items"][1:2]
    assert second["items"] != first["items"]
    beyond = ok(api.get(f"{url}{sep}offset={total}"))
    assert beyond == {"count": total, "items": []}
    default = ok(api.get(url))
    assert default["items"] == whole["items"]  # the default page (100) holds them all
    for bad in ("limit=0", "limit=501", "offset=-1", f"offset={BEYOND}"):
        refused = api.get(f"{url}{sep}{bad}")
        assert refused.status_code == 422, (url, bad)
        assert refused.json()["field"] == bad.split("=")[0]
    return list(whole["items"])


def test_tests_oos_and_certificates_are_paged_like_aliquots(lab: Lab) -> None:
    for n in (1, 2):  # two requests in testing: six tests, two OOS results
        req = in_testing(lab, sample=f"P-{n}")
        viability = req.tests.get(method_version__method__code="viability")
        services.result_enter(actor=lab.analyst, test=viability, value="10")
    released = reviewed(lab, sample="P-3")
    sign(lab.qa, released, "released")
    cert = services.certificate_issue(actor=lab.qa, request=released)
    services.certificate_translate(actor=lab.qa, certificate=cert, language="zh-hans")
    staff = Api(lab.qa)

    tests = pages_of(staff, "/qc/tests")
    assert len(tests) == 9 and len({t["id"] for t in tests}) == 9
    assert len(pages_of(staff, "/qc/tests?method=viability")) == 3
    assert len(pages_of(staff, "/qc/oos")) == 2
    certificates = pages_of(staff, "/qc/certificates")
    assert sorted(c["language"] for c in certificates) == ["en", "zh-hans"]
    # a client's pages count its own objects only
    assert ok(Api(lab.bob).get("/qc/tests?limit=1")) == {"count": 0, "items": []}


def test_absent_limit_bounds_are_null_and_null_is_accepted(lab: Lab) -> None:
    reviewer = Api(lab.reviewer)
    (spec,) = ok(reviewer.get("/qc/specifications?code=car-t-release"))["items"]
    limits = {li["method"]: li for li in spec["limits"]}
    bounds = ("lower", "upper", "alert_lower", "alert_upper")
    assert [limits["viability"][b] for b in bounds] == ["70", None, "75", None]
    assert [limits["endotoxin"][b] for b in bounds] == [None, "0.5", None, None]
    assert [limits["sterility-cell"][b] for b in bounds] == [None, None, None, None]
    assert limits["sterility-cell"]["expected_text"] == "No growth"
    assert floats_in(spec) == []

    # what a GET answers may be sent back: null (or nothing, or "") is an absent bound
    limit = {**limits["viability"], "lower": "80.0", "alert_lower": "85.0"}
    limit["method_code"] = limit["method"]
    for answered_only in ("method", "display"):
        del limit[answered_only]
    proposed = ok(
        reviewer.post(
            "/qc/specifications",
            {
                "code": "car-t-release",
                "title": "CAR-T release",
                "product_type": CAR_T,
                "reason": "Viability 80 %",
                "limits": [limit, {"method_code": "endotoxin", "kind": "at_most", "upper": "0.5"}],
            },
        ),
        201,
    )
    answered = {li["method"]: li for li in proposed["limits"]}
    assert [answered["viability"][b] for b in bounds] == ["80.0", None, "85.0", None]
    assert [answered["endotoxin"][b] for b in bounds] == [None, "0.5", None, None]
    stored = SpecificationLimit.objects.get(
        specification_id=proposed["id"], method__code="viability"
    )
    assert (stored.lower, stored.upper, stored.alert_upper) == ("80.0", "", "")


def test_method_numbers_are_refused_outside_the_documented_range(lab: Lab) -> None:
    reviewer = Api(lab.reviewer)
    method = {
        "name": "Viability (trypan blue or 7-AAD)",
        "reference": "Ph. Eur. 2.7.29",
        "result_type": "numeric",
        "unit": "%",
        "reported_decimals": 1,
        "turnaround_days": 1,
        "reason": "SOP r4",
    }
    before = (MethodVersion.objects.count(), AuditEvent.objects.count())
    for name, value in (
        ("reported_decimals", BEYOND),
        ("reported_decimals", 7),
        ("reported_decimals", -1),
        ("turnaround_days", BEYOND),
        ("turnaround_days", 366),
        ("turnaround_days", 0),
    ):
        for url, body in (
            ("/qc/methods/viability/versions", method),
            ("/qc/methods", {**method, "code": "viability-2"}),
        ):
            refused = reviewer.post(url, {**body, name: value})
            assert refused.status_code == 422, (name, value, refused.content)
            assert refused.json()["field"] == name
    assert (MethodVersion.objects.count(), AuditEvent.objects.count()) == before

    # the schema documents the range the service allows: both ends are accepted
    schema = api.get_openapi_schema()
    fields = schema["components"]["schemas"]["MethodVersionIn"]["properties"]
    decimals = next(s for s in fields["reported_decimals"]["anyOf"] if s["type"] == "integer")
    days = fields["turnaround_days"]
    assert (decimals["minimum"], decimals["maximum"]) == (0, 6)
    assert (days["minimum"], days["maximum"]) == (1, 365)
    top = {**method, "reported_decimals": 6, "turnaround_days": 365}
    created = ok(reviewer.post("/qc/methods/viability/versions", top), 201)
    assert (created["reported_decimals"], created["turnaround_days"]) == (6, 365)
    low = {**method, "code": "viability-2", "reported_decimals": 0}
    assert ok(reviewer.post("/qc/methods", low), 201)["reported_decimals"] == 0


def test_identifiers_in_bodies_beyond_64_bits_are_refused_naming_the_field(lab: Lab) -> None:
    qa, reviewer, analyst = Api(lab.qa), Api(lab.reviewer), Api(lab.analyst)
    req = submitted(lab)
    before = snapshot(), TestPanel.objects.count(), Specification.objects.count()
    request = {
        "product": "Aurocel",
        "product_type": CAR_T,
        "batch": "B-1",
        "samples": [{"client_sample_id": "X-1"}],
        "method_codes": ["viability"],
    }
    panel = {"code": "p1", "name": "P", "method_codes": ["viability"]}
    spec = {
        "code": "s1",
        "title": "S",
        "product_type": CAR_T,
        "reason": "r",
        "limits": [{"method_code": "viability", "kind": "at_least", "lower": "70"}],
    }
    for response, field in (
        (qa.post("/qc/requests", {**request, "organisation_id": BEYOND}), "organisation_id"),
        (qa.post("/qc/requests", {**request, "organisation_id": 0}), "organisation_id"),
        (
            analyst.post(f"/qc/requests/{req.pk}/tests", {"analysts": {"viability": BEYOND}}),
            "analysts.viability",
        ),
        (reviewer.post("/qc/panels", {**panel, "client_id": BEYOND}), "client_id"),
        (reviewer.post("/qc/specifications", {**spec, "client_id": BEYOND}), "client_id"),
    ):
        assert response.status_code == 422, response.content
        assert response.json()["field"] == field
    assert (snapshot(), TestPanel.objects.count(), Specification.objects.count()) == before

    unknown = analyst.post(f"/qc/requests/{req.pk}/tests", {"analysts": {"viability": 10**9}})
    assert unknown.status_code == 422
    assert (unknown.json()["field"], unknown.json()["detail"]) == (
        "analysts.viability",
        "Unknown analyst.",
    )
    unknown_org = qa.post("/qc/requests", {**request, "organisation_id": 10**9})
    assert unknown_org.status_code == 404 and unknown_org.json()["detail"] == "Not found."
    assert (snapshot(), TestPanel.objects.count(), Specification.objects.count()) == before


def test_verifying_an_unknown_certificate_is_a_translated_404(lab: Lab) -> None:
    pdf = SimpleUploadedFile("c.pdf", b"%PDF-1.7", content_type="application/pdf")
    response = Api(lab.qa).client.post(f"/api/v1/qc/verify/{uuid.uuid4()}", {"file": pdf})
    assert response.status_code == 404
    assert response.json()["detail"] == "No such certificate."


def test_dashboard_figures_are_decimal_strings(lab: Lab) -> None:
    req = reviewed(lab)
    sign(lab.qa, req, "released")
    services.certificate_issue(actor=lab.qa, request=req)
    body = ok(Api(lab.qa).get("/qc/dashboard"))
    assert floats_in(body) == []
    # received and certified within the test: no time at all, to two decimals
    assert body["request_tat_median_days"] == "0.00"
    assert body["request_tat_p90_days"] == "0.00"
    assert body["request_tat_by_client"][0]["median_days"] == "0.00"
    assert body["oos_rate"]["rate_percent"] == "0.00"


def test_an_analyst_for_a_method_the_request_does_not_ask_for_is_refused(lab: Lab) -> None:
    analyst = Api(lab.analyst)
    req = submitted(lab)
    sample = req.samples.get()
    services.sample_receive(
        actor=lab.analyst, request=req, scanned_id=sample.client_sample_id, accept=True
    )
    before = snapshot()
    url = f"/qc/requests/{req.pk}/tests"
    refused = analyst.post(url, {"analysts": {"nomethod": lab.analyst.pk}})
    assert refused.status_code == 422, refused.content
    assert refused.json()["field"] == "analysts.nomethod"
    assert "nomethod" in refused.json()["detail"]
    assert snapshot() == before  # no test planned without the analyst asked for
    # someone who is not a QC analyst is named at the method they were given for
    not_analyst = analyst.post(url, {"analysts": {"viability": lab.reviewer.pk}})
    assert not_analyst.status_code == 422, not_analyst.content
    assert not_analyst.json()["field"] == "analysts.viability"
    assert snapshot() == before
    planned = ok(analyst.post(url, {"analysts": {"viability": lab.analyst.pk}}), 201)
    by_method = {t["method"]: t["analyst_id"] for t in planned}
    assert by_method["viability"] == lab.analyst.pk


def test_withdrawing_a_foreign_or_a_missing_signature_answers_the_same_404(lab: Lab) -> None:
    """A client cannot tell which signature ids exist in other organisations."""
    borealis = reviewed(lab, client=lab.bob, sample="B-1", product="Borecel")
    foreign_signature = sign(lab.qa, borealis, "released")
    aurora = Api(lab.alice)
    before = snapshot()
    answers = [
        aurora.post("/signature-withdrawals", {"signature_id": sid, "reason": "x"})
        for sid in (foreign_signature.pk, foreign_signature.pk + 10_000)
    ]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["field"] == "signature_id"
    assert snapshot() == before


def test_panels_are_a_paged_collection(lab: Lab) -> None:
    reviewer, alice = Api(lab.reviewer), Api(lab.alice)
    for n in range(3):
        ok(
            reviewer.post(
                "/qc/panels", {"code": f"p{n}", "name": f"P{n}", "method_codes": ["viability"]}
            ),
            201,
        )
    every = ok(reviewer.get("/qc/panels"))
    assert every["count"] == len(every["items"]) >= 3
    page = ok(reviewer.get("/qc/panels?limit=1&offset=1"))
    assert page["count"] == every["count"] and page["items"] == every["items"][1:2]
    assert [p["code"] for p in pages_of(reviewer, "/qc/panels")] == [
        p["code"] for p in every["items"]
    ]
    assert ok(alice.get("/qc/panels"))["count"] >= 3  # global panels, for clients too
    assert reviewer.get("/qc/panels?limit=501").status_code == 422


def test_an_error_in_a_specification_limit_names_the_limit_by_its_index(lab: Lab) -> None:
    reviewer = Api(lab.reviewer)
    before = snapshot(), Specification.objects.count()
    spec = {
        "code": "s-index",
        "title": "S",
        "product_type": CAR_T,
        "reason": "r",
        "limits": [
            {"method_code": "viability", "kind": "at_least", "lower": "70", "unit": "%"},
            {"method_code": "endotoxin", "kind": "range", "lower": "9", "upper": "8"},
        ],
    }
    refused = reviewer.post("/qc/specifications", spec)
    assert refused.status_code == 422, refused.content
    assert refused.json()["field"] == "limits.1.lower"  # as validation errors: limits.1.zz
    invalid = reviewer.post(
        "/qc/specifications", {**spec, "limits": [spec["limits"][0], {"zz": 1}]}
    )
    assert invalid.json()["field"].startswith("limits.1.")
    assert (snapshot(), Specification.objects.count()) == before
