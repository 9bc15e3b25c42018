"""Signers of one record at the same moment take turns (reliability guide §4)."""

from __future__ import annotations

from typing import Any

import pytest

from celltrace.audit.choices import SignatureMeaning
from celltrace.audit.models import AuditEvent, Signature
from celltrace.audit.services import audit_review_create
from celltrace.audit.verification import verify_database
from tests import workers
from tests.conftest import PASSWORD

SIGNERS = 4


@pytest.mark.django_db(transaction=True)
def test_one_record_signed_at_once_by_several_sessions_gets_one_signature(qa_user: Any) -> None:
    review = audit_review_create(actor=qa_user, conclusion="Nothing unexplained.")
    before = AuditEvent.objects.count()
    outcomes = workers.at_once(workers.sign_worker, [(qa_user.pk, review.pk, PASSWORD)] * SIGNERS)
    assert sorted(outcomes) == ["Conflict"] * (SIGNERS - 1) + ["signed"]
    signatures = Signature.objects.filter(
        record_type="audit.auditreview",
        record_id=str(review.pk),
        meaning=SignatureMeaning.REVIEWED,
    )
    assert signatures.count() == 1
    # one ledger entry for the signature; the refused ones wrote nothing
    assert AuditEvent.objects.count() == before + 1
    report = verify_database()
    assert report.ok, report.problems
