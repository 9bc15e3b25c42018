"""Four- and five-parameter logistic standard curves (4PL / 5PL): fit, inverse, goodness of fit.

Models (docs/design/domain-facts.md §10)::

    4PL: y = d + (a - d) / (1 + (x/c)^b)
    5PL: y = d + (a - d) / (1 + (x/c)^b)^g

``a`` is the response at zero concentration, ``d`` the response at infinite concentration,
``c`` the inflection concentration, ``b`` the slope (kept positive: the direction of the curve is
carried by ``a - d``) and ``g`` the asymmetry (``g = 1`` gives the 4PL).

The inverse (back-calculation) exists only for a response strictly between ``a`` and ``d``;
:meth:`CurveFit.inverse` returns ``None`` outside that open interval and never extrapolates.
Pure: numpy and scipy only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import OptimizeWarning, curve_fit

from celltrace.assays.errors import AssayInputError

Model = Literal["4PL", "5PL"]
Weighting = Literal["none", "1/y2"]

FloatArray = npt.NDArray[np.float64]

# Search bounds for the slope and the asymmetry factor. They are numerical guards for the
# optimiser, not assay rules: a slope outside them means the standards do not describe a
# sigmoid and the fit should not be used.
_B_BOUNDS = (0.05, 20.0)
_G_BOUNDS = (0.05, 20.0)
# The inflection point may lie this many decades outside the standards' concentration range.
_C_DECADES = 3.0


def _finite_array(values: Sequence[float], name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise AssayInputError(f"{name} must be a flat sequence of numbers", field=name)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise AssayInputError(
            f"{name}[{int(bad[0])}] is not a finite number ({arr[bad[0]]!r})", field=name
        )
    return arr


def logistic4(x: FloatArray, a: float, b: float, c: float, d: float) -> FloatArray:
    """4PL response at concentrations ``x`` (x >= 0)."""
    return d + (a - d) / (1.0 + np.power(x / c, b))


def logistic5(x: FloatArray, a: float, b: float, c: float, d: float, g: float) -> FloatArray:
    """5PL response at concentrations ``x`` (x >= 0)."""
    return d + (a - d) / np.power(1.0 + np.power(x / c, b), g)


@dataclass(frozen=True)
class CurveFit:
    """A fitted 4PL/5PL curve with its goodness of fit."""

    model: Model
    a: float
    b: float
    c: float
    d: float
    g: float
    r_squared: float
    rmse: float
    n_points: int
    weighting: Weighting

    @property
    def increasing(self) -> bool:
        """True when the response rises with concentration (d > a)."""
        return self.d > self.a

    def params(self) -> dict[str, float]:
        """Parameters by name (``g`` only for the 5PL)."""
        out = {"a": self.a, "b": self.b, "c": self.c, "d": self.d}
        if self.model == "5PL":
            out["g"] = self.g
        return out

    def predict(self, x: float) -> float:
        """Response at concentration ``x`` (x >= 0)."""
        if not math.isfinite(x) or x < 0:
            raise AssayInputError(f"concentration must be a finite number >= 0, got {x!r}")
        arr = np.asarray([x], dtype=np.float64)
        return float(logistic5(arr, self.a, self.b, self.c, self.d, self.g)[0])

    def inverse(self, y: float) -> float | None:
        """Concentration for response ``y``; ``None`` unless ``y`` lies strictly between a and d."""
        if not math.isfinite(y):
            raise AssayInputError(f"response must be a finite number, got {y!r}")
        lo, hi = min(self.a, self.d), max(self.a, self.d)
        if not lo < y < hi:
            return None
        ratio = (self.a - self.d) / (y - self.d)  # > 1 inside the open interval
        inner = ratio ** (1.0 / self.g) - 1.0
        if inner <= 0:
            return None
        x = self.c * inner ** (1.0 / self.b)
        return x if math.isfinite(x) else None


def _goodness(y: FloatArray, fitted: FloatArray) -> tuple[float, float]:
    ss_res = float(np.sum((y - fitted) ** 2))
    ss_tot = float(np.sum((y - np.mean(y)) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    return r2, math.sqrt(ss_res / y.size)


def _validate(
    x_in: Sequence[float], y_in: Sequence[float], n_params: int
) -> tuple[FloatArray, FloatArray]:
    x = _finite_array(x_in, "concentration")
    y = _finite_array(y_in, "response")
    if x.size != y.size:
        raise AssayInputError(
            f"{x.size} concentrations but {y.size} responses: they must pair up", field="response"
        )
    if np.any(x < 0):
        raise AssayInputError("concentrations must be >= 0", field="concentration")
    levels = np.unique(x)
    if levels.size < n_params:
        raise AssayInputError(
            f"a {n_params}-parameter curve needs at least {n_params} distinct concentrations, "
            f"got {levels.size}",
            field="concentration",
        )
    if not np.any(x > 0):
        raise AssayInputError("no standard has a concentration above zero", field="concentration")
    if float(np.ptp(y)) == 0.0:
        raise AssayInputError("all responses are equal: no curve can be fitted", field="response")
    return x, y


def _sigma(y: FloatArray, weighting: Weighting) -> FloatArray | None:
    if weighting == "none":
        return None
    if np.any(y == 0):
        raise AssayInputError("1/y² weighting needs responses other than zero", field="response")
    return np.abs(y)


def _fit4_internal(x: FloatArray, y: FloatArray, weighting: Weighting) -> tuple[float, ...]:
    positive = x[x > 0]
    lc_lo = math.log10(float(positive.min())) - _C_DECADES
    lc_hi = math.log10(float(positive.max())) + _C_DECADES
    span = float(np.ptp(y))
    y_lo, y_hi = float(y.min()) - 10 * span, float(y.max()) + 10 * span
    a0 = float(np.mean(y[x == x.min()]))
    d0 = float(np.mean(y[x == x.max()]))
    if a0 == d0:
        a0, d0 = float(y.min()), float(y.max())
    sigma = _sigma(y, weighting)

    def f(xx: FloatArray, a: float, b: float, lc: float, d: float) -> FloatArray:
        return logistic4(xx, a, b, 10.0**lc, d)

    best: tuple[float, ...] | None = None
    best_sse = math.inf
    # Multi-start over the inflection point: the median positive concentration first
    # (docs/design/domain-facts.md §10), then the quartiles of the log-range.
    starts = [math.log10(float(np.median(positive)))]
    lmin, lmax = math.log10(float(positive.min())), math.log10(float(positive.max()))
    starts += [lmin + f * (lmax - lmin) for f in (0.25, 0.5, 0.75)]
    for lc0 in starts:
        p0 = [a0, 1.0, min(max(lc0, lc_lo), lc_hi), d0]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                popt, _ = curve_fit(
                    f,
                    x,
                    y,
                    p0=p0,
                    sigma=sigma,
                    bounds=([y_lo, _B_BOUNDS[0], lc_lo, y_lo], [y_hi, _B_BOUNDS[1], lc_hi, y_hi]),
                    method="trf",
                    maxfev=20000,
                )
        except (RuntimeError, ValueError):
            continue
        resid = y - f(x, *popt)
        w = 1.0 if sigma is None else 1.0 / sigma**2
        sse = float(np.sum(w * resid**2))
        if sse < best_sse:
            best_sse, best = sse, tuple(float(v) for v in popt)
    if best is None:
        raise AssayInputError("the 4PL fit did not converge", field="response")
    a, b, lc, d = best
    return a, b, 10.0**lc, d


def fit_4pl(x: Sequence[float], y: Sequence[float], *, weighting: Weighting = "none") -> CurveFit:
    """Fit a 4PL curve to standards (concentration ``x``, response ``y``)."""
    xa, ya = _validate(x, y, 4)
    a, b, c, d = _fit4_internal(xa, ya, weighting)
    r2, rmse = _goodness(ya, logistic4(xa, a, b, c, d))
    return CurveFit("4PL", a, b, c, d, 1.0, r2, rmse, int(xa.size), weighting)


def fit_5pl(x: Sequence[float], y: Sequence[float], *, weighting: Weighting = "none") -> CurveFit:
    """Fit a 5PL curve, starting from the 4PL fit (g = 1)."""
    xa, ya = _validate(x, y, 5)
    a4, b4, c4, d4 = _fit4_internal(xa, ya, weighting)
    positive = xa[xa > 0]
    lc_lo = math.log10(float(positive.min())) - _C_DECADES
    lc_hi = math.log10(float(positive.max())) + _C_DECADES
    span = float(np.ptp(ya))
    y_lo, y_hi = float(ya.min()) - 10 * span, float(ya.max()) + 10 * span
    sigma = _sigma(ya, weighting)

    def f(xx: FloatArray, a: float, b: float, lc: float, d: float, lg: float) -> FloatArray:
        return logistic5(xx, a, b, 10.0**lc, d, 10.0**lg)

    def clip(v: float, lo: float, hi: float) -> float:
        return min(max(v, lo), hi)

    lg_lo, lg_hi = math.log10(_G_BOUNDS[0]), math.log10(_G_BOUNDS[1])
    best: tuple[float, ...] | None = None
    best_sse = math.inf
    for lg0 in (0.0, -0.5, 0.5):
        p0 = [
            clip(a4, y_lo, y_hi),
            clip(b4, *_B_BOUNDS),
            clip(math.log10(c4), lc_lo, lc_hi),
            clip(d4, y_lo, y_hi),
            lg0,
        ]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                popt, _ = curve_fit(
                    f,
                    xa,
                    ya,
                    p0=p0,
                    sigma=sigma,
                    bounds=(
                        [y_lo, _B_BOUNDS[0], lc_lo, y_lo, lg_lo],
                        [y_hi, _B_BOUNDS[1], lc_hi, y_hi, lg_hi],
                    ),
                    method="trf",
                    maxfev=40000,
                )
        except (RuntimeError, ValueError):
            continue
        resid = ya - f(xa, *popt)
        w = 1.0 if sigma is None else 1.0 / sigma**2
        sse = float(np.sum(w * resid**2))
        if sse < best_sse:
            best_sse, best = sse, tuple(float(v) for v in popt)
    if best is None:
        raise AssayInputError("the 5PL fit did not converge", field="response")
    a, b, lc, d, lg = best
    c, g = 10.0**lc, 10.0**lg
    r2, rmse = _goodness(ya, logistic5(xa, a, b, c, d, g))
    return CurveFit("5PL", a, b, c, d, g, r2, rmse, int(xa.size), weighting)


def fit_curve(
    x: Sequence[float], y: Sequence[float], model: Model = "4PL", *, weighting: Weighting = "none"
) -> CurveFit:
    """Fit ``model`` ("4PL" or "5PL")."""
    if model == "4PL":
        return fit_4pl(x, y, weighting=weighting)
    if model == "5PL":
        return fit_5pl(x, y, weighting=weighting)
    raise AssayInputError(f"unknown curve model {model!r}: use 4PL or 5PL", field="model")
