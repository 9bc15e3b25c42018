"""SPREC (ISBER Standard PREanalytical Code) for fluid samples: build, parse, validate.

Code tables from ``docs/design/domain-facts.md`` §2 (Betsou et al. 2018, SPREC 3.0; Lehmann
et al. 2012, SPREC 2.0). Domain facts marks the 3.0 additions and the lists beyond the SPREC 2.0
publication "verify against the primary text"; they are kept here as data tables, in one place,
so that a reviewed correction is a one-line change. Pure Python; Django only translates the
element names that :data:`ELEMENTS` gives to forms and the value descriptions that
:func:`description` gives them (English when Django is not configured); the tables, validation
messages and :meth:`SprecCode.describe` stay English.

Fluid code: 7 hyphen-separated elements, 17 characters, e.g. ``CEL-ACD-A-M-N-N-C``.
Solid-tissue codes (sample type, collection type, warm/cold ischaemia, fixation type/time,
storage) are not implemented: domain facts names those elements but does not give their tables.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import overload

from django.conf import settings
from django.utils.translation import gettext, gettext_noop

__all__ = [
    "CENTRIFUGATION",
    "ELEMENTS",
    "ELEMENTS_EN",
    "LONG_TERM_STORAGE",
    "POST_CENTRIFUGATION",
    "PRE_CENTRIFUGATION",
    "PRIMARY_CONTAINER",
    "SPREC_VERSIONS",
    "TYPE_OF_SAMPLE",
    "SprecCode",
    "Temperature",
    "allowed_values",
    "build_sprec",
    "centrifugation_code",
    "description",
    "parse_sprec",
    "post_centrifugation_code",
    "pre_centrifugation_code",
]

SPREC_VERSIONS = ("2.0", "3.0")

# Code -> (English description, first version with the code). The ``gettext_noop`` marks let
# ``makemessages`` extract the descriptions; :func:`description` translates them on access.
TYPE_OF_SAMPLE: dict[str, tuple[str, str]] = {
    "ASC": (gettext_noop("Ascites fluid"), "2.0"),
    "AMN": (gettext_noop("Amniotic fluid"), "2.0"),
    "BAL": (gettext_noop("Bronchoalveolar lavage"), "2.0"),
    "BLD": (gettext_noop("Blood (whole)"), "2.0"),
    "BMA": (gettext_noop("Bone marrow aspirate"), "2.0"),
    "BMK": (gettext_noop("Breast milk"), "2.0"),
    "BUC": (gettext_noop("Buccal cells"), "2.0"),
    "BUF": (gettext_noop("Unficolled buffy coat, viable"), "2.0"),
    "BFF": (gettext_noop("Unficolled buffy coat, non-viable"), "2.0"),
    "CEL": (gettext_noop("Ficoll mononuclear cells, viable"), "2.0"),
    "CEN": (gettext_noop("Fresh cells from non-blood specimen type"), "2.0"),
    "CLN": (gettext_noop("Cells from non-blood specimen type, viable"), "2.0"),
    "CRD": (gettext_noop("Cord blood"), "2.0"),
    "CSF": (gettext_noop("Cerebrospinal fluid"), "2.0"),
    "CTC": (gettext_noop("Enriched circulating tumour cells"), "3.0"),
    "DWB": (gettext_noop("Dried whole blood"), "2.0"),
    "NAS": (gettext_noop("Nasal washing"), "2.0"),
    "PEL": (gettext_noop("Ficoll mononuclear cells, non-viable"), "2.0"),
    "PEN": (gettext_noop("Cells from non-blood specimen type, non-viable"), "2.0"),
    "PFL": (gettext_noop("Pleural fluid"), "2.0"),
    "PLP": (gettext_noop("Dental pulp"), "3.0"),
    "PL1": (gettext_noop("Plasma, single spun"), "2.0"),
    "PL2": (gettext_noop("Plasma, double spun"), "2.0"),
    "RBC": (gettext_noop("Red blood cells"), "2.0"),
    "SAL": (gettext_noop("Saliva"), "2.0"),
    "SEM": (gettext_noop("Semen"), "2.0"),
    "SER": (gettext_noop("Serum"), "2.0"),
    "SPT": (gettext_noop("Sputum"), "2.0"),
    "STL": (gettext_noop("Stool"), "2.0"),
    "SYN": (gettext_noop("Synovial fluid"), "2.0"),
    "TER": (gettext_noop("Tears"), "2.0"),
    "U24": (gettext_noop("24-h urine"), "2.0"),
    "URN": (gettext_noop("Urine, random"), "2.0"),
    "URM": (gettext_noop("Urine, first morning"), "2.0"),
    "URT": (gettext_noop("Urine, timed"), "2.0"),
    "ZZZ": (gettext_noop("Other"), "2.0"),
}

PRIMARY_CONTAINER: dict[str, tuple[str, str]] = {
    "ACD": (gettext_noop("Acid citrate dextrose"), "2.0"),
    "ADD": (gettext_noop("Additives / stabilisers"), "2.0"),
    "CAT": (gettext_noop("Serum tube without clot activator"), "2.0"),
    "CPD": (gettext_noop("Citrate phosphate dextrose"), "2.0"),
    "CPT": (gettext_noop("Cell preparation tube (3.0: citrate)"), "2.0"),
    "CPH": (gettext_noop("Cell preparation tube, heparin"), "3.0"),
    "CSV": (gettext_noop("Aldehyde stabiliser for CTCs"), "3.0"),
    "EDG": (gettext_noop("EDTA and gel"), "2.0"),
    "FIL": (gettext_noop("Filtration system"), "3.0"),
    "GLS": (gettext_noop("Glass"), "3.0"),
    "HEP": (gettext_noop("Lithium heparin"), "2.0"),
    "HIR": (gettext_noop("Hirudin"), "2.0"),
    "LHB": (gettext_noop("Lithium heparin with rubber plug"), "3.0"),
    "LHG": (gettext_noop("Lithium heparin and gel"), "2.0"),
    "OMN": (gettext_noop("Stool DNA stabiliser"), "3.0"),
    "ORG": (gettext_noop("Oragene"), "2.0"),
    "PAX": (gettext_noop("PAXgene blood RNA"), "2.0"),
    "PED": (gettext_noop("Potassium EDTA"), "2.0"),
    "PET": (gettext_noop("Polyethylene tube, sterile"), "2.0"),
    "PI1": (gettext_noop("S8820 protease-inhibitor tablets"), "2.0"),
    "PIX": (gettext_noop("Protease inhibitors"), "2.0"),
    "PPS": (gettext_noop("Polypropylene tube, sterile"), "2.0"),
    "PXD": (gettext_noop("PAXgene blood DNA"), "2.0"),
    "PXR": (gettext_noop("PAXgene bone marrow RNA"), "2.0"),
    "RNL": (gettext_noop("RNAlater"), "3.0"),
    "SCI": (gettext_noop("Sodium citrate"), "2.0"),
    "SCK": (gettext_noop("Non-aldehyde cell-free nucleic acid stabiliser"), "3.0"),
    "SED": (gettext_noop("Sodium EDTA"), "3.0"),
    "SHP": (gettext_noop("Sodium heparin"), "2.0"),
    "SPO": (gettext_noop("Sodium fluoride / potassium oxalate"), "2.0"),
    "SST": (gettext_noop("Serum separator tube with clot activator"), "2.0"),
    "TEM": (gettext_noop("Tempus tube"), "2.0"),
    "TRC": (gettext_noop("Trace elements tube"), "2.0"),
    "XXX": (gettext_noop("Unknown"), "2.0"),
    "ZZZ": (gettext_noop("Other"), "2.0"),
}

PRE_CENTRIFUGATION: dict[str, tuple[str, str]] = {
    "A": (gettext_noop("RT, < 2 h"), "2.0"),
    "B": (gettext_noop("2–10 °C, < 2 h"), "2.0"),
    "C": (gettext_noop("RT, 2–4 h"), "2.0"),
    "D": (gettext_noop("2–10 °C, 2–4 h"), "2.0"),
    "E": (gettext_noop("RT, 4–8 h"), "2.0"),
    "F": (gettext_noop("2–10 °C, 4–8 h"), "2.0"),
    "G": (gettext_noop("RT, 8–12 h"), "2.0"),
    "H": (gettext_noop("2–10 °C, 8–12 h"), "2.0"),
    "I": (gettext_noop("RT, 12–24 h"), "2.0"),
    "J": (gettext_noop("2–10 °C, 12–24 h"), "2.0"),
    "K": (gettext_noop("RT, 24–48 h"), "2.0"),
    "L": (gettext_noop("2–10 °C, 24–48 h"), "2.0"),
    "M": (gettext_noop("RT, > 48 h"), "2.0"),
    "N": (gettext_noop("2–10 °C, > 48 h"), "2.0"),
    "O": (gettext_noop("35–38 °C, < 2 h"), "2.0"),
    "X": (gettext_noop("Unknown"), "2.0"),
    "Z": (gettext_noop("Other"), "2.0"),
}

CENTRIFUGATION: dict[str, tuple[str, str]] = {
    "A": (gettext_noop("RT, 10–15 min, < 3000 g, no braking"), "2.0"),
    "B": (gettext_noop("RT, 10–15 min, < 3000 g, with braking"), "2.0"),
    "C": (gettext_noop("2–10 °C, 10–15 min, < 3000 g, no braking"), "2.0"),
    "D": (gettext_noop("2–10 °C, 10–15 min, < 3000 g, with braking"), "2.0"),
    "E": (gettext_noop("RT, 10–15 min, 3000–6000 g, with braking"), "2.0"),
    "F": (gettext_noop("2–10 °C, 10–15 min, 3000–6000 g, with braking"), "2.0"),
    "G": (gettext_noop("RT, 10–15 min, 6000–10000 g, with braking"), "2.0"),
    "H": (gettext_noop("2–10 °C, 10–15 min, 6000–10000 g, with braking"), "2.0"),
    "I": (gettext_noop("RT, 10–15 min, > 10000 g, with braking"), "2.0"),
    "J": (gettext_noop("2–10 °C, 10–15 min, > 10000 g, with braking"), "2.0"),
    "M": (gettext_noop("RT, 30 min, < 1000 g, no braking (Ficoll)"), "2.0"),
    "N": (gettext_noop("No centrifugation"), "2.0"),
    "X": (gettext_noop("Unknown"), "2.0"),
    "Z": (gettext_noop("Other"), "2.0"),
}

POST_CENTRIFUGATION: dict[str, tuple[str, str]] = {
    "A": (gettext_noop("2–10 °C, < 1 h"), "2.0"),
    "B": (gettext_noop("RT, < 1 h"), "2.0"),
    "C": (gettext_noop("2–10 °C, 1–2 h"), "2.0"),
    "D": (gettext_noop("RT, 1–2 h"), "2.0"),
    "E": (gettext_noop("2–10 °C, 2–8 h"), "2.0"),
    "F": (gettext_noop("RT, 2–8 h"), "2.0"),
    "G": (gettext_noop("2–10 °C, 8–24 h"), "2.0"),
    "H": (gettext_noop("RT, 8–24 h"), "2.0"),
    "I": (gettext_noop("2–10 °C, > 24 h"), "2.0"),
    "J": (gettext_noop("RT, > 24 h"), "2.0"),
    "N": (gettext_noop("Not applicable"), "2.0"),
    "X": (gettext_noop("Unknown"), "2.0"),
    "Z": (gettext_noop("Other"), "2.0"),
}

LONG_TERM_STORAGE: dict[str, tuple[str, str]] = {
    "A": (gettext_noop("PP tube 0.5–2 mL, (−85)–(−60) °C"), "2.0"),
    "B": (gettext_noop("PP tube 0.5–2 mL, (−35)–(−18) °C"), "2.0"),
    "C": (gettext_noop("Cryotube 1–2 mL, liquid nitrogen"), "2.0"),
    "D": (gettext_noop("Cryotube 1–2 mL, (−85)–(−60) °C"), "2.0"),
    "E": (gettext_noop("Cryotube 1–2 mL, programmable freezing to < −135 °C"), "2.0"),
    "F": (gettext_noop("Cryo-straw, liquid nitrogen"), "2.0"),
    "G": (gettext_noop("Straw, (−85)–(−60) °C"), "2.0"),
    "H": (gettext_noop("Straw, (−35)–(−18) °C"), "2.0"),
    "I": (gettext_noop("Straw, programmable freezing to < −135 °C"), "2.0"),
    "J": (gettext_noop("PP tube ≥ 5 mL, (−85)–(−60) °C"), "2.0"),
    "K": (gettext_noop("PP tube ≥ 5 mL, (−35)–(−18) °C"), "2.0"),
    "L": (gettext_noop("Microplate, (−85)–(−60) °C"), "2.0"),
    "M": (gettext_noop("Microplate, (−35)–(−18) °C"), "2.0"),
    "N": (gettext_noop("Cryotube 1–2 mL, liquid nitrogen after temporary (−85)–(−60) °C"), "2.0"),
    "O": (gettext_noop("Cryo-straw, liquid nitrogen after temporary (−85)–(−60) °C"), "2.0"),
    "P": (gettext_noop("Paraffin block, RT or 2–10 °C"), "2.0"),
    "Q": (gettext_noop("Bag, liquid nitrogen"), "2.0"),
    "R": (gettext_noop("Dry medium, RT"), "2.0"),
    "S": (gettext_noop("PP tube 40–500 µL, (−85)–(−60) °C"), "2.0"),
    "T": (gettext_noop("PP tube 40–500 µL, (−35)–(−18) °C"), "2.0"),
    "V": (gettext_noop("PP tube 0.5–2 mL, < −135 °C"), "2.0"),
    "W": (gettext_noop("PP tube 40–500 µL, < −135 °C"), "2.0"),
    "Y": (gettext_noop("Original primary container, (−35)–(−18) or (−85)–(−60) °C"), "2.0"),
    "X": (gettext_noop("Unknown"), "2.0"),
    "Z": (gettext_noop("Other"), "2.0"),
}

#: (attribute name, human name, table, length)
Element = tuple[str, str, dict[str, tuple[str, str]], int]

#: Element order, with the English human names (validation messages, :meth:`SprecCode.describe`).
ELEMENTS_EN: tuple[Element, ...] = (
    ("type_of_sample", gettext_noop("type of sample"), TYPE_OF_SAMPLE, 3),
    ("primary_container", gettext_noop("primary container"), PRIMARY_CONTAINER, 3),
    ("pre_centrifugation", gettext_noop("pre-centrifugation"), PRE_CENTRIFUGATION, 1),
    ("centrifugation", gettext_noop("centrifugation"), CENTRIFUGATION, 1),
    ("second_centrifugation", gettext_noop("second centrifugation"), CENTRIFUGATION, 1),
    ("post_centrifugation", gettext_noop("post-centrifugation"), POST_CENTRIFUGATION, 1),
    ("long_term_storage", gettext_noop("long-term storage"), LONG_TERM_STORAGE, 1),
)


def _translated(text: str) -> str:
    """``text`` in Django's active language; as is when Django is not configured."""
    return gettext(text) if settings.configured else text


