"""Charts of the Django layer: a run's charts by name, and a depositor's charts over time.

The single-run charts and the energy map come from :mod:`celltrace.assays.metabolism.charts`;
this module adds the parameter chart over time (one panel per parameter, the group mean ± SD
at each time point, from the runs' stored group results). Output is server-side SVG text,
deterministic, reporting measurements only.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import matplotlib
from django.utils import translation
from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from celltrace.assays.metabolism import charts as assay_charts
from celltrace.core.charts import figure_svg
from celltrace.metabolism import services
from celltrace.metabolism.models import MetabolismRun

RUN_CHARTS = ("kinetic_ocr", "kinetic_ecar", "kinetic_per", "parameters", "energy_map")


def run_chart_names(run: MetabolismRun) -> list[str]:
    """The charts a run has: PER traces only for the PER-based assays."""
    names = ["kinetic_ocr", "kinetic_ecar"]
    if run.assay != "mito-stress":
        names.append("kinetic_per")
    return [*names, "parameters", "energy_map"]


@lru_cache(maxsize=64)
def _run_chart(run_pk: int, results_sha256: str, name: str) -> str:
    run = MetabolismRun.objects.defer("normalisation_data").get(pk=run_pk)
    result = services.run_result(run)
    if name.startswith("kinetic_"):
        return assay_charts.kinetic_chart(result, name.removeprefix("kinetic_").upper())
    if name == "parameters":
        return assay_charts.parameter_chart(result)
    return assay_charts.energy_map(result)


def run_chart(run: MetabolismRun, name: str) -> str:
    """One chart of a run (``name`` from :func:`run_chart_names`) as SVG text."""
    if name not in run_chart_names(run):
        raise KeyError(name)
    return _run_chart(run.pk, run.results_sha256, name)


def timepoint_label(run: MetabolismRun) -> str:
    """The chart label of a run's time point. Chart text is English, like the assay layer's
    charts (their fonts carry no CJK glyphs); pages and the PDF translate around the charts."""
    with translation.override("en"):
        return f"{run.sampled_on.isoformat()} {run.timepoint_display}"


def profile_energy_map(runs: Sequence[MetabolismRun]) -> str:
    """The energy map combining a depositor's time points (one labelled point per group; when
    the labels do not fit beside their points, numbered points and a key under the map)."""
    results = [services.run_result(r) for r in runs]
    with warnings.catch_warnings():
        # a free-text time point label may be Chinese: measured without CJK glyphs (one em per
        # character in the label placement), drawn by the browser or the PDF with a CJK font
        warnings.filterwarnings(
            "ignore", message="Glyph .* missing from font", category=UserWarning
        )
        return assay_charts.energy_map(results, labels=[timepoint_label(r) for r in runs])


def _svg(fig: Figure) -> str:
    FigureCanvasSVG(fig)
    return figure_svg(fig)


def parameters_over_time(runs: Sequence[MetabolismRun], assay: str) -> str:
    """One panel per parameter of ``assay``: each group's mean ± SD at each time point."""
    chosen = [r for r in runs if r.assay == assay]
    if not chosen:
        raise KeyError(assay)
    params: list[dict[str, Any]] = chosen[-1].parameters
    with translation.override("en"):
        labels = [f"{r.sampled_on.isoformat()}\n{r.get_timepoint_display()}" for r in chosen]
    groups: list[str] = []
    for r in chosen:
        for row in r.group_results:
            if row["group"] not in groups:
                groups.append(row["group"])
    cols = 3
    rows = max(1, (len(params) + cols - 1) // cols)
    with rc_context():
        matplotlib.rc("svg", hashsalt="celltrace-metabolism-profile", fonttype="none")
        matplotlib.rc("font", family="DejaVu Sans", size=8)
        matplotlib.rc("axes.spines", top=False, right=False)
        fig = Figure(figsize=(9.5, 2.6 * rows + 0.6))
        xs = list(range(len(chosen)))
        for i, p in enumerate(params):
            ax = fig.add_subplot(rows, cols, i + 1)
            for g_i, group in enumerate(groups):
                ys: list[float] = []
                es: list[float] = []
                gx: list[int] = []
                for x, r in zip(xs, chosen, strict=True):
                    row = next((row for row in r.group_results if row["group"] == group), None)
                    if row is None or row.get(p["key"]) is None:
                        continue
                    gx.append(x)
                    ys.append(float(row[p["key"]]))
                    es.append(float(row["sd"].get(p["key"]) or 0.0))
                if not gx:
                    continue
                colour = assay_charts.PALETTE[g_i % len(assay_charts.PALETTE)]
                ax.errorbar(
                    gx,
                    ys,
                    yerr=es,
                    fmt="o-",
                    color=colour,
                    elinewidth=0.8,
                    capsize=2,
                    markersize=3.5,
                    linewidth=1,
                    label=group,
                    gid=f"series-{i}-{g_i}",
                )
            ax.set_title(f"{p['label']} ({p['unit']})", fontsize=7.5)
            ax.set_xticks(xs)
            ax.set_xticklabels(labels, fontsize=6)
            ax.set_xlim(-0.5, len(xs) - 0.5)
            ax.tick_params(axis="y", labelsize=6.5)
        handles, names = fig.axes[0].get_legend_handles_labels() if fig.axes else ([], [])
        if handles:
            fig.legend(handles, names, loc="upper right", fontsize=7, frameon=False)
        fig.suptitle(
            "Measured parameters by time point: group mean ± SD (sample SD over wells)",
            fontsize=9,
            x=0.02,
            ha="left",
        )
        fig.subplots_adjust(left=0.07, right=0.97, bottom=0.1, top=0.9, hspace=0.7, wspace=0.3)
        return _svg(fig)
