"""Reads of the QC laboratory, scoped to what the acting user may see.

Laboratory staff see every client's rows. A client user sees only its own organisation's
requests, samples, tests and certificates, and its results and OOS investigations only once
the request is released; everything else answers :class:`~celltrace.core.errors.NotFound`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import CharField, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from celltrace.audit.choices import SignatureMeaning
from celltrace.audit.models import Signature
from celltrace.core.models import User
from celltrace.core.tenancy import get_visible, scope, sees_all_tenants
from celltrace.qc.choices import OosPhase, RequestStatus, ResultStatus
from celltrace.qc.models import (
    Certificate,
    Method,
    MethodVersion,
    OosInvestigation,
    Result,
    Sample,
    SamplePlacement,
    Specification,
    SpecificationLimit,
    Test,
    TestPanel,
    TestRequest,
)

RELEASED = (RequestStatus.RELEASED, RequestStatus.CERTIFIED)


def requests_visible(actor: User) -> QuerySet[TestRequest]:
    return scope(TestRequest.objects.select_related("organisation"), actor)


def request_get(actor: User, pk: int | str) -> TestRequest:
    return get_visible(requests_visible(actor), actor, pk=pk)


def samples_visible(actor: User) -> QuerySet[Sample]:
    return scope(Sample.objects.select_related("request"), actor)


def tests_visible(actor: User) -> QuerySet[Test]:
    return scope(
        Test.objects.select_related("request", "sample", "method_version__method", "analyst"),
        actor,
    )


def test_get(actor: User, pk: int | str) -> Test:
    return get_visible(tests_visible(actor), actor, pk=pk)


def results_visible(actor: User) -> QuerySet[Result]:
    qs = scope(
        Result.objects.select_related(
            "test__request", "test__sample", "test__method_version__method", "entered_by"
        ),
        actor,
    )
    if not sees_all_tenants(actor):
        qs = qs.filter(test__request__status__in=RELEASED)
    return qs


def result_get(actor: User, pk: int | str) -> Result:
    return get_visible(results_visible(actor), actor, pk=pk)


def results_signable(actor: User) -> QuerySet[Result]:
    """Results can be signed, and their signatures listed, by laboratory staff only."""
    if not sees_all_tenants(actor):
        return Result.objects.none()
    return results_visible(actor)


def oos_visible(actor: User) -> QuerySet[OosInvestigation]:
    """Laboratory staff: every investigation. A client: its own, once the request is
    released, like its results (an investigation carries the result it is about)."""
    qs = scope(
        OosInvestigation.objects.select_related(
            "request", "result__test__method_version__method", "opened_by"
        ),
        actor,
    )
    if not sees_all_tenants(actor):
        qs = qs.filter(request__status__in=RELEASED)
    return qs


def oos_get(actor: User, pk: int | str) -> OosInvestigation:
    return get_visible(oos_visible(actor), actor, pk=pk)


def certificates_visible(actor: User) -> QuerySet[Certificate]:
    return scope(Certificate.objects.select_related("request").defer("pdf"), actor)


def certificate_get(actor: User, pk: int | str) -> Certificate:
    return get_visible(scope(Certificate.objects.select_related("request"), actor), actor, pk=pk)


def certificate_public(uuid: str) -> Certificate | None:
    """The certificate behind a QR code (public verification page), or None."""
    try:
        return Certificate.objects.select_related("request").defer("pdf").get(uuid=uuid)
    except (Certificate.DoesNotExist, ValueError, ValidationError):
        return None


def request_detail(actor: User, pk: int | str) -> TestRequest:
    """A request with its samples, tests and their results prefetched."""
    qs = requests_visible(actor).prefetch_related(
        Prefetch("samples", queryset=Sample.objects.order_by("pk")),
        Prefetch(
            "tests",
            queryset=Test.objects.select_related("method_version__method", "analyst", "sample")
            .prefetch_related(
                Prefetch(
                    "results", queryset=Result.objects.select_related("entered_by").order_by("pk")
                )
            )
            .order_by("pk"),
        ),
    )
    return get_visible(qs, actor, pk=pk)


def methods_catalogue() -> QuerySet[MethodVersion]:
    return MethodVersion.objects.filter(is_current=True).select_related("method")


def methods() -> QuerySet[Method]:
    return Method.objects.order_by("code")


def specifications(actor: User) -> QuerySet[Specification]:
    if not sees_all_tenants(actor):
        return Specification.objects.none()
    return Specification.objects.select_related("client").prefetch_related("limits__method")


def _signed(meaning: str) -> Exists:
    return Exists(
        Signature.objects.filter(
            record_type="qc.result",
            record_id=Cast(OuterRef("pk"), output_field=CharField()),
            meaning=meaning,
            withdrawal__isnull=True,
        )
    )


def worklist(actor: User, *, analyst: User | None = None, method_code: str = "") -> QuerySet[Test]:
    """Tests of requests in testing that still need a result or the analyst's signature."""
    if not sees_all_tenants(actor):
        return Test.objects.none()
    pending_results = Result.objects.filter(test=OuterRef("pk"), status=ResultStatus.VALID)
    unsigned = (
        Result.objects.filter(test=OuterRef("pk"), status=ResultStatus.VALID)
        .annotate(performed=_signed(SignatureMeaning.PERFORMED))
        .filter(performed=False)
    )
    qs = (
        tests_visible(actor)
        .filter(request__status=RequestStatus.IN_TESTING)
        .annotate(has_result=Exists(pending_results), unsigned=Exists(unsigned))
        .filter(Q(has_result=False) | Q(unsigned=True))
    )
    if analyst is not None:
        qs = qs.filter(analyst=analyst)
    if method_code:
        qs = qs.filter(method_version__method__code=method_code)
    return qs.order_by("due_on", "pk")


