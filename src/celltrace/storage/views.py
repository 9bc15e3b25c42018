"""Storage pages (operator staff only; anyone else gets 404): the browser of units, racks and
boxes with fill levels, the box map, and the forms that build the hierarchy (sites, units,
racks, box types, boxes) and move racks and boxes."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from celltrace.bank import services as bank_services
from celltrace.bank.choices import AliquotStatus
from celltrace.core.errors import DomainError, NotFound, permitted
from celltrace.core.tenancy import sees_all_tenants
from celltrace.storage import selectors, services
from celltrace.storage.forms import (
    BoxForm,
    BoxMoveForm,
    BoxTypeForm,
    RackForm,
    RackMoveForm,
    SiteForm,
    UnitForm,
)
from celltrace.storage.models import Box, BoxType, Rack, StorageUnit
from celltrace.web.views import actor_of, form_error


def _operator(request: HttpRequest) -> Any:
    actor = actor_of(request)
    if not sees_all_tenants(actor):
        raise Http404
    return actor


def _can_write(actor: Any) -> bool:
    return sees_all_tenants(actor) and actor.has_role(*services.STORAGE_ROLES)


def _can_print_labels(actor: Any) -> bool:
    """Whether the bank's label sheet (``bank:labels``) would print for ``actor``."""
    return permitted(bank_services.require_bank_role, actor)


@login_required
def browser(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    try:
        units = list(selectors.units_with_occupancy(actor))
    except NotFound as exc:
        raise Http404 from exc
    return render(
        request,
        "storage/browser.html",
        {
            "units": units,
            "can_write": _can_write(actor),
            "box_types": list(BoxType.objects.all()),
        },
    )


@login_required
def unit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    try:
        unit = selectors.unit_get(actor, pk)
    except NotFound as exc:
        raise Http404 from exc
    form = RackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rack = services.rack_create(
                actor=actor,
                unit=StorageUnit.objects.get(pk=unit.pk),
                name=form.cleaned_data["name"],
            )
        except DomainError as exc:
            form_error(form, exc)
            if not _can_write(actor):  # no form on the page to carry the error
                messages.error(request, exc.message)
        else:
            messages.success(request, _("Rack %(name)s added.") % {"name": rack.name})
            return redirect("storage:unit", pk=unit.pk)
    racks = list(selectors.racks_with_occupancy(actor, unit))
    return render(
        request,
        "storage/unit.html",
        {"unit": unit, "racks": racks, "form": form, "can_write": _can_write(actor)},
    )


@login_required
def rack_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    try:
        rack = selectors.rack_get(actor, pk)
    except NotFound as exc:
        raise Http404 from exc
    action = request.POST.get("action", "") if request.method == "POST" else ""
    box_form = BoxForm(request.POST if action == "box" else None, prefix="box")
    move_form = RackMoveForm(
        request.POST if action == "move" else None, prefix="move", exclude=rack.unit_id
    )
    if request.method == "POST":
        plain = Rack.objects.get(pk=rack.pk)
        try:
            if action == "box" and box_form.is_valid():
                d = box_form.cleaned_data
                box = services.box_create(
                    actor=actor,
                    rack=plain,
                    box_type=d["box_type"],
                    name=d["name"],
                    barcode=d["barcode"],
                )
                messages.success(
                    request,
                    _("Box %(name)s added with %(n)s positions.")
                    % {"name": box.name, "n": d["box_type"].capacity},
                )
                return redirect("storage:rack", pk=rack.pk)
            if action == "move" and move_form.is_valid():
                d = move_form.cleaned_data
                services.rack_move(actor=actor, rack=plain, unit=d["unit"], reason=d["reason"])
                messages.success(
                    request,
                    _("Rack %(rack)s moved to %(unit)s.")
                    % {"rack": plain.name, "unit": d["unit"].name},
                )
                return redirect("storage:rack", pk=rack.pk)
            if action not in {"box", "move"}:
                raise Http404
        except DomainError as exc:
            form_error(box_form if action == "box" else move_form, exc)
            if not _can_write(actor):  # no form on the page to carry the error
                messages.error(request, exc.message)
    boxes = list(selectors.boxes_with_occupancy(actor, rack))
    return render(
        request,
        "storage/rack.html",
        {
            "rack": rack,
            "boxes": boxes,
            "box_form": box_form,
            "move_form": move_form,
            "can_write": _can_write(actor),
        },
    )


@login_required
def box_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    move_form: BoxMoveForm | None = None
    if request.method == "POST":
        _operator(request)
        box = Box.objects.filter(pk=pk).first()
        if box is None:
            raise Http404
        move_form = BoxMoveForm(request.POST, prefix="move", exclude=box.rack_id)
        if move_form.is_valid():
            d = move_form.cleaned_data
            try:
                services.box_move(actor=actor, box=box, rack=d["rack"], reason=d["reason"])
            except DomainError as exc:
                form_error(move_form, exc)
                if not _can_write(actor):  # no form on the page to carry the error
                    messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    _("Box %(box)s moved to %(rack)s.") % {"box": box.name, "rack": str(d["rack"])},
                )
                return redirect("storage:box", pk=pk)
    try:
        grid = selectors.box_map(actor, pk)
    except NotFound as exc:
        raise Http404 from exc
    highlight = request.GET.get("highlight", "")
    legend = [(s, AliquotStatus(s).label, grid.by_status.get(s, 0)) for s in AliquotStatus.values]
    can_write = _can_write(actor)
    if move_form is None and can_write:
        move_form = BoxMoveForm(prefix="move", exclude=grid.box.rack_id)
    return render(
        request,
        "storage/box.html",
        {
            "grid": grid,
            "box": grid.box,
            "legend": legend,
            "highlight": int(highlight) if highlight.isdigit() else None,
            "move_form": move_form,
            "can_write": can_write,
            "can_print_labels": _can_print_labels(actor),
            "free": grid.capacity - grid.occupied,
        },
    )


def _create_page(
    request: HttpRequest, form: Any, title: str, create: Any, done: Any
) -> HttpResponse:
    if request.method == "POST" and form.is_valid():
        try:
            obj = create(form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("%(name)s created.") % {"name": str(obj)})
            return done(obj)  # type: ignore[no-any-return]
    return render(request, "storage/create.html", {"form": form, "title": title})


@login_required
def site_new(request: HttpRequest) -> HttpResponse:
    actor = _operator(request)
    return _create_page(
        request,
        SiteForm(request.POST or None),
        _("New site"),
        lambda d: services.site_create(actor=actor, **d),
        lambda obj: redirect("storage:browser"),
    )


@login_required
def unit_new(request: HttpRequest) -> HttpResponse:
    actor = _operator(request)
    return _create_page(
        request,
        UnitForm(request.POST or None),
        _("New storage unit"),
        lambda d: services.storage_unit_create(actor=actor, **d),
        lambda obj: redirect("storage:unit", pk=obj.pk),
    )


@login_required
def box_type_new(request: HttpRequest) -> HttpResponse:
    actor = _operator(request)
    return _create_page(
        request,
        BoxTypeForm(request.POST or None),
        _("New box type"),
        lambda d: services.box_type_create(actor=actor, **d),
        lambda obj: redirect("storage:browser"),
    )
