"""The QC path end to end through the API, and the tenant matrix of the API operations."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from celltrace.audit.verification import verify_database
from celltrace.core import services as core_services
from tests.conftest import PASSWORD, digest_of
from tests.qc.conftest import CAR_T, Lab, snapshot

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, user: Any) -> None:
        self.secret = core_services.api_token_create(actor=user, name="test").secret
        self.client = Client()

    def _headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.secret}"}

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1{path}", **self._headers())

    def post(self, path: str, data: Any = None) -> Any:
        return self.client.post(
            f"/api/v1{path}", data=data or {}, content_type="application/json", **self._headers()
        )


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json()


def test_end_to_end_through_the_api(lab: Lab) -> None:
    client, analyst, reviewer, qa = Api(lab.alice), Api(lab.analyst), Api(lab.reviewer), Api(lab.qa)
    created = ok(
        client.post(
            "/qc/requests",
            {
                "product": "Aurocel",
                "product_type": CAR_T,
                "batch": "B-7",
                "samples": [{"client_sample_id": "AUR-7-1", "container": "cryobag"}],
                "method_codes": ["viability", "endotoxin", "sterility-cell"],
            },
        ),
        201,
    )
    rid = created["id"]
    assert created["status"] == "submitted" and created["organisation_id"] == lab.client_a.pk
    ok(
        analyst.post(
            f"/qc/requests/{rid}/receipts",
            {"scanned_id": "AUR-7-1", "accept": True, "temperature_c": "-150.0"},
        ),
        201,
    )
    tests = ok(analyst.post(f"/qc/requests/{rid}/tests", {}), 201)
    assert {t["method"] for t in tests} == {"viability", "endotoxin", "sterility-cell"}
    values = {"viability": "69.5", "endotoxin": "< 0.05", "sterility-cell": "No growth"}
    for t in tests:
        entered = analyst.post(f"/qc/tests/{t['id']}/results", {"value": values[t["method"]]})
        result = ok(entered, 201)
        assert result["conformance"] == "conforms"  # 69.5 rounds to 70 (USP)
        sig = {"record_type": "qc.result", "record_id": str(result["id"]), "password": PASSWORD}
        shown = ok(analyst.get(f"/signatures/qc.result/{result['id']}/content"))
        sig["expected_digest"] = shown["digest"]
        ok(analyst.post("/signatures", {**sig, "meaning": "performed"}), 201)
        if t is tests[0]:
            wrong = {**sig, "meaning": "reviewed", "password": "wrong"}
            assert reviewer.post("/signatures", wrong).status_code == 403
        ok(reviewer.post("/signatures", {**sig, "meaning": "reviewed"}), 201)
    assert ok(client.get(f"/qc/requests/{rid}"))["status"] == "reviewed"
    ok(
        qa.post(
            "/signatures",
            {
                "record_type": "qc.testrequest",
                "record_id": str(rid),
                "meaning": "released",
                "password": PASSWORD,
                "expected_digest": digest_of("qc.testrequest", rid),
            },
        ),
        201,
    )
    assert ok(client.get(f"/qc/requests/{rid}"))["status"] == "released"
    cert = ok(qa.post(f"/qc/requests/{rid}/certificates", {"language": "en"}), 201)
    assert ok(client.get(f"/qc/requests/{rid}"))["status"] == "certified"
    listed = ok(client.get("/qc/certificates"))
    assert [c["id"] for c in listed["items"]] == [cert["id"]]
    pdf = client.get(f"/qc/certificates/{cert['id']}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    body = pdf.content
    assert body.startswith(b"%PDF")
    public = Client()  # anyone holding the PDF, no account
    verdict = public.post(
        f"/api/v1/qc/verify/{cert['uuid']}",
        {"file": SimpleUploadedFile("coa.pdf", body, content_type="application/pdf")},
    )
    assert ok(verdict)["matches"] is True and verdict.json()["superseded_by"] is None
    page = public.post(
        f"/qc/verify/{cert['uuid']}/",
        {"file": SimpleUploadedFile("coa.pdf", body, content_type="application/pdf")},
    )
    assert page.status_code == 200 and b"matches the certificate issued" in page.content
    changed = body + b"\n% altered after issue\n"  # still opens as a PDF
    assert changed != body
    verdict = public.post(
        f"/api/v1/qc/verify/{cert['uuid']}",
        {"file": SimpleUploadedFile("coa.pdf", changed, content_type="application/pdf")},
    )
    assert ok(verdict)["matches"] is False
    page = public.post(
        f"/qc/verify/{cert['uuid']}/",
        {"file": SimpleUploadedFile("coa.pdf", changed, content_type="application/pdf")},
    )
    assert b"does not match" in page.content
    # a malformed or unknown certificate id is refused, never a server error
    for bad, status in (("lab", 422), ("00000000-0000-0000-0000-000000000000", 404)):
        answer = public.post(
            f"/api/v1/qc/verify/{bad}",
            {"file": SimpleUploadedFile("coa.pdf", b"x", content_type="application/pdf")},
        )
        assert answer.status_code == status, answer.content
    # the client sees its results once released
    own_tests = ok(client.get("/qc/tests"))["items"]
    results = [ok(client.get(f"/qc/results/{t['current_result_id']}")) for t in own_tests]
    assert {r["value_text"] for r in results} == set(values.values())
    assert verify_database().ok


def test_tenant_matrix_api(lab: Lab, foreign: dict[str, Any]) -> None:
    api = Api(lab.alice)
    f = foreign
    rid, tid, res, cid, oid = (
        f["request"].pk,
        f["test"].pk,
        f["result"].pk,
        f["certificate"].pk,
        f["oos"].pk,
    )
    reads = [
        f"/qc/requests/{rid}",
        f"/qc/tests/{tid}",
        f"/qc/results/{res}",
        f"/qc/oos/{oid}",
        f"/qc/certificates/{cid}",
        f"/qc/certificates/{cid}/pdf",
        f"/signatures/qc.result/{res}",
        f"/signatures/qc.testrequest/{rid}",
    ]
    writes: list[tuple[str, dict[str, Any]]] = [
        (f"/qc/requests/{rid}/submit", {}),
        (f"/qc/requests/{rid}/cancel", {"reason": "x"}),
        (f"/qc/requests/{rid}/receipts", {"scanned_id": "B-1", "accept": True}),
        (f"/qc/requests/{rid}/tests", {}),
        (f"/qc/tests/{tid}/results", {"value": "1"}),
        (f"/qc/results/{res}/invalidate", {"reason": "x"}),
        (f"/qc/oos/{oid}/phase1", {"assignable_cause": True, "summary": "x"}),
        (
            f"/qc/oos/{oid}/close",
            {"summary": "x", "capa_reference": "x", "conclusion": "x"},
        ),
        (f"/qc/requests/{rid}/certificates", {}),
        (f"/qc/certificates/{cid}/amend", {"reason": "x"}),
        (
            "/signatures",
            {
                "record_type": "qc.testrequest",
                "record_id": str(rid),
                "meaning": "released",
                "password": PASSWORD,
                "expected_digest": digest_of("qc.testrequest", rid),
            },
        ),
    ]
    before = snapshot()
    for path in reads:
        assert api.get(path).status_code == 404, path
    for path, data in writes:
        assert api.post(path, data).status_code == 404, path
    create = api.post(
        "/qc/requests",
        {
            "product": "x",
            "product_type": CAR_T,
            "batch": "x",
            "samples": [{"client_sample_id": "Z-1"}],
            "method_codes": ["viability"],
            "organisation_id": lab.client_b.pk,
        },
    )
    assert create.status_code == 404
    assert snapshot() == before
    for path in ["/qc/requests", "/qc/tests", "/qc/oos", "/qc/certificates"]:
        assert ok(api.get(path))["count"] == 0, path
