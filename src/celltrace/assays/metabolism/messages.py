"""Warnings and formula descriptions of the Seahorse analysis: a code, parameters, English text.

The assay library has no Django and writes English. Every warning (``WaveExport.warnings``,
``AnalysisResult.warnings``) and every formula (``ParameterDef.formula`` and the normalisation
formula of ``AnalysisResult.normalisation``) is a :class:`Message`: a ``str`` whose value is the
English text, exactly as the library wrote it before messages had codes (so results, their JSON,
records stored from them, ledger entries and the command line read the same), which also
carries a stable ``code`` and the ``params`` filled into the code's English template.

An application that shows results in another language keeps its own template for every code
(the metabolism app: :mod:`celltrace.metabolism.labels`) and fills in ``params``. For a text
stored as plain English (a JSON record), :func:`parse_warning` and :func:`parse_formula` give
the code and parameters back: each template is matched as a whole, so parsing is the exact
inverse of writing.

Parameters are text exactly as they appear in the English sentence: numbers already
formatted, a group name quoted, and notation such as ``min(OCR m10–m12)`` (``m10`` is
measurement 10), which reads the same in every language.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Final, Self

#: Warning code -> English template (``str.format`` fields).
WARNING_TEMPLATES: Final[Mapping[str, str]] = MappingProxyType(
    {
        # analysis.analyse: a CCF fallback from defaults.py was used
        "ccf_default_unverified": (
            "CCF {ccf} is a default for {instrument} not yet verified against Agilent's primary "
            "text; pass the configured value"
        ),
        # analysis.analyse: every well of a group is excluded
        "group_without_wells": "group {group} has no wells left after exclusions",
        # seahorse.per_integrity_warnings
        "per_column_missing": "the export has no PER column: PER-based assays cannot be analysed",
        "per_check_skipped": (
            "Plate Volume, kVol or the buffer factors are missing: PER integrity not checked"
        ),
        "per_identity_spread": (
            "measurement {measurement}: PER/(BF·Vol·kVol) − ECAR varies by {spread} mpH/min "
            "across wells; Wave builds it as one constant per measurement — the export may be "
            "edited"
        ),
    }
)

#: Formula code -> English template. A parameter's formula has the parameter's key as code.
FORMULA_TEMPLATES: Final[Mapping[str, str]] = MappingProxyType(
    {
        # Mito Stress Test: the fields are OCR terms such as "OCR m3" or "min(OCR m4–m6)"
        "non_mitochondrial_ocr": "{nm}",
        "basal_respiration": "{basal} − {nm}",
        "maximal_respiration": "{maximal} − {nm}",
        "proton_leak": "{leak} − {nm}",
        "atp_linked_respiration": "{before_oligo} − {leak}",
        "spare_respiratory_capacity": "maximal respiration − basal respiration",
        "spare_respiratory_capacity_percent": "maximal respiration / basal respiration × 100",
        "coupling_efficiency_percent": "ATP-linked respiration / basal respiration × 100",
        "acute_response": "{before_oligo} − {before_acute}",
        # Real-Time ATP Rate: basal_m is a measurement ("m3"), *_phase a span ("m4–m6")
        "mito_atp_production_rate": "(OCR {basal_m} − min(OCR {oligo_phase})) × 2 × P/O ({po})",
        "glyco_atp_production_rate": (
            "PER {basal_m} (Wave PER column) − (OCR {basal_m} − min(OCR {rot_aa_phase})) "
            "× CCF ({ccf})"
        ),
        "total_atp_production_rate": "mitoATP + glycoATP",
        "atp_rate_index": "mitoATP / glycoATP",
        "glyco_atp_percent": "glycoATP / total ATP × 100",
        # Glycolytic Rate
        "basal_glycolysis": "[PER − (OCR − min(OCR {rot_aa_phase})) × CCF ({ccf})] at {basal_m}",
        "basal_proton_efflux_rate": "PER {basal_m} (Wave PER column)",
        "percent_per_from_glycolysis": "basal glycoPER / basal PER × 100",
        "mito_ocr_glyco_per_ratio": "(OCR {basal_m} − min(OCR {rot_aa_phase})) / basal glycoPER",
        "compensatory_glycolysis": (
            "max([PER − (OCR − min(OCR {rot_aa_phase})) × CCF ({ccf})] over {rot_aa_phase})"
        ),
        "post_2dg_acidification": "min(PER {dg_phase})",
        # AnalysisResult.normalisation
        "normalised_rate": "normalised rate = rate / (value / scale factor)",
    }
)


def template_fields(template: str) -> tuple[str, ...]:
    """The field names of ``template`` in order of first appearance."""
    names: list[str] = []
    for _literal, name, _spec, _conv in string.Formatter().parse(template):
        if name is not None and name not in names:
            names.append(name)
    return tuple(names)


def _pattern(template: str) -> re.Pattern[str]:
    """A regular expression matching exactly the texts ``template`` can produce."""
    parts: list[str] = []
    seen: set[str] = set()
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is None:
            continue
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
    return re.compile("".join(parts), re.DOTALL)


def _rebuild(cls: type[Message], code: str, params: dict[str, str]) -> Message:
    return cls(code, **params)


class Message(str):
    """English text that also carries its ``code`` and ``params`` (read-only).

    ``Message(code, **params)`` fills the code's template; an unknown code or a missing or
    unexpected parameter raises ``KeyError``/``TypeError``. It compares, hashes and serialises
    as its text.
    """

    TEMPLATES: ClassVar[Mapping[str, str]] = MappingProxyType({})
    code: str
    params: Mapping[str, str]

    def __new__(cls, code: str, /, **params: Any) -> Self:
        template = cls.TEMPLATES[code]
        values = {name: str(value) for name, value in params.items()}
        expected = set(template_fields(template))
        if set(values) != expected:
            raise TypeError(
                f"{cls.__name__} {code!r} takes {sorted(expected)}, got {sorted(values)}"
            )
        self = super().__new__(cls, template.format(**values))
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "params", MappingProxyType(values))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.code, dict(self.params)))

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self

    @classmethod
    def parse(cls, text: str, code: str | None = None) -> Self | None:
        """The message whose English text is ``text`` (among ``code`` only, when given)."""
        if isinstance(text, cls) and (code is None or text.code == code):
            return text
        codes = cls.TEMPLATES if code is None else [code] if code in cls.TEMPLATES else []
        for c in codes:
            found = _patterns(cls, c).fullmatch(text)
            if found is not None:
                return cls(c, **found.groupdict())
        return None


_PATTERNS: dict[tuple[type[Message], str], re.Pattern[str]] = {}


def _patterns(cls: type[Message], code: str) -> re.Pattern[str]:
    key = (cls, code)
    if key not in _PATTERNS:
        _PATTERNS[key] = _pattern(cls.TEMPLATES[code])
    return _PATTERNS[key]


class AssayWarning(Message):
    """A warning of the Seahorse reader or analysis (codes: :data:`WARNING_TEMPLATES`)."""

    TEMPLATES = WARNING_TEMPLATES


class Formula(Message):
    """A formula description (codes: :data:`FORMULA_TEMPLATES`)."""

    TEMPLATES = FORMULA_TEMPLATES


def parse_warning(text: str) -> AssayWarning | None:
    """The warning whose English text is ``text``, or ``None`` (not one of this library's)."""
    return AssayWarning.parse(text)


def parse_formula(code: str, text: str) -> Formula | None:
    """The formula of ``code`` (a parameter key or ``normalised_rate``) written as ``text``.

    The code is needed: some templates are notation only (``{nm}``) and match any text.
    """
    return Formula.parse(text, code)
