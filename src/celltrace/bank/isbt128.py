"""ISBT 128 identifiers for cellular therapy: pure functions, no Django.

Implements, from ICCBBA ST-001 v6.2.2 as summarised in ``docs/design/domain-facts.md`` §1:

* the ISO/IEC 7064 MOD 37-2 check character K (Appendix A);
* the Donation Identification Number (DIN) and data structure DS001, with its flags and the
  Type 3 (checksum) flags, eye-readable formatting and generation from a facility's FIN;
* the Product Code, data structure DS003 (``=<`` + ``αooootds``);
* expiration dates DS004 (``=>cyyjjj``) and DS005 (``&>cyyjjjhhmm``), encoded in the labelling
  facility's IANA time zone;
* the Chain of Identity identifier, data structure DS040 (``&/CH`` + 13 characters);
* Compound Messages DS023 (``=+aabbb`` + structures);
* a scanner parser that tells which data structure a scanned string is.

ISBT 128 is licensed by ICCBBA. This module ships **no ICCBBA tables**: a facility loads its own
Facility Identification Number (FIN) and its licensed Product Description Codes; here they are
only checked for shape.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "ALPHABET",
    "COLLECTION_TYPES",
    "DIN_LENGTH",
    "RETIRED_STRUCTURES",
    "ChainOfIdentityId",
    "CompoundMessage",
    "Din",
    "EyeReadableDin",
    "FlagKind",
    "IsbtDate",
    "IsbtDateTime",
    "OtherStructure",
    "ProductCode",
    "RetiredStructure",
    "ScannedStructure",
    "check_character",
    "classify_flags",
    "decode_isbt_date",
    "decode_isbt_datetime",
    "encode_isbt_date",
    "encode_isbt_datetime",
    "encode_isbt_end_of_day",
    "format_din",
    "make_coi",
    "make_din",
    "mod37_2",
    "parse_compound_message",
    "parse_din",
    "parse_product_code",
    "parse_scan",
    "type3_flags",
    "validate_din",
    "validate_fin",
    "verify_with_check",
]

# --------------------------------------------------------------------------------------------
# ISO/IEC 7064 MOD 37-2 (ST-001 Appendix A, Table 35)
# --------------------------------------------------------------------------------------------

#: Character values of MOD 37-2: ``0``–``9`` → 0–9, ``A``–``Z`` → 10–35, ``*`` → 36.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
#: Data characters over which MOD 37-2 is computed (``*`` occurs only as a check character).
_DATA_CHARS = frozenset(ALPHABET[:36])

DIN_LENGTH = 13
_FIRST_CHARS = "A–N, P–Z or 1–9 (never O or 0)"
_FIRST_RE = re.compile(r"[A-NP-Z1-9]")
_FIN_ALNUM_RE = re.compile(r"[A-NP-Z0-9]")
_DIN_STRICT_RE = re.compile(r"[A-NP-Z1-9][0-9]{12}")
_DIN_RE = re.compile(r"[A-NP-Z1-9][A-NP-Z0-9]{2}[0-9]{10}")


def mod37_2(data: str) -> int:
    """Return the MOD 37-2 checksum (0–36) of ``data`` (uppercase ``0``–``9``, ``A``–``Z``).

    Raises ``ValueError`` if ``data`` is empty or holds any other character; MOD 37-2 must not be
    used on structures containing lowercase letters (ST-001 Appendix A).
    """
    if not data:
        raise ValueError("MOD 37-2: data must not be empty")
    total = 0
    for pos, ch in enumerate(data, start=1):
        if ch not in _DATA_CHARS:
            raise ValueError(
                f"MOD 37-2: character {ch!r} at position {pos} is not allowed "
                "(only uppercase A–Z and 0–9; never lowercase)"
            )
        total = ((total + _VALUE[ch]) * 2) % 37
    return (38 - total) % 37


def verify_with_check(data_plus_k: str) -> bool:
    """True if the last character of ``data_plus_k`` is its correct MOD 37-2 check character.

    Pure-system verification: the weighted sum over data and K is ≡ 1 (mod 37). Returns False for
    strings shorter than two characters or with characters outside the MOD 37-2 alphabet.
    """
    n = len(data_plus_k)
    if n < 2 or any(ch not in _VALUE for ch in data_plus_k):
        return False
    if "*" in data_plus_k[:-1]:
        return False
    total = sum(_VALUE[ch] * pow(2, n - 1 - i, 37) for i, ch in enumerate(data_plus_k))
    return total % 37 == 1


# --------------------------------------------------------------------------------------------
# FIN and DIN (DS001)
# --------------------------------------------------------------------------------------------


def validate_fin(fin: str, *, field: str = "FIN") -> str:
    """Validate a 5-character Facility Identification Number and return it.

    Rules (ST-001 §2.4.1, Table 3 of docs/design/domain-facts.md): position 1 is
    ``A–N, P–Z, 1–9``; positions 2–3 are ``A–N, P–Z, 0–9``; positions 4–5 are digits;
    uppercase only.
    """
    if not isinstance(fin, str):
        raise ValueError(f"{field}: expected a string, got {type(fin).__name__}")
    if len(fin) != 5:
        raise ValueError(f"{field}: expected 5 characters, got {len(fin)}")
    if fin != fin.upper():
        raise ValueError(f"{field}: must be uppercase")
    if not _FIRST_RE.fullmatch(fin[0]):
        raise ValueError(f"{field}: first character {fin[0]!r} is not allowed; use {_FIRST_CHARS}")
    for pos in (1, 2):
        if not _FIN_ALNUM_RE.fullmatch(fin[pos]):
            raise ValueError(
                f"{field}: character {fin[pos]!r} at position {pos + 1} is not allowed "
                "(positions 2–3 take A–N, P–Z or 0–9)"
            )
    for pos in (3, 4):
        if not fin[pos].isdigit() or not fin[pos].isascii():
            raise ValueError(
                f"{field}: character {fin[pos]!r} at position {pos + 1} is not allowed "
                "(positions 4–5 must be digits 0–9)"
            )
    return fin


def validate_din(din: str, *, strict: bool = False) -> str:
    """Validate a 13-character DIN (``αppppyynnnnnn``, no ``=``, no flags) and return it.

    ``strict`` applies today's rule ``^[A-NP-Z1-9][0-9]{12}$``; otherwise the forward-compatible
    ``^[A-NP-Z1-9][A-NP-Z0-9]{2}[0-9]{10}$`` (FIN positions 2–3 may become alphanumeric).
    Raises ``ValueError`` naming the rule that failed.
    """
    if not isinstance(din, str):
        raise ValueError(f"DIN: expected a string, got {type(din).__name__}")
    if len(din) != DIN_LENGTH:
        raise ValueError(f"DIN: expected {DIN_LENGTH} characters, got {len(din)}")
    if din != din.upper():
        raise ValueError("DIN: must be uppercase (MOD 37-2 is not defined for lowercase)")
    validate_fin(din[:5], field="DIN facility code (FIN, positions 1–5)")
    for pos in range(5, DIN_LENGTH):
        ch = din[pos]
        if not (ch.isascii() and ch.isdigit()):
            part = "year (positions 6–7)" if pos < 7 else "sequence number (positions 8–13)"
            raise ValueError(
                f"DIN {part}: character {ch!r} at position {pos + 1} is not allowed (digits 0–9)"
            )
    if strict and not _DIN_STRICT_RE.fullmatch(din):
        raise ValueError(
            "DIN: strict rule ^[A-NP-Z1-9][0-9]{12}$ requires positions 2–13 to be digits"
        )
    return din


def check_character(din: str) -> str:
    """Return the MOD 37-2 check character K of a 13-character DIN.

    K is one of the 37 characters ``0``–``9``, ``A``–``Z``, ``*`` (it can be ``O`` or ``*``).
    Raises ``ValueError`` on a malformed DIN: wrong length, lowercase, forbidden first character
    (``O``/``0``) or characters outside the allowed set for their position.
    """
    return ALPHABET[mod37_2(validate_din(din))]


def type3_flags(din: str) -> str:
    """Return the Type 3 flag characters ``'60'``–``'96'`` (60 + MOD 37-2 checksum of the DIN)."""
    return f"{60 + mod37_2(validate_din(din)):02d}"


class FlagKind(enum.Enum):
    """Interpretation of the two DS001 flag characters (ST-001 Table 3)."""

    NOT_USED = "not used"  # 00
    TYPE1 = "type 1"  # 01–13, 15–19: ICCBBA-defined meanings
    TYPE2 = "type 2 (local)"  # 20–59: meaningful only to the defining facility
    TYPE3 = "type 3 (checksum)"  # 60–96
    RESERVED = "reserved"  # 97–99
    UNLISTED = "unlisted"  # anything else allowed by the character set: stored, not interpreted


_FLAG_RE = re.compile(r"[0-9A-HJ-NPR-Y]{2}")
_TYPE1_MEANINGS = {
    "01": "container 1 of a set",
    "02": "container 2 of a set",
    "03": "container 3 of a set",
    "04": "container 4 of a set",
    "05": "repeat demand-printed label",
    "06": "pilot tube",
    "07": "test tube",
    "08": "donor record",
    "09": "NAT sample tube",
    "10": "bacterial-testing samples",
    "11": "match-with-unit label",
    "12": "affixed partial label",
    "13": "attached label",
    "15": "container 5 of a set",
    "16": "container 6 of a set",
    "17": "container 7 of a set",
    "18": "container 8 of a set",
    "19": "container 9 of a set",
}


def _validate_flag_chars(flags: str) -> str:
    if not isinstance(flags, str) or len(flags) != 2:
        got = len(flags) if isinstance(flags, str) else type(flags).__name__
        raise ValueError(f"DIN flags: expected 2 characters, got {got}")
    if not _FLAG_RE.fullmatch(flags):
        raise ValueError(
            f"DIN flags: {flags!r} not allowed (each character 0–9, A–H, J–N, P or R–Y)"
        )
    return flags


def classify_flags(flags: str) -> FlagKind:
    """Classify the DS001 flag characters; raises ``ValueError`` on characters outside the set."""
    _validate_flag_chars(flags)
    if not flags.isdigit():
        return FlagKind.UNLISTED
    n = int(flags)
    if n == 0:
        return FlagKind.NOT_USED
    if flags in _TYPE1_MEANINGS:
        return FlagKind.TYPE1
    if 20 <= n <= 59:
        return FlagKind.TYPE2
    if 60 <= n <= 96:
        return FlagKind.TYPE3
    if n >= 97:
        return FlagKind.RESERVED
    return FlagKind.UNLISTED  # 14


@dataclass(frozen=True, slots=True)
class EyeReadableDin:
    """Eye-readable DIN text: grouped DIN, its check character (printed boxed) and any flags.

    ``flags`` is empty for ``00`` and for Type 3 flags (never printed); Type 1/2 flags are given
    so that the label can print them rotated 90° clockwise.
    """

    text: str
    check: str
    flags: str


def format_din(din: str, flags: str = "00") -> EyeReadableDin:
    """Format a DIN for printing: ``G1234 17 654321`` plus K shown separately (boxed on labels)."""
    validate_din(din)
    kind = classify_flags(flags)
    shown = "" if kind in (FlagKind.NOT_USED, FlagKind.TYPE3) else flags
    return EyeReadableDin(
        text=f"{din[:5]} {din[5:7]} {din[7:]}", check=check_character(din), flags=shown
    )


@dataclass(frozen=True, slots=True)
class Din:
    """A Donation Identification Number with the flag characters it was scanned or printed with."""

    value: str
    flags: str = "00"

    def __post_init__(self) -> None:
        validate_din(self.value)
        kind = classify_flags(self.flags)
        if kind is FlagKind.TYPE3 and self.flags != type3_flags(self.value):
            raise ValueError(
                f"DIN flags: Type 3 flag {self.flags!r} does not match the DIN {self.value}; "
                f"expected {type3_flags(self.value)!r} (60 + MOD 37-2 checksum)"
            )

    @property
    def fin(self) -> str:
        """Facility Identification Number (characters 1–5)."""
        return self.value[:5]

    @property
    def year(self) -> str:
        """Nominal two-digit year (characters 6–7)."""
        return self.value[5:7]

    @property
    def sequence(self) -> str:
        """Six-digit sequence number within the year for the FIN (characters 8–13)."""
        return self.value[7:]

    @property
    def check(self) -> str:
        """MOD 37-2 check character K."""
        return check_character(self.value)

    @property
    def flag_kind(self) -> FlagKind:
        return classify_flags(self.flags)

    @property
    def flag_meaning(self) -> str:
        """Description of the flags (Type 1 meaning, or the kind)."""
        return _TYPE1_MEANINGS.get(self.flags, self.flag_kind.value)

    @property
    def data_structure(self) -> str:
        """DS001 as carried in a barcode: ``=`` + 13-character DIN + 2 flag characters."""
        return f"={self.value}{self.flags}"

    def with_type3_flags(self) -> Din:
        """The same DIN carrying its Type 3 (checksum) flags."""
        return Din(self.value, type3_flags(self.value))

    def eye_readable(self) -> EyeReadableDin:
        return format_din(self.value, self.flags)


def parse_din(scanned: str) -> Din:
    """Parse DS001 ``=`` + 13-character DIN + 2 flag characters (16 characters).

    Type 3 flags (60–96) must equal 60 + MOD 37-2 of the DIN; other flags are stored as read.
    """
    if not isinstance(scanned, str):
        raise ValueError(f"DS001: expected a string, got {type(scanned).__name__}")
    if len(scanned) != 16:
        raise ValueError(
            f"DS001: expected 16 characters ('=' + 13-character DIN + 2 flags), got {len(scanned)}"
        )
    if scanned[0] != "=":
        raise ValueError(f"DS001: must start with the data identifier '=', got {scanned[0]!r}")
    return Din(scanned[1:14], scanned[14:16])


def make_din(fin: str, year: int, sequence: int, flags: str = "00") -> Din:
    """Generate a DIN from the facility's FIN, the nominal year and a sequence number.

    ``year`` is the calendar year (e.g. 2017; its last two digits are used) or 0–99;
    ``sequence`` is 0–999,999, unique within the year for the FIN (the caller allocates it).
    """
    validate_fin(fin)
    if isinstance(year, bool) or not isinstance(year, int):
        raise ValueError("DIN year: expected an int")
    if not (0 <= year <= 99 or 2000 <= year <= 2099):
        raise ValueError(f"DIN year: {year} out of range (0–99 or 2000–2099)")
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise ValueError("DIN sequence number: expected an int")
    if not 0 <= sequence <= 999_999:
        raise ValueError(f"DIN sequence number: {sequence} out of range (0–999999)")
    return Din(f"{fin}{year % 100:02d}{sequence:06d}", flags)


# --------------------------------------------------------------------------------------------
# Product code (DS003)
# --------------------------------------------------------------------------------------------

#: Collection types (ST-001 Table 7) relevant to cellular therapy. ``t`` of S-codes.
COLLECTION_TYPES: dict[str, str] = {
    "0": "not specified",
    "V": "volunteer homologous (allogeneic)",
    "A": "autologous, eligible for crossover",
    "1": "for autologous use only",
    "X": "for autologous use only, biohazard",
    "D": "volunteer directed",
    "2": "for directed recipient use only",
    "3": "for directed recipient use only, biohazard",
    "4": "designated",
    "5": "dedicated",
    "6": "designated, biohazard",
    "E": "medical exception",
    "7": "for allogeneic use",
    "8": "autologous, contains allogeneic material",
    "B": "directed variant",
    "H": "dedicated variant",
    "J": "designated variant",
    "G": "for emergency use only",
    "F": "family reserved",
    "C": "replacement",
    "R": "research, not for human use",
    "r": "research, not for human use",
    "P": "paid homologous",
}
#: Collection types whose label carries "For autologous use only".
AUTOLOGOUS_ONLY_TYPES = frozenset({"1", "X"})
#: Collection types whose label carries a biohazard statement.
BIOHAZARD_TYPES = frozenset({"X", "3", "6"})
#: Collection types that mark research material, not for human use.
RESEARCH_TYPES = frozenset({"R", "r"})

_PRODUCT_FAMILIES: dict[str, str] = {
    "A": "national",
    "B": "national",
    "C": "national",
    "D": "local",
    "E": "blood component",
    "F": "blood component",
    "H": "MPHO with INN/USAN",
    "M": "other therapies",
    "N": "organ",
    "P": "regenerated tissue",
    "R": "reproductive",
    "S": "cellular therapy",
    "T": "tissue",
    "V": "ocular",
    "W": "fecal microbiota",
    "X": "other blood product",
    "Y": "clinical trial",
}
_DIVISION_RE = re.compile(r"00|[A-Z]0|[A-Z][a-z]")
_PACK_RE = re.compile(r"[0-9A-Z]{3}")
_PDC_TAIL_RE = re.compile(r"[0-9A-Z]{4}")


def _has_collection_type(pdc: str) -> bool:
    """True if ``tds`` is collection type + division for this PDC (S, E, F, H, P, X0, YA–YZ)."""
    fam = pdc[0]
    return fam in "SEFHP" or (fam == "X" and pdc[1] == "0") or (fam == "Y" and pdc[1].isalpha())


@dataclass(frozen=True, slots=True)
class ProductCode:
    """ISBT 128 Product Code (DS003 ``=<αooootds``).

    ``pdc`` is the 5-character Product Description Code from the facility's licensed set.
    For S codes (and E, F, H, P, X0, YA–YZ) ``collection_type`` is ``t`` and ``division`` is
    ``ds`` (``00`` undivided, ``A0``–``Z0`` first level, ``Aa``–``Zz`` second level). For other
    families ``collection_type`` + ``division`` are the 3-character division/pack code.
    """

    pdc: str
    collection_type: str
    division: str = "00"

    def __post_init__(self) -> None:
        pdc = self.pdc
        if not isinstance(pdc, str) or len(pdc) != 5:
            got = len(pdc) if isinstance(pdc, str) else type(pdc).__name__
            raise ValueError(f"Product code PDC (αoooo): expected 5 characters, got {got}")
        if pdc[0] not in _PRODUCT_FAMILIES:
            raise ValueError(
                f"Product code PDC: family {pdc[0]!r} is not allowed "
                f"(one of {', '.join(sorted(_PRODUCT_FAMILIES))}; S = cellular therapy)"
            )
        if not _PDC_TAIL_RE.fullmatch(pdc[1:]):
            raise ValueError(
                f"Product code PDC: {pdc[1:]!r} after the family letter must be 4 characters "
                "A–Z or 0–9"
            )
        if _has_collection_type(pdc):
            if self.collection_type not in COLLECTION_TYPES:
                raise ValueError(
                    f"Product code collection type (t): {self.collection_type!r} is not allowed "
                    f"(one of {' '.join(COLLECTION_TYPES)})"
                )
            if not isinstance(self.division, str) or not _DIVISION_RE.fullmatch(self.division):
                raise ValueError(
                    f"Product code division (ds): {self.division!r} is not allowed "
                    "(00 undivided, A0–Z0 first level, Aa–Zz second level)"
                )
        else:
            tds = f"{self.collection_type}{self.division}"
            if not _PACK_RE.fullmatch(tds):
                raise ValueError(
                    f"Product code division/pack code (tds): {tds!r} must be 3 characters "
                    "A–Z or 0–9 (000 = undivided)"
                )

    @property
    def family(self) -> str:
        return _PRODUCT_FAMILIES[self.pdc[0]]

    @property
    def content(self) -> str:
        """The 8 data characters ``αooootds``."""
        return f"{self.pdc}{self.collection_type}{self.division}"

    @property
    def data_structure(self) -> str:
        """DS003 as carried in a barcode: ``=<`` + 8 characters."""
        return f"=<{self.content}"

    @property
    def eye_readable(self) -> str:
        """Eye-readable product code: the 8 data characters without the data identifier."""
        return self.content

    @property
    def collection_type_meaning(self) -> str:
        if not _has_collection_type(self.pdc):
            return ""
        return COLLECTION_TYPES[self.collection_type]

    @property
    def autologous_use_only(self) -> bool:
        return _has_collection_type(self.pdc) and self.collection_type in AUTOLOGOUS_ONLY_TYPES

    @property
    def biohazard(self) -> bool:
        return _has_collection_type(self.pdc) and self.collection_type in BIOHAZARD_TYPES

    @property
    def research_only(self) -> bool:
        return _has_collection_type(self.pdc) and self.collection_type in RESEARCH_TYPES

    @property
    def is_divided(self) -> bool:
        return self.division != "00"


def parse_product_code(text: str) -> ProductCode:
    """Parse a Product Code: DS003 ``=<αooootds`` (10 characters) or the bare 8 characters."""
    if not isinstance(text, str):
        raise ValueError(f"DS003: expected a string, got {type(text).__name__}")
    content = text[2:] if text.startswith("=<") else text
    if len(content) != 8:
        raise ValueError(
            f"DS003: expected '=<' + 8 characters (αooootds), got {len(content)} data characters"
        )
    return ProductCode(content[:5], content[5], content[6:])


# --------------------------------------------------------------------------------------------
# Dates and times (DS004 / DS005)
# --------------------------------------------------------------------------------------------

_DATE_RE = re.compile(r"[0-9]{6}")
_DATETIME_RE = re.compile(r"[0-9]{10}")


def _zone(zone: str | ZoneInfo) -> ZoneInfo:
    if isinstance(zone, ZoneInfo):
        return zone
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Facility time zone: {zone!r} is not an IANA time zone") from exc


def encode_isbt_date(d: date) -> str:
    """Encode a calendar date as ``cyyjjj`` (century digit 0 = 2000–2099, ordinal day)."""
    if isinstance(d, datetime):
        raise ValueError("ISBT date: expected a date, got a datetime (use encode_isbt_datetime)")
    if not 2000 <= d.year <= 2099:
        raise ValueError(
            f"ISBT date: year {d.year} out of range; century digit confirmed only for 2000–2099"
        )
    return f"0{d.year % 100:02d}{d.timetuple().tm_yday:03d}"


def encode_isbt_datetime(dt: datetime, zone: str | ZoneInfo) -> str:
    """Encode an aware datetime as ``cyyjjjhhmm`` in the labelling facility's zone.

    DS005 carries no zone: the instant is converted to ``zone`` (IANA name) and its local wall
    time is encoded; seconds are dropped. Naive datetimes are refused.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("ISBT date and time: datetime must be timezone-aware")
    local = dt.astimezone(_zone(zone))
    return f"{encode_isbt_date(local.date())}{local:%H%M}"


