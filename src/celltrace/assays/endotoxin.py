"""Bacterial endotoxins: USP <85>, Ph. Eur. 2.6.14, JP 4.01 (harmonised) and ChP 1143.

* Endotoxin limit ``EL = K / M`` with ``M = maximum dose per hour / body mass`` (70 kg USP and
  Ph. Eur., 60 kg ChP; the body mass is a parameter stored with each limit).
* Maximum valid dilution ``MVD = EL × c / λ``.
* Kinetic (chromogenic or turbidimetric) standard curves: linear regression of log10(onset time)
  on log10(concentration), valid if ``|r| >= 0.980`` (configurable); interpolation
  ``conc = 10^((log10(T) - a) / b)``.
* Sample evaluation: concentration × dilution, positive product control (PPC) recovery
  50-200 %, replicate CV (lab-configurable, no compendial limit), negative control < λ, dilution
  within the MVD; every failing reason is listed.
* Gel-clot: end points, geometric mean end point, confirmation of the labelled lysate
  sensitivity (0.5λ-2λ) and the limit test.

Float noise: ``0.2 / (10 / 70)`` is ``1.4000000000000001`` in binary floating point. The float
functions here therefore compute in ``Decimal`` from the shortest ``repr`` of each input and
convert once at the end, so ``endotoxin_limit(0.2, 10)`` is exactly ``1.4``. For stored results
use the ``*_decimal`` variants, which take and return ``Decimal``/strings; the QC layer rounds the
reportable value with :func:`celltrace.qc.rounding.round_to_limit` (USP GN 7.20), only at the end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final, Literal

from celltrace.assays import stats
from celltrace.assays.errors import AssayInputError

CALCULATION_VERSION: Final = "endotoxin/1.0.0"

#: Threshold pyrogenic dose K, EU/kg (any route except intrathecal), USP <85>.
K_DEFAULT_EU_PER_KG: Final = 5.0
#: Threshold pyrogenic dose K for intrathecal administration, EU/kg, USP <85>.
K_INTRATHECAL_EU_PER_KG: Final = 0.2
#: Minimum |r| of a photometric standard curve (configuration default; verify the edition).
R_MIN_DEFAULT: Final = 0.980
#: PPC recovery window, % (USP <85> / Ph. Eur. 2.6.14).
RECOVERY_MIN_PERCENT: Final = 50.0
RECOVERY_MAX_PERCENT: Final = 200.0
#: Minimum replicates per standard concentration for a photometric curve.
CURVE_MIN_REPLICATES_DEFAULT: Final = 3
#: Gel-clot sensitivity confirmation: replicates per concentration.
GEL_CLOT_MIN_REPLICATES: Final = 4
#: Tolerance on log2(end point / λ) when comparing a geometric mean with 0.5λ and 2λ; the series
#: concentrations are powers of two times λ, so exact boundaries must not fail on float noise.
_LOG2_TOLERANCE: Final = 1e-9


class Pharmacopoeia(StrEnum):
    """Pharmacopoeia whose convention fixes the default adult body mass."""

    USP = "USP"
    PH_EUR = "Ph. Eur."
    CHP = "ChP"


#: Default body mass, kg, per pharmacopoeia (ChP 60 kg: verify the current edition).
BODY_MASS_KG: Final[dict[Pharmacopoeia, Decimal]] = {
    Pharmacopoeia.USP: Decimal("70"),
    Pharmacopoeia.PH_EUR: Decimal("70"),
    Pharmacopoeia.CHP: Decimal("60"),
}

DecimalLike = str | Decimal | int


def _float_to_decimal(value: float, field: str) -> Decimal:
    """Exact decimal of the shortest repr of a validated float (0.2 -> Decimal('0.2'))."""
    return Decimal(repr(stats.require_finite(value, field)))


def _to_decimal(value: DecimalLike, field: str) -> Decimal:
    if isinstance(value, float):
        raise TypeError(f"{field}: pass a str or Decimal, not a float ({value!r})")
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise TypeError(f"{field}: must be str, Decimal or int, got {type(value).__name__}")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise AssayInputError(f"{field}: {value!r} is not a decimal number", field=field) from None
    if not number.is_finite():
        raise AssayInputError(f"{field}: must be finite, got {value!r}", field=field)
    return number


def _positive_decimal(value: DecimalLike, field: str) -> Decimal:
    number = _to_decimal(value, field)
    if number <= 0:
        raise AssayInputError(f"{field}: must be > 0, got {value!r}", field=field)
    return number


# --------------------------------------------------------------------------- limit and MVD


def endotoxin_limit_decimal(
    k_eu_per_kg: DecimalLike, dose_per_hour: DecimalLike, body_mass_kg: DecimalLike = "70"
) -> Decimal:
    """``EL = K / (dose per hour / body mass)`` in exact decimal arithmetic.

    The unit of the limit is EU per unit of dose (EU/mL when the dose is in mL).
    """
    k = _positive_decimal(k_eu_per_kg, "k_eu_per_kg")
    dose = _positive_decimal(dose_per_hour, "dose_per_hour")
    mass = _positive_decimal(body_mass_kg, "body_mass_kg")
    return k * mass / dose


def endotoxin_limit(k_eu_per_kg: float, dose_per_hour: float, body_mass_kg: float = 70.0) -> float:
    """Endotoxin limit ``EL = K / M``, ``M = dose_per_hour / body_mass_kg`` (USP <85>).

    ``dose_per_hour`` is the maximum dose the patient receives in one hour (the whole bolus for
    a bolus; ChP 1143 counts an injection shorter than one hour as one hour, see
    :func:`max_dose_per_hour`). Computed in ``Decimal`` so ``endotoxin_limit(0.2, 10)`` is 1.4.
    """
    k = _float_to_decimal(k_eu_per_kg, "k_eu_per_kg")
    dose = _float_to_decimal(dose_per_hour, "dose_per_hour")
    mass = _float_to_decimal(body_mass_kg, "body_mass_kg")
    return float(endotoxin_limit_decimal(k, dose, mass))


def max_dose_per_hour(
    total_dose: float, duration_hours: float, *, minimum_hours: float = 1.0
) -> float:
    """Dose per hour of an administration at constant rate; shorter than ``minimum_hours`` counts
    as ``minimum_hours`` (ChP 1143: an injection shorter than 1 h counts as 1 h)."""
    dose = _float_to_decimal(stats.require_positive(total_dose, "total_dose"), "total_dose")
    hours = _float_to_decimal(
        stats.require_positive(duration_hours, "duration_hours"), "duration_hours"
    )
    minimum = _float_to_decimal(
        stats.require_positive(minimum_hours, "minimum_hours"), "minimum_hours"
    )
    return float(dose / max(hours, minimum))


def max_valid_dilution_decimal(
    limit: DecimalLike, concentration: DecimalLike, sensitivity: DecimalLike
) -> Decimal:
    """``MVD = EL × c / λ`` in exact decimal arithmetic."""
    el = _positive_decimal(limit, "limit")
    c = _positive_decimal(concentration, "concentration")
    lam = _positive_decimal(sensitivity, "sensitivity")
    return el * c / lam


def max_valid_dilution(limit: float, concentration: float, sensitivity: float) -> float:
    """Maximum valid dilution ``MVD = EL × c / λ`` (USP <85>).

    ``c`` is the product concentration in the unit the limit is expressed per (1 when the limit
    is in EU/mL); ``λ`` is the labelled gel-clot sensitivity or the lowest standard-curve
    concentration (photometric methods). Never test beyond the MVD.
    """
    el = _float_to_decimal(limit, "limit")
    c = _float_to_decimal(concentration, "concentration")
    lam = _float_to_decimal(sensitivity, "sensitivity")
    return float(max_valid_dilution_decimal(el, c, lam))


@dataclass(frozen=True)
class EndotoxinLimitResult:
    """An endotoxin limit with the inputs it was computed from."""

    limit: Decimal
    unit: str
    k_eu_per_kg: Decimal
    dose_per_hour: Decimal
    dose_unit: str
    body_mass_kg: Decimal
    pharmacopoeia: Pharmacopoeia
    calculation_version: str = CALCULATION_VERSION


def calculate_endotoxin_limit(
    *,
    k_eu_per_kg: DecimalLike,
    dose_per_hour: DecimalLike,
    dose_unit: str = "mL",
    pharmacopoeia: Pharmacopoeia = Pharmacopoeia.USP,
    body_mass_kg: DecimalLike | None = None,
) -> EndotoxinLimitResult:
    """Endotoxin limit for storage: the body mass defaults to the pharmacopoeia's (70/70/60 kg)."""
    pharmacopoeia = Pharmacopoeia(pharmacopoeia)
    mass = BODY_MASS_KG[pharmacopoeia] if body_mass_kg is None else body_mass_kg
    k = _positive_decimal(k_eu_per_kg, "k_eu_per_kg")
    dose = _positive_decimal(dose_per_hour, "dose_per_hour")
    mass_d = _positive_decimal(mass, "body_mass_kg")
    if not dose_unit.strip():
        raise AssayInputError("dose_unit: must not be empty", field="dose_unit")
    return EndotoxinLimitResult(
        limit=endotoxin_limit_decimal(k, dose, mass_d),
        unit=f"EU/{dose_unit}",
        k_eu_per_kg=k,
        dose_per_hour=dose,
        dose_unit=dose_unit,
        body_mass_kg=mass_d,
        pharmacopoeia=pharmacopoeia,
    )


