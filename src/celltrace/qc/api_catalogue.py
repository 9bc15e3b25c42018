"""API operations of the QC method catalogue, specifications, test panels, sample labels and
sample storage.

Proposed method and specification versions take effect when QA signs them ``approved`` with
``POST /signatures`` (``record_type`` ``qc.methodversion`` or ``qc.specification``). Client
users read the effective catalogue and the panels they may request; specifications, storage
and labels are the laboratory's (404 to clients).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Status
from pydantic import Field

from celltrace.api.schemas import ERRORS, READ_ERRORS, IdParam, Page, PageQuery
from celltrace.core.api import actor_of
from celltrace.core.choices import OrganisationKind
from celltrace.core.errors import DomainError, NotFound
from celltrace.core.models import Organisation, User
from celltrace.core.tenancy import sees_all_tenants
from celltrace.qc import sample_labels, selectors, services
from celltrace.qc.api import router as requests_router
from celltrace.qc.choices import SampleStatus
from celltrace.qc.models import MethodVersion, Sample, Specification, TestPanel
from celltrace.qc.schemas import (
    MethodCreateIn,
    MethodDetailOut,
    MethodVersionIn,
    MethodVersionOut,
    PanelIn,
    PanelOut,
    PanelUpdateIn,
    ReasonIn,
    SampleRetrieveIn,
    SampleStorageOut,
    SampleStoreIn,
    SpecificationIn,
    SpecificationOut,
)
from celltrace.qc.services import LimitSpec

router = Router(tags=["qc"])


def _lab(actor: User) -> None:
    if not sees_all_tenants(actor):
        raise NotFound(_("Not found."))


def _client(client_id: int | None) -> Organisation | None:
    if client_id is None:
        return None
    org = Organisation.objects.filter(pk=client_id, kind=OrganisationKind.CLIENT).first()
    if org is None:
        raise NotFound(_("Not found."), field="client_id")
    return org


def _method_values(payload: MethodVersionIn) -> dict[str, Any]:
    return payload.model_dump(exclude={"reason", "code"})


# --- methods --------------------------------------------------------------------------------


@router.get(
    "/qc/methods/{code}",
    response={200: MethodDetailOut, **READ_ERRORS},
    operation_id="qc_methods_get",
)
def qc_methods_get(request: HttpRequest, code: str) -> Any:
    """A method with its versions (client users: effective versions only)."""
    return selectors.method_get(actor_of(request), code)


# ``/qc/methods`` already answers GET on the main QC router: a second router's pattern for
# the same path would never be reached (Django stops at the first), so POST joins that router.
@requests_router.post(
    "/qc/methods", response={201: MethodVersionOut, **ERRORS}, operation_id="qc_methods_create"
)
def qc_methods_create(request: HttpRequest, payload: MethodCreateIn) -> Status[MethodVersion]:
    """Add a method; its version 1 awaits QA's approval."""
    actor = actor_of(request)
    _lab(actor)
    version = services.method_create(
        actor=actor, code=payload.code, values=_method_values(payload), reason=payload.reason
    )
    return Status(201, version)


@router.post(
    "/qc/methods/{code}/versions",
    response={201: MethodVersionOut, **ERRORS},
    operation_id="qc_method_versions_create",
)
def qc_method_versions_create(
    request: HttpRequest, code: str, payload: MethodVersionIn
) -> Status[MethodVersion]:
    """Propose the next version of a method (the full content); QA approves it by signing."""
    actor = actor_of(request)
    _lab(actor)
    method = selectors.method_get(actor, code)
    version = services.method_version_propose(
        actor=actor, method=method, values=_method_values(payload), reason=payload.reason
    )
    return Status(201, version)


@router.post(
    "/qc/methods/{code}/versions/{version}/withdraw",
    response={200: MethodVersionOut, **ERRORS},
    operation_id="qc_method_versions_withdraw",
)
def qc_method_versions_withdraw(
    request: HttpRequest, code: str, version: IdParam, payload: ReasonIn
) -> MethodVersion:
    actor = actor_of(request)
    _lab(actor)
    method = selectors.method_get(actor, code)
    mv = MethodVersion.objects.filter(method=method, version=version).first()
    if mv is None:
        raise NotFound(_("Not found."))
    return services.method_version_withdraw(actor=actor, version=mv, reason=payload.reason)


