"""Withdrawing a signature keeps the record in line with its signatures (a review withdrawn
takes the request back into testing) or is refused where the signature's effect cannot be
undone by withdrawing it (a released request, an approval that put a version into effect);
a refusal writes nothing."""

from __future__ import annotations

import pytest

from celltrace.audit.models import Signature, SignatureWithdrawal
from celltrace.audit.services import signature_withdraw
from celltrace.audit.verification import verify_database
from celltrace.core.errors import Conflict
from celltrace.qc import services
from celltrace.qc.choices import RequestStatus, VersionStatus
from celltrace.qc.models import Method
from tests.qc.conftest import Lab, reviewed, sign, snapshot
from tests.qc.test_catalogue import VIABILITY

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
