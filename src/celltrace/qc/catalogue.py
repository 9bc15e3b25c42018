"""The compendial methods the laboratory's catalogue is seeded with (see
docs/design/domain-facts.md §3).

References name the chapters; check them against the current editions before relying on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from celltrace.qc.choices import ResultType


@dataclass(frozen=True)
class MethodSeed:
    code: str
    name: str
    reference: str
    result_type: str
    unit: str = ""
    reported_decimals: int | None = None
    lod: str = ""
    loq: str = ""
    turnaround_days: int = 1
    qualitative_options: list[str] = field(default_factory=list)


GROWTH = ["No growth", "Growth"]
DETECTION = ["Not detected", "Detected"]

METHODS: tuple[MethodSeed, ...] = (
    MethodSeed(
        "sterility",
        "Sterility (membrane filtration or direct inoculation, FTM and SCDM, 14 days)",
        "USP <71>; Ph. Eur. 2.6.1; ChP 1101",
        ResultType.QUALITATIVE,
        turnaround_days=16,
        qualitative_options=GROWTH,
    ),
    MethodSeed(
        "sterility-cell",
        "Sterility of cell-based preparations (automated growth-based system)",
        "Ph. Eur. 2.6.27",
        ResultType.QUALITATIVE,
        turnaround_days=14,
        qualitative_options=GROWTH,
    ),
    MethodSeed(
        "mycoplasma-nat",
        "Mycoplasma by nucleic acid amplification (NAT)",
        "Ph. Eur. 2.6.7 (NAT); USP <63>",
        ResultType.QUALITATIVE,
        lod="10 CFU/mL",
        turnaround_days=3,
        qualitative_options=DETECTION,
    ),
    MethodSeed(
        "mycoplasma-culture",
        "Mycoplasma by culture and indicator cell culture",
        "USP <63>; Ph. Eur. 2.6.7; ChP 3301",
        ResultType.QUALITATIVE,
        turnaround_days=28,
        qualitative_options=DETECTION,
    ),
    MethodSeed(
        "endotoxin",
        "Bacterial endotoxins (kinetic chromogenic LAL)",
        "USP <85>; Ph. Eur. 2.6.14; ChP 1143",
        ResultType.NUMERIC,
        unit="EU/mL",
        reported_decimals=2,
        lod="0.005 EU/mL",
        loq="0.05 EU/mL",
        turnaround_days=2,
    ),
    MethodSeed(
        "cell-count",
        "Total nucleated cell count",
        "Ph. Eur. 2.7.29; USP <1046>",
        ResultType.NUMERIC,
        unit="cells/mL",
        turnaround_days=1,
    ),
    MethodSeed(
        "viability",
        "Viability (trypan blue or 7-AAD)",
        "Ph. Eur. 2.7.29; USP <1046>",
        ResultType.NUMERIC,
        unit="%",
        reported_decimals=1,
        turnaround_days=1,
    ),
    MethodSeed(
        "identity-flow",
        "Identity: CAR-positive T cells by flow cytometry",
        "Ph. Eur. 2.7.24; USP <1027>",
        ResultType.NUMERIC,
        unit="%",
        reported_decimals=1,
        turnaround_days=2,
    ),
    MethodSeed(
        "purity-flow",
        "Purity: CD3-positive of viable CD45-positive cells by flow cytometry",
        "Ph. Eur. 2.7.24; USP <1027>",
        ResultType.NUMERIC,
        unit="%",
        reported_decimals=1,
        turnaround_days=2,
    ),
    MethodSeed(
        "vcn",
        "Vector copy number per transduced cell (ddPCR)",
        "In-house method per MIQE / dMIQE 2020",
        ResultType.NUMERIC,
        unit="copies/cell",
        reported_decimals=2,
        turnaround_days=5,
    ),
    MethodSeed(
        "rcv",
        "Replication-competent lentivirus or retrovirus",
        "FDA guidance on RCR testing of retroviral vector-based products (2020)",
        ResultType.QUALITATIVE,
        turnaround_days=21,
        qualitative_options=DETECTION,
    ),
    MethodSeed(
        "appearance",
        "Appearance (visual inspection)",
        "Ph. Eur. 2.9.20; USP <790>",
        ResultType.TEXT,
        turnaround_days=1,
    ),
)
