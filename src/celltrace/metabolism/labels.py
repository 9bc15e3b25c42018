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

from collections.abc import Mapping
from typing import Any, Final

from django.utils.translation import gettext, gettext_noop

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
