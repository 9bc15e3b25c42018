"""Shared statistics, checked against numpy/statistics as independent references."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from celltrace.assays import stats
from celltrace.assays.errors import AssayInputError


def test_mean_sd_cv_against_statistics_module() -> None:
    values = [10.2, 9.8, 10.5, 9.9, 10.1]
    assert stats.mean(values) == pytest.approx(statistics.fmean(values))
    assert stats.sample_sd(values) == pytest.approx(statistics.stdev(values))
    assert stats.cv_percent(values) == pytest.approx(
        statistics.stdev(values) / statistics.fmean(values) * 100
    )


def test_geometric_mean() -> None:
    assert stats.geometric_mean([1.0, 100.0]) == pytest.approx(10.0)
    assert stats.geometric_mean([0.25, 0.0625]) == pytest.approx(0.125)
    with pytest.raises(AssayInputError, match=r"row 1, endpoints: must be > 0"):
        stats.geometric_mean([1.0, 0.0], "endpoints")


@given(
    slope=st.floats(min_value=-50, max_value=50).filter(lambda s: abs(s) > 1e-3),
    intercept=st.floats(min_value=-100, max_value=100),
    xs=st.lists(
        st.floats(min_value=-10, max_value=10), min_size=3, max_size=20, unique=True
    ).filter(lambda v: max(v) - min(v) > 0.1),
)
def test_regression_recovers_exact_line(slope: float, intercept: float, xs: list[float]) -> None:
    fit = stats.linear_regression(xs, [intercept + slope * x for x in xs])
    assert fit.slope == pytest.approx(slope, rel=1e-7, abs=1e-7)
    assert fit.intercept == pytest.approx(intercept, rel=1e-7, abs=1e-6)
    assert abs(fit.r) == pytest.approx(1.0, abs=1e-9)
    assert math.copysign(1.0, fit.r) == math.copysign(1.0, slope)


def test_regression_matches_numpy() -> None:
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    y = [2.1, 3.9, 6.2, 7.8, 10.1]
    fit = stats.linear_regression(x, y)
    slope, intercept = np.polyfit(x, y, 1)
    assert fit.slope == pytest.approx(slope)
    assert fit.intercept == pytest.approx(intercept)
    assert fit.r == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert fit.r_squared == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2)


def test_flat_response_has_zero_r() -> None:
    fit = stats.linear_regression([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    assert fit.slope == 0.0 and fit.r == 0.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: stats.mean([]), r"values: needs at least 1"),
        (lambda: stats.mean([1.0, math.inf]), r"row 1, values: must be finite"),
        (lambda: stats.mean([1.0, True]), r"row 1, values: must be a number"),  # type: ignore[list-item]
        (lambda: stats.mean("12"), r"values: must be a list of numbers"),  # type: ignore[arg-type]
        (lambda: stats.sample_sd([1.0]), r"needs at least 2"),
        (lambda: stats.cv_percent([1.0, -1.0]), r"CV is undefined when the mean is 0"),
        (
            lambda: stats.linear_regression([1.0, 2.0, 3.0], [1.0, 2.0]),
            r"must have the same length",
        ),
        (lambda: stats.linear_regression([1.0, 1.0], [1.0, 2.0]), r"two distinct values"),
        (lambda: stats.require_count(2.0, "n"), r"n: must be a whole number"),  # type: ignore[arg-type]
    ],
)
def test_bad_input(call: object, match: str) -> None:
    with pytest.raises(AssayInputError, match=match):
        call()  # type: ignore[operator]
