"""API schemas of the QC laboratory."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, StrictBool, StrictInt, StrictStr

from celltrace.api.schemas import IdIn, StrictIn
from celltrace.qc.services import MAX_REPORTED_DECIMALS

# The values below are documented in the schema (pattern, enum, minimum and maximum) and
# checked by the services, which refuse others with a translated message naming the field as
# the documentation says (``code``, ``limits.<method>.kind``), rather than by pydantic here.

#: The pattern of a method, specification or panel code (e.g. car-t-release).
CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
Code = Annotated[
    StrictStr, Field(min_length=1, max_length=40, json_schema_extra={"pattern": CODE_PATTERN})
]
#: The turnaround ``services.clean_method_fields`` allows (1 to 365 days).
MAX_TURNAROUND_DAYS = 365
ReportedDecimals = Annotated[
    StrictInt, Field(json_schema_extra={"minimum": 0, "maximum": MAX_REPORTED_DECIMALS})
]
RESULT_TYPES = ("numeric", "qualitative", "text")
LIMIT_KINDS = ("at_least", "at_most", "range", "qualitative", "report")
ROUNDING_MODES = ("usp", "astm_e29", "astm_e29_absolute", "ph_eur")


def _one_of(values: tuple[str, ...], **kw: Any) -> Any:
    return Field(max_length=20, json_schema_extra={"enum": list(values)}, **kw)


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
    method_codes: list[StrictStr] = Field(default_factory=list, max_length=50)
    panel_codes: list[StrictStr] = Field(
        default_factory=list,
        max_length=20,
        description="Test panels (global or the client's own); their methods join method_codes.",
    )
    organisation_id: IdIn | None = Field(
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
        codes = getattr(obj, "method_codes", None)  # attached by the list operation
        if codes is not None:
            return list(codes)
        return sorted(m.code for m in obj.methods.all())

    @staticmethod
    def resolve_specification(obj: Any) -> str | None:
        return str(obj.specification) if obj.specification_id else None

    panels: list[str] = []

    @staticmethod
    def resolve_panels(obj: Any) -> list[str]:
        codes = getattr(obj, "panel_codes", None)  # attached by the list operation
        if codes is not None:
            return list(codes)
        return sorted(p.code for p in obj.panels.all())


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
    analysts: dict[str, IdIn] = Field(
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
    current_result_id: int | None = Field(
        description="The test's current result; null for a client until the request is released."
    )

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
    def resolve_current_result_id(obj: Any, context: Any) -> int | None:
        """None for a client until the request is released (its results are not visible)."""
        from celltrace.core.tenancy import sees_all_tenants
        from celltrace.qc.selectors import RELEASED

        actor = context["request"].user
        if not sees_all_tenants(actor) and obj.request.status not in RELEASED:
            return None
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


class TranslateIn(StrictIn):
    """The language of the translation (``en`` or ``zh-hans``), not the certificate's own."""

    language: StrictStr = Field(max_length=10)


class CertificateOut(Schema):
    id: int
    uuid: uuid.UUID
    number: str
    request_id: int
    version: int
    supersedes_id: int | None
    #: set on a translation: the id of the version's original it translates
    translation_of_id: int | None
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
    language: str
    #: set on a translation: the number and language of the certificate it translates
    translation_of: str | None
    translation_of_language: str | None
    issued_at: dt.datetime
    matches: bool
    sha256: str
    superseded_by: str | None


# --- method catalogue, specifications, panels, sample storage -------------------------------


class MethodVersionOut(Schema):
    id: int
    code: str
    version: int
    status: str
    is_current: bool
    name: str
    reference: str
    result_type: str
    unit: str
    reported_decimals: int | None
    lod: str
    loq: str
    turnaround_days: int
    qualitative_options: list[str]
    reason: str
    created_at: dt.datetime
    approved_at: dt.datetime | None

    @staticmethod
    def resolve_code(obj: Any) -> str:
        return str(obj.method.code)


class MethodDetailOut(Schema):
    code: str
    name: str
    versions: list[MethodVersionOut]

    @staticmethod
    def resolve_versions(obj: Any) -> list[Any]:
        return list(obj.versions.all())


class MethodVersionIn(StrictIn):
    name: StrictStr = Field(min_length=1, max_length=200)
    reference: StrictStr = Field(min_length=1, max_length=300)
    result_type: StrictStr = _one_of(RESULT_TYPES)
    unit: StrictStr = Field(default="", max_length=40)
    reported_decimals: ReportedDecimals | None = Field(
        default=None, description="Numeric methods only."
    )
    lod: StrictStr = Field(default="", max_length=40)
    loq: StrictStr = Field(default="", max_length=40)
    turnaround_days: StrictInt = Field(
        json_schema_extra={"minimum": 1, "maximum": MAX_TURNAROUND_DAYS}
    )
    qualitative_options: list[StrictStr] = Field(default_factory=list, max_length=20)
    reason: StrictStr = Field(min_length=1, max_length=2000)


class MethodCreateIn(MethodVersionIn):
    code: Code


#: A limit's bounds: decimals as written (``"70"`` and ``"70.0"`` differ in precision).
LIMIT_NUMBERS = ("lower", "upper", "alert_lower", "alert_upper")


