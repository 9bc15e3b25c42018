"""A numeric result is held to what its unit makes possible (ui.md item 1: 150 % viability was
"Conforms"): a percentage (unit "%") lies from 0 to 100, a count or concentration (cells/mL,
EU/mL …) is not below 0, a unit on a signed scale (°C, log …) or no unit sets no range. The
rule is read from the method version's unit, not from the method code. A refusal names
``value`` and the rule, on entry and on correction, through the service, the page and the
API, and changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from celltrace.core.errors import Invalid
from celltrace.qc import calculators, services, services_compute
from celltrace.qc.choices import Conformance
from celltrace.qc.evaluation import value_range
from celltrace.qc.models import Method, Result
from tests.qc.conftest import Lab, in_testing, lab_test, snapshot
from tests.qc.test_api import Api
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db


# --- the rule, from the unit ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "lower", "upper"),
    [
        ("%", Decimal(0), Decimal(100)),
        (" % ", Decimal(0), Decimal(100)),
        ("cells/mL", Decimal(0), None),
        ("EU/mL", Decimal(0), None),
        ("copies/cell", Decimal(0), None),
    ],
)
def test_a_unit_sets_the_range_of_its_results(
    unit: str, lower: Decimal, upper: Decimal | None
) -> None:
    bounds = value_range(unit)
    assert bounds is not None
    assert (bounds.lower, bounds.upper) == (lower, upper)


@pytest.mark.parametrize("unit", ["", "  ", "°C", "log10 reduction", "mV", "ΔCt"])
def test_a_signed_unit_or_none_sets_no_range(unit: str) -> None:
    assert value_range(unit) is None


# --- entering a result ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "value", "rule"),
    [
        ("viability", "150", "lies from 0 to 100"),
        ("viability", "100.1", "lies from 0 to 100"),
        ("viability", "-0.1", "lies from 0 to 100"),
        ("viability", "> 100", "lies from 0 to 100"),
        ("viability", "< 0", "lies from 0 to 100"),
        ("endotoxin", "-0.01", "is not below 0"),
        ("endotoxin", "< 0", "is not below 0"),
        ("cell-count", "-1", "is not below 0"),
    ],
)
def test_a_result_its_unit_makes_impossible_is_refused(
    lab: Lab, code: str, value: str, rule: str
) -> None:
    req = in_testing(lab, methods=["viability", "endotoxin", "cell-count"])
    test = lab_test(req, code)
    before = snapshot()
    with pytest.raises(Invalid) as refused:
        services.result_enter(actor=lab.analyst, test=test, value=value)
    assert refused.value.field == "value"
    assert rule in refused.value.message
    assert value.strip() in refused.value.message
    assert snapshot() == before  # no result, no OOS, no ledger entry
    assert not Result.objects.filter(test=test).exists()


def test_the_review_case_150_percent_viability_is_refused_not_conforming(lab: Lab) -> None:
    req = in_testing(lab)
    before = snapshot()
    with pytest.raises(Invalid) as refused:
        services.result_enter(actor=lab.analyst, test=lab_test(req, "viability"), value="150")
    assert refused.value.message == (
        "150 % is not a possible result: a result in % lies from 0 to 100."
    )
    assert snapshot() == before


@pytest.mark.parametrize(
    ("code", "value", "conformance"),
    [
        ("viability", "100", Conformance.CONFORMS),
        ("viability", "100.0", Conformance.CONFORMS),
        ("viability", "< 100", Conformance.NOT_APPLICABLE),  # "<" never meets a minimum …
        ("viability", "0", Conformance.DOES_NOT_CONFORM),
        ("endotoxin", "0", Conformance.CONFORMS),
        ("endotoxin", "< 0.05", Conformance.CONFORMS),
        ("cell-count", "0", Conformance.NOT_APPLICABLE),
        ("cell-count", "1E+12", Conformance.NOT_APPLICABLE),
    ],
)
def test_results_at_the_edges_of_the_range_are_entered(
    lab: Lab, code: str, value: str, conformance: str
) -> None:
    req = in_testing(lab, methods=["viability", "endotoxin", "cell-count"])
    result = services.result_enter(actor=lab.analyst, test=lab_test(req, code), value=value)
    stored = Result.objects.get(pk=result.pk)
    if value == "< 100":  # … so it does not conform to "at least 70"
        conformance = Conformance.DOES_NOT_CONFORM
    assert stored.conformance == conformance


def test_entering_the_result_in_another_unit_does_not_escape_the_methods_range(
    lab: Lab,
) -> None:
    req = in_testing(lab)
    test = lab_test(req, "viability")
    before = snapshot()
    for unit in ("percent", "cells/mL"):
        with pytest.raises(Invalid) as refused:
            services.result_enter(actor=lab.analyst, test=test, value="150", unit=unit)
        assert refused.value.field == "value"
        assert "lies from 0 to 100" in refused.value.message
    assert snapshot() == before


def test_a_method_whose_unit_is_signed_takes_negative_results(lab: Lab) -> None:
    """The range follows the method version's unit: a new version of cell-count reported as a
    log reduction (a signed scale) takes -1.5; the seeded version (cells/mL) does not."""
    method = Method.objects.get(code="cell-count")
    services.method_version_create(
        actor=None,
        method=method,
        changes={"unit": "log10 reduction", "reported_decimals": 1},
        reason="reported as a log reduction",
    )
    req = in_testing(lab, methods=["cell-count"])
    test = lab_test(req, "cell-count")
    assert test.method_version.unit == "log10 reduction"
    result = services.result_enter(actor=lab.analyst, test=test, value="-1.5")
    assert Result.objects.get(pk=result.pk).value == Decimal("-1.5")


# --- correcting a result --------------------------------------------------------------------


def test_a_correction_to_an_impossible_value_is_refused(lab: Lab) -> None:
    req = in_testing(lab)
    result = services.result_enter(actor=lab.analyst, test=lab_test(req, "viability"), value="85")
    before = snapshot()
    with pytest.raises(Invalid) as refused:
        services.result_correct(actor=lab.analyst, result=result, value="150", reason="typo")
    assert refused.value.field == "value"
    assert "lies from 0 to 100" in refused.value.message
    assert snapshot() == before
    stored = Result.objects.get(pk=result.pk)
    assert (stored.value_text, stored.conformance) == ("85", Conformance.CONFORMS)


# --- the page and the API -------------------------------------------------------------------


def test_the_result_form_and_the_api_name_the_value(lab: Lab) -> None:
    req = in_testing(lab)
    test = lab_test(req, "viability")
    web, api = logged_in(lab.analyst), Api(lab.analyst)  # logging in is on the ledger
    before = snapshot()
    page = web.post(f"/qc/tests/{test.pk}/", {"value": "150", "comment": ""})
    assert page.status_code == 200
    errors = page.context["form"].errors
    assert list(errors) == ["value"]
    assert "a result in % lies from 0 to 100" in errors["value"][0]
    refused = api.post(f"/qc/tests/{test.pk}/results", {"value": "150"})
    assert refused.status_code == 422, refused.content
    assert refused.json()["field"] == "value"
    assert "lies from 0 to 100" in refused.json()["detail"]
    assert snapshot() == before


# --- calculators ----------------------------------------------------------------------------


def test_calculated_viability_stays_inside_the_range_it_is_held_to(lab: Lab) -> None:
    """Every cell counted alive gives 100.0 %, the top of the range, and it is entered."""
    inputs: dict[str, Any] = {
        "viable_counts": [50, 45, 55, 50],
        "nonviable_counts": [0, 0, 0, 0],
        "dilution_factor": 2,
    }
    value, unit, _calc = calculators.viability_from_hemocytometer(inputs, 1, "%")
    assert (value, unit) == ("100.0", "%")
    req = in_testing(lab)
    result = services_compute.result_compute(
        actor=lab.analyst, test=lab_test(req, "viability"), kind="hemocytometer", inputs=inputs
    )
    assert (result.value, result.unit) == (Decimal("100.0"), "%")


def test_a_relative_measure_names_its_reference_and_may_exceed_100() -> None:
    """`%` alone is a share of a whole; "% of reference" or "% recovery" (potency, spike
    recovery) may exceed 100 but not go below 0."""
    from decimal import Decimal

    from celltrace.qc.evaluation import value_range

    share = value_range("%")
    assert share is not None and (share.lower, share.upper) == (Decimal(0), Decimal(100))
    for unit in ("% of reference", "% recovery"):
        relative = value_range(unit)
        assert relative is not None and (relative.lower, relative.upper) == (Decimal(0), None)
    assert value_range("°C") is None and value_range("") is None
