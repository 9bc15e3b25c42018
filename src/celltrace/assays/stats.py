"""Small shared statistics for the assay calculations (pure Python, no Django).

Sums use :func:`math.fsum` so results do not depend on the order of the inputs. Every function
validates its inputs and raises :class:`~celltrace.assays.errors.AssayInputError` naming the
field, the row (0-based position in the list) and the rule that failed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from celltrace.assays.errors import AssayInputError

CALCULATION_VERSION = "stats/1.0.0"


def require_finite(value: float, field: str, *, row: int | None = None) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number (NaN, inf, bool)."""
    where = f"row {row}, " if row is not None else ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AssayInputError(
            f"{where}{field}: must be a number, got {type(value).__name__}", row=row, field=field
        )
    number = float(value)
    if not math.isfinite(number):
        raise AssayInputError(
            f"{where}{field}: must be finite (NaN and infinity are rejected), got {value!r}",
            row=row,
            field=field,
        )
    return number


def require_positive(value: float, field: str, *, row: int | None = None) -> float:
    """Return ``value`` if finite and > 0."""
    number = require_finite(value, field, row=row)
    if number <= 0:
        where = f"row {row}, " if row is not None else ""
        raise AssayInputError(f"{where}{field}: must be > 0, got {value!r}", row=row, field=field)
    return number


def require_non_negative(value: float, field: str, *, row: int | None = None) -> float:
    """Return ``value`` if finite and >= 0."""
    number = require_finite(value, field, row=row)
    if number < 0:
        where = f"row {row}, " if row is not None else ""
        raise AssayInputError(f"{where}{field}: must be >= 0, got {value!r}", row=row, field=field)
    return number


def require_count(value: int, field: str, *, row: int | None = None) -> int:
    """Return ``value`` if it is a non-negative ``int`` (bools and floats are rejected)."""
    where = f"row {row}, " if row is not None else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise AssayInputError(
            f"{where}{field}: must be a whole number (int), got {type(value).__name__} {value!r}",
            row=row,
            field=field,
        )
    if value < 0:
        raise AssayInputError(f"{where}{field}: must be >= 0, got {value}", row=row, field=field)
    return value


def finite_list(values: Sequence[float], field: str, *, min_length: int = 1) -> list[float]:
    """Validate every element of ``values`` as finite and return them as floats."""
    if isinstance(values, str | bytes):
        raise AssayInputError(f"{field}: must be a list of numbers, got a string", field=field)
    checked = [require_finite(v, field, row=i) for i, v in enumerate(values)]
    if len(checked) < min_length:
        raise AssayInputError(
            f"{field}: needs at least {min_length} value(s), got {len(checked)}", field=field
        )
    return checked


def mean(values: Sequence[float], field: str = "values") -> float:
    """Arithmetic mean."""
    checked = finite_list(values, field, min_length=1)
    return math.fsum(checked) / len(checked)


def sample_sd(values: Sequence[float], field: str = "values") -> float:
    """Sample standard deviation (n - 1 denominator); needs at least two values."""
    checked = finite_list(values, field, min_length=2)
    m = math.fsum(checked) / len(checked)
    return math.sqrt(math.fsum((v - m) ** 2 for v in checked) / (len(checked) - 1))


def cv_percent(values: Sequence[float], field: str = "values") -> float:
    """Coefficient of variation, % = sample SD / mean × 100; the mean must not be zero."""
    checked = finite_list(values, field, min_length=2)
    m = math.fsum(checked) / len(checked)
    if m == 0:
        raise AssayInputError(f"{field}: CV is undefined when the mean is 0", field=field)
    return sample_sd(checked, field) / abs(m) * 100.0


def geometric_mean(values: Sequence[float], field: str = "values") -> float:
    """Geometric mean = 10^(mean of log10 values); every value must be > 0."""
    checked = finite_list(values, field, min_length=1)
    for i, v in enumerate(checked):
        require_positive(v, field, row=i)
    return float(10 ** (math.fsum(math.log10(v) for v in checked) / len(checked)))


@dataclass(frozen=True)
class LinearFit:
    """Ordinary least-squares fit ``y = intercept + slope * x``."""

    slope: float
    intercept: float
    r: float
    r_squared: float
    n: int


def linear_regression(
    x: Sequence[float], y: Sequence[float], *, x_field: str = "x", y_field: str = "y"
) -> LinearFit:
    """Least-squares regression of ``y`` on ``x`` with Pearson's correlation coefficient ``r``.

    Needs at least two points and at least two distinct ``x`` values. If every ``y`` is equal the
    slope is 0 and ``r`` is reported as 0 (the correlation is undefined, so it never passes a
    minimum-|r| rule).
    """
    xs = finite_list(x, x_field, min_length=2)
    ys = finite_list(y, y_field, min_length=2)
    if len(xs) != len(ys):
        raise AssayInputError(
            f"{x_field} and {y_field}: must have the same length, got {len(xs)} and {len(ys)}",
            field=y_field,
        )
    n = len(xs)
    mx = math.fsum(xs) / n
    my = math.fsum(ys) / n
    sxx = math.fsum((a - mx) ** 2 for a in xs)
    syy = math.fsum((b - my) ** 2 for b in ys)
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(xs, ys, strict=True))
    if sxx == 0:
        raise AssayInputError(
            f"{x_field}: needs at least two distinct values to fit a line", field=x_field
        )
    slope = sxy / sxx
    intercept = my - slope * mx
    r = 0.0 if syy == 0 else max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))
    return LinearFit(slope=slope, intercept=intercept, r=r, r_squared=r * r, n=n)
