"""QC pages offer only what the user can do now: a sign button only for a meaning the signing
service would accept from this user (a result is reviewed only once signed performed, by
someone else), and the receipt page's form and Print labels only to the roles their services
accept. A forged request is still refused, with nothing written."""

from __future__ import annotations

import re
from typing import Any

import pytest

from celltrace.audit.models import Signature
from celltrace.qc import services
from celltrace.qc.choices import SampleStatus
from tests.conftest import PASSWORD
from tests.qc.conftest import Lab, in_testing, lab_test, sign, snapshot, submitted
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db


def sign_buttons(page: str) -> list[str]:
    """The meanings of the sign buttons on a page."""
    return re.findall(r'<a class="button" href="/sign/[^"?]*\?meaning=(\w+)', page)


def test_result_sign_buttons_follow_the_signing_rules(lab: Lab) -> None:
    req = in_testing(lab)
    test = lab_test(req, "viability")
    result = services.result_enter(actor=lab.analyst, test=test, value="85.2")
    url = f"/qc/tests/{test.pk}/"
    analyst, analyst2, reviewer = (logged_in(u) for u in (lab.analyst, lab.analyst2, lab.reviewer))

    # before the performed signature: only the analyst who entered it may sign (performed)
    assert sign_buttons(analyst.get(url).content.decode()) == ["performed"]
    assert sign_buttons(analyst2.get(url).content.decode()) == []
    assert sign_buttons(reviewer.get(url).content.decode()) == []

    # the service still refuses a forged review, and nothing is written
    before = snapshot()
    response = reviewer.post(
        f"/sign/qc.result/{result.pk}/", {"meaning": "reviewed", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "must be signed as performed before it is reviewed" in response.content.decode()
    assert snapshot() == before

    sign(lab.analyst, result, "performed")
    # performed stands: nobody is offered it again; the reviewer (not the analyst) may review
    assert sign_buttons(analyst.get(url).content.decode()) == []
    assert sign_buttons(analyst2.get(url).content.decode()) == []
    assert sign_buttons(reviewer.get(url).content.decode()) == ["reviewed"]

    sign(lab.reviewer, result, "reviewed")
    assert sign_buttons(reviewer.get(url).content.decode()) == []
    assert Signature.objects.filter(record_id=str(result.pk)).count() == 2


def test_sign_buttons_keep_the_translated_meaning(lab: Lab) -> None:
    req = in_testing(lab)
    test = lab_test(req, "viability")
    services.result_enter(actor=lab.analyst, test=test, value="85.2")
    analyst = logged_in(lab.analyst)
    analyst.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    page = analyst.get(f"/qc/tests/{test.pk}/").content.decode()
    assert re.search(r'\?meaning=performed[^"]*">签名: 已执行</a>', page), page


def test_receipt_page_offers_the_form_and_labels_to_receipt_roles_only(
    lab: Lab, admin_user: Any
) -> None:
    req = submitted(lab)
    url = f"/qc/requests/{req.pk}/receive/"
    labels = f"/qc/requests/{req.pk}/labels.pdf"
    for user, allowed in [(lab.analyst, True), (lab.qa, True), (admin_user, False)]:
        page = logged_in(user).get(url).content.decode()
        assert ('id="print-labels"' in page) is allowed, user.username
        assert ('id="receipt-form"' in page) is allowed, user.username
        assert (labels in page) is allowed, user.username

    # the administrator's forged receipt and label print are refused; nothing is written
    admin = logged_in(admin_user)
    before = snapshot()
    sample = req.samples.get()
    response = admin.post(url, {"scanned_id": sample.client_sample_id, "decision": "accept"})
    assert response.status_code == 200
    assert admin.get(labels).status_code == 404
    assert snapshot() == before
    sample.refresh_from_db()
    assert sample.status == SampleStatus.EXPECTED


def test_no_print_labels_when_every_sample_was_rejected(lab: Lab) -> None:
    req = submitted(lab)
    sample = req.samples.get()
    services.sample_receive(
        actor=lab.analyst,
        request=req,
        scanned_id=sample.client_sample_id,
        accept=False,
        rejection_reason="Container broken",
    )
    analyst = logged_in(lab.analyst)
    page = analyst.get(f"/qc/requests/{req.pk}/receive/").content.decode()
    assert 'id="print-labels"' not in page
    assert analyst.get(f"/qc/requests/{req.pk}/labels.pdf").status_code == 404


def test_withdraw_is_offered_only_to_whom_may_withdraw(lab: Lab) -> None:
    """The signer and QA may withdraw a signature; another analyst is not
    offered the link (the service refused them on submitting)."""
    test = lab_test(in_testing(lab, sample="W-1"), "viability")
    result = services.result_enter(actor=lab.analyst, test=test, value="85")
    sign(lab.analyst, result, "performed")
    url = f"/qc/tests/{test.pk}/"

    def offered(user: Any) -> bool:
        return "/withdraw/" in logged_in(user).get(url).content.decode()

    assert offered(lab.analyst) and offered(lab.qa)
    assert not offered(lab.analyst2) and not offered(lab.reviewer)
