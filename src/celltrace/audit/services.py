"""Writes of the audit app: signing, withdrawing, audit-trail reviews, checkpoints, export.

Each service is one transaction that writes its rows and its ledger entry together.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.contrib.auth import authenticate
from django.db import connection, transaction
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_otp import devices_for_user

from celltrace.audit import ledger, signing
from celltrace.audit.choices import Action, EventType, SignatureMeaning
from celltrace.audit.models import (
    AuditEvent,
    AuditReview,
    LedgerCheckpoint,
    Signature,
    SignatureWithdrawal,
)
from celltrace.audit.notes import (
    Checkpoint,
    NoteError,
    VerifierKey,
    load_private_key,
    load_verifier_key,
    sign_checkpoint,
)
from celltrace.audit.verify import EXPORT_FORMAT, Row
from celltrace.core.choices import ErrorCode, Role
from celltrace.core.errors import (
    AuthenticationFailed,
    Conflict,
    Invalid,
    NotFound,
    PermissionDenied,
)
from celltrace.core.models import User
from celltrace.core.services import count_failed_attempt, refuse_if_locked_out, totp_check

# --- electronic signatures (21 CFR 11.50, 11.70, 11.100, 11.200) ---------------------------


def _has_confirmed_totp(user: User) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def reauthenticate(
    *, request: HttpRequest, actor: User, password: str, otp_token: str = ""
) -> bool:
    """Check the signer's password (and TOTP code when enrolled). Returns whether MFA was used.

    Goes through ``authenticate()`` so django-axes counts failures and locks the account out;
    every failure is written to the ledger at once (11.300(d)), in its own transaction.
    """
    if not password:
        _signing_failed(actor, "no password given")
        raise AuthenticationFailed(
            _("Signing needs your password."),
            field="password",
            code=ErrorCode.REAUTHENTICATION_REQUIRED,
        )
    try:
        refuse_if_locked_out(actor, request)
    except AuthenticationFailed:
        _signing_failed(actor, "account locked")
        raise
    user = authenticate(request, username=actor.get_username(), password=password)
    if user is None or user.pk != actor.pk:
        _signing_failed(actor, "wrong password or account locked")
        raise AuthenticationFailed(_("The password is not correct."), field="password")
    if _has_confirmed_totp(actor):
        token = (otp_token or "").strip()
        if not token or totp_check(actor, token)[0] is None:
            _signing_failed(actor, "wrong or missing one-time code")
            # a wrong code counts towards the lockout like a wrong password
            count_failed_attempt(actor, request)
            raise AuthenticationFailed(_("The one-time code is not correct."), field="otp_token")
        return True
    return False


def _signing_failed(actor: User, why: str) -> None:
    ledger.atomic_append(
        actor=actor,
        action=Action.LOGIN_FAILED,
        event_type=EventType.SIGNING_FAILED,
        entity_type="core.user",
        entity_id=actor.pk,
        entity_label=actor.get_username(),
        new={"reason": why},
    )


def record_changed() -> Conflict:
    """The refusal of a signature whose signer was shown another version of the record."""
    return Conflict(
        _(
            "The record changed after it was shown to you for signing; nothing was "
            "signed. Read it again and sign what it says now."
        ),
        field="expected_digest",
        code=ErrorCode.RECORD_CHANGED,
    )


def record_sign(
    *,
    request: HttpRequest,
    actor: User,
    record: Model,
    meaning: str,
    password: str,
    otp_token: str = "",
    comment: str = "",
    expected_digest: str = "",
) -> Signature:
    """Sign ``record`` as ``actor`` with ``meaning`` after re-authentication.

    ``expected_digest`` is the record's digest as the signer was shown it (the sign page
    carries it; API clients read it from the record's signatures endpoint): if the record
    changed since, nothing is signed (``record_changed``), so a signature never binds content
    its signer did not see."""
    spec = signing.spec_of(record)
    if meaning not in spec.meanings:
        raise Invalid(
            _("'%(meaning)s' is not a meaning this record can be signed with.")
            % {"meaning": meaning},
            field="meaning",
            code=ErrorCode.SIGNATURE_MEANING_NOT_ALLOWED,
        )
    if actor.must_change_password:
        raise PermissionDenied(
            _("Change your password before you sign."), code=ErrorCode.PASSWORD_CHANGE_REQUIRED
        )
    refusal = spec.can_sign(actor, record, meaning)
    if refusal:
        raise PermissionDenied(refusal, field="meaning")
    mfa_used = reauthenticate(request=request, actor=actor, password=password, otp_token=otp_token)
    record_type, record_id = ledger.entity_of(record)
    with transaction.atomic():
        # sign what is stored now, not a copy the caller may have loaded before a change; the
        # record (with the rows its hooks lock, in its app's order) is locked before the
        # ledger's head, as every other service does, so two signers of one record take turns
        # and a signer cannot hold the head while it waits for a row another service holds
        record = signing.lock_record(spec, record.pk)
        if record is None:
            raise NotFound(_("No such record."))
        refusal = spec.can_sign(actor, record, meaning)
        if refusal:
            raise PermissionDenied(refusal, field="meaning")
        if Signature.objects.filter(
            record_type=record_type,
            record_id=record_id,
            meaning=meaning,
            withdrawal__isnull=True,
        ).exists():
            raise Conflict(
                _("This record already carries a valid signature with that meaning."),
                field="meaning",
                code=ErrorCode.ALREADY_SIGNED,
            )
        digest = signing.record_digest(record)
        if expected_digest and expected_digest != digest:
            raise record_changed()
        now = dt.datetime.now(dt.UTC)
        org_id = getattr(record, "organisation_id", None)
        appended = ledger.append(
            actor=actor,
            action=Action.SIGN,
            event_type=EventType.RECORD_SIGNED,
            entity_type=record_type,
            entity_id=record_id,
            entity_label=ledger.label_of(record),
            organisation_id=org_id,
            new={
                "meaning": meaning,
                "printed_name": actor.full_name,
                "signer_id": actor.pk,
                "signed_at": now,
                "mfa": mfa_used,
                "comment": comment,
            },
            reason=comment,
            signature_meaning=meaning,
            record_hash=digest,
        )
        signature = Signature.objects.create(
            signer=actor,
            printed_name=actor.full_name,
            signer_role=actor.primary_role,
            signed_at=now,
            meaning=meaning,
            record_type=record_type,
            record_id=record_id,
            record_digest=digest,
            organisation_id=org_id,
            comment=comment,
            audit_seq=appended.seq,
            mfa_used=mfa_used,
        )
        if spec.on_signed is not None:
            spec.on_signed(actor, record, signature)
        return signature


def require_withdrawer(actor: User, signature: Signature) -> None:
    """A signature is withdrawn by its signer or by QA of the operator. Not by an
    administrator as such: whoever manages the accounts does not also undo QA's decisions
    (segregation of duties); an administrator withdraws only their own signatures."""
    allowed = signature.signer_id == actor.pk or (
        actor.is_operator_staff and actor.has_role(Role.QA)
    )
    if not allowed:
        raise PermissionDenied(_("Only the signer or QA can withdraw a signature."))


def signature_withdraw(*, actor: User, signature: Signature, reason: str) -> SignatureWithdrawal:
    """Withdraw a signature: the signer or QA, always with a reason.

    The signature row stays (append-only); a withdrawal row and a ledger entry record who
    withdrew it, when and why. The record can then be corrected and signed again.
    """
    if not reason.strip():
        raise Invalid(_("Give the reason for withdrawing the signature."), field="reason")
    require_withdrawer(actor, signature)
    spec = signing.spec_for(signature.record_type)
    with transaction.atomic():
        # the signed record (as when it was signed), then the signature, are locked before the
        # ledger's head; two withdrawals of one signature take turns
        record = signing.lock_record(spec, signature.record_id)
        signature = Signature.objects.select_for_update().get(pk=signature.pk)
        if SignatureWithdrawal.objects.filter(signature=signature).exists():
            raise Conflict(_("This signature is already withdrawn."))
        if record is not None and spec.frozen is not None and (why := spec.frozen(record)):
            raise Conflict(why)
        now = dt.datetime.now(dt.UTC)
        appended = ledger.append(
            actor=actor,
            action=Action.SIGN,
            event_type=EventType.SIGNATURE_WITHDRAWN,
            entity_type=signature.record_type,
            entity_id=signature.record_id,
            organisation_id=signature.organisation_id,
            old={
                "signature_id": signature.pk,
                "meaning": signature.meaning,
                "printed_name": signature.printed_name,
            },
            new={"withdrawn_at": now},
            reason=reason,
        )
        withdrawal = SignatureWithdrawal.objects.create(
            signature=signature,
            withdrawn_by=actor,
            withdrawn_at=now,
            reason=reason,
            audit_seq=appended.seq,
        )
        if spec.on_withdrawn is not None and record is not None:
            spec.on_withdrawn(actor, record, signature)
        return withdrawal


# --- audit-trail review (EU GMP Annex 11 §9) -----------------------------------------------


def audit_review_can_sign(actor: User, review: AuditReview, meaning: str) -> str | None:
    if not (actor.is_operator_staff and actor.has_role(Role.QA, Role.ADMIN)):
        return _("Only QA or an administrator of the operator signs audit-trail reviews.")
    if meaning == SignatureMeaning.APPROVED:
        reviewers = set(
            _standing(review, SignatureMeaning.REVIEWED).values_list("signer_id", flat=True)
        )
        if not reviewers:
            return _("The review must be signed as reviewed before it is approved.")
        if actor.pk in reviewers:
            return _("The approver must be a different person from the reviewer.")
    return None


def _standing(review: AuditReview, meaning: str) -> Any:
    """The review's signatures with ``meaning`` that are not withdrawn."""
    return Signature.objects.filter(
        record_type="audit.auditreview",
        record_id=str(review.pk),
        meaning=meaning,
        withdrawal__isnull=True,
    )


