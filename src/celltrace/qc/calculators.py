"""Assay calculators of the QC laboratory: the seam between ``celltrace.assays`` and results.

A calculator takes the analyst's validated inputs and the method's reporting rules and returns
``(value, unit, calculation)``: the reported value as text (rounded with ``Decimal`` to the
method's reported decimals, never with float ``round``), its unit, and the ``calculation``
stored with the result (and bound by its signatures)::

    {"calculator": "<module.function>", "version": "<module CALCULATION_VERSION>",
     "inputs": {...}, "outputs": {...}}

Every value in ``calculation`` is JSON-safe: numbers are strings, lists are lists of strings.
Bad inputs raise :class:`celltrace.core.errors.Invalid` naming the field and the rule; nothing is
computed from them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Final

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from celltrace.assays import counts, endotoxin, flow, mycoplasma, stats, sterility, vcn
from celltrace.assays.errors import AssayInputError
from celltrace.assays.flow.fcs import require_flowkit
from celltrace.core.errors import Invalid
from celltrace.qc.instrument_files import Upload

#: (inputs, reported decimals or None, unit) -> (value, unit, calculation)
Calculator = Callable[[Mapping[str, Any], int | None, str], tuple[str, str, dict[str, Any]]]

#: Cell concentrations without reported decimals are reported as whole cells per mL.
DEFAULT_DECIMALS: Final = 0


def to_text(number: float | Decimal | int) -> str:
    """A JSON-safe, exact text form of ``number`` (the float's shortest repr)."""
    return str(number) if not isinstance(number, float) else repr(number)


def report(number: float | Decimal, decimals: int | None) -> str:
    """``number`` rounded half-up to ``decimals`` places with ``Decimal``, as text."""
    places = DEFAULT_DECIMALS if decimals is None else decimals
    exact = Decimal(to_text(number))
    return str(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _texts(values: Sequence[float | int | Decimal]) -> list[str]:
    return [to_text(v) for v in values]


def _invalid(exc: AssayInputError, fields: Mapping[str, str]) -> Invalid:
    field = fields.get(exc.field or "", exc.field)
    return Invalid(str(exc), field=field)


def _name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


# ----------------------------------------------------------------------------- count/viability


def _hemocytometer(inputs: Mapping[str, Any]) -> counts.HemocytometerResult:
    try:
        return counts.hemocytometer_count(
            list(inputs["viable_counts"]),
            list(inputs["nonviable_counts"]),
            dilution_factor=float(inputs["dilution_factor"]),
        )
    except AssayInputError as exc:
        raise _invalid(exc, {"viable": "viable_counts"}) from exc


def _hemocytometer_calculation(
    count: counts.HemocytometerResult, inputs: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "calculator": _name(counts.hemocytometer_count),
        "version": count.calculation_version,
        "inputs": {
            "viable_counts": [str(c) for c in count.viable_counts],
            "nonviable_counts": [str(c) for c in count.nonviable_counts],
            "squares": str(count.squares),
            "dilution_factor": str(inputs["dilution_factor"]),
        },
        "outputs": {
            "viable_per_ml": to_text(count.viable_per_ml),
            "nonviable_per_ml": to_text(count.nonviable_per_ml),
            "total_per_ml": to_text(count.total_per_ml),
            "viability_percent": to_text(count.viability_percent),
        },
    }


def viability_from_hemocytometer(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """Viability % from a manual count: viable / (viable + non-viable) × 100.

    The reported value is rounded from the exact decimal quotient of the integer counts, so a
    half-way value (97.25 %) is not pushed either way by binary float noise.
    """
    count = _hemocytometer(inputs)
    calculation = _hemocytometer_calculation(count, inputs)
    live = Decimal(sum(count.viable_counts))
    exact = live * 100 / (live + Decimal(sum(count.nonviable_counts)))
    value = report(exact, decimals)
    calculation["outputs"]["reported"] = value
    return value, unit or "%", calculation


def viable_cells_from_hemocytometer(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """Viable cells/mL from a manual count: mean viable per large square × dilution × 10^4
    (reported from the exact decimal computation of the same formula)."""
    count = _hemocytometer(inputs)
    calculation = _hemocytometer_calculation(count, inputs)
    exact = (
        Decimal(sum(count.viable_counts))
        / count.squares
        * Decimal(str(inputs["dilution_factor"]))
        * counts.CHAMBER_FACTOR_PER_ML
    )
    _dose(calculation, inputs, exact)
    value = report(exact, decimals)
    calculation["outputs"]["reported"] = value
    return value, unit or "cells/mL", calculation


# ----------------------------------------------------------------------------- shared helpers


def _floats(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values]


def _optional_floats(values: Sequence[Any]) -> list[float | None]:
    return [None if v is None else float(v) for v in values]


def _opt_texts(values: Sequence[Any]) -> list[str]:
    return ["—" if v is None else to_text(v) for v in values]


def _opt_float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _opt(value: Any) -> str:
    return "—" if value is None else to_text(value)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _refuse(message: str, reasons: Sequence[str], field: str | None = None) -> Invalid:
    """Every reason of an invalid run, in one message (nothing is entered)."""
    return Invalid(message % {"reasons": "; ".join(reasons)}, field=field)


def _decode(upload: Upload, field: str) -> str:
    try:
        return upload.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(
            _("%(name)s: the file is not UTF-8 text (byte %(pos)s); export it as CSV (UTF-8).")
            % {"name": upload.name, "pos": exc.start},
            field=field,
        ) from None


def _exact(fraction: Fraction) -> Decimal:
    return Decimal(fraction.numerator) / Decimal(fraction.denominator)


def _finish(calculation: dict[str, Any], value: str) -> dict[str, Any]:
    calculation["outputs"]["reported"] = value
    return calculation


# ----------------------------------------------------------------------------- endotoxin

_ENDOTOXIN_FIELDS: Final = {
    "onset_time": "sample_onset_times",
    "slope": "onset_times",
    "k_eu_per_kg": "k_eu_per_kg",
    "dose_per_hour": "dose_per_hour",
    "body_mass_kg": "body_mass_kg",
    "concentration": "product_concentration",
}


def endotoxin_mvd(inputs: Mapping[str, Any], sensitivity: Decimal) -> tuple[Any, Decimal]:
    """The endotoxin limit ``K / M`` and ``MVD = EL × c / λ`` (exact decimals)."""
    try:
        limit = endotoxin.calculate_endotoxin_limit(
            k_eu_per_kg=Decimal(str(inputs["k_eu_per_kg"])),
            dose_per_hour=Decimal(str(inputs["dose_per_hour"])),
            pharmacopoeia=endotoxin.Pharmacopoeia(inputs.get("pharmacopoeia") or "USP"),
            body_mass_kg=(
                None
                if inputs.get("body_mass_kg") in (None, "")
                else Decimal(str(inputs["body_mass_kg"]))
            ),
        )
        mvd = endotoxin.max_valid_dilution_decimal(
            limit.limit, Decimal(str(inputs.get("product_concentration") or 1)), sensitivity
        )
    except AssayInputError as exc:
        raise _invalid(exc, _ENDOTOXIN_FIELDS) from exc
    return limit, mvd


def endotoxin_kinetic(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """EU/mL of the product from a kinetic (onset-time) LAL run with its controls.

    :func:`celltrace.assays.endotoxin.evaluate_kinetic_sample` decides the run: a valid standard
    curve (|r| >= 0.980), PPC recovery 50-200 %, negative control below λ, replicate CV (when
    the laboratory sets a maximum), the sample within the curve, and the dilution within the MVD
    (computed here from K, the dose per hour, the pharmacopoeia's body mass and λ, the lowest
    standard). An invalid run is refused with every reason. Below λ the result is reported as
    ``< λ × dilution``.
    """
    dilution = Decimal(str(inputs["dilution"]))
    if not dilution.is_finite() or dilution < 1:
        raise Invalid(
            _("Dilution: must be 1 or more, got %(d)s.") % {"d": inputs["dilution"]},
            field="dilution",
        )
    cv_max = inputs.get("cv_max_percent")
    curve: endotoxin.StandardCurve | None = None
    try:
        curve = endotoxin.fit_standard_curve(
            _floats(inputs["concentrations"]), _floats(inputs["onset_times"])
        )
        lam = Decimal(to_text(curve.lowest_concentration))
        limit, mvd = endotoxin_mvd(inputs, lam)
        run = endotoxin.evaluate_kinetic_sample(
            curve,
            sample_onset_times=_optional_floats(inputs["sample_onset_times"]),
            ppc_onset_times=_optional_floats(inputs["ppc_onset_times"]),
            spike_eu_per_ml=float(inputs["spike_eu_per_ml"]),
            dilution=float(dilution),
            mvd=float(mvd),
            negative_control_onset_times=_optional_floats(
                inputs.get("negative_control_onset_times") or []
            ),
            cv_max_percent=_opt_float(cv_max),
        )
    except AssayInputError as exc:
        if curve is not None and not curve.valid:  # nothing can be read off a failed curve
            raise _refuse(
                _("The run is invalid: %(reasons)s."), [*curve.reasons, str(exc)], "onset_times"
            ) from exc
        raise _invalid(exc, _ENDOTOXIN_FIELDS) from exc
    if not run.valid:
        raise _refuse(_("The run is invalid: %(reasons)s."), run.reasons)
    if run.comparator == "<":
        in_product = lam * dilution
        value = f"< {report(in_product, decimals)}"
    else:
        assert run.sample_mean is not None  # "=" means a measured mean
        in_product = Decimal(to_text(run.sample_mean)) * dilution
        value = report(in_product, decimals)
    calculation: dict[str, Any] = {
        "calculator": _name(endotoxin.evaluate_kinetic_sample),
        "version": run.calculation_version,
        "inputs": {
            "concentrations": _texts(curve.concentrations),
            "onset_times": _texts(curve.onset_times),
            "sample_onset_times": _opt_texts(run.sample_onset_times),
            "ppc_onset_times": _opt_texts(run.ppc_onset_times),
            "spike_eu_per_ml": str(inputs["spike_eu_per_ml"]),
            "negative_control_onset_times": _opt_texts(run.negative_control_onset_times),
            "dilution": str(inputs["dilution"]),
            "k_eu_per_kg": str(limit.k_eu_per_kg),
            "dose_per_hour": str(limit.dose_per_hour),
            "pharmacopoeia": str(limit.pharmacopoeia.value),
            "body_mass_kg": str(limit.body_mass_kg),
            "product_concentration": str(inputs.get("product_concentration") or 1),
            "cv_max_percent": _opt(None if cv_max in (None, "") else cv_max),
        },
        "outputs": {
            "intercept": to_text(curve.intercept),
            "slope": to_text(curve.slope),
            "r": to_text(curve.r),
            "lambda_eu_per_ml": str(lam),
            "endotoxin_limit": f"{limit.limit} {limit.unit}",
            "mvd": str(mvd),
            "sample_concentrations": _opt_texts(run.sample_concentrations),
            "sample_mean_eu_per_ml": _opt(run.sample_mean),
            "ppc_concentrations": _opt_texts(run.ppc_concentrations),
            "ppc_mean_eu_per_ml": _opt(run.ppc_mean),
            "recovery_percent": _opt(run.recovery_percent),
            "sample_cv_percent": _opt(run.sample_cv_percent),
            "ppc_cv_percent": _opt(run.ppc_cv_percent),
            "run_valid": "yes",
            "below_lowest_standard": _yes(run.comparator == "<"),
            "product_eu_per_ml": str(in_product),
        },
    }
    return value, unit or "EU/mL", _finish(calculation, value)


def _series_rows(rows: Sequence[Sequence[bool]]) -> list[str]:
    return [" ".join("+" if clot else "-" for clot in row) for row in rows]


def endotoxin_gel_clot(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """EU/mL of the product from a gel-clot assay (USP <85> quantitative gel-clot test).

    The labelled lysate sensitivity λ is confirmed on the standard series
    (:func:`celltrace.assays.endotoxin.confirm_lysate_sensitivity`: geometric mean end point
    within 0.5λ-2λ, lowest concentration negative, negative controls negative). Each replicate
    series of product dilutions gives its end point (the highest dilution that clotted, read
    with :func:`celltrace.assays.endotoxin.gel_clot_endpoint`); the result is λ × the geometric
    mean end-point dilution. No clot at the lowest dilution in any replicate: ``< λ × lowest
    dilution``; a clot at the highest dilution in every replicate: ``> λ × highest dilution``
    (dilute further). The positive product controls must clot.
    """
    lam_d = Decimal(str(inputs["labelled_sensitivity"]))
    lam = float(lam_d)
    dilutions = [Decimal(str(d)) for d in inputs["dilutions"]]
    if len(set(dilutions)) != len(dilutions):
        raise Invalid(_("Dilutions: each dilution is listed once."), field="dilutions")
    try:
        confirmation = endotoxin.confirm_lysate_sensitivity(
            lam,
            _floats(inputs["std_concentrations"]),
            inputs["std_series"],
            negative_controls=inputs.get("negative_controls") or [],
        )
    except AssayInputError as exc:
        raise _invalid(
            exc, {"series": "std_series", "concentrations": "std_concentrations"}
        ) from exc
    reasons = list(confirmation.reasons)
    by_conc = {float(1 / d): d for d in dilutions}
    endpoints: list[Decimal | None] = []
    for i, row in enumerate(inputs["sample_series"], start=1):
        if len(row) != len(dilutions):
            raise Invalid(
                _("Product series %(n)s: %(r)s results for %(d)s dilutions.")
                % {"n": i, "r": len(row), "d": len(dilutions)},
                field="sample_series",
            )
        flags = dict(zip(dilutions, row, strict=True))
        ordered = [flags[d] for d in sorted(dilutions)]
        if any(later and not earlier for earlier, later in itertools.pairwise(ordered)):
            reasons.append(f"product series {i}: clot at a dilution above one that did not clot")
        concentrations = list(by_conc)
        end = endotoxin.gel_clot_endpoint(
            concentrations, [flags[by_conc[c]] for c in concentrations]
        )
        endpoints.append(None if end is None else by_conc[end])
    misses = [
        i for i, clot in enumerate(inputs.get("positive_product_controls") or [], 1) if not clot
    ]
    if not inputs.get("positive_product_controls"):
        reasons.append("no positive product control")
    reasons.extend(f"positive product control {i}: did not clot (inhibition)" for i in misses)
    found = [e for e in endpoints if e is not None]
    if found and len(found) != len(endpoints):
        reasons.append("product replicates disagree: some series clotted, some did not clot at all")
    if reasons:
        raise _refuse(_("The gel-clot run is invalid: %(reasons)s."), reasons)
    lowest, highest = min(dilutions), max(dilutions)
    gm: float | None = None
    if not found:
        comparator, in_product = "<", lam_d * lowest
    elif all(e == highest for e in found):
        comparator, in_product = ">", lam_d * highest
    else:
        comparator = ""
        gm = stats.geometric_mean([float(e) for e in found], "endpoints")
        in_product = lam_d * Decimal(to_text(gm))
    value = f"{comparator} {report(in_product, decimals)}".strip()
    calculation: dict[str, Any] = {
        "calculator": _name(endotoxin.confirm_lysate_sensitivity),
        "version": confirmation.calculation_version,
        "inputs": {
            "labelled_sensitivity": str(lam_d),
            "std_concentrations": _texts(confirmation.concentrations),
            "std_series": _series_rows(confirmation.series),
            "negative_controls": _series_rows([confirmation.negative_controls]),
            "dilutions": [str(d) for d in dilutions],
            "sample_series": _series_rows(inputs["sample_series"]),
            "positive_product_controls": _series_rows([inputs["positive_product_controls"]]),
        },
        "outputs": {
            "std_endpoints": _opt_texts(confirmation.endpoints),
            "std_geometric_mean": _opt(confirmation.geometric_mean),
            "label_claim_confirmed": _yes(confirmation.confirmed),
            "sample_endpoint_dilutions": ["—" if e is None else str(e) for e in endpoints],
            "sample_geometric_mean_dilution": _opt(gm),
            "product_eu_per_ml": str(in_product),
        },
    }
    return value, unit or "EU/mL", _finish(calculation, value)


# ----------------------------------------------------------------------------- count (files)


def _dose(calculation: dict[str, Any], inputs: Mapping[str, Any], viable_per_ml: Decimal) -> None:
    """Total viable cells (× volume) and cells/kg (÷ patient mass), when the method asks."""
    volume, mass = inputs.get("volume_ml"), inputs.get("body_mass_kg")
    if volume in (None, ""):
        if mass not in (None, ""):
            raise Invalid(
                _("Give the product volume to compute the dose per kg."), field="volume_ml"
            )
        return
    total_viable = viable_per_ml * Decimal(str(volume))
    calculation["inputs"]["volume_ml"] = str(volume)
    calculation["outputs"]["total_viable_cells"] = report(total_viable, 0)
    if mass not in (None, ""):
        calculation["inputs"]["body_mass_kg"] = str(mass)
        try:
            counts.dose_per_kg(float(total_viable), float(str(mass)))
        except AssayInputError as exc:
            raise _invalid(exc, {"body_mass_kg": "body_mass_kg"}) from exc
        calculation["outputs"]["dose_cells_per_kg"] = report(total_viable / Decimal(str(mass)), 0)


def _counter_summary(inputs: Mapping[str, Any]) -> tuple[Upload, counts.CountSummary]:
    upload: Upload = inputs["file"]
    text = _decode(upload, "file")
    try:
        readings = counts.parse_counter_csv(
            text, source=upload.name, layout=inputs.get("layout") or None
        )
    except AssayInputError as exc:
        raise Invalid(str(exc), field="file") from exc
    names = sorted({r.sample for r in readings})
    wanted = (inputs.get("sample") or "").strip()
    if not wanted:
        if len(names) != 1:
            raise Invalid(
                _("%(name)s holds several samples (%(samples)s): name the one to use.")
                % {"name": upload.name, "samples": ", ".join(names)},
                field="sample",
            )
        wanted = names[0]
    chosen = [r for r in readings if r.sample == wanted]
    if not chosen:
        raise Invalid(
            _("Sample %(s)s is not in %(name)s; it holds %(samples)s.")
            % {"s": wanted, "name": upload.name, "samples": ", ".join(names)},
            field="sample",
        )
    cv_max = inputs.get("cv_max_percent")
    try:
        summary = counts.summarise_counts(
            chosen,
            extra_dilution=float(inputs.get("extra_dilution") or 1),
            cv_max_percent=_opt_float(cv_max),
        )
    except AssayInputError as exc:
        raise _invalid(exc, {"extra_dilution": "extra_dilution"}) from exc
    if not summary.valid:
        raise _refuse(_("The counts cannot be used: %(reasons)s."), summary.reasons, "file")
    return upload, summary


def _counter_calculation(
    upload: Upload, summary: counts.CountSummary, inputs: Mapping[str, Any]
) -> dict[str, Any]:
    first = summary.readings[0]
    return {
        "calculator": _name(counts.summarise_counts),
        "version": summary.calculation_version,
        "inputs": {
            "files": [upload.describe("counter-csv")],
            "layout": first.layout.value,
            "sample": summary.sample,
            "rows": [str(r.row) for r in summary.readings],
            "extra_dilution": str(inputs.get("extra_dilution") or 1),
            "cv_max_percent": _opt(inputs.get("cv_max_percent") or None),
        },
        "outputs": {
            "readings_total_per_ml": [to_text(r.total_per_ml) for r in summary.readings],
            "readings_viable_per_ml": [to_text(r.viable_per_ml) for r in summary.readings],
            "total_per_ml": to_text(summary.total_per_ml),
            "viable_per_ml": to_text(summary.viable_per_ml),
            "viability_percent": to_text(summary.viability_percent),
            "total_cv_percent": _opt(summary.total_cv_percent),
        },
    }


def viability_from_counter(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """Viability % of one sample from an automated-counter export (mean viable / mean total)."""
    upload, summary = _counter_summary(inputs)
    calculation = _counter_calculation(upload, summary, inputs)
    value = report(Decimal(to_text(summary.viability_percent)), decimals)
    return value, unit or "%", _finish(calculation, value)


def viable_cells_from_counter(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """Viable cells/mL of one sample from an automated-counter export; with the volume and the
    patient's mass also total viable cells and cells/kg."""
    upload, summary = _counter_summary(inputs)
    calculation = _counter_calculation(upload, summary, inputs)
    viable = Decimal(to_text(summary.viable_per_ml))
    _dose(calculation, inputs, viable)
    value = report(viable, decimals)
    return value, unit or "cells/mL", _finish(calculation, value)


# ----------------------------------------------------------------------------- sterility


def _growth_value(outcome: Any) -> str:
    return "Growth" if outcome == sterility.SterilityOutcome.GROWTH else "No growth"


def sterility_from_readings(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """No growth / Growth from the daily readings of each medium recorded on the test.

    Growth in any reading concludes "Growth" at once; "No growth" needs every medium (FTM and
    SCDM) read on every day of its incubation. Until then the computation is refused with the
    readings still missing (the readings stay recorded on the test).
    """
    incubations: list[sterility.Incubation] = list(inputs["incubations"])
    readings: list[sterility.Reading] = list(inputs["readings"])
    as_of: dt.datetime = inputs["as_of"]
    if not incubations:
        raise Invalid(
            _("No medium is incubating for this test: record the inoculation first."),
            field="incubations",
        )
    try:
        decision = sterility.evaluate_sterility(incubations, readings, as_of=as_of)
    except AssayInputError as exc:
        raise Invalid(str(exc)) from exc
    if decision.outcome == sterility.SterilityOutcome.PENDING:
        raise _refuse(
            _("The incubation is not complete; still to read: %(reasons)s."), decision.reasons
        )
    if decision.outcome == sterility.SterilityOutcome.INVALID:
        raise _refuse(_("The test is invalid: %(reasons)s."), decision.reasons)
    value = _growth_value(decision.outcome)
    by_medium = {sterility_key(i.medium): i for i in incubations}
    calculation: dict[str, Any] = {
        "calculator": _name(sterility.evaluate_sterility),
        "version": decision.calculation_version,
        "inputs": {
            "incubations": [
                f"{i.medium}: {i.started_at.isoformat()} · {i.days} d" for i in incubations
            ],
            "readings": [
                f"{r.medium} day {by_medium[sterility_key(r.medium)].day_of(r.observed_at)} "
                f"({r.observed_at.isoformat()}): {'growth' if r.growth else 'no growth'}"
                for r in readings
            ],
            "as_of": as_of.isoformat(),
        },
        "outputs": {
            "outcome": str(decision.outcome.value),
            "growth": [f"{d.medium} day {d.day}" for d in decision.detections],
        },
    }
    return value, unit, _finish(calculation, value)


def sterility_key(medium: str) -> str:
    key = medium.strip().upper()
    return "SCDM" if key == "TSB" else key


def sterility_from_blood_culture(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """No growth / Growth from an automated growth-based system's CSV export (docs/assays.md):
    any positive bottle is "Growth"; "No growth" needs aerobic and anaerobic bottles negative
    after the full protocol. Bottles still incubating or an invalid set are refused."""
    upload: Upload = inputs["file"]
    text = _decode(upload, "file")
    required_days = int(inputs.get("required_days") or sterility.INCUBATION_DAYS_DEFAULT)
    try:
        bottles = sterility.parse_blood_culture_csv(text, source=upload.name)
        decision = sterility.evaluate_blood_culture(
            bottles,
            sample_id=(inputs.get("sample_id") or "").strip() or None,
            required_days=required_days,
        )
    except AssayInputError as exc:
        field = "sample_id" if exc.field == "sample_id" else "file"
        raise Invalid(str(exc), field=field) from exc
    if decision.outcome == sterility.SterilityOutcome.PENDING:
        raise _refuse(_("Bottles are still incubating: %(reasons)s."), decision.reasons, "file")
    if decision.outcome == sterility.SterilityOutcome.INVALID:
        raise _refuse(_("The test is invalid: %(reasons)s."), decision.reasons, "file")
    value = _growth_value(decision.outcome)
    calculation: dict[str, Any] = {
        "calculator": _name(sterility.evaluate_blood_culture),
        "version": decision.calculation_version,
        "inputs": {
            "files": [upload.describe("blood-culture-csv")],
            "sample_id": decision.sample_id,
            "required_days": str(required_days),
            "bottles": [
                f"{b.bottle_id} ({b.atmosphere}, {b.bottle_type}, row {b.row}): "
                f"{b.status.value}, {b.protocol_days} d"
                + ("" if b.time_to_detection_h is None else f", {b.time_to_detection_h:g} h")
                for b in decision.bottles
            ],
        },
        "outputs": {
            "outcome": str(decision.outcome.value),
            "growth": [
                f"{d.source} ({d.medium}) {d.detected_at.isoformat()}" for d in decision.detections
            ],
        },
    }
    return value, unit, _finish(calculation, value)


# ----------------------------------------------------------------------------- mycoplasma


def _wells_text(wells: Sequence[mycoplasma.NatWell]) -> list[str]:
    return [f"{w.name}: {_opt(w.target_cq)} / {_opt(w.internal_control_cq)}" for w in wells]


def mycoplasma_nat(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """Detected / Not detected from a mycoplasma qPCR run; the positive, negative and
    inhibition (spiked) controls and each well's internal control decide validity."""
    cutoff = inputs.get("cq_cutoff")
    try:
        run = mycoplasma.evaluate_nat(
            samples=inputs["samples"],
            positive_controls=inputs["positive_controls"],
            negative_controls=inputs["negative_controls"],
            spiked_samples=inputs.get("spiked_samples") or [],
            cq_cutoff=_opt_float(cutoff),
        )
    except AssayInputError as exc:
        raise Invalid(str(exc), field=exc.field if exc.field in _NAT_FIELDS else None) from exc
    if not run.valid:
        raise _refuse(_("The run is invalid: %(reasons)s."), run.reasons)
    value = str(run.outcome.value)
    calculation: dict[str, Any] = {
        "calculator": _name(mycoplasma.evaluate_nat),
        "version": run.calculation_version,
        "inputs": {
            "samples": _wells_text(run.samples),
            "positive_controls": _wells_text(run.positive_controls),
            "negative_controls": _wells_text(run.negative_controls),
            "spiked_samples": _wells_text(run.spiked_samples),
            "cq_cutoff": _opt(run.cq_cutoff),
        },
        "outputs": {"outcome": value, "detected_wells": list(run.detected_wells)},
    }
    return value, unit, _finish(calculation, value)


_NAT_FIELDS: Final = {"samples", "positive_controls", "negative_controls", "spiked_samples"}


def _observations_text(obs: Sequence[mycoplasma.CultureObservation]) -> list[str]:
    return [f"{o.vessel} day {o.day}: {'growth' if o.growth else 'no growth'}" for o in obs]


def mycoplasma_culture(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """Detected / Not detected from culture (agar, broth) readings with positive and negative
    controls per vessel type; "Not detected" needs each vessel read on its final day."""
    try:
        run = mycoplasma.evaluate_culture(
            test=inputs["test_observations"],
            positive_controls=inputs["positive_controls"],
            negative_controls=inputs["negative_controls"],
        )
    except AssayInputError as exc:
        raise Invalid(str(exc)) from exc
    if run.outcome == mycoplasma.MycoplasmaOutcome.PENDING:
        raise _refuse(_("The culture is not complete: %(reasons)s."), run.reasons)
    if not run.valid:
        raise _refuse(_("The run is invalid: %(reasons)s."), run.reasons)
    value = str(run.outcome.value)
    calculation: dict[str, Any] = {
        "calculator": _name(mycoplasma.evaluate_culture),
        "version": run.calculation_version,
        "inputs": {
            "test_observations": _observations_text(run.test),
            "positive_controls": _observations_text(run.positive_controls),
            "negative_controls": _observations_text(run.negative_controls),
            "required_days": [f"{k}: {v}" for k, v in sorted(run.required_days.items())],
        },
        "outputs": {"outcome": value, "findings": list(run.reasons)},
    }
    return value, unit, _finish(calculation, value)


# ----------------------------------------------------------------------------- VCN


def _per_transduced(
    calculation: dict[str, Any], inputs: Mapping[str, Any], vcn_value: float
) -> Decimal | None:
    car = inputs.get("car_positive_percent")
    if car in (None, ""):
        return None
    try:
        per_cell = vcn.copies_per_transduced_cell(vcn_value, float(str(car)))
    except AssayInputError as exc:
        raise _invalid(exc, {"car_positive_percent": "car_positive_percent"}) from exc
    calculation["inputs"]["car_positive_percent"] = str(car)
    calculation["outputs"]["copies_per_transduced_cell"] = to_text(per_cell)
    return Decimal(to_text(vcn_value)) * 100 / Decimal(str(car))


def vcn_qpcr(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """VCN per diploid genome by qPCR: each gene's copies from its own standard curve
    (efficiency 90-110 %, R² >= 0.98, five levels), ``2 × target / reference``; with CAR+ %
    the reported value is copies per transduced cell (VCN / fraction CAR+)."""
    per_cell_ref = int(inputs.get("reference_copies_per_cell") or vcn.REFERENCE_COPIES_PER_CELL)
    accept: dict[str, Any] = {
        "efficiency_min": float(inputs.get("efficiency_min_percent") or 90) / 100,
        "efficiency_max": float(inputs.get("efficiency_max_percent") or 110) / 100,
        "r_squared_min": float(inputs.get("r_squared_min") or vcn.R_SQUARED_MIN),
    }
    try:
        target = vcn.fit_qpcr_standard_curve(
            _floats(inputs["target_std_copies"]), _floats(inputs["target_std_cq"]), **accept
        )
        reference = vcn.fit_qpcr_standard_curve(
            _floats(inputs["reference_std_copies"]), _floats(inputs["reference_std_cq"]), **accept
        )
    except AssayInputError as exc:
        raise Invalid(str(exc)) from exc
    reasons = [f"target curve: {r}" for r in target.reasons]
    reasons += [f"reference curve: {r}" for r in reference.reasons]
    if reasons:
        raise _refuse(_("The standard curves are not accepted: %(reasons)s."), reasons)
    try:
        t_copies = [target.copies_for(c) for c in _floats(inputs["sample_target_cq"])]
        r_copies = [reference.copies_for(c) for c in _floats(inputs["sample_reference_cq"])]
        t_mean, r_mean = stats.mean(t_copies), stats.mean(r_copies)
        per_genome = vcn.qpcr_vcn(t_mean, r_mean, per_cell_ref)
    except AssayInputError as exc:
        raise Invalid(str(exc)) from exc
    calculation: dict[str, Any] = {
        "calculator": _name(vcn.fit_qpcr_standard_curve),
        "version": target.calculation_version,
        "inputs": {
            "target_std_copies": _texts(target.copies),
            "target_std_cq": _texts(target.cq),
            "reference_std_copies": _texts(reference.copies),
            "reference_std_cq": _texts(reference.cq),
            "sample_target_cq": [str(c) for c in inputs["sample_target_cq"]],
            "sample_reference_cq": [str(c) for c in inputs["sample_reference_cq"]],
            "reference_copies_per_cell": str(per_cell_ref),
            "efficiency_window_percent": f"{to_text(accept['efficiency_min'] * 100)}–"
            f"{to_text(accept['efficiency_max'] * 100)}",
            "r_squared_min": to_text(accept["r_squared_min"]),
        },
        "outputs": {
            "target_slope": to_text(target.slope),
            "target_efficiency_percent": to_text(target.efficiency * 100),
            "target_r_squared": to_text(target.r_squared),
            "reference_slope": to_text(reference.slope),
            "reference_efficiency_percent": to_text(reference.efficiency * 100),
            "reference_r_squared": to_text(reference.r_squared),
            "sample_target_copies": _texts(t_copies),
            "sample_reference_copies": _texts(r_copies),
            "vcn_per_diploid_genome": to_text(per_genome),
        },
    }
    per_transduced = _per_transduced(calculation, inputs, per_genome)
    exact = Decimal(to_text(per_genome)) if per_transduced is None else per_transduced
    value = report(exact, decimals)
    return value, unit or "copies/cell", _finish(calculation, value)


def vcn_ddpcr(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """VCN per diploid genome from a duplex ddPCR well with Poisson correction
    (``λ = -ln(1 - k/N)``, copies/µL = λ / droplet volume), ``2 × λ_target / λ_reference``;
    with CAR+ % the reported value is copies per transduced cell."""
    per_cell_ref = int(inputs.get("reference_copies_per_cell") or vcn.REFERENCE_COPIES_PER_CELL)
    try:
        well = vcn.analyse_ddpcr_well(
            int(inputs["target_positive"]),
            int(inputs["reference_positive"]),
            int(inputs["total_droplets"]),
            droplet_nl=float(inputs.get("droplet_nl") or vcn.DROPLET_NL_DEFAULT),
            reference_copies_per_cell=per_cell_ref,
            min_droplets=int(inputs.get("min_droplets") or vcn.MIN_DROPLETS_DEFAULT),
        )
    except AssayInputError as exc:
        field = {"total": "total_droplets"}.get(exc.field or "", exc.field)
        raise Invalid(str(exc), field=field) from exc
    if not well.valid:
        raise _refuse(_("The well is not accepted: %(reasons)s."), well.reasons)
    calculation: dict[str, Any] = {
        "calculator": _name(vcn.analyse_ddpcr_well),
        "version": well.calculation_version,
        "inputs": {
            "target_positive": str(well.target_positive),
            "reference_positive": str(well.reference_positive),
            "total_droplets": str(well.total),
            "droplet_nl": to_text(well.droplet_nl),
            "min_droplets": str(well.min_droplets),
            "reference_copies_per_cell": str(well.reference_copies_per_cell),
        },
        "outputs": {
            "target_lambda": to_text(well.target_lambda),
            "reference_lambda": to_text(well.reference_lambda),
            "target_copies_per_ul": to_text(well.target_copies_per_ul),
            "reference_copies_per_ul": to_text(well.reference_copies_per_ul),
            "below_lod": _yes(well.below_lod),
        },
    }
    if well.vcn is None:  # no target droplet: below the LOD of one positive droplet
        bound = per_cell_ref * vcn.ddpcr_lambda(1, well.total) / well.reference_lambda
        calculation["outputs"]["vcn_per_diploid_genome"] = f"< {to_text(bound)}"
        per_transduced = _per_transduced(calculation, inputs, bound)
        exact = Decimal(to_text(bound)) if per_transduced is None else per_transduced
        value = f"< {report(exact, decimals)}"
    else:
        calculation["outputs"]["vcn_per_diploid_genome"] = to_text(well.vcn)
        per_transduced = _per_transduced(calculation, inputs, well.vcn)
        exact = Decimal(to_text(well.vcn)) if per_transduced is None else per_transduced
        value = report(exact, decimals)
    return value, unit or "copies/cell", _finish(calculation, value)


# ----------------------------------------------------------------------------- flow cytometry

POPULATION_FIELDS: Final = ("singlets", "viable", "cd45", "cd3", "car", "cd4", "cd8")


def _population_map(inputs: Mapping[str, Any]) -> dict[str, str]:
    return {p: inputs[p].strip() for p in POPULATION_FIELDS if (inputs.get(p) or "").strip()}


def _proportion_text(p: flow.Proportion | None) -> str:
    if p is None:
        return "—"
    return f"{p.numerator} / {p.denominator} = {to_text(p.percent)} %"


def _flow_outputs(release: flow.FlowReleaseResult) -> dict[str, Any]:
    values = release.stained.values
    out: dict[str, Any] = {
        "viability": _proportion_text(values.viability),
        "cd45": _proportion_text(values.cd45),
        "cd3": _proportion_text(values.cd3),
        "car": _proportion_text(values.car),
        "cd4": _proportion_text(values.cd4),
        "cd8": _proportion_text(values.cd8),
        "cd4_cd8_ratio": _opt(values.cd4_cd8_ratio),
        "population_counts": [
            f"{c.population.value} ({c.source}): {c.count}" for c in release.stained.counts.counts
        ],
        "flags": list(release.flags),
    }
    if release.stained.gate_counts:
        out["gate_counts"] = [
            f"{g.path}: {g.count} / {g.parent_count}" for g in release.stained.gate_counts
        ]
    if release.control is not None:
        out["control_sample"] = release.control.counts.sample_id
        out["control_car"] = _proportion_text(release.control.values.car)
    if release.car_net is not None:
        out["car_net_percent"] = to_text(release.car_net.net_percent)
    return out


def _flow_report(method_code: str, release: flow.FlowReleaseResult, decimals: int | None) -> str:
    values = release.stained.values
    if method_code == "purity-flow":
        return report(_exact(values.cd3.percent_exact), decimals)
    if release.car_net is not None:
        return report(_exact(release.car_net.net_percent_exact), decimals)
    if values.car is None:
        raise Invalid(
            _("The CAR+ population is not mapped: identity needs the CAR+ gate."), field="car"
        )
    raise Invalid(
        _(
            "Identity (CAR+ %%) is reported net of the untransduced or FMO control: give the "
            "control sample."
        ),
        field="control_sample",
    )


def _flow_calc(
    method_code: str,
    release: flow.FlowReleaseResult,
    decimals: int | None,
    unit: str,
    inputs_record: dict[str, Any],
    calculator: str,
) -> tuple[str, str, dict[str, Any]]:
    value = _flow_report(method_code, release, decimals)
    calculation: dict[str, Any] = {
        "calculator": calculator,
        "version": release.calculation_version,
        "inputs": inputs_record,
        "outputs": _flow_outputs(release),
    }
    return value, unit or "%", _finish(calculation, value)


def flow_from_statistics(method_code: str) -> Calculator:
    """Flow release value from a FlowJo, Kaluza or FACSDiva statistics CSV: CD3+ % of viable
    (purity) or CAR+ % of CD3+ net of the control sample (identity)."""

    def calculate(
        inputs: Mapping[str, Any], decimals: int | None, unit: str
    ) -> tuple[str, str, dict[str, Any]]:
        upload: Upload = inputs["file"]
        pmap = _population_map(inputs)
        try:
            table = flow.read_stats_csv(
                upload.data,
                layout=inputs.get("layout") or None,
                file_name=upload.name,
                sample_id=(inputs.get("sample") or "").strip() or None,
            )
            sample = (inputs.get("sample") or "").strip() or _only_sample(table)
            stained = flow.sample_from_stats(table, sample, pmap)
            control_name = (inputs.get("control_sample") or "").strip()
            control = flow.sample_from_stats(table, control_name, pmap) if control_name else None
            release = flow.flow_release(
                stained, control, control_kind=inputs.get("control_kind") or "untransduced"
            )
        except AssayInputError as exc:
            field = exc.field if exc.field in POPULATION_FIELDS else "file"
            raise Invalid(str(exc), field=field) from exc
        record = {
            "files": [upload.describe("flow-statistics-csv")],
            "layout": table.layout.value,
            "sample": sample,
            "control_sample": control_name or "—",
            "control_kind": inputs.get("control_kind") or "untransduced",
            "population_map": [f"{p}: {n}" for p, n in pmap.items()],
        }
        return _flow_calc(
            method_code, release, decimals, unit, record, _name(flow.sample_from_stats)
        )

    calculate.__doc__ = flow_from_statistics.__doc__
    return calculate


def _only_sample(table: flow.StatsTable) -> str:
    names = table.samples()
    if len(names) != 1:
        raise Invalid(
            _("%(name)s holds several samples (%(samples)s): name the one to use.")
            % {"name": table.file_name, "samples": ", ".join(names)},
            field="sample",
        )
    return names[0]


def flowkit_available() -> bool:
    try:
        require_flowkit()
    except flow.FlowKitMissingError:
        return False
    return True


def flow_from_fcs(method_code: str) -> Calculator:
    """Flow release value from FCS file(s) gated with a GatingML 2.0 or FlowJo workspace
    template through FlowKit (the ``celltrace[flow]`` extra)."""

    def calculate(
        inputs: Mapping[str, Any], decimals: int | None, unit: str
    ) -> tuple[str, str, dict[str, Any]]:
        fcs_up: Upload = inputs["fcs_file"]
        tpl_up: Upload = inputs["template"]
        control_up: Upload | None = inputs.get("control_fcs_file")
        pmap = _population_map(inputs) or None
        wsp = (inputs.get("wsp_sample") or "").strip() or None
        try:
            template = flow.GatingTemplate.load(tpl_up.data, file_name=tpl_up.name)
            stained = flow.analyze_fcs(
                flow.FcsFile(fcs_up.name, fcs_up.sha256, fcs_up.data),
                template,
                populations=pmap,
                wsp_sample=wsp,
            )
            control = None
            if control_up is not None:
                control = flow.analyze_fcs(
                    flow.FcsFile(control_up.name, control_up.sha256, control_up.data),
                    template,
                    populations=pmap,
                    wsp_sample=(inputs.get("control_wsp_sample") or "").strip() or wsp,
                )
            release = flow.flow_release(
                stained, control, control_kind=inputs.get("control_kind") or "untransduced"
            )
        except flow.FlowKitMissingError as exc:
            raise Invalid(
                _(
                    "FCS files are analysed with FlowKit, which is not installed on this server "
                    "(%(hint)s). Upload the statistics CSV exported from FlowJo, Kaluza or "
                    "FACSDiva instead."
                )
                % {"hint": flow.FLOW_EXTRA_HINT},
                field="fcs_file",
            ) from exc
        except AssayInputError as exc:
            text = str(exc)
            if exc.field in POPULATION_FIELDS:
                field = exc.field
            elif text.startswith("gating template") or tpl_up.name in text.split(":")[0]:
                field = "template"
            elif control_up is not None and text.startswith(control_up.name):
                field = "control_fcs_file"
            else:
                field = "fcs_file"
            raise Invalid(text, field=field) from exc
        files = [fcs_up.describe("fcs"), tpl_up.describe(f"template:{template.kind.value}")]
        if control_up is not None:
            files.append(control_up.describe("control-fcs"))
        info = stained.inputs
        record = {
            "files": files,
            "sample": info.sample_id,
            "wsp_sample": wsp or "—",
            "control_kind": inputs.get("control_kind") or "untransduced",
            "population_map": [f"{p.value}: {n}" for p, n in info.population_map],
            "compensation": info.compensation,
            "fcs_version": info.fcs_version or "—",
            "cytometer": info.cytometer or "—",
            "total_events": _opt(info.total_events),
        }
        return _flow_calc(method_code, release, decimals, unit, record, _name(flow.analyze_fcs))

    calculate.__doc__ = flow_from_fcs.__doc__
    return calculate


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Kind:
    """One way to compute a method's result: its slug (in URLs and the API), label, calculator,
    and whether it takes instrument files."""

    slug: str
    label: Any
    calculator: Calculator
    uploads: bool = False


#: ``Method.code`` (see ``celltrace.qc.catalogue.METHODS``) -> the ways to compute it, the
#: first is the default.
CALCULATORS: Final[dict[str, tuple[Kind, ...]]] = {
    "viability": (
        Kind("hemocytometer", _l("Hemocytometer count"), viability_from_hemocytometer),
        Kind("counter-csv", _l("Automated counter export (CSV)"), viability_from_counter, True),
    ),
    "cell-count": (
        Kind("hemocytometer", _l("Hemocytometer count"), viable_cells_from_hemocytometer),
        Kind("counter-csv", _l("Automated counter export (CSV)"), viable_cells_from_counter, True),
    ),
    "endotoxin": (
        Kind("kinetic", _l("Kinetic chromogenic or turbidimetric"), endotoxin_kinetic),
        Kind("gel-clot", _l("Gel-clot assay"), endotoxin_gel_clot),
    ),
    "sterility": (
        Kind("readings", _l("Daily readings of the media"), sterility_from_readings),
        Kind(
            "blood-culture-csv",
            _l("Automated culture system (CSV)"),
            sterility_from_blood_culture,
            True,
        ),
    ),
    "sterility-cell": (
        Kind(
            "blood-culture-csv",
            _l("Automated culture system (CSV)"),
            sterility_from_blood_culture,
            True,
        ),
        Kind("readings", _l("Daily readings of the media"), sterility_from_readings),
    ),
    "mycoplasma-nat": (Kind("nat", _l("qPCR run with controls"), mycoplasma_nat),),
    "mycoplasma-culture": (
        Kind("culture", _l("Culture readings with controls"), mycoplasma_culture),
    ),
    "vcn": (
        Kind("ddpcr", _l("ddPCR duplex well"), vcn_ddpcr),
        Kind("qpcr", _l("qPCR standard curves"), vcn_qpcr),
    ),
    "identity-flow": (
        Kind("fcs", _l("FCS files and gating template"), flow_from_fcs("identity-flow"), True),
        Kind(
            "statistics-csv",
            _l("Statistics export (CSV)"),
            flow_from_statistics("identity-flow"),
            True,
        ),
    ),
    "purity-flow": (
        Kind("fcs", _l("FCS files and gating template"), flow_from_fcs("purity-flow"), True),
        Kind(
            "statistics-csv",
            _l("Statistics export (CSV)"),
            flow_from_statistics("purity-flow"),
            True,
        ),
    ),
}


def kinds_for(method_code: str) -> tuple[Kind, ...]:
    return CALCULATORS.get(method_code, ())


def kind_for(method_code: str, slug: str | None) -> Kind | None:
    kinds = kinds_for(method_code)
    if not kinds:
        return None
    if not slug:
        return kinds[0]
    return next((k for k in kinds if k.slug == slug), None)


def calculator_for(method_code: str, slug: str | None = None) -> Calculator | None:
    kind = kind_for(method_code, slug)
    return None if kind is None else kind.calculator


def compute(
    method_code: str,
    inputs: Mapping[str, Any],
    *,
    decimals: int | None,
    unit: str,
    kind: str | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """Run the calculator registered for ``method_code`` (and ``kind``, default the first)."""
    chosen = kind_for(method_code, kind)
    if chosen is None:
        raise Invalid(
            _("Method %(code)s has no calculator %(kind)s; enter the result.")
            % {"code": method_code, "kind": kind or ""},
            field="kind",
        )
    try:
        value, unit_out, calculation = chosen.calculator(inputs, decimals, unit)
    except (ArithmeticError, ValueError) as exc:
        # e.g. a Cq so far off the curve that 10^x overflows: the inputs are out of range
        raise Invalid(
            _("The inputs give a number out of range (%(error)s); check the values entered.")
            % {"error": exc}
        ) from exc
    calculation["kind"] = chosen.slug
    return value, unit_out, calculation
