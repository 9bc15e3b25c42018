"""QC pages: every page renders for the laboratory; a client user gets 404 for another client's
objects (and for laboratory pages) with the database unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from celltrace.qc.models import Certificate, OosInvestigation, TestRequest
from tests.conftest import PASSWORD
from tests.qc.conftest import CAR_T, Lab, snapshot

pytestmark = pytest.mark.django_db


def logged_in(user: Any) -> Client:
    client = Client()
    assert (
        client.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    )
    return client


def test_tenant_matrix_pages(lab: Lab, foreign: dict[str, Any]) -> None:
    f = foreign
    rid, tid, res, cid, oid = (
        f["request"].pk,
        f["test"].pk,
        f["result"].pk,
        f["certificate"].pk,
        f["oos"].pk,
    )
    alice = logged_in(lab.alice)
    gets = [
        f"/qc/requests/{rid}/",
        f"/qc/requests/{rid}/receive/",
        f"/qc/tests/{tid}/",
        f"/qc/oos/{oid}/",
        f"/qc/certificates/{cid}/pdf/",
        f"/audit/history/qc.testrequest/{rid}/",
        f"/audit/history/qc.result/{res}/",
        f"/audit/history/qc.certificate/{cid}/",
        f"/sign/qc.testrequest/{rid}/?meaning=released",
        f"/sign/qc.result/{res}/?meaning=reviewed",
        # laboratory pages are not for clients at all
        "/qc/lab/",
        "/qc/worklist/",
        "/qc/review/",
        "/qc/oos/",
    ]
    posts: list[tuple[str, dict[str, Any]]] = [
        (f"/qc/requests/{rid}/submit/", {}),
        (f"/qc/requests/{rid}/receive/", {"scanned_id": "B-1", "decision": "accept"}),
        (f"/qc/requests/{rid}/tests/", {}),
        (f"/qc/requests/{rid}/certificates/", {"language": "en"}),
        (f"/qc/tests/{tid}/", {"value": "1"}),
        (f"/qc/results/{res}/invalidate/", {"reason": "x"}),
        (f"/qc/oos/{oid}/", {"action": "phase1", "p1-assignable_cause": "yes", "p1-summary": "x"}),
        (f"/qc/certificates/{cid}/amend/", {"reason": "x", "language": "en"}),
        (f"/sign/qc.testrequest/{rid}/", {"meaning": "released", "password": PASSWORD}),
    ]
    before = snapshot()
    for path in gets:
        assert alice.get(path).status_code == 404, path
    for path, data in posts:
        assert alice.post(path, data).status_code == 404, path
    assert snapshot() == before
    portal = alice.get("/qc/").content.decode()
    assert f["request"].number not in portal and f["certificate"].number not in portal
    # the client's own pages work
    assert alice.get("/qc/requests/new/").status_code == 200


def test_lab_pages_render_and_client_submits_through_the_page(
    lab: Lab, foreign: dict[str, Any]
) -> None:
    alice = logged_in(lab.alice)
    response = alice.post(
        "/qc/requests/new/",
        {
            "product": "Aurocel",
            "product_type": CAR_T,
            "batch": "P-1",
            "priority": "urgent",
            "samples": "PG-1;cryobag\nPG-2",
            "methods": ["viability", "endotoxin"],
        },
    )
    assert response.status_code == 302, response.content
    req = TestRequest.objects.get(batch="P-1")
    assert req.organisation == lab.client_a and req.samples.count() == 2
    assert alice.get(req.get_absolute_url()).status_code == 200
    analyst = logged_in(lab.analyst)
    for path in [
        "/qc/",
        "/qc/lab/",
        "/qc/worklist/?mine=1",
        "/qc/review/",
        "/qc/oos/?open=1",
        f"/qc/oos/{foreign['oos'].pk}/",
        f"/qc/requests/{foreign['request'].pk}/",
        f"/qc/requests/{req.pk}/receive/",
        f"/qc/tests/{foreign['test'].pk}/",
    ]:
        assert analyst.get(path).status_code == 200, path
    response = analyst.post(
        f"/qc/requests/{req.pk}/receive/",
        {
            "scanned_id": "PG-1",
            "decision": "accept",
            "container_intact": "on",
            "label_matches": "on",
        },
    )
    assert response.status_code == 302
    cert: Certificate = foreign["certificate"]
    public = Client()
    assert public.get(f"/qc/verify/{cert.uuid}/").status_code == 200
    assert OosInvestigation.objects.filter(pk=foreign["oos"].pk).exists()
