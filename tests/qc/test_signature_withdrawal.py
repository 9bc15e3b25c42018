"""Withdrawing a signature keeps the record in line with its signatures (a review withdrawn
takes the request back into testing) or is refused where the signature's effect cannot be
undone by withdrawing it (a released request, an approval that put a version into effect);
a refusal writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from celltrace.audit.models import Signature, SignatureWithdrawal
from celltrace.audit.services import signature_withdraw
from celltrace.audit.verification import verify_database
from celltrace.core.errors import Conflict, PermissionDenied
from celltrace.qc import services
from celltrace.qc.choices import RequestStatus, VersionStatus
from celltrace.qc.models import Method
from tests.qc.conftest import VALUES, Lab, in_testing, reviewed, sign, snapshot
from tests.qc.test_catalogue import VIABILITY
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db


def signature_of(record: object, meaning: str) -> Signature:
    return Signature.objects.get(
        record_type=record._meta.label_lower,  # type: ignore[attr-defined]
        record_id=str(record.pk),  # type: ignore[attr-defined]
        meaning=meaning,
    )


def test_a_withdrawn_review_takes_the_request_back_into_testing(lab: Lab) -> None:
    req = reviewed(lab)
    assert req.status == RequestStatus.REVIEWED
    result = req.tests.order_by("pk").first().current_result
    review = signature_of(result, "reviewed")
    signature_withdraw(actor=lab.reviewer, signature=review, reason="wrong dilution checked")
    req.refresh_from_db()
    assert req.status == RequestStatus.IN_TESTING
    # reviewed again: the request is reviewed again
    sign(lab.reviewer, result, "reviewed")
    req.refresh_from_db()
    assert req.status == RequestStatus.REVIEWED
    assert verify_database().ok


def test_signatures_of_a_released_request_stay(lab: Lab) -> None:
    req = reviewed(lab)
    release = sign(lab.qa, req, "released")
    req.refresh_from_db()
    assert req.status == RequestStatus.RELEASED
    result = req.tests.order_by("pk").first().current_result
    review = signature_of(result, "reviewed")
    before = snapshot()
    for signature, who in ((release, lab.qa), (review, lab.reviewer)):
        with pytest.raises(Conflict, match="Amend its certificate"):
            signature_withdraw(actor=who, signature=signature, reason="second thoughts")
    assert snapshot() == before and not SignatureWithdrawal.objects.exists()
    req.refresh_from_db()
    assert req.status == RequestStatus.RELEASED
    # the pages offer no "Withdraw" on them, and the withdrawal page says why
    qa = logged_in(lab.qa)
    assert "/withdraw/" not in qa.get(f"/qc/requests/{req.pk}/").content.decode()
    assert "/withdraw/" not in qa.get(f"/qc/tests/{result.test_id}/").content.decode()
    page = qa.get(f"/signatures/{review.pk}/withdraw/").content.decode()
    assert "Amend its certificate" in page and 'name="reason"' not in page


def test_the_release_is_independent_of_the_testing(lab: Lab, operator: Any, make_user: Any) -> None:
    """Someone holding both the reviewer's and QA's roles does not release what they
    reviewed: another QA officer does."""
    both = make_user(operator, "qc_reviewer", "qa", username="rq", full_name="Rui Qian")
    req = in_testing(lab)
    for test in req.tests.order_by("pk"):
        code = test.method_version.method.code
        result = services.result_enter(actor=lab.analyst, test=test, value=VALUES[code])
        sign(lab.analyst, result, "performed")
        sign(both, result, "reviewed")
    req.refresh_from_db()
    assert req.status == RequestStatus.REVIEWED
    before = snapshot()
    with pytest.raises(PermissionDenied, match="release is independent of the testing"):
        sign(both, req, "released")
    assert snapshot() == before
    sign(lab.qa, req, "released")
    req.refresh_from_db()
    assert req.status == RequestStatus.RELEASED


def test_withdrawing_one_s_own_review_does_not_make_the_release_independent(
    lab: Lab, operator: Any, make_user: Any
) -> None:
    """A reviewer who is also QA withdraws their reviews and lets another reviewer sign:
    they still took part in the testing, so another QA officer releases."""
    both = make_user(operator, "qc_reviewer", "qa", username="rq", full_name="Rui Qian")
    req = in_testing(lab)
    for test in req.tests.order_by("pk"):
        code = test.method_version.method.code
        result = services.result_enter(actor=lab.analyst, test=test, value=VALUES[code])
        sign(lab.analyst, result, "performed")
        review = sign(both, result, "reviewed")
        signature_withdraw(actor=both, signature=review, reason="Let Rita review it.")
        sign(lab.reviewer, result, "reviewed")
    req.refresh_from_db()
    assert req.status == RequestStatus.REVIEWED
    before = snapshot()
    with pytest.raises(PermissionDenied, match="release is independent of the testing"):
        sign(both, req, "released")
    assert snapshot() == before
    sign(lab.qa, req, "released")
    req.refresh_from_db()
    assert req.status == RequestStatus.RELEASED


def test_an_approval_that_put_a_version_in_effect_stays(lab: Lab) -> None:
    method = Method.objects.get(code="viability")
    pending = services.method_version_propose(
        actor=lab.reviewer, method=method, values=VIABILITY, reason="Two decimals"
    )
    approval = sign(lab.qa, pending, "approved")
    pending.refresh_from_db()
    assert pending.status == VersionStatus.EFFECTIVE
    before = snapshot()
    with pytest.raises(Conflict, match="Propose a new version"):
        signature_withdraw(actor=lab.qa, signature=approval, reason="approved too early")
    assert snapshot() == before
    pending.refresh_from_db()
    assert (pending.status, pending.is_current) == (VersionStatus.EFFECTIVE, True)
    assert verify_database().ok


def test_each_version_s_history_shows_its_own_change_on_approval(lab: Lab) -> None:
    """Approving version 2 supersedes version 1: both versions' histories say so, and the
    method's new name is on the approval entry with the old one."""
    from celltrace.audit.models import AuditEvent
    from celltrace.qc.models import MethodVersion

    method = Method.objects.get(code="viability")
    first = MethodVersion.objects.get(method=method, is_current=True)
    old_name = method.name
    pending = services.method_version_propose(
        actor=lab.reviewer,
        method=method,
        values={**VIABILITY, "name": "Viability (trypan blue, SOP r3)"},
        reason="Renamed",
    )
    sign(lab.qa, pending, "approved")

    def history(version: object) -> list[AuditEvent]:
        return list(
            AuditEvent.objects.where(
                entity_type="qc.methodversion",
                entity_id=str(version.pk),  # type: ignore[attr-defined]
            ).order_by("seq")
        )

    superseded = history(first)[-1]
    assert superseded.event_type == "QC_METHOD_VERSION_SUPERSEDED"
    assert superseded.data["old"]["status"] == "effective"
    assert superseded.data["new"]["status"] == "superseded"
    approved = [e for e in history(pending) if e.event_type == "QC_METHOD_VERSION_APPROVED"]
    assert approved[0].data["old"]["method_name"] == old_name
    assert approved[0].data["new"]["method_name"] == "Viability (trypan blue, SOP r3)"
    method.refresh_from_db()
    assert method.name == "Viability (trypan blue, SOP r3)"
    assert verify_database().ok


