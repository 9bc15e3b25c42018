"""Parameter names, formulas and warnings of the Seahorse analysis in the page's language.

The assay library (:mod:`celltrace.assays.metabolism.analysis`) is Django-free and writes
English; a run stores its parameters as ``{"key", "label", "unit", "formula"}`` and its warnings
as text in ``calculation``. The keys are stable, so pages and the PDF report show the translated
name of the key here (the English names are the msgids and equal the library's labels: a test
keeps them in step). A key this table does not know (a newer calculation) shows the stored
label.

Formulas and warnings are :class:`~celltrace.assays.metabolism.messages.Message` texts: a code
with parameters. The stored English text is parsed back into code and parameters by the
library (the exact inverse of writing it) and shown with this module's template for the code:
the msgids below are the library's English templates with ``%(name)s`` fields (a test keeps
them equal, and one fails for a library code without a template here). A text no template
matches (a newer or older calculation) is shown as stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from django.utils.translation import gettext, gettext_noop, pgettext

from celltrace.assays.metabolism.messages import Message, parse_formula, parse_warning

#: Parameter key -> English name (the msgid), as ``analysis.parameter_defs`` names it.
PARAMETER_LABELS: Final[dict[str, str]] = {
    # Mito Stress Test
    "non_mitochondrial_ocr": gettext_noop("Non-mitochondrial OCR"),
    "basal_respiration": gettext_noop("Basal respiration"),
    "maximal_respiration": gettext_noop("Maximal respiration"),
    "proton_leak": gettext_noop("Proton leak"),
    "atp_linked_respiration": gettext_noop("ATP-linked respiration"),
    "spare_respiratory_capacity": gettext_noop("Spare respiratory capacity"),
    # xgettext:no-python-format
    "spare_respiratory_capacity_percent": gettext_noop("Spare respiratory capacity, % of basal"),
    "coupling_efficiency_percent": gettext_noop("Coupling efficiency"),
    "acute_response": gettext_noop("Acute response"),
    # Real-Time ATP Rate
    "mito_atp_production_rate": gettext_noop("mitoATP production rate"),
    "glyco_atp_production_rate": gettext_noop("glycoATP production rate"),
    "total_atp_production_rate": gettext_noop("Total ATP production rate"),
    "atp_rate_index": gettext_noop("ATP rate index"),
    "glyco_atp_percent": gettext_noop("glycoATP share"),
    # Glycolytic Rate
    "basal_glycolysis": gettext_noop("Basal glycolysis (glycoPER)"),
    "basal_proton_efflux_rate": gettext_noop("Basal proton efflux rate"),
    "percent_per_from_glycolysis": gettext_noop("PER from glycolysis (basal)"),
    "mito_ocr_glyco_per_ratio": gettext_noop("mitoOCR / glycoPER (basal)"),
    "compensatory_glycolysis": gettext_noop("Compensatory glycolysis"),
    "post_2dg_acidification": gettext_noop("Post-2-DG acidification"),
}

_BY_ENGLISH: Final[dict[str, str]] = {english: key for key, english in PARAMETER_LABELS.items()}


def parameter_label(parameter: Mapping[str, Any] | str) -> str:
    """The name of a stored parameter (its dict, or its stored English label) translated."""
    if isinstance(parameter, str):
        key = _BY_ENGLISH.get(parameter)
        label = parameter
    else:
        key = str(parameter.get("key", ""))
        label = str(parameter.get("label", key))
    english = PARAMETER_LABELS.get(key or "")
    return gettext(english) if english is not None else label


#: Warning code -> English template (the msgid), as ``messages.WARNING_TEMPLATES`` writes it.
WARNING_TEXTS: Final[dict[str, str]] = {
    "ccf_default_unverified": gettext_noop(
        "CCF %(ccf)s is a default for %(instrument)s not yet verified against Agilent's primary "
        "text; pass the configured value"
    ),
    "group_without_wells": gettext_noop("group %(group)s has no wells left after exclusions"),
    "per_column_missing": gettext_noop(
        "the export has no PER column: PER-based assays cannot be analysed"
    ),
    "per_check_skipped": gettext_noop(
        "Plate Volume, kVol or the buffer factors are missing: PER integrity not checked"
    ),
    "per_identity_spread": gettext_noop(
        "measurement %(measurement)s: PER/(BF·Vol·kVol) − ECAR varies by %(spread)s mpH/min "
        "across wells; Wave builds it as one constant per measurement — the export may be "
        "edited"
    ),
}

#: Formula code (the parameter key, or ``normalised_rate``) -> English template (the msgid),
#: as ``messages.FORMULA_TEMPLATES`` writes it. The fields hold notation (``min(OCR m4–m6)``,
#: ``m3``, numbers) that reads the same in every language; templates made of notation only are
#: here too, so that every formula has an entry (their translation repeats them).
FORMULA_TEXTS: Final[dict[str, str]] = {
    # Mito Stress Test
    "non_mitochondrial_ocr": gettext_noop("%(nm)s"),
    "basal_respiration": gettext_noop("%(basal)s − %(nm)s"),
    "maximal_respiration": gettext_noop("%(maximal)s − %(nm)s"),
    "proton_leak": gettext_noop("%(leak)s − %(nm)s"),
    "atp_linked_respiration": gettext_noop("%(before_oligo)s − %(leak)s"),
    "spare_respiratory_capacity": gettext_noop("maximal respiration − basal respiration"),
    "spare_respiratory_capacity_percent": gettext_noop(
        "maximal respiration / basal respiration × 100"
    ),
    "coupling_efficiency_percent": gettext_noop("ATP-linked respiration / basal respiration × 100"),
    "acute_response": gettext_noop("%(before_oligo)s − %(before_acute)s"),
    # Real-Time ATP Rate
    "mito_atp_production_rate": gettext_noop(
        "(OCR %(basal_m)s − min(OCR %(oligo_phase)s)) × 2 × P/O (%(po)s)"
    ),
    "glyco_atp_production_rate": gettext_noop(
        "PER %(basal_m)s (Wave PER column) − (OCR %(basal_m)s − min(OCR %(rot_aa_phase)s)) "
        "× CCF (%(ccf)s)"
    ),
    "total_atp_production_rate": gettext_noop("mitoATP + glycoATP"),
    "atp_rate_index": gettext_noop("mitoATP / glycoATP"),
    "glyco_atp_percent": gettext_noop("glycoATP / total ATP × 100"),
    # Glycolytic Rate
    "basal_glycolysis": gettext_noop(
        "[PER − (OCR − min(OCR %(rot_aa_phase)s)) × CCF (%(ccf)s)] at %(basal_m)s"
    ),
    "basal_proton_efflux_rate": gettext_noop("PER %(basal_m)s (Wave PER column)"),
    "percent_per_from_glycolysis": gettext_noop("basal glycoPER / basal PER × 100"),
    "mito_ocr_glyco_per_ratio": gettext_noop(
        "(OCR %(basal_m)s − min(OCR %(rot_aa_phase)s)) / basal glycoPER"
    ),
    "compensatory_glycolysis": gettext_noop(
        "max([PER − (OCR − min(OCR %(rot_aa_phase)s)) × CCF (%(ccf)s)] over %(rot_aa_phase)s)"
    ),
    "post_2dg_acidification": gettext_noop("min(PER %(dg_phase)s)"),
    # normalisation (AnalysisResult.normalisation)
    "normalised_rate": gettext_noop("normalised rate = rate / (value / scale factor)"),
}


def _translated(message: Message | None, table: Mapping[str, str], stored: str) -> str:
    if message is None or message.code not in table:
        return stored
    try:
        return gettext(table[message.code]) % dict(message.params)
    except (KeyError, TypeError, ValueError):
        return stored  # a catalogue entry whose fields do not match: never a broken page


def warning_text(stored: str) -> str:
    """A stored warning in the active language (as stored when no template matches it)."""
    return _translated(parse_warning(stored), WARNING_TEXTS, stored)


def formula_text(parameter: Mapping[str, Any]) -> str:
    """A stored parameter's formula (``{"key", "formula", ...}``) in the active language."""
    stored = str(parameter.get("formula", ""))
    return _translated(parse_formula(str(parameter.get("key", "")), stored), FORMULA_TEXTS, stored)


