"""ISBT 128: check characters, DIN, flags, product code, dates, CoI and the scanner parser.

The published vectors come from domain-facts §13.1 and §13.2 (ICCBBA ST-001 v6.2.2).
"""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celltrace.bank import isbt128
from celltrace.bank.isbt128 import (
    ALPHABET,
    ChainOfIdentityId,
    CompoundMessage,
    Din,
    FlagKind,
    IsbtDate,
    IsbtDateTime,
    OtherStructure,
    ProductCode,
    RetiredStructure,
    check_character,
    classify_flags,
    decode_isbt_date,
    decode_isbt_datetime,
    encode_isbt_date,
    encode_isbt_datetime,
    encode_isbt_end_of_day,
    format_din,
    make_coi,
    make_din,
    mod37_2,
    parse_din,
    parse_product_code,
    parse_scan,
    type3_flags,
    validate_din,
    validate_fin,
    verify_with_check,
)


@pytest.fixture
def settings() -> SimpleNamespace:
    """Stand-in for pytest-django's ``settings`` (asked for by an autouse fixture in conftest).

    These tests are pure (no Django); this keeps them runnable with ``-p no:django``.
    """
    return SimpleNamespace()


# --- §13.1 worked examples -----------------------------------------------------------------

WORKED_EXAMPLES = [
    ("G123417654321", "A"),  # ST-001 Appendix A.1
    ("A999818123456", "N"),  # §7.5.1.1
    ("A999820123456", "E"),  # Appendix C
    ("A999917123456", "9"),  # Fig. 21
    ("A999917123654", "Y"),  # Fig. 21
    ("A999917345628", "*"),  # Fig. 22
    ("A999917345658", "O"),  # Fig. 22
    ("A999915000001", "M"),  # Fig. 23
    ("A999918000001", "8"),  # Fig. 23
    ("W000009123456", "G"),  # §7.4.1
]


@pytest.mark.parametrize(("din", "k"), WORKED_EXAMPLES)
def test_check_character_worked_examples(din: str, k: str) -> None:
    assert check_character(din) == k
    assert verify_with_check(din + k)


def test_appendix_a1_intermediate_values() -> None:
    # Weighted sum 146178, mod 37 = 28, 38 - 28 = 10 -> 'A'.
    din = "G123417654321"
    weighted = sum(ALPHABET.index(c) * 2 ** (len(din) - i) for i, c in enumerate(din))
    assert weighted == 146178
    assert weighted % 37 == 28
    assert mod37_2(din) == 10


def test_appendix_a1_type3_flags_and_ds001() -> None:
    assert type3_flags("G123417654321") == "70"
    din = parse_din("=G12341765432170")
    assert din.value == "G123417654321"
    assert din.flags == "70"
    assert din.flag_kind is FlagKind.TYPE3
    assert Din("G123417654321").with_type3_flags().data_structure == "=G12341765432170"


def test_worked_example_date_fig21() -> None:
    # §13.2: DS005 expiration 2018-01-29 23:59 -> 0180292359, barcode &>0180292359.
    zone = "Europe/London"
    dt = datetime(2018, 1, 29, 23, 59, tzinfo=ZoneInfo(zone))
    assert encode_isbt_datetime(dt, zone) == "0180292359"
    assert IsbtDateTime(dt, zone).data_structure == "&>0180292359"
    assert decode_isbt_datetime("0180292359", zone) == dt
    parsed = parse_scan("&>0180292359", zone=zone)
    assert isinstance(parsed, IsbtDateTime)
    assert parsed.value == dt
    assert encode_isbt_end_of_day(date(2018, 1, 29)) == "0180292359"


# --- MOD 37-2 properties ----------------------------------------------------------------------

DIN_STRATEGY = st.from_regex(r"[A-NP-Z1-9][A-NP-Z0-9]{2}[0-9]{10}", fullmatch=True)


@given(DIN_STRATEGY)
def test_verify_with_check_holds(din: str) -> None:
    assert verify_with_check(din + check_character(din))


@given(DIN_STRATEGY, st.data())
def test_single_substitution_detected(din: str, data: st.DataObject) -> None:
    full = din + check_character(din)
    pos = data.draw(st.integers(0, len(full) - 1), label="position")
    replacement = data.draw(st.sampled_from(ALPHABET), label="replacement")
    if replacement == full[pos]:
        return
    mutated = full[:pos] + replacement + full[pos + 1 :]
    assert not verify_with_check(mutated)


@given(DIN_STRATEGY)
def test_adjacent_transposition_detected(din: str) -> None:
    full = din + check_character(din)
    for i in range(len(full) - 1):
        if full[i] != full[i + 1]:
            swapped = full[:i] + full[i + 1] + full[i] + full[i + 2 :]
            assert not verify_with_check(swapped)


