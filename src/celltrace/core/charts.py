"""SVG text of the apps' matplotlib charts."""

from __future__ import annotations

import io
import warnings

from matplotlib.figure import Figure


def figure_svg(fig: Figure) -> str:
    """The figure as deterministic SVG text (no date in the metadata). Text stays ``<text>``:
    Chinese labels are measured by matplotlib without CJK glyphs (its warning is silenced)
    and drawn by the browser with its own CJK font."""
    buf = io.StringIO()
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Glyph .* missing from font", category=UserWarning
        )
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "celltrace"})
    return buf.getvalue()