class _Elements(Sequence[Element]):
    """:data:`ELEMENTS_EN` with each human name in the active language, looked up on access.

    Forms label their fields from it while a request's language is active, so the names follow
    the page's language (``makemessages`` extracts them from the ``gettext_noop`` marks).
    """

    @overload
    def __getitem__(self, index: int) -> Element: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Element, ...]: ...

    def __getitem__(self, index: int | slice) -> Element | tuple[Element, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(len(ELEMENTS_EN))[index])
        attr, human, table, length = ELEMENTS_EN[index]
        return attr, _translated(human), table, length

    def __len__(self) -> int:
        return len(ELEMENTS_EN)

    def __repr__(self) -> str:
        return f"ELEMENTS({[attr for attr, *_ in ELEMENTS_EN]})"


#: Element order: (attribute name, human name in the active language, table, length).
ELEMENTS: Sequence[Element] = _Elements()


def description(table: dict[str, tuple[str, str]], code: str) -> str:
    """Description of ``code`` in ``table``, in the active language (``KeyError`` if unknown)."""
    return _translated(table[code][0])


_FLUID_RE = re.compile(r"[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z]-[A-Z]-[A-Z]-[A-Z]-[A-Z]")


def _check_version(version: str) -> None:
    if version not in SPREC_VERSIONS:
        raise ValueError(
            f"SPREC version: {version!r} not supported (one of {', '.join(SPREC_VERSIONS)})"
        )