def test_what_a_signature_binds_is_shown_only_to_whom_may_sign(lab: Lab) -> None:
    """A request's signed content holds its results: its client does not read them through
    the signing screens before release (the request page hides them too)."""
    from django.test import Client

    from tests.conftest import PASSWORD as PW

    req = in_testing(lab)
    test = req.tests.order_by("pk").first()
    services.result_enter(
        actor=lab.analyst, test=test, value=VALUES[test.method_version.method.code]
    )
    client = Client()
    assert client.post("/login/", {"username": "alice", "password": PW}).status_code == 302
    api = client.get(f"/api/v1/signatures/qc.testrequest/{req.pk}/content")
    assert api.status_code == 403 and "content" not in api.json()
    page = client.get(f"/sign/qc.testrequest/{req.pk}/?meaning=released").content.decode()
    assert "What this signature binds" not in page and "conformance" not in page
    qa = Client()
    assert qa.post("/login/", {"username": "qa", "password": PW}).status_code == 302
    # QA may not release it yet either (not reviewed): the content stays hidden, the reason shows
    shown = qa.get(f"/api/v1/signatures/qc.testrequest/{req.pk}/content")
    assert shown.status_code == 403
    ready = reviewed(lab, sample="B-002")
    content = qa.get(f"/api/v1/signatures/qc.testrequest/{ready.pk}/content")
    assert content.status_code == 200 and content.json()["meanings"] == ["released"]
    assert len(content.json()["digest"]) == 64 and content.json()["content"]
