"""Bank pages: scanner search, aliquot detail (identity, location, genealogy, timeline, move
and status forms), label sheets, donors (masked) with an audited reveal."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from celltrace.bank import dispatch, labels, selectors, services
from celltrace.bank.choices import (
    ALLOWED_TRANSITIONS,
    IN_STOCK_STATUSES,
    AliquotStatus,
    DistributionStatus,
)
from celltrace.bank.forms import (
    LAYOUTS,
    AliquotSearchForm,
    CancelForm,
    CollectionForm,
    ConsentForm,
    DeskForm,
    DistributionForm,
    DivideForm,
    DonorForm,
    MoveForm,
    ProcessForm,
    RevealForm,
    StatusForm,
    WithdrawForm,
)
from celltrace.bank.models import Aliquot, Distribution
from celltrace.core.choices import Role
from celltrace.core.errors import DomainError, Invalid, NotFound, permitted
from celltrace.core.models import User
from celltrace.core.tenancy import sees_all_tenants
from celltrace.storage import selectors as storage_selectors
from celltrace.storage import services as storage_services
from celltrace.storage.models import StorageUnit
from celltrace.web.decorators import own_site_only
from celltrace.web.views import actor_of, form_error

PAGE = 100
DONOR_PAGE = 200


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
            # the inventory import is for bank staff (imports.selectors: require_bank_role)
            "can_import": _can_write(actor),
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
    # the forms show only to the roles their services accept (the services still decide)
    can_store = operator and permitted(storage_services.require_storage_role, actor)
    offered = _statuses_offered(actor, aliquot.status) if operator else []
    move_form = MoveForm(prefix="move")
    status_form = StatusForm(prefix="status", current=aliquot.status, offered=offered)
    divide_form = DivideForm(prefix="divide")
    can_divide = operator and _can_write(actor) and aliquot.status in IN_STOCK_STATUSES
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
                        # back into storage after a retrieval is a return, else a first place
                        was_stored = aliquot.placements.exists()
                        place = (
                            storage_services.aliquot_return
                            if was_stored
                            else storage_services.aliquot_place
                        )
                        place(
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
                status_form = StatusForm(
                    request.POST, prefix="status", current=aliquot.status, offered=offered
                )
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
            elif action == "divide":
                divide_form = DivideForm(request.POST, prefix="divide")
                if divide_form.is_valid():
                    d = divide_form.cleaned_data
                    made = services.aliquot_divide(
                        actor=actor,
                        parent=aliquot,
                        count=d["count"],
                        volume_ul=d["volume_ul"],
                        container_type=d["container_type"],
                        cell_count=d["cell_count"],
                    )
                    messages.success(
                        request,
                        _("%(n)s child aliquots made: %(divisions)s.")
                        % {"n": len(made), "divisions": ", ".join(a.division for a in made)},
                    )
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
            if action == "retrieve":  # no bound form to carry it (the move form is unbound)
                messages.error(request, exc.message)
            else:
                bound = {"status": status_form, "divide": divide_form}.get(action, move_form)
                form_error(bound, exc)
        # a refused form the page does not show (a forged request) says why as a message
        hidden = {"move": not can_store, "status": not offered, "divide": not can_divide}.get(
            action, False
        )
        form = {"status": status_form, "divide": divide_form}.get(action, move_form)
        if hidden and form.errors:
            for errors in form.errors.values():
                for error in errors.get_json_data():
                    messages.error(request, error["message"])
    placement = selectors.active_placement(aliquot)
    timeline = selectors.aliquot_timeline(actor, aliquot)
    children = list(aliquot.children.all())
    ctx: dict[str, Any] = {
        "aliquot": aliquot,
        "operator": operator,
        "placement": placement if operator else None,
        "stored": placement is not None,
        "children": children,
        # what the children have not taken of its volume (and cells), once it has children
        "remaining": services.aliquot_remaining(aliquot) if children else None,
        "distributions": list(
            selectors.distributions_visible(actor).filter(items__aliquot=aliquot).order_by("pk")
        ),
        "timeline": timeline,
        "move_form": move_form,
        "status_form": status_form,
        "divide_form": divide_form,
        "can_divide": can_divide,
        "can_store": can_store,
        "can_change_status": bool(offered),
        # the label sheet prints for bank staff only (services.aliquot_labels_print)
        "can_print_labels": _can_write(actor),
        # each status the aliquot may go to next, and for one this user may not set, why
        "next_statuses": [
            (AliquotStatus(s).label, _status_refusal(actor, aliquot.status, s) if operator else "")
            for s in sorted(ALLOWED_TRANSITIONS[aliquot.status])
        ],
        "layouts": LAYOUTS,
    }
    return render(request, "bank/aliquot_detail.html", ctx)


@login_required
@own_site_only
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
    shown = list(qs[:DONOR_PAGE])
    return render(
        request,
        "bank/donor_list.html",
        {
            "donors": shown,
            "reference": ref,
            # said when the list is cut: the others are found by their reference
            "total": qs.count() if len(shown) == DONOR_PAGE else len(shown),
            "can_register": _can_write(actor),
        },
    )


def _operator_only(request: HttpRequest) -> Any:
    """The actor, if operator staff; anyone else gets 404 (they never see these forms)."""
    actor = actor_of(request)
    if not sees_all_tenants(actor):
        raise Http404
    return actor


def _can_write(actor: Any) -> bool:
    """Whether ``actor`` may change the bank: the services' own rule (``require_bank_role``)."""
    return isinstance(actor, User) and permitted(services.require_bank_role, actor)