def allowed_values(table: dict[str, tuple[str, str]], version: str = "3.0") -> list[str]:
    """Codes of ``table`` valid in SPREC ``version``, sorted."""
    _check_version(version)
    return sorted(code for code, (_, since) in table.items() if since <= version)


@dataclass(frozen=True, slots=True)
class SprecCode:
    """A validated fluid-sample SPREC code."""

    type_of_sample: str
    primary_container: str
    pre_centrifugation: str
    centrifugation: str
    second_centrifugation: str
    post_centrifugation: str
    long_term_storage: str
    version: str = "3.0"

    def __post_init__(self) -> None:
        _check_version(self.version)
        for attr, name, table, length in ELEMENTS_EN:
            value = getattr(self, attr)
            if not isinstance(value, str) or len(value) != length:
                got = repr(value)
                raise ValueError(
                    f"SPREC {name}: expected {length} character{'s' if length > 1 else ''}, "
                    f"got {got}"
                )
            allowed = allowed_values(table, self.version)
            if value not in allowed:
                since = table.get(value, ("", ""))[1]
                hint = f" ({value} is SPREC {since} only)" if since else ""
                raise ValueError(
                    f"SPREC {name}: {value!r} is not an allowed value in SPREC "
                    f"{self.version}{hint}; allowed: {', '.join(allowed)}"
                )

    @property
    def code(self) -> str:
        return "-".join(getattr(self, attr) for attr, _, _, _ in ELEMENTS_EN)

    def __str__(self) -> str:
        return self.code

    def describe(self) -> dict[str, str]:
        """Human-readable meaning of each element, keyed by element name."""
        return {name: table[getattr(self, attr)][0] for attr, name, table, _ in ELEMENTS_EN}