def audit_review_signature_withdrawn(actor: User, review: AuditReview, signature: Any) -> None:
    """``on_withdrawn`` hook of audit-trail reviews (run after the withdrawal is recorded): an
    approval rests on a standing "reviewed" signature, so the last one cannot be withdrawn
    while the approval stands (withdraw the approval first)."""
    if (
        signature.meaning == SignatureMeaning.REVIEWED
        and not _standing(review, SignatureMeaning.REVIEWED).exists()
        and _standing(review, SignatureMeaning.APPROVED).exists()
    ):
        raise Conflict(
            _(
                "The review is approved on this signature: withdraw the approval first, then "
                "the review signature."
            )
        )


def audit_review_create(*, actor: User, conclusion: str) -> AuditReview:
    """Open a review of every entry since the last review, up to the current head."""
    if not (actor.is_operator_staff and actor.has_role(Role.QA, Role.ADMIN)):
        raise PermissionDenied(_("Only QA or an administrator reviews the audit trail."))
    conclusion = conclusion.strip()
    if not conclusion:
        raise Invalid(_("Write the conclusion of the review."), field="conclusion")
    with transaction.atomic():
        last = AuditReview.objects.order_by("-to_seq").first()
        from_seq = last.to_seq + 1 if last else 1
        head = AuditEvent.objects.order_by("-seq").first()
        if head is None or head.seq < from_seq:
            raise Conflict(_("There are no new ledger entries to review."))
        to_seq = head.seq
        counts = AuditEvent.objects.filter(seq__gte=from_seq, seq__lte=to_seq).event_type_counts()
        summary = {
            "entries": to_seq - from_seq + 1,
            "by_event_type": dict(sorted(counts.items())),
            "failed_logins": counts.get(EventType.LOGIN_FAILED, 0),
            "failed_signings": counts.get(EventType.SIGNING_FAILED, 0),
            "lockouts": counts.get(EventType.USER_LOCKED_OUT, 0),
        }
        assert actor.organisation_id is not None
        review = AuditReview.objects.create(
            organisation_id=actor.organisation_id,
            from_seq=from_seq,
            to_seq=to_seq,
            to_hash=head.entry_hash_hex,
            summary=summary,
            conclusion=conclusion,
            created_by=actor,
            created_at=dt.datetime.now(dt.UTC),
        )
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.AUDIT_REVIEW_CREATED,
            entity_type="audit.auditreview",
            entity_id=review.pk,
            entity_label=ledger.label_of(review),
            new=review.signature_content(),
        )
    return review


