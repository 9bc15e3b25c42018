"""Flow cytometry release calculations (docs/design/domain-facts.md §11), independent of how
counts were made.

Every percentage is computed from integer event counts: ``percent = 100 × numerator /
denominator``, evaluated as an exact :class:`fractions.Fraction` and converted to the nearest
float only once, so the same counts always give the same bits.  The counts themselves are kept in
the result so the QC layer can re-derive any value (e.g. as ``Decimal``) and show the reviewer
how it was obtained.

Formulas (all within one sample unless stated):

* viability %          = viable / singlets × 100
* %CD3+                = CD3+ / (CD45+ if mapped, else viable, else singlets) × 100
* %CAR+ of CD3+        = CAR+ / CD3+ × 100
* %CAR+ net of control = max(0, %CAR+ stained − %CAR+ control)  (flagged when floored)
* %CD4+CD8− , %CD8+CD4− = population / CD3+ × 100
* CD4/CD8              = %CD4+CD8− / %CD8+CD4− = count(CD4+CD8−) / count(CD8+CD4−)
* CV of a proportion   ≈ √((1 − p) / (n·p)), n = denominator events
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

from celltrace.assays.errors import AssayInputError

#: Bump whenever a formula, a denominator rule or a rounding/flooring rule changes.
CALCULATION_VERSION = "flow-release/1.0.0"


class ReleasePopulation(StrEnum):
    """The populations the release calculations use, whatever the software called them."""

    SINGLETS = "singlets"  # total nucleated events after debris exclusion (and singlets gate)
    VIABLE = "viable"  # viability-dye negative
    CD45 = "cd45"  # CD45+ (optional level between viable and CD3+)
    CD3 = "cd3"  # CD3+
    CAR = "car"  # CAR+ (within CD3+)
    CD4 = "cd4"  # CD4+CD8− (within CD3+)
    CD8 = "cd8"  # CD8+CD4− (within CD3+)


REQUIRED_POPULATIONS: frozenset[ReleasePopulation] = frozenset(
    {ReleasePopulation.SINGLETS, ReleasePopulation.CD3}
)

# For each population, the candidates for its denominator, first mapped one wins.
_DENOMINATOR_CHAIN: dict[ReleasePopulation, tuple[ReleasePopulation, ...]] = {
    ReleasePopulation.VIABLE: (ReleasePopulation.SINGLETS,),
    ReleasePopulation.CD45: (ReleasePopulation.VIABLE, ReleasePopulation.SINGLETS),
    ReleasePopulation.CD3: (
        ReleasePopulation.CD45,
        ReleasePopulation.VIABLE,
        ReleasePopulation.SINGLETS,
    ),
    ReleasePopulation.CAR: (ReleasePopulation.CD3,),
    ReleasePopulation.CD4: (ReleasePopulation.CD3,),
    ReleasePopulation.CD8: (ReleasePopulation.CD3,),
}


def parse_population(name: str | ReleasePopulation) -> ReleasePopulation:
    """``"cd3"`` → :attr:`ReleasePopulation.CD3`; a clear error for an unknown name."""
    if isinstance(name, ReleasePopulation):
        return name
    try:
        return ReleasePopulation(name.strip().lower())
    except ValueError:
        known = ", ".join(p.value for p in ReleasePopulation)
        raise AssayInputError(
            f"unknown release population {name!r}; known populations: {known}",
            field="populations",
        ) from None


def population_map(
    mapping: Mapping[ReleasePopulation, str] | Mapping[str, str],
) -> tuple[tuple[ReleasePopulation, str], ...]:
    """Normalise a release-population → software-name mapping to a sorted, hashable tuple."""
    out: dict[ReleasePopulation, str] = {}
    for key, value in mapping.items():
        pop = parse_population(key)
        if not isinstance(value, str) or not value.strip():
            raise AssayInputError(
                f"population {pop.value!r} is mapped to an empty name", field="populations"
            )
        out[pop] = value.strip()
    return tuple(sorted(out.items(), key=lambda kv: list(ReleasePopulation).index(kv[0])))


@dataclass(frozen=True)
class PopulationCount:
    """Event count of one release population and the software/template name it came from."""

    population: ReleasePopulation
    source: str
    count: int


@dataclass(frozen=True)
class SampleCounts:
    """The event counts of one sample's release populations."""

    sample_id: str
    counts: tuple[PopulationCount, ...]

    def get(self, population: ReleasePopulation) -> PopulationCount | None:
        for item in self.counts:
            if item.population is population:
                return item
        return None


