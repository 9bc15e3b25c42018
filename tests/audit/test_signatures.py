"""Part 11 electronic signatures: re-authentication, binding, manifestation (figure 7)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import RequestFactory
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from celltrace.audit import signing
from celltrace.audit.choices import EventType, SignatureMeaning, SignatureStatus
from celltrace.audit.models import AuditEvent, AuditReview, Signature
from celltrace.audit.services import audit_review_create, record_sign
from celltrace.audit.verification import verify_database
from celltrace.core import services as core_services
from celltrace.core.errors import AuthenticationFailed, Invalid, PermissionDenied
from tests.audit import helpers
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def request_for(user: Any) -> Any:
    req = RequestFactory().post("/sign/")
    req.user = user
    req.META["REMOTE_ADDR"] = "127.0.0.1"
    return req


@pytest.fixture
def review(qa_user: Any) -> AuditReview:
    return audit_review_create(actor=qa_user, conclusion="No unexplained entries.")


def sign(user: Any, record: Any, meaning: str = SignatureMeaning.REVIEWED, **kw: Any) -> Signature:
    return record_sign(
        request=request_for(user),
        actor=user,
        record=record,
        meaning=meaning,
        password=kw.pop("password", PASSWORD),
        **kw,
    )


def test_signing_records_signer_time_meaning_and_content_hash(
    qa_user: Any, review: AuditReview
) -> None:
    sig = sign(qa_user, review, comment="monthly review")
    assert sig.printed_name == "Quinn Assurance"
    assert sig.meaning == SignatureMeaning.REVIEWED
    assert sig.signed_at.utcoffset().total_seconds() == 0
    assert sig.record_digest == signing.record_digest(review)
    event = AuditEvent.objects.get(seq=sig.audit_seq)
    assert event.event_type == EventType.RECORD_SIGNED
    assert event.data["record_hash"] == sig.record_digest
    assert event.data["signature_meaning"] == "reviewed"
    [m] = signing.manifestations(review)
    assert (m.printed_name, m.meaning, m.status) == ("Quinn Assurance", "reviewed", "valid")
    assert m.signed_at_utc.endswith("UTC")
    assert verify_database().ok


@pytest.mark.parametrize("password", ["", "not the password at all"])
def test_signing_without_reauthentication_is_refused(
    qa_user: Any, review: AuditReview, password: str
) -> None:
    before = Signature.objects.count()
    with pytest.raises(AuthenticationFailed):
        sign(qa_user, review, password=password)
    assert Signature.objects.count() == before
    failed = AuditEvent.objects.where(event_type=EventType.SIGNING_FAILED)
    assert failed.count() == 1 and failed.get().entity_id == str(qa_user.pk)


def test_changed_record_breaks_its_signature(qa_user: Any, review: AuditReview) -> None:
    sig = sign(qa_user, review)
    AuditReview.objects.filter(pk=review.pk).update(conclusion="Edited after signing.")
    review.refresh_from_db()
    [m] = signing.manifestations(review)
    assert m.status == SignatureStatus.BROKEN and not m.valid
    report = verify_database()
    assert not report.ok
    assert report.first_bad_seq == sig.audit_seq
    assert any("record changed after signing" in p for p in report.problems)


def test_signature_copied_to_another_record_never_verifies(
    qa_user: Any, admin_user: Any, review: AuditReview
) -> None:
    sig = sign(qa_user, review)
    helpers.fill(1)
    other = audit_review_create(actor=admin_user, conclusion="Second review.")
    # forge: same signature row, other record id (the digest binds type and id)
    with helpers.guards_lifted(), connection.cursor() as cur:
        cur.execute(
            "UPDATE audit_signature SET record_id = %s WHERE id = %s", [str(other.pk), sig.pk]
        )
    [m] = signing.manifestations(other)
    assert m.status == SignatureStatus.BROKEN
    assert not verify_database().ok


def test_meaning_must_be_allowed_for_the_record(qa_user: Any, review: AuditReview) -> None:
    with pytest.raises(Invalid):
        sign(qa_user, review, meaning=SignatureMeaning.RELEASED)


def test_approver_must_differ_from_reviewer(
    qa_user: Any, admin_user: Any, review: AuditReview
) -> None:
    with pytest.raises(PermissionDenied):
        sign(qa_user, review, meaning=SignatureMeaning.APPROVED)  # not reviewed yet
    sign(qa_user, review)
    with pytest.raises(PermissionDenied):
        sign(qa_user, review, meaning=SignatureMeaning.APPROVED)
    assert sign(admin_user, review, meaning=SignatureMeaning.APPROVED).printed_name == "Ada Admin"


def test_user_without_authority_cannot_sign(
    operator: Any, make_user: Any, review: AuditReview
) -> None:
    analyst = make_user(operator, "qc_analyst")
    with pytest.raises(PermissionDenied):
        sign(analyst, review)


def test_after_admin_reset_the_user_must_change_password_before_signing(
    admin_user: Any, qa_user: Any, review: AuditReview
) -> None:
    core_services.user_reset_password(
        actor=admin_user, user=qa_user, new_password="temporary pass phrase 77", reason="forgot"
    )
    with pytest.raises(PermissionDenied):
        sign(qa_user, review, password="temporary pass phrase 77")
    core_services.user_change_password(
        actor=qa_user,
        old_password="temporary pass phrase 77",
        new_password="my own new pass phrase 88",
    )
    assert sign(qa_user, review, password="my own new pass phrase 88").pk


def test_enrolled_totp_is_required_for_signing(qa_user: Any, review: AuditReview) -> None:
    device = TOTPDevice.objects.create(user=qa_user, name="phone", confirmed=True)
    with pytest.raises(AuthenticationFailed):
        sign(qa_user, review)  # password alone is not enough once MFA is on
    code = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    sig = sign(qa_user, review, otp_token=f"{code:06d}")
    assert sig.mfa_used


def test_wrong_codes_at_signing_count_towards_the_lockout(
    qa_user: Any, review: AuditReview
) -> None:
    from django.conf import settings

    from celltrace.core.services import user_is_locked_out

    device = TOTPDevice.objects.create(user=qa_user, name="phone", confirmed=True)
    code = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    wrong = f"{(code + 1) % 1_000_000:06d}"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        with pytest.raises(AuthenticationFailed):
            sign(qa_user, review, otp_token=wrong)
    assert user_is_locked_out(qa_user)
    with pytest.raises(AuthenticationFailed, match="locked"):
        sign(qa_user, review, otp_token=f"{code:06d}")


def test_signature_rows_are_append_only(qa_user: Any, review: AuditReview) -> None:
    from django.db import DatabaseError, transaction

    sig = sign(qa_user, review)
    with pytest.raises(DatabaseError), transaction.atomic():
        Signature.objects.filter(pk=sig.pk).update(printed_name="Someone Else")
    with pytest.raises(DatabaseError), transaction.atomic():
        Signature.objects.filter(pk=sig.pk).delete()


def test_signer_can_withdraw_with_a_reason_and_sign_again(
    qa_user: Any, review: AuditReview
) -> None:
    from celltrace.audit.services import signature_withdraw

    sig = sign(qa_user, review)
    with pytest.raises(Invalid):
        signature_withdraw(actor=qa_user, signature=sig, reason=" ")
    withdrawal = signature_withdraw(actor=qa_user, signature=sig, reason="signed the wrong range")
    assert withdrawal.reason == "signed the wrong range"
    [m] = signing.manifestations(review)
    assert m.status == SignatureStatus.WITHDRAWN and not m.valid
    event = AuditEvent.objects.get(seq=withdrawal.audit_seq)
    assert event.event_type == EventType.SIGNATURE_WITHDRAWN
    assert event.data["reason"] == "signed the wrong range"
    again = sign(qa_user, review)  # a withdrawn signature no longer blocks a new one
    assert again.pk != sig.pk
    assert verify_database().ok


def test_others_cannot_withdraw_someone_elses_signature(
    qa_user: Any, operator: Any, make_user: Any, review: AuditReview
) -> None:
    from celltrace.audit.models import SignatureWithdrawal
    from celltrace.audit.services import signature_withdraw

    sig = sign(qa_user, review)
    analyst = make_user(operator, "qc_analyst")
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        signature_withdraw(actor=analyst, signature=sig, reason="because")
    assert not SignatureWithdrawal.objects.exists()
    assert AuditEvent.objects.count() == before


def test_an_administrator_cannot_withdraw_qa_signatures(
    qa_user: Any, admin_user: Any, review: AuditReview
) -> None:
    """Segregation of duties: account management does not also undo QA's decisions."""
    from celltrace.audit.models import SignatureWithdrawal
    from celltrace.audit.services import signature_withdraw

    sig = sign(qa_user, review)
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied, match="Only the signer or QA"):
        signature_withdraw(actor=admin_user, signature=sig, reason="tidying up")
    assert not SignatureWithdrawal.objects.exists() and AuditEvent.objects.count() == before
    # the administrator still withdraws their own signature
    approval = sign(admin_user, review, meaning=SignatureMeaning.APPROVED)
    assert signature_withdraw(actor=admin_user, signature=approval, reason="wrong range").pk


