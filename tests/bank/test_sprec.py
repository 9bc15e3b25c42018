"""SPREC 3.0 fluid codes: building, parsing, per-element validation, derived element codes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celltrace.bank.sprec import (
    CENTRIFUGATION,
    ELEMENTS,
    LONG_TERM_STORAGE,
    POST_CENTRIFUGATION,
    PRE_CENTRIFUGATION,
    PRIMARY_CONTAINER,
    TYPE_OF_SAMPLE,
    SprecCode,
    Temperature,
    allowed_values,
    build_sprec,
    centrifugation_code,
    parse_sprec,
    post_centrifugation_code,
    pre_centrifugation_code,
)


@pytest.fixture
def settings() -> SimpleNamespace:
    """Stand-in for pytest-django's ``settings`` (asked for by an autouse fixture in conftest).

    These tests are pure (no Django); this keeps them runnable with ``-p no:django``.
    """
    return SimpleNamespace()


def test_domain_facts_example_parses() -> None:
    # domain-facts §2: SER-SST-A-B-N-B-A, 17 characters.
    code = parse_sprec("SER-SST-A-B-N-B-A")
    assert code.type_of_sample == "SER"
    assert code.primary_container == "SST"
    assert code.pre_centrifugation == "A"
    assert code.centrifugation == "B"
    assert code.second_centrifugation == "N"
    assert code.post_centrifugation == "B"
    assert code.long_term_storage == "A"
    assert len(code.code) == 17
    assert code.describe()["type of sample"] == "Serum"


def test_build_immune_cell_bank_code() -> None:
    # Ficoll PBMC from an ACD apheresis product, processed within 2 h at RT, cryotube in LN2.
    code = build_sprec(
        type_of_sample="CEL",
        primary_container="ACD",
        pre_centrifugation="A",
        centrifugation="M",
        long_term_storage="C",
    )
    assert str(code) == "CEL-ACD-A-M-N-N-C"
    assert parse_sprec(str(code)) == code
    assert code.describe()["long-term storage"] == "Cryotube 1–2 mL, liquid nitrogen"


def test_bag_in_liquid_nitrogen() -> None:
    assert parse_sprec("CEL-ACD-B-M-N-A-Q").describe()["long-term storage"] == (
        "Bag, liquid nitrogen"
    )


@pytest.mark.parametrize(
    ("code", "element", "bad"),
    [
        ("SRM-SST-A-B-N-B-A", "type of sample", "'SRM'"),
        ("SER-SSX-A-B-N-B-A", "primary container", "'SSX'"),
        ("SER-SST-P-B-N-B-A", "pre-centrifugation", "'P'"),
        ("SER-SST-A-K-N-B-A", "centrifugation", "'K'"),
        ("SER-SST-A-B-Y-B-A", "second centrifugation", "'Y'"),
        ("SER-SST-A-B-N-K-A", "post-centrifugation", "'K'"),
        ("SER-SST-A-B-N-B-U", "long-term storage", "'U'"),
        ("ser-SST-A-B-N-B-A", "type of sample", "'ser'"),
    ],
)
def test_invalid_element_named_with_allowed_values(code: str, element: str, bad: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_sprec(code)
    message = str(excinfo.value)
    assert message.startswith(f"SPREC {element}: {bad}")
    assert "allowed:" in message


def test_error_lists_allowed_values() -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_sprec("SER-SST-A-B-N-K-A")
    assert "A, B, C, D, E, F, G, H, I, J, N, X, Z" in str(excinfo.value)


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("SER-SST-A-B-N-B", "expected 7 hyphen-separated elements"),
        ("SER-SST-A-B-N-B-A-A", "expected 7 hyphen-separated elements"),
        ("SERSSTABNBA", "expected 7 hyphen-separated elements"),
        ("SE-SST-A-B-N-B-A", "SPREC type of sample: expected 3 characters"),
        ("SER-SST-AB-B-N-B-A", "SPREC pre-centrifugation: expected 1 character"),
        ("", "expected 7 hyphen-separated elements"),
    ],
)
def test_malformed_structure(code: str, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_sprec(code)
    assert fragment in str(excinfo.value)


def test_version_differences() -> None:
    assert parse_sprec("CTC-CSV-A-B-N-B-A").version == "3.0"
    with pytest.raises(ValueError, match=r"'CTC' is not an allowed value in SPREC 2\.0"):
        parse_sprec("CTC-PED-A-B-N-B-A", version="2.0")
    with pytest.raises(ValueError, match=r"CPH is SPREC 3\.0 only"):
        parse_sprec("CEL-CPH-A-M-N-N-C", version="2.0")
    assert parse_sprec("CEL-CPT-A-M-N-N-C", version="2.0").primary_container == "CPT"
    with pytest.raises(ValueError, match="SPREC version"):
        parse_sprec("CEL-CPT-A-M-N-N-C", version="4.0")
    assert "CPH" in allowed_values(PRIMARY_CONTAINER, "3.0")
    assert "CPH" not in allowed_values(PRIMARY_CONTAINER, "2.0")


def test_tables_match_domain_facts_sizes() -> None:
    # Counts from domain-facts §2 lists.
    assert len(TYPE_OF_SAMPLE) == 36
    assert len(PRIMARY_CONTAINER) == 35
    assert len(PRE_CENTRIFUGATION) == 17
    assert len(CENTRIFUGATION) == 14
    assert len(POST_CENTRIFUGATION) == 13
    assert len(LONG_TERM_STORAGE) == 25
    assert all(len(code) == 3 for code in TYPE_OF_SAMPLE)
    assert all(len(code) == 3 for code in PRIMARY_CONTAINER)


@st.composite
def valid_codes(draw: st.DrawFn) -> SprecCode:
    parts = [draw(st.sampled_from(allowed_values(table))) for _, _, table, _ in ELEMENTS]
    return parse_sprec("-".join(parts))


@given(valid_codes())
def test_roundtrip(code: SprecCode) -> None:
    assert parse_sprec(code.code) == code
    assert len(code.code) == 17
    assert len(code.describe()) == 7


@pytest.mark.parametrize(
    ("hours", "temperature", "expected"),
    [
        (0, Temperature.ROOM, "A"),
        ("1.99", Temperature.COLD, "B"),
        (2, Temperature.ROOM, "C"),
        (5, Temperature.COLD, "F"),
        (12, Temperature.ROOM, "I"),
        (48, Temperature.COLD, "L"),
        (49, Temperature.ROOM, "M"),
        (1, Temperature.BODY, "O"),
        (3, Temperature.BODY, "Z"),
    ],
)
def test_pre_centrifugation_code(hours: int | str, temperature: Temperature, expected: str) -> None:
    assert pre_centrifugation_code(hours, temperature) == expected


@pytest.mark.parametrize(
    ("hours", "temperature", "expected"),
    [
        ("0.5", Temperature.COLD, "A"),
        ("0.5", Temperature.ROOM, "B"),
        (1, Temperature.ROOM, "D"),
        (7, Temperature.COLD, "E"),
        (24, Temperature.ROOM, "J"),
    ],
)
def test_post_centrifugation_code(
    hours: int | str, temperature: Temperature, expected: str
) -> None:
    assert post_centrifugation_code(hours, temperature) == expected


@pytest.mark.parametrize(
    ("g", "minutes", "temperature", "brake", "expected"),
    [
        (400, 30, Temperature.ROOM, False, "M"),
        (2500, 10, Temperature.ROOM, False, "A"),
        (2500, 15, Temperature.COLD, True, "D"),
        (3000, 10, Temperature.ROOM, True, "E"),
        (6000, 10, Temperature.COLD, True, "H"),
        (10001, 10, Temperature.ROOM, True, "I"),
        (4000, 10, Temperature.ROOM, False, "Z"),
        (2500, 20, Temperature.ROOM, True, "Z"),
    ],
)
def test_centrifugation_code(
    g: int, minutes: int, temperature: Temperature, brake: bool, expected: str
) -> None:
    assert (
        centrifugation_code(force_g=g, minutes=minutes, temperature=temperature, brake=brake)
        == expected
    )


def test_derived_codes_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="pre-centrifugation delay"):
        pre_centrifugation_code(-1, Temperature.ROOM)
    with pytest.raises(ValueError, match="not a number"):
        post_centrifugation_code("soon", Temperature.ROOM)
    with pytest.raises(ValueError, match="centrifugation force"):
        centrifugation_code(force_g="nan", minutes=10, temperature=Temperature.ROOM, brake=True)
