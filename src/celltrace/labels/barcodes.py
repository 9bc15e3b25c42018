"""Barcode symbols for ISBT 128 labels, rendered with zxing-cpp as SVG.

Symbol contents (see ``docs/labels-and-identifiers.md``):

* **Code 128** (linear) carries the DIN as data structure DS001: ``=`` + 13-character DIN + 2
  flag characters, e.g. ``=G12341765432100``. The check character K is never encoded (it is
  for keyboard entry of the eye-readable text).
* **DataMatrix** (2-D) carries an ISBT 128 Compound Message, DS023:
  ``=+`` + ``aa`` (number of structures, 2 digits) + ``bbb`` (sequence reference, default
  ``000``) followed by DS001 (DIN + flags), DS003 (``=<`` product code, whose ``tds`` holds the
  collection type and division) and, optionally, DS005 (``&>cyyjjjhhmm`` expiry in the
  labelling facility's zone), e.g. ``=+03000=G12341765432100=<S1234V00&>0180292359``.
* **QR code**: any text (for example a link to the aliquot's page); not an ISBT 128 carrier.

zxing-cpp 3 writes symbols through zint; its SVG is rewritten here so it can be scaled to a
physical size or nested inside a label.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

import zxingcpp

from celltrace.bank.isbt128 import Din, IsbtDateTime, ProductCode

__all__ = [
    "DEFAULT_COMPOUND_REFERENCE",
    "Symbol",
    "Symbology",
    "compound_message",
    "create_symbol",
    "datamatrix_content",
    "din_code128_content",
    "render_code128_svg",
    "render_datamatrix_svg",
    "render_qr_svg",
    "render_symbol_image",
    "render_symbol_svg",
]

#: DS023 ``bbb``: reference number of the structure sequence. ``000`` is used unless the
#: facility configures the reference ICCBBA assigned to its sequence (verify against ST-001
#: §2.4.23 before relying on a particular value).
DEFAULT_COMPOUND_REFERENCE = "000"


class Symbology(enum.Enum):
    CODE128 = "Code 128"
    DATAMATRIX = "DataMatrix"
    QR = "QR code"


_FORMATS = {
    Symbology.CODE128: zxingcpp.BarcodeFormat.Code128,
    Symbology.DATAMATRIX: zxingcpp.BarcodeFormat.DataMatrix,
    Symbology.QR: zxingcpp.BarcodeFormat.QRCode,
}
_SVG_ROOT_RE = re.compile(r'<svg width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"[^>]*>')
_PRINTABLE_ASCII_RE = re.compile(r"[\x20-\x7e]+")


@dataclass(frozen=True, slots=True)
class Symbol:
    """A rendered symbol: its vector body in module units and its size (quiet zones included)."""

    symbology: Symbology
    text: str
    body: str
    width: float
    height: float

    @property
    def is_linear(self) -> bool:
        return self.symbology is Symbology.CODE128

    def nested(self, x: float, y: float, width: float, height: float) -> str:
        """An ``<svg>`` element placing the symbol in the box (x, y, width, height) of a parent.

        Linear symbols are stretched to fill the box (uniform bar widths); 2-D symbols keep
        their square modules, centred.
        """
        aspect = "none" if self.is_linear else "xMidYMid meet"
        return (
            f'<svg x="{x:.3f}" y="{y:.3f}" width="{width:.3f}" height="{height:.3f}" '
            f'viewBox="0 0 {self.width:g} {self.height:g}" preserveAspectRatio="{aspect}" '
            f'shape-rendering="crispEdges">{self.body}</svg>'
        )

    def standalone(self, width_mm: float | None = None, height_mm: float | None = None) -> str:
        """A complete SVG document; with sizes given, the symbol is scaled to them (in mm)."""
        if width_mm is None and height_mm is None:
            size = f'width="{self.width:g}" height="{self.height:g}"'
        else:
            w = width_mm if width_mm is not None else self.width * (height_mm or 0) / self.height
            h = height_mm if height_mm is not None else self.height * w / self.width
            size = f'width="{w:g}mm" height="{h:g}mm"'
        aspect = "none" if self.is_linear else "xMidYMid meet"
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" {size} '
            f'viewBox="0 0 {self.width:g} {self.height:g}" preserveAspectRatio="{aspect}" '
            f'shape-rendering="crispEdges">{self.body}</svg>'
        )


def _check_text(text: str, symbology: Symbology) -> None:
    if not isinstance(text, str) or not text:
        raise ValueError(f"{symbology.value}: content must be a non-empty string")
    if symbology is not Symbology.QR and not _PRINTABLE_ASCII_RE.fullmatch(text):
        raise ValueError(f"{symbology.value}: content must be printable ASCII, got {text!r}")


def create_symbol(text: str, symbology: Symbology, *, ec_level: str = "M") -> Symbol:
    """Encode ``text`` with zxing-cpp and return the symbol as SVG body plus module size."""
    _check_text(text, symbology)
    options: dict[str, Any] = {"ec_level": ec_level} if symbology is Symbology.QR else {}
    barcode = zxingcpp.create_barcode(text, _FORMATS[symbology], **options)
    svg = zxingcpp.write_barcode_to_svg(barcode, scale=1, add_hrt=False, add_quiet_zones=True)
    root = _SVG_ROOT_RE.search(svg)
    if root is None or not svg.rstrip().endswith("</svg>"):
        raise RuntimeError("zxing-cpp returned an SVG this module does not understand")
    width, height = float(root.group(1)), float(root.group(2))
    body = svg[root.end() : svg.rstrip().rfind("</svg>")]
    body = re.sub(r"<desc>.*?</desc>", "", body, flags=re.DOTALL)
    body = body.replace(' id="barcode"', "").strip()
    return Symbol(symbology, text, body, width, height)


def render_symbol_svg(
    text: str,
    symbology: Symbology,
    *,
    width_mm: float | None = None,
    height_mm: float | None = None,
) -> str:
    """Standalone SVG of ``text`` in ``symbology``, optionally scaled to a size in mm."""
    return create_symbol(text, symbology).standalone(width_mm, height_mm)


def render_code128_svg(
    text: str, *, width_mm: float | None = None, height_mm: float | None = None
) -> str:
    """Code 128 as SVG. For a DIN pass ``din_code128_content(din)`` (``=`` + DIN + flags)."""
    return render_symbol_svg(text, Symbology.CODE128, width_mm=width_mm, height_mm=height_mm)


def render_datamatrix_svg(text: str, *, size_mm: float | None = None) -> str:
    """DataMatrix as SVG; for a label pass ``datamatrix_content(...)``."""
    return render_symbol_svg(text, Symbology.DATAMATRIX, width_mm=size_mm, height_mm=size_mm)


def render_qr_svg(text: str, *, size_mm: float | None = None, ec_level: str = "M") -> str:
    """QR code as SVG (UTF-8 text allowed), error-correction level L, M, Q or H."""
    if ec_level not in ("L", "M", "Q", "H"):
        raise ValueError(f"QR code error correction: {ec_level!r} is not one of L, M, Q, H")
    symbol = create_symbol(text, Symbology.QR, ec_level=ec_level)
    return symbol.standalone(size_mm, size_mm)


def render_symbol_image(text: str, symbology: Symbology, *, scale: int = 4) -> Any:
    """Raster (8-bit greyscale, numpy-compatible ``zxingcpp.Image``) of the symbol."""
    _check_text(text, symbology)
    if scale < 1:
        raise ValueError("scale must be ≥ 1")
    barcode = zxingcpp.create_barcode(text, _FORMATS[symbology])
    return zxingcpp.write_barcode_to_image(barcode, scale=scale, add_quiet_zones=True)


# --------------------------------------------------------------------------------------------
# ISBT 128 symbol contents
# --------------------------------------------------------------------------------------------


def din_code128_content(din: Din) -> str:
    """Content of the linear DIN symbol: DS001 ``=`` + DIN + flags (no check character)."""
    return din.data_structure


def compound_message(structures: list[str], reference: str = DEFAULT_COMPOUND_REFERENCE) -> str:
    """DS023 Compound Message ``=+aabbb`` + the given data structures (2–99 of them)."""
    if not 2 <= len(structures) <= 99:
        raise ValueError(f"DS023: 2–99 structures needed, got {len(structures)}")
    if not (len(reference) == 3 and reference.isascii() and reference.isdigit()):
        raise ValueError(f"DS023 reference (bbb): expected 3 digits, got {reference!r}")
    for s in structures:
        if s.startswith("=+") or (len(s) > 1 and s[0] == "&" and "a" <= s[1] <= "z"):
            raise ValueError(f"DS023: {s[:3]!r}… cannot be inside a compound message")
    return f"=+{len(structures):02d}{reference}{''.join(structures)}"


def datamatrix_content(
    din: Din,
    product_code: ProductCode,
    expiry: IsbtDateTime | None = None,
    *,
    reference: str = DEFAULT_COMPOUND_REFERENCE,
) -> str:
    """Content of the label's 2-D symbol: DS023 with DS001, DS003 and optionally DS005."""
    structures = [din.data_structure, product_code.data_structure]
    if expiry is not None:
        structures.append(expiry.data_structure)
    return compound_message(structures, reference)