def encode_isbt_end_of_day(d: date) -> str:
    """``cyyjjj2359``: a date with no time specified runs to the end of the day (2359)."""
    return f"{encode_isbt_date(d)}2359"


def decode_isbt_date(text: str) -> date:
    """Decode ``cyyjjj`` to a date, validating century, ordinal day and leap years."""
    if not isinstance(text, str) or not _DATE_RE.fullmatch(text):
        raise ValueError(f"ISBT date (cyyjjj): expected 6 digits, got {text!r}")
    if text[0] != "0":
        raise ValueError(
            f"ISBT date century digit (c): {text[0]!r} not supported; only 0 (2000–2099)"
        )
    year = 2000 + int(text[1:3])
    day = int(text[3:6])
    days_in_year = 366 if date(year, 12, 31).timetuple().tm_yday == 366 else 365
    if not 1 <= day <= days_in_year:
        raise ValueError(
            f"ISBT date ordinal day (jjj): {text[3:6]} out of range 001–{days_in_year} for {year}"
        )
    return date(year, 1, 1) + timedelta(days=day - 1)


def decode_isbt_datetime(text: str, zone: str | ZoneInfo) -> datetime:
    """Decode ``cyyjjjhhmm`` as wall time in the facility's ``zone``; returns an aware datetime."""
    if not isinstance(text, str) or not _DATETIME_RE.fullmatch(text):
        raise ValueError(f"ISBT date and time (cyyjjjhhmm): expected 10 digits, got {text!r}")
    d = decode_isbt_date(text[:6])
    hh, mm = int(text[6:8]), int(text[8:10])
    if hh > 23:
        raise ValueError(f"ISBT time hour (hh): {text[6:8]} out of range 00–23")
    if mm > 59:
        raise ValueError(f"ISBT time minute (mm): {text[8:10]} out of range 00–59")
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=_zone(zone))


