"""Which records can be signed, with which meanings, by whom; digests and signature status.

A domain app registers a model once (usually in its ``AppConfig.ready``)::

    signing.register(AuditReview, meanings=AuditReview.SIGNATURE_MEANINGS,
                     can_sign=audit_review_can_sign, visible=audit_reviews_visible)

The model provides ``signature_content() -> dict``: the content the signature binds.

``on_signed(actor, record, signature)``, when given, runs inside the signing transaction after
the signature row exists: the place for what a signature sets in motion (a request becomes
releasable, aliquots are issued). It is called explicitly by
:func:`celltrace.audit.services.record_sign`, never through a signal, and anything it raises
rolls the signature back.

``lock(record)``, when given, locks the record for signing and withdrawing, together with the
rows its hooks lock, in the order the app's other services take them (parent first: a test
request before its result, a method before its version), and returns the locked record. It
runs first in the transaction, before the ledger's head is taken. Without it the record's
own row is locked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

from celltrace.audit.canonical import canonical_bytes
from celltrace.audit.choices import SignatureMeaning, SignatureStatus
from celltrace.audit.models import Signature
from celltrace.core.errors import NotFound
from celltrace.core.models import User

#: Returns why ``actor`` may not sign ``record`` with ``meaning``, or None when allowed.
CanSign = Callable[[User, Any, str], str | None]
Visible = Callable[[User], QuerySet[Any]]
#: Runs in the signing transaction once the signature exists: (actor, record, signature).
OnSigned = Callable[[User, Any, Signature], None]
#: Run inside the withdrawal's transaction, after the withdrawal is recorded: brings the record
#: in line (e.g. a request whose review broke), or raises ``Conflict`` to refuse a withdrawal
#: whose effect cannot be undone by withdrawing (a release that issued aliquots).
OnWithdrawn = Callable[[User, Any, Signature], None]
#: Locks the record (and what its hooks lock, parents first) and returns it, freshly read.
Lock = Callable[[Any], Any]
#: Why the record's signatures can no longer be withdrawn (what they did cannot be undone by
#: withdrawing: a released request, an approval in effect, aliquots issued), or None. Asked
#: on the locked record by :func:`celltrace.audit.services.signature_withdraw`, and by pages,
#: which then offer no "Withdraw".
Frozen = Callable[[Any], str | None]


@dataclass(frozen=True)
class SignableSpec:
    model: type[Model]
    meanings: tuple[str, ...]
    can_sign: CanSign
    visible: Visible
    on_signed: OnSigned | None = None
    on_withdrawn: OnWithdrawn | None = None
    lock: Lock | None = None
    frozen: Frozen | None = None

    @property
    def record_type(self) -> str:
        return self.model._meta.label_lower


_REGISTRY: dict[str, SignableSpec] = {}


def register(
    model: type[Model],
    *,
    meanings: Sequence[str],
    can_sign: CanSign,
    visible: Visible,
    on_signed: OnSigned | None = None,
    on_withdrawn: OnWithdrawn | None = None,
    lock: Lock | None = None,
    frozen: Frozen | None = None,
) -> None:
    spec = SignableSpec(
        model,
        tuple(str(m) for m in meanings),
        can_sign,
        visible,
        on_signed,
        on_withdrawn,
        lock,
        frozen,
    )
    _REGISTRY[spec.record_type] = spec


def spec_for(record_type: str) -> SignableSpec:
    try:
        return _REGISTRY[record_type]
    except KeyError as exc:
        raise NotFound(_("No such kind of record.")) from exc


def spec_of(record: Model) -> SignableSpec:
    return spec_for(record._meta.label_lower)


def frozen_reason(record: Model) -> str | None:
    """Why ``record``'s signatures can no longer be withdrawn, or None (see :data:`Frozen`)."""
    spec = spec_of(record)
    return spec.frozen(record) if spec.frozen is not None else None


def lock_record(spec: SignableSpec, pk: Any) -> Any:
    """The record ``pk`` of ``spec``'s model, locked as :attr:`SignableSpec.lock` says (its own
    row by default), read afresh; None if it does not exist."""
    manager = spec.model._default_manager
    if spec.lock is None:
        return manager.select_for_update().filter(pk=pk).first()
    record = manager.filter(pk=pk).first()
    return None if record is None else spec.lock(record)


def record_for(actor: User, record_type: str, record_id: str) -> Model:
    """The signable record ``actor`` may see, or :class:`NotFound`."""
    spec = spec_for(record_type)
    try:
        obj: Model = spec.visible(actor).get(pk=record_id)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(_("Record not found.")) from exc
    return obj


def record_digest(record: Model) -> str:
    """SHA-256 over the record's canonical signed content, including its type and id."""
    content = record.signature_content()  # type: ignore[attr-defined]
    payload = {
        "record_type": record._meta.label_lower,
        "record_id": str(record.pk),
        "content": content,
    }
    return hashlib.sha256(canonical_bytes(payload)).hexdigest()


@dataclass(frozen=True)
class Manifestation:
    """What a person sees of a signature (21 CFR 11.50): name, time, meaning, and whether valid."""

    signature: Signature
    printed_name: str
    signed_at_utc: str
    meaning: str
    meaning_label: str
    status: str
    status_label: str

    @property
    def valid(self) -> bool:
        return self.status == SignatureStatus.VALID


def signature_status(signature: Signature, current_digest: str | None) -> str:
    if hasattr(signature, "withdrawal"):
        return SignatureStatus.WITHDRAWN
    if current_digest is None or current_digest != signature.record_digest:
        return SignatureStatus.BROKEN
    return SignatureStatus.VALID


def manifestations(record: Model) -> list[Manifestation]:
    """Every signature of ``record`` with its status, recomputed now."""
    sigs = list(
        Signature.objects.filter(
            record_type=record._meta.label_lower, record_id=str(record.pk)
        ).select_related("withdrawal")
    )
    if not sigs:
        return []
    digest = record_digest(record)
    out = []
    for sig in sigs:
        status = signature_status(sig, digest)
        out.append(
            Manifestation(
                signature=sig,
                printed_name=sig.printed_name,
                signed_at_utc=sig.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                meaning=sig.meaning,
                meaning_label=str(SignatureMeaning(sig.meaning).label),
                status=status,
                status_label=str(SignatureStatus(status).label),
            )
        )
    return out