# --------------------------------------------------------------------------- kinetic curves


@dataclass(frozen=True)
class StandardCurve:
    """Log-log standard curve: ``log10(response) = intercept + slope × log10(concentration)``."""

    concentrations: tuple[float, ...]
    onset_times: tuple[float, ...]
    intercept: float
    slope: float
    r: float
    r_min: float
    response: Literal["onset_time", "rate"]
    valid: bool
    reasons: tuple[str, ...]
    calculation_version: str = CALCULATION_VERSION

    @property
    def lowest_concentration(self) -> float:
        """λ of a photometric method: the lowest standard concentration."""
        return min(self.concentrations)

    @property
    def highest_concentration(self) -> float:
        return max(self.concentrations)

    def concentration(self, onset_time: float) -> float:
        """Interpolate ``conc = 10^((log10(T) - a) / b)`` (no clipping to the curve range)."""
        t = stats.require_positive(onset_time, "onset_time")
        if self.slope == 0:
            raise AssayInputError(
                "standard curve: slope is 0, concentrations cannot be interpolated", field="slope"
            )
        return float(10 ** ((math.log10(t) - self.intercept) / self.slope))


def fit_standard_curve(
    concentrations: list[float],
    onset_times: list[float],
    *,
    r_min: float = R_MIN_DEFAULT,
    response: Literal["onset_time", "rate"] = "onset_time",
    min_levels: int = 3,
    min_replicates: int = CURVE_MIN_REPLICATES_DEFAULT,
) -> StandardCurve:
    """Fit a kinetic chromogenic/turbidimetric standard curve (USP <85> photometric methods).

    One pair per well: replicate wells repeat the concentration, and every well enters the
    regression. Concentrations must be > 0 (the blank is the negative control, not a curve
    point). The curve is valid when ``|r| >= r_min``, it has at least ``min_levels``
    concentrations each with ``min_replicates`` wells, and the slope has the expected sign
    (negative for onset time, positive for rate). A curve that cannot be fitted at all raises
    :class:`AssayInputError`; a curve that fits but fails a rule is returned with
    ``valid=False`` and every failing reason.
    """
    if response not in ("onset_time", "rate"):
        raise AssayInputError(
            f"response: must be 'onset_time' or 'rate', got {response!r}", field="response"
        )
    r_min = stats.require_finite(r_min, "r_min")
    if not 0 < r_min <= 1:
        raise AssayInputError(f"r_min: must be in (0, 1], got {r_min}", field="r_min")
    conc = [
        stats.require_positive(c, "concentrations", row=i) for i, c in enumerate(concentrations)
    ]
    times = [stats.require_positive(t, "onset_times", row=i) for i, t in enumerate(onset_times)]
    if len(conc) != len(times):
        raise AssayInputError(
            f"onset_times: {len(times)} values for {len(conc)} concentrations; one onset time "
            "per well is required",
            field="onset_times",
        )
    fit = stats.linear_regression(
        [math.log10(c) for c in conc],
        [math.log10(t) for t in times],
        x_field="concentrations",
        y_field="onset_times",
    )
    reasons: list[str] = []
    if abs(fit.r) < r_min:
        reasons.append(f"standard curve |r| = {abs(fit.r):.4f} is below the minimum {r_min}")
    if response == "onset_time" and fit.slope >= 0:
        reasons.append(
            f"standard curve slope {fit.slope:.4f} is not negative (onset time must fall as "
            "endotoxin rises)"
        )
    if response == "rate" and fit.slope <= 0:
        reasons.append(f"standard curve slope {fit.slope:.4f} is not positive (rate response)")
    levels: dict[float, int] = {}
    for c in conc:
        levels[c] = levels.get(c, 0) + 1
    if len(levels) < min_levels:
        reasons.append(
            f"standard curve has {len(levels)} concentrations; at least {min_levels} are required"
        )
    short = sorted(c for c, n in levels.items() if n < min_replicates)
    if short:
        listed = ", ".join(f"{c:g} EU/mL ({levels[c]})" for c in short)
        reasons.append(
            f"standard concentrations with fewer than {min_replicates} replicates: {listed}"
        )
    return StandardCurve(
        concentrations=tuple(conc),
        onset_times=tuple(times),
        intercept=fit.intercept,
        slope=fit.slope,
        r=fit.r,
        r_min=r_min,
        response=response,
        valid=not reasons,
        reasons=tuple(reasons),
    )