@dataclass(frozen=True, slots=True)
class IsbtDate:
    """An expiration date, DS004 ``=>cyyjjj`` (date only)."""

    value: date

    @property
    def content(self) -> str:
        return encode_isbt_date(self.value)

    @property
    def data_structure(self) -> str:
        return f"=>{self.content}"


@dataclass(frozen=True, slots=True)
class IsbtDateTime:
    """An expiration date and time, DS005 ``&>cyyjjjhhmm``, in the facility's zone."""

    value: datetime
    zone: str

    def __post_init__(self) -> None:
        encode_isbt_datetime(self.value, self.zone)  # validates awareness, zone and range

    @property
    def content(self) -> str:
        return encode_isbt_datetime(self.value, self.zone)

    @property
    def data_structure(self) -> str:
        return f"&>{self.content}"


# --------------------------------------------------------------------------------------------
# Chain of Identity identifier (DS040)
# --------------------------------------------------------------------------------------------

_COI_SEQ_RE = re.compile(r"[A-Z0-9]{6}")


@dataclass(frozen=True, slots=True)
class ChainOfIdentityId:
    """Chain of Identity identifier, DS040 ``&/CH`` + FIN (5) + year (2) + 6 alphanumerics.

    The check character K (required whenever the identifier is printed) is MOD 37-2 over the 13
    characters after ``CH`` — docs/design/domain-facts.md §1.7 marks this "verify against
    ICCBBA ST-028".
    """

    fin: str
    year: str
    sequence: str

    def __post_init__(self) -> None:
        validate_fin(self.fin, field="CoI issuing FIN")
        if not (isinstance(self.year, str) and len(self.year) == 2 and self.year.isdigit()):
            raise ValueError(f"CoI year: expected 2 digits, got {self.year!r}")
        if not (isinstance(self.sequence, str) and _COI_SEQ_RE.fullmatch(self.sequence)):
            raise ValueError(
                f"CoI sequence: expected 6 characters A–Z or 0–9, got {self.sequence!r}"
            )

    @property
    def value(self) -> str:
        """The 13 characters after ``CH``."""
        return f"{self.fin}{self.year}{self.sequence}"

    @property
    def check(self) -> str:
        return ALPHABET[mod37_2(self.value)]

    @property
    def content(self) -> str:
        """The 15 data characters ``CH`` + 13."""
        return f"CH{self.value}"

    @property
    def data_structure(self) -> str:
        return f"&/{self.content}"

    @property
    def eye_readable(self) -> str:
        """``CH G1234 24 A1B2C3`` (print K boxed next to it)."""
        return f"CH {self.fin} {self.year} {self.sequence}"


