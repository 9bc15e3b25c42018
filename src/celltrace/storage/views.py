"""Storage pages (operator staff only; anyone else gets 404): the browser of units, racks and
boxes with fill levels, and the box map."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from celltrace.bank.choices import AliquotStatus
from celltrace.core.errors import NotFound
from celltrace.storage import selectors
from celltrace.web.views import actor_of


@login_required
def browser(request: HttpRequest) -> HttpResponse:
    try:
        units = list(selectors.units_with_occupancy(actor_of(request)))
    except NotFound as exc:
        raise Http404 from exc
    return render(request, "storage/browser.html", {"units": units})


@login_required
def unit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    try:
        unit = selectors.unit_get(actor, pk)
        racks = list(selectors.racks_with_occupancy(actor, unit))
    except NotFound as exc:
        raise Http404 from exc
    return render(request, "storage/unit.html", {"unit": unit, "racks": racks})


@login_required
def rack_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    try:
        rack = selectors.rack_get(actor, pk)
        boxes = list(selectors.boxes_with_occupancy(actor, rack))
    except NotFound as exc:
        raise Http404 from exc
    return render(request, "storage/rack.html", {"rack": rack, "boxes": boxes})


@login_required
def box_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        grid = selectors.box_map(actor_of(request), pk)
    except NotFound as exc:
        raise Http404 from exc
    highlight = request.GET.get("highlight", "")
    legend = [(s, AliquotStatus(s).label, grid.by_status.get(s, 0)) for s in AliquotStatus.values]
    return render(
        request,
        "storage/box.html",
        {
            "grid": grid,
            "box": grid.box,
            "legend": legend,
            "highlight": int(highlight) if highlight.isdigit() else None,
        },
    )
