"""API operations of the metabolism app: Seahorse runs, their results, well review and the
depositor energy profile.

Client users (and their tokens) read their own organisation's runs and donors only; anything
else answers 404. Uploading and excluding wells are for operator analysts, bank technicians and
administrators; each exclusion or inclusion needs a reason and writes one ledger entry.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from ninja.params.functions import File as FilePart
from pydantic import Field as PydField

from celltrace.api.schemas import ERRORS, READ_ERRORS, IdParam, Offset, Page
from celltrace.bank.models import Aliquot, Donor
from celltrace.core.api import actor_of
from celltrace.core.errors import Invalid, NotFound
from celltrace.core.models import Organisation, User
from celltrace.core.tenancy import get_visible, scope
from celltrace.metabolism import selectors, services
from celltrace.metabolism.choices import AssayType
from celltrace.metabolism.models import MetabolismRun, WellExclusion
from celltrace.metabolism.schemas import (
    ExclusionOut,
    ProfileOut,
    ReasonIn,
    RunOut,
    RunResultsOut,
    RunUploadIn,
    constant_out,
    group_out,
    well_out,
)

router = Router(tags=["metabolism"])


class RunFilter(Schema):
    donor_id: IdParam | None = None
    assay: AssayType | None = None
    limit: int = PydField(default=100, ge=1, le=500)
    offset: Offset = 0


def _read(upload: UploadedFile, limit: int, field: str) -> bytes:
    if upload.size is not None and upload.size > limit:
        raise Invalid(_("The file is too large."), field=field)
    data: bytes = upload.read()
    return data


def _owner(actor: User, payload: RunUploadIn) -> tuple[Organisation, Donor | None, Aliquot | None]:
    donor = aliquot = None
    if payload.donor_id is not None:
        donor = get_visible(Donor.objects.all(), actor, pk=payload.donor_id)
    if payload.aliquot_id is not None:
        aliquot = get_visible(Aliquot.objects.all(), actor, pk=payload.aliquot_id)
    if donor is not None:
        return donor.organisation, donor, aliquot
    if aliquot is not None:
        return aliquot.organisation, donor, aliquot
    if payload.organisation_id is None:
        raise Invalid(_("Give a donor, an aliquot or an organisation."), field="donor_id")
    org = (
        scope(Organisation.objects.all(), actor, field="pk")
        .filter(pk=payload.organisation_id)
        .first()
    )
    if org is None:
        raise NotFound(_("Not found."), field="organisation_id")
    return org, None, None


@router.post(
    "/metabolism/runs",
    response={201: RunOut, **ERRORS},
    operation_id="metabolism_runs_create",
)
def metabolism_runs_create(
    request: HttpRequest,
    payload: Form[RunUploadIn],
    file: File[UploadedFile],
    normalisation: Annotated[UploadedFile | None, FilePart(None)] = None,
) -> Status[MetabolismRun]:
    """Upload a Seahorse Wave export (multipart) and analyse it as ``assay``."""
    actor = actor_of(request)
    services.require_analysis_role(actor)
    organisation, donor, aliquot = _owner(actor, payload)
    run = services.metabolism_run_upload(
        actor=actor,
        organisation=organisation,
        file_bytes=_read(file, services.MAX_EXPORT_BYTES, "file"),
        filename=file.name or "",
        assay=payload.assay,
        donor=donor,
        aliquot=aliquot,
        timepoint=payload.timepoint,
        timepoint_label=payload.timepoint_label,
        sampled_on=payload.sampled_on,
        normalisation=(
            _read(normalisation, services.MAX_NORMALISATION_BYTES, "normalisation")
            if normalisation is not None
            else None
        ),
        normalisation_filename=normalisation.name or "" if normalisation is not None else "",
        normalisation_unit=payload.normalisation_unit,
        normalisation_scale=payload.normalisation_scale,
        ccf=payload.ccf,
        po_ratio=payload.po_ratio,
        reason=payload.reason,
    )
    return Status(201, selectors.run_get(actor, run.pk))


@router.get(
    "/metabolism/runs",
    response={200: Page[RunOut], **READ_ERRORS},
    operation_id="metabolism_runs_list",
)
def metabolism_runs_list(request: HttpRequest, q: Query[RunFilter]) -> dict[str, Any]:
    qs = selectors.runs_visible(actor_of(request))
    if q.donor_id is not None:
        qs = qs.filter(donor_id=q.donor_id)
    if q.assay:
        qs = qs.filter(assay=q.assay)
    return {
        "count": qs.count(),
        "items": list(qs.order_by("-uploaded_at", "-pk")[q.offset : q.offset + q.limit]),
    }


@router.get(
    "/metabolism/runs/{run_id}",
    response={200: RunOut, **READ_ERRORS},
    operation_id="metabolism_runs_get",
)
def metabolism_runs_get(request: HttpRequest, run_id: IdParam) -> MetabolismRun:
    return selectors.run_get(actor_of(request), run_id)


@router.get(
    "/metabolism/runs/{run_id}/results",
    response={200: RunResultsOut, **READ_ERRORS},
    operation_id="metabolism_run_results_get",
)
def metabolism_run_results_get(request: HttpRequest, run_id: IdParam) -> dict[str, Any]:
    run = selectors.run_get(actor_of(request), run_id)
    calc = run.calculation
    return {
        "run_id": run.pk,
        "assay": run.assay,
        "calculation_version": run.calculation_version,
        "results_sha256": run.results_sha256,
        "computed_at": run.computed_at,
        "parameters": calc.get("parameters", []),
        "groups": [group_out(g) for g in run.group_results],
        "wells": [well_out(w) for w in run.well_results],
        "constants": [constant_out(c) for c in calc.get("constants", [])],
        "excluded": calc.get("excluded", []),
        "skipped_groups": calc.get("skipped_groups", []),
        "warnings": calc.get("warnings", []),
    }


@router.get(
    "/metabolism/runs/{run_id}/exclusions",
    response={200: list[ExclusionOut], **READ_ERRORS},
    operation_id="metabolism_run_exclusions_list",
)
def metabolism_run_exclusions_list(request: HttpRequest, run_id: IdParam) -> list[WellExclusion]:
    run = selectors.run_get(actor_of(request), run_id)
    return list(selectors.exclusions_of(run))


@router.post(
    "/metabolism/runs/{run_id}/wells/{well}/exclusion",
    response={201: ExclusionOut, **ERRORS},
    operation_id="metabolism_well_exclude",
)
def metabolism_well_exclude(
    request: HttpRequest, run_id: IdParam, well: str, payload: ReasonIn
) -> Status[WellExclusion]:
    """Exclude a well from the group statistics (reason required; one ledger entry)."""
    actor = actor_of(request)
    run = selectors.run_get(actor, run_id)
    return Status(
        201, services.well_exclude(actor=actor, run=run, well=well, reason=payload.reason)
    )


@router.post(
    "/metabolism/runs/{run_id}/wells/{well}/inclusion",
    response={200: ExclusionOut, **ERRORS},
    operation_id="metabolism_well_include",
)
def metabolism_well_include(
    request: HttpRequest, run_id: IdParam, well: str, payload: ReasonIn
) -> WellExclusion:
    """Include an excluded well again (reason required; one ledger entry)."""
    actor = actor_of(request)
    run = selectors.run_get(actor, run_id)
    return services.well_include(actor=actor, run=run, well=well, reason=payload.reason)


@router.get(
    "/metabolism/donors/{donor_id}/profile",
    response={200: ProfileOut, **READ_ERRORS},
    operation_id="metabolism_donor_profile_get",
)
def metabolism_donor_profile_get(request: HttpRequest, donor_id: IdParam) -> dict[str, Any]:
    prof = selectors.donor_profile(actor_of(request), donor_id)
    return {
        "donor_id": prof.donor.pk,
        "reference": prof.donor.reference,
        "organisation_id": prof.donor.organisation_id,
        "runs": [
            {
                "id": r.pk,
                "assay": r.assay,
                "timepoint": r.timepoint,
                "timepoint_label": r.timepoint_label,
                "sampled_on": r.sampled_on,
                "instrument_family": r.instrument_family,
                "file_name": r.file_name,
                "results_sha256": r.results_sha256,
                "excluded_wells": [e["well"] for e in r.calculation.get("excluded", [])],
                "parameters": r.parameters,
                "groups": [group_out(g) for g in r.group_results],
            }
            for r in prof.runs
        ],
    }
