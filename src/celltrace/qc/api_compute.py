"""API operations that compute QC results from instrument files and entered values.

``result_compute`` takes the calculator's inputs as JSON (the same fields as the page's form,
lists as strings or lists of strings); ``result_compute_upload`` takes them as a multipart form
with the instrument files (``file``, or ``fcs_file`` + ``template`` [+ ``control_fcs_file``]).
Both answer the entered result with its calculation; bad inputs, bad files and invalid runs are
422 problem documents naming the field, and write nothing. A sterility test's incubation and
daily readings, the readings due, and a flow result's dot plots (SVG) are here too.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from pydantic import Field, StrictBool, StrictInt, StrictStr

from celltrace.api.schemas import (
    DB_INT_MAX,
    ERRORS,
    READ_ERRORS,
    AwareDateTimeIn,
    DateIn,
    IdParam,
    StrictIn,
)
from celltrace.core.api import actor_of
from celltrace.core.choices import Role
from celltrace.core.errors import Invalid, NotFound
from celltrace.core.tenancy import sees_all_tenants
from celltrace.qc import calculators, flow_plots, selectors, selectors_compute, services
from celltrace.qc.forms_compute import form_for
from celltrace.qc.models import Result, Test
from celltrace.qc.schemas import ResultOut
from celltrace.qc.services_compute import (
    result_compute,
    sterility_incubation_start,
    sterility_reading_record,
)

router = Router(tags=["qc"])

#: Optional multipart file fields of ``result_compute_upload`` (one parameter object each).
_OPTIONAL_FILES: dict[str, Any] = {
    name: File(None)  # type: ignore[type-arg]
    for name in ("file", "fcs_file", "template", "control_fcs_file")
}


class ResultComputeIn(StrictIn):
    kind: StrictStr = Field(
        default="", max_length=40, description="Calculator of the method; empty = its first."
    )
    inputs: dict[StrictStr, StrictStr | list[StrictStr]] = Field(
        max_length=200,
        description="The calculator's fields, as on the page (lists as strings or lists).",
    )
    comment: StrictStr = Field(default="", max_length=2000)


class SterilityIncubationIn(StrictIn):
    media: list[StrictStr] = Field(min_length=1, max_length=10, description="FTM and/or SCDM.")
    started_at: AwareDateTimeIn = Field(description="ISO 8601 with a UTC offset.")
    days: StrictInt = Field(default=14, ge=1, le=60)


class SterilityIncubationOut(Schema):
    id: int
    test_id: int
    medium: str
    started_at: dt.datetime
    days: int


class SterilityReadingIn(StrictIn):
    observed_at: AwareDateTimeIn = Field(description="ISO 8601 with a UTC offset.")
    growth: dict[StrictStr, StrictBool] = Field(
        description="Medium -> growth seen, e.g. {'FTM': false, 'SCDM': false}."
    )
    note: StrictStr = Field(default="", max_length=500)


class SterilityReadingOut(Schema):
    id: int
    medium: str
    observed_at: dt.datetime
    growth: bool
    note: str

    @staticmethod
    def resolve_medium(obj: Any) -> str:
        return str(obj.incubation.medium)


class SterilityDueOut(Schema):
    test_id: int
    request: str
    sample: str
    medium: str
    day: int
    due_date: dt.date
    overdue: bool


class SterilityDueFilter(Schema):
    on: DateIn | None = None


class FlowPlotOut(Schema):
    index: int
    gate_path: str
    x_channel: str
    y_channel: str | None
    parent_events: int
    plotted_events: int
    url: str


def _form_data(inputs: dict[str, Any]) -> dict[str, str]:
    return {k: " ".join(v) if isinstance(v, list) else v for k, v in inputs.items()}


def _compute(
    request: HttpRequest,
    test_id: int,
    kind: str,
    data: dict[str, Any],
    files: dict[str, Any],
    comment: str,
) -> Result:
    actor = actor_of(request)
    test: Test = selectors.test_get(actor, test_id)
    services._require_lab(actor, (Role.QC_ANALYST,), _("Only QC analysts enter results."))
    chosen = calculators.kind_for(test.method_version.method.code, kind or None)
    form_class = None if chosen is None else form_for(test.method_version.method.code, chosen.slug)
    if chosen is None or form_class is None:
        raise Invalid(
            _("kind: method %(method)s has no calculator “%(kind)s”.")
            % {"method": test.method_version.method.code, "kind": kind},
            field="kind",
        )
    form = form_class({**data, "comment": comment}, files)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise Invalid(
            f"{field}: {' '.join(str(e) for e in errors)}"
            if field != "__all__"
            else str(errors[0]),
            field=None if field == "__all__" else field,
        )
    return result_compute(
        actor=actor,
        test=test,
        kind=chosen.slug,
        inputs=form.cleaned_data,
        uploads=form.uploads(),
        comment=comment,
    )


@router.post(
    "/qc/tests/{test_id}/compute",
    response={201: ResultOut, **ERRORS},
    operation_id="result_compute",
)
def result_compute_json(
    request: HttpRequest, test_id: IdParam, payload: ResultComputeIn
) -> Status[Result]:
    """Compute and enter a test's result from entered values (hemocytometer counts, LAL onset
    times, gel-clot series, qPCR/ddPCR data, mycoplasma controls, sterility readings)."""
    result = _compute(
        request, test_id, payload.kind, _form_data(payload.inputs), {}, payload.comment
    )
    return Status(201, result)


@router.post(
    "/qc/tests/{test_id}/compute/upload",
    response={201: ResultOut, **ERRORS},
    operation_id="result_compute_upload",
)
def result_compute_upload(
    request: HttpRequest,
    test_id: IdParam,
    kind: Form[str] = "",
    inputs: Form[str] = "{}",
    comment: Form[str] = "",
    file: UploadedFile | None = _OPTIONAL_FILES["file"],
    fcs_file: UploadedFile | None = _OPTIONAL_FILES["fcs_file"],
    template: UploadedFile | None = _OPTIONAL_FILES["template"],
    control_fcs_file: UploadedFile | None = _OPTIONAL_FILES["control_fcs_file"],
) -> Status[Result]:
    """Compute and enter a test's result from instrument files (counter CSV, blood-culture CSV,
    flow statistics CSV, or FCS file + gating template); ``inputs`` is a JSON object of the
    other fields."""
    try:
        data = json.loads(inputs or "{}")
    except json.JSONDecodeError as exc:
        raise Invalid(
            _("inputs: not a JSON object (%(error)s).") % {"error": exc.msg}, field="inputs"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, str | list) for v in data.values()):
        raise Invalid(_("inputs: a JSON object of strings or lists of strings."), field="inputs")
    # the declared parameters document the multipart fields; the form reads them all
    files = {
        name: request.FILES[name]
        for name in ("file", "fcs_file", "template", "control_fcs_file")
        if name in request.FILES
    }
    result = _compute(request, test_id, kind, _form_data(data), files, comment)
    return Status(201, result)


def _lab_test(request: HttpRequest, test_id: int) -> tuple[Any, Test]:
    actor = actor_of(request)
    return actor, selectors.test_get(actor, test_id)


@router.post(
    "/qc/tests/{test_id}/sterility/incubations",
    response={201: list[SterilityIncubationOut], **ERRORS},
    operation_id="sterility_incubation_start",
)
def sterility_incubation_start_op(
    request: HttpRequest, test_id: IdParam, payload: SterilityIncubationIn
) -> Status[Any]:
    """Record the inoculation of a sterility test's media (FTM, SCDM)."""
    actor, test = _lab_test(request, test_id)
    rows = sterility_incubation_start(
        actor=actor,
        test=test,
        media=payload.media,
        started_at=payload.started_at,
        days=payload.days,
    )
    return Status(201, rows)