class LimitIn(StrictIn):
    """A limit's absent bound is null (as answered) or left out; ``""`` is accepted too."""

    method_code: Code
    kind: StrictStr = _one_of(LIMIT_KINDS)
    lower: StrictStr | None = Field(
        default=None, max_length=40, description='As written, e.g. "70.0".'
    )
    lower_inclusive: StrictBool = True
    upper: StrictStr | None = Field(default=None, max_length=40)
    upper_inclusive: StrictBool = True
    expected_text: StrictStr = Field(default="", max_length=100)
    alert_lower: StrictStr | None = Field(default=None, max_length=40)
    alert_upper: StrictStr | None = Field(default=None, max_length=40)
    unit: StrictStr = Field(default="", max_length=40)

    def spec_values(self) -> dict[str, Any]:
        """The values for ``services.LimitSpec``, which writes an absent bound as ``""``."""
        values = self.model_dump()
        for name in LIMIT_NUMBERS:
            values[name] = values[name] or ""
        return values


class SpecificationIn(StrictIn):
    code: Code = Field(description="An existing code proposes its next version.")
    title: StrictStr = Field(min_length=1, max_length=200)
    product_type: StrictStr = Field(min_length=1, max_length=100)
    client_id: IdIn | None = None
    rounding_mode: StrictStr = _one_of(ROUNDING_MODES, default="usp")
    limits: list[LimitIn] = Field(min_length=1, max_length=100)
    reason: StrictStr = Field(min_length=1, max_length=2000)


def _bound(value: str) -> str | None:
    """A limit's bound as answered: the decimal as written, or null when there is none."""
    return value or None


class LimitOut(Schema):
    """``lower``, ``upper``, ``alert_lower``, ``alert_upper``: decimal strings as written
    (``"70.0"``), null when the limit has none."""

    method: str
    kind: str
    lower: str | None
    lower_inclusive: bool
    upper: str | None
    upper_inclusive: bool
    expected_text: str
    alert_lower: str | None
    alert_upper: str | None
    unit: str
    display: str

    @staticmethod
    def resolve_method(obj: Any) -> str:
        return str(obj.method.code)

    @staticmethod
    def resolve_lower(obj: Any) -> str | None:
        return _bound(obj.lower)

    @staticmethod
    def resolve_upper(obj: Any) -> str | None:
        return _bound(obj.upper)

    @staticmethod
    def resolve_alert_lower(obj: Any) -> str | None:
        return _bound(obj.alert_lower)

    @staticmethod
    def resolve_alert_upper(obj: Any) -> str | None:
        return _bound(obj.alert_upper)


class SpecificationOut(Schema):
    id: int
    code: str
    version: int
    status: str
    is_current: bool
    title: str
    product_type: str
    client_id: int | None
    rounding_mode: str
    reason: str
    created_at: dt.datetime
    approved_at: dt.datetime | None
    limits: list[LimitOut]

    @staticmethod
    def resolve_limits(obj: Any) -> list[Any]:
        return list(obj.limits.select_related("method").order_by("method__code"))


class PanelIn(StrictIn):
    code: Code
    name: StrictStr = Field(min_length=1, max_length=200)
    description: StrictStr = Field(default="", max_length=4000)
    method_codes: list[Code] = Field(min_length=1, max_length=50)
    product_type: StrictStr = Field(default="", max_length=100)
    client_id: IdIn | None = None
    is_active: StrictBool = True


class PanelUpdateIn(StrictIn):
    name: StrictStr = Field(min_length=1, max_length=200)
    description: StrictStr = Field(default="", max_length=4000)
    method_codes: list[Code] = Field(min_length=1, max_length=50)
    product_type: StrictStr = Field(default="", max_length=100)
    client_id: IdIn | None = None
    is_active: StrictBool = True
    reason: StrictStr = Field(min_length=1, max_length=2000)


class PanelOut(Schema):
    id: int
    code: str
    name: str
    description: str
    methods: list[str]
    product_type: str
    client_id: int | None
    is_active: bool
    updated_at: dt.datetime

    @staticmethod
    def resolve_methods(obj: Any) -> list[str]:
        return sorted(m.code for m in obj.methods.all())


class SampleStoreIn(StrictIn):
    box: StrictStr = Field(min_length=1, max_length=40, description="The box's barcode.")
    position: StrictStr = Field(min_length=1, max_length=4, description="e.g. A1")
    reason: StrictStr = Field(default="", max_length=2000)


class SampleRetrieveIn(StrictIn):
    purpose: StrictStr = Field(max_length=20, description="testing or disposal")
    reason: StrictStr = Field(default="", max_length=2000)


class SamplePlacementOut(Schema):
    id: int
    unit: str
    rack: str
    box: str
    box_id: int
    position: str
    placed_at: dt.datetime
    removed_at: dt.datetime | None
    removal_purpose: str
    removal_reason: str

    @staticmethod
    def resolve_unit(obj: Any) -> str:
        return str(obj.position.box.rack.unit.code)

    @staticmethod
    def resolve_rack(obj: Any) -> str:
        return str(obj.position.box.rack.name)

    @staticmethod
    def resolve_box(obj: Any) -> str:
        return str(obj.position.box.name)

    @staticmethod
    def resolve_box_id(obj: Any) -> int:
        return int(obj.position.box_id)

    @staticmethod
    def resolve_position(obj: Any) -> str:
        return str(obj.position.label)


class SampleStorageOut(Schema):
    id: int
    number: str
    client_sample_id: str
    status: str
    custodian: str | None
    location: SamplePlacementOut | None
    placements: list[SamplePlacementOut]
