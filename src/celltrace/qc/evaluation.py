"""Evaluation of a reported value against a specification limit (pure; no database writes).

Numeric limits are compared with :func:`celltrace.qc.rounding.conforms` in the specification's
rounding mode (USP General Notices 7.20 by default): the value is rounded to the limit's decimals,
the limit never. A value reported with a comparator (``"< 0.5"``, below the quantitation limit)
conforms to an upper limit only if its bound does, and never to a lower limit
(docs/design/domain-facts.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from celltrace.core.errors import Invalid
from celltrace.qc.choices import Conformance, LimitKind, ResultType
from celltrace.qc.models import MethodVersion, SpecificationLimit
from celltrace.qc.rounding import conforms, parse_decimal, round_to_limit


@dataclass(frozen=True)
class Evaluation:
    value_text: str
    comparator: str
    value: Decimal | None
    reported_value: str
    conformance: str
    alert: bool
    limit_text: str


#: Significant digits a stored result keeps on every database (SQLite stores 15).
SIGNIFICANT_DIGITS = 15


def _decimals(limit: str) -> int:
    return -int(Decimal(limit).as_tuple().exponent)


def parse_reported(text: str) -> tuple[str, Decimal]:
    """``"< 0.50"`` → ``("<", Decimal("0.50"))``; raises :class:`Invalid` for non-numbers."""
    raw = text.strip()
    comparator = ""
    if raw[:1] in {"<", ">"}:
        comparator, raw = raw[0], raw[1:].strip()
    try:
        value = parse_decimal(raw, "value")
    except (TypeError, ValueError) as exc:
        raise Invalid(
            _("%(value)s is not a number; write it like 69.5, 0.25 or < 0.05.") % {"value": text},
            field="value",
        ) from exc
    _require_storable(text, value)
    return comparator, value


def _require_storable(text: str, value: Decimal) -> None:
    """The stored value (``Result.value``) holds at most ``max_digits - decimal_places``
    digits before the point and ``decimal_places`` after it, and SQLite keeps 15 significant
    digits: refuse a value beyond that rather than store one that cannot be read back, or
    round it silently."""
    from celltrace.qc.models import Result

    field = Result._meta.get_field("value")
    places = int(field.decimal_places)
    whole = int(field.max_digits) - places
    # integer arithmetic on the digits as written (normalize() would overflow on 1E+1000000);
    # trailing zeros do not count: 0.10000000000 is 0.1
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite (parse_decimal)
    significant = len(digits)
    while significant > 1 and digits[significant - 1] == 0:
        significant -= 1
        exponent += 1
    if significant == 1 and digits[0] == 0:
        return  # zero, however written
    if -exponent > places:
        raise Invalid(
            _("%(value)s has more than %(n)s decimal places; round it as the method reports it.")
            % {"value": text, "n": places},
            field="value",
        )
    if significant > SIGNIFICANT_DIGITS:
        raise Invalid(
            _("%(value)s has more than %(n)s significant digits.")
            % {"value": text, "n": SIGNIFICANT_DIGITS},
            field="value",
        )
    if significant + exponent > whole:  # digits before the point
        raise Invalid(
            _("%(value)s is too large: at most %(n)s digits before the decimal point.")
            % {"value": text, "n": whole},
            field="value",
        )


#: A result in this unit is a share of a whole: it lies from 0 to 100.
PERCENT_UNITS = frozenset({"%"})

#: Marks of a unit on a scale that goes below zero (temperatures, potentials, logarithms,
#: differences): a method reporting in such a unit allows negative results.
SIGNED_UNIT_MARKS = ("°", "℃", "℉", "log", "Δ", "delta", "mv", "db", "change", "difference")


@dataclass(frozen=True)
class ValueRange:
    """What a numeric result in a unit may be: ``lower`` and ``upper`` inclusive (None: open)
    and the rule as the analyst reads it."""

    lower: Decimal | None
    upper: Decimal | None
    rule: str


def value_range(unit: str) -> ValueRange | None:
    """The range of a numeric result reported in ``unit``, from the unit alone (the method
    version's, or the one the result is entered in): a percentage (``%``) lies from 0 to 100;
    a count, concentration or other quantity with a unit (cells/mL, EU/mL, copies/cell …) is
    not below 0, unless the unit is on a signed scale (:data:`SIGNED_UNIT_MARKS`). A method
    without a unit sets no range."""
    text = " ".join(unit.split())
    if not text:
        return None
    if text in PERCENT_UNITS:
        return ValueRange(
            Decimal(0), Decimal(100), _("a result in %(unit)s lies from 0 to 100") % {"unit": text}
        )
    folded = text.casefold()
    if any(mark.casefold() in folded for mark in SIGNED_UNIT_MARKS):
        return None
    return ValueRange(
        Decimal(0),
        None,
        _("a result in %(unit)s (a count or concentration) is not below 0") % {"unit": text},
    )


def require_in_range(text: str, comparator: str, value: Decimal, unit: str) -> None:
    """Refuse, naming ``value`` and the rule, a result its unit makes impossible (150 %, -3
    cells/mL); a bound written with a comparator must leave room inside the range ("> 100 %"
    and "< 0 EU/mL" are refused, "< 0.05 EU/mL" is not)."""
    bounds = value_range(unit)
    if bounds is None:
        return
    low, high = bounds.lower, bounds.upper
    outside = (low is not None and (value < low or (comparator == "<" and value <= low))) or (
        high is not None and (value > high or (comparator == ">" and value >= high))
    )
    if outside:
        raise Invalid(
            _("%(value)s %(unit)s is not a possible result: %(rule)s.")
            % {"value": text.strip(), "unit": " ".join(unit.split()), "rule": bounds.rule},
            field="value",
        )


def _meets(comparator: str, value: Decimal, limit: str, relation: str, mode: str) -> bool:
    lower_bound = relation in {">=", ">"}
    if comparator == "<" and lower_bound:
        return False  # "< x" cannot show that a minimum is met
    if comparator == ">" and not lower_bound:
        return False  # "> x" cannot show that a maximum is respected
    return conforms(str(value), limit, relation, mode)


def _numeric(
    comparator: str, value: Decimal, limit: SpecificationLimit, mode: str
) -> tuple[bool | None, bool, str]:
    """(conforms or None when report-only, beyond alert limit, rounded value as reported)."""
    lower_rel = ">=" if limit.lower_inclusive else ">"
    upper_rel = "<=" if limit.upper_inclusive else "<"
    checks: list[bool] = []
    alert = False
    governing = ""
    if limit.kind in {LimitKind.AT_LEAST, LimitKind.RANGE}:
        checks.append(_meets(comparator, value, limit.lower, lower_rel, mode))
        governing = limit.lower
        if limit.alert_lower:
            alert = alert or not _meets(comparator, value, limit.alert_lower, ">=", mode)
    if limit.kind in {LimitKind.AT_MOST, LimitKind.RANGE}:
        checks.append(_meets(comparator, value, limit.upper, upper_rel, mode))
        if not governing or _decimals(limit.upper) > _decimals(governing):
            governing = limit.upper
        if limit.alert_upper:
            alert = alert or not _meets(comparator, value, limit.alert_upper, "<=", mode)
    if not checks:
        return None, False, f"{comparator} {value}".strip()
    ok = all(checks)
    if comparator:  # a bound (e.g. the quantitation limit) is reported as written
        return ok, (alert and ok), f"{comparator} {value}"
    return ok, (alert and ok), str(round_to_limit(str(value), governing, mode))


def evaluate(
    value_text: str,
    method_version: MethodVersion,
    limit: SpecificationLimit | None,
    rounding_mode: str,
    unit: str | None = None,
) -> Evaluation:
    """Parse ``value_text`` for the method's result type and judge it against ``limit``.

    A numeric value is held to the range of the method version's unit and, when the result is
    entered in another ``unit``, of that unit too (see :func:`value_range`) before it is
    judged: 150 % is refused, not "does not conform"."""
    text = value_text.strip()
    if not text:
        raise Invalid(_("Enter the result."), field="value")
    limit_text = limit.display if limit is not None else ""
    if method_version.result_type == ResultType.NUMERIC:
        comparator, value = parse_reported(text)
        for held_to in dict.fromkeys([method_version.unit, unit or ""]):
            require_in_range(text, comparator, value, held_to)
        if limit is None or limit.kind in {LimitKind.REPORT, LimitKind.QUALITATIVE}:
            return Evaluation(
                text, comparator, value, text, Conformance.NOT_APPLICABLE, False, limit_text
            )
        ok, alert, reported = _numeric(comparator, value, limit, rounding_mode)
        conformance = (
            Conformance.NOT_APPLICABLE
            if ok is None
            else (Conformance.CONFORMS if ok else Conformance.DOES_NOT_CONFORM)
        )
        return Evaluation(text, comparator, value, reported, conformance, alert, limit_text)
    if method_version.result_type == ResultType.QUALITATIVE:
        options = {str(o).casefold(): str(o) for o in method_version.qualitative_options}
        if options and text.casefold() not in options:
            raise Invalid(
                _("Choose one of: %(options)s.") % {"options": ", ".join(options.values())},
                field="value",
            )
        text = options.get(text.casefold(), text)
    if limit is None or limit.kind != LimitKind.QUALITATIVE:
        return Evaluation(text, "", None, text, Conformance.NOT_APPLICABLE, False, limit_text)
    ok = text.casefold() == limit.expected_text.strip().casefold()
    conformance = Conformance.CONFORMS if ok else Conformance.DOES_NOT_CONFORM
    return Evaluation(text, "", None, text, conformance, False, limit_text)
