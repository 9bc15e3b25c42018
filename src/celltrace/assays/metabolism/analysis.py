"""Seahorse XF assay analyses: Mito Stress Test, Real-Time ATP Rate, Glycolytic Rate.

Formulas and measurement points follow docs/design/domain-facts.md §9 (Agilent definitions);
each result records, per parameter, the formula with the measurement numbers it used and, per
well, the measurement actually picked by every min/max/last rule. Phases come from the export's
Protocol Summary (the measurement after which each injection happens), never from an assumed
3-per-phase layout. PER-based parameters use Wave's own ``PER`` column
(docs/design/domain-facts.md §9.5), never a PER rebuilt from the background-corrected ECAR.

Results are frozen dataclasses carrying their inputs: the file's SHA-256, the constants read
from the file with their cells, the defaults used (CCF, P/O) with their source, the excluded
wells with reasons, and :data:`CALCULATION_VERSION`. Warnings and formulas are English text that
also carries a code and parameters (:mod:`.messages`), so that an application can show them in
another language.
"""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from celltrace.assays.errors import AssayInputError, InstrumentFileError
from celltrace.assays.metabolism.defaults import CCF_DEFAULTS, PO_RATIO_DEFAULT
from celltrace.assays.metabolism.messages import AssayWarning, Formula
from celltrace.assays.metabolism.seahorse import (
    BACKGROUND_GROUP,
    Constant,
    Injection,
    Normalisation,
    WaveExport,
    normalise_well,
)

CALCULATION_VERSION = "celltrace.metabolism.seahorse/1.0"


class Assay(StrEnum):
    MITO_STRESS = "mito-stress"
    ATP_RATE = "atp-rate"
    GLYCOLYTIC_RATE = "glycolytic-rate"


ASSAY_TITLES = {
    Assay.MITO_STRESS: "Mito Stress Test",
    Assay.ATP_RATE: "Real-Time ATP Rate",
    Assay.GLYCOLYTIC_RATE: "Glycolytic Rate",
}

# Which compound an injection name refers to (case-insensitive search in the Protocol Summary
# step name). A combined name such as "2-DG / RotAnti" matches both 2-DG and Rot/AA.
ROLE_PATTERNS: dict[str, re.Pattern[str]] = {
    "oligomycin": re.compile(r"oligo", re.IGNORECASE),
    "uncoupler": re.compile(r"fccp|cccp|bam\s*-?\s*15", re.IGNORECASE),
    "rot_aa": re.compile(r"\brot|antimycin|\baa\b|\bama\b", re.IGNORECASE),
    "2dg": re.compile(r"2\s*-?\s*dg|deoxy\s*-?\s*glucose", re.IGNORECASE),
}
ROLE_LABELS = {
    "oligomycin": "oligomycin",
    "uncoupler": "FCCP",
    "rot_aa": "rotenone/antimycin A",
    "2dg": "2-DG",
    "acute": "acute injection",
}
ASSAY_ROLES: dict[Assay, tuple[str, ...]] = {
    Assay.MITO_STRESS: ("oligomycin", "uncoupler", "rot_aa"),
    Assay.ATP_RATE: ("oligomycin", "rot_aa"),
    Assay.GLYCOLYTIC_RATE: ("rot_aa", "2dg"),
}
# Groups whose Wave "Injection Strategy" matches are analysed; groups with a blank strategy are
# analysed for any assay; others are skipped (and listed in the result).
STRATEGY_PATTERNS: dict[Assay, re.Pattern[str]] = {
    Assay.MITO_STRESS: re.compile(r"mito\s*stress", re.IGNORECASE),
    Assay.ATP_RATE: re.compile(r"\batp\b|mito\s*stress", re.IGNORECASE),
    Assay.GLYCOLYTIC_RATE: re.compile(r"glycolytic\s*rate", re.IGNORECASE),
}

UNIT_OCR = "pmol/min"
UNIT_ECAR = "mpH/min"
UNIT_PER = "pmol H+/min"
UNIT_ATP = "pmol ATP/min"
UNIT_PERCENT = "%"
UNIT_RATIO = "ratio"


@dataclass(frozen=True)
class Exclusion:
    """A well left out of group statistics, with the reason (required)."""

    well: str
    reason: str
    group: str = ""


@dataclass(frozen=True)
class FixedPoints:
    """Fixed-time-point option for the Mito Stress Test (docs/design/domain-facts.md §9.1)."""

    basal: int = 3
    uncoupled: int = 6
    maximal: int = 8
    non_mitochondrial: int = 12