# --- checkpoints and export -----------------------------------------------------------------


def iter_db_rows(chunk_size: int = 20_000, upto: int | None = None) -> Iterator[list[Row]]:
    """Stream ``(seq, entry_hash, body bytes)`` in seq order by keyset pages (bounded memory)."""
    last = 0
    limit = f" AND seq <= {int(upto)}" if upto is not None else ""
    body = "CAST(body AS BLOB)" if connection.vendor == "sqlite" else "convert_to(body, 'UTF8')"
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT seq, entry_hash, {body} FROM audit_event "  # noqa: S608
                f"WHERE seq > %s{limit} ORDER BY seq LIMIT %s",
                [last, chunk_size],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]


@dataclass(frozen=True)
class CheckpointResult:
    checkpoint: LedgerCheckpoint
    path: Path


def checkpoint_create(
    *,
    actor: User | None,
    signing_key: Path | None = None,
    checkpoint_dir: Path | None = None,
    origin: str | None = None,
) -> CheckpointResult:
    """Sign a checkpoint over every entry so far and export it to a write-once file.

    Before signing, the whole ledger is verified against the previous checkpoints, so a log
    never signs a tree that does not extend what it signed before.
    """
    from celltrace.audit.verification import verify_database

    signing_key = signing_key or settings.CELLTRACE_SIGNING_KEY
    checkpoint_dir = checkpoint_dir or settings.CELLTRACE_CHECKPOINT_DIR
    origin = origin or settings.CELLTRACE_ORIGIN
    try:
        private_key = load_private_key(signing_key)
    except FileNotFoundError as exc:
        raise NotFound(
            f"No checkpoint signing key at {signing_key}; run 'celltrace setup'."
        ) from exc
    _require_matching_verifier(private_key, origin)
    report = verify_database(checkpoint_dir=checkpoint_dir, merkle=True)
    if not report.ok:
        raise Conflict(
            "The ledger does not verify; no checkpoint was signed: " + "; ".join(report.problems),
            code=ErrorCode.LEDGER_INVALID,
        )
    size = report.entries
    assert report.merkle_root is not None  # verified with merkle=True
    checkpoint = Checkpoint(
        origin=origin,
        size=size,
        root=report.merkle_root,
        chain_head=report.last_hash if size else None,
    )
    note = sign_checkpoint(checkpoint, private_key, origin)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    path = checkpoint_dir / f"{size:012d}.checkpoint"
    if path.exists():
        if path.read_text() != note and not _same_checkpoint(path, checkpoint):
            raise Conflict(f"A different checkpoint for tree size {size} already exists.")
    else:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        with os.fdopen(fd, "w") as fh:
            fh.write(note)
    with transaction.atomic():
        row, _ = LedgerCheckpoint.objects.get_or_create(
            tree_size=size,
            defaults={"root_hash": checkpoint.root.hex(), "note": note, "file_name": path.name},
        )
        ledger.append(
            actor=actor,
            action=Action.SIGN,
            event_type=EventType.CHECKPOINT_SIGNED,
            entity_type="audit.ledgercheckpoint",
            entity_id=row.pk,
            entity_label=f"checkpoint {size}",
            new={"tree_size": size, "root_hash": checkpoint.root.hex(), "file": path.name},
        )
    return CheckpointResult(row, path)


