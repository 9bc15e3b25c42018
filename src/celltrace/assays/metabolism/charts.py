"""Server-side SVG charts of Seahorse results (matplotlib, Agg/SVG backend, no pyplot state).

Output is deterministic: a fixed ``svg.hashsalt``, no date in the metadata, text kept as SVG
``<text>`` (``svg.fonttype = none``). Injection markers carry ids ``injection-<port>`` and their
labels ``injection-label-<port>`` so that pages and tests can find them.

The charts show measurements only; no quadrant or label claims a health effect.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib
from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from celltrace.assays.errors import AssayInputError
from celltrace.assays.metabolism.analysis import ASSAY_TITLES, AnalysisResult, Assay, ParameterDef
from celltrace.assays.metabolism.label_layout import (
    ASCENT_EM,
    PAD,
    Box,
    Placement,
    place_labels,
    text_width,
    wrap,
)

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


@dataclass(frozen=True)
class _MapPoint:
    x: float  # ECAR
    y: float  # OCR
    xerr: float
    yerr: float
    label: str
    colour: str


# Energy map geometry (inches): the plot frame keeps its size; a key below it adds height.
_MAP_WIDTH = 5.5
_MAP_FRAME = (0.77, 4.455, 0.54, 3.51)  # left, right, bottom, top of the frame (no key)
_MAP_HEIGHT = 4.5
_LABEL_SIZE = 7.0
_KEY_SIZE = 7.0
_KEY_LINE = 1.35 * _KEY_SIZE  # points from one key line's baseline to the next
_KEY_PAD = 6.0  # points above and below the key
_KEY_MARGIN = 18.0  # points left and right of the key
_KEY_GUTTER = 10.0  # points between key columns
#: Distances (points) tried around a point: direct labels stay near their point; numbers may
#: move further out on a leader line.
_LABEL_RADII = (6.0, 14.0, 24.0)
_SAME_POINT = 1.5  # points: markers closer than this are one point on the map
_MARKER_RADIUS = 3.5  # points: matplotlib's default marker (6 pt) plus its edge, rounded up
_NUMBER_RADII = (6.0, 12.0, *(float(r) for r in range(20, 221, 10)))


def _map_points(
    items: Sequence[AnalysisResult], labels: Sequence[str] | None
) -> tuple[list[_MapPoint], set[tuple[str, str]]]:
    points: list[_MapPoint] = []
    units: set[tuple[str, str]] = set()
    for r_i, res in enumerate(items):
        m = res.basal_measurement
        for g in res.groups:
            try:
                o = res.trace(g.group, "OCR")
                e = res.trace(g.group, "ECAR")
            except KeyError:
                continue
            units.add((o.unit, e.unit))
            name = g.group if labels is None else f"{labels[r_i]}: {g.group}"
            points.append(
                _MapPoint(
                    e.mean[m - 1],
                    o.mean[m - 1],
                    e.sd[m - 1] or 0.0,
                    o.sd[m - 1] or 0.0,
                    name,
                    PALETTE[len(points) % len(PALETTE)],
                )
            )
    return points, units


def _limits(lows: Sequence[float], highs: Sequence[float], room: float) -> tuple[float, float]:
    """Axis limits from 0 (or below the lowest value) to the highest value plus ``room``."""
    hi = max(highs)
    lo = min(0.0, min(lows))
    span = hi - lo
    if span <= 0:
        return (lo, lo + 1.0)
    return (lo - 0.05 * span if lo < 0 else lo, hi + room * span if hi > 0 else hi + 0.05 * span)


@dataclass(frozen=True)
class _Key:
    """The numbered key: columns, column width and each entry's wrapped lines (points)."""

    columns: int
    column_width: float
    number_width: float
    entries: list[list[str]]

    @property
    def rows_per_column(self) -> int:
        return math.ceil(len(self.entries) / self.columns)

    @property
    def height(self) -> float:
        per_column = [
            sum(len(e) for e in self.entries[c * self.rows_per_column :][: self.rows_per_column])
            for c in range(self.columns)
        ]
        return 2 * _KEY_PAD + max(per_column) * _KEY_LINE