@dataclass(frozen=True)
class AnalysisSettings:
    """Choices that are not in the export. ``None`` means: use the documented default."""

    ccf: float | None = None
    po_ratio: float | None = None
    groups: tuple[str, ...] | None = None  # analyse exactly these groups
    mst_rule: Literal["agilent", "fixed"] = "agilent"
    fixed_points: FixedPoints = field(default_factory=FixedPoints)


@dataclass(frozen=True)
class ParameterDef:
    key: str
    label: str
    unit: str
    formula: str  # a messages.Formula (code = key): English, with the measurement numbers used


@dataclass(frozen=True)
class WellResult:
    well: str
    group: str
    excluded: bool
    exclusion_reason: str
    values: tuple[tuple[str, float | None], ...]
    points: tuple[tuple[str, tuple[int, ...]], ...]  # measurements used, per parameter

    def value(self, key: str) -> float | None:
        for k, v in self.values:
            if k == key:
                return v
        raise KeyError(key)


@dataclass(frozen=True)
class GroupStat:
    key: str
    n: int
    mean: float | None
    sd: float | None  # sample SD (n − 1); None when n < 2
    sem: float | None


@dataclass(frozen=True)
class GroupResult:
    group: str
    n: int  # wells in the group after exclusions
    wells: tuple[str, ...]
    stats: tuple[GroupStat, ...]

    def stat(self, key: str) -> GroupStat:
        for s in self.stats:
            if s.key == key:
                return s
        raise KeyError(key)


@dataclass(frozen=True)
class RateTrace:
    """Kinetic trace of one rate for one group: mean and SD per measurement."""

    group: str
    rate: str  # "OCR", "ECAR" or "PER"
    unit: str
    n: int
    mean: tuple[float, ...]
    sd: tuple[float | None, ...]


@dataclass(frozen=True)
class RoleInjection:
    role: str
    port: str
    name: str
    after_measurement: int
    phase: tuple[int, ...]  # measurements after this injection, before the next


@dataclass(frozen=True)
class AnalysisResult:
    assay: str
    calculation_version: str
    file_name: str
    file_sha256: str
    wave_version: str
    assay_name: str
    instrument_family: str
    instrument_serial: str
    constants: tuple[Constant, ...]
    normalisation: tuple[tuple[str, str], ...]  # empty when not normalised
    excluded: tuple[Exclusion, ...]
    skipped_groups: tuple[tuple[str, str], ...]  # (group, reason)
    injections: tuple[Injection, ...]
    roles: tuple[RoleInjection, ...]
    measurements: tuple[int, ...]
    times_min: tuple[float, ...]
    basal_measurement: int
    parameters: tuple[ParameterDef, ...]
    wells: tuple[WellResult, ...]
    groups: tuple[GroupResult, ...]
    traces: tuple[RateTrace, ...]
    warnings: tuple[str, ...]  # messages.AssayWarning: English text with a code and params

    def parameter(self, key: str) -> ParameterDef:
        for p in self.parameters:
            if p.key == key:
                return p
        raise KeyError(key)

    def well(self, well: str) -> WellResult:
        for w in self.wells:
            if w.well == well:
                return w
        raise KeyError(well)

    def group(self, name: str) -> GroupResult:
        for g in self.groups:
            if g.group == name:
                return g
        raise KeyError(name)

    def trace(self, group: str, rate: str) -> RateTrace:
        for t in self.traces:
            if t.group == group and t.rate == rate:
                return t
        raise KeyError((group, rate))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------
# Inputs