def test_an_approval_needs_a_standing_review_signature(
    qa_user: Any, admin_user: Any, review: AuditReview
) -> None:
    from celltrace.audit.models import SignatureWithdrawal
    from celltrace.audit.services import signature_withdraw
    from celltrace.core.errors import Conflict

    reviewed = sign(qa_user, review)
    signature_withdraw(actor=qa_user, signature=reviewed, reason="reviewed the wrong range")
    # a withdrawn review signature does not count: nothing to approve
    with pytest.raises(PermissionDenied, match="signed as reviewed before"):
        sign(admin_user, review, meaning=SignatureMeaning.APPROVED)
    reviewed = sign(qa_user, review)
    approval = sign(admin_user, review, meaning=SignatureMeaning.APPROVED)
    # the approval rests on the review signature: it cannot be withdrawn from under it
    before = (AuditEvent.objects.count(), SignatureWithdrawal.objects.count())
    with pytest.raises(Conflict, match="withdraw the approval first"):
        signature_withdraw(actor=qa_user, signature=reviewed, reason="second thoughts")
    assert (AuditEvent.objects.count(), SignatureWithdrawal.objects.count()) == before
    status = {m.signature.pk: m.status for m in signing.manifestations(review)}
    assert status[reviewed.pk] == SignatureStatus.VALID
    # approval withdrawn first, then the review signature
    signature_withdraw(actor=admin_user, signature=approval, reason="review to be redone")
    assert signature_withdraw(actor=qa_user, signature=reviewed, reason="second thoughts").pk


def test_a_record_s_ledger_label_does_not_follow_the_signer_s_language(
    qa_user: Any, admin_user: Any
) -> None:
    """An audit review is named "审计追踪审核 …" on a Chinese page, but its ledger entries
    read the same whoever acted, in whatever language."""
    from django.utils import translation

    with translation.override("zh-hans"):
        review = audit_review_create(actor=qa_user, conclusion="No unexplained entries.")
        assert str(review).startswith("审计追踪审核")
        sign(admin_user, review)
    labels = {
        e.data["entity_label"]
        for e in AuditEvent.objects.where(entity_type="audit.auditreview", entity_id=str(review.pk))
    }
    assert labels == {f"Audit review {review.from_seq}–{review.to_seq}"}
