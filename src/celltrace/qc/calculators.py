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

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from django.utils.translation import gettext as _

from celltrace.assays import counts, endotoxin
from celltrace.assays.errors import AssayInputError
from celltrace.core.errors import Invalid

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
    value = report(exact, decimals)
    calculation["outputs"]["reported"] = value
    return value, unit or "cells/mL", calculation


# ----------------------------------------------------------------------------- endotoxin

_ENDOTOXIN_FIELDS: Final = {"onset_time": "sample_onset_time", "slope": "onset_times"}


def endotoxin_kinetic(
    inputs: Mapping[str, Any], decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """EU/mL of the product from a kinetic (onset-time) LAL run.

    The log-log standard curve must be valid (|r| >= 0.980, negative slope, at least three
    concentrations with three wells each); an invalid curve is refused with every reason. The
    sample concentration is interpolated and multiplied by the dilution; a sample below the
    lowest standard (λ) is reported as ``< λ × dilution``; above the highest standard it is
    refused (dilute further, within the MVD).
    """
    concentrations = [float(c) for c in inputs["concentrations"]]
    onset_times = [float(t) for t in inputs["onset_times"]]
    sample_time = float(inputs["sample_onset_time"])
    dilution = Decimal(str(inputs["dilution"]))
    if not dilution.is_finite() or dilution < 1:
        raise Invalid(
            _("Dilution: must be 1 or more, got %(d)s.") % {"d": inputs["dilution"]},
            field="dilution",
        )
    try:
        curve = endotoxin.fit_standard_curve(concentrations, onset_times)
        if not curve.valid:
            raise Invalid(
                _("The standard curve is invalid: %(reasons)s.")
                % {"reasons": "; ".join(curve.reasons)},
                field="onset_times",
            )
        measured = curve.concentration(sample_time)
    except AssayInputError as exc:
        raise _invalid(exc, _ENDOTOXIN_FIELDS) from exc
    if measured > curve.highest_concentration:
        raise Invalid(
            _(
                "The sample reads %(c)s EU/mL, above the highest standard %(h)s EU/mL: "
                "dilute further (within the MVD) and test again."
            )
            % {"c": report(measured, 4), "h": to_text(curve.highest_concentration)},
            field="sample_onset_time",
        )
    below = measured < curve.lowest_concentration
    in_product = Decimal(to_text(curve.lowest_concentration if below else measured)) * dilution
    reported = report(in_product, decimals)
    value = f"< {reported}" if below else reported
    calculation: dict[str, Any] = {
        "calculator": _name(endotoxin.fit_standard_curve),
        "version": curve.calculation_version,
        "inputs": {
            "concentrations": _texts(curve.concentrations),
            "onset_times": _texts(curve.onset_times),
            "sample_onset_time": str(inputs["sample_onset_time"]),
            "dilution": str(inputs["dilution"]),
        },
        "outputs": {
            "intercept": to_text(curve.intercept),
            "slope": to_text(curve.slope),
            "r": to_text(curve.r),
            "curve_valid": "yes",
            "test_solution_eu_per_ml": to_text(measured),
            "below_lowest_standard": "yes" if below else "no",
            "product_eu_per_ml": str(in_product),
            "reported": value,
        },
    }
    return value, unit or "EU/mL", calculation


#: ``Method.code`` (see ``celltrace.qc.catalogue.METHODS``) -> calculator.
CALCULATORS: Final[dict[str, Calculator]] = {
    "viability": viability_from_hemocytometer,
    "cell-count": viable_cells_from_hemocytometer,
    "endotoxin": endotoxin_kinetic,
}


def calculator_for(method_code: str) -> Calculator | None:
    return CALCULATORS.get(method_code)


def compute(
    method_code: str, inputs: Mapping[str, Any], *, decimals: int | None, unit: str
) -> tuple[str, str, dict[str, Any]]:
    """Run the calculator registered for ``method_code``."""
    fn = calculator_for(method_code)
    if fn is None:
        raise Invalid(
            _("Method %(code)s has no calculator; enter the result.") % {"code": method_code}
        )
    return fn(inputs, decimals, unit)
