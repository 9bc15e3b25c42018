"""Plate-reader energy assays: curves from generated plates; out-of-range samples are flagged,
never extrapolated."""

from __future__ import annotations

import numpy as np
import pytest

from celltrace.assays.errors import AssayInputError, InstrumentFileError
from celltrace.assays.metabolism.platereader import (
    CurveAcceptance,
    Flag,
    analyse_adp_atp,
    analyse_atp,
    analyse_jc1,
    analyse_nad,
    analyse_tmrm,
    evaluate_standards,
    quantify,
    read_plate_csv,
)

A, B, C, D = 50.0, 1.1, 2.0, 400_000.0  # RLU at 0, slope, inflection (µM), top
STANDARDS = [0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]  # µM


def rlu(conc: float) -> float:
    return D + (A - D) / (1 + (conc / C) ** B)


def wells() -> list[str]:
    return [f"{r}{c:02d}" for r in "ABCDEFGH" for c in range(1, 13)]


def atp_plate(samples: dict[str, float], noise: float = 0.01, blank: float = 0.0) -> bytes:
    rng = np.random.default_rng(7)
    free = iter(wells())
    lines = ["well,role,sample,concentration,signal"]
    for conc in STANDARDS:
        for _ in range(2):
            sig = (rlu(conc) + blank) * (1 + rng.normal(0, noise))
            lines.append(f"{next(free)},standard,,{conc},{sig:.3f}")
    for _ in range(2):
        lines.append(f"{next(free)},blank,,,{blank:.3f}")
    for name, conc in samples.items():
        for _ in range(3):
            sig = (rlu(conc) + blank) * (1 + rng.normal(0, noise))
            lines.append(f"{next(free)},sample,{name},,{sig:.3f}")
    return ("\n".join(lines) + "\n").encode()


def test_atp_samples_are_back_calculated() -> None:
    truth = {"s1": 0.05, "s2": 0.8, "s3": 6.0}
    result = analyse_atp(read_plate_csv(atp_plate(truth, blank=25.0)), unit="µM")
    assert result.curve.accepted, result.curve.failures
    assert result.blank_signal == pytest.approx(25.0)
    assert result.curve.lloq == STANDARDS[1] and result.curve.uloq == STANDARDS[-1]
    got = {s.sample: s for s in result.samples}
    for name, conc in truth.items():
        assert got[name].quantity.flag is Flag.OK
        assert got[name].quantity.value == pytest.approx(conc, rel=0.05)
        assert got[name].wells and len(got[name].wells) == 3


def test_out_of_range_samples_are_flagged_not_extrapolated() -> None:
    truth = {"low": 0.002, "high": 200.0, "mid": 1.0}
    result = analyse_atp(read_plate_csv(atp_plate(truth, noise=0.0)))
    got = {s.sample: s for s in result.samples}
    low, high = got["low"].quantity, got["high"].quantity
    assert low.flag is Flag.BELOW_LLOQ and low.value is None and low.limit == STANDARDS[1]
    assert high.flag is Flag.ABOVE_ULOQ and high.value is None and high.limit == STANDARDS[-1]
    assert low.text.startswith("< 0.01") and high.text.startswith("> 30")
    assert Flag.BELOW_LLOQ in got["low"].flags
    assert got["mid"].quantity.value == pytest.approx(1.0, rel=1e-3)


def test_signal_beyond_the_asymptote_is_flagged() -> None:
    curve = evaluate_standards([(c, rlu(c)) for c in STANDARDS])
    assert curve.fit is not None
    assert quantify(curve, D * 2).flag is Flag.ABOVE_ULOQ
    assert quantify(curve, A / 2).flag is Flag.BELOW_LLOQ


