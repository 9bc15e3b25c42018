"""API operations of the bank app: aliquots (list with filters, scanner lookup, detail, status,
labels) and donors (masked, reveal). Client users see only their organisation's rows."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from celltrace.api.schemas import ERRORS, READ_ERRORS, Page
from celltrace.bank import labels, selectors, services
from celltrace.bank.models import Aliquot, Donor
from celltrace.bank.schemas import (
    AliquotDetailOut,
    AliquotOut,
    AliquotStatusIn,
    DonorOut,
    DonorRevealIn,
    DonorRevealOut,
)
from celltrace.core.api import actor_of
from celltrace.core.errors import NotFound
from celltrace.core.models import User
from celltrace.core.tenancy import get_visible, sees_all_tenants
from celltrace.storage.models import Placement

router = Router(tags=["bank"])


class AliquotQuery(Schema):
    """The same filters as the search page."""

    q: str = Field(default="", max_length=200, description="Scanned or typed DIN or barcode.")
    donor: str = Field(default="", max_length=40)
    product_type: str = ""
    status: str = ""
    unit: int | None = Field(default=None, description="Storage unit id (operator staff).")
    box: int | None = Field(default=None, description="Box id (operator staff).")
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


def _with_location(qs: QuerySet[Aliquot]) -> QuerySet[Aliquot]:
    return qs.prefetch_related(
        Prefetch(
            "placements",
            queryset=Placement.objects.filter(removed_at__isnull=True).select_related(
                "position__box__rack__unit"
            ),
            to_attr="active_placements",
        )
    )


def aliquot_out(a: Aliquot, actor: User) -> dict[str, Any]:
    active: list[Placement] = getattr(a, "active_placements", [])
    location = None
    if active and sees_all_tenants(actor):
        p = active[0]
        box = p.position.box
        location = {
            "unit": box.rack.unit.code,
            "rack": box.rack.name,
            "box": box.name,
            "box_id": box.pk,
            "position": p.position.label,
            "position_id": p.position_id,
            "placed_at": p.placed_at,
        }
    return {
        "id": a.pk,
        "organisation_id": a.organisation_id,
        "din": a.din,
        "check_character": a.check_character,
        "product_code": a.product_code_text,
        "pdc": a.pdc,
        "isbt_collection_type": a.isbt_collection_type,
        "division": a.division,
        "barcode": a.barcode,
        "product_type": a.product.product_type,
        "donor_reference": a.product.collection.donor.reference,
        "parent_id": a.parent_id,
        "container_type": a.container_type,
        "volume_ul": a.volume_ul,
        "cell_count": a.cell_count,
        "viability_pct": a.viability_pct,
        "expiry": a.expiry,
        "thaw_count": a.thaw_count,
        "status": a.status,
        "stored": bool(active),
        "location": location,
    }


def _detail(actor: User, pk: int) -> dict[str, Any]:
    qs = _with_location(selectors.aliquots_visible(actor).prefetch_related("children"))
    a = get_visible(qs, actor, pk=pk)
    out = aliquot_out(a, actor)
    out["children"] = sorted(c.pk for c in a.children.all())
    return out


@router.get(
    "/aliquots", response={200: Page[AliquotOut], **READ_ERRORS}, operation_id="aliquots_list"
)
def aliquots_list(request: HttpRequest, filters: Query[AliquotQuery]) -> dict[str, Any]:
    actor = actor_of(request)
    flt = selectors.AliquotFilter(
        q=filters.q,
        donor=filters.donor,
        product_type=filters.product_type,
        status=filters.status,
        unit=filters.unit,
        box=filters.box,
    )
    qs = selectors.aliquot_search(actor, flt)
    items = list(_with_location(qs)[filters.offset : filters.offset + filters.limit])
    return {"count": qs.count(), "items": [aliquot_out(a, actor) for a in items]}


@router.get(
    "/aliquots/lookup",
    response={200: AliquotDetailOut, **READ_ERRORS},
    operation_id="aliquots_lookup",
)
def aliquots_lookup(request: HttpRequest, code: str) -> dict[str, Any]:
    """The one aliquot a scanned code identifies; 404 when none or several match."""
    actor = actor_of(request)
    matches = list(
        selectors.aliquot_search(actor, selectors.AliquotFilter(q=code)).values_list(
            "pk", flat=True
        )[:2]
    )
    if len(matches) != 1:
        raise NotFound(
            "No aliquot matches this code."
            if not matches
            else "Several aliquots match; scan the DataMatrix or the aliquot barcode.",
            field="code",
        )
    return _detail(actor, matches[0])


@router.get(
    "/aliquots/labels",
    response={200: None, **READ_ERRORS},
    operation_id="aliquot_labels",
    summary="PDF label sheet (application/pdf) for the given aliquots",
)
def aliquot_labels(
    request: HttpRequest, aliquot: Query[list[int]], layout: str = "a4_vial"
) -> HttpResponse:
    actor = actor_of(request)
    if not sees_all_tenants(actor):
        raise NotFound("Not found.")
    if layout not in labels.LAYOUTS:
        raise HttpError(422, f"layout: one of {', '.join(labels.LAYOUTS)}")
    items = list(selectors.aliquots_visible(actor).filter(pk__in=aliquot[:500]))
    if not items:
        raise NotFound("No such aliquots.")
    services.aliquot_labels_print(actor=actor, aliquots=items, layout_name=layout)
    return HttpResponse(labels.render_sheet(items, layout), content_type="application/pdf")


@router.get(
    "/aliquots/{aliquot_id}",
    response={200: AliquotDetailOut, **READ_ERRORS},
    operation_id="aliquots_get",
)
def aliquots_get(request: HttpRequest, aliquot_id: int) -> dict[str, Any]:
    return _detail(actor_of(request), aliquot_id)


@router.post(
    "/aliquots/{aliquot_id}/status",
    response={200: AliquotDetailOut, **ERRORS},
    operation_id="aliquot_set_status",
)
def aliquot_set_status(
    request: HttpRequest, aliquot_id: int, payload: AliquotStatusIn
) -> dict[str, Any]:
    actor = actor_of(request)
    aliquot = selectors.aliquot_get(actor, aliquot_id)
    services.aliquot_set_status(
        actor=actor,
        aliquot=aliquot,
        status=payload.status,
        reason=payload.reason,
        use=payload.use or "",
    )
    return _detail(actor, aliquot_id)


def donor_out(d: Donor) -> dict[str, Any]:
    return {"id": d.pk, "organisation_id": d.organisation_id, "reference": d.reference, **d.masked}


@router.get("/donors", response={200: Page[DonorOut], **READ_ERRORS}, operation_id="donors_list")
def donors_list(
    request: HttpRequest, reference: str = "", limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    qs = selectors.donors_visible(actor_of(request))
    if reference:
        qs = qs.filter(reference__icontains=reference)
    limit = max(1, min(limit, 500))
    items = list(qs[max(offset, 0) : max(offset, 0) + limit])
    return {"count": qs.count(), "items": [donor_out(d) for d in items]}


@router.get(
    "/donors/{donor_id}", response={200: DonorOut, **READ_ERRORS}, operation_id="donors_get"
)
def donors_get(request: HttpRequest, donor_id: int) -> dict[str, Any]:
    return donor_out(selectors.donor_get(actor_of(request), donor_id))


@router.post(
    "/donors/{donor_id}/reveal",
    response={200: DonorRevealOut, **ERRORS},
    operation_id="donor_reveal",
)
def donor_reveal(request: HttpRequest, donor_id: int, payload: DonorRevealIn) -> dict[str, Any]:
    actor = actor_of(request)
    donor = selectors.donor_get(actor, donor_id)
    values = services.donor_reveal(actor=actor, donor=donor, reason=payload.reason)
    return {"id": donor.pk, "reference": donor.reference, **values}
