"""Release arithmetic on hand-checkable counts (domain facts §11 formulas)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from celltrace.assays.errors import AssayInputError
from celltrace.assays.flow import (
    FlowInputs,
    PopulationCount,
    Proportion,
    ReleasePopulation,
    SampleCounts,
    car_net_of_control,
    flow_release,
    release_values,
)
from celltrace.assays.flow.release import sample_result

P = ReleasePopulation


def counts(sample: str, **by_pop: int) -> SampleCounts:
    return SampleCounts(
        sample_id=sample,
        counts=tuple(PopulationCount(P(k), k, v) for k, v in by_pop.items()),
    )


def test_percentages_use_the_documented_denominators() -> None:
    v = release_values(counts("s", singlets=1000, viable=900, cd3=720, car=180, cd4=432, cd8=216))
    assert v.viability is not None and v.viability.percent == 90.0
    assert (v.cd3.numerator, v.cd3.denominator, v.cd3.denominator_population) == (
        720,
        900,
        "viable",
    )
    assert v.cd3.percent == 80.0
    assert v.car is not None and v.car.percent == 25.0 and v.car.denominator == 720
    assert v.cd4 is not None and v.cd4.percent == 60.0
    assert v.cd8 is not None and v.cd8.percent == 30.0
    assert v.cd4_cd8_ratio == 2.0
    assert v.flags == ()


def test_cd45_becomes_the_cd3_denominator_when_mapped() -> None:
    v = release_values(counts("s", singlets=1000, viable=900, cd45=800, cd3=600))
    assert v.cd3.denominator_population == "cd45" and v.cd3.percent == 75.0
    assert v.cd45 is not None and v.cd45.denominator_population == "viable"


def test_cd3_without_viability_gate_is_flagged() -> None:
    v = release_values(counts("s", singlets=400, cd3=100))
    assert v.cd3.denominator_population == "singlets"
    assert "cd3_denominator_not_viability_gated" in v.flags


def test_percent_is_the_correctly_rounded_exact_quotient() -> None:
    p = Proportion.of(1, 3, "car", "cd3")
    assert p.percent_exact == Fraction(100, 3)
    assert p.percent == 100 / 3  # both correctly rounded from the same rational
    p2 = Proportion.of(7, 10, "a", "b")
    assert p2.percent == 70.0  # 100*7/10 exactly, where 0.7*100 would be 70.00000000000001


def test_cv_of_proportion() -> None:
    p = Proportion.of(250, 1000, "car", "cd3")
    assert p.cv == pytest.approx(math.sqrt((1 - 0.25) / (1000 * 0.25)), rel=1e-15)
    assert Proportion.of(0, 10, "car", "cd3").cv is None


@pytest.mark.parametrize(
    ("num", "den", "message"),
    [(5, 0, "0 events"), (11, 10, "exceeds its parent"), (-1, 10, "negative")],
)
def test_impossible_counts_are_rejected(num: int, den: int, message: str) -> None:
    with pytest.raises(AssayInputError, match=message):
        Proportion.of(num, den, "cd3", "viable")


def test_required_populations() -> None:
    with pytest.raises(AssayInputError, match="singlets"):
        release_values(counts("s", viable=10, cd3=5))


def test_cd4_cd8_ratio_undefined_without_cd8_events() -> None:
    v = release_values(counts("s", singlets=100, cd3=50, cd4=20, cd8=0))
    assert v.cd4_cd8_ratio is None
    assert "cd4_cd8_ratio_undefined_no_cd8_events" in v.flags


def test_car_net_of_control_subtracts_and_floors() -> None:
    stained = Proportion.of(300, 1000, "car", "cd3")  # 30 %
    control = Proportion.of(15, 500, "car", "cd3")  # 3 %
    net = car_net_of_control(stained, control, control_sample_id="UTD")
    assert net.net_percent == 27.0 and net.difference_percent == 27.0 and not net.floored
    assert net.net_percent_exact == Fraction(27)

    low = car_net_of_control(
        Proportion.of(10, 1000, "car", "cd3"), control, control_sample_id="UTD"
    )  # 1 % − 3 %
    assert low.difference_percent == -2.0
    assert low.net_percent == 0.0 and low.floored

    with pytest.raises(AssayInputError, match="control_kind"):
        car_net_of_control(stained, control, control_sample_id="x", control_kind="isotype")


def _inputs(sample: str) -> FlowInputs:
    return FlowInputs(
        sample_id=sample, source_kind="test", file_name=f"{sample}.csv", file_sha256="0"
    )


def test_flow_release_combines_stained_and_control() -> None:
    stained = sample_result(_inputs("CAR"), counts("CAR", singlets=1000, cd3=800, car=200))
    control = sample_result(_inputs("UTD"), counts("UTD", singlets=1000, cd3=800, car=8))
    result = flow_release(stained, control)
    assert result.car_net is not None
    assert result.car_net_percent == 25.0 - 1.0
    assert result.car_net.control_sample_id == "UTD"
    assert result.calculation_version.startswith("flow-release/")

    floored = flow_release(control, stained)
    assert floored.car_net_percent == 0.0
    assert "car_net_negative_floored_to_zero" in floored.flags

    alone = flow_release(stained)
    assert alone.car_net is None and "car_not_control_subtracted" in alone.flags
