"""Mycoplasma (USP <63> / Ph. Eur. 2.6.7): controls decide validity (domain-facts §3.3)."""

from __future__ import annotations

import math

import pytest

from celltrace.assays.errors import AssayInputError
from celltrace.assays.mycoplasma import (
    CALCULATION_VERSION,
    CultureObservation,
    MycoplasmaOutcome,
    NatWell,
    evaluate_culture,
    evaluate_nat,
)

PC = [NatWell("PC", 33.1, 28.0)]
NC = [NatWell("NTC", None, 28.2)]


def test_nat_not_detected_with_valid_controls() -> None:
    result = evaluate_nat(
        samples=[NatWell("S1a", None, 28.5), NatWell("S1b", None, 28.9)],
        positive_controls=PC,
        negative_controls=NC,
        spiked_samples=[NatWell("S1+spike", 34.0, 28.7)],
    )
    assert result.outcome is MycoplasmaOutcome.NOT_DETECTED
    assert result.valid and result.reasons == ()
    assert result.calculation_version == CALCULATION_VERSION
    assert len(result.samples) == 2  # inputs kept


def test_nat_detected() -> None:
    # a strongly positive well may suppress its internal control: still a valid "Detected"
    result = evaluate_nat(
        samples=[NatWell("S1a", 24.0, None), NatWell("S1b", None, 28.4)],
        positive_controls=PC,
        negative_controls=NC,
    )
    assert result.outcome is MycoplasmaOutcome.DETECTED
    assert result.detected_wells == ("S1a",)


def test_cq_cutoff_is_applied() -> None:
    samples = [NatWell("S1", 41.5, 28.0)]
    assert evaluate_nat(samples=samples, positive_controls=PC, negative_controls=NC).outcome is (
        MycoplasmaOutcome.DETECTED
    )
    result = evaluate_nat(
        samples=samples, positive_controls=PC, negative_controls=NC, cq_cutoff=40.0
    )
    assert result.outcome is MycoplasmaOutcome.NOT_DETECTED


def test_every_failed_control_is_listed() -> None:
    result = evaluate_nat(
        samples=[NatWell("S1", None, None), NatWell("S2", None, 35.0), NatWell("S3", 30.0, 28.0)],
        positive_controls=[NatWell("PC", None, 28.0)],
        negative_controls=[NatWell("NTC", 36.2, 28.0)],
        spiked_samples=[NatWell("S1+spike", None, 28.0)],
        internal_control_reference_cq=28.0,
        max_internal_control_shift=3.0,
    )
    assert result.outcome is MycoplasmaOutcome.INVALID  # even though S3 amplified
    assert not result.valid
    assert result.reasons == (
        "positive control PC: target not detected",
        "negative control NTC: target detected (Cq 36.2); possible contamination",
        "spiked sample S1+spike: spike not detected (inhibition)",
        "sample S1: internal control not amplified; a negative cannot be distinguished from "
        "inhibition",
        "sample S2: internal control Cq 35 is more than 3 cycles above the reference 28 "
        "(inhibition)",
    )


def test_missing_controls_make_the_run_invalid() -> None:
    result = evaluate_nat(
        samples=[NatWell("S1", None, 28.0)], positive_controls=[], negative_controls=[]
    )
    assert result.outcome is MycoplasmaOutcome.INVALID
    assert result.reasons == ("no positive control", "no negative control")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"samples": []}, r"samples: at least one"),
        ({"samples": [NatWell("S1", math.nan)]}, r"row 0, samples.target_cq: must be finite"),
        (
            {"samples": [NatWell("S1", None, -2.0)]},
            r"row 0, samples.internal_control_cq: must be > 0",
        ),
        ({"samples": [NatWell("", None, 28.0)]}, r"row 0, samples.name"),
        (
            {"samples": [NatWell("S1", None, 28.0)], "max_internal_control_shift": 3.0},
            r"together with",
        ),
    ],
)
def test_nat_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"positive_controls": PC, "negative_controls": NC, **kwargs}
    with pytest.raises(AssayInputError, match=match):
        evaluate_nat(**args)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- culture

CONTROLS_POS = [CultureObservation("agar", 7, True), CultureObservation("broth", 5, True)]
CONTROLS_NEG = [CultureObservation("agar", 14, False), CultureObservation("broth", 21, False)]


def test_culture_not_detected_after_required_days() -> None:
    test = [CultureObservation("agar", 14, False), CultureObservation("broth", 21, False)]
    result = evaluate_culture(
        test=test, positive_controls=CONTROLS_POS, negative_controls=CONTROLS_NEG
    )
    assert result.outcome is MycoplasmaOutcome.NOT_DETECTED
    assert result.valid


def test_culture_pending_before_required_days() -> None:
    test = [CultureObservation("agar", 10, False), CultureObservation("broth", 21, False)]
    result = evaluate_culture(
        test=test, positive_controls=CONTROLS_POS, negative_controls=CONTROLS_NEG
    )
    assert result.outcome is MycoplasmaOutcome.PENDING
    assert result.reasons == (
        "agar: final reading on day 14 or later not yet recorded (last day 10)",
    )
    shorter = evaluate_culture(
        test=test,
        positive_controls=CONTROLS_POS,
        negative_controls=CONTROLS_NEG,
        required_days={"agar": 10, "broth": 21},
    )
    assert shorter.outcome is MycoplasmaOutcome.NOT_DETECTED


def test_culture_growth_is_detected() -> None:
    test = [CultureObservation("broth", 6, True)]
    result = evaluate_culture(
        test=test, positive_controls=CONTROLS_POS, negative_controls=CONTROLS_NEG
    )
    assert result.outcome is MycoplasmaOutcome.DETECTED
    assert result.reasons == ("broth: growth on day 6",)


def test_culture_controls_decide_validity() -> None:
    test = [CultureObservation("agar", 14, False), CultureObservation("broth", 21, False)]
    result = evaluate_culture(
        test=test,
        positive_controls=[CultureObservation("agar", 14, False)],
        negative_controls=[
            CultureObservation("agar", 14, True),
            CultureObservation("broth", 21, False),
        ],
    )
    assert result.outcome is MycoplasmaOutcome.INVALID
    assert result.reasons == (
        "agar: positive control shows no growth",
        "agar: negative control shows growth",
        "broth: no positive control",
    )


def test_culture_bad_input() -> None:
    with pytest.raises(AssayInputError, match=r"row 0, test.day: must be >= 0"):
        evaluate_culture(
            test=[CultureObservation("agar", -1, False)],
            positive_controls=CONTROLS_POS,
            negative_controls=CONTROLS_NEG,
        )
