"""Rounding of reportable values and conformance to specification limits (pure Python).

Modes (``mode`` is case-insensitive):

``"usp"`` (default)
    USP General Notices 7.20: round the value, once and at the end, to the number of decimal
    places of the limit, half-up (a following digit of 5 or more adds 1). The limit is never
    rounded. ``ROUND_HALF_UP`` breaks ties away from zero, i.e. on the magnitude: -0.015 rounds
    to -0.02 at two places.
``"astm_e29"``
    ASTM E29 rounding method: as USP, but an exact half (5 followed only by zeros) goes to the
    even digit (§6.4.3, ``ROUND_HALF_EVEN``).
``"astm_e29_absolute"``
    ASTM E29 absolute method: the unrounded value is compared with the limit;
    :func:`round_to_limit` returns the value unchanged.
``"ph_eur"``
    Ph. Eur. convention: half-up, but to the number of **significant figures** of the limit
    ("140" has 3, "0.50" has 2). A limit of zero has no significant figures, so its decimal
    places are used instead.

Values and limits are strings (``Decimal`` is also accepted): floats are refused, because a
binary float cannot carry the decimals a result was reported with (``1.005`` is stored as
1.00499999…). Accepted syntax: optional sign, digits with an optional decimal point, optional
exponent (``"1.2E8"``); no spaces, underscores, NaN or infinity. A limit written with an
exponent is significant to its last digit shown: ``"2.0E8"`` has its last place at 10^7.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext
from typing import Final

__all__ = ["MODES", "RELATIONS", "conforms", "parse_decimal", "round_to_limit"]

MODES: Final = frozenset({"usp", "astm_e29", "astm_e29_absolute", "ph_eur"})
RELATIONS: Final = frozenset({">=", "<=", ">", "<", "=="})

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def parse_decimal(text: str | Decimal, argument: str) -> Decimal:
    """Parse a decimal string exactly; reject floats (TypeError) and malformed text (ValueError)."""
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise ValueError(f"{argument}: must be a finite number, got {text!r}")
        return text
    if isinstance(text, float):
        raise TypeError(
            f"{argument}: pass the value as a string such as '97.95', not a float "
            f"({text!r}); binary floats cannot carry reported decimals"
        )
    if not isinstance(text, str):
        raise TypeError(f"{argument}: must be a str, got {type(text).__name__}")
    if _NUMBER.fullmatch(text) is None:
        raise ValueError(
            f"{argument}: {text!r} is not a decimal number (expected e.g. '98.0', '-0.5', '1.2E8')"
        )
    return Decimal(text)


def _normalise_mode(mode: str) -> str:
    if not isinstance(mode, str) or mode.lower() not in MODES:
        raise ValueError(f"mode: {mode!r} is not one of {sorted(MODES)}")
    return mode.lower()


def _quantize(value: Decimal, exponent: int, rounding: str) -> Decimal:
    # quantize raises InvalidOperation if the result needs more digits than the context
    # precision; give it enough for any value we can be handed.
    with localcontext() as ctx:
        ctx.prec = max(28, len(value.as_tuple().digits) + abs(exponent) + 2)
        return value.quantize(Decimal(1).scaleb(exponent), rounding=rounding)


def _round(value: Decimal, limit: Decimal, mode: str) -> Decimal:
    limit_exponent = int(limit.as_tuple().exponent)
    if mode == "astm_e29_absolute":
        return value
    if mode == "astm_e29":
        return _quantize(value, limit_exponent, ROUND_HALF_EVEN)
    if mode == "ph_eur" and not limit.is_zero():
        significant = len(limit.as_tuple().digits)
        if value.is_zero():
            return _quantize(value, limit_exponent, ROUND_HALF_UP)
        exponent = value.adjusted() - significant + 1
        rounded = _quantize(value, exponent, ROUND_HALF_UP)
        # 99.96 to 3 s.f. carries into a new digit (100.0); drop the extra place so the result
        # keeps the limit's number of significant figures (100).
        if rounded.adjusted() > value.adjusted():
            rounded = _quantize(rounded, exponent + 1, ROUND_HALF_UP)
        return rounded
    return _quantize(value, limit_exponent, ROUND_HALF_UP)


def round_to_limit(value: str, limit: str, mode: str = "usp") -> Decimal:
    """Round ``value`` as the specification ``limit`` requires (see the module docstring).

    >>> round_to_limit("97.95", "98.0")
    Decimal('98.0')
    >>> round_to_limit("0.025", "0.02", mode="astm_e29")
    Decimal('0.02')
    """
    parsed_value = parse_decimal(value, "value")
    parsed_limit = parse_decimal(limit, "limit")
    return _round(parsed_value, parsed_limit, _normalise_mode(mode))


def conforms(value: str, limit: str, relation: str, mode: str = "usp") -> bool:
    """Whether ``value`` (rounded per ``mode``) satisfies ``value <relation> limit``.

    The limit is fixed and never rounded (USP GN 7.20); limits include their end values when the
    relation is ``>=`` or ``<=`` (GN 7.10).

    >>> conforms("101.55", "101.5", "<=")
    False
    """
    if relation not in RELATIONS:
        raise ValueError(f"relation: {relation!r} is not one of {sorted(RELATIONS)}")
    parsed_limit = parse_decimal(limit, "limit")
    rounded = round_to_limit(value, limit, mode)
    if relation == ">=":
        return rounded >= parsed_limit
    if relation == "<=":
        return rounded <= parsed_limit
    if relation == ">":
        return rounded > parsed_limit
    if relation == "<":
        return rounded < parsed_limit
    return rounded == parsed_limit