@dataclass(frozen=True)
class Proportion:
    """``numerator / denominator`` events, with the percentage and its approximate CV."""

    numerator: int
    denominator: int
    numerator_population: str
    denominator_population: str
    percent: float
    cv: float | None  # √((1 − p)/(n·p)); None when p = 0 (undefined)

    @classmethod
    def of(
        cls,
        numerator: int,
        denominator: int,
        numerator_population: str,
        denominator_population: str,
    ) -> Proportion:
        if numerator < 0 or denominator < 0:
            raise AssayInputError(
                f"negative event count for {numerator_population}/{denominator_population}",
                field=numerator_population,
            )
        if denominator == 0:
            raise AssayInputError(
                f"{denominator_population} has 0 events, so {numerator_population} as a "
                f"percentage of it is undefined",
                field=denominator_population,
            )
        if numerator > denominator:
            raise AssayInputError(
                f"{numerator_population} ({numerator} events) exceeds its parent "
                f"{denominator_population} ({denominator} events): the gate is not nested in "
                f"its parent or the counts are mis-mapped",
                field=numerator_population,
            )
        p = Fraction(numerator, denominator)
        cv = None if numerator == 0 else math.sqrt(float((1 - p) / (denominator * p)))
        return cls(
            numerator=numerator,
            denominator=denominator,
            numerator_population=numerator_population,
            denominator_population=denominator_population,
            percent=float(p * 100),
            cv=cv,
        )

    @property
    def percent_exact(self) -> Fraction:
        """The exact percentage as a fraction (convert to ``Decimal`` for specification checks)."""
        return Fraction(100 * self.numerator, self.denominator)


@dataclass(frozen=True)
class SampleReleaseValues:
    """Release percentages of one sample."""

    sample_id: str
    viability: Proportion | None
    cd45: Proportion | None
    cd3: Proportion
    car: Proportion | None
    cd4: Proportion | None
    cd8: Proportion | None
    cd4_cd8_ratio: float | None
    flags: tuple[str, ...] = ()


def _proportion(counts: SampleCounts, pop: ReleasePopulation) -> Proportion | None:
    num = counts.get(pop)
    if num is None:
        return None
    for candidate in _DENOMINATOR_CHAIN[pop]:
        den = counts.get(candidate)
        if den is not None:
            return Proportion.of(num.count, den.count, pop.value, candidate.value)
    raise AssayInputError(  # pragma: no cover - SINGLETS is required, so the chain always ends
        f"no denominator population mapped for {pop.value}", field=pop.value
    )


def release_values(counts: SampleCounts) -> SampleReleaseValues:
    """Compute the release percentages of one sample from its population counts."""
    missing = [p.value for p in REQUIRED_POPULATIONS if counts.get(p) is None]
    if missing:
        raise AssayInputError(
            f"sample {counts.sample_id!r}: required release population(s) not mapped: "
            f"{', '.join(sorted(missing))}",
            field="populations",
        )
    flags: list[str] = []
    cd3 = _proportion(counts, ReleasePopulation.CD3)
    assert cd3 is not None  # required above
    if cd3.denominator_population == ReleasePopulation.SINGLETS.value:
        flags.append("cd3_denominator_not_viability_gated")
    cd4 = _proportion(counts, ReleasePopulation.CD4)
    cd8 = _proportion(counts, ReleasePopulation.CD8)
    ratio: float | None = None
    if cd4 is not None and cd8 is not None:
        if cd8.numerator == 0:
            flags.append("cd4_cd8_ratio_undefined_no_cd8_events")
        else:
            ratio = float(Fraction(cd4.numerator, cd8.numerator))
    return SampleReleaseValues(
        sample_id=counts.sample_id,
        viability=_proportion(counts, ReleasePopulation.VIABLE),
        cd45=_proportion(counts, ReleasePopulation.CD45),
        cd3=cd3,
        car=_proportion(counts, ReleasePopulation.CAR),
        cd4=cd4,
        cd8=cd8,
        cd4_cd8_ratio=ratio,
        flags=tuple(flags),
    )


@dataclass(frozen=True)
class CarNetOfControl:
    """%CAR+ of the stained sample net of the untransduced (or FMO) control."""

    stained: Proportion
    control: Proportion
    control_sample_id: str
    control_kind: str  # "untransduced" or "fmo"
    difference_percent: float  # stained − control, may be negative
    net_percent: float  # max(0, difference)
    floored: bool  # True when the difference was negative and reported as 0

    @property
    def net_percent_exact(self) -> Fraction:
        return max(Fraction(0), self.stained.percent_exact - self.control.percent_exact)


CONTROL_KINDS = ("untransduced", "fmo")