def _statuses_offered(actor: Any, current: str) -> list[str]:
    """The statuses an aliquot in ``current`` may go to that ``actor``'s roles may set
    (``services.require_status_role``: QA only releases from quarantine)."""
    return [
        status
        for status in sorted(ALLOWED_TRANSITIONS.get(current, frozenset()))
        if permitted(services.require_status_role, actor, current, status)
    ]


def _status_refusal(actor: Any, current: str, status: str) -> str:
    """Why ``actor`` may not move an aliquot from ``current`` to ``status`` ("" if they may)."""
    try:
        services.require_status_role(actor, current, status)
    except DomainError as exc:
        return exc.message
    return ""


@login_required
def donor_new(request: HttpRequest) -> HttpResponse:
    actor = _operator_only(request)
    if not _can_write(actor):  # the form asks for personal data: not to fill in for nothing
        raise DjangoPermissionDenied
    form = DonorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            donor = services.donor_create(
                actor=actor,
                organisation=d["organisation"],
                reference=d["reference"],
                name=d["name"],
                national_id=d["national_id"],
                phone=d["phone"],
                date_of_birth=d["date_of_birth"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(
                request,
                _("Donor %(ref)s registered. Record the consent next.") % {"ref": donor.reference},
            )
            return redirect("bank:donor", pk=donor.pk)
    return render(request, "bank/donor_new.html", {"form": form})


@login_required
def donor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    try:
        donor = selectors.donor_get(actor, pk)
    except NotFound as exc:
        raise Http404 from exc
    operator = sees_all_tenants(actor)
    can_reveal = operator and actor.has_role(*services.REVEAL_ROLES)
    can_write = _can_write(actor)
    action = request.POST.get("action", "reveal") if request.method == "POST" else ""
    form = RevealForm(request.POST if action == "reveal" else None)
    consent_form = ConsentForm(request.POST if action == "consent" else None, prefix="consent")
    withdraw_form = WithdrawForm(request.POST if action == "withdraw" else None, prefix="withdraw")
    revealed = None
    if request.method == "POST":
        if not operator or action not in {"reveal", "consent", "withdraw"}:
            raise Http404
        try:
            if action == "reveal" and form.is_valid():
                revealed = services.donor_reveal(
                    actor=actor, donor=donor, reason=form.cleaned_data["reason"]
                )
            elif action == "consent" and consent_form.is_valid():
                c = consent_form.cleaned_data
                services.consent_record(
                    actor=actor,
                    donor=donor,
                    version=c["version"],
                    signed_on=c["signed_on"],
                    storage=c["storage"],
                    clinical=c["clinical"],
                    research=c["research"],
                )
                messages.success(request, _("The consent was recorded."))
                return redirect("bank:donor", pk=donor.pk)
            elif action == "withdraw" and withdraw_form.is_valid():
                w = withdraw_form.cleaned_data
                consent = donor.consents.filter(pk=w["consent"]).first()
                if consent is None:
                    raise Http404
                services.consent_withdraw(actor=actor, consent=consent, reason=w["reason"])
                messages.success(
                    request,
                    _(
                        "Consent version %(v)s is withdrawn. Material of this donor can no longer "
                        "be released for uses it covered."
                    )
                    % {"v": consent.version},
                )
                return redirect("bank:donor", pk=donor.pk)
        except DomainError as exc:
            target = {"consent": consent_form, "withdraw": withdraw_form}.get(action, form)
            form_error(target, exc)
            if action == "withdraw":
                messages.error(request, exc.message)
    return render(
        request,
        "bank/donor_detail.html",
        {
            "donor": donor,
            "consents": list(donor.consents.all()),
            "collections": list(donor.collections.all()[:100]),
            "form": form,
            "consent_form": consent_form,
            "withdraw_form": withdraw_form,
            "revealed": revealed,
            "can_reveal": can_reveal,
            "can_write": can_write,
        },
    )


@login_required
def collection_new(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _operator_only(request)
    try:
        donor = selectors.donor_get(actor, pk)
    except NotFound as exc:
        raise Http404 from exc
    form = CollectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            collection = services.collection_create(
                actor=actor,
                donor=donor,
                collection_type=d["collection_type"],
                collected_at=d["collected_at"],
                volume_ml=d["volume_ml"],
                collection_site=d["collection_site"],
                sprec_elements=form.sprec_elements(),
                din=d["din"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(
                request,
                _("Collection %(din)s registered.") % {"din": collection.din_display},
            )
            return redirect("bank:collection", pk=collection.pk)
    return render(request, "bank/collection_new.html", {"form": form, "donor": donor})


@login_required
def collection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    try:
        collection = selectors.collection_get(actor, pk)
    except NotFound as exc:
        raise Http404 from exc
    products = list(collection.products.order_by("pk"))
    aliquots = list(
        Aliquot.objects.filter(product__collection=collection).order_by("pdc", "division")
    )
    by_product: dict[int, list[Aliquot]] = {}
    for a in aliquots:
        by_product.setdefault(a.product_id, []).append(a)
    return render(
        request,
        "bank/collection_detail.html",
        {
            "collection": collection,
            "products": [(p, by_product.get(p.pk, [])) for p in products],
            "operator": sees_all_tenants(actor),
            "can_write": _can_write(actor),
            "layouts": LAYOUTS,
            "new_batch": request.GET.get("batch", ""),
        },
    )


@login_required
def collection_process(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _operator_only(request)
    try:
        collection = selectors.collection_get(actor, pk)
    except NotFound as exc:
        raise Http404 from exc
    units = list(
        StorageUnit.objects.filter(is_active=True).order_by("name").values_list("pk", "name")
    )
    form = ProcessForm(request.POST or None, units=units)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        unit = StorageUnit.objects.filter(pk=d["unit"]).first() if d["unit"] else None
        try:
            result = services.collection_process(
                actor=actor,
                collection=collection,
                product_type=d["product_type"],
                pdc=d["pdc"],
                isbt_collection_type=d["isbt_collection_type"],
                count=d["count"],
                container_type=d["container_type"],
                volume_ul=d["volume_ul"],
                cell_count=d["cell_count"],
                viability_pct=d["viability_pct"],
                expiry=d["expiry"],
                processed_at=d["processed_at"],
                place=d["place"],
                unit=unit,
                reason=d["reason"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            if result.placed:
                messages.success(
                    request,
                    _("%(n)s aliquots made and placed into storage. Print their labels below.")
                    % {"n": len(result.aliquots)},
                )
            else:
                messages.success(
                    request,
                    _("%(n)s aliquots made (not placed). Print their labels below.")
                    % {"n": len(result.aliquots)},
                )
            return redirect(
                f"{reverse('bank:collection', args=[collection.pk])}?batch={result.batch.pk}"
            )
    return render(request, "bank/collection_process.html", {"form": form, "collection": collection})


def _scan_one(actor: Any, code: str) -> Aliquot:
    """The one aliquot a scan identifies, or a domain error naming the scan."""
    matches = list(selectors.aliquot_search(actor, selectors.AliquotFilter(q=code))[:2])
    if len(matches) != 1:
        raise NotFound(
            _("No aliquot matches %(code)s.") % {"code": code}
            if not matches
            else _("Several aliquots match %(code)s; scan the DataMatrix or the aliquot barcode.")
            % {"code": code},
            field="code",
        )
    return matches[0]


@login_required
def desk(request: HttpRequest) -> HttpResponse:
    """The storage desk for a scanner: every scan ends with Enter. Place, move, retrieve and
    return; the form asks for what is still missing and keeps the action, box and reason."""
    actor = _operator_only(request)
    try:  # every action of the desk changes storage: the page is for whom the service accepts
        storage_services.require_storage_role(actor)
    except DomainError as exc:
        raise DjangoPermissionDenied(exc.message) from exc
    if request.method != "POST":
        form = DeskForm(initial={"action": request.GET.get("action", "place")})
        return render(request, "bank/desk.html", {"form": form})
    form = DeskForm(request.POST)
    done: Any = None
    found: Any = None
    if form.is_valid():
        d = form.cleaned_data
        action = d["action"]
        keep = {"action": action, "box": d["box"], "reason": d["reason"]}
        try:
            if not d["code"]:
                if action in DeskForm.INTO_BOX and d["box"]:
                    box = storage_selectors.box_by_code(actor, d["box"])
                    messages.info(
                        request,
                        _("Box %(box)s is ready: scan the aliquots one after another.")
                        % {"box": box.name},
                    )
                form = DeskForm(initial=keep, focus="code")
                return render(request, "bank/desk.html", {"form": form})
            aliquot = _scan_one(actor, d["code"])
            if action in DeskForm.INTO_BOX and not d["box"]:
                # the aliquot first: say where it is, then wait for the box
                found = aliquot
                placement = selectors.active_placement(aliquot)
                found_at = (
                    storage_services.location_text(placement.position)
                    if placement
                    else _("not in storage")
                )
                form = DeskForm(initial={**keep, "code": d["code"]}, focus="box")
                return render(
                    request,
                    "bank/desk.html",
                    {"form": form, "found": found, "found_at": found_at},
                )
            if action == "retrieve":
                ended = storage_services.aliquot_retrieve(
                    actor=actor, aliquot=aliquot, reason=d["reason"]
                )
                text = _("%(a)s retrieved from %(where)s.") % {
                    "a": str(aliquot),
                    "where": storage_services.location_text(ended.position),
                }
            else:
                box = storage_selectors.box_by_code(actor, d["box"])
                if d["position"]:
                    position = storage_selectors.position_in_box(box, d["position"])
                else:
                    position = storage_selectors.first_free_position(box)
                calls: dict[str, Any] = {
                    "place": storage_services.aliquot_place,
                    "move": storage_services.aliquot_move,
                    "return": storage_services.aliquot_return,
                }
                placement = calls[action](
                    actor=actor, aliquot=aliquot, box=box, position=position, reason=d["reason"]
                )
                text = _("%(a)s is now at %(where)s.") % {
                    "a": str(aliquot),
                    "where": storage_services.location_text(placement.position),
                }
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, text)
            done = aliquot
            form = DeskForm(initial=keep, focus="code")
    return render(request, "bank/desk.html", {"form": form, "done": done})


# --- distributions --------------------------------------------------------------------------


@login_required
def distributions(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    status = request.GET.get("status", "")
    qs = selectors.distributions_visible(actor).annotate(n_items=Count("items"))
    if status in DistributionStatus.values:
        qs = qs.filter(status=status)
    return render(
        request,
        "bank/distribution_list.html",
        {
            "distributions": list(qs[:200]),
            "status": status,
            "statuses": DistributionStatus.choices,
            "can_write": _can_write(actor),
        },
    )


@login_required
def distribution_new(request: HttpRequest) -> HttpResponse:
    actor = _operator_only(request)
    form = DistributionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            found: list[Aliquot] = []
            for i, code in enumerate(form.codes(), start=1):
                try:
                    found.append(_scan_one(actor, code))
                except DomainError as exc:
                    raise Invalid(
                        _("Line %(n)s: %(problem)s") % {"n": i, "problem": exc.message},
                        field="aliquots",
                    ) from exc
            dist = services.distribution_create(
                actor=actor,
                aliquots=found,
                recipient_organisation=d["recipient_organisation"],
                recipient_name=d["recipient_name"],
                recipient_address=d["recipient_address"],
                intended_use=d["intended_use"],
                shipping_conditions=d["shipping_conditions"],
                shipping_notes=d["shipping_notes"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(
                request,
                _("Distribution %(d)s drafted. QA releases it with an electronic signature.")
                % {"d": dist.number},
            )
            return redirect("bank:distribution", pk=dist.pk)
    return render(request, "bank/distribution_new.html", {"form": form})


def _distribution_or_404(request: HttpRequest, pk: int) -> Distribution:
    try:
        return selectors.distribution_get(actor_of(request), pk)
    except NotFound as exc:
        raise Http404 from exc


@login_required
def distribution_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    dist = _distribution_or_404(request, pk)
    operator = sees_all_tenants(actor)
    cancel_form = CancelForm(request.POST or None)
    if request.method == "POST":
        if not operator:
            raise Http404
        if cancel_form.is_valid():
            try:
                services.distribution_cancel(
                    actor=actor, distribution=dist, reason=cancel_form.cleaned_data["reason"]
                )
            except DomainError as exc:
                form_error(cancel_form, exc)
            else:
                messages.success(request, _("The distribution was cancelled."))
                return redirect("bank:distribution", pk=dist.pk)
    items = list(
        Aliquot.objects.filter(distribution_items__distribution=dist)
        .select_related("product__collection__donor")
        .order_by("din", "pdc", "division")
    )
    refusal = None
    if dist.status == DistributionStatus.DRAFT:
        problems = services.distribution_problems(items, dist.intended_use, distribution_id=dist.pk)
        refusal = " ".join(problems) or None
    return render(
        request,
        "bank/distribution_detail.html",
        {
            "dist": dist,
            "items": items,
            "operator": operator,
            "can_write": _can_write(actor) and dist.status == DistributionStatus.DRAFT,
            "cancel_form": cancel_form,
            "refusal": refusal,
            "draft": dist.status == DistributionStatus.DRAFT,
            # the sign link for QA of the operator; others see the signatures only
            "can_release": dist.status == DistributionStatus.DRAFT
            and operator
            and actor.has_role(Role.QA),
        },
    )


@login_required
def dispatch_note(request: HttpRequest, pk: int) -> HttpResponse:
    """The dispatch note (PDF) that travels with the shipment: recipient, conditions, the
    aliquots, and QA's release signature. Only for released distributions."""
    dist = _distribution_or_404(request, pk)
    if dist.status != DistributionStatus.RELEASED:
        raise Http404
    pdf = dispatch.render_pdf(dist)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{dist.number}.pdf"'
    return response
