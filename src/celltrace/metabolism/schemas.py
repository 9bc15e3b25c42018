"""API schemas of the metabolism app."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import Field, StrictStr

from celltrace.api.schemas import StrictIn


class RunUploadIn(StrictIn):
    """Form fields of a multipart run upload (the files are the parts ``file`` and
    ``normalisation``). Multipart values arrive as text and are parsed to these types."""

    assay: StrictStr = Field(description="mito-stress, atp-rate or glycolytic-rate")
    timepoint: StrictStr = Field(
        description="at_banking, later_draw, before_intervention or after_intervention"
    )
    sampled_on: dt.date = Field(description="Date of the time point (ISO 8601).")
    donor_id: int | None = Field(default=None, gt=0)
    aliquot_id: int | None = Field(default=None, gt=0)
    organisation_id: int | None = Field(
        default=None, gt=0, description="Owner of a run without donor or aliquot."
    )
    timepoint_label: StrictStr = Field(default="", max_length=100)
    normalisation_unit: StrictStr = Field(default="cells", max_length=40)
    normalisation_scale: Decimal = Field(default=Decimal(1), gt=0, max_digits=14)
    ccf: Decimal | None = Field(default=None, gt=0, le=1, max_digits=6, decimal_places=4)
    po_ratio: Decimal | None = Field(default=None, gt=0, le=5, max_digits=6, decimal_places=4)
    reason: StrictStr = Field(default="", max_length=2000)


class ReasonIn(StrictIn):
    reason: StrictStr = Field(min_length=1, max_length=2000)


class RunOut(Schema):
    id: int
    organisation_id: int
    file_name: str
    file_sha256: str
    file_size: int
    assay: str
    instrument_family: str
    instrument_serial: str
    plate_format: str
    wave_version: str
    donor_id: int | None
    donor_reference: str | None
    aliquot_id: int | None
    timepoint: str
    timepoint_label: str
    sampled_on: dt.date
    normalisation_file: str
    normalisation_sha256: str
    ccf: Decimal | None
    po_ratio: Decimal | None
    uploaded_by: str
    uploaded_at: dt.datetime
    status: str
    calculation_version: str
    results_sha256: str
    computed_at: dt.datetime
    excluded_wells: list[str]

    @staticmethod
    def resolve_donor_reference(obj: Any) -> str | None:
        return obj.donor.reference if obj.donor_id else None

    @staticmethod
    def resolve_normalisation_file(obj: Any) -> str:
        return str(obj.normalisation_name)

    @staticmethod
    def resolve_uploaded_by(obj: Any) -> str:
        return str(obj.uploaded_by)

    @staticmethod
    def resolve_excluded_wells(obj: Any) -> list[str]:
        return [e["well"] for e in obj.calculation.get("excluded", [])]


class ParameterOut(Schema):
    key: str
    label: str
    unit: str
    formula: str


class ConstantOut(Schema):
    label: str
    value: Any
    location: str


class RunResultsOut(Schema):
    run_id: int
    assay: str
    calculation_version: str
    results_sha256: str
    computed_at: dt.datetime
    parameters: list[ParameterOut]
    groups: list[dict[str, Any]] = Field(
        description="Per group: group, n, the mean of each parameter, and sd/sem/units objects"
    )
    wells: list[dict[str, Any]] = Field(
        description="Per well: well, group, excluded, exclusion_reason, values, points"
    )
    constants: list[ConstantOut]
    excluded: list[dict[str, Any]]
    skipped_groups: list[list[str]]
    warnings: list[str]


class ExclusionOut(Schema):
    id: int
    run_id: int
    well: str
    group: str
    reason: str
    excluded_by: str
    excluded_at: dt.datetime
    included_by: str | None
    included_at: dt.datetime | None
    include_reason: str

    @staticmethod
    def resolve_excluded_by(obj: Any) -> str:
        return str(obj.excluded_by)

    @staticmethod
    def resolve_included_by(obj: Any) -> str | None:
        return str(obj.included_by) if obj.included_by_id else None


class ProfileRunOut(Schema):
    id: int
    assay: str
    timepoint: str
    timepoint_label: str
    sampled_on: dt.date
    instrument_family: str
    file_name: str
    results_sha256: str
    excluded_wells: list[str]
    parameters: list[ParameterOut]
    groups: list[dict[str, Any]]


class ProfileOut(Schema):
    donor_id: int
    reference: str
    organisation_id: int
    runs: list[ProfileRunOut]
