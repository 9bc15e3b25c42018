"""API operations of the bank app: aliquots (list with filters, scanner lookup, detail, status,
labels) and donors (masked, reveal). Client users see only their organisation's rows."""

from __future__ import annotations

from typing import Annotated, Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from celltrace.api.errors import request_fields
from celltrace.api.schemas import ERRORS, READ_ERRORS, IdParam, Offset, Page
from celltrace.audit import signing
from celltrace.bank import labels, selectors, services
from celltrace.bank.choices import AliquotStatus, DistributionStatus, ProductType
from celltrace.bank.models import Aliquot, Collection, Consent, Distribution, Donor
from celltrace.bank.schemas import (
    AliquotDetailOut,
    AliquotOut,
    AliquotStatusIn,
    CollectionIn,
    CollectionOut,
    ConsentIn,
    ConsentOut,
    DistributionIn,
    DistributionOut,
    DivideIn,
    DonorIn,
    DonorOut,
    DonorRevealIn,
    DonorRevealOut,
    ProcessIn,
    ProcessOut,
    ReasonIn,
)
from celltrace.core.api import actor_of
from celltrace.core.errors import Invalid, NotFound
from celltrace.core.models import Organisation, User
from celltrace.core.tenancy import get_visible, sees_all_tenants
from celltrace.storage import selectors as storage_selectors
from celltrace.storage.models import Placement

router = Router(tags=["bank"])
MAX_LABELS = 500  # aliquots per label sheet through the API


class AliquotQuery(Schema):
    """The same filters as the search page."""

    q: str = Field(default="", max_length=200, description="Scanned or typed DIN or barcode.")
    donor: str = Field(default="", max_length=40)
    product_type: ProductType | None = None
    status: AliquotStatus | None = None
    unit: IdParam | None = Field(default=None, description="Storage unit id (operator staff).")
    box: IdParam | None = Field(default=None, description="Box id (operator staff).")
    limit: int = Field(default=100, ge=1, le=500)
    offset: Offset = 0


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
        product_type=filters.product_type or "",
        status=filters.status or "",
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
def aliquots_lookup(
    request: HttpRequest, code: Annotated[str, Field(min_length=1, max_length=200)]
) -> dict[str, Any]:
    """The one aliquot a scanned code identifies; 404 when none or several match."""
    actor = actor_of(request)
    matches = list(
        selectors.aliquot_search(actor, selectors.AliquotFilter(q=code)).values_list(
            "pk", flat=True
        )[:2]
    )
    if len(matches) != 1:
        raise NotFound(
            _("No aliquot matches this code.")
            if not matches
            else _("Several aliquots match; scan the DataMatrix or the aliquot barcode."),
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
    request: HttpRequest, aliquot: Query[list[IdParam]], layout: str = "a4_vial"
) -> HttpResponse:
    actor = actor_of(request)
    if not sees_all_tenants(actor):
        raise NotFound(_("Not found."))
    if layout not in labels.LAYOUTS:
        raise Invalid(
            _("layout: one of %(layouts)s.") % {"layouts": ", ".join(labels.LAYOUTS)},
            field="layout",
        )
    if not aliquot:
        raise Invalid(_("Name at least one aliquot."), field="aliquot")
    if len(aliquot) > MAX_LABELS:
        raise Invalid(
            _("At most %(n)s aliquots per label sheet; split the list.") % {"n": MAX_LABELS},
            field="aliquot",
        )
    items = list(selectors.aliquots_visible(actor).filter(pk__in=aliquot))
    missing = sorted(set(aliquot) - {a.pk for a in items})
    if missing:
        raise NotFound(
            _("No such aliquots: %(ids)s.") % {"ids": ", ".join(str(i) for i in missing[:20])},
            field="aliquot",
        )
    services.aliquot_labels_print(actor=actor, aliquots=items, layout_name=layout)
    return HttpResponse(labels.render_sheet(items, layout), content_type="application/pdf")


@router.get(
    "/aliquots/{aliquot_id}",
    response={200: AliquotDetailOut, **READ_ERRORS},
    operation_id="aliquots_get",
)
def aliquots_get(request: HttpRequest, aliquot_id: IdParam) -> dict[str, Any]:
    return _detail(actor_of(request), aliquot_id)


