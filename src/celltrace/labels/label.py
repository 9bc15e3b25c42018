"""One cryovial or bag label as an SVG drawing (millimetre units).

The same SVG is used for the on-screen preview (:func:`render_label_svg`) and, placed on a
page, for printing (``celltrace.labels.sheets``). All text is monospaced (DejaVu Sans Mono: a
dotted zero, distinct ``1``/``I``) so widths can be computed without font metrics, and every
piece of text is escaped with :func:`html.escape`.

Contents follow docs/design/domain-facts.md §1.8 (ST-001 §7.3–7.5; ST-004 for CT-specific
text — review label templates against ST-004 before release):

* vial: Code 128 DIN, DataMatrix (DIN + product code + division [+ expiry]), eye-readable DIN
  with its check character boxed (Type 1/2 flags rotated 90° clockwise, Type 3 never printed),
  product code and division, product name, expiry;
* bag: all of the above plus storage temperature, volume, "For autologous use only" /
  biohazard / research statements derived from the collection type, collection and processing
  facility, and the chain-of-identity identifier with its boxed check character.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from celltrace.bank.isbt128 import ChainOfIdentityId, Din, FlagKind, IsbtDateTime, ProductCode
from celltrace.labels.barcodes import (
    DEFAULT_COMPOUND_REFERENCE,
    Symbology,
    create_symbol,
    datamatrix_content,
    din_code128_content,
)

__all__ = ["FONT_FAMILY", "LabelData", "LabelKind", "label_statements", "render_label_svg"]

FONT_FAMILY = "DejaVu Sans Mono, Liberation Mono, monospace"
#: Advance width of a DejaVu Sans Mono glyph, in em.
_ADVANCE = 0.602
_MIN_FONT_MM = 1.2  # about 3.4 pt
_MAX_TEXT = 200


class LabelKind(enum.Enum):
    VIAL = "vial"
    BAG = "bag"


@dataclass(frozen=True, slots=True)
class LabelData:
    """What one label shows. ``zone`` is the labelling facility's IANA time zone."""

    din: Din
    product_code: ProductCode
    product_name: str
    expiry: datetime | None = None
    zone: str = "UTC"
    kind: LabelKind = LabelKind.VIAL
    storage_temperature: str = ""
    volume: str = ""
    collection_facility: str = ""
    processing_facility: str = ""
    coi: ChainOfIdentityId | None = None
    expiry_in_symbol: bool = True
    compound_reference: str = DEFAULT_COMPOUND_REFERENCE

    def __post_init__(self) -> None:
        if not isinstance(self.din, Din):
            raise ValueError("Label DIN: expected a Din")
        if not isinstance(self.product_code, ProductCode):
            raise ValueError("Label product code: expected a ProductCode")
        if not self.product_name.strip():
            raise ValueError("Label product name: must not be empty")
        for name in (
            "product_name",
            "storage_temperature",
            "volume",
            "collection_facility",
            "processing_facility",
        ):
            value = getattr(self, name)
            if len(value) > _MAX_TEXT:
                raise ValueError(f"Label {name}: at most {_MAX_TEXT} characters")
            if any(ord(ch) < 32 for ch in value):
                raise ValueError(f"Label {name}: control characters are not allowed")
        if self.expiry is not None:
            IsbtDateTime(self.expiry, self.zone)  # aware, valid zone, 2000–2099
        else:
            ZoneInfo(self.zone)

    @property
    def expiry_structure(self) -> IsbtDateTime | None:
        return None if self.expiry is None else IsbtDateTime(self.expiry, self.zone)

    @property
    def code128_text(self) -> str:
        """What the linear symbol decodes to (DS001)."""
        return din_code128_content(self.din)

    @property
    def datamatrix_text(self) -> str:
        """What the 2-D symbol decodes to (DS023 compound message)."""
        expiry = self.expiry_structure if self.expiry_in_symbol else None
        return datamatrix_content(
            self.din, self.product_code, expiry, reference=self.compound_reference
        )

    @property
    def symbol_texts(self) -> tuple[str, str]:
        return (self.code128_text, self.datamatrix_text)

    @property
    def expiry_text(self) -> str:
        """Eye-readable expiry in the facility's zone, e.g. ``2018-01-29 23:59 CET``."""
        if self.expiry is None:
            return ""
        local = self.expiry.astimezone(ZoneInfo(self.zone))
        return f"{local:%Y-%m-%d %H:%M} {local.tzname() or self.zone}"


def label_statements(label: LabelData) -> list[str]:
    """Statements required by the collection type (bag labels)."""
    pc = label.product_code
    out = []
    if pc.autologous_use_only:
        out.append("FOR AUTOLOGOUS USE ONLY")
    if pc.biohazard:
        out.append("BIOHAZARD")
    if pc.research_only:
        out.append("FOR RESEARCH USE ONLY - NOT FOR HUMAN USE")
    return out


