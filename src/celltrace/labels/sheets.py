"""Label sheets: place labels on printable pages and render them to PDF with WeasyPrint.

The layout engine is pure (:func:`label_positions`); :func:`render_label_sheet` builds an HTML
document whose labels are the SVG drawings of ``celltrace.labels.label`` (all text escaped
there), each absolutely positioned in millimetres, and lets WeasyPrint turn it into a PDF.
Print the PDF at 100 % ("actual size"; never "fit to page"), on the label stock the layout
describes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from celltrace.core.pdf import html_to_pdf
from celltrace.labels.label import LabelData, render_label_svg

__all__ = [
    "A4_BAG",
    "A4_VIAL",
    "LETTER_BAG",
    "LETTER_VIAL",
    "LabelSlot",
    "SheetLayout",
    "label_positions",
    "render_label_sheet",
    "render_sheet_html",
]

_EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class SheetLayout:
    """Geometry of a label sheet, in millimetres. Labels fill rows left to right, top down."""

    page_width_mm: float
    page_height_mm: float
    label_width_mm: float
    label_height_mm: float
    columns: int
    rows: int
    margin_top_mm: float = 0.0
    margin_left_mm: float = 0.0
    gap_x_mm: float = 0.0
    gap_y_mm: float = 0.0
    outline: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        for field in ("page_width_mm", "page_height_mm", "label_width_mm", "label_height_mm"):
            if not getattr(self, field) > 0:
                raise ValueError(f"Sheet layout {field}: must be > 0")
        for field in ("margin_top_mm", "margin_left_mm", "gap_x_mm", "gap_y_mm"):
            if not getattr(self, field) >= 0:
                raise ValueError(f"Sheet layout {field}: must be ≥ 0")
        for field in ("columns", "rows"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Sheet layout {field}: must be an integer ≥ 1")
        right = (
            self.margin_left_mm
            + self.columns * self.label_width_mm
            + (self.columns - 1) * self.gap_x_mm
        )
        if right > self.page_width_mm + _EPSILON:
            raise ValueError(
                f"Sheet layout: {self.columns} columns end at {right:g} mm, beyond the page "
                f"width {self.page_width_mm:g} mm"
            )
        bottom = (
            self.margin_top_mm + self.rows * self.label_height_mm + (self.rows - 1) * self.gap_y_mm
        )
        if bottom > self.page_height_mm + _EPSILON:
            raise ValueError(
                f"Sheet layout: {self.rows} rows end at {bottom:g} mm, beyond the page height "
                f"{self.page_height_mm:g} mm"
            )

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


#: A4 sheet of 40 cryovial labels, 48 × 25 mm, 4 columns × 10 rows.
A4_VIAL = SheetLayout(210, 297, 48, 25, 4, 10, 14.5, 6, 2, 2, name="A4 cryovial 4×10")
#: US Letter sheet of 30 cryovial labels, 2 × 1 in (50.8 × 25.4 mm), 3 columns × 10 rows.
LETTER_VIAL = SheetLayout(
    215.9, 279.4, 50.8, 25.4, 3, 10, 12.7, 25.4, 6.35, 0, name="Letter cryovial 3×10"
)
#: A4 sheet of 4 bag labels, 100 × 100 mm.
A4_BAG = SheetLayout(210, 297, 100, 100, 2, 2, 46.5, 3.5, 3, 4, name="A4 bag 2×2")
#: US Letter sheet of 4 bag labels, 4 × 4 in.
LETTER_BAG = SheetLayout(
    215.9, 279.4, 101.6, 101.6, 2, 2, 35.0, 5.05, 2.5, 5.0, name="Letter bag 2×2"
)


@dataclass(frozen=True, slots=True)
class LabelSlot:
    """Where one label goes: page index (0-based), row, column and top-left corner in mm."""

    page: int
    row: int
    column: int
    x_mm: float
    y_mm: float


def label_positions(layout: SheetLayout, count: int, *, skip: int = 0) -> list[LabelSlot]:
    """Slots for ``count`` labels; ``skip`` leaves the first slots of a used sheet empty."""
    if count < 0 or skip < 0:
        raise ValueError("label_positions: count and skip must be ≥ 0")
    if skip >= layout.per_page:
        raise ValueError(f"label_positions: skip must be < {layout.per_page} labels per page")
    slots = []
    for index in range(skip, skip + count):
        page, within = divmod(index, layout.per_page)
        row, column = divmod(within, layout.columns)
        slots.append(
            LabelSlot(
                page,
                row,
                column,
                layout.margin_left_mm + column * (layout.label_width_mm + layout.gap_x_mm),
                layout.margin_top_mm + row * (layout.label_height_mm + layout.gap_y_mm),
            )
        )
    return slots


def render_sheet_html(
    labels: list[LabelData], layout: SheetLayout, *, skip: int = 0, title: str = "Labels"
) -> str:
    """The print HTML of ``labels``: one ``section`` per page, labels positioned in mm."""
    if not labels:
        raise ValueError("Label sheet: no labels to print")
    svgs = [
        render_label_svg(
            label, layout.label_width_mm, layout.label_height_mm, outline=layout.outline
        )
        for label in labels
    ]
    return sheet_html_of(svgs, layout, skip=skip, title=title)


def sheet_html_of(
    svgs: Sequence[str], layout: SheetLayout, *, skip: int = 0, title: str = "Labels"
) -> str:
    """The print HTML of labels already drawn as SVG (one per label, sized to the layout's
    label): one ``section`` per page, labels absolutely positioned in mm."""
    if not svgs:
        raise ValueError("Label sheet: no labels to print")
    slots = label_positions(layout, len(svgs), skip=skip)
    pages: dict[int, list[str]] = {}
    for svg, slot in zip(svgs, slots, strict=True):
        pages.setdefault(slot.page, []).append(
            f'<div class="label" style="left:{slot.x_mm:.3f}mm;top:{slot.y_mm:.3f}mm">{svg}</div>'
        )
    w, h = layout.page_width_mm, layout.page_height_mm
    css = (
        f"@page {{ size: {w:g}mm {h:g}mm; margin: 0 }}"
        "html, body { margin: 0; padding: 0 }"
        f".page {{ position: relative; width: {w:g}mm; height: {h:g}mm; overflow: hidden;"
        " break-after: page }"
        ".page:last-child { break-after: auto }"
        f".label {{ position: absolute; width: {layout.label_width_mm:g}mm;"
        f" height: {layout.label_height_mm:g}mm }}"
        ".label svg { display: block }"
    )
    body = "".join(f'<section class="page">{"".join(pages[p])}</section>' for p in sorted(pages))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{css}</style></head>"
        f"<body>{body}</body></html>"
    )


def render_label_sheet(
    labels: list[LabelData], layout: SheetLayout, *, skip: int = 0, title: str = "Labels"
) -> bytes:
    """Render ``labels`` on sheets of ``layout`` as a PDF (bytes)."""

    html = render_sheet_html(labels, layout, skip=skip, title=title)
    return html_to_pdf(html)
