"""Dot plots with the gates drawn, as static SVG for the result page (matplotlib, Agg, no JS).

Each gate of the template is plotted in its own dimensions, on the events of its parent gate,
compensated and transformed exactly as the gating used them.  Output is deterministic: a
strided (not random) subsample, a fixed SVG hash salt, no date metadata, text kept as text.
The gate outline is an SVG element with ``id="gate-<gate name>"``.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from celltrace.assays.errors import AssayInputError, InstrumentFileError
from celltrace.assays.flow.fcs import FcsFile, read_sample, require_flowkit, spillover_keyword
from celltrace.assays.flow.gating import (
    GatingTemplate,
    check_template_compensation,
    gating_strategy,
)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GatePlot:
    gate_path: str  # "Cells/Singlets/Viable"
    x_channel: str
    y_channel: str | None  # None for a one-dimensional (range) gate: histogram
    parent_events: int
    plotted_events: int
    svg: str


def _comp_events(
    strategy: Any, sample: Any, ref: str | None, cache: dict[str, FloatArray]
) -> FloatArray:
    key = ref or "uncompensated"
    if key in cache:
        return cache[key]
    fk = require_flowkit()
    if ref in (None, "uncompensated"):
        events = sample.get_events(source="raw")
    elif ref == "FCS":
        spill = spillover_keyword(sample)
        if spill is None:
            events = sample.get_events(source="raw")
        else:
            detectors = [sample.pnn_labels[i] for i in sample.fluoro_indices]
            matrix = fk.Matrix(spill, detectors, null_channels=sample.null_channels)
            events = matrix.apply(sample)
    else:
        events = strategy.comp_matrices[ref].apply(sample)
    cache[key] = np.asarray(events, dtype=np.float64)
    return cache[key]


def _channel_index(sample: Any, dim_id: str) -> int:
    for labels in (
        sample.pnn_labels,
        [lbl.replace("/", "_") for lbl in sample.pnn_labels],
        sample.pns_labels,
    ):
        if dim_id in labels:
            return int(labels.index(dim_id))
    raise InstrumentFileError(f"channel {dim_id!r} not in the file")


def _dimension_values(
    strategy: Any, sample: Any, dim: Any, mask: Any, cache: dict[str, FloatArray]
) -> FloatArray:
    events = _comp_events(strategy, sample, getattr(dim, "compensation_ref", None), cache)
    column: FloatArray = events[mask, _channel_index(sample, dim.id)]
    ref = getattr(dim, "transformation_ref", None)
    if ref is not None:
        column = np.asarray(
            strategy.get_transform(ref).apply(column.reshape(-1, 1)), dtype=np.float64
        ).ravel()
    return column


def _limits(values: FloatArray, extra: Sequence[float]) -> tuple[float, float]:
    finite = [float(v) for v in extra if v is not None and np.isfinite(v)]
    if values.size:
        finite += [float(np.percentile(values, 0.5)), float(np.percentile(values, 99.5))]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    pad = (hi - lo) * 0.05 or 0.5
    return lo - pad, hi + pad


def _label(sample: Any, dim_id: str) -> str:
    idx = _channel_index(sample, dim_id)
    pns = sample.pns_labels[idx].strip() if sample.pns_labels[idx] else ""
    return f"{dim_id} ({pns})" if pns and pns != dim_id else dim_id


def _render(
    sample: Any,
    gate: Any,
    gate_name: str,
    path: str,
    x: FloatArray,
    y: FloatArray | None,
) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon, Rectangle

    dims = gate.dimensions
    fig = Figure(figsize=(3.4, 3.2), dpi=100)
    ax = fig.add_subplot()
    outline_kw: dict[str, Any] = {
        "fill": False,
        "edgecolor": "#c0392b",
        "linewidth": 1.4,
        "gid": f"gate-{gate_name}",
    }
    if y is None:
        lo_x, hi_x = _limits(x, [dims[0].min, dims[0].max])
        counts, _ = np.histogram(x, bins=128, range=(lo_x, hi_x))
        ax.stairs(counts, np.linspace(lo_x, hi_x, 129), fill=True, color="#555555")
        top = float(max(int(counts.max()) if counts.size else 1, 1)) * 1.05
        g_lo = dims[0].min if dims[0].min is not None else lo_x
        g_hi = dims[0].max if dims[0].max is not None else hi_x
        ax.add_patch(Rectangle((g_lo, 0.0), g_hi - g_lo, top, **outline_kw))
        ax.set_xlim(lo_x, hi_x)
        ax.set_ylim(0.0, top * 1.02)
        ax.set_ylabel("events")
    else:
        if hasattr(gate, "vertices"):
            verts = np.asarray(gate.vertices, dtype=np.float64)
            ax.add_patch(Polygon(verts, closed=True, **outline_kw))
            gx, gy = list(verts[:, 0]), list(verts[:, 1])
        else:
            gx = [dims[0].min, dims[0].max]
            gy = [dims[1].min, dims[1].max]
        lo_x, hi_x = _limits(x, gx)
        lo_y, hi_y = _limits(y, gy)
        if not hasattr(gate, "vertices"):
            x0 = dims[0].min if dims[0].min is not None else lo_x
            x1 = dims[0].max if dims[0].max is not None else hi_x
            y0 = dims[1].min if dims[1].min is not None else lo_y
            y1 = dims[1].max if dims[1].max is not None else hi_y
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, **outline_kw))
        ax.scatter(x, y, s=0.6, c="#333333", marker=".", linewidths=0, rasterized=False)
        ax.set_xlim(lo_x, hi_x)
        ax.set_ylim(lo_y, hi_y)
        ax.set_ylabel(_label(sample, dims[1].id), fontsize=7)
    ax.set_xlabel(_label(sample, dims[0].id), fontsize=7)
    ax.set_title(path, fontsize=7)
    ax.tick_params(labelsize=6)
    fig.tight_layout()
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "celltrace-flow", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return buf.getvalue()


def plot_gates_svg(
    fcs: str | Path | bytes | FcsFile,
    template: str | Path | bytes | GatingTemplate,
    *,
    sample_id: str | None = None,
    wsp_sample: str | None = None,
    gates: Sequence[str] | None = None,
    max_events: int = 5000,
    allow_uncompensated: bool = False,
) -> tuple[GatePlot, ...]:
    """One SVG per gate (or per name/path in ``gates``), in template order."""
    if max_events < 1:
        raise AssayInputError("max_events must be at least 1", field="max_events")
    fcs_file = FcsFile.load(fcs)
    tpl = GatingTemplate.load(template)
    strategy = gating_strategy(tpl, wsp_sample=wsp_sample)
    sample = read_sample(fcs_file, sample_id=sample_id or fcs_file.name)
    check_template_compensation(strategy, sample, fcs_file, tpl, allow_uncompensated)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = strategy.gate_sample(sample, cache_events=True)
    except Exception as exc:
        raise InstrumentFileError(f"{fcs_file.name}: gating failed ({exc})") from exc
    wanted = None if gates is None else {g.strip("/") for g in gates}
    cache: dict[str, FloatArray] = {}
    plots: list[GatePlot] = []
    for name, ancestors in strategy.get_gate_ids():
        path = "/".join((*ancestors[1:], name))
        if wanted is not None and name not in wanted and path not in wanted:
            continue
        try:
            gate = strategy.get_gate(name, ancestors)
        except Exception:  # noqa: S112 - quadrant members are drawn with their quadrant gate
            continue
        dims = getattr(gate, "dimensions", None)
        if not dims or len(dims) > 2 or not (hasattr(gate, "vertices") or hasattr(dims[0], "min")):
            continue  # boolean/ellipsoid/quadrant gates: no outline drawn
        if len(ancestors) == 1:
            mask = np.ones(sample.event_count, dtype=bool)
        else:
            mask = np.asarray(results.get_gate_membership(ancestors[-1], ancestors[:-1]))
        idx = np.flatnonzero(mask)
        if idx.size > max_events:
            idx = idx[np.linspace(0, idx.size - 1, max_events).astype(np.int64)]
        x = _dimension_values(strategy, sample, dims[0], idx, cache)
        y = _dimension_values(strategy, sample, dims[1], idx, cache) if len(dims) == 2 else None
        svg = _render(sample, gate, name, path, x, y)
        plots.append(
            GatePlot(
                gate_path=path,
                x_channel=dims[0].id,
                y_channel=dims[1].id if len(dims) == 2 else None,
                parent_events=int(mask.sum()),
                plotted_events=int(idx.size),
                svg=svg,
            )
        )
    return tuple(plots)
