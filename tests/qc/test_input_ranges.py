"""Range checks on QC input: a sample's temperature on arrival lies between absolute zero and
150 °C, and a specification limit is a number a result can be stored against (at most 20 digits
before the point, 15 significant digits, 10 decimal places). A refusal names its field (service,
page and API alike) and changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from celltrace.core.errors import Invalid
from celltrace.qc import services
from celltrace.qc.choices import LimitKind, SampleStatus
from celltrace.qc.models import Sample, Specification
from celltrace.qc.services import LimitSpec
from tests.qc.conftest import CAR_T, Lab, snapshot, submitted
from tests.qc.test_api import Api
from tests.qc.test_catalogue import counts, limit_post, propose_spec, spec_limits
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db

# --- temperature on arrival -----------------------------------------------------------------


@pytest.mark.parametrize(
    "temperature",
    ["-300", "-273.2", "150.1", "1000", "-273.15", "-196.55", "NaN", "Infinity", "-Infinity"],
)
def test_a_temperature_on_arrival_beyond_the_physical_range_is_refused(
    lab: Lab, temperature: str
) -> None:
    req = submitted(lab)
    before = snapshot()
    with pytest.raises(Invalid) as refused:
        services.sample_receive(
            actor=lab.analyst,
            request=req,
            scanned_id="A-001",
            accept=True,
            temperature_c=Decimal(temperature),
        )
    assert refused.value.field == "temperature_c"
    assert snapshot() == before
    sample = req.samples.get()
    assert (sample.status, sample.arrival_temperature_c) == (SampleStatus.EXPECTED, None)


@pytest.mark.parametrize("temperature", ["-273.1", "-196.5", "0", "4.0", "150", "150.0"])
def test_a_temperature_on_arrival_within_the_range_is_recorded(lab: Lab, temperature: str) -> None:
    req = submitted(lab)
    sample = services.sample_receive(
        actor=lab.analyst,
        request=req,
        scanned_id="A-001",
        accept=True,
        temperature_c=Decimal(temperature),
    )
    assert Sample.objects.get(pk=sample.pk).arrival_temperature_c == Decimal(temperature)


def test_the_receipt_form_and_the_api_name_the_temperature(lab: Lab) -> None:
    req = submitted(lab)
    web, api = logged_in(lab.analyst), Api(lab.analyst)  # logging in is on the ledger
    before = snapshot()
    page = web.post(
        f"/qc/requests/{req.pk}/receive/",
        {
            "scanned_id": "A-001",
            "temperature_c": "-300",
            "decision": "accept",
            "container_intact": "on",
            "label_matches": "on",
        },
    )
    assert page.status_code == 200
    errors = page.context["form"].errors
    assert list(errors) == ["temperature_c"]
    assert "(absolute zero)" in errors["temperature_c"][0]
    refused = api.post(
        f"/qc/requests/{req.pk}/receipts",
        {"scanned_id": "A-001", "accept": True, "temperature_c": -300},
    )
    assert refused.status_code == 422, refused.content
    assert refused.json()["field"] == "temperature_c"
    assert snapshot() == before
    assert req.samples.get().status == SampleStatus.EXPECTED


# --- specification limits -------------------------------------------------------------------

FORTY_DIGITS = "1" * 40
TOO_LARGE = [
    ("1e400", "too large"),
    ("1E+20", "too large"),
    ("100000000000000000000", "too large"),  # 21 digits before the point
    (FORTY_DIGITS, "significant digits"),
    ("1234567890123456.7", "significant digits"),  # 17, one decimal
]


@pytest.mark.parametrize(("text", "rule"), TOO_LARGE)
@pytest.mark.parametrize("field", ["lower", "alert_lower"])
def test_a_proposed_limit_beyond_what_a_result_holds_is_refused(
    lab: Lab, field: str, text: str, rule: str
) -> None:
    values = {"lower": "70", field: text} if field == "alert_lower" else {"lower": text}
    limits = spec_limits(viability=LimitSpec("viability", LimitKind.AT_LEAST, **values))
    before = counts()
    with pytest.raises(Invalid) as refused:
        propose_spec(lab, limits)
    assert refused.value.field == f"limits.viability.{field}"
    assert rule in refused.value.message
    assert counts() == before


@pytest.mark.parametrize(
    ("upper", "alert_upper", "field"),
    [(FORTY_DIGITS, "", "upper"), ("0.5", FORTY_DIGITS, "alert_upper")],
)
def test_a_proposed_upper_limit_of_forty_digits_is_refused(
    lab: Lab, upper: str, alert_upper: str, field: str
) -> None:
    limits = spec_limits(
        endotoxin=LimitSpec("endotoxin", LimitKind.AT_MOST, upper=upper, alert_upper=alert_upper)
    )
    before = counts()
    with pytest.raises(Invalid) as refused:
        propose_spec(lab, limits)
    assert refused.value.field == f"limits.endotoxin.{field}"
    assert "significant digits" in refused.value.message
    assert counts() == before


def test_the_largest_limits_a_result_can_meet_are_accepted(lab: Lab) -> None:
    limits = spec_limits(
        endotoxin=LimitSpec("endotoxin", LimitKind.AT_MOST, upper="99999999999999.5"),
    )
    limits.append(LimitSpec("cell-count", LimitKind.AT_LEAST, lower="1E+19"))
    spec = propose_spec(lab, limits)
    assert spec.limits.get(method__code="cell-count").lower == "1E+19"


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        (LimitSpec("viability", LimitKind.AT_LEAST, lower="150"), "lies from 0 to 100"),
        (LimitSpec("viability", LimitKind.AT_LEAST, lower="1E+19"), "lies from 0 to 100"),
        (LimitSpec("viability", LimitKind.AT_LEAST, lower="70", alert_lower="-5"), "0 to 100"),
        (LimitSpec("endotoxin", LimitKind.AT_MOST, upper="-0.5"), "is not below 0"),
    ],
)
def test_a_limit_no_result_could_reach_is_refused(lab: Lab, spec: LimitSpec, rule: str) -> None:
    """A specification limit is held to the same range as the results compared with it
    (a viability of at least 150 % is a mistake)."""
    before = counts()
    with pytest.raises(Invalid, match=rule) as refused:
        propose_spec(lab, spec_limits(**{spec.method_code: spec}))
    assert refused.value.field is not None and refused.value.field.startswith(
        f"limits.{spec.method_code}."
    )
    assert counts() == before


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("lower", "1e400"),
        ("upper", FORTY_DIGITS),
        ("alert_lower", "1e400"),
        ("alert_upper", "1e21"),
    ],
)
def test_specification_create_refuses_the_same_limits(lab: Lab, field: str, text: str) -> None:
    kind = LimitKind.AT_LEAST if field in ("lower", "alert_lower") else LimitKind.AT_MOST
    values = {"lower": "70"} if kind == LimitKind.AT_LEAST else {"upper": "0.5"}
    before = counts()
    with pytest.raises(Invalid) as refused:
        services.specification_create(
            actor=lab.qa,
            code="big",
            title="Big",
            product_type=CAR_T,
            limits=[LimitSpec("viability", kind, **{**values, field: text})],
        )
    assert refused.value.field == field
    assert counts() == before


def test_the_specification_form_and_the_api_name_the_limit(lab: Lab) -> None:
    v1 = Specification.objects.get(code="car-t-release")
    web, api = logged_in(lab.reviewer), Api(lab.reviewer)  # logging in is on the ledger
    before = counts()
    page = web.post(
        f"/qc/catalogue/specifications/{v1.pk}/new-version/",
        limit_post(v1, viability={"lower": "1e400", "alert_lower": ""}),
    )
    assert page.status_code == 200
    row = next(f for f in page.context["limit_forms"] if f.code == "viability")
    assert list(row.errors) == ["lower"]
    assert "1e400 is too large" in row.errors["lower"][0]
    refused = api.post(
        "/qc/specifications",
        {
            "code": "car-t-release",
            "title": "CAR-T release",
            "product_type": CAR_T,
            "reason": "r",
            "limits": [
                {"method_code": "viability", "kind": "at_least", "lower": "1e400", "unit": "%"}
            ],
        },
    )
    assert refused.status_code == 422, refused.content
    assert refused.json()["field"] == "limits.0.lower"  # the API names a limit by its index
    assert counts() == before
