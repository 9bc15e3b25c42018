"""Reads of the audit app, scoped to what the acting user may see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

from celltrace.audit.canonical import utc_iso
from celltrace.audit.choices import EventType, SignatureMeaning
from celltrace.audit.models import AuditEvent, AuditReview, Signature
from celltrace.core.choices import Role
from celltrace.core.errors import NotFound, PermissionDenied
from celltrace.core.models import User
from celltrace.core.tenancy import scope, sees_all_tenants

LEDGER_ROLES = (Role.ADMIN, Role.QA, Role.QC_REVIEWER)

#: entity_type -> selector of the objects of that type a user may see (for history pages).
_HISTORY_VISIBILITY: dict[str, Callable[[User], QuerySet[Any]]] = {}


def register_history(model: type[Model], visible: Callable[[User], QuerySet[Any]]) -> None:
    _HISTORY_VISIBILITY[model._meta.label_lower] = visible


def can_browse_ledger(actor: User) -> bool:
    return sees_all_tenants(actor) and actor.has_role(*LEDGER_ROLES)


@dataclass(frozen=True)
class LedgerFilter:
    entity_type: str = ""
    entity_id: str = ""
    actor_id: int | None = None
    action: str = ""
    event_type: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    attempts: bool = False  # only UNAUTHORISED_USE_ATTEMPTS
    after_seq: int | None = None  # only entries after this one (e.g. the last review's end)


# attempted unauthorised use (21 CFR 11.300(d)): what the dashboard counts since the last review
UNAUTHORISED_USE_ATTEMPTS = (
    EventType.LOGIN_FAILED,
    EventType.SIGNING_FAILED,
    EventType.USER_LOCKED_OUT,
)


def ledger_events(actor: User, flt: LedgerFilter) -> QuerySet[AuditEvent]:
    if not can_browse_ledger(actor):
        raise PermissionDenied(_("The ledger browser is for QA, QC reviewers and administrators."))
    fields: dict[str, Any] = {}
    if flt.entity_type:
        fields["entity_type"] = flt.entity_type
    if flt.entity_id:
        fields["entity_id"] = flt.entity_id
    if flt.actor_id is not None:
        fields["actor_id"] = flt.actor_id
    if flt.action:
        fields["action"] = flt.action
    if flt.event_type:
        fields["event_type"] = flt.event_type
    # timestamps are fixed-width ISO strings, so text order is time order
    if flt.since is not None:
        fields["timestamp_utc__gte"] = utc_iso(flt.since)
    if flt.until is not None:
        fields["timestamp_utc__lt"] = utc_iso(flt.until)
    if flt.attempts:
        fields["event_type__in"] = UNAUTHORISED_USE_ATTEMPTS
    qs = AuditEvent.objects.where(**fields)
    if flt.after_seq is not None:
        qs = qs.filter(seq__gt=flt.after_seq)
    return qs.order_by("-seq")


def ledger_event(actor: User, seq: int) -> AuditEvent:
    if not can_browse_ledger(actor):
        raise PermissionDenied(_("The ledger browser is for QA, QC reviewers and administrators."))
    try:
        return AuditEvent.objects.get(seq=seq)
    except AuditEvent.DoesNotExist as exc:
        raise NotFound(_("No such ledger entry.")) from exc


def history_subject(actor: User, entity_type: str, entity_id: str) -> Model | None:
    """The object a history is about, if its kind is registered and ``actor`` may see it."""
    visible = _HISTORY_VISIBILITY.get(entity_type)
    if visible is None:
        return None
    try:
        obj: Model | None = visible(actor).filter(pk=entity_id).first()
    except (ValueError, ValidationError):  # not a primary key of that kind
        return None
    return obj


def object_history(actor: User, entity_type: str, entity_id: str) -> QuerySet[AuditEvent]:
    """Every entry about one object, oldest first; 404 unless ``actor`` may see the object.

    An object created as part of a bulk entry (an import, the method catalogue, a batch of
    readings that raised an alarm) may have no entry of its own yet: its history is then
    empty, not a 404."""
    subject = history_subject(actor, entity_type, entity_id)
    if subject is None and not can_browse_ledger(actor):
        raise NotFound(_("No such object."))
    qs = AuditEvent.objects.where(entity_type=entity_type, entity_id=str(entity_id)).order_by("seq")
    if subject is None and not qs.exists():
        raise NotFound(_("No such object."))
    return qs


def last_signed_review() -> AuditReview | None:
    """The latest audit-trail review that carries a standing "reviewed" signature: the
    entries after it are the ones nobody has signed for yet (an opened review that nobody
    signed does not count)."""
    signed = Signature.objects.filter(
        record_type=AuditReview._meta.label_lower,
        meaning=SignatureMeaning.REVIEWED,
        withdrawal__isnull=True,
    ).values_list("record_id", flat=True)
    return AuditReview.objects.filter(pk__in=[int(pk) for pk in signed]).order_by("-to_seq").first()


def audit_reviews(actor: User) -> QuerySet[AuditReview]:
    if not can_browse_ledger(actor):
        raise PermissionDenied(
            _("Audit-trail reviews are for QA, QC reviewers and administrators.")
        )
    return scope(AuditReview.objects.all(), actor).select_related("created_by")


def audit_review(actor: User, pk: int) -> AuditReview:
    try:
        return audit_reviews(actor).get(pk=pk)
    except AuditReview.DoesNotExist as exc:
        raise NotFound(_("No such review.")) from exc
