"""Vector copy number by qPCR and ddPCR (MIQE / dMIQE; Bio-Rad Droplet Digital PCR Applications
Guide, statistics chapter).

qPCR
    Standard curve ``Cq = intercept + slope × log10(copies)``; efficiency
    ``E = 10^(-1/slope) - 1`` (a fraction, 1.0 = 100 %), accepted within 90-110 % with
    ``R² >= 0.98`` (configurable). The decision uses the unrounded slope.
    ``copies = 10^((Cq - intercept) / slope)``; VCN per diploid genome = 2 × target / reference.
ddPCR
    ``λ = -ln(1 - k/N)`` copies per droplet; ``copies/µL = λ / V_d`` (V_d in µL; 0.85 nL default,
    configurable); VCN = 2 × λ_target / λ_reference in one duplex well. At least 10,000
    accepted droplets (configurable) and k/N at most 0.99 (saturation); k = 0 is "< LOD".
Per transduced cell
    ``VCN / fraction CAR+``; approximate (surface CAR under-counts integrated cells).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

from celltrace.assays import stats
from celltrace.assays.errors import AssayInputError

CALCULATION_VERSION: Final = "vcn/1.0.0"

DROPLET_NL_DEFAULT: Final = 0.85
MIN_DROPLETS_DEFAULT: Final = 10_000
SATURATION_FRACTION: Final = 0.99
REFERENCE_COPIES_PER_CELL: Final = 2
EFFICIENCY_MIN: Final = 0.90
EFFICIENCY_MAX: Final = 1.10
R_SQUARED_MIN: Final = 0.98
QPCR_MIN_LEVELS: Final = 5
NG_PER_DIPLOID_GENOME: Final = 0.0066


# ----------------------------------------------------------------------------- qPCR


def qpcr_efficiency(slope: float) -> float:
    """Amplification efficiency ``E = 10^(-1/slope) - 1`` as a fraction (1.0 is 100 %)."""
    s = stats.require_finite(slope, "slope")
    if s >= 0:
        raise AssayInputError(
            f"slope: must be negative (Cq falls as copies rise), got {slope}", field="slope"
        )
    return float(10 ** (-1.0 / s)) - 1.0


@dataclass(frozen=True)
class QpcrStandardCurve:
    """qPCR standard curve ``Cq = intercept + slope × log10(copies)`` with its acceptance."""

    copies: tuple[float, ...]
    cq: tuple[float, ...]
    slope: float
    intercept: float
    r_squared: float
    efficiency: float
    efficiency_min: float
    efficiency_max: float
    r_squared_min: float
    valid: bool
    reasons: tuple[str, ...]
    calculation_version: str = CALCULATION_VERSION

    def copies_for(self, cq: float) -> float:
        """``copies = 10^((Cq - intercept) / slope)``."""
        value = stats.require_finite(cq, "cq")
        if self.slope == 0:
            raise AssayInputError(
                "standard curve: slope is 0, copies cannot be interpolated", field="slope"
            )
        return float(10 ** ((value - self.intercept) / self.slope))


def fit_qpcr_standard_curve(
    copies: Sequence[float],
    cq: Sequence[float],
    *,
    efficiency_min: float = EFFICIENCY_MIN,
    efficiency_max: float = EFFICIENCY_MAX,
    r_squared_min: float = R_SQUARED_MIN,
    min_levels: int = QPCR_MIN_LEVELS,
) -> QpcrStandardCurve:
    """Fit a dilution series (one pair per well; replicates repeat the copy number).

    Invalid, with every reason listed, when the efficiency is outside
    ``[efficiency_min, efficiency_max]`` (fractions), ``R² < r_squared_min`` or there are fewer
    than ``min_levels`` distinct standards. A series that cannot be fitted raises.
    """
    levels = [stats.require_positive(c, "copies", row=i) for i, c in enumerate(copies)]
    cqs = [stats.require_positive(c, "cq", row=i) for i, c in enumerate(cq)]
    if len(levels) != len(cqs):
        raise AssayInputError(
            f"cq: {len(cqs)} values for {len(levels)} standards; one Cq per well is required",
            field="cq",
        )
    e_min = stats.require_positive(efficiency_min, "efficiency_min")
    e_max = stats.require_positive(efficiency_max, "efficiency_max")
    if e_min >= e_max:
        raise AssayInputError(
            "efficiency_min: must be below efficiency_max", field="efficiency_min"
        )
    r2_min = stats.require_finite(r_squared_min, "r_squared_min")
    fit = stats.linear_regression(
        [math.log10(c) for c in levels], cqs, x_field="copies", y_field="cq"
    )
    reasons: list[str] = []
    efficiency = math.nan
    if fit.slope >= 0:
        reasons.append(f"slope {fit.slope:.4f} is not negative (Cq must fall as copies rise)")
    else:
        efficiency = qpcr_efficiency(fit.slope)
        if not e_min <= efficiency <= e_max:
            reasons.append(
                f"efficiency {efficiency * 100:.2f} % is outside {e_min * 100:g}-{e_max * 100:g} %"
            )
    if fit.r_squared < r2_min:
        reasons.append(f"R² {fit.r_squared:.4f} is below {r2_min:g}")
    distinct = len(set(levels))
    if distinct < min_levels:
        reasons.append(f"{distinct} standard levels; at least {min_levels} are required")
    return QpcrStandardCurve(
        copies=tuple(levels),
        cq=tuple(cqs),
        slope=fit.slope,
        intercept=fit.intercept,
        r_squared=fit.r_squared,
        efficiency=efficiency,
        efficiency_min=e_min,
        efficiency_max=e_max,
        r_squared_min=r2_min,
        valid=not reasons,
        reasons=tuple(reasons),
    )


def qpcr_vcn(
    target_copies: float,
    reference_copies: float,
    reference_copies_per_cell: int = REFERENCE_COPIES_PER_CELL,
) -> float:
    """VCN per diploid genome from absolute quantities: ``2 × target / reference``."""
    target = stats.require_non_negative(target_copies, "target_copies")
    reference = stats.require_positive(reference_copies, "reference_copies")
    per_cell = _reference_copies(reference_copies_per_cell)
    return per_cell * target / reference


def qpcr_vcn_delta_cq(
    cq_target: float,
    cq_reference: float,
    *,
    efficiency_target: float = 1.0,
    efficiency_reference: float = 1.0,
    reference_copies_per_cell: int = REFERENCE_COPIES_PER_CELL,
) -> float:
    """VCN by ΔCq: ``2 × (1+E_ref)^Cq_ref / (1+E_tgt)^Cq_tgt`` (Kunz et al. 2020)."""
    ct = stats.require_positive(cq_target, "cq_target")
    cr = stats.require_positive(cq_reference, "cq_reference")
    et = stats.require_positive(efficiency_target, "efficiency_target")
    er = stats.require_positive(efficiency_reference, "efficiency_reference")
    per_cell = _reference_copies(reference_copies_per_cell)
    # computed in log space so large Cq values do not overflow
    log_ratio = cr * math.log(1 + er) - ct * math.log(1 + et)
    return per_cell * math.exp(log_ratio)


# ----------------------------------------------------------------------------- ddPCR


def _reference_copies(value: int) -> int:
    count = stats.require_count(value, "reference_copies_per_cell")
    if count == 0:
        raise AssayInputError(
            "reference_copies_per_cell: must be >= 1", field="reference_copies_per_cell"
        )
    return count


def _droplets(positive: int, total: int, positive_field: str = "positive") -> tuple[int, int]:
    k = stats.require_count(positive, positive_field)
    n = stats.require_count(total, "total")
    if n == 0:
        raise AssayInputError("total: no accepted droplets", field="total")
    if k > n:
        raise AssayInputError(
            f"{positive_field}: {k} positive droplets exceed the {n} accepted", field=positive_field
        )
    if k == n:
        raise AssayInputError(
            f"{positive_field}: every droplet is positive ({k} of {n}); the well is saturated "
            "and cannot be quantified - dilute and repeat",
            field=positive_field,
        )
    return k, n


def ddpcr_lambda(positive: int, total: int) -> float:
    """Mean copies per droplet ``λ = -ln(1 - k/N)`` (Poisson correction)."""
    k, n = _droplets(positive, total)
    return -math.log1p(-k / n) if k else 0.0


def ddpcr_copies_per_ul(positive: int, total: int, droplet_nl: float = DROPLET_NL_DEFAULT) -> float:
    """Copies per µL of reaction: ``λ / V_d`` with ``V_d`` in µL (``droplet_nl / 1000``)."""
    volume_nl = stats.require_positive(droplet_nl, "droplet_nl")
    return ddpcr_lambda(positive, total) / (volume_nl / 1000.0)


def ddpcr_vcn(
    target_positive: int,
    reference_positive: int,
    total: int,
    reference_copies_per_cell: int = REFERENCE_COPIES_PER_CELL,
) -> float:
    """VCN per diploid genome from one duplex well: ``2 × λ_target / λ_reference``.

    The droplet volume cancels. Use :func:`analyse_ddpcr_well` for the acceptance checks.
    """
    k_t, n = _droplets(target_positive, total, "target_positive")
    k_r, _ = _droplets(reference_positive, total, "reference_positive")
    if k_r == 0:
        raise AssayInputError(
            "reference_positive: no reference-gene droplets; VCN cannot be computed",
            field="reference_positive",
        )
    per_cell = _reference_copies(reference_copies_per_cell)
    return per_cell * ddpcr_lambda(k_t, n) / ddpcr_lambda(k_r, n)


def expected_empty_droplets(copies_per_droplet: float, total: int) -> float:
    """Expected droplets with no copy: ``N × e^(-λ)``."""
    lam = stats.require_non_negative(copies_per_droplet, "copies_per_droplet")
    n = stats.require_count(total, "total")
    return n * math.exp(-lam)


def ddpcr_confidence_interval(
    positive: int, total: int, droplet_nl: float = DROPLET_NL_DEFAULT, confidence: float = 0.95
) -> tuple[float, float]:
    """Confidence interval of copies/µL: a Wilson score interval on k/N pushed through
    ``-ln(1 - p) / V_d`` (the transform is monotone, so the bounds map to bounds)."""
    k, n = _droplets(positive, total)
    level = stats.require_finite(confidence, "confidence")
    if not 0 < level < 1:
        raise AssayInputError(
            f"confidence: must be in (0, 1), got {confidence}", field="confidence"
        )
    volume_ul = stats.require_positive(droplet_nl, "droplet_nl") / 1000.0
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = max(0.0, centre - half), min(centre + half, 1.0 - 1e-15)
    return -math.log1p(-low) / volume_ul, -math.log1p(-high) / volume_ul


@dataclass(frozen=True)
class DdpcrWellResult:
    """A duplex ddPCR well: transgene and reference gene, with acceptance."""

    target_positive: int
    reference_positive: int
    total: int
    droplet_nl: float
    reference_copies_per_cell: int
    min_droplets: int
    target_lambda: float
    reference_lambda: float
    target_copies_per_ul: float
    reference_copies_per_ul: float
    #: VCN per diploid genome; ``None`` when the target is below the LOD (k = 0) or no reference
    vcn: float | None
    below_lod: bool
    valid: bool
    reasons: tuple[str, ...]
    calculation_version: str = CALCULATION_VERSION


def analyse_ddpcr_well(
    target_positive: int,
    reference_positive: int,
    total: int,
    *,
    droplet_nl: float = DROPLET_NL_DEFAULT,
    reference_copies_per_cell: int = REFERENCE_COPIES_PER_CELL,
    min_droplets: int = MIN_DROPLETS_DEFAULT,
    saturation_fraction: float = SATURATION_FRACTION,
) -> DdpcrWellResult:
    """Copies/µL and VCN of a duplex well with the acceptance rules listed as reasons:
    fewer than ``min_droplets`` accepted droplets, k/N above ``saturation_fraction`` for either
    assay, no reference-gene droplets. A target with k = 0 is reported as below the LOD."""
    k_t, n = _droplets(target_positive, total, "target_positive")
    k_r, _ = _droplets(reference_positive, total, "reference_positive")
    per_cell = _reference_copies(reference_copies_per_cell)
    minimum = stats.require_count(min_droplets, "min_droplets")
    sat = stats.require_positive(saturation_fraction, "saturation_fraction")
    volume_nl = stats.require_positive(droplet_nl, "droplet_nl")
    reasons: list[str] = []
    if n < minimum:
        reasons.append(f"{n} accepted droplets; at least {minimum} are required")
    for name, k in (("target", k_t), ("reference", k_r)):
        if k / n > sat:
            reasons.append(f"{name}: {k / n:.4f} of droplets positive exceeds {sat:g} (saturation)")
    if k_r == 0:
        reasons.append("reference: no positive droplets; VCN cannot be computed")
    lam_t = ddpcr_lambda(k_t, n)
    lam_r = ddpcr_lambda(k_r, n)
    vcn = per_cell * lam_t / lam_r if k_r and k_t else None
    return DdpcrWellResult(
        target_positive=k_t,
        reference_positive=k_r,
        total=n,
        droplet_nl=volume_nl,
        reference_copies_per_cell=per_cell,
        min_droplets=minimum,
        target_lambda=lam_t,
        reference_lambda=lam_r,
        target_copies_per_ul=lam_t / (volume_nl / 1000.0),
        reference_copies_per_ul=lam_r / (volume_nl / 1000.0),
        vcn=vcn,
        below_lod=k_t == 0,
        valid=not reasons,
        reasons=tuple(reasons),
    )


def sample_concentration(
    copies_per_ul_reaction: float,
    reaction_volume_ul: float,
    sample_volume_ul: float,
    dilution: float = 1.0,
) -> float:
    """Copies per µL of sample: ``copies/µL × reaction volume / sample volume × dilution``."""
    c = stats.require_non_negative(copies_per_ul_reaction, "copies_per_ul_reaction")
    reaction = stats.require_positive(reaction_volume_ul, "reaction_volume_ul")
    sample = stats.require_positive(sample_volume_ul, "sample_volume_ul")
    d = stats.require_positive(dilution, "dilution")
    return c * reaction / sample * d


def diploid_genomes(dna_ng: float, ng_per_genome: float = NG_PER_DIPLOID_GENOME) -> float:
    """Diploid genomes in a DNA amount when no reference gene is run: ``ng / 0.0066``."""
    return stats.require_positive(dna_ng, "dna_ng") / stats.require_positive(
        ng_per_genome, "ng_per_genome"
    )


def copies_per_transduced_cell(vcn: float, car_positive_percent: float) -> float:
    """``VCN / fraction CAR+`` (approximate; store it alongside the per-genome VCN)."""
    v = stats.require_non_negative(vcn, "vcn")
    pct = stats.require_finite(car_positive_percent, "car_positive_percent")
    if not 0 < pct <= 100:
        raise AssayInputError(
            f"car_positive_percent: must be in (0, 100], got {car_positive_percent}",
            field="car_positive_percent",
        )
    return v / (pct / 100.0)
