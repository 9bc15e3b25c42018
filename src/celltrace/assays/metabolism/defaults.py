"""Configuration defaults for constants that a Wave export does not carry.

Everything the export carries (Plate Volume, kVol, buffer factors, normalisation settings) is read
from the file. Only two constants are not in it (docs/design/domain-facts.md §0.1, §9.2–9.3):

* the **CO2 contribution factor (CCF)**, empirical and instrument-specific. The values below are
  the ones open-source Seahorse packages use; they are **not yet verified against Agilent's
  primary text** and are only fallbacks: callers should pass the value from their configuration
  record. Every result records which value it used and where it came from.
* the **P/O ratio** for the ATP-rate conversion, 2.75 in Agilent's ATP-rate white paper.

These are defaults to be moved into the versioned configuration record, never constants of the
calculation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DefaultConstant:
    value: float
    source: str
    verified: bool


# Keyed by WaveExport.instrument_family (inferred from the plate format).
CCF_DEFAULTS: dict[str, DefaultConstant] = {
    "XFe96/XF Pro": DefaultConstant(
        0.61, "value used by open-source Seahorse packages for XF/XFe96 (verify)", False
    ),
    "XFe24": DefaultConstant(
        0.60, "value used by open-source Seahorse packages for XFe24 (verify)", False
    ),
    "XFp": DefaultConstant(
        0.50, "value used by open-source Seahorse packages for XFp (verify)", False
    ),
}

PO_RATIO_DEFAULT = DefaultConstant(
    2.75, "Agilent white paper, Quantifying Cellular ATP Production Rate (Romero et al.)", True
)