def replicate_cv_percent(values: Sequence[float], field: str = "replicates") -> float:
    """Replicate CV, % (sample SD / mean × 100). The compendia set no limit; labs configure one."""
    return stats.cv_percent(values, field)


@dataclass(frozen=True)
class KineticSampleResult:
    """A photometric endotoxin result for one sample at one dilution, with its validity."""

    # inputs
    curve: StandardCurve
    dilution: float
    spike_eu_per_ml: float
    sample_onset_times: tuple[float | None, ...]
    ppc_onset_times: tuple[float | None, ...]
    negative_control_onset_times: tuple[float | None, ...]
    mvd: float | None
    recovery_min_percent: float
    recovery_max_percent: float
    cv_max_percent: float | None
    # outputs (concentrations in the test solution unless stated)
    sample_concentrations: tuple[float | None, ...]
    sample_mean: float | None
    ppc_concentrations: tuple[float | None, ...]
    ppc_mean: float | None
    recovery_percent: float | None
    sample_cv_percent: float | None
    ppc_cv_percent: float | None
    comparator: Literal["=", "<", ">"]
    #: result in the undiluted product, EU/mL: measured × dilution, or λ × dilution with "<"
    result_eu_per_ml: float
    valid: bool
    reasons: tuple[str, ...]
    calculation_version: str = CALCULATION_VERSION