def make_coi(fin: str, year: int, sequence: str) -> ChainOfIdentityId:
    """Build a CoI identifier from the issuing FIN, calendar year and a 6-character sequence."""
    if isinstance(year, bool) or not isinstance(year, int):
        raise ValueError("CoI year: expected an int")
    if not (0 <= year <= 99 or 2000 <= year <= 2099):
        raise ValueError(f"CoI year: {year} out of range (0–99 or 2000–2099)")
    return ChainOfIdentityId(fin, f"{year % 100:02d}", sequence)


def _parse_coi(content: str) -> ChainOfIdentityId:
    if len(content) != 15:
        raise ValueError(f"DS040: expected '&/' + 15 characters, got {len(content)}")
    if content[:2] != "CH":
        raise ValueError(f"DS040: content must start with 'CH', got {content[:2]!r}")
    return ChainOfIdentityId(content[2:7], content[7:9], content[9:15])


# --------------------------------------------------------------------------------------------
# Scanner parser
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OtherStructure:
    """A recognised ISBT 128 structure this module does not interpret (stored as read)."""

    ds: str
    name: str
    data_identifier: str
    content: str


@dataclass(frozen=True, slots=True)
class RetiredStructure:
    """A retired structure, returned only when reading legacy data (``allow_retired=True``)."""

    ds: str
    data_identifier: str
    content: str


