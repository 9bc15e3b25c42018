"""Ledger browser, entry detail, object history timeline, audit-trail reviews, checkpoints."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from celltrace.audit import selectors, services
from celltrace.audit.models import LedgerCheckpoint
from celltrace.core.errors import DomainError, NotFound, PermissionDenied
from celltrace.web.forms import LedgerFilterForm, ReviewForm
from celltrace.web.views import actor_of, form_error

PAGE = 50


def _browse_or_404(request: HttpRequest) -> None:
    if not selectors.can_browse_ledger(actor_of(request)):
        raise Http404


@login_required
def ledger(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    form = LedgerFilterForm(request.GET or None)
    flt = selectors.LedgerFilter()
    before = None
    if form.is_valid():
        d = form.cleaned_data
        flt = selectors.LedgerFilter(
            entity_type=d["entity_type"],
            entity_id=d["entity_id"],
            actor_id=d["actor"],
            action=d["action"],
            event_type=d["event_type"],
            since=d["since"],
            until=d["until"],
            attempts=d["attempts"],
            after_seq=d["after"],
        )
        before = d["before"]
    try:
        qs = selectors.ledger_events(actor, flt)
    except PermissionDenied as exc:
        raise Http404 from exc
    if before:
        qs = qs.filter(seq__lt=before)
    events = list(qs[: PAGE + 1])
    more = len(events) > PAGE
    events = events[:PAGE]
    query = request.GET.copy()
    query.pop("before", None)
    next_query = None
    if more and events:
        query["before"] = str(events[-1].seq)
        next_query = query.urlencode()
    partial = bool(getattr(request, "htmx", False))
    template = "audit/partials/ledger_rows.html" if partial else "audit/ledger.html"
    return render(request, template, {"form": form, "events": events, "next_query": next_query})


@login_required
def event(request: HttpRequest, seq: int) -> HttpResponse:
    try:
        entry = selectors.ledger_event(actor_of(request), seq)
    except (NotFound, PermissionDenied) as exc:
        raise Http404 from exc
    return render(request, "audit/event.html", {"event": entry})


@login_required
def history(request: HttpRequest, entity_type: str, entity_id: str) -> HttpResponse:
    actor = actor_of(request)
    try:
        events = list(selectors.object_history(actor, entity_type, entity_id))
    except NotFound as exc:
        raise Http404 from exc
    label = next(
        (e.data.get("entity_label") for e in reversed(events) if e.data.get("entity_label")),
        None,
    )
    if label is None:
        subject = selectors.history_subject(actor, entity_type, entity_id)
        label = str(subject) if subject is not None else f"{entity_type} {entity_id}"
    return render(
        request,
        "audit/history.html",
        {
            "events": events,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "label": label,
        },
    )


@login_required
def reviews(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    try:
        items = list(selectors.audit_reviews(actor)[:100])
    except PermissionDenied as exc:
        raise Http404 from exc
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            review = services.audit_review_create(
                actor=actor, conclusion=form.cleaned_data["conclusion"]
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("The review was recorded. Sign it to complete it."))
            return redirect("audit:review", pk=review.pk)
    return render(request, "audit/review_list.html", {"reviews": items, "form": form})


@login_required
def review(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        item = selectors.audit_review(actor_of(request), pk)
    except (NotFound, PermissionDenied) as exc:
        raise Http404 from exc
    return render(request, "audit/review_detail.html", {"review": item})


@login_required
def checkpoints(request: HttpRequest) -> HttpResponse:
    _browse_or_404(request)
    return render(
        request, "audit/checkpoints.html", {"checkpoints": LedgerCheckpoint.objects.all()[:200]}
    )