def test_check_character_can_be_any_of_37() -> None:
    seen = {check_character(f"A9999{n:08d}") for n in range(2000)}
    assert seen == set(ALPHABET)


def test_verify_with_check_rejects_garbage() -> None:
    assert not verify_with_check("")
    assert not verify_with_check("A")
    assert not verify_with_check("g123417654321a")
    assert not verify_with_check("G12341765432*A")


# --- malformed DINs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("din", "fragment"),
    [
        ("G12341765432", "expected 13 characters, got 12"),
        ("G1234176543210", "expected 13 characters, got 14"),
        ("", "expected 13 characters, got 0"),
        ("g123417654321", "uppercase"),
        ("O123417654321", "first character 'O'"),
        ("0123417654321", "first character '0'"),
        ("G12I417654321", "position 4"),
        ("G1*3417654321", "position 3"),
        ("G1234A7654321", "year"),
        ("G12341765432X", "sequence number"),
        ("G12341765 321", "sequence number"),
        ("G1234176543٢1", "sequence number"),  # Arabic-Indic digit: not ASCII
    ],
)
def test_check_character_rejects_malformed(din: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="DIN") as excinfo:
        check_character(din)
    assert fragment in str(excinfo.value)


def test_check_character_rejects_non_string() -> None:
    with pytest.raises(ValueError):
        check_character(123)  # type: ignore[arg-type]


def test_forward_compatible_vs_strict() -> None:
    din = "GA234176543210"[:13]
    assert validate_din(din) == din
    with pytest.raises(ValueError, match="strict"):
        validate_din(din, strict=True)
    assert validate_din("G123417654321", strict=True) == "G123417654321"


# --- flags ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "kind"),
    [
        ("00", FlagKind.NOT_USED),
        ("01", FlagKind.TYPE1),
        ("13", FlagKind.TYPE1),
        ("14", FlagKind.UNLISTED),
        ("19", FlagKind.TYPE1),
        ("20", FlagKind.TYPE2),
        ("59", FlagKind.TYPE2),
        ("60", FlagKind.TYPE3),
        ("96", FlagKind.TYPE3),
        ("97", FlagKind.RESERVED),
        ("99", FlagKind.RESERVED),
        ("AB", FlagKind.UNLISTED),
    ],
)
def test_classify_flags(flags: str, kind: FlagKind) -> None:
    assert classify_flags(flags) is kind


@pytest.mark.parametrize("flags", ["0I", "O0", "Q1", "Z9", "0", "000", "a0"])
def test_flags_outside_character_set_rejected(flags: str) -> None:
    with pytest.raises(ValueError, match="DIN flags"):
        classify_flags(flags)


@given(DIN_STRATEGY)
def test_type3_flags_roundtrip(din: str) -> None:
    flags = type3_flags(din)
    assert 60 <= int(flags) <= 96
    assert int(flags) - 60 == ALPHABET.index(check_character(din))
    assert parse_din(f"={din}{flags}").flags == flags


def test_wrong_type3_flags_rejected() -> None:
    with pytest.raises(ValueError, match=r"Type 3 flag '71'.*expected '70'"):
        parse_din("=G12341765432171")


def test_type1_and_type2_flags_are_kept() -> None:
    din = parse_din("=G12341765432106")
    assert din.flags == "06"
    assert din.flag_meaning == "pilot tube"
    assert parse_din("=G12341765432142").flag_kind is FlagKind.TYPE2