@dataclass(frozen=True, slots=True)
class CompoundMessage:
    """DS023 ``=+aabbb``: ``aa`` structures in the sequence with reference number ``bbb``."""

    reference: str
    structures: tuple[ScannedStructure, ...]


ScannedStructure = (
    Din
    | ProductCode
    | IsbtDate
    | IsbtDateTime
    | ChainOfIdentityId
    | CompoundMessage
    | OtherStructure
    | RetiredStructure
)

# Known structures other than those interpreted above: DI → (DS, name, content length or None).
_OTHER: dict[str, tuple[str, str, int | None]] = {
    "=%": ("002", "Blood Groups", 4),
    "=*": ("006", "Collection Date", 6),
    "&*": ("007", "Collection Date and Time", 10),
    "=}": ("008", "Production Date", 6),
    "&}": ("009", "Production Date and Time", 10),
    "&(": ("010", "Special Testing: General", 5),
    "=;": ("019", "Donor Identification Number", 21),
    "='": ("020", "Staff Member ID", 11),
    "=#": ("024", "Patient Date of Birth", 10),
    "&#": ("025", "Patient Identification Number", None),
    "=]": ("026", "Expiration Month and Year", 6),
    "=(": ("031", "Flexible Date and Time", 16),
    "=,": ("032", "Product Divisions", 6),
    "&+": ("033", "Processing Facility Information Code", 11),
    "=/": ("034", "Processor Product Identification Code", 15),
    "&,1": ("035", "MPHO Lot Number", 17),
    "&,2": ("036", "MPHO Supplemental Identification Number", 17),
    "&,4": ("038", "Single European Code", 40),
    "&:": ("039", "Global Registration Identifier for Donors", 19),
}
#: Retired structures whose data identifier domain facts gives (DS037 is ``&,3``: the ``&,n``
#: family numbers 1, 2, 4 are DS035, 036, 038). DS011, 015 and 016 are retired too; their data
#: identifiers are not in domain facts, so they are rejected as unrecognised.
RETIRED_STRUCTURES: dict[str, tuple[str, int]] = {"&,3": ("037", 17)}