def _replicate_concentrations(
    curve: StandardCurve, times: Sequence[float | None], field: str
) -> list[float | None]:
    result: list[float | None] = []
    for i, t in enumerate(times):
        result.append(
            None if t is None else curve.concentration(stats.require_positive(t, field, row=i))
        )
    return result


def _cv(times: Sequence[float | None]) -> float | None:
    numeric = [t for t in times if t is not None]
    if len(numeric) < 2 or len(numeric) != len(times):
        return None
    return stats.cv_percent(numeric)


def evaluate_kinetic_sample(
    curve: StandardCurve,
    *,
    sample_onset_times: Sequence[float | None],
    ppc_onset_times: Sequence[float | None],
    spike_eu_per_ml: float,
    dilution: float = 1.0,
    mvd: float | None = None,
    negative_control_onset_times: Sequence[float | None] = (),
    recovery_min_percent: float = RECOVERY_MIN_PERCENT,
    recovery_max_percent: float = RECOVERY_MAX_PERCENT,
    cv_max_percent: float | None = None,
) -> KineticSampleResult:
    """Evaluate a sample and its positive product control against a standard curve.

    ``None`` in an onset-time list means "no onset within the run time" (below the curve).
    Rules, each adding a reason when it fails (all are checked, none short-circuits):

    * the standard curve is valid (its own reasons are repeated);
    * the negative control (water) reads below λ, the lowest standard;
    * ``recovery % = (PPC mean - sample mean) / spike × 100`` is within 50-200 %
      (a sample with no onset in every replicate counts as 0 EU/mL here);
    * replicate CVs of the onset times are at most ``cv_max_percent`` when one is configured;
    * the sample mean is not above the highest standard (dilute further within the MVD);
    * the dilution does not exceed the MVD when one is given;
    * replicates agree on whether there was an onset.

    Result in the undiluted product = sample mean × dilution; below λ it is reported as
    ``< λ × dilution`` (``comparator="<"``, the bound kept as data).
    """
    dilution = stats.require_finite(dilution, "dilution")
    if dilution < 1:
        raise AssayInputError(
            f"dilution: must be >= 1 (1 = undiluted), got {dilution}", field="dilution"
        )
    spike = stats.require_positive(spike_eu_per_ml, "spike_eu_per_ml")
    if mvd is not None:
        mvd = stats.require_positive(mvd, "mvd")
    rec_min = stats.require_non_negative(recovery_min_percent, "recovery_min_percent")
    rec_max = stats.require_positive(recovery_max_percent, "recovery_max_percent")
    if rec_min >= rec_max:
        raise AssayInputError(
            "recovery_min_percent: must be below recovery_max_percent", field="recovery_min_percent"
        )
    if cv_max_percent is not None:
        cv_max_percent = stats.require_positive(cv_max_percent, "cv_max_percent")
    if not sample_onset_times:
        raise AssayInputError(
            "sample_onset_times: at least one replicate is required", field="sample_onset_times"
        )
    if not ppc_onset_times:
        raise AssayInputError(
            "ppc_onset_times: at least one replicate is required", field="ppc_onset_times"
        )

    reasons: list[str] = list(curve.reasons)
    lam = curve.lowest_concentration
    top = curve.highest_concentration

    sample_conc = _replicate_concentrations(curve, sample_onset_times, "sample_onset_times")
    ppc_conc = _replicate_concentrations(curve, ppc_onset_times, "ppc_onset_times")
    nc_conc = _replicate_concentrations(
        curve, negative_control_onset_times, "negative_control_onset_times"
    )

    for i, c in enumerate(nc_conc):
        if c is not None and c >= lam:
            reasons.append(
                f"negative control replicate {i}: {c:.4g} EU/mL is not below λ = {lam:g} EU/mL"
            )

    sample_numeric = [c for c in sample_conc if c is not None]
    sample_mean: float | None = None
    if sample_numeric:
        sample_mean = stats.mean(sample_numeric)
        if len(sample_numeric) != len(sample_conc):
            reasons.append("sample replicates disagree: some show an onset and some do not")

    ppc_numeric = [c for c in ppc_conc if c is not None]
    ppc_mean: float | None = None
    recovery: float | None = None
    if len(ppc_numeric) != len(ppc_conc):
        reasons.append("PPC replicate(s) without an onset: recovery cannot be computed")
    else:
        ppc_mean = stats.mean(ppc_numeric)
        recovery = (ppc_mean - (sample_mean or 0.0)) / spike * 100.0
        if recovery < rec_min:
            reasons.append(
                f"PPC recovery {recovery:.1f} % is below {rec_min:g} % (inhibition); re-test at a "
                "higher dilution within the MVD"
            )
        elif recovery > rec_max:
            reasons.append(
                f"PPC recovery {recovery:.1f} % is above {rec_max:g} % (enhancement); re-test at a "
                "higher dilution within the MVD"
            )

    sample_cv = _cv(sample_onset_times)
    ppc_cv = _cv(ppc_onset_times)
    if cv_max_percent is not None:
        if sample_cv is not None and sample_cv > cv_max_percent:
            reasons.append(f"sample replicate CV {sample_cv:.1f} % exceeds {cv_max_percent:g} %")
        if ppc_cv is not None and ppc_cv > cv_max_percent:
            reasons.append(f"PPC replicate CV {ppc_cv:.1f} % exceeds {cv_max_percent:g} %")

    if mvd is not None and dilution > mvd:
        reasons.append(f"dilution {dilution:g} exceeds the maximum valid dilution {mvd:g}")

    comparator: Literal["=", "<", ">"]
    if sample_mean is None or sample_mean < lam:
        comparator = "<"
        result = float(_float_to_decimal(lam, "λ") * _float_to_decimal(dilution, "dilution"))
    else:
        comparator = "="
        result = sample_mean * dilution
        if sample_mean > top:
            reasons.append(
                f"sample {sample_mean:.4g} EU/mL is above the highest standard {top:g} EU/mL; "
                "dilute further within the MVD"
            )
    return KineticSampleResult(
        curve=curve,
        dilution=dilution,
        spike_eu_per_ml=spike,
        sample_onset_times=tuple(sample_onset_times),
        ppc_onset_times=tuple(ppc_onset_times),
        negative_control_onset_times=tuple(negative_control_onset_times),
        mvd=mvd,
        recovery_min_percent=rec_min,
        recovery_max_percent=rec_max,
        cv_max_percent=cv_max_percent,
        sample_concentrations=tuple(sample_conc),
        sample_mean=sample_mean,
        ppc_concentrations=tuple(ppc_conc),
        ppc_mean=ppc_mean,
        recovery_percent=recovery,
        sample_cv_percent=sample_cv,
        ppc_cv_percent=ppc_cv,
        comparator=comparator,
        result_eu_per_ml=result,
        valid=not reasons,
        reasons=tuple(reasons),
    )