# --- specifications -------------------------------------------------------------------------


class SpecificationFilter(PageQuery):
    product_type: str = Field("", max_length=100)
    code: str = Field("", max_length=60)
    current: bool = False


@router.get(
    "/qc/specifications",
    response={200: Page[SpecificationOut], **READ_ERRORS},
    operation_id="qc_specifications_list",
)
def qc_specifications_list(request: HttpRequest, q: Query[SpecificationFilter]) -> dict[str, Any]:
    """Specification versions (laboratory staff), filtered by product type, code or currency."""
    actor = actor_of(request)
    _lab(actor)
    qs = selectors.specifications(actor).order_by("code", "-version")
    if q.product_type:
        qs = qs.filter(product_type__iexact=q.product_type)
    if q.code:
        qs = qs.filter(code=q.code)
    if q.current:
        qs = qs.filter(is_current=True)
    return {"count": qs.count(), "items": list(qs[q.offset : q.offset + q.limit])}


@router.get(
    "/qc/specifications/{spec_id}",
    response={200: SpecificationOut, **READ_ERRORS},
    operation_id="qc_specifications_get",
)
def qc_specifications_get(request: HttpRequest, spec_id: IdParam) -> Specification:
    return selectors.specification_get(actor_of(request), spec_id)


@router.post(
    "/qc/specifications",
    response={201: SpecificationOut, **ERRORS},
    operation_id="qc_specifications_create",
)
def qc_specifications_create(
    request: HttpRequest, payload: SpecificationIn
) -> Status[Specification]:
    """Propose a specification or the next version of one; an error in a limit names it by
    its index in ``limits``, as validation errors do (``limits.0.lower``). QA approves it by
    signing."""
    actor = actor_of(request)
    _lab(actor)
    try:
        spec = services.specification_propose(
            actor=actor,
            code=payload.code,
            title=payload.title,
            product_type=payload.product_type,
            client=_client(payload.client_id),
            rounding_mode=payload.rounding_mode,
            limits=[LimitSpec(**li.spec_values()) for li in payload.limits],
            reason=payload.reason,
        )
    except DomainError as exc:
        exc.field = _limit_by_index(exc.field, [li.method_code for li in payload.limits])
        raise
    return Status(201, spec)


def _limit_by_index(field: str | None, codes: list[str]) -> str | None:
    """The service names a limit by its method (``limits.viability.lower``); the request by
    its index in ``limits`` (``limits.0.lower``)."""
    parts = (field or "").split(".")
    if len(parts) < 2 or parts[0] != "limits" or parts[1] not in codes:
        return field
    return ".".join(["limits", str(codes.index(parts[1])), *parts[2:]])


@router.post(
    "/qc/specifications/{spec_id}/withdraw",
    response={200: SpecificationOut, **ERRORS},
    operation_id="qc_specifications_withdraw",
)
def qc_specifications_withdraw(
    request: HttpRequest, spec_id: IdParam, payload: ReasonIn
) -> Specification:
    actor = actor_of(request)
    spec = selectors.specification_get(actor, spec_id)
    return services.specification_withdraw(actor=actor, spec=spec, reason=payload.reason)


# --- panels ---------------------------------------------------------------------------------


@router.get(
    "/qc/panels", response={200: Page[PanelOut], **READ_ERRORS}, operation_id="qc_panels_list"
)
def qc_panels_list(request: HttpRequest, q: Query[PageQuery]) -> dict[str, Any]:
    """Panels the caller may see: all for the laboratory; active global and own for clients."""
    qs = selectors.panels_visible(actor_of(request))
    return {"count": qs.count(), "items": list(qs[q.offset : q.offset + q.limit])}


@router.get(
    "/qc/panels/{panel_id}", response={200: PanelOut, **READ_ERRORS}, operation_id="qc_panels_get"
)
def qc_panels_get(request: HttpRequest, panel_id: IdParam) -> TestPanel:
    return selectors.panel_get(actor_of(request), panel_id)