def _key(points: Sequence[_MapPoint], marked: Sequence[bool]) -> _Key:
    entries = [
        p.label if is_marked else f"{p.label} (not marked: no free space on the map)"
        for p, is_marked in zip(points, marked, strict=True)
    ]
    number_w = text_width(str(len(points)), _KEY_SIZE) + 14.0  # marker, number and gaps
    usable = _MAP_WIDTH * 72 - 2 * _KEY_MARGIN
    widest = max(text_width(t, _KEY_SIZE) for t in entries) + number_w + 2 * PAD
    columns = 2 if widest <= usable / 2 - _KEY_GUTTER else 1
    col_w = usable / columns
    text_w = col_w - number_w - 2 * PAD - (_KEY_GUTTER if columns > 1 else 0.0)
    return _Key(columns, col_w, number_w, [wrap(t, _KEY_SIZE, text_w) for t in entries])


def _draw_key(fig: Figure, points: Sequence[_MapPoint], key: _Key) -> None:
    """The key under the map: each point's marker, number and label, in columns. Every line is
    its own text (``key-<k>`` for an entry's first line, ``key-<k>-<j>`` for the next)."""
    fig_w, fig_h = fig.get_figwidth() * 72, fig.get_figheight() * 72
    for c in range(key.columns):
        x = _KEY_MARGIN + c * key.column_width
        # baseline of the column's first line
        y = key.height - _KEY_PAD - ASCENT_EM * _KEY_SIZE
        first = c * key.rows_per_column
        for k in range(first, min(len(points), first + key.rows_per_column)):
            fig.add_artist(
                Line2D(
                    [(x + 3.0) / fig_w],
                    [(y + 0.35 * _KEY_SIZE) / fig_h],
                    marker="o",
                    markersize=4,
                    color=points[k].colour,
                    linestyle="none",
                    transform=fig.transFigure,
                )
            )
            number = fig.text(
                (x + key.number_width - 4.0) / fig_w,
                y / fig_h,
                str(k + 1),
                ha="right",
                va="baseline",
                fontsize=_KEY_SIZE,
            )
            number.set_gid(f"key-number-{k}")
            for j, line in enumerate(key.entries[k]):
                text = fig.text(
                    (x + key.number_width) / fig_w,
                    y / fig_h,
                    line,
                    ha="left",
                    va="baseline",
                    fontsize=_KEY_SIZE,
                )
                text.set_gid(f"key-{k}" if j == 0 else f"key-{k}-{j}")
                y -= _KEY_LINE


def _clusters(anchors: Sequence[tuple[float, float]], distance: float) -> list[list[int]]:
    """Indices of ``anchors`` grouped by chains of neighbours at most ``distance`` apart, each
    group in order and the groups by their first member."""
    groups: list[list[int]] = []
    for k, (x, y) in enumerate(anchors):
        near = [
            g
            for g in groups
            if any(math.hypot(x - anchors[j][0], y - anchors[j][1]) <= distance for j in g)
        ]
        merged = sorted([k, *(j for g in near for j in g)])
        groups = [g for g in groups if g not in near] + [merged]
    return sorted(groups)