def test_decreasing_curve_flags_by_concentration_side() -> None:
    pts = [(c, 1000.0 - rlu(c) / D * 900.0) for c in STANDARDS]  # falling signal
    curve = evaluate_standards(pts)
    assert curve.accepted and curve.fit is not None and not curve.fit.increasing
    assert quantify(curve, 1001.0).flag is Flag.BELOW_LLOQ  # high signal = low concentration
    assert quantify(curve, 50.0).flag is Flag.ABOVE_ULOQ


def test_curve_rejected_when_standards_are_not_monotonic() -> None:
    pts = [(c, rlu(c)) for c in STANDARDS]
    pts[5] = (pts[5][0], pts[3][1])  # a mis-pipetted standard
    curve = evaluate_standards(pts)
    assert not curve.accepted
    assert any("monotonic" in f for f in curve.failures)
    assert quantify(curve, rlu(1.0)).flag is Flag.CURVE_REJECTED


def test_curve_rejected_with_too_few_levels() -> None:
    curve = evaluate_standards([(c, rlu(c)) for c in STANDARDS[:5]])
    assert not curve.accepted
    assert any("non-zero standard levels" in f for f in curve.failures)


def test_acceptance_rules_are_configurable() -> None:
    rng = np.random.default_rng(3)
    pts = [(c, rlu(c) * (1 + rng.normal(0, 0.08))) for c in STANDARDS for _ in range(2)]
    loose = evaluate_standards(pts, CurveAcceptance(min_r_squared=0.9))
    strict = evaluate_standards(
        pts, CurveAcceptance(tolerance_pct=1.0, lloq_tolerance_pct=1.0, min_r_squared=0.9)
    )
    assert loose.accepted, loose.failures
    assert not strict.accepted
    assert any("within tolerance" in f for f in strict.failures)
    # the lowest standard is judged at the LLOQ tolerance
    lowest = next(lv for lv in loose.levels if lv.concentration == STANDARDS[1])
    assert lowest.tolerance_pct == 25.0
    assert all(lv.tolerance_pct == 20.0 for lv in loose.levels if lv.concentration > STANDARDS[1])


def test_5pl_model_option() -> None:
    result = analyse_atp(
        read_plate_csv(atp_plate({"s": 2.0}, noise=0.0)), CurveAcceptance(model="5PL")
    )
    assert result.curve.fit is not None and result.curve.fit.model == "5PL"
    assert result.samples[0].quantity.value == pytest.approx(2.0, rel=1e-3)


def test_replicate_cv_is_flagged() -> None:
    data = atp_plate({}).decode() + "H10,sample,s,,100000\nH11,sample,s,,20000\n"
    result = analyse_atp(read_plate_csv(data.encode()))
    s = result.samples[0]
    assert s.cv_pct is not None and s.cv_pct > 20
    assert Flag.REPLICATE_CV in s.flags


def test_adp_atp_ratio() -> None:
    csv = (
        "well,role,sample,signal,read\n"
        "A01,sample,s1,1000,A\nA01,sample,s1,900,B\nA01,sample,s1,1500,C\n"
        "A02,sample,s1,1100,A\nA02,sample,s1,1000,B\nA02,sample,s1,1700,C\n"
    )
    result = analyse_adp_atp(read_plate_csv(csv.encode()))
    (s,) = result.samples
    assert s.ratio == pytest.approx(((1500 + 1700) / 2 - (900 + 1000) / 2) / ((1000 + 1100) / 2))


def test_adp_atp_needs_three_reads() -> None:
    csv = "well,role,sample,signal,read\nA01,sample,s1,1000,A\nA01,sample,s1,900,B\n"
    with pytest.raises(AssayInputError, match="lacks read"):
        analyse_adp_atp(read_plate_csv(csv.encode()))


def nad_plate(nad: float, nadh: float) -> bytes:
    lines = ["well,role,sample,concentration,signal,treatment"]
    free = iter(wells())
    for t, scale in (("acid", 1.0), ("base", 0.8)):
        for conc in STANDARDS:
            lines.append(f"{next(free)},standard,,{conc},{rlu(conc) * scale:.4f},{t}")
    lines.append(f"{next(free)},sample,s1,,{rlu(nad):.4f},acid")
    lines.append(f"{next(free)},sample,s1,,{rlu(nadh) * 0.8:.4f},base")
    return ("\n".join(lines) + "\n").encode()