# --------------------------------------------------------------------------- gel-clot


def _check_flags(values: Sequence[bool], field: str) -> list[bool]:
    out: list[bool] = []
    for i, v in enumerate(values):
        if not isinstance(v, bool):
            raise AssayInputError(
                f"row {i}, {field}: must be True (clot) or False (no clot), got {v!r}",
                row=i,
                field=field,
            )
        out.append(v)
    return out


def gel_clot_endpoint(concentrations: Sequence[float], clotted: Sequence[bool]) -> float | None:
    """End point of one replicate series: the smallest concentration in the run of clots that
    starts at the highest concentration (series read in decreasing concentration).

    Returns ``None`` when the highest concentration did not clot (no end point).
    """
    conc = [
        stats.require_positive(c, "concentrations", row=i) for i, c in enumerate(concentrations)
    ]
    flags = _check_flags(clotted, "clotted")
    if len(conc) != len(flags) or not conc:
        raise AssayInputError(
            f"clotted: {len(flags)} results for {len(conc)} concentrations", field="clotted"
        )
    if len(set(conc)) != len(conc):
        raise AssayInputError(
            "concentrations: must be distinct within a series", field="concentrations"
        )
    endpoint: float | None = None
    for c, clot in sorted(zip(conc, flags, strict=True), key=lambda p: -p[0]):
        if not clot:
            break
        endpoint = c
    return endpoint