def _require_matching_verifier(private_key: Ed25519PrivateKey, origin: str) -> None:
    """Refuse to sign what the configured verifier key could never verify (a key pair named
    other than the origin, or a signing key that is not the verifier key's): such a file,
    written read-only, would break the checkpoint directory for good."""
    path = Path(settings.CELLTRACE_VERIFY_KEY)
    try:
        configured = load_verifier_key(path)
    except FileNotFoundError as exc:
        raise NotFound(f"No checkpoint verifier key at {path}; run 'celltrace setup'.") from exc
    signing = VerifierKey(origin, private_key.public_key())
    if signing.encode() != configured.encode():
        raise Conflict(
            f"The signing key and the origin {origin!r} do not match the verifier key {path} "
            f"({configured.name}, key id {configured.key_id.hex()}); no checkpoint was signed. "
            "Name a new key pair after CELLTRACE_LEDGER_ORIGIN and switch "
            "CELLTRACE_SIGNING_KEY and CELLTRACE_VERIFY_KEY together.",
            code=ErrorCode.LEDGER_INVALID,
        )


def _same_checkpoint(path: Path, checkpoint: Checkpoint) -> bool:
    try:
        key = load_verifier_key(settings.CELLTRACE_VERIFY_KEY)
        from celltrace.audit.notes import open_checkpoint

        existing = open_checkpoint(path.read_text(), key)
    except (NoteError, FileNotFoundError):
        return False
    return existing == checkpoint


def ledger_export(*, actor: User | None, output: Path, checkpoint_dir: Path | None = None) -> int:
    """Write every entry and the exported checkpoints to a JSON Lines file an auditor can verify."""
    checkpoint_dir = checkpoint_dir or settings.CELLTRACE_CHECKPOINT_DIR
    notes = (
        [p.read_text() for p in sorted(checkpoint_dir.glob("*.checkpoint"))]
        if (checkpoint_dir.is_dir())
        else []
    )
    n = 0
    with transaction.atomic():
        head = ledger.append(
            actor=actor,
            action=Action.EXPORT,
            event_type=EventType.LEDGER_EXPORTED,
            entity_type="audit.ledger",
            entity_id="ledger",
            new={"file": output.name},
        )
    tmp = output.with_name(output.name + ".part")
    with tmp.open("w", encoding="utf-8") as fh:
        header = {
            "format": EXPORT_FORMAT,
            "version": 1,
            "origin": settings.CELLTRACE_ORIGIN,
            "checkpoints": notes,
        }
        fh.write(json.dumps(header, ensure_ascii=False) + "\n")
        for chunk in iter_db_rows(upto=head.seq):
            for seq, h, body in chunk:
                fh.write(
                    json.dumps(
                        {"seq": seq, "hash": bytes(h).hex(), "body": bytes(body).decode("utf-8")},
                        ensure_ascii=False,
                    )
                )
                fh.write("\n")
                n += 1
    tmp.replace(output)
    return n