def test_nad_ratio_and_total() -> None:
    result = analyse_nad(read_plate_csv(nad_plate(4.0, 0.5)))
    (s,) = result.samples
    assert s.nad_plus.value == pytest.approx(4.0, rel=1e-3)
    assert s.nadh.value == pytest.approx(0.5, rel=1e-3)
    assert s.ratio == pytest.approx(8.0, rel=2e-3)
    assert s.total == pytest.approx(4.5, rel=1e-3)


def test_nad_ratio_not_computed_when_one_side_is_out_of_range() -> None:
    result = analyse_nad(read_plate_csv(nad_plate(4.0, 0.001)))
    (s,) = result.samples
    assert s.nadh.flag is Flag.BELOW_LLOQ
    assert s.ratio is None and s.total is None
    assert Flag.BELOW_LLOQ in s.flags


def test_jc1_normalised_ratio() -> None:
    csv = (
        "well,role,sample,signal,read\n"
        "A01,sample,s1,800,590\nA01,sample,s1,400,530\n"
        "A02,sample,s1,900,590\nA02,sample,s1,450,530\n"
        "B01,fccp,,100,590\nB01,fccp,,500,530\n"
        "C01,control,,1200,590\nC01,control,,400,530\n"
    )
    result = analyse_jc1(read_plate_csv(csv.encode()))
    (s,) = result.samples
    r, r_fccp, r_ctrl = 2.0, 0.2, 3.0
    assert s.value == pytest.approx(r)
    assert s.fccp_subtracted == pytest.approx(r - r_fccp)
    assert s.normalised == pytest.approx((r - r_fccp) / (r_ctrl - r_fccp))


def test_tmrm_fccp_subtracted() -> None:
    csv = (
        "well,role,sample,signal\nA01,sample,s1,5000\nA02,sample,s1,5200\n"
        "B01,fccp,,600\nB02,fccp,,400\n"
    )
    result = analyse_tmrm(read_plate_csv(csv.encode()))
    (s,) = result.samples
    assert s.fccp_subtracted == pytest.approx(5100 - 500)
    assert s.normalised is None and result.notes == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"well,role\nA01,sample\n", "column 'signal' missing"),
        (b"well,role,signal\nA01,reagent,5\n", "'reagent' is not one of"),
        (b"well,role,signal\nA01,sample,5\n", "needs a 'sample' name"),
        (b"well,role,signal,concentration\nA01,standard,5,\n", "needs a 'concentration'"),
        (b"well,role,sample,signal\nA01,sample,s,inf\n", "finite number"),
        (b"well,role,sample,signal\nA01,sample,s,1\nA01,sample,s,2\n", "appears twice"),
        (b"PK\x03\x04xx", "spreadsheet"),
    ],
)
def test_plate_csv_errors(data: bytes, message: str) -> None:
    with pytest.raises(InstrumentFileError, match=message):
        read_plate_csv(data)


def test_documented_example_plate() -> None:
    from tests.assays.metabolism.direct import FIXTURES

    result = analyse_atp(read_plate_csv(FIXTURES / "platereader" / "atp-example.csv"), unit="µM")
    got = {s.sample: s.quantity for s in result.samples}
    # true concentrations, from the fixture's README
    assert got["donor-7 banking"].value == pytest.approx(0.5, rel=1e-3)
    assert got["donor-7 month-6"].value == pytest.approx(0.8, rel=1e-3)
    assert got["donor-7 low"].flag is Flag.BELOW_LLOQ and got["donor-7 low"].value is None
    assert got["donor-7 high"].flag is Flag.ABOVE_ULOQ and got["donor-7 high"].value is None