@pytest.mark.parametrize(
    ("scan", "fragment"),
    [
        ("G12341765432100", "expected 16 characters"),
        ("=G1234176543210", "expected 16 characters"),
        ("&G12341765432100", "data identifier '='"),
        ("=O12341765432100", "first character 'O'"),
        ("=G1234176543210I", "DIN flags"),
    ],
)
def test_parse_din_rejects(scan: str, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_din(scan)
    assert fragment in str(excinfo.value)


# --- formatting and generation ------------------------------------------------------------------


def test_format_din_grouping_and_hidden_flags() -> None:
    eye = format_din("G123417654321", "70")
    assert (eye.text, eye.check, eye.flags) == ("G1234 17 654321", "A", "")
    assert format_din("G123417654321").flags == ""
    assert format_din("G123417654321", "02").flags == "02"
    assert format_din("W000009123456").text.replace(" ", "") == "W000009123456"


def test_make_din_from_fin() -> None:
    din = make_din("G1234", 2017, 654321)
    assert din.value == "G123417654321"
    assert (din.fin, din.year, din.sequence) == ("G1234", "17", "654321")
    assert din.check == "A"
    assert make_din("A9999", 15, 1).value == "A999915000001"
    assert make_din("A9999", 15, 1).check == "M"


@pytest.mark.parametrize(
    ("fin", "year", "seq", "fragment"),
    [
        ("G123", 2017, 1, "FIN: expected 5 characters"),
        ("O1234", 2017, 1, "first character 'O'"),
        ("g1234", 2017, 1, "uppercase"),
        ("G12A4", 2017, 1, "positions 4–5"),
        ("G1234", 1999, 1, "DIN year"),
        ("G1234", 2017, 1_000_000, "DIN sequence number"),
        ("G1234", 2017, -1, "DIN sequence number"),
    ],
)
def test_make_din_rejects(fin: str, year: int, seq: int, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        make_din(fin, year, seq)
    assert fragment in str(excinfo.value)


def test_validate_fin_accepts_alphanumeric_positions_2_3() -> None:
    assert validate_fin("GA134") == "GA134"
    with pytest.raises(ValueError, match="position 2"):
        validate_fin("GO134")


# --- product code ---------------------------------------------------------------------------


def test_product_code_parse_and_format() -> None:
    pc = parse_product_code("=<S1234V00")
    assert (pc.pdc, pc.collection_type, pc.division) == ("S1234", "V", "00")
    assert pc.data_structure == "=<S1234V00"
    assert pc.eye_readable == "S1234V00"
    assert pc.family == "cellular therapy"
    assert not pc.is_divided
    assert parse_product_code("S12341Ab") == ProductCode("S1234", "1", "Ab")


def test_product_code_collection_type_semantics() -> None:
    assert ProductCode("S1234", "1").autologous_use_only
    assert ProductCode("S1234", "X").autologous_use_only
    assert ProductCode("S1234", "X").biohazard
    assert not ProductCode("S1234", "A").autologous_use_only
    assert not ProductCode("S1234", "V").autologous_use_only
    assert ProductCode("S1234", "r").research_only
    assert ProductCode("S1234", "V", "A0").is_divided


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("=<S1234V0", "expected '=<' + 8"),
        ("=<Q1234V00", "family 'Q'"),
        ("=<S12-4V00", "4 characters"),
        ("=<S1234Q00", "collection type (t): 'Q'"),
        ("=<S1234VA1", "division (ds): 'A1'"),
        ("=<S1234Vaa", "division (ds): 'aa'"),
        ("=<T1234a00", "division/pack code"),
    ],
)
def test_product_code_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_product_code(text)
    assert fragment in str(excinfo.value)


def test_non_ct_family_takes_pack_code() -> None:
    pc = parse_product_code("=<T1234000")
    assert pc.content == "T1234000"
    assert not pc.autologous_use_only


# --- dates ------------------------------------------------------------------------------------


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_isbt_date_roundtrip(d: date) -> None:
    text = encode_isbt_date(d)
    assert len(text) == 6
    assert text[0] == "0"
    assert decode_isbt_date(text) == d


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 2),  # noqa: DTZ001 (hypothesis bounds are naive)
        max_value=datetime(2099, 12, 30),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Shanghai"]),
)
def test_isbt_datetime_roundtrip_in_zone(dt: datetime, zone: str) -> None:
    text = encode_isbt_datetime(dt, zone)
    back = decode_isbt_datetime(text, zone)
    local = dt.astimezone(ZoneInfo(zone)).replace(second=0, microsecond=0)
    assert back.replace(tzinfo=None) == local.replace(tzinfo=None)


def test_datetime_encoded_in_facility_zone() -> None:
    instant = datetime(2018, 1, 29, 22, 59, tzinfo=UTC)
    assert encode_isbt_datetime(instant, "Europe/Paris") == "0180292359"
    assert encode_isbt_datetime(instant, "UTC") == "0180292259"


def test_leap_years_and_day_366() -> None:
    assert decode_isbt_date("020366") == date(2020, 12, 31)
    assert encode_isbt_date(date(2020, 12, 31)) == "020366"
    with pytest.raises(ValueError, match="001–365 for 2021"):
        decode_isbt_date("021366")
    assert decode_isbt_date("024060") == date(2024, 1, 1) + timedelta(days=59)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("118029", "century digit"),
        ("018000", "ordinal day"),
        ("01802", "6 digits"),
        ("01802A", "6 digits"),
    ],
)
def test_decode_isbt_date_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        decode_isbt_date(text)
    assert fragment in str(excinfo.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("0180292459", "hour"), ("0180292360", "minute"), ("018029235", "10 digits")],
)
def test_decode_isbt_datetime_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        decode_isbt_datetime(text, "UTC")
    assert fragment in str(excinfo.value)


