"""USP General Notices 7.20 rounding and conformance (domain-facts §5, worked examples §13.6)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celltrace.qc.rounding import conforms, round_to_limit

# domain-facts §13.6 (USP GN 7.20 illustration table): limit, relation, value, rounded, conforms
GN_720_TABLE = [
    ("98.0", ">=", "97.96", "98.0", True),
    ("98.0", ">=", "97.94", "97.9", False),
    ("98.0", ">=", "97.95", "98.0", True),
    ("101.5", "<=", "101.55", "101.6", False),
    ("101.5", "<=", "101.46", "101.5", True),
    ("101.5", "<=", "101.45", "101.5", True),
    ("0.02", "<=", "0.025", "0.03", False),
    ("0.02", "<=", "0.015", "0.02", True),
    ("0.02", "<=", "0.027", "0.03", False),
]


@pytest.mark.parametrize(("limit", "relation", "value", "rounded", "expected"), GN_720_TABLE)
def test_usp_gn_720_worked_examples(
    limit: str, relation: str, value: str, rounded: str, expected: bool
) -> None:
    result = round_to_limit(value, limit)
    assert result == Decimal(rounded)
    # same number of decimals as the limit, not just the same value
    assert result.as_tuple().exponent == Decimal(limit).as_tuple().exponent
    assert conforms(value, limit, relation) is expected


@pytest.mark.parametrize(
    ("value", "limit", "relation", "float_rounded", "usp_rounded", "usp_conforms"),
    [
        # float round() is half-to-even on a binary approximation: both rows go wrong with it
        ("0.015", "0.02", "<=", 0.01, "0.02", True),
        ("101.55", "101.5", "<=", 101.5, "101.6", False),
    ],
)
def test_float_round_regressions(
    value: str,
    limit: str,
    relation: str,
    float_rounded: float,
    usp_rounded: str,
    usp_conforms: bool,
) -> None:
    places = -int(Decimal(limit).as_tuple().exponent)
    # document the trap: Python's float round() disagrees with USP for these inputs
    assert round(float(value), places) == float_rounded
    assert round(float(value), places) != float(usp_rounded)
    assert round_to_limit(value, limit) == Decimal(usp_rounded)
    assert conforms(value, limit, relation) is usp_conforms


def test_float_round_false_pass_is_caught() -> None:
    # 101.55 against <= 101.5: float round() gives 101.5 (a false pass); USP says fail
    assert round(101.55, 1) <= 101.5
    assert conforms("101.55", "101.5", "<=") is False


def test_1_005_to_two_places() -> None:
    assert round(1.005, 2) == 1.0  # the binary-float trap from domain-facts §5
    assert round_to_limit("1.005", "0.01") == Decimal("1.01")


def test_limit_decimals_decide_precision() -> None:
    # "≥ 80 %" compares at 0 decimals, "≥ 80.0 %" at one (domain-facts §5)
    assert conforms("79.5", "80", ">=") is True
    assert conforms("79.5", "80.0", ">=") is False
    assert conforms("79.96", "80.0", ">=") is True


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("0.025", "0.02", "0.02"),  # exact half, even neighbour below
        ("0.035", "0.02", "0.04"),  # exact half, even neighbour above
        ("0.0251", "0.02", "0.03"),  # more than half
        ("101.45", "101.5", "101.4"),
        ("101.55", "101.5", "101.6"),
        ("97.95", "98.0", "98.0"),
    ],
)
def test_astm_e29_rounds_exact_halves_to_even(value: str, limit: str, expected: str) -> None:
    assert round_to_limit(value, limit, mode="astm_e29") == Decimal(expected)


def test_astm_and_usp_disagree_on_a_half_and_change_the_decision() -> None:
    # 0.025 vs <= 0.02: USP rounds to 0.03 (fails); ASTM E29 rounding to 0.02 (passes)
    assert conforms("0.025", "0.02", "<=", mode="usp") is False
    assert conforms("0.025", "0.02", "<=", mode="astm_e29") is True


def test_astm_e29_absolute_compares_unrounded() -> None:
    assert round_to_limit("101.46", "101.5", mode="astm_e29_absolute") == Decimal("101.46")
    assert conforms("97.96", "98.0", ">=", mode="astm_e29_absolute") is False
    assert conforms("98.00", "98.0", ">=", mode="astm_e29_absolute") is True


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("139.5", "140", "140"),  # "140" = 3 significant figures -> units place
        ("1234.5", "140", "1230"),  # 3 s.f. of a larger value: tens place
        ("0.0545", "0.50", "0.055"),  # "0.50" = 2 s.f.; USP would give 0.05
        ("99.96", "140", "100"),  # carry into a new digit keeps 3 s.f.
        ("0", "140", "0"),
        ("0.123", "0", "0"),  # zero limit: fall back to its decimal places
    ],
)
def test_ph_eur_significant_figures(value: str, limit: str, expected: str) -> None:
    assert round_to_limit(value, limit, mode="ph_eur") == Decimal(expected)


def test_ph_eur_mode_changes_reported_value_not_usual_decision() -> None:
    assert round_to_limit("0.0545", "0.50", mode="usp") == Decimal("0.05")
    assert round_to_limit("0.0545", "0.50", mode="ph_eur") == Decimal("0.055")
    assert conforms("0.0545", "0.50", "<=", mode="ph_eur") is True


def test_modes_are_case_insensitive() -> None:
    assert round_to_limit("0.025", "0.02", mode="ASTM_E29") == Decimal("0.02")
    assert round_to_limit("0.025", "0.02", mode="USP") == Decimal("0.03")


@pytest.mark.parametrize(
    ("value", "relation", "expected"),
    [
        ("5.0", "==", True),
        ("5.04", "==", True),
        ("5.05", "==", False),
        ("4.96", ">", False),
        ("5.06", ">", True),
        ("4.94", "<", True),
        ("4.96", "<", False),
    ],
)
def test_every_relation(value: str, relation: str, expected: bool) -> None:
    assert conforms(value, "5.0", relation) is expected


def test_negative_values_round_half_away_from_zero() -> None:
    # documented: ROUND_HALF_UP works on the magnitude
    assert round_to_limit("-0.015", "0.02") == Decimal("-0.02")
    assert round_to_limit("-0.014", "0.02") == Decimal("-0.01")


def test_exponent_notation_limits() -> None:
    # "2.0E8": last digit shown is the 10^7 place
    assert round_to_limit("195000000", "2.0E8") == Decimal("2.0E8")
    assert conforms("1.94E8", "2.0E8", ">=") is False
    assert conforms("1.95E8", "2.0E8", ">=") is True


def test_decimal_inputs_are_accepted() -> None:
    assert conforms(Decimal("97.95"), Decimal("98.0"), ">=") is True  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [97.95, 98.0])
def test_floats_are_refused_for_value(bad: float) -> None:
    with pytest.raises(TypeError, match="value"):
        conforms(bad, "98.0", ">=")  # type: ignore[arg-type]


def test_floats_are_refused_for_limit() -> None:
    with pytest.raises(TypeError, match="limit"):
        round_to_limit("97.95", 98.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad", ["", "abc", "1,5", " 1.5", "1.5 ", "NaN", "Infinity", "1_000", "--1", "1.2.3", "."]
)
def test_malformed_value_names_the_argument(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^value: "):
        round_to_limit(bad, "1.0")


@pytest.mark.parametrize("bad", ["", "x", "98,0", "inf"])
def test_malformed_limit_names_the_argument(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^limit: "):
        conforms("1.0", bad, "<=")


def test_unknown_relation_and_mode() -> None:
    with pytest.raises(ValueError, match="relation"):
        conforms("1.0", "1.0", "=>")
    with pytest.raises(ValueError, match="mode"):
        conforms("1.0", "1.0", "<=", mode="bankers")


# ----------------------------------------------------------------- properties against a reference


def _string_round(value: str, places: int, *, half_even: bool) -> str:
    """Independent reference: round a plain decimal string to ``places`` decimals by digits."""
    negative = value.startswith("-")
    digits = value.lstrip("+-")
    whole, _, frac = digits.partition(".")
    frac = frac.ljust(places + 1, "0")
    kept, following, rest = frac[:places], frac[places], frac[places + 1 :]
    number = int(whole + kept)
    if following > "5":
        up = True
    elif following < "5":
        up = False
    elif half_even and not rest.strip("0"):
        up = number % 2 == 1
    else:
        up = True
    number += 1 if up else 0
    text = str(number).rjust(places + 1, "0")
    out = text if places == 0 else text[:-places] + "." + text[-places:]
    return ("-" if negative else "") + out


_values = st.builds(
    lambda sign, whole, frac: f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}",
    st.sampled_from(["", "-"]),
    st.integers(min_value=0, max_value=10**6),
    st.text(alphabet="0123456789", max_size=8),
)


@given(value=_values, places=st.integers(min_value=0, max_value=5))
def test_usp_matches_string_reference(value: str, places: int) -> None:
    limit = "1" if places == 0 else "1." + "0" * places
    assert round_to_limit(value, limit) == Decimal(_string_round(value, places, half_even=False))


@given(value=_values, places=st.integers(min_value=0, max_value=5))
def test_astm_matches_string_reference(value: str, places: int) -> None:
    limit = "1" if places == 0 else "1." + "0" * places
    expected = Decimal(_string_round(value, places, half_even=True))
    assert round_to_limit(value, limit, mode="astm_e29") == expected


@given(value=_values, places=st.integers(min_value=0, max_value=5))
def test_conformance_is_monotone_in_the_value(value: str, places: int) -> None:
    limit = "50" if places == 0 else "50." + "0" * places
    bigger = str(Decimal(value) + 1)
    if conforms(value, limit, ">="):
        assert conforms(bigger, limit, ">=")
    if conforms(bigger, limit, "<="):
        assert conforms(value, limit, "<=")