# --------------------------------------------------------------------------------------------
# SVG drawing helpers (units: mm)
# --------------------------------------------------------------------------------------------


def _text_width(text: str, size: float) -> float:
    return len(text) * _ADVANCE * size


def _fit(text: str, size: float, width: float) -> tuple[str, float]:
    """Shrink the font to fit ``width``; below the minimum size, truncate with an ellipsis."""
    if not text:
        return text, size
    size = min(size, width / (len(text) * _ADVANCE))
    if size >= _MIN_FONT_MM:
        return text, size
    size = _MIN_FONT_MM
    keep = max(1, int(width / (_ADVANCE * size)) - 1)
    return text[:keep] + "…", size


def _text(x: float, y: float, text: str, size: float, *, bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text x="{x:.3f}" y="{y:.3f}" font-size="{size:.3f}"{weight}>'
        f"{escape(text, quote=True)}</text>"
    )


def _boxed(x: float, baseline: float, char: str, size: float) -> tuple[str, float]:
    """A character in a box, starting at x; returns the SVG and the box's right edge."""
    pad = 0.18 * size
    w = _ADVANCE * size + 2 * pad
    top = baseline - 0.86 * size
    h = 1.08 * size
    svg = (
        f'<rect x="{x:.3f}" y="{top:.3f}" width="{w:.3f}" height="{h:.3f}" fill="none" '
        f'stroke="#000" stroke-width="{max(0.15, 0.07 * size):.3f}"/>'
        + _text(x + pad, baseline, char, size, bold=True)
    )
    return svg, x + w


def _din_line(din: Din, x: float, baseline: float, size: float) -> str:
    """Eye-readable DIN, K boxed after it, Type 1/2 flags rotated 90° clockwise."""
    eye = din.eye_readable()
    parts = [_text(x, baseline, eye.text, size, bold=True)]
    box, right = _boxed(x + _text_width(eye.text, size) + 0.35 * size, baseline, eye.check, size)
    parts.append(box)
    if eye.flags and din.flag_kind is not FlagKind.TYPE3:
        fx = right + 0.25 * size
        fy = baseline - 0.85 * size
        small = 0.6 * size
        parts.append(
            f'<text x="{fx:.3f}" y="{fy:.3f}" font-size="{small:.3f}" '
            f'transform="rotate(90 {fx:.3f} {fy:.3f})">{escape(eye.flags)}</text>'
        )
    return "".join(parts)


def _din_line_width(din: Din, size: float) -> float:
    eye = din.eye_readable()
    extra = 1.6 * size if eye.flags else 0.0
    return _text_width(eye.text, size) + 0.35 * size + _ADVANCE * size + 0.36 * size + extra


def _din_size(din: Din, size: float, width: float) -> float:
    return min(size, size * width / _din_line_width(din, size))


# --------------------------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------------------------


def _vial(label: LabelData, w: float, h: float) -> list[str]:
    pad = max(0.8, 0.04 * min(w, h))
    code128 = create_symbol(label.code128_text, Symbology.CODE128)
    dm = create_symbol(label.datamatrix_text, Symbology.DATAMATRIX)
    bar_h = 0.30 * h
    out = [code128.nested(pad, pad, w - 2 * pad, bar_h)]
    top = pad + bar_h + 0.5
    area_h = h - top - pad
    side = min(area_h, 0.36 * w)
    out.append(dm.nested(pad, top, side, side))
    tx = pad + side + 0.8
    tw = w - tx - pad
    line_h = area_h / 4
    size = 0.78 * line_h
    pc = label.product_code
    lines: list[tuple[str, bool]] = [
        (f"{pc.eye_readable} Div {pc.division}", True),
        (label.product_name, False),
        (f"EXP {label.expiry_text}" if label.expiry else "", False),
    ]
    din_size = _din_size(label.din, size, tw)
    out.append(_din_line(label.din, tx, top + 0.82 * line_h, din_size))
    for i, (text, bold) in enumerate(lines, start=1):
        fitted, s = _fit(text, size, tw)
        if fitted:
            out.append(_text(tx, top + (i + 0.82) * line_h, fitted, s, bold=bold))
    return out