def _series_irregularity(concentrations: Sequence[float], clotted: Sequence[bool]) -> float | None:
    """A clot at a concentration below one that did not clot (returns that concentration)."""
    seen_negative = False
    for c, clot in sorted(zip(concentrations, clotted, strict=True), key=lambda p: -p[0]):
        if not clot:
            seen_negative = True
        elif seen_negative:
            return c
    return None


@dataclass(frozen=True)
class GelClotSensitivityResult:
    """Confirmation of the labelled lysate sensitivity (USP <85>, gel-clot)."""

    labelled_sensitivity: float
    concentrations: tuple[float, ...]
    series: tuple[tuple[bool, ...], ...]
    negative_controls: tuple[bool, ...]
    endpoints: tuple[float | None, ...]
    geometric_mean: float | None
    confirmed: bool
    valid: bool
    reasons: tuple[str, ...]
    calculation_version: str = CALCULATION_VERSION


def confirm_lysate_sensitivity(
    labelled_sensitivity: float,
    concentrations: Sequence[float],
    series: Sequence[Sequence[bool]],
    *,
    negative_controls: Sequence[bool] = (),
    min_replicates: int = GEL_CLOT_MIN_REPLICATES,
) -> GelClotSensitivityResult:
    """Confirm λ from replicate series at e.g. 2λ, λ, 0.5λ, 0.25λ (USP <85>).

    Each row of ``series`` gives clot (True) / no clot (False) per concentration. The geometric
    mean end point ``antilog(Σ log10 e / f)`` must lie within 0.5λ-2λ. The test is invalid when
    the lowest concentration clots in any replicate, a series has no end point, a clot appears
    below a non-clot, a negative control clots, or there are fewer than ``min_replicates``
    series; every such reason is listed.
    """
    lam = stats.require_positive(labelled_sensitivity, "labelled_sensitivity")
    conc = [
        stats.require_positive(c, "concentrations", row=i) for i, c in enumerate(concentrations)
    ]
    if len(conc) < 2:
        raise AssayInputError(
            "concentrations: at least two concentrations are required", field="concentrations"
        )
    rows = [tuple(_check_flags(s, f"series[{i}]")) for i, s in enumerate(series)]
    for i, row in enumerate(rows):
        if len(row) != len(conc):
            raise AssayInputError(
                f"row {i}, series: {len(row)} results for {len(conc)} concentrations",
                row=i,
                field="series",
            )
    negatives = _check_flags(negative_controls, "negative_controls")
    reasons: list[str] = []
    if len(rows) < min_replicates:
        reasons.append(f"{len(rows)} replicate series; at least {min_replicates} are required")
    lowest = conc.index(min(conc))
    endpoints: list[float | None] = []
    for i, row in enumerate(rows):
        if row[lowest]:
            reasons.append(f"series {i}: the lowest concentration {conc[lowest]:g} EU/mL clotted")
        odd = _series_irregularity(conc, row)
        if odd is not None:
            reasons.append(
                f"series {i}: clot at {odd:g} EU/mL below a concentration that did not clot"
            )
        e = gel_clot_endpoint(conc, row)
        if e is None:
            reasons.append(f"series {i}: the highest concentration did not clot (no end point)")
        endpoints.append(e)
    for i, clot in enumerate(negatives):
        if clot:
            reasons.append(f"negative control {i}: clotted")
    found = [e for e in endpoints if e is not None]
    gm: float | None = None
    confirmed = False
    if found and len(found) == len(endpoints):
        gm = stats.geometric_mean(found, "endpoints")
        mean_log2 = math.fsum(math.log2(e / lam) for e in found) / len(found)
        confirmed = -1 - _LOG2_TOLERANCE <= mean_log2 <= 1 + _LOG2_TOLERANCE
        if not confirmed:
            reasons.append(
                f"geometric mean end point {gm:.4g} EU/mL is outside 0.5λ-2λ "
                f"({lam / 2:g}-{lam * 2:g} EU/mL); labelled sensitivity not confirmed"
            )
    return GelClotSensitivityResult(
        labelled_sensitivity=lam,
        concentrations=tuple(conc),
        series=tuple(rows),
        negative_controls=tuple(negatives),
        endpoints=tuple(endpoints),
        geometric_mean=gm,
        confirmed=confirmed and not reasons,
        valid=not reasons,
        reasons=tuple(reasons),
    )