def build_sprec(
    *,
    type_of_sample: str,
    primary_container: str,
    pre_centrifugation: str,
    centrifugation: str,
    second_centrifugation: str = "N",
    post_centrifugation: str = "N",
    long_term_storage: str,
    version: str = "3.0",
) -> SprecCode:
    """Build a SPREC code from its elements; ``ValueError`` names the failing element."""
    return SprecCode(
        type_of_sample,
        primary_container,
        pre_centrifugation,
        centrifugation,
        second_centrifugation,
        post_centrifugation,
        long_term_storage,
        version,
    )


def parse_sprec(code: str, version: str = "3.0") -> SprecCode:
    """Parse and validate a fluid SPREC code such as ``SER-SST-A-B-N-B-A``."""
    if not isinstance(code, str):
        raise ValueError(f"SPREC: expected a string, got {type(code).__name__}")
    parts = code.split("-")
    if len(parts) != len(ELEMENTS_EN):
        raise ValueError(
            f"SPREC: expected {len(ELEMENTS_EN)} hyphen-separated elements "
            f"(type-container-pre-centrifugation-centrifugation-second centrifugation-"
            f"post-centrifugation-storage), got {len(parts)}"
        )
    # Element-by-element validation (SprecCode) gives the precise message; the overall pattern
    # is checked afterwards as a guard.
    sample, container, pre, centrifugation, second, post, storage = parts
    result = SprecCode(sample, container, pre, centrifugation, second, post, storage, version)
    if not _FLUID_RE.fullmatch(code):
        raise ValueError(f"SPREC: {code!r} does not match the 17-character fluid structure")
    return result


