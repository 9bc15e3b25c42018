"""API operations of the QC laboratory: requests, samples, tests, results, OOS, certificates.

Client users (and their API tokens) reach only their own organisation's objects; anything else
answers 404. Signing (performed, reviewed, released) goes through ``POST /signatures`` with
``record_type`` ``qc.result`` or ``qc.testrequest``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Query, Router, Status, UploadedFile
from pydantic import Field

from celltrace.api.schemas import ERRORS, READ_ERRORS, IdParam, Page, PageQuery
from celltrace.core.api import actor_of
from celltrace.core.errors import Invalid, NotFound
from celltrace.core.models import Organisation, User
from celltrace.core.tenancy import sees_all_tenants
from celltrace.qc import selectors, services
from celltrace.qc.choices import RequestStatus
from celltrace.qc.models import (
    Certificate,
    Method,
    OosInvestigation,
    Result,
    Test,
    TestPanel,
    TestRequest,
)
from celltrace.qc.schemas import (
    AmendIn,
    CertificateIn,
    CertificateOut,
    MethodOut,
    OosCloseIn,
    OosOut,
    OosPhase1In,
    ReasonIn,
    ReceiptIn,
    RequestDetailOut,
    RequestIn,
    RequestOut,
    ResultIn,
    ResultOut,
    SampleOut,
    TestOut,
    TestsCreateIn,
    TranslateIn,
    VerificationOut,
)
from celltrace.qc.services import SampleSpec

router = Router(tags=["qc"])
MAX_PDF_BYTES = 20 * 1024 * 1024


def _origin(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class RequestFilter(PageQuery):
    status: RequestStatus | None = None


class TestFilter(PageQuery):
    mine: bool = False
    method: str = Field("", max_length=40)


@router.get(
    "/qc/methods", response={200: list[MethodOut], **READ_ERRORS}, operation_id="qc_methods_list"
)
def qc_methods_list(request: HttpRequest) -> list[Any]:
    return list(selectors.methods_catalogue().order_by("method__code"))


@router.get(
    "/qc/requests", response={200: Page[RequestOut], **READ_ERRORS}, operation_id="qc_requests_list"
)
def qc_requests_list(request: HttpRequest, q: Query[RequestFilter]) -> dict[str, Any]:
    qs = (
        selectors.requests_visible(actor_of(request))
        .select_related(None)  # the list needs organisation_id only
        .select_related("specification")
    )
    if q.status:
        qs = qs.filter(status=q.status)
    items = list(qs.order_by("-pk")[q.offset : q.offset + q.limit])
    _attach_method_codes(items)
    return {"count": qs.count(), "items": items}


def _attach_method_codes(items: list[TestRequest]) -> None:
    """Each request's method and panel codes from one query of (request, method) pairs and
    one of (request, panel) pairs, with the small catalogues, instead of a model instance per
    pair (prefetching cost most of the list's time; see bench/qc.py)."""
    ids = [r.pk for r in items]
    for attr, through, target, catalogue in (
        ("method_codes", TestRequest.methods.through, "method_id", Method),
        ("panel_codes", TestRequest.panels.through, "testpanel_id", TestPanel),
    ):
        codes = dict(catalogue.objects.values_list("pk", "code"))
        by_request: dict[int, list[str]] = {pk: [] for pk in ids}
        pairs = through.objects.filter(testrequest_id__in=ids)
        for request_id, target_id in pairs.values_list("testrequest_id", target):
            by_request[request_id].append(codes[target_id])
        for r in items:
            setattr(r, attr, sorted(by_request[r.pk]))


@router.post(
    "/qc/requests", response={201: RequestDetailOut, **ERRORS}, operation_id="qc_requests_create"
)
def qc_requests_create(request: HttpRequest, payload: RequestIn) -> Status[TestRequest]:
    actor = actor_of(request)
    org = None
    if payload.organisation_id is not None:
        org = Organisation.objects.filter(pk=payload.organisation_id).first()
        if org is None or not (sees_all_tenants(actor) or org.pk == actor.organisation_id):
            raise NotFound(_("Not found."), field="organisation_id")
    req = services.request_create(
        actor=actor,
        organisation=org,
        product=payload.product,
        product_type=payload.product_type,
        batch=payload.batch,
        priority=payload.priority,
        notes=payload.notes,
        samples=[
            SampleSpec(s.client_sample_id, s.container, s.description) for s in payload.samples
        ],
        method_codes=payload.method_codes,
        panel_codes=payload.panel_codes,
        submit=payload.submit,
    )
    return Status(201, req)


@router.get(
    "/qc/requests/{request_id}",
    response={200: RequestDetailOut, **READ_ERRORS},
    operation_id="qc_requests_get",
)
def qc_requests_get(request: HttpRequest, request_id: IdParam) -> TestRequest:
    return selectors.request_get(actor_of(request), request_id)


@router.post(
    "/qc/requests/{request_id}/submit",
    response={200: RequestOut, **ERRORS},
    operation_id="qc_requests_submit",
)
def qc_requests_submit(request: HttpRequest, request_id: IdParam) -> TestRequest:
    actor = actor_of(request)
    return services.request_submit(actor=actor, request=selectors.request_get(actor, request_id))


@router.post(
    "/qc/requests/{request_id}/cancel",
    response={200: RequestOut, **ERRORS},
    operation_id="qc_requests_cancel",
)
def qc_requests_cancel(request: HttpRequest, request_id: IdParam, payload: ReasonIn) -> TestRequest:
    actor = actor_of(request)
    req = selectors.request_get(actor, request_id)
    return services.request_cancel(actor=actor, request=req, reason=payload.reason)


@router.post(
    "/qc/requests/{request_id}/receipts",
    response={201: SampleOut, **ERRORS},
    operation_id="qc_samples_receive",
)
def qc_samples_receive(
    request: HttpRequest, request_id: IdParam, payload: ReceiptIn
) -> Status[Any]:
    actor = actor_of(request)
    sample = services.sample_receive(
        actor=actor,
        request=selectors.request_get(actor, request_id),
        scanned_id=payload.scanned_id,
        accept=payload.accept,
        temperature_c=payload.temperature_c,
        container_intact=payload.container_intact,
        label_matches=payload.label_matches,
        rejection_reason=payload.rejection_reason,
    )
    return Status(201, sample)


@router.post(
    "/qc/requests/{request_id}/tests",
    response={201: list[TestOut], **ERRORS},
    operation_id="qc_tests_create",
)
def qc_tests_create(
    request: HttpRequest, request_id: IdParam, payload: TestsCreateIn
) -> Status[Any]:
    actor = actor_of(request)
    req = selectors.request_get(actor, request_id)
    planned = set(req.methods.values_list("code", flat=True))
    analysts: dict[str, User] = {}
    for code, user_id in payload.analysts.items():
        if code not in planned:  # a test is planned per requested method: no key is dropped
            raise Invalid(
                _("The request asks for no method %(code)s; it asks for %(codes)s.")
                % {"code": code, "codes": ", ".join(sorted(planned)) or "-"},
                field=f"analysts.{code}",
            )
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            raise Invalid(_("Unknown analyst."), field=f"analysts.{code}")
        analysts[code] = user
    return Status(201, services.tests_create(actor=actor, request=req, analysts=analysts))


@router.get("/qc/tests", response={200: Page[TestOut], **READ_ERRORS}, operation_id="qc_tests_list")
def qc_tests_list(request: HttpRequest, q: Query[TestFilter]) -> dict[str, Any]:
    actor = actor_of(request)
    if q.mine:
        qs = selectors.worklist(actor, analyst=actor, method_code=q.method)
    else:
        qs = selectors.tests_visible(actor)
        if q.method:
            qs = qs.filter(method_version__method__code=q.method)
    items = list(qs.prefetch_related("results")[q.offset : q.offset + q.limit])
    return {"count": qs.count(), "items": items}


@router.get(
    "/qc/tests/{test_id}", response={200: TestOut, **READ_ERRORS}, operation_id="qc_tests_get"
)
def qc_tests_get(request: HttpRequest, test_id: IdParam) -> Test:
    return selectors.test_get(actor_of(request), test_id)


@router.post(
    "/qc/tests/{test_id}/results",
    response={201: ResultOut, **ERRORS},
    operation_id="qc_results_create",
)
def qc_results_create(request: HttpRequest, test_id: IdParam, payload: ResultIn) -> Status[Result]:
    actor = actor_of(request)
    result = services.result_enter(
        actor=actor,
        test=selectors.test_get(actor, test_id),
        value=payload.value,
        unit=payload.unit,
        comment=payload.comment,
    )
    return Status(201, result)


@router.get(
    "/qc/results/{result_id}",
    response={200: ResultOut, **READ_ERRORS},
    operation_id="qc_results_get",
)
def qc_results_get(request: HttpRequest, result_id: IdParam) -> Result:
    return selectors.result_get(actor_of(request), result_id)


@router.post(
    "/qc/results/{result_id}/invalidate",
    response={200: ResultOut, **ERRORS},
    operation_id="qc_results_invalidate",
)
def qc_results_invalidate(request: HttpRequest, result_id: IdParam, payload: ReasonIn) -> Result:
    actor = actor_of(request)
    result = selectors.result_get(actor, result_id)
    return services.result_invalidate(actor=actor, result=result, reason=payload.reason)


@router.get("/qc/oos", response={200: Page[OosOut], **READ_ERRORS}, operation_id="qc_oos_list")
def qc_oos_list(request: HttpRequest, q: Query[PageQuery]) -> dict[str, Any]:
    qs = selectors.oos_visible(actor_of(request))
    return {"count": qs.count(), "items": list(qs[q.offset : q.offset + q.limit])}


@router.get("/qc/oos/{oos_id}", response={200: OosOut, **READ_ERRORS}, operation_id="qc_oos_get")
def qc_oos_get(request: HttpRequest, oos_id: IdParam) -> OosInvestigation:
    return selectors.oos_get(actor_of(request), oos_id)


@router.post(
    "/qc/oos/{oos_id}/phase1", response={200: OosOut, **ERRORS}, operation_id="qc_oos_phase1"
)
def qc_oos_phase1(request: HttpRequest, oos_id: IdParam, payload: OosPhase1In) -> OosInvestigation:
    actor = actor_of(request)
    return services.oos_complete_phase1(
        actor=actor,
        oos=selectors.oos_get(actor, oos_id),
        assignable_cause=payload.assignable_cause,
        summary=payload.summary,
    )


@router.post(
    "/qc/oos/{oos_id}/close", response={200: OosOut, **ERRORS}, operation_id="qc_oos_close"
)
def qc_oos_close(request: HttpRequest, oos_id: IdParam, payload: OosCloseIn) -> OosInvestigation:
    actor = actor_of(request)
    return services.oos_close(
        actor=actor,
        oos=selectors.oos_get(actor, oos_id),
        summary=payload.summary,
        capa_reference=payload.capa_reference,
        conclusion=payload.conclusion,
        invalidate_result=payload.invalidate_result,
    )


@router.get(
    "/qc/certificates",
    response={200: Page[CertificateOut], **READ_ERRORS},
    operation_id="qc_certificates_list",
)
def qc_certificates_list(request: HttpRequest, q: Query[PageQuery]) -> dict[str, Any]:
    qs = (
        selectors.certificates_visible(actor_of(request))
        .select_related("superseded_by", "translation_of__superseded_by")
        .defer("superseded_by__pdf", "translation_of__pdf", "translation_of__superseded_by__pdf")
    )
    return {"count": qs.count(), "items": list(qs[q.offset : q.offset + q.limit])}


@router.post(
    "/qc/requests/{request_id}/certificates",
    response={201: CertificateOut, **ERRORS},
    operation_id="qc_certificates_issue",
)
def qc_certificates_issue(
    request: HttpRequest, request_id: IdParam, payload: CertificateIn
) -> Status[Certificate]:
    actor = actor_of(request)
    cert = services.certificate_issue(
        actor=actor,
        request=selectors.request_get(actor, request_id),
        language=payload.language,
        verify_base=_origin(request),
    )
    return Status(201, cert)


@router.get(
    "/qc/certificates/{certificate_id}",
    response={200: CertificateOut, **READ_ERRORS},
    operation_id="qc_certificates_get",
)
def qc_certificates_get(request: HttpRequest, certificate_id: IdParam) -> Certificate:
    return selectors.certificate_get(actor_of(request), certificate_id)


@router.post(
    "/qc/certificates/{certificate_id}/amend",
    response={201: CertificateOut, **ERRORS},
    operation_id="qc_certificates_amend",
)
def qc_certificates_amend(
    request: HttpRequest, certificate_id: IdParam, payload: AmendIn
) -> Status[Certificate]:
    actor = actor_of(request)
    cert = services.certificate_amend(
        actor=actor,
        certificate=selectors.certificate_get(actor, certificate_id),
        reason=payload.reason,
        language=payload.language,
        verify_base=_origin(request),
    )
    return Status(201, cert)


@router.post(
    "/qc/certificates/{certificate_id}/translations",
    response={201: CertificateOut, **ERRORS},
    operation_id="qc_certificates_translate",
)
def qc_certificates_translate(
    request: HttpRequest, certificate_id: IdParam, payload: TranslateIn
) -> Status[Certificate]:
    """Issue the certificate's (latest) version in the other language: same version and
    results, its own PDF, SHA-256 and UUID; not an amendment."""
    actor = actor_of(request)
    cert = services.certificate_translate(
        actor=actor,
        certificate=selectors.certificate_get(actor, certificate_id),
        language=payload.language,
        verify_base=_origin(request),
    )
    return Status(201, cert)


@router.get(
    "/qc/certificates/{certificate_id}/pdf",
    response={200: None, **READ_ERRORS},
    operation_id="qc_certificates_pdf",
)
def qc_certificates_pdf(request: HttpRequest, certificate_id: IdParam) -> HttpResponse:
    cert = selectors.certificate_get(actor_of(request), certificate_id)
    return pdf_response(cert)


def pdf_response(cert: Certificate) -> HttpResponse:
    response = HttpResponse(bytes(cert.pdf), content_type="application/pdf")
    # a translation shares its number with the version it translates: name the language
    name = f"{cert.number}-{cert.language}" if cert.translation_of_id else cert.number
    response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    response["X-Content-SHA256"] = cert.sha256
    return response


@router.post(
    "/qc/verify/{certificate_uuid}",
    response={200: VerificationOut, **READ_ERRORS},
    operation_id="qc_certificates_verify",
    auth=None,
)
def qc_certificates_verify(
    request: HttpRequest, certificate_uuid: uuid.UUID, file: File[UploadedFile]
) -> dict[str, Any]:
    """Public: does this PDF's SHA-256 match the certificate issued (and is it superseded)?"""
    cert = selectors.certificate_public(str(certificate_uuid))
    if cert is None:
        raise NotFound(_("No such certificate."))
    if file.size is not None and file.size > MAX_PDF_BYTES:
        raise Invalid(_("The file is too large to be a certificate."), field="file")
    outcome = services.certificate_verify(certificate=cert, pdf=file.read())
    original = cert.translation_of
    return {
        "certificate": cert.number,
        "version": cert.version,
        "language": cert.language,
        "translation_of": original.number if original else None,
        "translation_of_language": original.language if original else None,
        "issued_at": cert.issued_at,
        "matches": outcome.matches,
        "sha256": outcome.sha256,
        "superseded_by": outcome.superseded_by.number if outcome.superseded_by else None,
    }


def _mount_sub_routers() -> None:
    """Dashboards, the catalogue and computed results keep their operations in their own modules."""
    from celltrace.qc import api_catalogue, api_compute, api_dashboard

    for sub in (api_dashboard.router, api_catalogue.router, api_compute.router):
        router.add_router("", sub)


_mount_sub_routers()
