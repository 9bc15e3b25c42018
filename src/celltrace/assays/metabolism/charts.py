"""Server-side SVG charts of Seahorse results (matplotlib, Agg/SVG backend, no pyplot state).

Output is deterministic: a fixed ``svg.hashsalt``, no date in the metadata, text kept as SVG
``<text>`` (``svg.fonttype = none``). Injection markers carry ids ``injection-<port>`` and their
labels ``injection-label-<port>`` so that pages and tests can find them.

The charts show measurements only; no quadrant or label claims a health effect.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import matplotlib
from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from celltrace.assays.errors import AssayInputError
from celltrace.assays.metabolism.analysis import ASSAY_TITLES, AnalysisResult, Assay, ParameterDef

# Colour-blind-safe palette (Okabe–Ito), cycled per group.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)


@contextmanager
def _style() -> Iterator[None]:
    """Chart style and the deterministic SVG settings, restored on exit."""
    with rc_context():
        matplotlib.rc("svg", hashsalt="celltrace-metabolism", fonttype="none")
        matplotlib.rc("font", family="DejaVu Sans", size=9)
        matplotlib.rc("axes.spines", top=False, right=False)
        yield


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    FigureCanvasSVG(fig)
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "celltrace"})
    return buf.getvalue()


def _title(result: AnalysisResult) -> str:
    return ASSAY_TITLES[Assay(result.assay)]


def kinetic_chart(result: AnalysisResult, rate: str = "OCR") -> str:
    """Kinetic trace of ``rate`` (OCR, ECAR or PER) per group: mean ± SD, injection markers."""
    rate = rate.upper()
    traces = [t for t in result.traces if t.rate == rate]
    if not traces:
        raise AssayInputError(f"the result has no {rate} traces", field="rate")
    times = result.times_min
    with _style():
        fig = Figure(figsize=(8.0, 4.0))
        ax = fig.add_subplot()
        for i, t in enumerate(traces):
            colour = PALETTE[i % len(PALETTE)]
            yerr = [s if s is not None else 0.0 for s in t.sd]
            ax.errorbar(
                times,
                t.mean,
                yerr=yerr,
                color=colour,
                marker="o",
                markersize=3.5,
                linewidth=1.2,
                elinewidth=0.8,  # no caps: fewer artists, faster to render
                label=f"{t.group} (n={t.n})",
                gid=f"trace-{i}",
            )
        top = ax.get_ylim()[1]
        n = len(times)
        for inj in result.injections:
            m = inj.after_measurement
            if not 1 <= m < n:
                continue  # before the first or after the last measurement: nothing to mark
            x = (times[m - 1] + times[m]) / 2.0
            line = ax.axvline(x, color="#555555", linestyle="--", linewidth=0.8)
            line.set_gid(f"injection-{inj.port}")
            label = ax.text(
                x,
                top,
                f"{inj.port}: {inj.name}",
                rotation=90,
                va="top",
                ha="right",
                fontsize=7,
                color="#333333",
            )
            label.set_gid(f"injection-label-{inj.port}")
        unit = traces[0].unit
        ax.set_xlabel("Time (min)")
        ax.set_ylabel(f"{rate} ({unit})")
        # A fixed title position spares matplotlib a layout pass.
        ax.set_title(f"{rate} per group, mean ± SD ({result.file_name})", fontsize=8, y=1.02)
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.subplots_adjust(left=0.1, right=0.74, bottom=0.12, top=0.9)
        return _svg(fig)


def parameter_chart(result: AnalysisResult, keys: Sequence[str] | None = None) -> str:
    """Parameter bar chart: one panel per unit; in each, bars are group means ± SD per parameter
    and the dots are the included wells."""
    params = [p for p in result.parameters if keys is None or p.key in keys]
    if not params:
        raise AssayInputError("no parameters to chart", field="keys")
    groups = [g for g in result.groups if g.n > 0]
    by_unit: dict[str, list[ParameterDef]] = {}
    for p in params:
        by_unit.setdefault(p.unit, []).append(p)
    panels = list(by_unit.items())
    widths = [max(1, len(ps)) for _, ps in panels]
    with _style():
        fig = Figure(figsize=(min(14.0, 2.0 + 1.3 * sum(widths)), 4.6))
        axes = fig.subplots(1, len(panels), squeeze=False, width_ratios=widths)[0]
        n_g = max(1, len(groups))
        bar_w = 0.8 / n_g
        for ax, (unit, ps) in zip(axes, panels, strict=True):
            # One bar call, one error-bar call and one dot series per panel (fast to render).
            xs: list[float] = []
            heights: list[float] = []
            errs: list[float] = []
            colours: list[str] = []
            gids: list[str] = []
            dot_x: list[float] = []
            dot_y: list[float] = []
            for gi, g in enumerate(groups):
                for pi, p in enumerate(ps):
                    x = pi - 0.4 + bar_w * (gi + 0.5)
                    st = g.stat(p.key)
                    xs.append(x)
                    heights.append(st.mean if st.mean is not None else 0.0)
                    errs.append(st.sd if st.sd is not None else 0.0)
                    colours.append(PALETTE[gi % len(PALETTE)])
                    gids.append(f"bar-{gi}-{p.key}")
                    for w in result.wells:
                        if w.group == g.group and not w.excluded:
                            v = w.value(p.key)
                            if v is not None:
                                dot_x.append(x)
                                dot_y.append(v)
            bars = ax.bar(xs, heights, width=bar_w, color=colours, alpha=0.6)
            for rect, gid in zip(bars.patches, gids, strict=True):
                rect.set_gid(gid)
            ax.errorbar(xs, heights, yerr=errs, fmt="none", ecolor="#333333", elinewidth=0.7)
            ax.plot(dot_x, dot_y, "o", color="#222222", markersize=1.8, linestyle="none")
            ax.set_xticks(
                list(range(len(ps))), [p.label for p in ps], rotation=30, ha="right", fontsize=7
            )
            ax.set_ylabel(unit)
            ax.axhline(0, color="#999999", linewidth=0.5)
        handles = [
            Patch(facecolor=PALETTE[gi % len(PALETTE)], alpha=0.6, label=f"{g.group} (n={g.n})")
            for gi, g in enumerate(groups)
        ]
        axes[-1].legend(
            handles=handles, fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0)
        )
        fig.suptitle(f"{_title(result)} parameters: group mean ± SD, dots are wells", fontsize=9)
        fig.subplots_adjust(left=0.1, right=0.8, bottom=0.34, top=0.9, wspace=0.35)
        return _svg(fig)


def energy_map(
    results: AnalysisResult | Sequence[AnalysisResult], labels: Sequence[str] | None = None
) -> str:
    """OCR against ECAR at the last measurement before the first injection, one point per group.

    Several results (e.g. time points of one depositor) can share the map; ``labels`` prefixes
    each result's group names.
    """
    items = [results] if isinstance(results, AnalysisResult) else list(results)
    if not items:
        raise AssayInputError("no results to map", field="results")
    if labels is not None and len(labels) != len(items):
        raise AssayInputError("one label per result is needed", field="labels")
    with _style():
        fig = Figure(figsize=(5.5, 4.5))
        ax = fig.add_subplot()
        k = 0
        units: set[tuple[str, str]] = set()
        x_max = y_max = 0.0
        for r_i, res in enumerate(items):
            m = res.basal_measurement
            for g in res.groups:
                try:
                    o = res.trace(g.group, "OCR")
                    e = res.trace(g.group, "ECAR")
                except KeyError:
                    continue
                units.add((o.unit, e.unit))
                x, y = e.mean[m - 1], o.mean[m - 1]
                x_max = max(x_max, x + (e.sd[m - 1] or 0.0))
                y_max = max(y_max, y + (o.sd[m - 1] or 0.0))
                colour = PALETTE[k % len(PALETTE)]
                ax.errorbar(
                    [x],
                    [y],
                    xerr=[e.sd[m - 1] or 0.0],
                    yerr=[o.sd[m - 1] or 0.0],
                    fmt="o",
                    color=colour,
                    elinewidth=0.8,
                    gid=f"point-{k}",
                )
                name = g.group if labels is None else f"{labels[r_i]}: {g.group}"
                ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=7)
                k += 1
        if k == 0:
            raise AssayInputError("the results have no OCR/ECAR traces", field="results")
        o_unit, e_unit = sorted(units)[0]
        ax.set_xlabel(f"ECAR ({e_unit})")
        ax.set_ylabel(f"OCR ({o_unit})")
        # Room on the right and top for the group labels.
        ax.set_xlim(0, x_max * 1.3 if x_max > 0 else 1.0)
        ax.set_ylim(0, y_max * 1.15 if y_max > 0 else 1.0)
        ax.set_title(
            "Energy map: OCR against ECAR before the first injection, mean ± SD",
            fontsize=8,
            y=1.02,
        )
        fig.subplots_adjust(left=0.14, right=0.95, bottom=0.12, top=0.9)
        return _svg(fig)


def all_charts(result: AnalysisResult) -> dict[str, str]:
    """Every chart for one result: kinetic OCR, ECAR (and PER when present), parameters, map."""
    out = {f"kinetic_{r.lower()}": kinetic_chart(result, r) for r in ("OCR", "ECAR")}
    if any(t.rate == "PER" for t in result.traces) and result.assay != Assay.MITO_STRESS:
        out["kinetic_per"] = kinetic_chart(result, "PER")
    out["parameters"] = parameter_chart(result)
    out["energy_map"] = energy_map(result)
    return out


def plate_charts(results: Sequence[AnalysisResult]) -> dict[str, str]:
    """Every chart for several analyses of one plate, without drawing the same chart twice.

    Kinetic traces and the energy map depend on the analysed groups, exclusions and
    normalisation, not on the assay: when all results share them they are drawn once
    (``kinetic_ocr``, ``kinetic_ecar``, ``kinetic_per``, ``energy_map``); otherwise each result
    gets its own, prefixed with the assay (``mito-stress/kinetic_ocr``…). Parameter charts are
    per assay (``parameters/<assay>``).
    """
    if not results:
        raise AssayInputError("no results to chart", field="results")
    first = results[0]
    shared = all(r.traces == first.traces and r.file_sha256 == first.file_sha256 for r in results)
    out: dict[str, str] = {}
    sources = [("", first)] if shared else [(f"{r.assay}/", r) for r in results]
    for prefix, res in sources:
        for rate in ("OCR", "ECAR", "PER"):
            if any(t.rate == rate for t in res.traces):
                out[f"{prefix}kinetic_{rate.lower()}"] = kinetic_chart(res, rate)
        out[f"{prefix}energy_map"] = energy_map(res)
    for r in results:
        out[f"parameters/{r.assay}"] = parameter_chart(r)
    return out