def car_net_of_control(
    stained: Proportion,
    control: Proportion,
    *,
    control_sample_id: str,
    control_kind: str = "untransduced",
) -> CarNetOfControl:
    """Subtract the control's %CAR+ from the stained sample's, floor at 0 and flag it."""
    if control_kind not in CONTROL_KINDS:
        raise AssayInputError(
            f"control_kind must be one of {', '.join(CONTROL_KINDS)}, not {control_kind!r}",
            field="control_kind",
        )
    diff = stained.percent_exact - control.percent_exact
    return CarNetOfControl(
        stained=stained,
        control=control,
        control_sample_id=control_sample_id,
        control_kind=control_kind,
        difference_percent=float(diff),
        net_percent=float(max(Fraction(0), diff)),
        floored=diff < 0,
    )


@dataclass(frozen=True)
class GateCount:
    """Event count of one gate of the template (stored for review: §11 "event count per gate")."""

    path: str  # "Cells/Singlets/Viable"
    count: int
    parent_count: int


@dataclass(frozen=True)
class FlowInputs:
    """What a sample's counts were computed from, for the result record and certificate annex."""

    sample_id: str
    source_kind: str  # "fcs+gatingml", "fcs+flowjo-wsp", "csv:flowjo", "csv:kaluza", "csv:facsdiva"
    file_name: str
    file_sha256: str
    template_name: str | None = None
    template_sha256: str | None = None
    compensation: str = "none"
    population_map: tuple[tuple[ReleasePopulation, str], ...] = ()
    fcs_version: str | None = None
    cytometer: str | None = None
    total_events: int | None = None


@dataclass(frozen=True)
class FlowSampleResult:
    """One sample analysed: inputs, per-gate counts, release counts and percentages."""

    inputs: FlowInputs
    counts: SampleCounts
    values: SampleReleaseValues
    gate_counts: tuple[GateCount, ...] = ()
    calculation_version: str = CALCULATION_VERSION


@dataclass(frozen=True)
class FlowReleaseResult:
    """Stained sample plus (optionally) its control: the values a flow release test reports."""

    stained: FlowSampleResult
    control: FlowSampleResult | None
    car_net: CarNetOfControl | None
    flags: tuple[str, ...] = field(default=())
    calculation_version: str = CALCULATION_VERSION

    @property
    def car_net_percent(self) -> float | None:
        return None if self.car_net is None else self.car_net.net_percent


def sample_result(
    inputs: FlowInputs, counts: SampleCounts, gate_counts: Iterable[GateCount] = ()
) -> FlowSampleResult:
    """Bundle inputs and counts with the release values computed from them."""
    return FlowSampleResult(
        inputs=inputs,
        counts=counts,
        values=release_values(counts),
        gate_counts=tuple(gate_counts),
    )


def flow_release(
    stained: FlowSampleResult,
    control: FlowSampleResult | None = None,
    *,
    control_kind: str = "untransduced",
) -> FlowReleaseResult:
    """Combine a stained sample with its control into the reportable release values.

    Without a control the CAR+ value is not net of anything and the result is flagged
    ``car_not_control_subtracted``: protein-L and other CAR reagents also stain untransduced
    cells, so a release CAR+ % needs the control (docs/design/domain-facts.md §11).
    """
    flags = list(stained.values.flags)
    car_net: CarNetOfControl | None = None
    if stained.values.car is not None:
        if control is None:
            flags.append("car_not_control_subtracted")
        else:
            if control.values.car is None:
                raise AssayInputError(
                    f"control sample {control.counts.sample_id!r} has no CAR+ population mapped",
                    field="car",
                )
            car_net = car_net_of_control(
                stained.values.car,
                control.values.car,
                control_sample_id=control.counts.sample_id,
                control_kind=control_kind,
            )
            if car_net.floored:
                flags.append("car_net_negative_floored_to_zero")
    return FlowReleaseResult(stained=stained, control=control, car_net=car_net, flags=tuple(flags))


def check_nesting(paths: Mapping[ReleasePopulation, tuple[str, ...]], where: str) -> None:
    """Each population's gate must lie inside the gate used as its denominator."""
    for child, parents in _DENOMINATOR_CHAIN.items():
        if child not in paths:
            continue
        parent = next((p for p in parents if p in paths), None)
        if parent is None:
            continue
        cpath, ppath = paths[child], paths[parent]
        if len(cpath) <= len(ppath) or cpath[: len(ppath)] != ppath:
            raise AssayInputError(
                f"{where}: gate {'/'.join(cpath)!r} ({child.value}) is not inside "
                f"{'/'.join(ppath)!r} ({parent.value}), so it cannot be expressed as a "
                f"percentage of it",
                field=child.value,
            )