def test_naive_datetime_and_bad_zone_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        encode_isbt_datetime(datetime(2018, 1, 29, 23, 59), "UTC")  # noqa: DTZ001
    with pytest.raises(ValueError, match="IANA"):
        encode_isbt_datetime(datetime(2018, 1, 29, tzinfo=UTC), "Mars/Olympus")
    with pytest.raises(ValueError, match="2000–2099"):
        encode_isbt_date(date(2100, 1, 1))


# --- chain of identity ------------------------------------------------------------------------


def test_coi_structure_and_check() -> None:
    coi = make_coi("G1234", 2024, "A1B2C3")
    assert coi.content == "CHG123424A1B2C3"
    assert coi.data_structure == "&/CHG123424A1B2C3"
    assert verify_with_check(coi.value + coi.check)
    parsed = parse_scan(coi.data_structure)
    assert parsed == coi


@pytest.mark.parametrize(
    ("scan", "fragment"),
    [
        ("&/XXG123424A1B2C3", "start with 'CH'"),
        ("&/CHG123424A1B2c3", "CoI sequence"),
        ("&/CHO123424A1B2C3", "CoI issuing FIN"),
        ("&/CHG123424A1B2C", "expected 17 characters"),
    ],
)
def test_coi_rejects(scan: str, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_scan(scan)
    assert fragment in str(excinfo.value)


def test_coi_direct_construction_validates() -> None:
    with pytest.raises(ValueError, match="CoI year"):
        ChainOfIdentityId("G1234", "2A", "A1B2C3")


# --- scanner parser ---------------------------------------------------------------------------


def test_scanner_recognises_structures() -> None:
    assert parse_scan("=G12341765432100") == Din("G123417654321", "00")
    assert parse_scan("=A99991712345600\r\n") == Din("A999917123456")
    assert parse_scan("]C0=G12341765432170") == Din("G123417654321", "70")
    assert parse_scan("=<S1234V00") == ProductCode("S1234", "V", "00")
    assert parse_scan("=>018029") == IsbtDate(date(2018, 1, 29))
    other = parse_scan("=,000003")
    assert isinstance(other, OtherStructure)
    assert other.ds == "032"
    assert isinstance(parse_scan("&,4" + "X" * 40), OtherStructure)


def test_din_needs_no_second_di_character() -> None:
    # After '=', a character in A–N, P–Z, 1–9 means DS001; digits too.
    assert isinstance(parse_scan("=123451712345600"), Din)
    with pytest.raises(ValueError, match="unrecognised"):
        parse_scan("=0G1234176543210")


def test_retired_structure_rejected_unless_legacy() -> None:
    retired = "&,3" + "A" * 17
    with pytest.raises(ValueError, match=r"DS037.*retired"):
        parse_scan(retired)
    legacy = parse_scan(retired, allow_retired=True)
    assert isinstance(legacy, RetiredStructure)
    assert legacy.ds == "037"


@pytest.mark.parametrize(
    ("scan", "fragment"),
    [
        ("", "empty"),
        ("G12341765432100", "must start with '='"),
        ("&,5" + "A" * 17, "third character 1–4"),
        ("&a12345", "national/local"),
        ("=~123", "unrecognised"),
        ("=<S1234V001", "expected 10 characters"),
        ("&>01802923", "expected 12 characters"),
    ],
)
def test_scanner_rejects(scan: str, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_scan(scan)
    assert fragment in str(excinfo.value)


def test_compound_message() -> None:
    text = "=+03000=G12341765432100=<S1234V00&>0180292359"
    msg = parse_scan(text, zone="Europe/Paris")
    assert isinstance(msg, CompoundMessage)
    assert msg.reference == "000"
    din, product, expiry = msg.structures
    assert din == Din("G123417654321")
    assert product == ProductCode("S1234", "V", "00")
    assert isinstance(expiry, IsbtDateTime)
    assert expiry.value == datetime(2018, 1, 29, 23, 59, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("=+02000=G12341765432100=<S1234V00&>0180292359", "announces 2"),
        ("=+03000=G12341765432100=<S1234V00&>01802923", "truncated"),
        ("=+01000=G12341765432100", "at least 2"),
        ("=+0200A=G12341765432100=<S1234V00", "5 digits"),
        ("=+02000=G12341765432100&abc", "national/local"),
        ("=+02000=G12341765432171=<S1234V00", "Type 3 flag"),
    ],
)
def test_compound_message_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_scan(text)
    assert fragment in str(excinfo.value)


def test_module_has_no_django_import() -> None:
    tree = ast.parse(Path(isbt128.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported
    assert not any(name.split(".")[0] == "django" for name in imported)
