"""Mycoplasma: USP <63> / Ph. Eur. 2.6.7 / ChP 3301 (culture, indicator cells, NAT).

The controls decide validity; every failing control is listed as a reason.

NAT (Ph. Eur. 2.6.7 NAT; store the pharmacopoeia edition with the method)
    * positive control (near the LOD): target detected in every well;
    * negative control (NTC / negative extraction control): target not detected in any well;
    * internal (amplification) control in each sample well: it must amplify when the target does
      not (otherwise a negative may be inhibition); optionally its Cq may not exceed a reference
      Cq by more than a configured shift. A target-positive well may suppress the internal
      control, so it does not need one;
    * spiked sample (inhibition / matrix suitability control): target detected in every well.
    Outcome: Invalid when any control fails; otherwise Detected when the target is detected in
    any sample well (Cq at or below ``cq_cutoff`` when configured), else Not detected.
Culture and indicator cells
    Positive controls must show growth, negative controls none; "Not detected" needs a final
    reading of each required vessel type at or after its minimum day (configuration defaults:
    agar 14 days, broth 21 days - verify against the primary text), otherwise Pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from celltrace.assays import stats
from celltrace.assays.errors import AssayInputError

CALCULATION_VERSION: Final = "mycoplasma/1.0.0"

#: Minimum incubation day of the final reading per vessel type (configuration defaults; verify).
CULTURE_MIN_DAYS_DEFAULT: Final[Mapping[str, int]] = MappingProxyType({"agar": 14, "broth": 21})


class MycoplasmaOutcome(StrEnum):
    DETECTED = "Detected"
    NOT_DETECTED = "Not detected"
    PENDING = "Pending"
    INVALID = "Invalid"


# ----------------------------------------------------------------------------- NAT


@dataclass(frozen=True)
class NatWell:
    """One qPCR well: target and internal-control Cq, ``None`` when there was no amplification."""

    name: str
    target_cq: float | None
    internal_control_cq: float | None = None


@dataclass(frozen=True)
class NatResult:
    samples: tuple[NatWell, ...]
    positive_controls: tuple[NatWell, ...]
    negative_controls: tuple[NatWell, ...]
    spiked_samples: tuple[NatWell, ...]
    cq_cutoff: float | None
    internal_control_reference_cq: float | None
    max_internal_control_shift: float | None
    outcome: MycoplasmaOutcome
    detected_wells: tuple[str, ...]
    valid: bool
    reasons: tuple[str, ...]
    calculation_version: str = CALCULATION_VERSION


def _check_wells(wells: Sequence[NatWell], group: str) -> tuple[NatWell, ...]:
    for i, w in enumerate(wells):
        if not isinstance(w, NatWell):
            raise AssayInputError(f"row {i}, {group}: must be a NatWell", row=i, field=group)
        if not w.name.strip():
            raise AssayInputError(f"row {i}, {group}.name: must not be empty", row=i, field=group)
        if w.target_cq is not None:
            stats.require_positive(w.target_cq, f"{group}.target_cq", row=i)
        if w.internal_control_cq is not None:
            stats.require_positive(w.internal_control_cq, f"{group}.internal_control_cq", row=i)
    return tuple(wells)


def evaluate_nat(
    *,
    samples: Sequence[NatWell],
    positive_controls: Sequence[NatWell],
    negative_controls: Sequence[NatWell],
    spiked_samples: Sequence[NatWell] = (),
    cq_cutoff: float | None = None,
    require_internal_control: bool = True,
    internal_control_reference_cq: float | None = None,
    max_internal_control_shift: float | None = None,
) -> NatResult:
    """Decide a mycoplasma NAT run (see the module docstring for the rules)."""
    sample_wells = _check_wells(samples, "samples")
    pcs = _check_wells(positive_controls, "positive_controls")
    ncs = _check_wells(negative_controls, "negative_controls")
    spiked = _check_wells(spiked_samples, "spiked_samples")
    if not sample_wells:
        raise AssayInputError("samples: at least one sample well is required", field="samples")
    cutoff = None if cq_cutoff is None else stats.require_positive(cq_cutoff, "cq_cutoff")
    ref = (
        None
        if internal_control_reference_cq is None
        else stats.require_positive(internal_control_reference_cq, "internal_control_reference_cq")
    )
    shift = (
        None
        if max_internal_control_shift is None
        else stats.require_non_negative(max_internal_control_shift, "max_internal_control_shift")
    )
    if (ref is None) != (shift is None):
        raise AssayInputError(
            "max_internal_control_shift: give it together with internal_control_reference_cq",
            field="max_internal_control_shift",
        )

    def detected(w: NatWell) -> bool:
        return w.target_cq is not None and (cutoff is None or w.target_cq <= cutoff)

    reasons: list[str] = []
    if not pcs:
        reasons.append("no positive control")
    if not ncs:
        reasons.append("no negative control")
    reasons.extend(
        f"positive control {w.name}: target not detected" for w in pcs if not detected(w)
    )
    reasons.extend(
        f"negative control {w.name}: target detected (Cq {w.target_cq:g}); possible contamination"
        for w in ncs
        if detected(w)
    )
    reasons.extend(
        f"spiked sample {w.name}: spike not detected (inhibition)"
        for w in spiked
        if not detected(w)
    )
    for w in sample_wells:
        if detected(w):
            continue
        if w.internal_control_cq is None:
            if require_internal_control:
                reasons.append(
                    f"sample {w.name}: internal control not amplified; a negative cannot be "
                    "distinguished from inhibition"
                )
        elif ref is not None and shift is not None and w.internal_control_cq - ref > shift:
            reasons.append(
                f"sample {w.name}: internal control Cq {w.internal_control_cq:g} is more than "
                f"{shift:g} cycles above the reference {ref:g} (inhibition)"
            )
    hits = tuple(w.name for w in sample_wells if detected(w))
    if reasons:
        outcome = MycoplasmaOutcome.INVALID
    elif hits:
        outcome = MycoplasmaOutcome.DETECTED
    else:
        outcome = MycoplasmaOutcome.NOT_DETECTED
    return NatResult(
        samples=sample_wells,
        positive_controls=pcs,
        negative_controls=ncs,
        spiked_samples=spiked,
        cq_cutoff=cutoff,
        internal_control_reference_cq=ref,
        max_internal_control_shift=shift,
        outcome=outcome,
        detected_wells=hits,
        valid=not reasons,
        reasons=tuple(reasons),
    )


# ----------------------------------------------------------------------------- culture


@dataclass(frozen=True)
class CultureObservation:
    """A reading of one vessel (agar plate, broth, indicator-cell culture) on an incubation day."""

    vessel: str
    day: int
    growth: bool


@dataclass(frozen=True)
class CultureResult:
    test: tuple[CultureObservation, ...]
    positive_controls: tuple[CultureObservation, ...]
    negative_controls: tuple[CultureObservation, ...]
    required_days: Mapping[str, int]
    outcome: MycoplasmaOutcome
    valid: bool
    reasons: tuple[str, ...]
    calculation_version: str = CALCULATION_VERSION


def _check_observations(
    obs: Sequence[CultureObservation], group: str
) -> tuple[CultureObservation, ...]:
    for i, o in enumerate(obs):
        if not o.vessel.strip():
            raise AssayInputError(f"row {i}, {group}.vessel: must not be empty", row=i, field=group)
        stats.require_count(o.day, f"{group}.day", row=i)
        if not isinstance(o.growth, bool):
            raise AssayInputError(
                f"row {i}, {group}.growth: must be True or False", row=i, field=group
            )
    return tuple(obs)


def evaluate_culture(
    *,
    test: Sequence[CultureObservation],
    positive_controls: Sequence[CultureObservation],
    negative_controls: Sequence[CultureObservation],
    required_days: Mapping[str, int] = CULTURE_MIN_DAYS_DEFAULT,
) -> CultureResult:
    """Decide a culture (or indicator-cell) mycoplasma test; vessel names are case-insensitive."""
    t = _check_observations(test, "test")
    pcs = _check_observations(positive_controls, "positive_controls")
    ncs = _check_observations(negative_controls, "negative_controls")
    needed = {
        k.strip().lower(): stats.require_count(v, f"required_days[{k}]")
        for k, v in required_days.items()
    }
    reasons: list[str] = []
    control_vessels = sorted({o.vessel.strip().lower() for o in t} | set(needed))
    for vessel in control_vessels:
        pos = [o for o in pcs if o.vessel.strip().lower() == vessel]
        if not pos:
            reasons.append(f"{vessel}: no positive control")
        elif not any(o.growth for o in pos):
            reasons.append(f"{vessel}: positive control shows no growth")
        neg = [o for o in ncs if o.vessel.strip().lower() == vessel]
        if not neg:
            reasons.append(f"{vessel}: no negative control")
        elif any(o.growth for o in neg):
            reasons.append(f"{vessel}: negative control shows growth")
    growth = [o for o in t if o.growth]
    pending: list[str] = []
    for vessel, day in needed.items():
        last = max((o.day for o in t if o.vessel.strip().lower() == vessel), default=None)
        if last is None or last < day:
            pending.append(
                f"{vessel}: final reading on day {day} or later not yet recorded"
                + ("" if last is None else f" (last day {last})")
            )
    if reasons:
        outcome = MycoplasmaOutcome.INVALID
    elif growth:
        outcome = MycoplasmaOutcome.DETECTED
        reasons.extend(f"{o.vessel}: growth on day {o.day}" for o in growth)
    elif pending:
        outcome = MycoplasmaOutcome.PENDING
        reasons.extend(pending)
    else:
        outcome = MycoplasmaOutcome.NOT_DETECTED
    return CultureResult(
        test=t,
        positive_controls=pcs,
        negative_controls=ncs,
        required_days=MappingProxyType(dict(needed)),
        outcome=outcome,
        valid=outcome is not MycoplasmaOutcome.INVALID,
        reasons=tuple(reasons),
    )