def _positive_finite(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AssayInputError(f"{name} must be a number, got {value!r}", field=name)
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise AssayInputError(f"{name} must be a finite number > 0, got {value!r}", field=name)
    return v


def _exclusions(
    export: WaveExport, exclusions: Iterable[Exclusion] | Mapping[str, str]
) -> dict[str, Exclusion]:
    items: list[tuple[str, str]]
    if isinstance(exclusions, Mapping):
        items = list(exclusions.items())
    else:
        items = [(e.well, e.reason) for e in exclusions]
    out: dict[str, Exclusion] = {}
    for raw_well, reason in items:
        try:
            well = normalise_well(raw_well)
        except ValueError as exc:
            raise AssayInputError(str(exc), field="exclude") from None
        if well not in export.well_groups:
            raise AssayInputError(
                f"cannot exclude well {well}: it has no rates in {export.filename}",
                field="exclude",
            )
        if export.well_groups[well] == BACKGROUND_GROUP:
            raise AssayInputError(
                f"cannot exclude well {well}: it is a background well (Wave already used it for "
                "background correction; re-export from Wave to change background wells)",
                field="exclude",
            )
        if not isinstance(reason, str) or not reason.strip():
            raise AssayInputError(f"excluding well {well} needs a reason", field="exclude")
        if well in out:
            raise AssayInputError(f"well {well} is excluded twice", field="exclude")
        out[well] = Exclusion(well, reason.strip(), export.well_groups[well])
    return out


def _select_groups(
    export: WaveExport, assay: Assay, settings: AnalysisSettings
) -> tuple[list[str], list[tuple[str, str]]]:
    candidates = [g for g in export.groups if not g.is_background and g.wells]
    if settings.groups is not None:
        names = {g.name for g in candidates}
        for wanted in settings.groups:
            if wanted not in names:
                raise AssayInputError(
                    f"group {wanted!r} is not in {export.filename} "
                    f"(groups: {', '.join(sorted(names))})",
                    field="groups",
                )
        chosen = [g.name for g in candidates if g.name in settings.groups]
        skipped = [(g.name, "not selected") for g in candidates if g.name not in settings.groups]
        return chosen, skipped
    pattern = STRATEGY_PATTERNS[assay]
    chosen, skipped = [], []
    for g in candidates:
        if not g.injection_strategy or pattern.search(g.injection_strategy):
            chosen.append(g.name)
        else:
            skipped.append((g.name, f"injection strategy {g.injection_strategy!r}"))
    if not chosen:
        strategies = sorted({g.injection_strategy for g in candidates})
        raise InstrumentFileError(
            f"{export.filename} has no group run as a {ASSAY_TITLES[assay]} assay: the Groups "
            f"table of sheet 'Assay Configuration' lists injection strategies "
            f"{', '.join(repr(s) for s in strategies)}"
        )
    return chosen, skipped


def _phase(export: WaveExport, inj: Injection) -> tuple[int, ...]:
    later = [
        i.after_measurement
        for i in export.injections
        if i.after_measurement > inj.after_measurement
    ]
    end = min(later) if later else len(export.measurements)
    return tuple(range(inj.after_measurement + 1, end + 1))


def _resolve_roles(export: WaveExport, assay: Assay) -> dict[str, RoleInjection]:
    out: dict[str, RoleInjection] = {}
    names = ", ".join(f"{i.port}: {i.name!r}" for i in export.injections) or "none"
    for role in ASSAY_ROLES[assay]:
        inj = next((i for i in export.injections if ROLE_PATTERNS[role].search(i.name)), None)
        if inj is None:
            raise InstrumentFileError(
                f"{ASSAY_TITLES[assay]} needs a {ROLE_LABELS[role]} injection, but the Protocol "
                f"Summary of {export.filename} has injections {names}"
            )
        phase = _phase(export, inj)
        if not phase:
            raise InstrumentFileError(
                f"the {ROLE_LABELS[role]} injection {inj.name!r} (port {inj.port}) of "
                f"{export.filename} has no measurement after it"
            )
        if inj.after_measurement < 1:
            raise InstrumentFileError(
                f"the {ROLE_LABELS[role]} injection {inj.name!r} of {export.filename} comes "
                "before the first measurement"
            )
        out[role] = RoleInjection(role, inj.port, inj.name, inj.after_measurement, phase)
    order = [out[r].after_measurement for r in ASSAY_ROLES[assay]]
    if order != sorted(order) or len(set(order)) != len(order):
        seq = " → ".join(ROLE_LABELS[r] for r in ASSAY_ROLES[assay])
        found = ", ".join(
            f"{ROLE_LABELS[r]} after measurement {out[r].after_measurement}"
            for r in ASSAY_ROLES[assay]
        )
        raise InstrumentFileError(
            f"{ASSAY_TITLES[assay]} needs injections in the order {seq}; "
            f"{export.filename} has {found}"
        )
    if assay is Assay.MITO_STRESS:
        first = out["oligomycin"]
        acute = [i for i in export.injections if 1 <= i.after_measurement < first.after_measurement]
        if acute:
            a = acute[0]
            out["acute"] = RoleInjection(
                "acute", a.port, a.name, a.after_measurement, _phase(export, a)
            )
    return out


# --------------------------------------------------------------------------------------------
# Per-well formulas (lists are indexed by measurement number − 1)


def _argmin(rates: Sequence[float], phase: Sequence[int]) -> int:
    return min(phase, key=lambda m: (rates[m - 1], m))


def _argmax(rates: Sequence[float], phase: Sequence[int]) -> int:
    return max(phase, key=lambda m: (rates[m - 1], -m))


def _ratio(num: float, den: float, scale: float = 1.0) -> float | None:
    return num / den * scale if den != 0 else None


_WellOut = tuple[dict[str, float | None], dict[str, tuple[int, ...]]]


def _mito_well(
    ocr: Sequence[float], roles: Mapping[str, RoleInjection], settings: AnalysisSettings
) -> _WellOut:
    if settings.mst_rule == "fixed":
        fp = settings.fixed_points
        basal_m = last_oligo_m = fp.basal
        leak_m, max_m, nm_m = fp.uncoupled, fp.maximal, fp.non_mitochondrial
    else:
        oligo, fccp, rot = roles["oligomycin"], roles["uncoupler"], roles["rot_aa"]
        first = roles.get("acute", oligo)
        basal_m = first.after_measurement
        last_oligo_m = oligo.after_measurement
        nm_m = _argmin(ocr, rot.phase)
        max_m = _argmax(ocr, fccp.phase)
        leak_m = _argmin(ocr, oligo.phase)
    nm = ocr[nm_m - 1]
    basal = ocr[basal_m - 1] - nm
    maximal = ocr[max_m - 1] - nm
    leak = ocr[leak_m - 1] - nm
    atp_linked = ocr[last_oligo_m - 1] - ocr[leak_m - 1]
    values: dict[str, float | None] = {
        "non_mitochondrial_ocr": nm,
        "basal_respiration": basal,
        "maximal_respiration": maximal,
        "proton_leak": leak,
        "atp_linked_respiration": atp_linked,
        "spare_respiratory_capacity": maximal - basal,
        "spare_respiratory_capacity_percent": _ratio(maximal, basal, 100.0),
        "coupling_efficiency_percent": _ratio(atp_linked, basal, 100.0),
    }
    points: dict[str, tuple[int, ...]] = {
        "non_mitochondrial_ocr": (nm_m,),
        "basal_respiration": (basal_m, nm_m),
        "maximal_respiration": (max_m, nm_m),
        "proton_leak": (leak_m, nm_m),
        "atp_linked_respiration": (last_oligo_m, leak_m),
        "spare_respiratory_capacity": (max_m, basal_m, nm_m),
        "spare_respiratory_capacity_percent": (max_m, basal_m, nm_m),
        "coupling_efficiency_percent": (last_oligo_m, leak_m, basal_m, nm_m),
    }
    if "acute" in roles and settings.mst_rule == "agilent":
        acute_m = roles["acute"].after_measurement
        values["acute_response"] = ocr[last_oligo_m - 1] - ocr[acute_m - 1]
        points["acute_response"] = (last_oligo_m, acute_m)
    return values, points


def _atp_well(
    ocr: Sequence[float],
    per: Sequence[float],
    roles: Mapping[str, RoleInjection],
    ccf: float,
    po: float,
) -> _WellOut:
    oligo, rot = roles["oligomycin"], roles["rot_aa"]
    basal_m = oligo.after_measurement
    oligo_min_m = _argmin(ocr, oligo.phase)
    rot_min_m = _argmin(ocr, rot.phase)
    ocr_atp = ocr[basal_m - 1] - ocr[oligo_min_m - 1]
    mito_atp = ocr_atp * 2.0 * po
    mito_per = (ocr[basal_m - 1] - ocr[rot_min_m - 1]) * ccf
    glyco_atp = per[basal_m - 1] - mito_per
    total = mito_atp + glyco_atp
    values: dict[str, float | None] = {
        "mito_atp_production_rate": mito_atp,
        "glyco_atp_production_rate": glyco_atp,
        "total_atp_production_rate": total,
        "atp_rate_index": _ratio(mito_atp, glyco_atp),
        "glyco_atp_percent": _ratio(glyco_atp, total, 100.0),
    }
    both = (basal_m, oligo_min_m, rot_min_m)
    points = {
        "mito_atp_production_rate": (basal_m, oligo_min_m),
        "glyco_atp_production_rate": (basal_m, rot_min_m),
        "total_atp_production_rate": both,
        "atp_rate_index": both,
        "glyco_atp_percent": both,
    }
    return values, points


def glyco_per_trace(
    ocr: Sequence[float], per: Sequence[float], rot_phase: Sequence[int], ccf: float
) -> list[float]:
    """glycoPER per measurement: PER − (OCR − min OCR after Rot/AA) × CCF
    (docs/design/domain-facts.md §9.2)."""
    nm = min(ocr[m - 1] for m in rot_phase)
    return [p - (o - nm) * ccf for o, p in zip(ocr, per, strict=True)]


def _glyco_well(
    ocr: Sequence[float],
    per: Sequence[float],
    roles: Mapping[str, RoleInjection],
    ccf: float,
) -> _WellOut:
    rot, dg = roles["rot_aa"], roles["2dg"]
    basal_m = rot.after_measurement
    nm_m = _argmin(ocr, rot.phase)
    gper = glyco_per_trace(ocr, per, rot.phase, ccf)
    comp_m = _argmax(gper, rot.phase)
    post_m = _argmin(per, dg.phase)
    basal_glyco = gper[basal_m - 1]
    basal_per = per[basal_m - 1]
    mito_ocr = ocr[basal_m - 1] - ocr[nm_m - 1]
    values: dict[str, float | None] = {
        "basal_glycolysis": basal_glyco,
        "basal_proton_efflux_rate": basal_per,
        "percent_per_from_glycolysis": _ratio(basal_glyco, basal_per, 100.0),
        "mito_ocr_glyco_per_ratio": _ratio(mito_ocr, basal_glyco),
        "compensatory_glycolysis": gper[comp_m - 1],
        "post_2dg_acidification": per[post_m - 1],
    }
    points = {
        "basal_glycolysis": (basal_m, nm_m),
        "basal_proton_efflux_rate": (basal_m,),
        "percent_per_from_glycolysis": (basal_m, nm_m),
        "mito_ocr_glyco_per_ratio": (basal_m, nm_m),
        "compensatory_glycolysis": (comp_m, nm_m),
        "post_2dg_acidification": (post_m,),
    }
    return values, points


def _span(phase: Sequence[int]) -> str:
    return f"m{phase[0]}" if len(phase) == 1 else f"m{phase[0]}–m{phase[-1]}"


def _parameter_defs(
    assay: Assay,
    roles: Mapping[str, RoleInjection],
    settings: AnalysisSettings,
    units: Mapping[str, str],
    ccf: float,
    po: float,
) -> list[ParameterDef]:
    """The parameters of ``assay``; each formula is a :class:`Formula` coded by the key."""
    o, e, p = units["OCR"], units["PER"], units["ATP"]
    if assay is Assay.MITO_STRESS:
        if settings.mst_rule == "fixed":
            fp = settings.fixed_points
            b, lo, mx, nm = (
                f"OCR m{fp.basal}",
                f"OCR m{fp.uncoupled}",
                f"OCR m{fp.maximal}",
                f"OCR m{fp.non_mitochondrial}",
            )
            lb = b
        else:
            oligo, fccp, rot = roles["oligomycin"], roles["uncoupler"], roles["rot_aa"]
            first = roles.get("acute", oligo)
            nm = f"min(OCR {_span(rot.phase)})"
            b = f"OCR m{first.after_measurement}"
            lb = f"OCR m{oligo.after_measurement}"
            mx = f"max(OCR {_span(fccp.phase)})"
            lo = f"min(OCR {_span(oligo.phase)})"
        defs = [
            ParameterDef(
                "non_mitochondrial_ocr",
                "Non-mitochondrial OCR",
                o,
                Formula("non_mitochondrial_ocr", nm=nm),
            ),
            ParameterDef(
                "basal_respiration",
                "Basal respiration",
                o,
                Formula("basal_respiration", basal=b, nm=nm),
            ),
            ParameterDef(
                "maximal_respiration",
                "Maximal respiration",
                o,
                Formula("maximal_respiration", maximal=mx, nm=nm),
            ),
            ParameterDef("proton_leak", "Proton leak", o, Formula("proton_leak", leak=lo, nm=nm)),
            ParameterDef(
                "atp_linked_respiration",
                "ATP-linked respiration",
                o,
                Formula("atp_linked_respiration", before_oligo=lb, leak=lo),
            ),
            ParameterDef(
                "spare_respiratory_capacity",
                "Spare respiratory capacity",
                o,
                Formula("spare_respiratory_capacity"),
            ),
            ParameterDef(
                "spare_respiratory_capacity_percent",
                "Spare respiratory capacity, % of basal",
                UNIT_PERCENT,
                Formula("spare_respiratory_capacity_percent"),
            ),
            ParameterDef(
                "coupling_efficiency_percent",
                "Coupling efficiency",
                UNIT_PERCENT,
                Formula("coupling_efficiency_percent"),
            ),
        ]
        if "acute" in roles and settings.mst_rule == "agilent":
            defs.append(
                ParameterDef(
                    "acute_response",
                    "Acute response",
                    o,
                    Formula(
                        "acute_response",
                        before_oligo=f"OCR m{roles['oligomycin'].after_measurement}",
                        before_acute=f"OCR m{roles['acute'].after_measurement}",
                    ),
                )
            )
        return defs
    if assay is Assay.ATP_RATE:
        oligo, rot = roles["oligomycin"], roles["rot_aa"]
        bm = f"m{oligo.after_measurement}"
        return [
            ParameterDef(
                "mito_atp_production_rate",
                "mitoATP production rate",
                p,
                Formula(
                    "mito_atp_production_rate",
                    basal_m=bm,
                    oligo_phase=_span(oligo.phase),
                    po=f"{po:g}",
                ),
            ),
            ParameterDef(
                "glyco_atp_production_rate",
                "glycoATP production rate",
                p,
                Formula(
                    "glyco_atp_production_rate",
                    basal_m=bm,
                    rot_aa_phase=_span(rot.phase),
                    ccf=f"{ccf:g}",
                ),
            ),
            ParameterDef(
                "total_atp_production_rate",
                "Total ATP production rate",
                p,
                Formula("total_atp_production_rate"),
            ),
            ParameterDef("atp_rate_index", "ATP rate index", UNIT_RATIO, Formula("atp_rate_index")),
            ParameterDef(
                "glyco_atp_percent", "glycoATP share", UNIT_PERCENT, Formula("glyco_atp_percent")
            ),
        ]
    rot, dg = roles["rot_aa"], roles["2dg"]
    bm = f"m{rot.after_measurement}"
    rot_span = _span(rot.phase)
    return [
        ParameterDef(
            "basal_glycolysis",
            "Basal glycolysis (glycoPER)",
            e,
            Formula("basal_glycolysis", rot_aa_phase=rot_span, ccf=f"{ccf:g}", basal_m=bm),
        ),
        ParameterDef(
            "basal_proton_efflux_rate",
            "Basal proton efflux rate",
            e,
            Formula("basal_proton_efflux_rate", basal_m=bm),
        ),
        ParameterDef(
            "percent_per_from_glycolysis",
            "PER from glycolysis (basal)",
            UNIT_PERCENT,
            Formula("percent_per_from_glycolysis"),
        ),
        ParameterDef(
            "mito_ocr_glyco_per_ratio",
            "mitoOCR / glycoPER (basal)",
            UNIT_RATIO,
            Formula("mito_ocr_glyco_per_ratio", basal_m=bm, rot_aa_phase=rot_span),
        ),
        ParameterDef(
            "compensatory_glycolysis",
            "Compensatory glycolysis",
            e,
            Formula("compensatory_glycolysis", rot_aa_phase=rot_span, ccf=f"{ccf:g}"),
        ),
        ParameterDef(
            "post_2dg_acidification",
            "Post-2-DG acidification",
            e,
            Formula("post_2dg_acidification", dg_phase=_span(dg.phase)),
        ),
    ]


# --------------------------------------------------------------------------------------------
# Public entry points


def _stats(key: str, vals: Sequence[float]) -> GroupStat:
    n = len(vals)
    if n == 0:
        return GroupStat(key, 0, None, None, None)
    mean = statistics.fmean(vals)
    if n < 2:
        return GroupStat(key, n, mean, None, None)
    sd = statistics.stdev(vals)
    return GroupStat(key, n, mean, sd, sd / math.sqrt(n))


def analyse(
    export: WaveExport,
    assay: Assay | str,
    *,
    exclusions: Iterable[Exclusion] | Mapping[str, str] = (),
    normalisation: Normalisation | None = None,
    settings: AnalysisSettings | None = None,
) -> AnalysisResult:
    """Analyse ``export`` as ``assay``; see the module docstring and docs/metabolism.md."""
    try:
        assay = Assay(assay)
    except ValueError:
        raise AssayInputError(
            f"unknown assay {assay!r}: use {', '.join(a.value for a in Assay)}", field="assay"
        ) from None
    settings = settings or AnalysisSettings()
    excluded = _exclusions(export, exclusions)
    groups, skipped = _select_groups(export, assay, settings)
    fixed = assay is Assay.MITO_STRESS and settings.mst_rule == "fixed"
    roles = {} if fixed else _resolve_roles(export, assay)
    warnings = list(export.warnings)
    constants = list(export.constants)

    if fixed:
        n_meas = len(export.measurements)
        for name, m in dataclasses.asdict(settings.fixed_points).items():
            if not 1 <= m <= n_meas:
                raise AssayInputError(
                    f"fixed point {name} = measurement {m} is outside 1..{n_meas}",
                    field="fixed_points",
                )

    ccf = po = math.nan
    if assay in (Assay.ATP_RATE, Assay.GLYCOLYTIC_RATE):
        if export.per is None:
            raise InstrumentFileError(
                f"{ASSAY_TITLES[assay]} uses Wave's PER, but sheet 'Rate' of {export.filename} "
                "has no PER column"
            )
        if settings.ccf is not None:
            ccf = _positive_finite(settings.ccf, "ccf")
            constants.append(Constant("CO2 contribution factor (CCF)", ccf, "settings"))
        else:
            default = CCF_DEFAULTS.get(export.instrument_family)
            if default is None:
                raise AssayInputError(
                    f"no default CO2 contribution factor for a {export.plate_format} plate; "
                    "pass the CCF from your configuration",
                    field="ccf",
                )
            ccf = default.value
            constants.append(
                Constant("CO2 contribution factor (CCF)", ccf, f"default: {default.source}")
            )
            if not default.verified:
                warnings.append(
                    AssayWarning(
                        "ccf_default_unverified",
                        ccf=f"{ccf:g}",
                        instrument=export.instrument_family,
                    )
                )
    if assay is Assay.ATP_RATE:
        if settings.po_ratio is not None:
            po = _positive_finite(settings.po_ratio, "po_ratio")
            constants.append(Constant("P/O ratio", po, "settings"))
        else:
            po = PO_RATIO_DEFAULT.value
            constants.append(Constant("P/O ratio", po, f"default: {PO_RATIO_DEFAULT.source}"))

    suffix = f"/{normalisation.unit_label}" if normalisation else ""
    units = {
        "OCR": UNIT_OCR + suffix,
        "ECAR": UNIT_ECAR + suffix,
        "PER": UNIT_PER + suffix,
        "ATP": UNIT_ATP + suffix,
    }
    params = _parameter_defs(assay, roles, settings, units, ccf, po)
    keys = [p.key for p in params]

    well_results: list[WellResult] = []
    per_group_values: dict[str, dict[str, list[float]]] = {g: {k: [] for k in keys} for g in groups}
    trace_rows: dict[tuple[str, str], list[Sequence[float]]] = {}
    analysed = [w for w in export.wells if export.well_groups[w] in groups]
    for w in analysed:
        grp = export.well_groups[w]
        excl = excluded.get(w)
        divisor = 1.0
        if normalisation is not None:
            v = normalisation.values.get(w)
            if v is None or v <= 0:
                if excl is None:
                    what = "no value" if v is None else f"value {v:g}"
                    raise AssayInputError(
                        f"well {w} ({grp}) has {what} in normalisation file "
                        f"{normalisation.source or '(bytes)'}; exclude the well with a reason or "
                        "supply a value > 0",
                        field=w,
                    )
                well_results.append(
                    WellResult(w, grp, True, excl.reason, tuple((k, None) for k in keys), ())
                )
                continue
            divisor = v / normalisation.scale_factor
        ocr = [x / divisor for x in export.ocr[w]]
        ecar = [x / divisor for x in export.ecar[w]]
        per = [x / divisor for x in export.per[w]] if export.per is not None else None
        if assay is Assay.MITO_STRESS:
            values, points = _mito_well(ocr, roles, settings)
        elif assay is Assay.ATP_RATE:
            assert per is not None
            values, points = _atp_well(ocr, per, roles, ccf, po)
        else:
            assert per is not None
            values, points = _glyco_well(ocr, per, roles, ccf)
        well_results.append(
            WellResult(
                w,
                grp,
                excl is not None,
                excl.reason if excl else "",
                tuple((k, values[k]) for k in keys),
                tuple((k, points[k]) for k in keys),
            )
        )
        if excl is None:
            for k in keys:
                val = values[k]
                if val is not None:
                    per_group_values[grp][k].append(val)
            for rate, series in (("OCR", ocr), ("ECAR", ecar), ("PER", per)):
                if series is not None:
                    trace_rows.setdefault((grp, rate), []).append(series)

    group_results: list[GroupResult] = []
    traces: list[RateTrace] = []
    for g in groups:
        members = tuple(w for w in analysed if export.well_groups[w] == g and w not in excluded)
        group_results.append(
            GroupResult(
                g,
                len(members),
                members,
                tuple(_stats(k, per_group_values[g][k]) for k in keys),
            )
        )
        for rate in ("OCR", "ECAR", "PER"):
            rows = trace_rows.get((g, rate))
            if not rows:
                continue
            cols = list(zip(*rows, strict=True))
            traces.append(
                RateTrace(
                    g,
                    rate,
                    units[rate],
                    len(rows),
                    tuple(statistics.fmean(c) for c in cols),
                    tuple(statistics.stdev(c) if len(c) > 1 else None for c in cols),
                )
            )
        if not members:
            warnings.append(AssayWarning("group_without_wells", group=repr(g)))

    norm_info: tuple[tuple[str, str], ...] = ()
    if normalisation is not None:
        norm_info = (
            ("source", normalisation.source),
            ("sha256", normalisation.sha256),
            ("unit", normalisation.unit),
            ("scale_factor", f"{normalisation.scale_factor:g}"),
            ("formula", Formula("normalised_rate")),
        )
    first_inj = [i.after_measurement for i in export.injections if i.after_measurement >= 1]
    basal_m = min(first_inj) if first_inj else len(export.measurements)
    return AnalysisResult(
        assay=assay.value,
        calculation_version=CALCULATION_VERSION,
        file_name=export.filename,
        file_sha256=export.sha256,
        wave_version=export.wave_version,
        assay_name=export.assay_name,
        instrument_family=export.instrument_family,
        instrument_serial=export.instrument_serial,
        constants=tuple(constants),
        normalisation=norm_info,
        excluded=tuple(excluded[w] for w in export.wells if w in excluded),
        skipped_groups=tuple(skipped),
        injections=export.injections,
        roles=tuple(roles.values()),
        measurements=export.measurements,
        times_min=export.times_min,
        basal_measurement=basal_m,
        parameters=tuple(params),
        wells=tuple(well_results),
        groups=tuple(group_results),
        traces=tuple(traces),
        warnings=tuple(warnings),
    )


def analyse_mito_stress(
    export: WaveExport,
    *,
    exclusions: Iterable[Exclusion] | Mapping[str, str] = (),
    normalisation: Normalisation | None = None,
    settings: AnalysisSettings | None = None,
) -> AnalysisResult:
    """Mito Stress Test parameters (see :func:`analyse`)."""
    return analyse(
        export,
        Assay.MITO_STRESS,
        exclusions=exclusions,
        normalisation=normalisation,
        settings=settings,
    )


def analyse_atp_rate(
    export: WaveExport,
    *,
    exclusions: Iterable[Exclusion] | Mapping[str, str] = (),
    normalisation: Normalisation | None = None,
    settings: AnalysisSettings | None = None,
) -> AnalysisResult:
    """Real-Time ATP Rate parameters (see :func:`analyse`)."""
    return analyse(
        export,
        Assay.ATP_RATE,
        exclusions=exclusions,
        normalisation=normalisation,
        settings=settings,
    )


def analyse_glycolytic_rate(
    export: WaveExport,
    *,
    exclusions: Iterable[Exclusion] | Mapping[str, str] = (),
    normalisation: Normalisation | None = None,
    settings: AnalysisSettings | None = None,
) -> AnalysisResult:
    """Glycolytic Rate parameters (see :func:`analyse`)."""
    return analyse(
        export,
        Assay.GLYCOLYTIC_RATE,
        exclusions=exclusions,
        normalisation=normalisation,
        settings=settings,
    )


def supported_assays(export: WaveExport) -> list[Assay]:
    """Assays whose groups and injections this export provides."""
    out = []
    for a in Assay:
        try:
            _select_groups(export, a, AnalysisSettings())
            _resolve_roles(export, a)
        except (InstrumentFileError, AssayInputError):
            continue
        out.append(a)
    return out


def group_rows(result: AnalysisResult) -> list[dict[str, Any]]:
    """The CLI JSON shape: one object per group with ``group``, ``n`` and one key per parameter
    (the group mean), plus ``sd``, ``sem`` and ``units`` objects keyed by parameter."""
    rows: list[dict[str, Any]] = []
    for g in result.groups:
        row: dict[str, Any] = {"group": g.group, "n": g.n}
        for s in g.stats:
            row[s.key] = s.mean
        row["sd"] = {s.key: s.sd for s in g.stats}
        row["sem"] = {s.key: s.sem for s in g.stats}
        row["units"] = {p.key: p.unit for p in result.parameters}
        rows.append(row)
    return rows
