"""The printable OOS investigation report: the PDF carries the key fields (request, client,
sample, method, specification, result, phase I and II findings, assignable cause, CAPA,
conclusion, retests, signature manifestations, ledger history) in English and Simplified
Chinese, through the page and the API; another client's report is a 404 and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from celltrace.core import services as core_services
from celltrace.qc import reports, services
from celltrace.qc.models import OosInvestigation
from tests.qc.conftest import Lab, in_testing, sign, snapshot

pytestmark = pytest.mark.django_db
pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 (dev dependency) reads PDF text")

PHASE1 = "No error found in the laboratory record review."
PHASE2 = "Pipette P-17 found out of calibration; dilution error confirmed."
CAPA = "CAPA-2026-017"
CONCLUSION = "Laboratory error; retest conforms. 移液器未校准。"


def pdf_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in doc)
    finally:
        doc.close()


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def investigation(lab: Lab) -> OosInvestigation:
    """Client A's OOS: viability 10 % (limit ≥ 70 %); no cause in phase I, a laboratory error
    found in phase II, the result invalidated and retested."""
    req = in_testing(lab, sample="AUR-9-1", methods=["viability"], batch="B-OOS-9")
    test = req.tests.get()
    bad = services.result_enter(actor=lab.analyst, test=test, value="10")
    sign(lab.analyst, bad, "performed")
    oos = OosInvestigation.objects.get(result=bad)
    services.oos_complete_phase1(
        actor=lab.reviewer, oos=oos, assignable_cause=False, summary=PHASE1
    )
    oos.refresh_from_db()
    services.oos_close(
        actor=lab.qa,
        oos=oos,
        summary=PHASE2,
        capa_reference=CAPA,
        conclusion=CONCLUSION,
        invalidate_result=True,
    )
    retest = services.result_enter(actor=lab.analyst, test=test, value="86.1")
    sign(lab.analyst, retest, "performed")
    sign(lab.reviewer, retest, "reviewed")
    oos.refresh_from_db()
    return oos


def _check_english(text: str, oos: OosInvestigation) -> None:
    flat = _flat(text)
    for expected in (
        "OOS investigation report",
        oos.number,
        oos.request.number,
        "Client A",
        "AUR-9-1",
        "B-OOS-9",
        "viability v1",
        "car-t-release v1",
        "≥ 70 %",
        "10 %",  # the OOS result
        "86.1 %",  # the retest
        "Invalidated",
        PHASE1,
        PHASE2,
        CAPA,
        "移液器未校准",  # CJK glyphs are embedded, not boxes
        "Assignable laboratory cause",
        "No · Rita Reviewer",  # the decision, who made it
        "Li Na",
        "Rita Reviewer",
        "Performed",
        "Reviewed",
        "QC_OOS_OPENED",
        "QC_OOS_PHASE1_COMPLETED",
        "QC_OOS_CLOSED",
        "Printed by Quinn Assurance",
    ):
        assert expected in flat, expected


def test_report_pdf_in_english_from_the_page(lab: Lab, investigation: OosInvestigation) -> None:
    web = Client()
    web.force_login(lab.qa)
    detail = web.get(f"/qc/oos/{investigation.pk}/").content.decode()
    assert f"/qc/oos/{investigation.pk}/report.pdf" in detail  # the "Print report" link
    before = snapshot()
    response = web.get(f"/qc/oos/{investigation.pk}/report.pdf?lang=en")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f"{investigation.number}-report-en.pdf" in response["Content-Disposition"]
    _check_english(pdf_text(response.content), investigation)
    assert snapshot() == before  # printing writes nothing


def test_report_in_simplified_chinese(lab: Lab, investigation: OosInvestigation) -> None:
    html = reports.render_html(investigation, language="zh-hans", printed_by=lab.qa)
    assert '<html lang="zh-hans">' in html
    # labels already in the catalogue print in Chinese; the data prints as recorded
    text = _flat(pdf_text(reports.render_pdf(investigation, language="zh-hans", printed_by=lab.qa)))
    for expected in (
        "批号",
        "质量标准",
        "CAPA 编号",
        "结论",
        CAPA,
        PHASE1,
        "移液器未校准",
        "AUR-9-1",
    ):
        assert expected in text, expected
    assert "Batch or lot" not in text
    # the page follows the user's language
    web = Client()
    web.force_login(lab.qa)
    response = web.get(f"/qc/oos/{investigation.pk}/report.pdf", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert "report-zh-hans.pdf" in response["Content-Disposition"]
    assert "批号" in _flat(pdf_text(response.content))
    assert web.get(f"/qc/oos/{investigation.pk}/report.pdf?lang=fr").status_code == 400


def test_report_through_the_api(lab: Lab, investigation: OosInvestigation) -> None:
    sign(lab.qa, investigation.request, "released")  # a client's once released
    secret = core_services.api_token_create(actor=lab.alice, name="reports").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = api.get(f"/api/v1/qc/oos/{investigation.pk}/report?language=en")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = _flat(pdf_text(response.content))
    assert investigation.number in text and "Printed by Alice A" in text
    zh = api.get(f"/api/v1/qc/oos/{investigation.pk}/report?language=zh-hans")
    assert "批号" in _flat(pdf_text(zh.content))
    bad = api.get(f"/api/v1/qc/oos/{investigation.pk}/report?language=fr")
    assert bad.status_code == 422 and bad.json()["field"] == "language"


def test_foreign_report_is_404_and_changes_nothing(
    lab: Lab, investigation: OosInvestigation, foreign: dict[str, Any]
) -> None:
    oos_b = foreign["oos"]
    before = snapshot()
    alice = Client()
    alice.force_login(lab.alice)
    assert alice.get(f"/qc/oos/{oos_b.pk}/report.pdf").status_code == 404
    secret = core_services.api_token_create(actor=lab.alice, name="reports").secret
    before = snapshot()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    refused = api.get(f"/api/v1/qc/oos/{oos_b.pk}/report")
    assert refused.status_code == 404 and refused["Content-Type"].startswith("application/")
    assert b"%PDF" not in refused.content
    assert api.get("/api/v1/qc/oos/999999/report").status_code == 404
    assert snapshot() == before


def test_a_client_sees_its_investigation_once_the_request_is_released(
    lab: Lab, investigation: OosInvestigation
) -> None:
    """Like its results: before the release, the investigation, its report, its history and
    the test's current result are not the client's to see (404, null), after it they are."""
    req = investigation.request
    test = req.tests.get()
    alice = Client()
    alice.force_login(lab.alice)
    api = Client(
        HTTP_AUTHORIZATION="Bearer "
        + core_services.api_token_create(actor=lab.alice, name="portal").secret
    )
    assert alice.get(f"/qc/oos/{investigation.pk}/").status_code == 404  # a laboratory page
    urls = (
        f"/qc/oos/{investigation.pk}/report.pdf",
        f"/audit/history/qc.oosinvestigation/{investigation.pk}/",
    )
    api_urls = (
        f"/api/v1/qc/oos/{investigation.pk}",
        f"/api/v1/qc/oos/{investigation.pk}/report",
        f"/api/v1/history/qc.oosinvestigation/{investigation.pk}",
    )
    for url in urls:
        assert alice.get(url).status_code == 404, url
    for url in api_urls:
        assert api.get(url).status_code == 404, url
    assert api.get("/api/v1/qc/oos").json()["count"] == 0
    assert api.get(f"/api/v1/qc/tests/{test.pk}").json()["current_result_id"] is None
    assert alice.get("/audit/history/qc.oosinvestigation/abc/").status_code == 404
    assert api.get("/api/v1/history/qc.oosinvestigation/abc").status_code == 404

    sign(lab.qa, req, "released")
    for url in urls:
        assert alice.get(url).status_code == 200, url
    for url in api_urls:
        assert api.get(url).status_code == 200, url
    assert api.get("/api/v1/qc/oos").json()["count"] == 1
    assert api.get(f"/api/v1/qc/tests/{test.pk}").json()["current_result_id"] == (
        test.current_result.pk
    )


def test_each_phase_form_is_offered_to_the_roles_that_may_use_it(lab: Lab) -> None:
    """Phase I: QC reviewers and QA; closing phase II: QA only (a reviewer saw the closing
    form and was refused on submitting it)."""
    req = in_testing(lab, sample="AUR-9-2", methods=["viability"], batch="B-OOS-10")
    bad = services.result_enter(actor=lab.analyst, test=req.tests.get(), value="10")
    sign(lab.analyst, bad, "performed")
    oos = OosInvestigation.objects.get(result=bad)

    def page(user: Any) -> str:
        web = Client()
        web.force_login(user)
        return web.get(f"/qc/oos/{oos.pk}/").content.decode()

    assert 'value="phase1"' in page(lab.reviewer) and 'value="phase1"' in page(lab.qa)
    assert 'value="phase1"' not in page(lab.analyst)
    services.oos_complete_phase1(
        actor=lab.reviewer, oos=oos, assignable_cause=False, summary="Nothing found."
    )
    assert 'value="close"' in page(lab.qa)
    assert 'value="close"' not in page(lab.reviewer)