def _numbers(members: Sequence[int]) -> str:
    """Point numbers (1-based) of a label: ``"3"``, ``"3, 8"``, ``"1–4, 9"``."""
    parts: list[str] = []
    run: list[int] = []
    for n in [k + 1 for k in members] + [0]:
        if run and n == run[-1] + 1:
            run.append(n)
            continue
        if run:
            parts.append(f"{run[0]}–{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)))
        run = [n]
    return ", ".join(parts)


def energy_map(
    results: AnalysisResult | Sequence[AnalysisResult], labels: Sequence[str] | None = None
) -> str:
    """OCR against ECAR at the last measurement before the first injection, one point per group.

    Several results (e.g. time points of one depositor) can share the map; ``labels`` prefixes
    each result's group names. Each point is labelled next to it where the label fits without
    touching another label, point or leader line and inside the frame
    (:func:`~.label_layout.place_labels`); when one does not, every point is numbered instead
    and a key under the map gives each number's label (``id="label-<k>"`` for the text at point
    ``k``, ``id="key-<k>"`` for its key entry).
    """
    items = [results] if isinstance(results, AnalysisResult) else list(results)
    if not items:
        raise AssayInputError("no results to map", field="results")
    if labels is not None and len(labels) != len(items):
        raise AssayInputError("one label per result is needed", field="labels")
    points, units = _map_points(items, labels)
    if not points:
        raise AssayInputError("the results have no OCR/ECAR traces", field="results")
    # Room on the right and top for the labels.
    x_lim = _limits([p.x - p.xerr for p in points], [p.x + p.xerr for p in points], 0.3)
    y_lim = _limits([p.y - p.yerr for p in points], [p.y + p.yerr for p in points], 0.15)
    left, right, bottom, top = _MAP_FRAME
    frame_w, frame_h = (right - left) * 72, (top - bottom) * 72
    frame = Box(0.0, 0.0, frame_w, frame_h)

    def to_frame(x: float, y: float) -> tuple[float, float]:
        return (
            (x - x_lim[0]) / (x_lim[1] - x_lim[0]) * frame_w,
            (y - y_lim[0]) / (y_lim[1] - y_lim[0]) * frame_h,
        )

    def to_data(px: float, py: float) -> tuple[float, float]:
        return (
            x_lim[0] + px / frame_w * (x_lim[1] - x_lim[0]),
            y_lim[0] + py / frame_h * (y_lim[1] - y_lim[0]),
        )

    frame_points = [to_frame(p.x, p.y) for p in points]
    # Points drawn on top of each other share one label.
    clusters = _clusters(frame_points, _SAME_POINT)
    anchors = [frame_points[c[0]] for c in clusters]
    texts = ["; ".join(points[k].label for k in c) for c in clusters]
    placed = place_labels(
        anchors,
        texts,
        _LABEL_SIZE,
        frame,
        _LABEL_RADII,
        marker_radius=_MARKER_RADIUS,
        markers_at=frame_points,
    )
    key: _Key | None = None
    if any(where is None for where in placed):
        # Numbers instead; if some still find no place, points whose markers touch share one
        # number label (the better of the two is kept).
        best: tuple[int, list[list[int]], list[str], list[Placement | None]] | None = None
        for distance in (_SAME_POINT, 2 * _MARKER_RADIUS):
            clusters = _clusters(frame_points, distance)
            anchors = [frame_points[c[0]] for c in clusters]
            texts = [_numbers(c) for c in clusters]
            placed = place_labels(
                anchors,
                texts,
                _LABEL_SIZE,
                frame,
                _NUMBER_RADII,
                marker_radius=_MARKER_RADIUS,
                markers_at=frame_points,
            )
            unmarked = sum(len(c) for c, where in zip(clusters, placed, strict=True) if not where)
            if best is None or unmarked < best[0]:
                best = (unmarked, clusters, texts, placed)
            if not unmarked:
                break
        assert best is not None
        _, clusters, texts, placed = best
        marked = [False] * len(points)
        for c, where in zip(clusters, placed, strict=True):
            for k in c:
                marked[k] = where is not None
        key = _key(points, marked)
    key_height = key.height if key is not None else 0.0
    height = _MAP_HEIGHT + key_height / 72
    with _style():
        fig = Figure(figsize=(_MAP_WIDTH, height))
        ax = fig.add_axes(
            (
                left / _MAP_WIDTH,
                (bottom + key_height / 72) / height,
                (right - left) / _MAP_WIDTH,
                (top - bottom) / height,
            )
        )
        ax.patch.set_gid("plot-frame")
        for k, p in enumerate(points):
            ax.errorbar(
                [p.x],
                [p.y],
                xerr=[p.xerr],
                yerr=[p.yerr],
                fmt="o",
                color=p.colour,
                elinewidth=0.8,
                gid=f"point-{k}",
            )
        for c, text, where in zip(clusters, texts, placed, strict=True):
            k = c[0]
            if where is None:
                continue
            if where.leader is not None:
                (ax_, ay_), (bx_, by_) = (to_data(*xy) for xy in where.leader)
                ax.plot([ax_, bx_], [ay_, by_], color="#777777", linewidth=0.5, gid=f"leader-{k}")
            tx, ty = to_data(where.x, where.y)
            label = ax.text(tx, ty, text, ha=where.ha, va="baseline", fontsize=_LABEL_SIZE)
            label.set_gid(f"label-{k}")
        o_unit, e_unit = sorted(units)[0]
        ax.set_xlabel(f"ECAR ({e_unit})")
        ax.set_ylabel(f"OCR ({o_unit})")
        ax.set_xlim(*x_lim)
        ax.set_ylim(*y_lim)
        ax.set_title(
            "Energy map: OCR against ECAR before the first injection, mean ± SD",
            fontsize=8,
            y=1.02,
        )
        if key is not None:
            _draw_key(fig, points, key)
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
