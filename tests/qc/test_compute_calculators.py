"""Each QC calculator against a direct call of its ``celltrace.assays`` function on the same
inputs (and a hand computation where one is short), on the real fixture files; every refusal
names the rule."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from celltrace.assays import counts, endotoxin, flow, mycoplasma, sterility, vcn
from celltrace.core.errors import Invalid
from celltrace.qc import calculators
from celltrace.qc.instrument_files import Upload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
COUNTESS = FIXTURES / "assays" / "countess_export.csv"
VICELL = FIXTURES / "assays" / "vicell_export.csv"
BLOOD = FIXTURES / "assays" / "blood_culture.csv"
FLOWJO = FIXTURES / "assays" / "flowjo_statistics.csv"
ARIA = FIXTURES / "fcs" / "100715.fcs"
ARIA_TEMPLATE = FIXTURES / "flow" / "t_panel_100715.gatingml.xml"
BROKEN_FCS = FIXTURES / "fcs" / "data_start_offset_discrepancy_example.fcs"

FLOWJO_MAP = {
    "singlets": "Lymphocytes/Single Cells",
    "viable": "Live",
    "cd3": "CD3+",
    "car": "CAR+",
    "cd4": "CD4+CD8-",
    "cd8": "CD8+CD4-",
}


def upload(path: Path, name: str | None = None) -> Upload:
    return Upload.of(name or path.name, path.read_bytes())


# --------------------------------------------------------------------------- counter CSV


@pytest.mark.parametrize("path", [COUNTESS, VICELL])
def test_counter_viability_equals_the_assay_summary(path: Path) -> None:
    value, _unit, calc = calculators.viability_from_counter({"file": upload(path)}, 1, "%")
    direct = counts.summarise_counts(counts.read_counter_csv(path))
    assert calc["outputs"]["viability_percent"] == repr(direct.viability_percent)
    assert value == str(Decimal(repr(direct.viability_percent)).quantize(Decimal("0.1")))
    assert calc["inputs"]["files"][0]["sha256"] == upload(path).sha256
    assert calc["inputs"]["layout"] == ("countess" if path == COUNTESS else "vicell")
    json.dumps(calc)


def test_countess_viability_by_hand() -> None:
    # mean live (1.15 + 1.22)/2 = 1.185e6 of mean total 1.30e6 = 91.15 % -> 91.2
    value, _u, _c = calculators.viability_from_counter({"file": upload(COUNTESS)}, 1, "%")
    assert value == "91.2"


def test_counter_cell_count_with_dose_per_kg() -> None:
    # Vi-CELL: mean viable (2.30 + 2.43)/2 × 10^6 = 2 365 000 /mL; × 50 mL = 118 250 000 cells;
    # / 70 kg = 1 689 285.7 -> 1689286 cells/kg
    value, unit, calc = calculators.viable_cells_from_counter(
        {"file": upload(VICELL), "volume_ml": Decimal("50"), "body_mass_kg": Decimal("70")},
        None,
        "cells/mL",
    )
    assert (value, unit) == ("2365000", "cells/mL")
    assert calc["outputs"]["total_viable_cells"] == "118250000"
    assert calc["outputs"]["dose_cells_per_kg"] == "1689286"


def test_counter_refusals_name_the_rule() -> None:
    with pytest.raises(Invalid) as exc:
        calculators.viability_from_counter({"file": Upload.of("x.csv", b"a,b\n1,2\n")}, 1, "%")
    assert exc.value.field == "file" and "no accepted counter layout" in exc.value.message
    with pytest.raises(Invalid) as exc:
        calculators.viability_from_counter({"file": upload(COUNTESS), "sample": "nope"}, 1, "%")
    assert exc.value.field == "sample" and "CAR-T lot 24-001" in exc.value.message
    with pytest.raises(Invalid) as exc:
        calculators.viability_from_counter({"file": Upload.of("x.csv", b"\xff\xfe\x00")}, 1, "%")
    assert "not UTF-8" in exc.value.message
    with pytest.raises(Invalid) as exc:
        calculators.viable_cells_from_counter(
            {"file": upload(VICELL), "body_mass_kg": Decimal("70")}, None, "cells/mL"
        )
    assert exc.value.field == "volume_ml"


# --------------------------------------------------------------------------- gel-clot


def gel_clot_inputs(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "labelled_sensitivity": Decimal("0.125"),
        "std_concentrations": [Decimal(c) for c in ("0.25", "0.125", "0.0625", "0.03125")],
        "std_series": [[True, True, False, False]] * 2 + [[True, False, False, False]] * 2,
        "negative_controls": [False, False],
        "dilutions": [Decimal(d) for d in ("1", "2", "4", "8")],
        "sample_series": [[True, True, False, False], [True, False, False, False]],
        "positive_product_controls": [True, True],
    }
    return data | over


def test_gel_clot_geometric_mean_end_point() -> None:
    value, unit, calc = calculators.endotoxin_gel_clot(gel_clot_inputs(), 2, "EU/mL")
    confirmation = endotoxin.confirm_lysate_sensitivity(
        0.125,
        [0.25, 0.125, 0.0625, 0.03125],
        gel_clot_inputs()["std_series"],
        negative_controls=[False, False],
    )
    assert confirmation.confirmed
    assert calc["outputs"]["std_geometric_mean"] == repr(confirmation.geometric_mean)
    assert calc["outputs"]["label_claim_confirmed"] == "yes"
    # end points at dilutions 2 and 1: geometric mean √2 = 1.414…; × λ 0.125 = 0.1768 -> 0.18
    assert calc["outputs"]["sample_endpoint_dilutions"] == ["2", "1"]
    assert (value, unit) == ("0.18", "EU/mL")


def test_gel_clot_no_clot_is_below_lambda_times_the_lowest_dilution() -> None:
    value, _u, _c = calculators.endotoxin_gel_clot(
        gel_clot_inputs(sample_series=[[False] * 4, [False] * 4]), 3, "EU/mL"
    )
    assert value == "< 0.125"


def test_gel_clot_invalid_run_lists_every_reason() -> None:
    bad = gel_clot_inputs(
        std_series=[[True, True, True, True]] * 4,
        negative_controls=[True, False],
        positive_product_controls=[True, False],
        sample_series=[[True, False, True, False], [False] * 4],
    )
    with pytest.raises(Invalid) as exc:
        calculators.endotoxin_gel_clot(bad, 2, "EU/mL")
    message = exc.value.message
    assert "lowest concentration 0.03125 EU/mL clotted" in message
    assert "negative control 0: clotted" in message
    assert "positive product control 2: did not clot" in message
    assert "product series 1: clot at a dilution above one that did not clot" in message
    assert "replicates disagree" in message


# --------------------------------------------------------------------------- kinetic MVD


def test_kinetic_dilution_beyond_the_mvd_is_refused() -> None:
    from tests.qc.test_calculators import endotoxin_inputs

    # ChP 60 kg, K 5, 1000 mL/h: EL = 0.3 EU/mL, MVD = 0.3 / 0.05 = 6 < dilution 10
    inputs = endotoxin_inputs("1495.35", "10") | {
        "dose_per_hour": Decimal("1000"),
        "pharmacopoeia": "ChP",
    }
    with pytest.raises(Invalid) as exc:
        calculators.endotoxin_kinetic(inputs, 2, "EU/mL")
    assert "dilution 10 exceeds the maximum valid dilution 6" in exc.value.message
    assert endotoxin.calculate_endotoxin_limit(
        k_eu_per_kg="5", dose_per_hour="1000", pharmacopoeia=endotoxin.Pharmacopoeia.CHP
    ).limit == Decimal("0.3")


def test_kinetic_ppc_recovery_and_cv_limits_are_refused_with_reasons() -> None:
    from tests.qc.test_calculators import endotoxin_inputs

    inputs = endotoxin_inputs() | {
        # PPC reads the sample's own value: recovery 0 %
        "ppc_onset_times": [Decimal("1495.35"), Decimal("1495.35")],
        "sample_onset_times": [Decimal("1400"), Decimal("1600")],
        "cv_max_percent": Decimal("5"),
    }
    with pytest.raises(Invalid) as exc:
        calculators.endotoxin_kinetic(inputs, 2, "EU/mL")
    assert "below 50 % (inhibition)" in exc.value.message
    assert "sample replicate CV" in exc.value.message


def test_kinetic_outputs_equal_a_direct_evaluation() -> None:
    from tests.qc.test_calculators import endotoxin_inputs

    inputs = endotoxin_inputs()
    _v, _u, calc = calculators.endotoxin_kinetic(inputs, 2, "EU/mL")
    curve = endotoxin.fit_standard_curve(
        [float(c) for c in inputs["concentrations"]], [float(t) for t in inputs["onset_times"]]
    )
    run = endotoxin.evaluate_kinetic_sample(
        curve,
        sample_onset_times=[float(t) for t in inputs["sample_onset_times"]],
        ppc_onset_times=[float(t) for t in inputs["ppc_onset_times"]],
        spike_eu_per_ml=0.5,
        dilution=2.0,
        mvd=700.0,
        negative_control_onset_times=[None, None],
    )
    assert calc["outputs"]["recovery_percent"] == repr(run.recovery_percent)
    assert calc["outputs"]["sample_mean_eu_per_ml"] == repr(run.sample_mean)
    assert calc["outputs"]["r"] == repr(curve.r)


# --------------------------------------------------------------------------- sterility

UTC = dt.UTC


def test_sterility_readings_growth_no_growth_and_pending() -> None:
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    incs = [sterility.Incubation("FTM", start), sterility.Incubation("SCDM", start)]
    reads = [
        sterility.Reading(m, start + dt.timedelta(days=d, hours=1), False)
        for m in ("FTM", "SCDM")
        for d in range(1, 15)
    ]
    as_of = start + dt.timedelta(days=15)
    value, _u, calc = calculators.sterility_from_readings(
        {"incubations": incs, "readings": reads, "as_of": as_of}, None, ""
    )
    assert value == "No growth"
    direct = sterility.evaluate_sterility(incs, reads, as_of=as_of)
    assert calc["outputs"]["outcome"] == direct.outcome.value == "No growth"
    assert len(calc["inputs"]["readings"]) == 28
    growth = [*reads[:3], sterility.Reading("SCDM", start + dt.timedelta(days=4), True)]
    value, _u, calc = calculators.sterility_from_readings(
        {"incubations": incs, "readings": growth, "as_of": start + dt.timedelta(days=5)},
        None,
        "",
    )
    assert value == "Growth" and calc["outputs"]["growth"] == ["SCDM day 4"]
    with pytest.raises(Invalid) as exc:
        calculators.sterility_from_readings(
            {"incubations": incs, "readings": reads[:5], "as_of": start + dt.timedelta(days=6)},
            None,
            "",
        )
    assert "not complete" in exc.value.message and "SCDM day 1" in exc.value.message


def test_blood_culture_csv() -> None:
    value, _u, calc = calculators.sterility_from_blood_culture(
        {"file": upload(BLOOD), "sample_id": "LOT-24-001", "required_days": 14}, None, ""
    )
    direct = sterility.evaluate_blood_culture(
        sterility.read_blood_culture_csv(BLOOD), sample_id="LOT-24-001"
    )
    assert value == "No growth" == direct.outcome.value
    assert len(calc["inputs"]["bottles"]) == 2
    value, _u, calc = calculators.sterility_from_blood_culture(
        {"file": upload(BLOOD), "sample_id": "LOT-24-002", "required_days": 14}, None, ""
    )
    assert value == "Growth" and "BT0003" in calc["outputs"]["growth"][0]
    with pytest.raises(Invalid) as exc:
        calculators.sterility_from_blood_culture(
            {"file": upload(BLOOD), "sample_id": "LOT-24-003", "required_days": 14}, None, ""
        )
    assert "still incubating" in exc.value.message
    with pytest.raises(Invalid) as exc:
        calculators.sterility_from_blood_culture(
            {"file": upload(BLOOD), "sample_id": "", "required_days": 14}, None, ""
        )
    assert exc.value.field == "sample_id"
    with pytest.raises(Invalid) as exc:
        calculators.sterility_from_blood_culture(
            {"file": upload(COUNTESS), "sample_id": "x", "required_days": 14}, None, ""
        )
    assert exc.value.field == "file" and "missing column(s)" in exc.value.message


# --------------------------------------------------------------------------- mycoplasma


def nat(**over: Any) -> dict[str, Any]:
    W = mycoplasma.NatWell
    return {
        "samples": [W("S1", None, 28.1), W("S2", None, 28.4)],
        "positive_controls": [W("PC", 33.0, 28.0)],
        "negative_controls": [W("NTC", None, 28.2)],
        "spiked_samples": [W("SPK", 34.1, 28.5)],
        "cq_cutoff": None,
    } | over


def test_mycoplasma_nat_outcomes() -> None:
    value, _u, calc = calculators.mycoplasma_nat(nat(), None, "")
    assert value == "Not detected" == mycoplasma.evaluate_nat(**nat()).outcome.value
    assert calc["inputs"]["samples"] == ["S1: — / 28.1", "S2: — / 28.4"]
    hit = nat(samples=[mycoplasma.NatWell("S1", 36.2, 28.0)])
    assert calculators.mycoplasma_nat(hit, None, "")[0] == "Detected"
    bad = nat(
        negative_controls=[mycoplasma.NatWell("NTC", 35.0, 28.0)],
        spiked_samples=[mycoplasma.NatWell("SPK", None, 28.0)],
    )
    with pytest.raises(Invalid) as exc:
        calculators.mycoplasma_nat(bad, None, "")
    assert "possible contamination" in exc.value.message
    assert "spike not detected (inhibition)" in exc.value.message


def test_mycoplasma_culture_outcomes() -> None:
    Obs = mycoplasma.CultureObservation
    base = {
        "test_observations": [Obs("agar", 14, False), Obs("broth", 21, False)],
        "positive_controls": [Obs("agar", 7, True), Obs("broth", 7, True)],
        "negative_controls": [Obs("agar", 14, False), Obs("broth", 21, False)],
    }
    assert calculators.mycoplasma_culture(base, None, "")[0] == "Not detected"
    with pytest.raises(Invalid) as exc:
        calculators.mycoplasma_culture(
            base | {"test_observations": [Obs("agar", 14, False), Obs("broth", 10, False)]},
            None,
            "",
        )
    assert "not complete" in exc.value.message and "broth" in exc.value.message
    with pytest.raises(Invalid) as exc:
        calculators.mycoplasma_culture(
            base | {"positive_controls": [Obs("agar", 7, False), Obs("broth", 7, True)]}, None, ""
        )
    assert "agar: positive control shows no growth" in exc.value.message


# --------------------------------------------------------------------------- VCN

COPIES = ["1000000", "100000", "10000", "1000", "100"]


def cq_line(intercept: float, copies: list[str]) -> list[Decimal]:
    # slope -3.3219 (efficiency 100 %): Cq = intercept - 3.3219 × log10(copies)
    import math

    return [Decimal(f"{intercept - 3.3219 * math.log10(float(c)):.3f}") for c in copies]


def qpcr_inputs(**over: Any) -> dict[str, Any]:
    return {
        "target_std_copies": [Decimal(c) for c in COPIES],
        "target_std_cq": cq_line(38.0, COPIES),
        "reference_std_copies": [Decimal(c) for c in COPIES],
        "reference_std_cq": cq_line(37.0, COPIES),
        # target 10^4 copies, reference 2 × 10^4 copies: VCN = 2 × 1 / 2 = 1.0
        "sample_target_cq": cq_line(38.0, ["10000", "10000"]),
        "sample_reference_cq": cq_line(37.0, ["20000", "20000"]),
        "car_positive_percent": None,
    } | over


def test_qpcr_vcn_by_hand_and_per_transduced_cell() -> None:
    value, unit, calc = calculators.vcn_qpcr(qpcr_inputs(), 2, "copies/cell")
    assert (value, unit) == ("1.00", "copies/cell")
    curve = vcn.fit_qpcr_standard_curve(
        [float(c) for c in COPIES], [float(c) for c in cq_line(38.0, COPIES)]
    )
    assert calc["outputs"]["target_slope"] == repr(curve.slope)
    value, _u, calc = calculators.vcn_qpcr(
        qpcr_inputs(car_positive_percent=Decimal("40")), 2, "copies/cell"
    )
    assert value == "2.50"  # 1.0 / 0.40
    assert abs(float(calc["outputs"]["copies_per_transduced_cell"]) - 2.5) < 1e-3


def test_qpcr_curve_outside_the_window_is_refused() -> None:
    bad = [c * Decimal("0.8") for c in cq_line(38.0, COPIES)]  # slope -2.66: efficiency 138 %
    with pytest.raises(Invalid) as exc:
        calculators.vcn_qpcr(qpcr_inputs(target_std_cq=bad), 2, "copies/cell")
    assert "target curve: efficiency" in exc.value.message


def test_ddpcr_vcn_equals_the_assay_and_droplet_volume_is_recorded() -> None:
    inputs = {
        "target_positive": 3000,
        "reference_positive": 5000,
        "total_droplets": 15000,
        "droplet_nl": Decimal("0.91"),
        "min_droplets": 10000,
    }
    value, _u, calc = calculators.vcn_ddpcr(inputs, 2, "copies/cell")
    well = vcn.analyse_ddpcr_well(3000, 5000, 15000, droplet_nl=0.91)
    assert calc["outputs"]["vcn_per_diploid_genome"] == repr(well.vcn)
    assert calc["outputs"]["target_copies_per_ul"] == repr(well.target_copies_per_ul)
    assert calc["inputs"]["droplet_nl"] == "0.91"
    assert value == str(Decimal(repr(well.vcn)).quantize(Decimal("0.01")))
    with pytest.raises(Invalid) as exc:
        calculators.vcn_ddpcr(inputs | {"total_droplets": 8000}, 2, "copies/cell")
    assert "8000 accepted droplets; at least 10000" in exc.value.message


# --------------------------------------------------------------------------- flow


def test_flow_statistics_identity_net_of_control_and_purity() -> None:
    inputs = {
        "file": upload(FLOWJO),
        "sample": "CAR-T lot 7.fcs",
        "control_sample": "UTD control.fcs",
    } | FLOWJO_MAP
    value, unit, calc = calculators.flow_from_statistics("identity-flow")(inputs, 1, "%")
    table = flow.read_stats_csv(FLOWJO)
    direct = flow.flow_release(
        flow.sample_from_stats(table, "CAR-T lot 7.fcs", FLOWJO_MAP),
        flow.sample_from_stats(table, "UTD control.fcs", FLOWJO_MAP),
    )
    assert direct.car_net is not None
    # 4718/15725 - 145/14535 = 30.003 % - 0.998 % = 29.006 % -> 29.0
    assert (value, unit) == ("29.0", "%")
    assert calc["outputs"]["car_net_percent"] == repr(direct.car_net.net_percent)
    value, _u, calc = calculators.flow_from_statistics("purity-flow")(inputs, 1, "%")
    assert value == "85.0"  # 15725 / 18500
    with pytest.raises(Invalid) as exc:
        calculators.flow_from_statistics("identity-flow")(inputs | {"control_sample": ""}, 1, "%")
    assert exc.value.field == "control_sample"
    with pytest.raises(Invalid) as exc:
        calculators.flow_from_statistics("purity-flow")(inputs | {"cd3": "CD19+"}, 1, "%")
    assert exc.value.field == "cd3" and "not found" in exc.value.message


def test_flow_fcs_equals_analyze_fcs_and_broken_files_are_named() -> None:
    pytest.importorskip("flowkit")
    inputs = {"fcs_file": upload(ARIA), "template": upload(ARIA_TEMPLATE)}
    value, _u, calc = calculators.flow_from_fcs("purity-flow")(inputs, 1, "%")
    direct = flow.analyze_fcs(ARIA, ARIA_TEMPLATE)
    cd3 = direct.values.cd3
    assert value == str(
        (Decimal(cd3.numerator) * 100 / Decimal(cd3.denominator)).quantize(Decimal("0.1"))
    )
    assert [f["sha256"] for f in calc["inputs"]["files"]] == [
        upload(ARIA).sha256,
        upload(ARIA_TEMPLATE).sha256,
    ]
    assert calc["inputs"]["compensation"] == direct.inputs.compensation
    assert len(calc["outputs"]["gate_counts"]) == len(direct.gate_counts)
    with pytest.raises(Invalid) as exc:
        calculators.flow_from_fcs("purity-flow")(
            {"fcs_file": upload(BROKEN_FCS), "template": upload(ARIA_TEMPLATE)}, 1, "%"
        )
    assert exc.value.field == "fcs_file" and "disagree on the DATA segment" in exc.value.message
    with pytest.raises(Invalid) as exc:
        calculators.flow_from_fcs("purity-flow")(
            {"fcs_file": upload(ARIA), "template": Upload.of("t.xml", b"<nope")}, 1, "%"
        )
    assert exc.value.field == "template" and "not well-formed XML" in exc.value.message


def test_numbers_out_of_range_are_refused_not_crashed() -> None:
    # a curve whose intercept is huge: reading a sample far below it overflows 10^x
    huge = [Decimal(c) + Decimal("100000") for c in cq_line(38.0, COPIES)]
    inputs = qpcr_inputs(
        target_std_cq=huge, reference_std_cq=huge, sample_target_cq=[Decimal("0.5")]
    )
    with pytest.raises(Invalid) as exc:
        calculators.compute("vcn", inputs, decimals=2, unit="copies/cell", kind="qpcr")
    assert "out of range" in exc.value.message


def test_sterility_without_incubation_asks_for_the_inoculation() -> None:
    with pytest.raises(Invalid) as exc:
        calculators.sterility_from_readings(
            {"incubations": [], "readings": [], "as_of": dt.datetime.now(UTC)}, None, ""
        )
    assert "record the inoculation first" in exc.value.message
