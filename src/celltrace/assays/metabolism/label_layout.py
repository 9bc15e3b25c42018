"""Deterministic placement of point labels on a chart: no label over another label, over a
point or over another label's leader line, and none outside the plot frame.

Coordinates are points (1/72 inch, the user unit of the SVG charts) with y upwards. A label is
anchored at its text baseline (``va="baseline"`` in matplotlib), so the box used here is the
box of the text that the SVG ``<text x= y=>`` element draws: from ``y - descent`` to
``y + ascent`` and, by ``text-anchor``, from ``x``, around ``x`` or up to ``x``.

Text width is estimated from the advance widths of DejaVu Sans (the charts' font, read from
matplotlib's own copy) and one em for a wide (CJK) or missing character, which a browser draws
with another font. A browser without DejaVu Sans falls back to a narrower sans-serif font, so
the estimate is an upper bound there too.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from matplotlib import font_manager, ft2font
from matplotlib.font_manager import FontProperties

FONT_FAMILY = "DejaVu Sans"
ASCENT_EM = 0.95  # DejaVu Sans ascender 0.928 em, rounded up
DESCENT_EM = 0.25  # DejaVu Sans descender 0.236 em, rounded up
PAD = 1.0  # points of free space kept around each label
_UNIT = 64.0  # size at which glyph advances are read
_RETRIES = 8  # placements tried with the labels left over moved to the front

HAlign = Literal["left", "center", "right"]


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box) -> bool:
        """Whether the interiors intersect (touching edges do not overlap)."""
        return (
            self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1
        )

    def within(self, frame: Box) -> bool:
        return (
            frame.x0 <= self.x0
            and self.x1 <= frame.x1
            and frame.y0 <= self.y0
            and self.y1 <= frame.y1
        )

    def nearest(self, x: float, y: float) -> tuple[float, float]:
        """The point of the box nearest to (x, y)."""
        return min(max(x, self.x0), self.x1), min(max(y, self.y0), self.y1)

    def crosses(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        """Whether the segment a–b passes through the box's interior (Liang–Barsky)."""
        t0, t1 = 0.0, 1.0
        dx, dy = b[0] - a[0], b[1] - a[1]
        for p, q in (
            (-dx, a[0] - self.x0),
            (dx, self.x1 - a[0]),
            (-dy, a[1] - self.y0),
            (dy, self.y1 - a[1]),
        ):
            if p == 0:
                if q <= 0:
                    return False
                continue
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 >= t1:
                return False
        return True


@dataclass(frozen=True)
class Placement:
    """Where a label goes: its baseline anchor, horizontal alignment and padded box; with a
    leader line from the point to the box when it sits away from the point."""

    x: float
    y: float
    ha: HAlign
    box: Box
    leader: tuple[tuple[float, float], tuple[float, float]] | None


@cache
def _font() -> ft2font.FT2Font:
    path = font_manager.findfont(FontProperties(family=FONT_FAMILY), fallback_to_default=True)
    font = ft2font.FT2Font(path)
    font.set_size(_UNIT, 72)
    return font


@cache
def _advance_em(char: str) -> float:
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1.0
    font = _font()
    if font.get_char_index(ord(char)) == 0:
        return 1.0  # drawn by the browser with another font
    glyph = font.load_char(ord(char), flags=ft2font.LoadFlags.NO_HINTING)
    return float(glyph.linearHoriAdvance) / 65536.0 / _UNIT


def text_width(text: str, size: float) -> float:
    """Estimated width in points of one line of ``text`` at ``size`` points: the sum of the
    unhinted advance widths (no kerning), which matplotlib's measure of the same text exceeds
    only by its rounding to whole pixels (less than :data:`PAD`)."""
    return sum(_advance_em(c) for c in text) * size


def text_box(text: str, size: float, x: float, y: float, ha: HAlign) -> Box:
    """The padded box of ``text`` drawn with its baseline at ``y``, anchored at ``x`` by ``ha``."""
    width = text_width(text, size)
    left = x if ha == "left" else x - width / 2 if ha == "center" else x - width
    return Box(
        left - PAD,
        y - DESCENT_EM * size - PAD,
        left + width + PAD,
        y + ASCENT_EM * size + PAD,
    )


# Directions tried around a point, in order: the diagonals first (clear of the error bars),
# then right, left, above, below.
_DIAGONAL = 1 / math.sqrt(2)
DIRECTIONS: tuple[tuple[float, float], ...] = (
    (_DIAGONAL, _DIAGONAL),
    (_DIAGONAL, -_DIAGONAL),
    (-_DIAGONAL, _DIAGONAL),
    (-_DIAGONAL, -_DIAGONAL),
    (1.0, 0.0),
    (-1.0, 0.0),
    (0.0, 1.0),
    (0.0, -1.0),
)


#: (distance index, baseline x, baseline y, alignment, box) of a possible label position.
_Candidate = tuple[int, float, float, HAlign, Box]


