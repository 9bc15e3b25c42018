"""4PL/5PL fits recover known parameters from generated data; the inverse never extrapolates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celltrace.assays.curves import fit_4pl, fit_5pl, fit_curve, logistic4, logistic5
from celltrace.assays.errors import AssayInputError

CONC = np.array([0.0, 0.05, 0.15, 0.5, 1.5, 5.0, 15.0, 50.0, 150.0, 500.0])


def _true4(x: np.ndarray, a: float, b: float, c: float, d: float) -> np.ndarray:
    # Written out here, independently of the module under test.
    return d + (a - d) / (1.0 + (x / c) ** b)


@pytest.mark.parametrize(
    ("a", "b", "c", "d"),
    [
        (150.0, 1.0, 8.0, 90_000.0),  # rising luminescence curve
        (60_000.0, 1.3, 20.0, 400.0),  # falling (competitive) curve
        (0.05, 0.8, 3.0, 2.5),  # absorbance scale
    ],
)
def test_4pl_recovers_parameters_from_noisy_replicates(
    a: float, b: float, c: float, d: float
) -> None:
    rng = np.random.default_rng(20240611)
    x = np.repeat(CONC, 3)
    y = _true4(x, a, b, c, d) * (1 + rng.normal(0, 0.01, x.size))  # 1 % multiplicative noise
    span = abs(d - a)
    fit = fit_4pl(x.tolist(), y.tolist())
    assert fit.b == pytest.approx(b, rel=0.05)
    assert fit.c == pytest.approx(c, rel=0.05)
    # unweighted: the asymptotes are recovered to within a small fraction of the span
    assert fit.a == pytest.approx(a, abs=0.02 * span)
    assert fit.d == pytest.approx(d, abs=0.02 * span)
    assert fit.r_squared > 0.999
    # 1/y² weighting matches the multiplicative noise: every parameter within 3 %
    weighted = fit_4pl(x.tolist(), y.tolist(), weighting="1/y2")
    for name, true in (("a", a), ("b", b), ("c", c), ("d", d)):
        assert weighted.params()[name] == pytest.approx(true, rel=0.03), name


@settings(max_examples=25, deadline=None)
@given(
    a=st.floats(10, 1000),
    span=st.floats(1e3, 1e6),
    b=st.floats(0.6, 2.5),
    log_c=st.floats(-0.5, 1.5),
    rising=st.booleans(),
)
def test_4pl_recovers_exact_parameters_from_noiseless_data(
    a: float, span: float, b: float, log_c: float, rising: bool
) -> None:
    c = 10.0**log_c
    lo, hi = (a, a + span) if rising else (a + span, a)
    y = _true4(CONC, lo, b, c, hi)
    fit = fit_4pl(CONC.tolist(), y.tolist())
    assert fit.b == pytest.approx(b, rel=1e-3)
    assert fit.c == pytest.approx(c, rel=1e-3)
    assert fit.a == pytest.approx(lo, rel=1e-3, abs=1e-3 * span)
    assert fit.d == pytest.approx(hi, rel=1e-3, abs=1e-3 * span)


def test_5pl_recovers_asymmetry() -> None:
    a, b, c, d, g = 200.0, 1.2, 10.0, 80_000.0, 0.5
    x = np.geomspace(0.01, 5000, 14)
    y = d + (a - d) / (1 + (x / c) ** b) ** g
    fit = fit_5pl(x.tolist(), y.tolist())
    assert fit.model == "5PL"
    assert fit.g == pytest.approx(g, rel=0.02)
    assert fit.b == pytest.approx(b, rel=0.02)
    assert fit.c == pytest.approx(c, rel=0.05)
    assert fit.d == pytest.approx(d, rel=0.01)
    # and the curve it describes is the true one
    for xx in (0.1, 3.0, 40.0, 900.0):
        truth = d + (a - d) / (1 + (xx / c) ** b) ** g
        assert fit.predict(xx) == pytest.approx(truth, rel=1e-3)


def test_5pl_fits_asymmetric_data_better_than_4pl() -> None:
    x = np.geomspace(0.01, 5000, 14)
    y = logistic5(x, 200.0, 1.2, 10.0, 80_000.0, 0.4)
    assert (
        fit_curve(x.tolist(), y.tolist(), "5PL").rmse
        < fit_curve(x.tolist(), y.tolist(), "4PL").rmse
    )


@pytest.mark.parametrize("conc", [0.07, 1.0, 12.0, 300.0])
def test_inverse_round_trip(conc: float) -> None:
    y = logistic4(CONC, 100.0, 1.1, 9.0, 50_000.0)
    fit = fit_4pl(CONC.tolist(), y.tolist())
    back = fit.inverse(fit.predict(conc))
    assert back is not None and back == pytest.approx(conc, rel=1e-6)


def test_inverse_is_none_outside_the_asymptotes() -> None:
    y = logistic4(CONC, 100.0, 1.1, 9.0, 50_000.0)
    fit = fit_4pl(CONC.tolist(), y.tolist())
    assert fit.inverse(min(fit.a, fit.d) - 1) is None
    assert fit.inverse(max(fit.a, fit.d) + 1) is None
    assert fit.inverse(fit.a) is None


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([0, 1, 2, 3], [1, 2, math.nan, 4], "not a finite number"),
        ([0, 1, 2], [1, 2, 3], "at least 4 distinct"),
        ([0, 1, 2, 3, 4], [1, 2, 3, 4], "pair up"),
        ([-1, 1, 2, 3], [1, 2, 3, 4], ">= 0"),
        ([0, 1, 2, 3], [5, 5, 5, 5], "all responses are equal"),
    ],
)
def test_fit_rejects_bad_input(x: list[float], y: list[float], message: str) -> None:
    with pytest.raises(AssayInputError, match=message):
        fit_4pl(x, y)


def test_weighting_needs_nonzero_responses() -> None:
    y = logistic4(CONC, 0.0, 1.0, 5.0, 100.0)
    with pytest.raises(AssayInputError, match="1/y²"):
        fit_4pl(CONC.tolist(), y.tolist(), weighting="1/y2")