_AIM_RE = re.compile(r"\][A-Za-z][0-9A-Za-z]")


def _clean_scan(text: str) -> str:
    text = text.strip("\r\n\t ")
    if _AIM_RE.match(text):  # AIM symbology identifier a scanner may prepend, e.g. ]C0
        text = text[3:]
    return text


def _structure_length(text: str, pos: int) -> tuple[str, int]:
    """Return (data identifier, total length) of the structure starting at ``text[pos]``."""
    rest = text[pos:]
    if len(rest) < 2:
        raise ValueError(f"ISBT 128: incomplete data identifier {rest!r}")
    first, second = rest[0], rest[1]
    if first not in "=&":
        raise ValueError(
            f"ISBT 128: data identifier must start with '=' or '&', got {first!r} "
            f"at position {pos + 1}"
        )
    if first == "=" and _FIRST_RE.fullmatch(second):
        return "=", 16  # DS001: second DI character is also the first DIN character
    if first == "&" and "a" <= second <= "z":
        raise ValueError(
            f"ISBT 128: national/local structure '&{second}' is opaque and never appears "
            "inside a Compound Message"
        )
    di = rest[:2]
    if di == "&,":
        if len(rest) < 3 or rest[2] not in "1234":
            raise ValueError("ISBT 128: data identifier '&,' needs a third character 1–4")
        di = rest[:3]
    fixed = {"=<": 8, "=>": 6, "&>": 10, "&/": 15}
    if di in fixed:
        return di, len(di) + fixed[di]
    if di in RETIRED_STRUCTURES:
        return di, len(di) + RETIRED_STRUCTURES[di][1]
    if di in _OTHER:
        length = _OTHER[di][2]
        if length is None:  # DS025: aa + ll + ll characters
            if len(rest) < 6 or not rest[4:6].isdigit():
                raise ValueError("DS025: expected aall + ll characters")
            return di, 6 + int(rest[4:6])
        return di, len(di) + length
    raise ValueError(f"ISBT 128: unrecognised data identifier {di!r}")