def _angles(step: float) -> tuple[tuple[float, float], ...]:
    """:data:`DIRECTIONS`, then every ``step`` degrees between them (nearest the horizontal
    first, where a label is short)."""
    extra = sorted(
        (a for a in (i * step for i in range(int(360 / step))) if a % 45),
        key=lambda a: (min(a % 180, 180 - a % 180), a),
    )
    return DIRECTIONS + tuple((math.cos(math.radians(a)), math.sin(math.radians(a))) for a in extra)


# Further out, the directions between those too.
_MORE = _angles(22.5)
_MOST = _angles(11.25)


def _candidate(
    text: str, size: float, point: tuple[float, float], direction: tuple[float, float], r: float
) -> tuple[float, float, HAlign]:
    """Baseline anchor and alignment of a label whose box starts ``r`` points from ``point``
    in ``direction``."""
    ux, uy = direction
    x, y = point[0] + r * ux, point[1] + r * uy
    ha: HAlign = "left" if ux > 0.3 else "right" if ux < -0.3 else "center"
    pad = PAD
    if ha == "left":
        x += pad
    elif ha == "right":
        x -= pad
    if uy > 0.3:  # box bottom at y
        base = y + pad + DESCENT_EM * size
    elif uy < -0.3:  # box top at y
        base = y - pad - ASCENT_EM * size
    else:  # box centred on y
        base = y - (ASCENT_EM - DESCENT_EM) * size / 2
    return x, base, ha


def _nearer_point(box: Box, k: int, points: Sequence[tuple[float, float]]) -> bool:
    """Whether another point lies nearer to ``box`` than point ``k`` (then a leader line tells
    which point the label belongs to)."""

    def distance(p: tuple[float, float]) -> float:
        nx, ny = box.nearest(*p)
        return math.hypot(nx - p[0], ny - p[1])

    own = distance(points[k])
    return any(distance(p) < own for j, p in enumerate(points) if j != k and p != points[k])


def place_labels(
    points: Sequence[tuple[float, float]],
    texts: Sequence[str],
    size: float,
    frame: Box,
    radii: Sequence[float],
    marker_radius: float = 3.5,
    markers_at: Sequence[tuple[float, float]] | None = None,
) -> list[Placement | None]:
    """Place ``texts[k]`` next to ``points[k]``; the first free candidate wins. Labels with
    fewer candidates (inside the frame, off every marker) are placed first; ties in order.

    Candidates are the :data:`DIRECTIONS` (further out, more directions between them) at
    each distance of ``radii``; beyond the first
    distance, or when another point is nearer to the label than its own, the label gets a
    leader line from its point. A candidate is free when its box lies within ``frame`` and
    overlaps no point's marker, no label placed before and no leader line, and its own leader
    line crosses no label (it may cross a marker: in a cluster every way out does). Markers are
    drawn at ``markers_at`` (default: ``points``). A label with no free candidate is ``None``.
    """
    markers = [
        Box(x - marker_radius, y - marker_radius, x + marker_radius, y + marker_radius)
        for x, y in (points if markers_at is None else markers_at)
    ]

    def free_of_markers(k: int) -> list[_Candidate]:
        """Candidates of label ``k`` inside the frame and off every marker."""
        out = []
        for i, r in enumerate(radii):
            for direction in DIRECTIONS if i < 2 else _MORE if i < 4 else _MOST:
                x, y, ha = _candidate(texts[k], size, points[k], direction, r)
                box = text_box(texts[k], size, x, y, ha)
                if box.within(frame) and not any(box.overlaps(m) for m in markers):
                    out.append((i, x, y, ha, box))
        return out

    candidates = [free_of_markers(k) for k in range(len(points))]
    # The labels with the fewest places to go are placed first. When some find no place, they
    # move to the front and the placement starts again (a few times; the best try is kept).
    order = sorted(range(len(points)), key=lambda k: (len(candidates[k]), k))
    best: list[Placement | None] = []
    for _ in range(_RETRIES):
        out = _place_in_order(order, points, candidates)
        missed = [k for k in order if out[k] is None]
        if not best or len(missed) < sum(1 for p in best if p is None):
            best = out
        if not missed:
            break
        order = [*missed, *(k for k in order if out[k] is not None)]
    return best


def _place_in_order(
    order: Sequence[int],
    points: Sequence[tuple[float, float]],
    candidates: Sequence[Sequence[_Candidate]],
) -> list[Placement | None]:
    placed: list[Placement] = []
    out: list[Placement | None] = [None] * len(points)
    for k in order:
        for i, x, y, ha, box in candidates[k]:
            if any(box.overlaps(p.box) for p in placed):
                continue
            if any(p.leader is not None and box.crosses(*p.leader) for p in placed):
                continue
            leader = None
            if i > 0 or _nearer_point(box, k, points):
                leader = (points[k], box.nearest(*points[k]))
                if any(p.box.crosses(*leader) for p in placed):
                    continue
            found = Placement(x, y, ha, box, leader)
            placed.append(found)
            out[k] = found
            break
    return out


def wrap(text: str, size: float, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` points (at spaces; a longer word is cut)."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for char in word:
            if current and text_width(current + char, size) > width:
                lines.append(current)
                current = ""
            current += char
    if current or not lines:
        lines.append(current)
    return lines
