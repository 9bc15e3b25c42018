"""Bacterial endotoxins (USP <85> / Ph. Eur. 2.6.14 / ChP 1143); domain-facts §3.1 and §13.3."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celltrace.assays.endotoxin import (
    CALCULATION_VERSION,
    GelClotOutcome,
    Pharmacopoeia,
    StandardCurve,
    calculate_endotoxin_limit,
    confirm_lysate_sensitivity,
    endotoxin_limit,
    endotoxin_limit_decimal,
    evaluate_kinetic_sample,
    fit_standard_curve,
    gel_clot_endpoint,
    gel_clot_limit_test,
    max_dose_per_hour,
    max_valid_dilution,
    max_valid_dilution_decimal,
    replicate_cv_percent,
)
from celltrace.assays.errors import AssayInputError
from celltrace.qc.rounding import round_to_limit

# ----------------------------------------------------------------------------- §13.3 worked rows


def test_limit_usp_70_kg() -> None:
    assert endotoxin_limit(5.0, 10.0, 70.0) == 35.0
    assert endotoxin_limit(5.0, 10.0) == 35.0  # 70 kg is the default


def test_limit_chp_60_kg() -> None:
    assert endotoxin_limit(5.0, 10.0, 60.0) == 30.0
    result = calculate_endotoxin_limit(
        k_eu_per_kg="5", dose_per_hour="10", pharmacopoeia=Pharmacopoeia.CHP
    )
    assert result.limit == Decimal("30.0")
    assert result.body_mass_kg == Decimal("60")
    assert result.unit == "EU/mL"
    assert result.calculation_version == CALCULATION_VERSION


def test_limit_intrathecal_float_noise_regression() -> None:
    naive = 0.2 / (10 / 70)
    assert naive == 1.4000000000000001  # the trap domain-facts §5 describes
    assert endotoxin_limit(0.2, 10.0, 70.0) == 1.4
    assert endotoxin_limit_decimal("0.2", "10", "70") == Decimal("1.4")
    # reported value, rounded by the QC layer to the limit's one decimal place
    assert round_to_limit(repr(endotoxin_limit(0.2, 10.0)), "0.1") == Decimal("1.4")
    assert round_to_limit(str(endotoxin_limit_decimal("0.2", "10")), "0.1") == Decimal("1.4")


def test_mvd_worked_example() -> None:
    assert max_valid_dilution(35.0, 1.0, 0.005) == 7000.0
    assert max_valid_dilution_decimal("35", "1", "0.005") == Decimal("7000")


def test_calculate_limit_usp_default_and_override() -> None:
    usp = calculate_endotoxin_limit(k_eu_per_kg="5", dose_per_hour="10")
    assert usp.limit == Decimal("35")
    assert usp.pharmacopoeia is Pharmacopoeia.USP
    explicit = calculate_endotoxin_limit(
        k_eu_per_kg="5", dose_per_hour="10", pharmacopoeia=Pharmacopoeia.CHP, body_mass_kg="70"
    )
    assert explicit.limit == Decimal("35")


def test_chp_short_injection_counts_as_one_hour() -> None:
    assert max_dose_per_hour(10.0, 0.25) == 10.0
    assert max_dose_per_hour(20.0, 2.0) == 10.0


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((0.0, 10.0, 70.0), "k_eu_per_kg"),
        ((5.0, 0.0, 70.0), "dose_per_hour"),
        ((5.0, 10.0, -70.0), "body_mass_kg"),
        ((float("nan"), 10.0, 70.0), "k_eu_per_kg"),
        ((5.0, float("inf"), 70.0), "dose_per_hour"),
    ],
)
def test_limit_bad_input_names_the_field(args: tuple[float, float, float], field: str) -> None:
    with pytest.raises(AssayInputError, match=field) as info:
        endotoxin_limit(*args)
    assert info.value.field == field


def test_mvd_bad_input() -> None:
    with pytest.raises(AssayInputError, match="sensitivity"):
        max_valid_dilution(35.0, 1.0, 0.0)
    with pytest.raises(TypeError, match="limit"):
        max_valid_dilution_decimal(35.0, "1", "0.005")  # type: ignore[arg-type]
    with pytest.raises(AssayInputError, match="concentration"):
        max_valid_dilution_decimal("35", "one", "0.005")


# ----------------------------------------------------------------------------- kinetic curves

A, B = 3.2, -0.3  # log10(T) = A + B log10(C)
LEVELS = [0.005, 0.05, 0.5, 5.0]


def _onset(conc: float, a: float = A, b: float = B) -> float:
    return float(10 ** (a + b * math.log10(conc)))


def _perfect_curve() -> tuple[list[float], list[float]]:
    concs = [c for c in LEVELS for _ in range(3)]
    return concs, [_onset(c) for c in concs]


def test_fit_matches_numpy_on_noisy_data() -> None:
    concs = [c for c in LEVELS for _ in range(3)]
    noise = [1.02, 0.99, 1.0, 0.97, 1.01, 1.03, 1.0, 0.98, 1.02, 1.01, 0.99, 1.0]
    times = [_onset(c) * n for c, n in zip(concs, noise, strict=True)]
    curve = fit_standard_curve(concs, times)
    x, y = np.log10(concs), np.log10(times)
    slope, intercept = np.polyfit(x, y, 1)
    assert curve.slope == pytest.approx(slope, rel=1e-12)
    assert curve.intercept == pytest.approx(intercept, rel=1e-12)
    assert curve.r == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-12)
    assert curve.valid and curve.reasons == ()
    assert curve.lowest_concentration == 0.005
    assert curve.concentrations == tuple(concs)  # inputs kept with the result
    assert curve.calculation_version == CALCULATION_VERSION


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(min_value=1.5, max_value=4.0),
    b=st.floats(min_value=-0.8, max_value=-0.05),
    conc=st.floats(min_value=0.005, max_value=5.0),
)
def test_fit_recovers_generated_line_and_concentration(a: float, b: float, conc: float) -> None:
    concs = [c for c in LEVELS for _ in range(3)]
    curve = fit_standard_curve(concs, [_onset(c, a, b) for c in concs])
    assert curve.slope == pytest.approx(b, rel=1e-9)
    assert curve.intercept == pytest.approx(a, rel=1e-9, abs=1e-9)
    assert curve.r == pytest.approx(-1.0, abs=1e-9)
    assert curve.valid
    assert curve.concentration(_onset(conc, a, b)) == pytest.approx(conc, rel=1e-8)


def test_interpolation_formula() -> None:
    concs, times = _perfect_curve()
    curve = fit_standard_curve(concs, times)
    t = 1000.0
    expected = 10 ** ((math.log10(t) - A) / B)  # domain-facts §3.1
    assert curve.concentration(t) == pytest.approx(expected, rel=1e-9)


def test_low_r_is_invalid_with_reason() -> None:
    concs = [0.005, 0.005, 0.005, 0.05, 0.05, 0.05, 0.5, 0.5, 0.5]
    times = [3000.0, 1000.0, 2000.0, 1500.0, 3000.0, 900.0, 800.0, 2500.0, 1200.0]
    curve = fit_standard_curve(concs, times)
    r = np.corrcoef(np.log10(concs), np.log10(times))[0, 1]
    assert abs(r) < 0.980
    assert not curve.valid
    assert any("|r|" in reason and "0.98" in reason for reason in curve.reasons)


def test_r_threshold_is_configurable() -> None:
    concs = [c for c in LEVELS for _ in range(3)]
    noise = [1.3, 0.8, 1.0, 0.7, 1.3, 1.1, 1.0, 0.75, 1.25, 1.3, 0.8, 1.0]
    times = [_onset(c) * n for c, n in zip(concs, noise, strict=True)]
    r = abs(np.corrcoef(np.log10(concs), np.log10(times))[0, 1])
    assert 0.95 < r < 0.99  # the data sits between the two thresholds used below
    assert fit_standard_curve(concs, times, r_min=0.95).valid
    assert not fit_standard_curve(concs, times, r_min=0.99).valid


def test_every_failing_curve_reason_is_listed() -> None:
    # two levels, single replicates, rising onset time: three separate failures
    curve = fit_standard_curve([0.05, 0.5], [1000.0, 2000.0])
    assert not curve.valid
    text = " | ".join(curve.reasons)
    assert "not negative" in text
    assert "2 concentrations" in text
    assert "fewer than 3 replicates" in text


def test_rate_response_expects_positive_slope() -> None:
    concs = [c for c in LEVELS for _ in range(3)]
    rates = [10 ** (-2 + 0.9 * math.log10(c)) for c in concs]
    assert fit_standard_curve(concs, rates, response="rate").valid
    assert not fit_standard_curve(concs, [1 / r for r in rates], response="rate").valid


@pytest.mark.parametrize(
    ("concs", "times", "match"),
    [
        ([0.005, 0.0, 0.5], [3000.0, 2000.0, 1000.0], r"row 1, concentrations: must be > 0"),
        ([0.005, 0.05, 0.5], [3000.0, float("nan"), 1000.0], r"row 1, onset_times: must be finite"),
        ([0.005, 0.05, 0.5], [3000.0, 2000.0], r"onset_times: 2 values for 3"),
        ([0.05, 0.05, 0.05], [3000.0, 2000.0, 1000.0], r"two distinct values"),
        ([0.05], [3000.0], r"at least 2"),
    ],
)
def test_fit_bad_input(concs: list[float], times: list[float], match: str) -> None:
    with pytest.raises(AssayInputError, match=match):
        fit_standard_curve(concs, times)


# ----------------------------------------------------------------------------- sample evaluation


def _curve() -> StandardCurve:
    concs, times = _perfect_curve()
    return fit_standard_curve(concs, times)


def test_sample_result_recovery_and_dilution() -> None:
    curve = _curve()
    result = evaluate_kinetic_sample(
        curve,
        sample_onset_times=[_onset(0.1), _onset(0.1)],
        ppc_onset_times=[_onset(0.6), _onset(0.6)],
        spike_eu_per_ml=0.5,
        dilution=10.0,
        mvd=7000.0,
        negative_control_onset_times=[None, None],
    )
    assert result.valid, result.reasons
    assert result.sample_mean == pytest.approx(0.1, rel=1e-9)
    assert result.recovery_percent == pytest.approx(100.0, rel=1e-9)  # (0.6 - 0.1) / 0.5
    assert result.comparator == "="
    assert result.result_eu_per_ml == pytest.approx(1.0, rel=1e-9)  # 0.1 × 10
    assert result.sample_cv_percent == 0.0
    assert result.calculation_version == CALCULATION_VERSION


@pytest.mark.parametrize(
    ("ppc_conc", "expected_recovery", "word"),
    [(0.3, 40.0, "inhibition"), (1.35, 250.0, "enhancement")],
)
def test_ppc_recovery_outside_50_200(ppc_conc: float, expected_recovery: float, word: str) -> None:
    result = evaluate_kinetic_sample(
        _curve(),
        sample_onset_times=[_onset(0.1)] * 2,
        ppc_onset_times=[_onset(ppc_conc)] * 2,
        spike_eu_per_ml=0.5,
    )
    assert result.recovery_percent == pytest.approx(expected_recovery, rel=1e-9)
    assert not result.valid
    assert any(word in reason for reason in result.reasons)


def test_recovery_window_is_configurable() -> None:
    result = evaluate_kinetic_sample(
        _curve(),
        sample_onset_times=[_onset(0.1)] * 2,
        ppc_onset_times=[_onset(0.4)] * 2,  # 60 %
        spike_eu_per_ml=0.5,
        recovery_min_percent=70.0,
    )
    assert result.recovery_percent == pytest.approx(60.0, rel=1e-9)
    assert not result.valid


def test_below_curve_reports_less_than_lambda_times_dilution() -> None:
    result = evaluate_kinetic_sample(
        _curve(),
        sample_onset_times=[None, None],
        ppc_onset_times=[_onset(0.5)] * 2,
        spike_eu_per_ml=0.5,
        dilution=10.0,
    )
    assert result.valid, result.reasons
    assert result.comparator == "<"
    assert result.result_eu_per_ml == pytest.approx(0.05)  # λ 0.005 × 10
    assert result.recovery_percent == pytest.approx(100.0, rel=1e-9)  # sample counted as 0


def test_every_failing_run_reason_is_listed() -> None:
    bad_curve = fit_standard_curve([0.05, 0.5], [1000.0, 2000.0])  # 3 curve reasons
    result = evaluate_kinetic_sample(
        bad_curve,
        sample_onset_times=[500.0, 900.0],
        ppc_onset_times=[None, 400.0],
        spike_eu_per_ml=0.5,
        dilution=8000.0,
        mvd=7000.0,
        negative_control_onset_times=[2000.0],
        cv_max_percent=10.0,
    )
    text = " | ".join(result.reasons)
    assert not result.valid
    for fragment in (
        "not negative",  # curve slope
        "2 concentrations",  # curve levels
        "fewer than 3 replicates",  # curve replicates
        "negative control replicate 0",
        "PPC replicate(s) without an onset",
        "sample replicate CV",
        "exceeds the maximum valid dilution",
    ):
        assert fragment in text, fragment
    assert len(result.reasons) >= 7


def test_above_highest_standard_and_mixed_replicates() -> None:
    result = evaluate_kinetic_sample(
        _curve(),
        sample_onset_times=[_onset(8.0), None],
        ppc_onset_times=[_onset(8.5)] * 2,
        spike_eu_per_ml=0.5,
    )
    text = " | ".join(result.reasons)
    assert "above the highest standard" in text
    assert "disagree" in text


def test_replicate_cv() -> None:
    # independent: values 90, 100, 110 -> SD 10, mean 100 -> 10 %
    assert replicate_cv_percent([90.0, 100.0, 110.0]) == pytest.approx(10.0)


def test_sample_bad_input() -> None:
    with pytest.raises(AssayInputError, match="dilution"):
        evaluate_kinetic_sample(
            _curve(),
            sample_onset_times=[100.0],
            ppc_onset_times=[90.0],
            spike_eu_per_ml=0.5,
            dilution=0.5,
        )
    with pytest.raises(AssayInputError, match=r"row 1, sample_onset_times"):
        evaluate_kinetic_sample(
            _curve(),
            sample_onset_times=[100.0, -1.0],
            ppc_onset_times=[90.0],
            spike_eu_per_ml=0.5,
        )
    with pytest.raises(AssayInputError, match="spike_eu_per_ml"):
        evaluate_kinetic_sample(
            _curve(), sample_onset_times=[100.0], ppc_onset_times=[90.0], spike_eu_per_ml=0.0
        )


# ----------------------------------------------------------------------------- gel-clot

LAM = 0.125
SERIES_CONC = [0.25, 0.125, 0.0625, 0.03125]  # 2λ, λ, 0.5λ, 0.25λ


def test_gel_clot_endpoint() -> None:
    assert gel_clot_endpoint(SERIES_CONC, [True, True, False, False]) == 0.125
    assert gel_clot_endpoint(list(reversed(SERIES_CONC)), [False, False, True, True]) == 0.125
    assert gel_clot_endpoint(SERIES_CONC, [False, False, False, False]) is None


def test_sensitivity_confirmed_geometric_mean() -> None:
    series = [
        [True, True, False, False],  # 0.125
        [True, True, False, False],  # 0.125
        [True, True, True, False],  # 0.0625
        [True, False, False, False],  # 0.25
    ]
    result = confirm_lysate_sensitivity(LAM, SERIES_CONC, series)
    # independent: (0.125 · 0.125 · 0.0625 · 0.25)^(1/4) = 2^((-3-3-4-2)/4) = 2^-3
    assert result.geometric_mean == pytest.approx(2**-3)
    assert result.endpoints == (0.125, 0.125, 0.0625, 0.25)
    assert result.confirmed and result.valid


@pytest.mark.parametrize(
    ("row", "expected_gm"),
    [([True, True, True, False], 0.0625), ([True, False, False, False], 0.25)],
)
def test_sensitivity_boundaries_half_and_double_lambda(row: list[bool], expected_gm: float) -> None:
    result = confirm_lysate_sensitivity(LAM, SERIES_CONC, [row] * 4)
    assert result.geometric_mean == pytest.approx(expected_gm)
    assert result.confirmed  # 0.5λ and 2λ are inside the window


def test_sensitivity_not_confirmed_at_4_lambda() -> None:
    conc = [0.5, *SERIES_CONC]
    result = confirm_lysate_sensitivity(LAM, conc, [[True, False, False, False, False]] * 4)
    assert result.geometric_mean == pytest.approx(0.5)
    assert not result.confirmed
    assert any("outside 0.5λ-2λ" in r for r in result.reasons)


def test_sensitivity_invalid_reasons_all_listed() -> None:
    series = [
        [True, True, True, True],  # lowest clotted
        [False, False, False, False],  # no end point
        [True, False, True, False],  # clot below a non-clot
    ]
    result = confirm_lysate_sensitivity(LAM, SERIES_CONC, series, negative_controls=[True])
    text = " | ".join(result.reasons)
    assert not result.valid and not result.confirmed
    assert "3 replicate series; at least 4" in text
    assert "series 0: the lowest concentration" in text
    assert "series 1: the highest concentration did not clot" in text
    assert "series 2: clot at 0.0625" in text
    assert "negative control 0: clotted" in text


def test_sensitivity_bad_input() -> None:
    with pytest.raises(AssayInputError, match=r"row 1, series"):
        confirm_lysate_sensitivity(LAM, SERIES_CONC, [[True] * 4, [True] * 3])
    with pytest.raises(AssayInputError, match=r"row 2, series\[0\]"):
        confirm_lysate_sensitivity(LAM, SERIES_CONC, [[True, True, 1, False]])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("sample", "outcome"),
    [
        ([False, False], GelClotOutcome.COMPLIES),
        ([True, True], GelClotOutcome.DOES_NOT_COMPLY),
        ([True, False], GelClotOutcome.REPEAT),
    ],
)
def test_gel_clot_limit_test(sample: list[bool], outcome: GelClotOutcome) -> None:
    result = gel_clot_limit_test(
        sample=sample,
        ppc=[True, True],
        positive_control=[True, True],
        negative_control=[False, False],
    )
    assert result.outcome is outcome
    assert result.valid


def test_gel_clot_limit_test_invalid_controls() -> None:
    result = gel_clot_limit_test(
        sample=[False, False],
        ppc=[True, False],
        positive_control=[False, True],
        negative_control=[True, False],
    )
    assert result.outcome is GelClotOutcome.INVALID
    text = " | ".join(result.reasons)
    assert "ppc: replicate(s) [1]" in text
    assert "positive_control: replicate(s) [0]" in text
    assert "negative_control: replicate(s) [0] clotted" in text