def _parse_one(text: str, *, zone: str, allow_retired: bool) -> ScannedStructure:
    di, length = _structure_length(text, 0)
    if len(text) != length:
        raise ValueError(
            f"ISBT 128 structure {di!r}: expected {length} characters, got {len(text)}"
        )
    content = text[len(di) :]
    if di == "=":
        return parse_din(text)
    if di == "=<":
        return parse_product_code(text)
    if di == "=>":
        return IsbtDate(decode_isbt_date(content))
    if di == "&>":
        return IsbtDateTime(decode_isbt_datetime(content, zone), zone)
    if di == "&/":
        return _parse_coi(content)
    if di in RETIRED_STRUCTURES:
        ds = RETIRED_STRUCTURES[di][0]
        if not allow_retired:
            raise ValueError(
                f"ISBT 128: DS{ds} ({di!r}) is retired; rejected in new data "
                "(read-only in legacy imports)"
            )
        return RetiredStructure(ds, di, content)
    ds, name, _ = _OTHER[di]
    return OtherStructure(ds, name, di, content)


def parse_compound_message(
    text: str, *, zone: str = "UTC", allow_retired: bool = False
) -> CompoundMessage:
    """Parse DS023 ``=+aabbb`` followed by exactly ``aa`` structures."""
    if not text.startswith("=+") or len(text) < 7:
        raise ValueError("DS023: expected '=+' + aabbb + structures")
    count_text, reference = text[2:4], text[4:7]
    if not (count_text.isdigit() and reference.isdigit()):
        raise ValueError(f"DS023: aabbb must be 5 digits, got {text[2:7]!r}")
    count = int(count_text)
    if count < 2:
        raise ValueError(f"DS023: a compound message holds at least 2 structures, got {count}")
    structures: list[ScannedStructure] = []
    pos = 7
    while pos < len(text):
        if text.startswith("=+", pos):
            raise ValueError("DS023: a compound message cannot contain another compound message")
        _, length = _structure_length(text, pos)
        if pos + length > len(text):
            raise ValueError(
                f"DS023: structure at position {pos + 1} is truncated "
                f"(needs {length} characters, {len(text) - pos} left)"
            )
        structures.append(
            _parse_one(text[pos : pos + length], zone=zone, allow_retired=allow_retired)
        )
        pos += length
    if len(structures) != count:
        raise ValueError(f"DS023: header announces {count} structures, found {len(structures)}")
    return CompoundMessage(reference, tuple(structures))


def parse_scan(text: str, *, zone: str = "UTC", allow_retired: bool = False) -> ScannedStructure:
    """Recognise and parse one scanned ISBT 128 string.

    Returns a :class:`Din` (DS001), :class:`ProductCode` (DS003), :class:`IsbtDate` (DS004),
    :class:`IsbtDateTime` (DS005, read in the facility's ``zone``), :class:`ChainOfIdentityId`
    (DS040), :class:`CompoundMessage` (DS023) or :class:`OtherStructure` for other known
    structures. Retired structures raise ``ValueError`` unless ``allow_retired`` (legacy
    imports). A trailing CR/LF and a leading AIM symbology identifier (``]C0``) are ignored.
    """
    if not isinstance(text, str):
        raise ValueError(f"ISBT 128: expected a string, got {type(text).__name__}")
    cleaned = _clean_scan(text)
    if not cleaned:
        raise ValueError("ISBT 128: empty scan")
    if cleaned.startswith("=+"):
        return parse_compound_message(cleaned, zone=zone, allow_retired=allow_retired)
    return _parse_one(cleaned, zone=zone, allow_retired=allow_retired)