def normalisation_formula_text(stored: str) -> str:
    """The normalisation formula of a calculation record in the active language."""
    return _translated(parse_formula("normalised_rate", stored), FORMULA_TEXTS, stored)


#: Constant label -> English name (the msgid): the rows Wave's "Assay Configuration" sheet labels
#: (``seahorse._NUMERIC_CONSTANTS``, ``_TEXT_CONSTANTS`` and the rows read one by one) and the
#: two constants the analysis adds. Labels that are notation (``kVol``, ``TAC``, ``TAW``, ``TW``,
#: ``TC``, ``TP``) read the same in every language and are shown as stored.
CONSTANT_LABELS: Final[dict[str, str]] = {
    label: label
    for label in (
        gettext_noop("XFe Assay Version"),
        gettext_noop("Assay Name"),
        gettext_noop("Instrument Serial"),
        gettext_noop("Plate Volume"),
        gettext_noop("Atmospheric Pressure"),
        # xgettext:no-python-format
        gettext_noop("% O2"),
        gettext_noop("ksv"),
        gettext_noop("Corrected Ksv"),
        gettext_noop("Calculated FO"),
        gettext_noop("Pseudo Volume"),
        gettext_noop("Edge Offset"),
        gettext_noop("Default Buffer Factor"),
        gettext_noop("Calibration pH"),
        gettext_noop("Background Correction"),
        gettext_noop("Calculation Method"),
        gettext_noop("Ksv Temp Correction"),
        gettext_noop("ECAR Technique"),
        gettext_noop("Temperature Gain Correction"),
        gettext_noop("Cartridge Lot"),
        gettext_noop("Cartridge Barcode"),
        gettext_noop("Plate Lot"),
        gettext_noop("Plate Barcode"),
        gettext_noop("Last Run"),
        gettext_noop("Normalization Unit"),
        gettext_noop("Norm. Scale Factor"),
        # added by analysis.analyse
        gettext_noop("CO2 contribution factor (CCF)"),
        gettext_noop("P/O ratio"),
    )
}
#: Constant labels that are notation, shown as stored in every language.
CONSTANT_NOTATION: Final[frozenset[str]] = frozenset({"kVol", "TAC", "TAW", "TW", "TC", "TP"})

