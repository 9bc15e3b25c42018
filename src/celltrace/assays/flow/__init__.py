"""Flow cytometry release calculations (docs/design/domain-facts.md §11).

Two ways in:

* exported statistics (FlowJo, Kaluza, FACSDiva CSV) → :func:`read_stats_csv` +
  :func:`sample_from_stats` — pure Python, no extra needed;
* FCS files + a GatingML 2.0 or FlowJo 10 workspace template → :func:`analyze_fcs` — needs the
  ``celltrace[flow]`` extra (FlowKit), imported only when an FCS file is analysed.

Both give a :class:`FlowSampleResult`; :func:`flow_release` combines a stained sample with its
untransduced/FMO control (CAR+ net of control, floored at 0 and flagged).
"""

from __future__ import annotations

from celltrace.assays.flow.fcs import FLOW_EXTRA_HINT, FcsFile, FlowKitMissingError, read_sample
from celltrace.assays.flow.gating import (
    DEFAULT_GATE_NAMES,
    GatingTemplate,
    TemplateKind,
    analyze_fcs,
    gating_strategy,
)
from celltrace.assays.flow.plots import GatePlot, plot_gates_svg
from celltrace.assays.flow.release import (
    CALCULATION_VERSION,
    CarNetOfControl,
    FlowInputs,
    FlowReleaseResult,
    FlowSampleResult,
    GateCount,
    PopulationCount,
    Proportion,
    ReleasePopulation,
    SampleCounts,
    SampleReleaseValues,
    car_net_of_control,
    flow_release,
    release_values,
)
from celltrace.assays.flow.stats_import import (
    PopulationStat,
    StatsLayout,
    StatsTable,
    read_stats_csv,
    sample_from_stats,
)

__all__ = [
    "CALCULATION_VERSION",
    "DEFAULT_GATE_NAMES",
    "FLOW_EXTRA_HINT",
    "CarNetOfControl",
    "FcsFile",
    "FlowInputs",
    "FlowKitMissingError",
    "FlowReleaseResult",
    "FlowSampleResult",
    "GateCount",
    "GatePlot",
    "GatingTemplate",
    "PopulationCount",
    "PopulationStat",
    "Proportion",
    "ReleasePopulation",
    "SampleCounts",
    "SampleReleaseValues",
    "StatsLayout",
    "StatsTable",
    "TemplateKind",
    "analyze_fcs",
    "car_net_of_control",
    "flow_release",
    "gating_strategy",
    "plot_gates_svg",
    "read_sample",
    "read_stats_csv",
    "release_values",
    "sample_from_stats",
]
