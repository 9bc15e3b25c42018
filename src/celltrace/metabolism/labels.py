"""Parameter names of the Seahorse analysis in the page's language.

The assay library (:mod:`celltrace.assays.metabolism.analysis`) is Django-free and names its
parameters in English; a run stores them as ``{"key", "label", "unit", "formula"}``. The keys are
stable, so pages and the PDF report show the translated name of the key here (the English names
are the msgids and equal the library's labels: a test keeps them in step). A key this table
does not know (a newer calculation) shows the stored label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from django.utils.translation import gettext, gettext_noop

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
