"""Assay calculators wired into QC results: each checked against an independent computation,
and the compute page (one result with its calculation; bad inputs and invalid curves write
nothing; another client's test is a 404)."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from celltrace.audit.verification import verify_database
from celltrace.core.errors import Invalid
from celltrace.qc import calculators
from celltrace.qc.choices import Conformance
from celltrace.qc.models import OosInvestigation, Result
from tests.qc.conftest import Lab, in_testing, lab_test, snapshot
from tests.qc.test_pages import logged_in

# Standards on an exact log-log line T = 1000 × C^-0.25 (a = 3, b = -0.25), three wells each,
# onset times written to 0.01 s as an instrument would report them.
STD_C = ["0.05"] * 3 + ["0.5"] * 3 + ["5"] * 3
STD_T = ["2114.74"] * 3 + ["1189.21"] * 3 + ["668.74"] * 3


def hand_endotoxin(onset: str, dilution: str, places: str = "0.01") -> str:
    """Closed form of the same line: C = (T / 1000)^-4, times the dilution."""
    conc = (float(onset) / 1000) ** -4 * float(dilution)
    return str(Decimal(f"{conc:.6f}").quantize(Decimal(places), rounding=ROUND_HALF_UP))


def ppc_onset(onset: str, spike: str = "0.5") -> str:
    """Onset time of the sample spiked with ``spike`` EU/mL (100 % recovery) on the same line."""
    conc = (float(onset) / 1000) ** -4 + float(spike)
    return f"{1000 * conc**-0.25:.2f}"


def endotoxin_inputs(onset: str = "1495.35", dilution: str = "2") -> dict[str, Any]:
    return {
        "concentrations": [Decimal(c) for c in STD_C],
        "onset_times": [Decimal(t) for t in STD_T],
        "sample_onset_times": [Decimal(onset)] * 2,
        "ppc_onset_times": [Decimal(ppc_onset(onset))] * 2,
        "spike_eu_per_ml": Decimal("0.5"),
        "negative_control_onset_times": [None, None],
        "dilution": Decimal(dilution),
        "k_eu_per_kg": Decimal("5"),
        "dose_per_hour": Decimal("10"),
        "pharmacopoeia": "USP",
        "product_concentration": Decimal("1"),
        "cv_max_percent": None,
    }


# --------------------------------------------------------------------------- pure calculators


def test_viability_from_hemocytometer_by_hand() -> None:
    # 200 live and 20 dead cells over 4 squares: 200 / 220 = 90.909… % -> 90.9
    inputs = {"viable_counts": [50, 45, 55, 50], "nonviable_counts": [5, 3, 4, 8]}
    value, unit, calc = calculators.viability_from_hemocytometer(
        inputs | {"dilution_factor": Decimal("2")}, 1, "%"
    )
    assert (value, unit) == ("90.9", "%")
    assert calc["calculator"] == "celltrace.assays.counts.hemocytometer_count"
    assert calc["version"] == "counts/1.0.0"
    assert calc["inputs"]["squares"] == "4"
    assert calc["inputs"]["viable_counts"] == ["50", "45", "55", "50"]
    # 200 / 4 squares × 2 × 10^4 = 1 000 000 viable cells/mL; 20 / 4 × 2 × 10^4 dead
    assert float(calc["outputs"]["viable_per_ml"]) == 1_000_000
    assert float(calc["outputs"]["nonviable_per_ml"]) == 100_000
    assert calc["outputs"]["reported"] == "90.9"
    json.dumps(calc)  # JSON-safe without a custom encoder


def test_viability_half_way_rounds_up_with_decimal() -> None:
    # 389 / 400 = 97.25 % exactly: half-up gives 97.3 (float round() would give 97.2)
    value, _unit, _calc = calculators.viability_from_hemocytometer(
        {"viable_counts": [389], "nonviable_counts": [11], "dilution_factor": Decimal("2")},
        1,
        "%",
    )
    assert round(97.25, 1) == 97.2  # the trap this avoids
    assert value == "97.3"


def test_viable_cells_per_ml_by_hand() -> None:
    # 3 squares, 101 live cells, dilution 2: 101 / 3 × 2 × 10^4 = 673 333.33… -> 673333
    value, unit, calc = calculators.viable_cells_from_hemocytometer(
        {"viable_counts": [30, 36, 35], "nonviable_counts": [2, 1, 0], "dilution_factor": 2},
        None,
        "cells/mL",
    )
    assert (value, unit) == ("673333", "cells/mL")
    assert calc["inputs"]["dilution_factor"] == "2"


def test_hemocytometer_refuses_an_empty_count() -> None:
    with pytest.raises(Invalid) as exc:
        calculators.viability_from_hemocytometer(
            {"viable_counts": [0, 0], "nonviable_counts": [0, 0], "dilution_factor": 2}, 1, "%"
        )
    assert exc.value.field == "viable_counts"
    assert "no cells counted" in exc.value.message


def test_endotoxin_against_the_closed_form() -> None:
    value, unit, calc = calculators.endotoxin_kinetic(endotoxin_inputs(), 2, "EU/mL")
    # (1495.35 / 1000)^-4 = 0.2000 EU/mL in the test solution, × 2 = 0.40 EU/mL
    assert hand_endotoxin("1495.35", "2") == "0.40"
    assert (value, unit) == ("0.40", "EU/mL")
    assert calc["calculator"] == "celltrace.assays.endotoxin.evaluate_kinetic_sample"
    assert calc["version"] == "endotoxin/1.0.0"
    # EL = 5 EU/kg × 70 kg / 10 mL = 35 EU/mL; MVD = 35 × 1 / λ 0.05 = 700
    assert calc["outputs"]["endotoxin_limit"] == "35 EU/mL"
    assert Decimal(calc["outputs"]["mvd"]) == 700
    assert abs(float(calc["outputs"]["recovery_percent"]) - 100) < 0.5
    assert Decimal(calc["outputs"]["slope"]).quantize(Decimal("0.0001")) == Decimal("-0.2500")
    assert Decimal(calc["outputs"]["intercept"]).quantize(Decimal("0.0001")) == Decimal("3.0000")
    assert abs(float(calc["outputs"]["r"])) > 0.9999
    assert calc["inputs"]["concentrations"][:3] == ["0.05", "0.05", "0.05"]
    json.dumps(calc)


@pytest.mark.parametrize(("onset", "dilution"), [("900", "1"), ("1100", "10"), ("2000", "4")])
def test_endotoxin_other_points(onset: str, dilution: str) -> None:
    value, _u, _c = calculators.endotoxin_kinetic(endotoxin_inputs(onset, dilution), 2, "EU/mL")
    assert value == hand_endotoxin(onset, dilution)


def test_endotoxin_below_the_lowest_standard_reports_less_than_lambda_times_dilution() -> None:
    # 3000 s is below λ = 0.05 EU/mL: reported as < 0.05 × 4 = < 0.20
    value, _u, calc = calculators.endotoxin_kinetic(endotoxin_inputs("3000", "4"), 2, "EU/mL")
    assert value == "< 0.20"
    assert calc["outputs"]["below_lowest_standard"] == "yes"


def test_endotoxin_above_the_highest_standard_is_refused() -> None:
    with pytest.raises(Invalid) as exc:
        calculators.endotoxin_kinetic(endotoxin_inputs("500", "1"), 2, "EU/mL")
    assert "The run is invalid" in exc.value.message
    assert "highest standard" in exc.value.message


def test_invalid_curve_names_every_reason() -> None:
    inputs = endotoxin_inputs()
    # two levels only, two wells each, and onset times rising with concentration
    inputs["concentrations"] = [Decimal(c) for c in ["0.05", "0.05", "0.5", "0.5"]]
    inputs["onset_times"] = [Decimal(t) for t in ["900", "1500", "1000", "1400"]]
    with pytest.raises(Invalid) as exc:
        calculators.endotoxin_kinetic(inputs, 2, "EU/mL")
    message = exc.value.message
    assert "The run is invalid" in message
    assert "|r|" in message
    assert "not negative" in message
    assert "at least 3 are required" in message
    assert "fewer than 3 replicates" in message


def test_registry_covers_the_seeded_method_codes() -> None:
    from celltrace.qc.catalogue import METHODS
    from celltrace.qc.forms_compute import FORMS

    codes = {m.code for m in METHODS}
    # every seeded method with a calculation has one; appearance and RCV are entered by hand
    assert set(calculators.CALCULATORS) == codes - {"appearance", "rcv"}
    kinds = {(code, k.slug) for code, ks in calculators.CALCULATORS.items() for k in ks}
    assert set(FORMS) == kinds
    with pytest.raises(Invalid):
        calculators.compute("appearance", {}, decimals=None, unit="")
    with pytest.raises(Invalid):
        calculators.compute("endotoxin", {}, decimals=None, unit="", kind="nope")


# --------------------------------------------------------------------------- the compute page


def _post_std(onset: str = "1495.35", dilution: str = "2") -> dict[str, str]:
    return {
        "concentrations": " ".join(STD_C),
        "onset_times": ", ".join(STD_T),
        "sample_onset_times": f"{onset} {onset}",
        "ppc_onset_times": f"{ppc_onset(onset)}, {ppc_onset(onset)}",
        "spike_eu_per_ml": "0.5",
        "negative_control_onset_times": "- -",
        "dilution": dilution,
        "k_eu_per_kg": "5",
        "dose_per_hour": "10",
        "pharmacopoeia": "USP",
        "product_concentration": "1",
    }


@pytest.mark.django_db
def test_compute_page_enters_one_endotoxin_result_with_its_calculation(lab: Lab) -> None:
    test = lab_test(in_testing(lab), "endotoxin")
    client = logged_in(lab.analyst)
    # kinetic and gel-clot
    assert client.get(f"/qc/tests/{test.pk}/").content.count(b"/compute/?kind=") == 2
    page = client.get(f"/qc/tests/{test.pk}/compute/")
    assert page.status_code == 200
    response = client.post(f"/qc/tests/{test.pk}/compute/?kind=kinetic", _post_std())
    assert response.status_code == 302
    result = Result.objects.get(test=test)
    assert result.value_text == hand_endotoxin("1495.35", "2") == "0.40"
    assert result.unit == "EU/mL"
    assert result.conformance == Conformance.CONFORMS  # 0.40 <= 0.5
    assert result.calculation is not None
    assert result.calculation["version"] == "endotoxin/1.0.0"
    assert result.calculation["inputs"]["dilution"] == "2"
    assert verify_database().ok
    detail = client.get(f"/qc/tests/{test.pk}/").content.decode()
    assert "celltrace.assays.endotoxin.evaluate_kinetic_sample" in detail
    assert "PPC recovery (%)" in detail  # readable labels, not keys
    assert "endotoxin/1.0.0" in detail


@pytest.mark.django_db
def test_compute_page_non_conforming_viability_opens_an_oos(lab: Lab) -> None:
    test = lab_test(in_testing(lab), "viability")
    client = logged_in(lab.analyst)
    # 60 live, 40 dead: 60.0 % < 70 %
    data = {
        "viable_counts": "15 15 15 15",
        "nonviable_counts": "10,10,10,10",
        "dilution_factor": "2",
    }
    assert client.post(f"/qc/tests/{test.pk}/compute/", data).status_code == 302
    result = Result.objects.get(test=test)
    assert (result.value_text, result.unit) == ("60.0", "%")
    assert result.conformance == Conformance.DOES_NOT_CONFORM
    assert OosInvestigation.objects.filter(result=result).exists()
    assert result.calculation is not None
    assert result.calculation["outputs"]["reported"] == "60.0"


@pytest.mark.django_db
def test_invalid_curve_writes_nothing(lab: Lab) -> None:
    test = lab_test(in_testing(lab), "endotoxin")
    client = logged_in(lab.analyst)
    before = snapshot()
    data = _post_std()
    data["onset_times"] = " ".join(["900", "1500", "1200"] * 3)
    response = client.post(f"/qc/tests/{test.pk}/compute/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "The run is invalid" in body
    assert "is not negative" in body
    assert snapshot() == before
    assert not Result.objects.filter(test=test).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "bad", "rule"),
    [
        ("viable_counts", "12 x 7", "must be a number"),
        ("viable_counts", "12 7.5", "whole number"),
        ("nonviable_counts", "1 2 3", "one of each per square"),
        ("dilution_factor", "0.5", "greater than or equal to 1"),
    ],
)
def test_bad_count_inputs_name_the_field_and_write_nothing(
    lab: Lab, field: str, bad: str, rule: str
) -> None:
    test = lab_test(in_testing(lab), "viability")
    client = logged_in(lab.analyst)
    data = {"viable_counts": "12 7", "nonviable_counts": "1 2", "dilution_factor": "2"}
    data[field] = bad
    before = snapshot()
    response = client.post(f"/qc/tests/{test.pk}/compute/", data)
    assert response.status_code == 200
    assert rule in response.content.decode()
    assert field in response.context["form"].errors
    assert snapshot() == before


@pytest.mark.django_db
def test_client_gets_404_on_another_clients_compute_page(lab: Lab) -> None:
    test = lab_test(in_testing(lab, client=lab.bob, sample="B-9"), "endotoxin")
    alice = logged_in(lab.alice)
    before = snapshot()
    assert alice.get(f"/qc/tests/{test.pk}/compute/").status_code == 404
    assert alice.post(f"/qc/tests/{test.pk}/compute/", _post_std()).status_code == 404
    assert snapshot() == before


@pytest.mark.django_db
def test_method_without_calculator_has_no_compute_page(lab: Lab) -> None:
    test = lab_test(in_testing(lab, methods=["appearance"]), "appearance")
    client = logged_in(lab.analyst)
    assert client.get(f"/qc/tests/{test.pk}/compute/").status_code == 404
    assert b"/compute/" not in client.get(f"/qc/tests/{test.pk}/").content


@pytest.mark.django_db
def test_certificate_lists_calculations_in_an_annex(lab: Lab) -> None:
    from celltrace.qc import services
    from celltrace.qc.certificates import render_html
    from tests.qc.conftest import VALUES, sign

    req = in_testing(lab)
    for test in req.tests.order_by("pk"):
        code = test.method_version.method.code
        if code == "endotoxin":
            value, unit, calc = calculators.endotoxin_kinetic(endotoxin_inputs(), 2, "EU/mL")
            result = services.result_enter(
                actor=lab.analyst, test=test, value=value, unit=unit, calculation=calc
            )
        else:
            result = services.result_enter(actor=lab.analyst, test=test, value=VALUES[code])
        sign(lab.analyst, result, "performed")
        sign(lab.reviewer, result, "reviewed")
    req.refresh_from_db()
    sign(lab.qa, req, "released")
    html = render_html(services.certificate_issue(actor=lab.qa, request=req))
    assert html.count("Annex: calculations") == 1
    assert "celltrace.assays.endotoxin.evaluate_kinetic_sample" in html
    assert "Maximum valid dilution" in html
    assert "2114.74" in html
    assert "0.40" in html