@router.post(
    "/qc/tests/{test_id}/sterility/readings",
    response={201: list[SterilityReadingOut], **ERRORS},
    operation_id="sterility_reading_record",
)
def sterility_reading_record_op(
    request: HttpRequest, test_id: IdParam, payload: SterilityReadingIn
) -> Status[Any]:
    """Record one day's reading of the incubated media (never edited afterwards)."""
    actor, test = _lab_test(request, test_id)
    rows = sterility_reading_record(
        actor=actor,
        test=test,
        growth=payload.growth,
        observed_at=payload.observed_at,
        note=payload.note,
    )
    return Status(201, rows)


@router.get(
    "/qc/sterility/due",
    response={200: list[SterilityDueOut], **READ_ERRORS},
    operation_id="sterility_readings_due",
)
def sterility_readings_due(
    request: HttpRequest, q: Query[SterilityDueFilter]
) -> list[dict[str, Any]]:
    """Sterility readings due on a date (default today) and missed before it."""
    actor = actor_of(request)
    if not sees_all_tenants(actor):
        return []
    return [
        {
            "test_id": d.test.pk,
            "request": d.test.request.number,
            "sample": d.test.sample.client_sample_id,
            "medium": d.medium,
            "day": d.day,
            "due_date": d.due_date,
            "overdue": d.overdue,
        }
        for d in selectors_compute.readings_due(actor, q.on or timezone.localdate())
    ]


@router.get(
    "/qc/results/{result_id}/plots",
    response={200: list[FlowPlotOut], **READ_ERRORS},
    operation_id="result_plots_list",
)
def result_plots_list(request: HttpRequest, result_id: IdParam) -> list[dict[str, Any]]:
    """The dot plots (one per gate) of a flow result computed from FCS files."""
    result = selectors.result_get(actor_of(request), result_id)
    return [
        {**p.__dict__, "url": f"/api/v1/qc/results/{result.pk}/plots/{p.index}"}
        for p in flow_plots.plots_of(result.calculation)
    ]


@router.get(
    "/qc/results/{result_id}/plots/{index}",
    response={200: None, **READ_ERRORS},
    operation_id="result_plot_get",
)
def result_plot_get(
    request: HttpRequest, result_id: IdParam, index: Annotated[int, Field(ge=0, le=DB_INT_MAX)]
) -> HttpResponse:
    """One dot plot as ``image/svg+xml``."""
    result = selectors.result_get(actor_of(request), result_id)
    try:
        svg = flow_plots.plot_svg(result.calculation, index)
    except NotFound:
        raise NotFound(_("No such plot.")) from None
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    return response
