"""Bank pages: scanner search, aliquot detail (identity, location, genealogy, timeline, move
and status forms), label sheets, donors (masked) with an audited reveal."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from celltrace.bank import labels, selectors, services
from celltrace.bank.choices import ALLOWED_TRANSITIONS, AliquotStatus
from celltrace.bank.forms import LAYOUTS, AliquotSearchForm, MoveForm, RevealForm, StatusForm
from celltrace.bank.models import Aliquot
from celltrace.core.errors import DomainError, NotFound
from celltrace.core.tenancy import sees_all_tenants
from celltrace.storage import selectors as storage_selectors
from celltrace.storage import services as storage_services
from celltrace.storage.models import StorageUnit
from celltrace.web.views import actor_of, form_error

PAGE = 100


@login_required
def search(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    operator = sees_all_tenants(actor)
    units = list(StorageUnit.objects.values_list("pk", "name")) if operator else None
    form = AliquotSearchForm(request.GET or None, units=units)
    results: list[Aliquot] = []
    total = 0
    searched = False
    if form.is_valid() and any(form.cleaned_data.values()):
        searched = True
        try:
            box_id = None
            if operator and form.cleaned_data.get("box"):
                box_id = storage_selectors.box_by_code(actor, form.cleaned_data["box"]).pk
            qs = selectors.aliquot_search(actor, form.to_filter(box_id))
            results = list(qs[: PAGE + 1])
        except NotFound as exc:
            form_error(form, exc)
        except DomainError as exc:
            form_error(form, exc)
        else:
            if len(results) == 1 and form.cleaned_data.get("q"):
                return redirect("bank:aliquot", pk=results[0].pk)
            total = len(results)
            results = results[:PAGE]
    return render(
        request,
        "bank/search.html",
        {
            "form": form,
            "results": results,
            "more": total > PAGE,
            "searched": searched,
            "operator": operator,
            "layouts": LAYOUTS,
        },
    )


def _aliquot_or_404(request: HttpRequest, pk: int) -> Aliquot:
    try:
        return selectors.aliquot_get(actor_of(request), pk)
    except NotFound as exc:
        raise Http404 from exc


@login_required
def aliquot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    aliquot = _aliquot_or_404(request, pk)
    operator = sees_all_tenants(actor)
    move_form = MoveForm(prefix="move")
    status_form = StatusForm(prefix="status")
    if request.method == "POST":
        if not operator:
            raise Http404
        action = request.POST.get("action", "")
        try:
            if action == "move":
                move_form = MoveForm(request.POST, prefix="move")
                if move_form.is_valid():
                    d = move_form.cleaned_data
                    box = storage_selectors.box_by_code(actor, d["box"])
                    position = storage_selectors.position_in_box(box, d["position"])
                    if selectors.active_placement(aliquot) is None:
                        storage_services.aliquot_place(
                            actor=actor,
                            aliquot=aliquot,
                            box=box,
                            position=position,
                            reason=d["reason"],
                        )
                    else:
                        storage_services.aliquot_move(
                            actor=actor,
                            aliquot=aliquot,
                            box=box,
                            position=position,
                            reason=d["reason"],
                        )
                    messages.success(
                        request,
                        _("Moved to %(box)s %(position)s.")
                        % {"box": box.name, "position": position.label},
                    )
                    return redirect("bank:aliquot", pk=aliquot.pk)
            elif action == "status":
                status_form = StatusForm(request.POST, prefix="status")
                if status_form.is_valid():
                    d = status_form.cleaned_data
                    services.aliquot_set_status(
                        actor=actor,
                        aliquot=aliquot,
                        status=d["status"],
                        reason=d["reason"],
                        use=d["use"] or "",
                    )
                    messages.success(request, _("The status was changed."))
                    return redirect("bank:aliquot", pk=aliquot.pk)
            elif action == "retrieve":
                storage_services.aliquot_retrieve(
                    actor=actor, aliquot=aliquot, reason=request.POST.get("reason", "")
                )
                messages.success(request, _("The aliquot was retrieved from storage."))
                return redirect("bank:aliquot", pk=aliquot.pk)
            else:
                raise Http404
        except DomainError as exc:
            form = status_form if action == "status" else move_form
            form_error(form, exc)
    placement = selectors.active_placement(aliquot)
    timeline = selectors.aliquot_timeline(actor, aliquot)
    ctx: dict[str, Any] = {
        "aliquot": aliquot,
        "operator": operator,
        "placement": placement if operator else None,
        "stored": placement is not None,
        "children": list(aliquot.children.all()),
        "timeline": timeline,
        "move_form": move_form,
        "status_form": status_form,
        "next_statuses": [
            AliquotStatus(s).label for s in sorted(ALLOWED_TRANSITIONS[aliquot.status])
        ],
        "layouts": LAYOUTS,
    }
    return render(request, "bank/aliquot_detail.html", ctx)


@login_required
def label_sheet(request: HttpRequest) -> HttpResponse:
    """A PDF label sheet for ``?aliquot=1&aliquot=2`` or every aliquot of ``?box=<id>``."""
    actor = actor_of(request)
    if not sees_all_tenants(actor):
        raise Http404
    layout = request.GET.get("layout", "a4_vial")
    if layout not in labels.LAYOUTS:
        raise Http404
    qs = selectors.aliquots_visible(actor)
    box_id = request.GET.get("box")
    if box_id:
        try:
            box = storage_selectors.box_get(actor, box_id)
        except NotFound as exc:
            raise Http404 from exc
        items = list(
            qs.filter(placements__position__box=box, placements__removed_at__isnull=True).order_by(
                "placements__position__row", "placements__position__col"
            )
        )
    else:
        ids = [i for i in request.GET.getlist("aliquot") if i.isdigit()][:500]
        items = list(qs.filter(pk__in=ids))
    if not items:
        raise Http404
    try:
        services.aliquot_labels_print(actor=actor, aliquots=items, layout_name=layout)
    except DomainError as exc:
        raise Http404 from exc
    pdf = labels.render_sheet(items, layout)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="labels.pdf"'
    return response


@login_required
def donors(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    ref = request.GET.get("reference", "").strip()
    qs = selectors.donors_visible(actor)
    if ref:
        qs = qs.filter(reference__icontains=ref)
    return render(request, "bank/donor_list.html", {"donors": list(qs[:200]), "reference": ref})


@login_required
def donor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    try:
        donor = selectors.donor_get(actor, pk)
    except NotFound as exc:
        raise Http404 from exc
    form = RevealForm(request.POST or None)
    revealed = None
    can_reveal = sees_all_tenants(actor) and actor.has_role(*services.REVEAL_ROLES)
    if request.method == "POST":
        if not can_reveal:
            raise Http404
        if form.is_valid():
            try:
                revealed = services.donor_reveal(
                    actor=actor, donor=donor, reason=form.cleaned_data["reason"]
                )
            except DomainError as exc:
                form_error(form, exc)
    return render(
        request,
        "bank/donor_detail.html",
        {
            "donor": donor,
            "consents": list(donor.consents.all()),
            "collections": list(donor.collections.all()[:100]),
            "form": form,
            "revealed": revealed,
            "can_reveal": can_reveal,
        },
    )