class GelClotOutcome(StrEnum):
    COMPLIES = "Complies"
    DOES_NOT_COMPLY = "Does not comply"
    REPEAT = "Repeat"
    INVALID = "Invalid"


@dataclass(frozen=True)
class GelClotLimitResult:
    """Gel-clot limit test (USP <85>): A sample, B PPC (2λ), C positive control, D negative."""

    sample: tuple[bool, ...]
    ppc: tuple[bool, ...]
    positive_control: tuple[bool, ...]
    negative_control: tuple[bool, ...]
    outcome: GelClotOutcome
    valid: bool
    reasons: tuple[str, ...]
    calculation_version: str = CALCULATION_VERSION


def gel_clot_limit_test(
    *,
    sample: Sequence[bool],
    ppc: Sequence[bool],
    positive_control: Sequence[bool],
    negative_control: Sequence[bool],
    min_replicates: int = 2,
) -> GelClotLimitResult:
    """Decide the gel-clot limit test (duplicates of solutions A-D).

    Valid when every B (PPC) and C (positive control) replicate clots and no D (negative
    control) replicate clots. Then: no clot in any A replicate -> complies; clot in every A
    replicate -> does not comply; mixed -> repeat the test.
    """
    groups = {
        "sample": _check_flags(sample, "sample"),
        "ppc": _check_flags(ppc, "ppc"),
        "positive_control": _check_flags(positive_control, "positive_control"),
        "negative_control": _check_flags(negative_control, "negative_control"),
    }
    reasons: list[str] = []
    for name, values in groups.items():
        if len(values) < min_replicates:
            reasons.append(
                f"{name}: {len(values)} replicate(s); at least {min_replicates} are required"
            )
    for name in ("ppc", "positive_control"):
        misses = [i for i, v in enumerate(groups[name]) if not v]
        if misses:
            reasons.append(f"{name}: replicate(s) {misses} did not clot (must clot)")
    clots = [i for i, v in enumerate(groups["negative_control"]) if v]
    if clots:
        reasons.append(f"negative_control: replicate(s) {clots} clotted (must not clot)")
    a = groups["sample"]
    if reasons:
        outcome = GelClotOutcome.INVALID
    elif not any(a):
        outcome = GelClotOutcome.COMPLIES
    elif all(a):
        outcome = GelClotOutcome.DOES_NOT_COMPLY
    else:
        outcome = GelClotOutcome.REPEAT
        reasons.append("sample replicates disagree (one clot, one not): repeat the test")
    return GelClotLimitResult(
        sample=tuple(a),
        ppc=tuple(groups["ppc"]),
        positive_control=tuple(groups["positive_control"]),
        negative_control=tuple(groups["negative_control"]),
        outcome=outcome,
        valid=outcome is not GelClotOutcome.INVALID,
        reasons=tuple(reasons),
    )
