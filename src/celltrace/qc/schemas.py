"""API schemas of the QC laboratory."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import Field, StrictBool, StrictInt, StrictStr

from celltrace.api.schemas import StrictIn


class MethodOut(Schema):
    code: str
    version: int
    name: str
    reference: str
    result_type: str
    unit: str
    reported_decimals: int | None
    lod: str
    loq: str
    turnaround_days: int
    qualitative_options: list[str]

    @staticmethod
    def resolve_code(obj: Any) -> str:
        return str(obj.method.code)


class SampleIn(StrictIn):
    client_sample_id: StrictStr = Field(min_length=1, max_length=80)
    container: StrictStr = Field(default="", max_length=100)
    description: StrictStr = Field(default="", max_length=200)


class RequestIn(StrictIn):
    product: StrictStr = Field(min_length=1, max_length=200)
    product_type: StrictStr = Field(min_length=1, max_length=100)
    batch: StrictStr = Field(min_length=1, max_length=100)
    priority: StrictStr = Field(default="routine", max_length=10)
    notes: StrictStr = Field(default="", max_length=4000)
    samples: list[SampleIn] = Field(min_length=1, max_length=100)
    method_codes: list[StrictStr] = Field(min_length=1, max_length=50)
    organisation_id: StrictInt | None = Field(
        default=None, description="Laboratory staff only: the client the request is for."
    )
    submit: StrictBool = True


class SampleOut(Schema):
    id: int
    client_sample_id: str
    container: str
    description: str
    status: str
    arrival_temperature_c: Decimal | None
    container_intact: bool | None
    label_matches: bool | None
    rejection_reason: str
    received_at: dt.datetime | None


class RequestOut(Schema):
    id: int
    number: str
    organisation_id: int
    product: str
    product_type: str
    batch: str
    priority: str
    status: str
    notes: str
    methods: list[str]
    specification: str | None
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    received_at: dt.datetime | None
    released_at: dt.datetime | None

    @staticmethod
    def resolve_methods(obj: Any) -> list[str]:
        return sorted(m.code for m in obj.methods.all())

    @staticmethod
    def resolve_specification(obj: Any) -> str | None:
        return str(obj.specification) if obj.specification_id else None


class RequestDetailOut(RequestOut):
    samples: list[SampleOut]

    @staticmethod
    def resolve_samples(obj: Any) -> list[Any]:
        return list(obj.samples.all())


class ReceiptIn(StrictIn):
    scanned_id: StrictStr = Field(min_length=1, max_length=80)
    accept: StrictBool
    temperature_c: Decimal | None = Field(default=None, max_digits=6, decimal_places=1)
    container_intact: StrictBool = True
    label_matches: StrictBool = True
    rejection_reason: StrictStr = Field(default="", max_length=2000)


class TestsCreateIn(StrictIn):
    analysts: dict[str, StrictInt] = Field(
        default_factory=dict, description="Method code → user id of the analyst."
    )


class TestOut(Schema):
    id: int
    request_id: int
    request_number: str
    sample: str
    method: str
    method_version: int
    method_reference: str
    analyst_id: int | None
    due_on: dt.date
    current_result_id: int | None

    @staticmethod
    def resolve_request_number(obj: Any) -> str:
        return str(obj.request.number)

    @staticmethod
    def resolve_sample(obj: Any) -> str:
        return str(obj.sample.client_sample_id)

    @staticmethod
    def resolve_method(obj: Any) -> str:
        return str(obj.method_version.method.code)

    @staticmethod
    def resolve_method_version(obj: Any) -> int:
        return int(obj.method_version.version)

    @staticmethod
    def resolve_method_reference(obj: Any) -> str:
        return str(obj.method_version.reference)

    @staticmethod
    def resolve_current_result_id(obj: Any) -> int | None:
        current = obj.current_result
        return current.pk if current else None


class ResultIn(StrictIn):
    value: StrictStr = Field(
        min_length=1, max_length=100, description="As reported: '69.5', '< 0.05', 'No growth'."
    )
    unit: StrictStr = Field(default="", max_length=40)
    comment: StrictStr = Field(default="", max_length=2000)


class ResultOut(Schema):
    id: int
    test_id: int
    value_text: str
    comparator: str
    value: Decimal | None
    unit: str
    reported_value: str
    conformance: str
    alert: bool
    limit_text: str
    rounding_mode: str
    status: str
    comment: str
    calculation: dict[str, Any] | None
    entered_by_id: int
    entered_at: dt.datetime
    invalidated_reason: str


class ReasonIn(StrictIn):
    reason: StrictStr = Field(min_length=1, max_length=2000)


class OosOut(Schema):
    id: int
    number: str
    request_id: int
    result_id: int
    phase: str
    outcome: str
    opened_at: dt.datetime
    phase1_summary: str
    assignable_cause: bool | None
    phase2_summary: str
    capa_reference: str
    conclusion: str
    closed_at: dt.datetime | None


class OosPhase1In(StrictIn):
    assignable_cause: StrictBool
    summary: StrictStr = Field(min_length=1, max_length=4000)


class OosCloseIn(StrictIn):
    summary: StrictStr = Field(min_length=1, max_length=4000)
    capa_reference: StrictStr = Field(min_length=1, max_length=80)
    conclusion: StrictStr = Field(min_length=1, max_length=4000)
    invalidate_result: StrictBool = False


class CertificateIn(StrictIn):
    language: StrictStr = Field(default="en", max_length=10)


class AmendIn(StrictIn):
    reason: StrictStr = Field(min_length=1, max_length=2000)
    language: StrictStr | None = Field(default=None, max_length=10)


class CertificateOut(Schema):
    id: int
    uuid: uuid.UUID
    number: str
    request_id: int
    version: int
    supersedes_id: int | None
    superseded: bool
    language: str
    sha256: str
    reason: str
    issued_at: dt.datetime

    @staticmethod
    def resolve_superseded(obj: Any) -> bool:
        return bool(obj.is_superseded)


class VerificationOut(Schema):
    certificate: str
    version: int
    issued_at: dt.datetime
    matches: bool
    sha256: str
    superseded_by: str | None