@router.post(
    "/aliquots/{aliquot_id}/status",
    response={200: AliquotDetailOut, **ERRORS},
    operation_id="aliquot_set_status",
)
def aliquot_set_status(
    request: HttpRequest, aliquot_id: IdParam, payload: AliquotStatusIn
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
    request: HttpRequest,
    reference: Annotated[str, Field(max_length=40)] = "",
    limit: Annotated[int, Field(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    qs = selectors.donors_visible(actor_of(request))
    if reference:
        qs = qs.filter(reference__icontains=reference)
    items = list(qs[offset : offset + limit])
    return {"count": qs.count(), "items": [donor_out(d) for d in items]}


@router.get(
    "/donors/{donor_id}", response={200: DonorOut, **READ_ERRORS}, operation_id="donors_get"
)
def donors_get(request: HttpRequest, donor_id: IdParam) -> dict[str, Any]:
    return donor_out(selectors.donor_get(actor_of(request), donor_id))


@router.post(
    "/donors/{donor_id}/reveal",
    response={200: DonorRevealOut, **ERRORS},
    operation_id="donor_reveal",
)
def donor_reveal(request: HttpRequest, donor_id: IdParam, payload: DonorRevealIn) -> dict[str, Any]:
    actor = actor_of(request)
    donor = selectors.donor_get(actor, donor_id)
    values = services.donor_reveal(actor=actor, donor=donor, reason=payload.reason)
    return {"id": donor.pk, "reference": donor.reference, **values}


# --- registration, processing, distributions ------------------------------------------------


def _require_operator(actor: User) -> None:
    if not sees_all_tenants(actor):
        raise NotFound(_("Not found."))


@router.post("/donors", response={201: DonorOut, **ERRORS}, operation_id="donor_create")
def donor_create(request: HttpRequest, payload: DonorIn) -> Any:
    actor = actor_of(request)
    _require_operator(actor)
    try:
        org = Organisation.objects.get(pk=payload.organisation_id, is_active=True)
    except Organisation.DoesNotExist as exc:
        raise NotFound(_("No such organisation."), field="organisation_id") from exc
    donor = services.donor_create(
        actor=actor,
        organisation=org,
        reference=payload.reference,
        name=payload.name,
        national_id=payload.national_id,
        phone=payload.phone,
        date_of_birth=payload.date_of_birth,
    )
    return Status(201, donor_out(donor))


def consent_out(c: Consent) -> dict[str, Any]:
    return {
        "id": c.pk,
        "donor_id": c.donor_id,
        "version": c.version,
        "signed_on": c.signed_on,
        "storage": c.scope_storage,
        "clinical": c.scope_clinical,
        "research": c.scope_research,
        "withdrawn_at": c.withdrawn_at,
    }


@router.get(
    "/donors/{donor_id}/consents",
    response={200: list[ConsentOut], **READ_ERRORS},
    operation_id="donor_consents_list",
)
def donor_consents_list(request: HttpRequest, donor_id: IdParam) -> list[dict[str, Any]]:
    donor = selectors.donor_get(actor_of(request), donor_id)
    return [consent_out(c) for c in donor.consents.all()]


@router.post(
    "/donors/{donor_id}/consents",
    response={201: ConsentOut, **ERRORS},
    operation_id="consent_record",
)
def consent_record(request: HttpRequest, donor_id: IdParam, payload: ConsentIn) -> Any:
    actor = actor_of(request)
    donor = selectors.donor_get(actor, donor_id)
    _require_operator(actor)
    consent = services.consent_record(
        actor=actor,
        donor=donor,
        version=payload.version,
        signed_on=payload.signed_on,
        storage=payload.storage,
        clinical=payload.clinical,
        research=payload.research,
    )
    return Status(201, consent_out(consent))


@router.post(
    "/consents/{consent_id}/withdraw",
    response={200: ConsentOut, **ERRORS},
    operation_id="consent_withdraw",
)
def consent_withdraw(
    request: HttpRequest, consent_id: IdParam, payload: ReasonIn
) -> dict[str, Any]:
    actor = actor_of(request)
    consent = get_visible(Consent.objects.all(), actor, pk=consent_id)
    _require_operator(actor)
    return consent_out(
        services.consent_withdraw(actor=actor, consent=consent, reason=payload.reason)
    )


def collection_out(c: Collection) -> dict[str, Any]:
    return {
        "id": c.pk,
        "organisation_id": c.organisation_id,
        "donor_id": c.donor_id,
        "donor_reference": c.donor.reference,
        "din": c.din,
        "check_character": c.check_character,
        "collection_type": c.collection_type,
        "collected_at": c.collected_at,
        "volume_ml": c.volume_ml,
        "collection_site": c.collection_site,
        "sprec_code": c.sprec_code,
        "sprec_version": c.sprec_version,
        "product_ids": sorted(p.pk for p in c.products.all()),
    }


@router.post(
    "/donors/{donor_id}/collections",
    response={201: CollectionOut, **ERRORS},
    operation_id="collection_create",
)
def collection_create(request: HttpRequest, donor_id: IdParam, payload: CollectionIn) -> Any:
    actor = actor_of(request)
    donor = selectors.donor_get(actor, donor_id)
    _require_operator(actor)
    collection = services.collection_create(
        actor=actor,
        donor=donor,
        collection_type=payload.collection_type,
        collected_at=payload.collected_at,
        volume_ml=payload.volume_ml,
        collection_site=payload.collection_site,
        sprec_code=payload.sprec_code,
        din=payload.din,
    )
    return Status(201, collection_out(collection))


@router.get(
    "/collections/{collection_id}",
    response={200: CollectionOut, **READ_ERRORS},
    operation_id="collections_get",
)
def collections_get(request: HttpRequest, collection_id: IdParam) -> dict[str, Any]:
    return collection_out(selectors.collection_get(actor_of(request), collection_id))


@router.post(
    "/collections/{collection_id}/process",
    response={201: ProcessOut, **ERRORS},
    operation_id="collection_process",
)
def collection_process(request: HttpRequest, collection_id: IdParam, payload: ProcessIn) -> Any:
    actor = actor_of(request)
    collection = selectors.collection_get(actor, collection_id)
    _require_operator(actor)
    unit = None
    if payload.unit_id is not None:
        with request_fields(missing="unit_id"):
            unit = storage_selectors.unit_get(actor, payload.unit_id)
    result = services.collection_process(
        actor=actor,
        collection=collection,
        product_type=payload.product_type,
        pdc=payload.pdc,
        isbt_collection_type=payload.isbt_collection_type,
        count=payload.count,
        container_type=payload.container_type,
        volume_ul=payload.volume_ul,
        cell_count=payload.cell_count,
        viability_pct=payload.viability_pct,
        expiry=payload.expiry,
        processed_at=payload.processed_at,
        place=payload.place,
        unit=unit,
        reason=payload.reason,
    )
    qs = _with_location(
        selectors.aliquots_visible(actor).filter(batch=result.batch).order_by("division")
    )
    return Status(
        201,
        {
            "batch_id": result.batch.pk,
            "product_id": result.product.pk,
            "ledger_seq": result.ledger_seq,
            "placed": result.placed,
            "aliquots": [aliquot_out(a, actor) for a in qs],
        },
    )


@router.post(
    "/aliquots/{aliquot_id}/children",
    response={201: list[AliquotOut], **ERRORS},
    operation_id="aliquot_divide",
    summary="Divide an aliquot in stock into child aliquots (all or nothing)",
)
def aliquot_divide(request: HttpRequest, aliquot_id: IdParam, payload: DivideIn) -> Any:
    actor = actor_of(request)
    parent = selectors.aliquot_get(actor, aliquot_id)
    _require_operator(actor)
    with request_fields({"parent": None}):  # the parent is the address's aliquot
        made = services.aliquot_divide(
            actor=actor,
            parent=parent,
            count=payload.count,
            volume_ul=payload.volume_ul,
            container_type=payload.container_type or "",
            cell_count=payload.cell_count,
        )
    qs = _with_location(selectors.aliquots_visible(actor).filter(pk__in=[a.pk for a in made]))
    return Status(201, [aliquot_out(a, actor) for a in qs.order_by("division")])


def distribution_out(d: Distribution) -> dict[str, Any]:
    return {
        "id": d.pk,
        "number": d.number,
        "organisation_id": d.organisation_id,
        "recipient_organisation_id": d.recipient_organisation_id,
        "recipient_name": d.recipient_name,
        "recipient_address": d.recipient_address,
        "intended_use": d.intended_use,
        "shipping_conditions": d.shipping_conditions,
        "shipping_notes": d.shipping_notes,
        "status": d.status,
        "created_at": d.created_at,
        "created_by": d.created_by.full_name or d.created_by.username,
        "released_at": d.released_at,
        "cancelled_at": d.cancelled_at,
        "aliquot_ids": sorted(d.items.values_list("aliquot_id", flat=True)),
        "signatures": [
            f"{m.printed_name} · {m.meaning} · {m.signed_at_utc} · {m.status}"
            for m in signing.manifestations(d)
        ],
    }


@router.get(
    "/distributions",
    response={200: Page[DistributionOut], **READ_ERRORS},
    operation_id="distributions_list",
)
def distributions_list(
    request: HttpRequest,
    status: DistributionStatus | None = None,
    limit: Annotated[int, Field(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    qs = selectors.distributions_visible(actor_of(request))
    if status:
        qs = qs.filter(status=status)
    items = list(qs[offset : offset + limit])
    return {"count": qs.count(), "items": [distribution_out(d) for d in items]}


@router.post(
    "/distributions",
    response={201: DistributionOut, **ERRORS},
    operation_id="distribution_create",
)
def distribution_create(request: HttpRequest, payload: DistributionIn) -> Any:
    """Draft a distribution; QA releases it with ``POST /signatures`` (record type
    ``bank.distribution``, meaning ``released``), which issues the aliquots."""
    actor = actor_of(request)
    _require_operator(actor)
    aliquots = list(selectors.aliquots_visible(actor).filter(pk__in=payload.aliquot_ids))
    missing = sorted(set(payload.aliquot_ids) - {a.pk for a in aliquots})
    if missing:
        raise NotFound(
            _("No such aliquots: %(ids)s.") % {"ids": ", ".join(str(i) for i in missing[:20])},
            field="aliquot_ids",
        )
    recipient = None
    if payload.recipient_organisation_id is not None:
        recipient = Organisation.objects.filter(pk=payload.recipient_organisation_id).first()
        if recipient is None:
            raise NotFound(_("No such organisation."), field="recipient_organisation_id")
    names = {"aliquots": "aliquot_ids", "recipient_organisation": "recipient_organisation_id"}
    with request_fields(names):
        dist = services.distribution_create(
            actor=actor,
            aliquots=aliquots,
            recipient_organisation=recipient,
            recipient_name=payload.recipient_name,
            recipient_address=payload.recipient_address,
            intended_use=payload.intended_use,
            shipping_conditions=payload.shipping_conditions,
            shipping_notes=payload.shipping_notes,
            reason=payload.reason,
        )
    return Status(201, distribution_out(selectors.distribution_get(actor, dist.pk)))


@router.get(
    "/distributions/{distribution_id}",
    response={200: DistributionOut, **READ_ERRORS},
    operation_id="distributions_get",
)
def distributions_get(request: HttpRequest, distribution_id: IdParam) -> dict[str, Any]:
    return distribution_out(selectors.distribution_get(actor_of(request), distribution_id))


@router.post(
    "/distributions/{distribution_id}/cancel",
    response={200: DistributionOut, **ERRORS},
    operation_id="distribution_cancel",
)
def distribution_cancel(
    request: HttpRequest, distribution_id: IdParam, payload: ReasonIn
) -> dict[str, Any]:
    actor = actor_of(request)
    dist = selectors.distribution_get(actor, distribution_id)
    _require_operator(actor)
    services.distribution_cancel(actor=actor, distribution=dist, reason=payload.reason)
    return distribution_out(selectors.distribution_get(actor, distribution_id))
