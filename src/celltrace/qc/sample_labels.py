"""Printable labels of QC samples: the laboratory's sample identity as Code 128 and DataMatrix.

Both symbols carry the same text, the sample's laboratory number (``QS-000123``), which the
storage and retrieval pages accept from a scanner. Beside them: the number, the client's sample
id, the request number, the client and the date of receipt. Labels are placed on the A4
cryovial sheet of :mod:`celltrace.labels.sheets` (48 × 25 mm, 4 × 10) and rendered to PDF with
WeasyPrint. Print at 100 % ("actual size").
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from django.utils.translation import gettext as _

from celltrace.core.pdf import html_to_pdf
from celltrace.labels.barcodes import Symbology, create_symbol
from celltrace.labels.label import FONT_FAMILY
from celltrace.labels.sheets import A4_VIAL, SheetLayout, sheet_html_of
from celltrace.qc.models import Sample

LAYOUT: SheetLayout = A4_VIAL
_ADVANCE = 0.602  # advance width of a monospaced glyph, in em


def _line(x: float, y: float, text: str, size: float, width: float, *, bold: bool = False) -> str:
    fit = max(1, int(width / (size * _ADVANCE)))
    if len(text) > fit:
        text = text[: fit - 1] + "…"
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text x="{x:.2f}" y="{y:.2f}" font-family="{FONT_FAMILY}" font-size="{size:.2f}"'
        f"{weight}>{escape(text)}</text>"
    )


def label_svg(sample: Sample, width: float, height: float) -> str:
    """One sample label as an SVG drawing of ``width`` × ``height`` millimetres."""
    identity = sample.number
    code128 = create_symbol(identity, Symbology.CODE128)
    matrix = create_symbol(identity, Symbology.DATAMATRIX)
    margin = 1.5
    bar_h = height * 0.3
    dm = height - bar_h - 2 * margin - 0.5
    text_x = margin + dm + 1.2
    text_w = width - text_x - margin
    received = sample.received_at.strftime("%Y-%m-%d") if sample.received_at else "—"
    lines = [
        _line(text_x, margin + bar_h + 3.0, identity, 2.6, text_w, bold=True),
        _line(text_x, margin + bar_h + 5.9, sample.client_sample_id, 2.2, text_w),
        _line(text_x, margin + bar_h + 8.6, sample.request.number, 2.2, text_w),
        _line(text_x, margin + bar_h + 11.3, sample.organisation.name, 2.0, text_w),
        _line(text_x, margin + bar_h + 13.8, _("Rcvd %(date)s") % {"date": received}, 2.0, text_w),
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}mm" height="{height:g}mm" '
        f'viewBox="0 0 {width:g} {height:g}">'
        + code128.nested(margin, margin, width - 2 * margin, bar_h)
        + matrix.nested(margin, margin + bar_h + 0.5, dm, dm)
        + "".join(lines)
        + "</svg>"
    )


def sheet_html(samples: Sequence[Sample], layout: SheetLayout = LAYOUT) -> str:
    """The print HTML: one ``section`` per page, labels absolutely positioned in mm."""
    if not samples:
        raise ValueError("Label sheet: no samples")
    svgs = [label_svg(s, layout.label_width_mm, layout.label_height_mm) for s in samples]
    return sheet_html_of(svgs, layout, title="QC sample labels")


def render_pdf(samples: Sequence[Sample], layout: SheetLayout = LAYOUT) -> bytes:
    """The label sheet of ``samples`` as a PDF."""

    return html_to_pdf(sheet_html(samples, layout))