# --------------------------------------------------------------------------------------------
# Deriving element codes from recorded conditions
# --------------------------------------------------------------------------------------------


class Temperature(enum.Enum):
    """Temperature classes used by the pre- and post-centrifugation and centrifugation tables."""

    ROOM = "RT"
    COLD = "2–10 °C"
    BODY = "35–38 °C"


def _number(value: Decimal | int | float | str, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"SPREC {name}: {value!r} is not a number") from exc
    if not number.is_finite() or number < 0:
        raise ValueError(f"SPREC {name}: must be a finite number ≥ 0, got {value!r}")
    return number


def pre_centrifugation_code(
    delay_hours: Decimal | int | float | str, temperature: Temperature
) -> str:
    """Pre-centrifugation code from the delay (collection → processing) and temperature.

    Intervals are closed below and open above (``2–4 h`` = 2 h ≤ t < 4 h), except ``24–48 h``,
    which includes 48 h; above 48 h is ``M``/``N``. 35–38 °C is defined only below 2 h (``O``);
    any other combination is ``Z`` (other).
    """
    hours = _number(delay_hours, "pre-centrifugation delay (h)")
    if temperature is Temperature.BODY:
        return "O" if hours < 2 else "Z"
    bands = [(2, "A", "B"), (4, "C", "D"), (8, "E", "F"), (12, "G", "H"), (24, "I", "J")]
    for upper, room, cold in bands:
        if hours < upper:
            return room if temperature is Temperature.ROOM else cold
    if hours <= 48:
        return "K" if temperature is Temperature.ROOM else "L"
    return "M" if temperature is Temperature.ROOM else "N"


