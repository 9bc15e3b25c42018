"""API operations of the audit app: ledger, object history, reviews and signatures."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from celltrace.api.schemas import (
    ERRORS,
    READ_ERRORS,
    AwareDateTimeIn,
    IdParam,
    Page,
    PageQuery,
)
from celltrace.audit import selectors, services, signing
from celltrace.audit.canonical import jsonable
from celltrace.audit.models import AuditEvent, AuditReview, Signature
from celltrace.audit.schemas import (
    AuditEventDetailOut,
    AuditEventOut,
    AuditEventPage,
    AuditReviewIn,
    AuditReviewOut,
    SignableOut,
    SignatureOut,
    SignIn,
    WithdrawIn,
)
from celltrace.core.api import actor_of
from celltrace.core.errors import NotFound, PermissionDenied

router = Router(tags=["audit"])


class LedgerQuery(Schema):
    entity_type: str = Field(default="", max_length=100)
    entity_id: str = Field(default="", max_length=100)
    actor_id: IdParam | None = None
    action: str = Field(default="", max_length=40)
    event_type: str = Field(default="", max_length=100)
    since: AwareDateTimeIn | None = Field(
        default=None,
        description="ISO 8601 with a UTC offset, e.g. 2026-01-01T00:00:00Z (+ as %2B).",
    )
    until: AwareDateTimeIn | None = Field(
        default=None,
        description="ISO 8601 with a UTC offset, e.g. 2026-01-01T00:00:00Z (+ as %2B).",
    )
    before_seq: IdParam | None = None
    limit: int = Field(default=100, ge=1, le=500)


@router.get("/ledger", response={200: AuditEventPage, **READ_ERRORS}, operation_id="ledger_list")
def ledger_list(request: HttpRequest, q: Query[LedgerQuery]) -> dict[str, Any]:
    flt = selectors.LedgerFilter(
        entity_type=q.entity_type,
        entity_id=q.entity_id,
        actor_id=q.actor_id,
        action=q.action,
        event_type=q.event_type,
        since=q.since,
        until=q.until,
    )
    qs = selectors.ledger_events(actor_of(request), flt)
    if q.before_seq is not None:
        qs = qs.filter(seq__lt=q.before_seq)
    limit = q.limit  # 1..500, enforced by LedgerQuery
    items = list(qs[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_before_seq": items[-1].seq if more and items else None}


@router.get(
    "/ledger/{seq}", response={200: AuditEventDetailOut, **READ_ERRORS}, operation_id="ledger_get"
)
def ledger_get(request: HttpRequest, seq: IdParam) -> AuditEvent:
    return selectors.ledger_event(actor_of(request), seq)


@router.get(
    "/history/{entity_type}/{entity_id}",
    response={200: list[AuditEventOut], **READ_ERRORS},
    operation_id="history_get",
)
def history_get(request: HttpRequest, entity_type: str, entity_id: str) -> list[AuditEvent]:
    return list(selectors.object_history(actor_of(request), entity_type, entity_id))


def _signature_out(sig: Signature, digest: str | None) -> dict[str, Any]:
    return {
        "id": sig.pk,
        "printed_name": sig.printed_name,
        "signer_id": sig.signer_id,
        "signed_at": sig.signed_at,
        "meaning": sig.meaning,
        "record_type": sig.record_type,
        "record_id": sig.record_id,
        "record_digest": sig.record_digest,
        "status": signing.signature_status(sig, digest),
        "comment": sig.comment,
        "audit_seq": sig.audit_seq,
    }


@router.get(
    "/signatures/{record_type}/{record_id}",
    response={200: list[SignatureOut], **READ_ERRORS},
    operation_id="signatures_list",
)
def signatures_list(request: HttpRequest, record_type: str, record_id: str) -> list[dict[str, Any]]:
    record = signing.record_for(actor_of(request), record_type, record_id)
    return [
        _signature_out(m.signature, signing.record_digest(record))
        for m in signing.manifestations(record)
    ]


@router.get(
    "/signatures/{record_type}/{record_id}/content",
    response={200: SignableOut, **READ_ERRORS},
    operation_id="signatures_content",
)
def signatures_content(request: HttpRequest, record_type: str, record_id: str) -> dict[str, Any]:
    """What a signature on the record would bind now: read it, then sign with its digest.
    Only for someone who may sign the record with one of its meanings now (the content can
    hold what its readers do not see yet, e.g. a request's results before release)."""
    actor = actor_of(request)
    record = signing.record_for(actor, record_type, record_id)
    spec = signing.spec_of(record)
    refusals = [spec.can_sign(actor, record, meaning) for meaning in spec.meanings]
    if all(refusals):
        raise PermissionDenied(str(refusals[0]))
    return {
        "record_type": record_type,
        "record_id": record_id,
        "label": str(record),
        "meanings": list(signing.spec_of(record).meanings),
        "content": jsonable(record.signature_content()),  # type: ignore[attr-defined]
        "digest": signing.record_digest(record),
    }


@router.post(
    "/signatures", response={201: SignatureOut, **ERRORS}, operation_id="signatures_create"
)
def signatures_create(request: HttpRequest, payload: SignIn) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    record = signing.record_for(actor, payload.record_type, payload.record_id)
    sig = services.record_sign(
        request=request,
        actor=actor,
        record=record,
        meaning=payload.meaning,
        password=payload.password,
        otp_token=payload.otp_token,
        comment=payload.comment,
        expected_digest=payload.expected_digest,
    )
    return Status(201, _signature_out(sig, sig.record_digest))


@router.post(
    "/signature-withdrawals",
    response={201: SignatureOut, **ERRORS},
    operation_id="signatures_withdraw",
)
def signatures_withdraw(request: HttpRequest, payload: WithdrawIn) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    # one answer whether the signature does not exist or its record is not the caller's to
    # see: which signature ids exist in other organisations must not show
    missing = NotFound(_("Signature not found."), field="signature_id")
    sig = Signature.objects.filter(pk=payload.signature_id).first()
    if sig is None:
        raise missing
    try:
        signing.record_for(actor, sig.record_type, sig.record_id)
    except NotFound as exc:
        raise missing from exc
    services.signature_withdraw(actor=actor, signature=sig, reason=payload.reason)
    sig = Signature.objects.select_related("withdrawal").get(pk=sig.pk)
    return Status(201, _signature_out(sig, sig.record_digest))


@router.get(
    "/audit-reviews",
    response={200: Page[AuditReviewOut], **READ_ERRORS},
    operation_id="audit_reviews_list",
)
def audit_reviews_list(request: HttpRequest, q: Query[PageQuery]) -> dict[str, Any]:
    """Audit-trail reviews, newest first."""
    qs = selectors.audit_reviews(actor_of(request))
    return {"count": qs.count(), "items": list(qs[q.offset : q.offset + q.limit])}


@router.get(
    "/audit-reviews/{review_id}",
    response={200: AuditReviewOut, **READ_ERRORS},
    operation_id="audit_reviews_get",
)
def audit_reviews_get(request: HttpRequest, review_id: IdParam) -> AuditReview:
    return selectors.audit_review(actor_of(request), review_id)


@router.post(
    "/audit-reviews", response={201: AuditReviewOut, **ERRORS}, operation_id="audit_reviews_create"
)
def audit_reviews_create(request: HttpRequest, payload: AuditReviewIn) -> Status[AuditReview]:
    review = services.audit_review_create(actor=actor_of(request), conclusion=payload.conclusion)
    return Status(201, review)
