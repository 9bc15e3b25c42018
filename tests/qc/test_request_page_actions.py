"""The request page offers an action only to users whose roles its service accepts: an
administrator (operator staff without a laboratory role) sees no "Print labels", "Receive
samples", "Plan the tests" or certificate forms, whose targets would refuse it."""

from __future__ import annotations

from typing import Any

import pytest

from celltrace.qc import services
from celltrace.qc.services import SampleSpec
from tests.qc.conftest import CAR_T, Lab, in_testing, reviewed, sign, submitted
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db


def page(user: Any, req: Any) -> str:
    response = logged_in(user).get(f"/qc/requests/{req.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_admin_sees_no_print_labels_link_the_target_refuses(lab: Lab, admin_user: Any) -> None:
    req = in_testing(lab)
    labels = f"/qc/requests/{req.pk}/labels.pdf"
    assert 'id="print-labels"' in page(lab.analyst, req)
    assert logged_in(lab.analyst).get(labels).status_code == 200
    assert 'id="print-labels"' not in page(admin_user, req)
    assert labels not in page(admin_user, req)
    assert logged_in(admin_user).get(labels).status_code == 404


def test_receive_and_plan_are_offered_to_laboratory_roles_only(
    lab: Lab, admin_user: Any, tech: Any
) -> None:
    req = submitted(lab)
    receive = f"/qc/requests/{req.pk}/receive/"
    assert receive in page(lab.analyst, req)
    assert receive in page(tech, req)  # bank technicians receive samples too (RECEIPT_ROLES)
    assert receive not in page(admin_user, req)
    assert "/submit/" not in page(admin_user, req)  # not a draft: nothing to submit

    sample = req.samples.get()
    services.sample_receive(
        actor=lab.analyst, request=req, scanned_id=sample.client_sample_id, accept=True
    )
    plan = f"/qc/requests/{req.pk}/tests/"
    assert plan in page(lab.analyst, req)
    assert plan not in page(tech, req)  # planning tests is for LAB_ROLES, not technicians
    assert plan not in page(admin_user, req)


def test_certificate_forms_are_for_qa_only(lab: Lab, admin_user: Any) -> None:
    req = reviewed(lab)
    sign(lab.qa, req, "released")
    req.refresh_from_db()
    issue = f"/qc/requests/{req.pk}/certificates/"
    assert issue in page(lab.qa, req)
    assert issue not in page(lab.reviewer, req)
    assert issue not in page(admin_user, req)


def test_submit_is_offered_to_the_client_and_laboratory_not_to_the_admin(
    lab: Lab, admin_user: Any
) -> None:
    req = services.request_create(
        actor=lab.alice,
        product="Aurocel",
        product_type=CAR_T,
        batch="B-DRAFT",
        samples=[SampleSpec("D-001", container="cryobag")],
        method_codes=["viability"],
    )
    submit = f"/qc/requests/{req.pk}/submit/"
    assert submit in page(lab.alice, req)
    assert submit in page(lab.analyst, req)
    assert submit not in page(admin_user, req)


def test_the_client_cancels_a_submitted_request_from_its_page(
    lab: Lab, operator: Any, make_user: Any
) -> None:
    """The form is offered to the client's users and QC staff while the request is a draft or
    submitted; a reason is required; a bank technician's forged POST is refused and changes
    nothing."""
    from celltrace.audit.models import AuditEvent
    from celltrace.qc.choices import RequestStatus

    req = submitted(lab, sample="X-1")
    tech = make_user(operator, "bank_technician", username="tech")
    assert "Cancel this request" in page(lab.alice, req)
    assert "Cancel this request" in page(lab.analyst, req)
    assert "Cancel this request" not in page(tech, req)
    url = f"/qc/requests/{req.pk}/cancel/"
    as_tech = logged_in(tech)  # (logging in is on the ledger)
    entries = AuditEvent.objects.count()
    forged = as_tech.post(url, {"reason": "tidying up"})
    assert forged.status_code == 302
    req.refresh_from_db()
    assert req.status == RequestStatus.SUBMITTED and AuditEvent.objects.count() == entries
    alice = logged_in(lab.alice)
    alice.post(url, {"reason": ""})  # no reason: nothing happens
    req.refresh_from_db()
    assert req.status == RequestStatus.SUBMITTED
    done = alice.post(url, {"reason": "Batch withdrawn"}, follow=True)
    req.refresh_from_db()
    assert req.status == RequestStatus.CANCELLED
    assert "The request was cancelled." in done.content.decode()
    assert "Cancel this request" not in page(lab.alice, req)
    assert logged_in(lab.bob).post(url, {"reason": "not mine"}).status_code == 404


def test_the_specification_limit_is_shown_before_a_result_exists(lab: Lab) -> None:
    """The analyst sees what the result will be judged against before entering it, on the
    request page and on the test page (the column showed "—" until a result existed)."""
    req = in_testing(lab, sample="L-1", methods=["viability"])
    test = req.tests.get()
    assert "≥ 70 %" in page(lab.analyst, req)
    test_page = logged_in(lab.analyst).get(f"/qc/tests/{test.pk}/").content.decode()
    assert 'id="test-limit">≥ 70 %' in test_page