def _bag(label: LabelData, w: float, h: float) -> list[str]:
    pad = 0.035 * min(w, h)
    code128 = create_symbol(label.code128_text, Symbology.CODE128)
    dm = create_symbol(label.datamatrix_text, Symbology.DATAMATRIX)
    caption = 0.028 * h
    out: list[str] = []
    # Upper left: DIN.
    left_w = 0.60 * w - pad
    y = pad + caption
    out.append(_text(pad, y, "Donation Identification Number", caption))
    y += 0.8
    bar_h = 0.16 * h
    out.append(code128.nested(pad, y, left_w, bar_h))
    y += bar_h + 0.06 * h
    din_size = _din_size(label.din, 0.05 * h, left_w)
    out.append(_din_line(label.din, pad, y, din_size))
    # Upper right: 2-D symbol with product code and division.
    side = min(0.30 * w, 0.32 * h)
    rx = w - pad - side
    out.append(_text(rx, pad + caption, "Product", caption))
    out.append(dm.nested(rx, pad + caption + 0.8, side, side))
    upper_bottom = max(y + 0.04 * h, pad + caption + 0.8 + side + 0.02 * h)
    out.append(
        f'<line x1="{pad:.3f}" y1="{upper_bottom:.3f}" x2="{w - pad:.3f}" '
        f'y2="{upper_bottom:.3f}" stroke="#000" stroke-width="0.25"/>'
    )
    # Lower half: product description and CT-specific content, one line each.
    pc = label.product_code
    lines: list[tuple[str, bool, float]] = [(label.product_name, True, 1.25)]
    lines.append((f"Product code {pc.eye_readable}   Division {pc.division}", False, 1.0))
    if label.expiry:
        lines.append((f"Expires {label.expiry_text}", True, 1.0))
    if label.storage_temperature:
        lines.append((f"Store at {label.storage_temperature}", False, 1.0))
    if label.volume:
        lines.append((f"Volume {label.volume}", False, 1.0))
    lines.extend((s, True, 1.1) for s in label_statements(label))
    if label.collection_facility:
        lines.append((f"Collected by {label.collection_facility}", False, 0.85))
    if label.processing_facility:
        lines.append((f"Processed by {label.processing_facility}", False, 0.85))
    coi_rows = 1 if label.coi is not None else 0
    available = h - pad - upper_bottom - 0.02 * h
    weights = sum(scale for _, _, scale in lines) + coi_rows
    unit = min(0.05 * h, available / (1.3 * weights))
    y = upper_bottom + 0.01 * h
    tw = w - 2 * pad
    for text, bold, scale in lines:
        y += 1.3 * unit * scale
        fitted, s = _fit(text, unit * scale, tw)
        out.append(_text(pad, y - 0.3 * unit * scale, fitted, s, bold=bold))
    if label.coi is not None:
        y += 1.3 * unit
        prefix = "Chain of identity "
        text = f"{prefix}{label.coi.eye_readable}"
        s = min(unit, tw / ((len(text) + 2.5) * _ADVANCE))
        base = y - 0.3 * unit
        out.append(_text(pad, base, text, s))
        box, _ = _boxed(pad + _text_width(text, s) + 0.35 * s, base, label.coi.check, s)
        out.append(box)
    return out


def render_label_svg(
    label: LabelData,
    width_mm: float | None = None,
    height_mm: float | None = None,
    *,
    outline: bool = False,
) -> str:
    """The label as a standalone SVG of ``width_mm`` × ``height_mm``.

    Defaults: 50.8 × 25.4 mm (2 × 1 in) for vials, 101.6 × 101.6 mm (4 × 4 in) for bags.
    ``outline`` draws the label edge (for previews and plain-paper test prints).
    """
    default = (50.8, 25.4) if label.kind is LabelKind.VIAL else (101.6, 101.6)
    w = default[0] if width_mm is None else width_mm
    h = default[1] if height_mm is None else height_mm
    if not (w > 0 and h > 0):
        raise ValueError("Label size: width and height must be positive")
    minimum = (25.0, 12.0) if label.kind is LabelKind.VIAL else (50.0, 50.0)
    if w < minimum[0] or h < minimum[1]:
        raise ValueError(
            f"Label size: {label.kind.value} labels need at least "
            f"{minimum[0]:g} × {minimum[1]:g} mm, got {w:g} × {h:g} mm"
        )
    body = _vial(label, w, h) if label.kind is LabelKind.VIAL else _bag(label, w, h)
    edge = (
        f'<rect x="0.05" y="0.05" width="{w - 0.1:.3f}" height="{h - 0.1:.3f}" fill="none" '
        f'stroke="#999" stroke-width="0.1"/>'
        if outline
        else ""
    )
    title = escape(f"{label.kind.value} label {label.din.eye_readable().text}", quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w:g}mm" '
        f'height="{h:g}mm" viewBox="0 0 {w:g} {h:g}" font-family="{FONT_FAMILY}" '
        f'fill="#000"><title>{title}</title>'
        f'<rect x="0" y="0" width="{w:g}" height="{h:g}" fill="#fff"/>'
        f"{edge}{''.join(body)}</svg>"
    )