def review_queue(actor: User) -> QuerySet[Result]:
    """Valid results signed performed but not yet reviewed (laboratory staff only)."""
    if not sees_all_tenants(actor):
        return Result.objects.none()
    return (
        results_visible(actor)
        .filter(status=ResultStatus.VALID, test__request__status=RequestStatus.IN_TESTING)
        .annotate(
            performed=_signed(SignatureMeaning.PERFORMED),
            reviewed=_signed(SignatureMeaning.REVIEWED),
        )
        .filter(performed=True, reviewed=False)
        .order_by("entered_at")
    )


def incoming(actor: User) -> QuerySet[TestRequest]:
    """Requests the laboratory has to act on, oldest first."""
    if not sees_all_tenants(actor):
        return TestRequest.objects.none()
    return (
        requests_visible(actor)
        .exclude(status__in=[RequestStatus.DRAFT, RequestStatus.CANCELLED, RequestStatus.CERTIFIED])
        .order_by("-priority", "pk")
    )


def open_oos_of(req: TestRequest) -> QuerySet[OosInvestigation]:
    return req.oos.exclude(phase=OosPhase.CLOSED)


# --- method catalogue, specifications, panels, stored samples --------------------------------


def method_catalogue(actor: User) -> QuerySet[Method]:
    """Methods with their versions; client users see effective versions only and only
    methods that have one."""
    from celltrace.qc.choices import VersionStatus

    versions = MethodVersion.objects.order_by("-version")
    methods = Method.objects.order_by("code")
    if not sees_all_tenants(actor):
        versions = versions.filter(status=VersionStatus.EFFECTIVE)
        methods = methods.filter(versions__is_current=True).distinct()
    return methods.prefetch_related(Prefetch("versions", queryset=versions))


def method_get(actor: User, code: str) -> Method:
    from celltrace.core.errors import NotFound

    method = method_catalogue(actor).filter(code=code).first()
    if method is None:
        raise NotFound(_not_found())
    return method


def limits_by_method(spec: Specification | None) -> dict[int, SpecificationLimit]:
    """The limits of a specification version by method id (none without a specification)."""
    if spec is None:
        return {}
    return {li.method_id: li for li in SpecificationLimit.objects.filter(specification=spec)}


def method_versions_visible(actor: User) -> QuerySet[MethodVersion]:
    """Laboratory staff: every version; a client: the effective ones (as on the catalogue)."""
    from celltrace.qc.choices import VersionStatus

    qs = MethodVersion.objects.select_related("method")
    if not sees_all_tenants(actor):
        qs = qs.filter(status=VersionStatus.EFFECTIVE)
    return qs


def method_versions_signable(actor: User) -> QuerySet[MethodVersion]:
    """Method versions are signed (approved), and their signatures listed, by laboratory
    staff only."""
    if not sees_all_tenants(actor):
        return MethodVersion.objects.none()
    return MethodVersion.objects.select_related("method")


def specifications_signable(actor: User) -> QuerySet[Specification]:
    return specifications(actor)


def _get_global(qs: QuerySet[Any], pk: int | str) -> Any:
    """One row of a laboratory-owned model from an already scoped queryset, else NotFound."""
    from celltrace.core.errors import NotFound

    try:
        return qs.get(pk=pk)
    except (qs.model.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(_not_found()) from exc


def specification_get(actor: User, pk: int | str) -> Specification:
    return _get_global(specifications(actor), pk)  # type: ignore[no-any-return]


def panels_visible(actor: User) -> QuerySet[TestPanel]:
    """Laboratory staff see every panel; a client user the active global panels and its own."""
    qs = TestPanel.objects.select_related("client").prefetch_related("methods").order_by("code")
    if sees_all_tenants(actor):
        return qs
    return qs.filter(is_active=True).filter(
        Q(client__isnull=True) | Q(client_id=actor.organisation_id)
    )


def panel_get(actor: User, pk: int | str) -> TestPanel:
    return _get_global(panels_visible(actor), pk)  # type: ignore[no-any-return]


def sample_get(actor: User, pk: int | str) -> Sample:
    return get_visible(
        samples_visible(actor).select_related("organisation", "custodian"), actor, pk=pk
    )


def sample_by_scan(actor: User, text: str) -> Sample:
    """A sample by the laboratory's label (``QS-000123``) or, failing that, the client's id
    (only when it names exactly one visible sample)."""
    from celltrace.core.errors import NotFound

    text = text.strip()
    qs = samples_visible(actor)
    pk = Sample.pk_of_number(text)
    if pk is not None:
        found = qs.filter(pk=pk).first()
    else:
        matches = list(qs.filter(client_sample_id=text)[:2])
        found = matches[0] if len(matches) == 1 else None
    if found is None:
        raise NotFound(
            _("No sample %(id)s; scan the laboratory label (QS-…).") % {"id": text},
            field="sample",
        )
    return found


def sample_placements(sample: Sample) -> QuerySet[SamplePlacement]:
    return SamplePlacement.objects.filter(sample=sample).select_related(
        "position__box__rack__unit", "placed_by", "removed_by"
    )


def _not_found() -> str:
    return _("Not found.")
