"""Charts of the QC dashboards as server-side SVG (matplotlib, SVG backend, no pyplot, no JS).

Deterministic (fixed ``svg.hashsalt``, no date in the metadata); text stays ``<text>`` so the
browser draws it with its own fonts (Chinese labels included) and the page's CSP holds: the
SVG is served as an image, never inlined. Bars and lines carry ids (``bar-<i>``,
``p90-<i>``, ``line-median``, ``line-rate``) so that tests can find them; every chart comes
with the table of its figures on the page, which is its text alternative.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
from django.utils.translation import gettext as _
from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from celltrace.core.charts import figure_svg
from celltrace.qc.dashboard import MonthPoint, OosGroup, TatGroup, WorkloadRow

BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILION = "#D55E00"
GREEN = "#009E73"


def _figure(height: float) -> Figure:
    matplotlib.rc("svg", hashsalt="celltrace-qc-dashboard", fonttype="none")
    matplotlib.rc("font", family="DejaVu Sans", size=9)
    matplotlib.rc("axes.spines", top=False, right=False)
    fig = Figure(figsize=(8.0, height))
    FigureCanvasSVG(fig)
    return fig


def _svg(fig: Figure) -> str:
    return figure_svg(fig)  # Chinese client or analyst names: drawn by the browser


def _empty(ax: object, title: str) -> None:
    ax.set_title(title, loc="left")  # type: ignore[attr-defined]
    ax.text(  # type: ignore[attr-defined]
        0.5, 0.5, _("No data in this period."), ha="center", va="center", color="#555"
    )
    ax.set_axis_off()  # type: ignore[attr-defined]


def _short(label: str, n: int = 28) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def _hbars(fig: Figure, ax: Any, labels: Sequence[str], xlabel: str, title: str) -> str:
    """The frame shared by the horizontal-bar charts: one labelled row per group, top to
    bottom, the value axis from 0 (at least 0 to 1, so that all-zero figures do not draw a
    negative axis), a vertical grid."""
    ax.set_yticks(list(range(len(labels))))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xlim(0, max(1.0, ax.get_xlim()[1]))
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    ax.grid(True, axis="x", linewidth=0.3, alpha=0.5)
    fig.subplots_adjust(
        left=0.34, right=0.97, top=0.85, bottom=max(0.12, 0.5 / fig.get_figheight())
    )
    return _svg(fig)


def _legend(ax: Any, handles: list[Any]) -> None:
    ax.legend(
        handles=handles,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=2,
        frameon=False,
        fontsize=8,
    )


def tat_bars(groups: Sequence[TatGroup], title: str) -> str:
    """Horizontal bars of the median turnaround per group, the p90 as a diamond."""
    with rc_context():
        fig = _figure(max(2.2, 0.9 + 0.32 * len(groups)))
        ax = fig.add_subplot()
        if not groups:
            _empty(ax, title)
            return _svg(fig)
        for i, g in enumerate(groups):
            ax.barh(i, g.median_days or 0.0, color=BLUE, height=0.6, gid=f"bar-{i}")
            if g.p90_days is not None:
                (marker,) = ax.plot([g.p90_days], [i], "D", color=VERMILION, markersize=5)
                marker.set_gid(f"p90-{i}")
        (median,) = ax.plot([], [], "s", color=BLUE, label=_("median"))
        (p90,) = ax.plot([], [], "D", color=VERMILION, label="p90")
        _legend(ax, [median, p90])
        labels = [f"{_short(g.label)} (n={g.count})" for g in groups]
        return _hbars(fig, ax, labels, _("days from receipt"), title)


def oos_bars(groups: Sequence[OosGroup], title: str) -> str:
    """Horizontal bars of the OOS rate (percent) per method."""
    with rc_context():
        fig = _figure(max(2.2, 0.9 + 0.32 * len(groups)))
        ax = fig.add_subplot()
        if not groups:
            _empty(ax, title)
            return _svg(fig)
        for i, g in enumerate(groups):
            ax.barh(i, g.rate_percent or 0.0, color=ORANGE, height=0.6, gid=f"bar-{i}")
        labels = [f"{_short(g.label)} ({g.oos}/{g.results})" for g in groups]
        return _hbars(fig, ax, labels, _("OOS investigations per 100 results"), title)


def workload_bars(rows: Sequence[WorkloadRow], title: str) -> str:
    """Open tests per analyst, the overdue part in vermilion."""
    with rc_context():
        fig = _figure(max(2.2, 0.9 + 0.32 * len(rows)))
        ax = fig.add_subplot()
        if not rows:
            _empty(ax, title)
            return _svg(fig)
        for i, r in enumerate(rows):
            ax.barh(i, r.open - r.overdue, color=GREEN, height=0.6, gid=f"bar-{i}")
            ax.barh(i, r.overdue, left=r.open - r.overdue, color=VERMILION, height=0.6)
        # explicit patches: an empty bar container gives its legend entry the default colour
        _legend(
            ax,
            [Patch(color=GREEN, label=_("on time")), Patch(color=VERMILION, label=_("overdue"))],
        )
        return _hbars(fig, ax, [_short(r.label) for r in rows], _("open tests"), title)


def month_line(points: Sequence[MonthPoint], title: str, ylabel: str, gid: str) -> str:
    """A monthly trend; months without data leave a gap in the line."""
    with rc_context():
        fig = _figure(3.0)
        ax = fig.add_subplot()
        if not any(p.value is not None for p in points):
            _empty(ax, title)
            return _svg(fig)
        xs = list(range(len(points)))
        ys = [float("nan") if p.value is None else p.value for p in points]
        (line,) = ax.plot(xs, ys, "o-", color=BLUE, linewidth=1.2, markersize=4)
        line.set_gid(gid)
        step = max(1, len(points) // 12)
        ax.set_xticks(xs[::step])
        ax.set_xticklabels([p.month for p in points][::step], rotation=0, fontsize=7.5)
        ax.set_xlim(-0.5, len(points) - 0.5)
        ax.set_ylim(0, max(1.0, ax.get_ylim()[1]))
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        ax.grid(True, linewidth=0.3, alpha=0.5)
        fig.subplots_adjust(left=0.09, right=0.98, top=0.86, bottom=0.16)
        return _svg(fig)