def post_centrifugation_code(
    delay_hours: Decimal | int | float | str, temperature: Temperature
) -> str:
    """Post-centrifugation code (centrifugation → storage); note ``A`` is 2–10 °C here."""
    hours = _number(delay_hours, "post-centrifugation delay (h)")
    if temperature is Temperature.BODY:
        return "Z"
    bands = [(1, "A", "B"), (2, "C", "D"), (8, "E", "F"), (24, "G", "H")]
    for upper, cold, room in bands:
        if hours < upper:
            return cold if temperature is Temperature.COLD else room
    return "I" if temperature is Temperature.COLD else "J"


def centrifugation_code(
    *,
    force_g: Decimal | int | float | str,
    minutes: Decimal | int | float | str,
    temperature: Temperature,
    brake: bool,
) -> str:
    """Centrifugation (or second centrifugation) code from the recorded run.

    Combinations outside the table (e.g. ≥ 3000 g without braking, other durations, 35–38 °C)
    are ``Z`` (other). Force bands: < 3000, 3000–< 6000, 6000–10000, > 10000 g.
    """
    g = _number(force_g, "centrifugation force (g)")
    mins = _number(minutes, "centrifugation time (min)")
    if temperature is Temperature.BODY:
        return "Z"
    room = temperature is Temperature.ROOM
    if mins == 30 and g < 1000 and room and not brake:
        return "M"
    if not 10 <= mins <= 15:
        return "Z"
    if g < 3000:
        if room:
            return "B" if brake else "A"
        return "D" if brake else "C"
    if not brake:
        return "Z"
    if g < 6000:
        return "E" if room else "F"
    if g <= 10000:
        return "G" if room else "H"
    return "I" if room else "J"
