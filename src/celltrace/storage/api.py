"""API operations of the storage app: occupancy, box maps, allocation, placing, moving,
retrieving and returning aliquots, moving boxes. Operator staff only: anyone else gets 404."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Status

from celltrace.api.errors import request_fields
from celltrace.api.schemas import ERRORS, READ_ERRORS, IdParam
from celltrace.bank import selectors as bank_selectors
from celltrace.core.api import actor_of
from celltrace.core.errors import NotFound
from celltrace.storage import selectors, services
from celltrace.storage.models import Box, BoxType, Placement, Rack, Site, StorageUnit
from celltrace.storage.schemas import (
    AllocateIn,
    BoxIn,
    BoxMapOut,
    BoxMoveIn,
    BoxOut,
    BoxTypeIn,
    BoxTypeOut,
    MoveIn,
    OccupancyOut,
    PlaceIn,
    PlacementOut,
    PositionOut,
    RackIn,
    RackMoveIn,
    RackOut,
    ReasonIn,
    SiteIn,
    SiteOut,
    UnitIn,
    UnitOut,
)

router = Router(tags=["storage"])

#: The request's names of the objects the storage services name (``aliquot`` is the address's).
PLACE_FIELDS: dict[str, str | None] = {"aliquot": None, "box": "box_id"}


def placement_out(p: Placement) -> dict[str, Any]:
    loc = services.location_of(p.position)
    return {
        "aliquot_id": p.aliquot_id,
        "unit": loc["unit"],
        "rack": loc["rack"],
        "box": loc["box"],
        "box_id": loc["box_id"],
        "position": loc["position"],
        "position_id": loc["position_id"],
        "placed_at": p.placed_at,
        "removed_at": p.removed_at,
    }


def box_out(b: Box, capacity: int, occupied: int) -> dict[str, Any]:
    return {
        "id": b.pk,
        "name": b.name,
        "barcode": b.barcode,
        "rack_id": b.rack_id,
        "box_type": b.box_type.name,
        "rows": b.box_type.rows,
        "columns": b.box_type.columns,
        "capacity": capacity,
        "occupied": occupied,
    }


@router.get(
    "/storage/units",
    response={200: list[UnitOut], **READ_ERRORS},
    operation_id="storage_units_list",
)
def storage_units_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "id": u.pk,
            "name": u.name,
            "code": u.code,
            "site": u.site.name,
            "kind": u.kind,
            "set_point_c": u.set_point_c,
            "alarm_low_c": u.alarm_low_c,
            "alarm_high_c": u.alarm_high_c,
            "fill_order": u.fill_order,
            "capacity": u.capacity,  # type: ignore[attr-defined]
            "occupied": u.occupied,  # type: ignore[attr-defined]
        }
        for u in selectors.units_with_occupancy(actor_of(request))
    ]


@router.get(
    "/storage/units/{unit_id}/racks",
    response={200: list[OccupancyOut], **READ_ERRORS},
    operation_id="storage_racks_list",
)
def storage_racks_list(request: HttpRequest, unit_id: IdParam) -> list[dict[str, Any]]:
    actor = actor_of(request)
    unit = selectors.unit_get(actor, unit_id)
    return [
        {"id": r.pk, "name": r.name, "capacity": r.capacity, "occupied": r.occupied}  # type: ignore[attr-defined]
        for r in selectors.racks_with_occupancy(actor, unit)
    ]


@router.get(
    "/storage/racks/{rack_id}/boxes",
    response={200: list[BoxOut], **READ_ERRORS},
    operation_id="storage_boxes_list",
)
def storage_boxes_list(request: HttpRequest, rack_id: IdParam) -> list[dict[str, Any]]:
    actor = actor_of(request)
    rack = selectors.rack_get(actor, rack_id)
    return [
        box_out(b, b.capacity, b.occupied)  # type: ignore[attr-defined]
        for b in selectors.boxes_with_occupancy(actor, rack)
    ]


@router.get(
    "/storage/boxes/{box_id}/map",
    response={200: BoxMapOut, **READ_ERRORS},
    operation_id="box_map_get",
)
def box_map_get(request: HttpRequest, box_id: IdParam) -> dict[str, Any]:
    grid = selectors.box_map(actor_of(request), box_id)
    cells = [
        {
            "position": c.position.label,
            "position_id": c.position.pk,
            "row": c.position.row,
            "col": c.position.col,
            "aliquot_id": c.aliquot.pk if c.aliquot else None,
            "status": c.aliquot.status if c.aliquot else None,
            "din": c.aliquot.din if c.aliquot else None,
            "product_code": c.aliquot.product_code_text if c.aliquot else None,
            "occupant": c.other.code if c.other else None,
            "occupant_name": c.other.kind if c.other else None,
            "occupant_label": (c.other.label or None) if c.other else None,
        }
        for _, row in grid.rows
        for c in row
    ]
    return {"box": box_out(grid.box, grid.capacity, grid.occupied), "cells": cells}


@router.post(
    "/storage/allocations",
    response={200: list[PositionOut], **ERRORS},
    operation_id="positions_allocate",
)
def positions_allocate(request: HttpRequest, payload: AllocateIn) -> list[dict[str, Any]]:
    actor = actor_of(request)
    unit = None
    if payload.unit_id is not None:
        with request_fields(missing="unit_id"):
            unit = selectors.unit_get(actor, payload.unit_id)
    selectors.require_operator(actor)
    chosen = services.allocate_positions(actor=actor, count=payload.count, unit=unit)
    return [
        {"position_id": p.pk, "position": p.label, "box_id": p.box_id, "box": p.box.name}
        for p in chosen
    ]


@router.post(
    "/storage/boxes/{box_id}/move", response={200: BoxOut, **ERRORS}, operation_id="box_move"
)
def box_move(request: HttpRequest, box_id: IdParam, payload: BoxMoveIn) -> dict[str, Any]:
    actor = actor_of(request)
    box = selectors.box_get(actor, box_id)
    try:
        rack = Rack.objects.get(pk=payload.rack_id)
    except Rack.DoesNotExist as exc:
        raise NotFound(_("No such rack."), field="rack_id") from exc
    with request_fields({"rack": "rack_id", "box": None}):
        moved = services.box_move(actor=actor, box=box, rack=rack, reason=payload.reason)
    b = selectors.boxes_with_occupancy(actor).get(pk=moved.pk)
    return box_out(b, b.capacity, b.occupied)  # type: ignore[attr-defined]


def _target(request: HttpRequest, aliquot_id: int, box_id: int, label: str) -> Any:
    actor = actor_of(request)
    aliquot = bank_selectors.aliquot_get(actor, aliquot_id)
    with request_fields(PLACE_FIELDS, missing="box_id"):
        box = selectors.box_get(actor, box_id)
        return actor, aliquot, box, selectors.position_in_box(box, label)


@router.post(
    "/aliquots/{aliquot_id}/place",
    response={201: PlacementOut, **ERRORS},
    operation_id="aliquot_place",
)
def aliquot_place(request: HttpRequest, aliquot_id: IdParam, payload: PlaceIn) -> Any:
    actor, aliquot, box, position = _target(request, aliquot_id, payload.box_id, payload.position)
    with request_fields(PLACE_FIELDS):
        placement = services.aliquot_place(
            actor=actor, aliquot=aliquot, box=box, position=position, reason=payload.reason
        )
    return Status(201, placement_out(placement))


@router.post(
    "/aliquots/{aliquot_id}/return",
    response={201: PlacementOut, **ERRORS},
    operation_id="aliquot_return",
)
def aliquot_return(request: HttpRequest, aliquot_id: IdParam, payload: PlaceIn) -> Any:
    actor, aliquot, box, position = _target(request, aliquot_id, payload.box_id, payload.position)
    with request_fields(PLACE_FIELDS):
        placement = services.aliquot_return(
            actor=actor, aliquot=aliquot, box=box, position=position, reason=payload.reason
        )
    return Status(201, placement_out(placement))


@router.post(
    "/aliquots/{aliquot_id}/move",
    response={200: PlacementOut, **ERRORS},
    operation_id="aliquot_move",
)
def aliquot_move(request: HttpRequest, aliquot_id: IdParam, payload: MoveIn) -> dict[str, Any]:
    actor, aliquot, box, position = _target(request, aliquot_id, payload.box_id, payload.position)
    with request_fields(PLACE_FIELDS):
        placement = services.aliquot_move(
            actor=actor, aliquot=aliquot, box=box, position=position, reason=payload.reason
        )
    return placement_out(placement)


@router.post(
    "/aliquots/{aliquot_id}/retrieve",
    response={200: PlacementOut, **ERRORS},
    operation_id="aliquot_retrieve",
)
def aliquot_retrieve(
    request: HttpRequest, aliquot_id: IdParam, payload: ReasonIn
) -> dict[str, Any]:
    actor = actor_of(request)
    aliquot = bank_selectors.aliquot_get(actor, aliquot_id)
    selectors.require_operator(actor)
    with request_fields(PLACE_FIELDS):
        ended = services.aliquot_retrieve(actor=actor, aliquot=aliquot, reason=payload.reason)
    return placement_out(ended)


# --- building the hierarchy, moving racks -------------------------------------------------


def _unit_out(actor: Any, pk: int) -> dict[str, Any]:
    u = selectors.unit_get(actor, pk)
    return {
        "id": u.pk,
        "name": u.name,
        "code": u.code,
        "site": u.site.name,
        "kind": u.kind,
        "set_point_c": u.set_point_c,
        "alarm_low_c": u.alarm_low_c,
        "alarm_high_c": u.alarm_high_c,
        "fill_order": u.fill_order,
        "capacity": u.capacity,  # type: ignore[attr-defined]
        "occupied": u.occupied,  # type: ignore[attr-defined]
    }


def _operator(request: HttpRequest) -> Any:
    actor = actor_of(request)
    selectors.require_operator(actor)
    return actor


@router.post("/storage/sites", response={201: SiteOut, **ERRORS}, operation_id="site_create")
def site_create(request: HttpRequest, payload: SiteIn) -> Any:
    actor = _operator(request)
    site = services.site_create(
        actor=actor, name=payload.name, code=payload.code, timezone=payload.timezone
    )
    return Status(
        201, {"id": site.pk, "name": site.name, "code": site.code, "timezone": site.timezone}
    )


@router.post(
    "/storage/units", response={201: UnitOut, **ERRORS}, operation_id="storage_unit_create"
)
def storage_unit_create(request: HttpRequest, payload: UnitIn) -> Any:
    actor = _operator(request)
    site = Site.objects.filter(pk=payload.site_id).first()
    if site is None:
        raise NotFound(_("No such site."), field="site_id")
    unit = services.storage_unit_create(
        actor=actor,
        site=site,
        name=payload.name,
        code=payload.code,
        kind=payload.kind,
        set_point_c=payload.set_point_c,
        alarm_low_c=payload.alarm_low_c,
        alarm_high_c=payload.alarm_high_c,
        fill_order=payload.fill_order,
    )
    return Status(201, _unit_out(actor, unit.pk))


@router.post(
    "/storage/units/{unit_id}/racks", response={201: RackOut, **ERRORS}, operation_id="rack_create"
)
def rack_create(request: HttpRequest, unit_id: IdParam, payload: RackIn) -> Any:
    actor = _operator(request)
    unit = StorageUnit.objects.filter(pk=unit_id).first()
    if unit is None:
        raise NotFound(_("No such storage unit."))
    with request_fields(unnamed="name"):  # the one check naming no field: a name taken
        rack = services.rack_create(actor=actor, unit=unit, name=payload.name)
    return Status(201, {"id": rack.pk, "name": rack.name, "unit_id": rack.unit_id})


@router.post(
    "/storage/box-types", response={201: BoxTypeOut, **ERRORS}, operation_id="box_type_create"
)
def box_type_create(request: HttpRequest, payload: BoxTypeIn) -> Any:
    actor = _operator(request)
    t = services.box_type_create(
        actor=actor,
        name=payload.name,
        rows=payload.rows,
        columns=payload.columns,
        kind=payload.kind,
    )
    return Status(
        201, {"id": t.pk, "name": t.name, "kind": t.kind, "rows": t.rows, "columns": t.columns}
    )


@router.post(
    "/storage/racks/{rack_id}/boxes", response={201: BoxOut, **ERRORS}, operation_id="box_create"
)
def box_create(request: HttpRequest, rack_id: IdParam, payload: BoxIn) -> Any:
    actor = _operator(request)
    rack = Rack.objects.filter(pk=rack_id).first()
    if rack is None:
        raise NotFound(_("No such rack."))
    box_type = BoxType.objects.filter(pk=payload.box_type_id).first()
    if box_type is None:
        raise NotFound(_("No such box type."), field="box_type_id")
    with request_fields(unnamed="name"):  # the one check naming no field: a name taken
        box = services.box_create(
            actor=actor, rack=rack, box_type=box_type, name=payload.name, barcode=payload.barcode
        )
    return Status(201, box_out(box, box_type.capacity, 0))


@router.post(
    "/storage/racks/{rack_id}/move",
    response={200: OccupancyOut, **ERRORS},
    operation_id="rack_move",
)
def rack_move(request: HttpRequest, rack_id: IdParam, payload: RackMoveIn) -> dict[str, Any]:
    actor = _operator(request)
    rack = Rack.objects.filter(pk=rack_id).first()
    unit = StorageUnit.objects.filter(pk=payload.unit_id).first()
    if rack is None:
        raise NotFound(_("No such rack."))
    if unit is None:
        raise NotFound(_("No such storage unit."), field="unit_id")
    with request_fields({"unit": "unit_id"}):
        services.rack_move(actor=actor, rack=rack, unit=unit, reason=payload.reason)
    r = selectors.rack_get(actor, rack_id)
    return {"id": r.pk, "name": r.name, "capacity": r.capacity, "occupied": r.occupied}  # type: ignore[attr-defined]