_BUFFER_FACTOR = re.compile(r"Buffer Factor ([A-Z]{1,2}\d{1,2})")
_DEFAULT_SOURCE = re.compile(r"default: (.+)", re.DOTALL)
_CCF_PACKAGES = re.compile(r"value used by open-source Seahorse packages for (.+) \(verify\)")
#: The source of a constant the analysis took from its settings (the upload form).
SETTINGS_SOURCE: Final = "settings"
#: Sources of the defaults in ``assays.metabolism.defaults`` that are not a pattern above.
DEFAULT_SOURCES: Final[dict[str, str]] = {
    "Agilent white paper, Quantifying Cellular ATP Production Rate (Romero et al.)": gettext_noop(
        "Agilent white paper, Quantifying Cellular ATP Production Rate (Romero et al.)"
    ),
}


def constant_label(label: str) -> str:
    """A constant's stored (English) label in the active language (as stored if unknown)."""
    english = CONSTANT_LABELS.get(label)
    if english is not None:
        return gettext(english)
    m = _BUFFER_FACTOR.fullmatch(label)
    if m:
        return gettext("Buffer factor of well %(well)s") % {"well": m.group(1)}
    return label


def _default_source(source: str) -> str:
    english = DEFAULT_SOURCES.get(source)
    if english is not None:
        return gettext(english)
    m = _CCF_PACKAGES.fullmatch(source)
    if m:
        return gettext(
            "value used by open-source Seahorse packages for %(instrument)s (to be verified)"
        ) % {"instrument": m.group(1)}
    return source


def constant_source(location: str) -> str:
    """Where a constant came from, in the active language.

    A cell of the export (``Assay Configuration!B58``) is an address and is shown as stored; the
    analysis writes ``settings`` (a value entered with the run) or ``default: <source>``.
    """
    if location == SETTINGS_SOURCE:
        return gettext("entered with the run")
    m = _DEFAULT_SOURCE.fullmatch(location)
    if m:
        return gettext("default: %(source)s") % {"source": _default_source(m.group(1))}
    return location


def unit_text(unit: str) -> str:
    """A parameter's stored unit in the active language: ``ratio`` is a word, the others are
    symbols (``pmol/min``, ``mpH/min``, ``%``) that read the same in every language."""
    if unit == "ratio":
        return pgettext("measurement unit", "ratio")
    return unit
