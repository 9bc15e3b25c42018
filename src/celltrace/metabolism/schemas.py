"""API schemas of the metabolism app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from celltrace.api.schemas import DateIn, IdParam, StrictIn

#: Significant digits of a result answered by the API: the stored value is a binary float
#: (``9.805564679509182``); ten digits are far beyond what a Seahorse rate carries.
RESULT_DIGITS = 10


def decimal_text(value: Any) -> str | None:
    """A stored number as a decimal string of at most :data:`RESULT_DIGITS` significant digits,
    without an exponent (``9.805564679509182`` → ``"9.80556468"``, ``1e-05`` → ``"0.00001"``);
    None stays None and text (a constant read from the file) stays as it is."""
    if value is None or isinstance(value, str):
        return value
    number = Decimal(format(value, f".{RESULT_DIGITS}g"))
    return "0" if number == 0 else format(number, "f")


def _decimals(values: Mapping[str, Any]) -> dict[str, str | None]:
    return {key: decimal_text(v) for key, v in values.items()}


class RunUploadIn(StrictIn):
    """Form fields of a multipart run upload (the files are the parts ``file`` and
    ``normalisation``). Multipart values arrive as text and are parsed to these types."""

    assay: StrictStr = Field(description="mito-stress, atp-rate or glycolytic-rate")
    timepoint: StrictStr = Field(
        description="at_banking, later_draw, before_intervention or after_intervention"
    )
    sampled_on: DateIn = Field(description="Date of the time point (ISO 8601).")
    donor_id: IdParam | None = None
    aliquot_id: IdParam | None = None
    organisation_id: IdParam | None = Field(
        default=None, description="Owner of a run without donor or aliquot."
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
    value: str = Field(description="A number as a decimal string, or the text read.")
    location: str


class GroupOut(BaseModel):
    """One group's results: ``group``, ``n``, one member per parameter key holding the group
    mean, and ``sd``, ``sem`` (keyed by parameter) and ``units``. Every number is a decimal
    string; a statistic that cannot be computed (an SD of one well) is null."""

    # the means are keyed by parameter (the shape of the stored results and of the command's
    # JSON), hence typed extra members; a Ninja Schema would drop them
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, str | None] = Field(init=False)

    group: str
    n: int
    sd: dict[str, str | None]
    sem: dict[str, str | None]
    units: dict[str, str]


class WellOut(Schema):
    well: str
    group: str
    excluded: bool
    exclusion_reason: str
    values: dict[str, str | None] = Field(description="Per parameter: a decimal string or null.")
    points: dict[str, list[int]] = Field(description="Per parameter: the measurements used.")


class ExcludedWellOut(Schema):
    well: str
    reason: str
    group: str


def group_out(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored group row (floats) as :class:`GroupOut` answers it."""
    fixed = {"group", "n", "sd", "sem", "units"}
    means = {key: v for key, v in row.items() if key not in fixed}
    return {
        "group": row["group"],
        "n": row["n"],
        **_decimals(means),
        "sd": _decimals(row["sd"]),
        "sem": _decimals(row["sem"]),
        "units": row["units"],
    }


def well_out(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored well row (floats) as :class:`WellOut` answers it."""
    return {**row, "values": _decimals(row["values"])}


def constant_out(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, "value": decimal_text(row["value"])}


class RunResultsOut(Schema):
    """The run's stored results; numbers are decimal strings of at most ten significant digits
    (``results_sha256`` seals the stored values, not these strings)."""

    run_id: int
    assay: str
    calculation_version: str
    results_sha256: str
    computed_at: dt.datetime
    parameters: list[ParameterOut]
    groups: list[GroupOut]
    wells: list[WellOut]
    constants: list[ConstantOut]
    excluded: list[ExcludedWellOut]
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
    groups: list[GroupOut]


class ProfileOut(Schema):
    donor_id: int
    reference: str
    organisation_id: int
    runs: list[ProfileRunOut]