@router.post("/qc/panels", response={201: PanelOut, **ERRORS}, operation_id="qc_panels_create")
def qc_panels_create(request: HttpRequest, payload: PanelIn) -> Status[TestPanel]:
    actor = actor_of(request)
    _lab(actor)
    panel = services.panel_create(
        actor=actor,
        code=payload.code,
        name=payload.name,
        description=payload.description,
        method_codes=payload.method_codes,
        product_type=payload.product_type,
        client=_client(payload.client_id),
        is_active=payload.is_active,
    )
    return Status(201, panel)


@router.put(
    "/qc/panels/{panel_id}", response={200: PanelOut, **ERRORS}, operation_id="qc_panels_update"
)
def qc_panels_update(request: HttpRequest, panel_id: IdParam, payload: PanelUpdateIn) -> TestPanel:
    actor = actor_of(request)
    _lab(actor)
    panel = selectors.panel_get(actor, panel_id)
    return services.panel_update(
        actor=actor,
        panel=panel,
        name=payload.name,
        description=payload.description,
        method_codes=payload.method_codes,
        product_type=payload.product_type,
        client=_client(payload.client_id),
        is_active=payload.is_active,
        reason=payload.reason,
    )


# --- sample labels and storage --------------------------------------------------------------


@router.get(
    "/qc/requests/{request_id}/labels",
    response={200: None, **READ_ERRORS},
    operation_id="qc_sample_labels_pdf",
)
def qc_sample_labels_pdf(request: HttpRequest, request_id: IdParam) -> HttpResponse:
    """The label sheet (A4, 48 × 25 mm labels; PDF) of the request's samples not rejected."""
    actor = actor_of(request)
    _lab(actor)
    req = selectors.request_get(actor, request_id)
    samples = list(
        req.samples.select_related("request", "organisation")
        .exclude(status=SampleStatus.REJECTED)
        .order_by("pk")
    )
    services.sample_labels_print(actor=actor, request=req, samples=samples)
    response = HttpResponse(sample_labels.render_pdf(samples), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{req.number}-labels.pdf"'
    return response


def _storage(sample: Sample) -> dict[str, Any]:
    placements = list(selectors.sample_placements(sample))
    return {
        "id": sample.pk,
        "number": sample.number,
        "client_sample_id": sample.client_sample_id,
        "status": sample.status,
        "custodian": sample.custodian.full_name if sample.custodian else None,
        "location": next((p for p in placements if p.removed_at is None), None),
        "placements": placements,
    }


@router.get(
    "/qc/samples/{sample_id}/storage",
    response={200: SampleStorageOut, **READ_ERRORS},
    operation_id="qc_samples_storage",
)
def qc_samples_storage(request: HttpRequest, sample_id: IdParam) -> dict[str, Any]:
    """Where a sample is and where it has been (laboratory)."""
    actor = actor_of(request)
    _lab(actor)
    return _storage(selectors.sample_get(actor, sample_id))


@router.post(
    "/qc/samples/{sample_id}/store",
    response={200: SampleStorageOut, **ERRORS},
    operation_id="qc_samples_store",
)
def qc_samples_store(
    request: HttpRequest, sample_id: IdParam, payload: SampleStoreIn
) -> dict[str, Any]:
    from celltrace.storage import selectors as storage_selectors

    actor = actor_of(request)
    _lab(actor)
    sample = selectors.sample_get(actor, sample_id)
    box = storage_selectors.box_by_code(actor, payload.box)
    position = storage_selectors.position_in_box(box, payload.position)
    services.sample_store(actor=actor, sample=sample, position=position, reason=payload.reason)
    return _storage(selectors.sample_get(actor, sample_id))


@router.post(
    "/qc/samples/{sample_id}/retrieve",
    response={200: SampleStorageOut, **ERRORS},
    operation_id="qc_samples_retrieve",
)
def qc_samples_retrieve(
    request: HttpRequest, sample_id: IdParam, payload: SampleRetrieveIn
) -> dict[str, Any]:
    actor = actor_of(request)
    _lab(actor)
    sample = selectors.sample_get(actor, sample_id)
    services.sample_retrieve(
        actor=actor, sample=sample, purpose=payload.purpose, reason=payload.reason
    )
    return _storage(selectors.sample_get(actor, sample_id))
