"""Symbols decode back to the identity they carry (zxing-cpp reads what zxing-cpp wrote).

SVG symbols are rasterised through WeasyPrint (SVG -> PDF) and pypdfium2 (PDF -> pixels), so
the SVG itself, not just zxing's bitmap, is what gets decoded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import zxingcpp
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from celltrace.bank.isbt128 import (
    COLLECTION_TYPES,
    CompoundMessage,
    Din,
    IsbtDateTime,
    ProductCode,
    make_din,
    parse_scan,
)
from celltrace.labels.barcodes import (
    Symbology,
    compound_message,
    create_symbol,
    datamatrix_content,
    din_code128_content,
    render_code128_svg,
    render_datamatrix_svg,
    render_qr_svg,
    render_symbol_image,
)

pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 (dev dependency) rasterises PDFs")

WORKED = [
    ("G123417654321", "A"),
    ("A999818123456", "N"),
    ("A999917345628", "*"),
    ("A999917345658", "O"),
    ("W000009123456", "G"),
]


@pytest.fixture
def settings() -> SimpleNamespace:
    """Stand-in for pytest-django's ``settings`` (asked for by an autouse fixture in conftest)."""
    return SimpleNamespace()


def svg_to_pixels(svg: str, dpi: int = 600) -> Any:
    """Rasterise a standalone SVG: WeasyPrint lays it on a page, pdfium renders it grey."""
    import weasyprint

    html = (
        "<html><head><style>@page { size: 150mm 150mm; margin: 10mm }</style></head>"
        f"<body>{svg}</body></html>"
    )
    pdf = weasyprint.HTML(string=html).write_pdf()
    page = pdfium.PdfDocument(pdf)[0]
    return page.render(scale=dpi / 72, grayscale=True).to_numpy()


def decode(image: Any) -> list[tuple[str, str]]:
    return sorted((str(b.format), b.text) for b in zxingcpp.read_barcodes(image))


@pytest.mark.parametrize(("din", "k"), WORKED)
def test_code128_svg_decodes_to_din(din: str, k: str) -> None:
    content = din_code128_content(Din(din))
    svg = render_code128_svg(content, width_mm=60, height_mm=12)
    assert 'width="60mm"' in svg
    found = decode(svg_to_pixels(svg))
    assert found == [("Code 128", f"={din}00")]
    scanned = parse_scan(found[0][1])
    assert isinstance(scanned, Din)
    assert scanned.value == din
    assert scanned.check == k


def test_code128_with_type3_flags_decodes_and_verifies() -> None:
    din = Din("G123417654321").with_type3_flags()
    found = decode(svg_to_pixels(render_code128_svg(din_code128_content(din))))
    assert found == [("Code 128", "=G12341765432170")]
    assert parse_scan(found[0][1]) == din


def test_datamatrix_svg_decodes_to_compound_identity() -> None:
    din = make_din("G1234", 2017, 654321)
    product = ProductCode("S1234", "1", "A0")
    expiry = IsbtDateTime(datetime(2018, 1, 29, 22, 59, tzinfo=UTC), "Europe/Paris")
    content = datamatrix_content(din, product, expiry)
    found = decode(svg_to_pixels(render_datamatrix_svg(content, size_mm=20)))
    assert found == [("Data Matrix", content)]
    message = parse_scan(found[0][1], zone="Europe/Paris")
    assert isinstance(message, CompoundMessage)
    assert message.structures[0] == din
    assert message.structures[1] == product
    assert message.structures[2] == expiry
    # The DS005 in the symbol is the worked example of §13.2.
    assert "&>0180292359" in found[0][1]


def test_datamatrix_without_expiry() -> None:
    din = make_din("A9999", 2015, 1)
    product = ProductCode("S0001", "V")
    content = datamatrix_content(din, product)
    message = parse_scan(decode(svg_to_pixels(render_datamatrix_svg(content)))[0][1])
    assert isinstance(message, CompoundMessage)
    assert message.structures == (din, product)


def test_qr_svg_decodes_utf8() -> None:
    text = "https://celltrace.example/aliquots/G123417654321?lot=Ä1"
    assert decode(svg_to_pixels(render_qr_svg(text, size_mm=30, ec_level="Q"))) == [
        ("QR Code", text)
    ]
    with pytest.raises(ValueError, match="error correction"):
        render_qr_svg(text, ec_level="X")


@pytest.mark.parametrize("symbology", list(Symbology))
def test_raster_symbols_decode(symbology: Symbology) -> None:
    text = "=+02000=G12341765432100=<S1234V00"
    if symbology is Symbology.CODE128:
        text = "=G12341765432100"
    image = np.asarray(render_symbol_image(text, symbology, scale=3))
    assert image.ndim == 2
    assert [b.text for b in zxingcpp.read_barcodes(image)] == [text]


DIN_STRATEGY = st.from_regex(r"[A-NP-Z1-9][0-9]{12}", fullmatch=True)
PRODUCT_STRATEGY = st.builds(
    ProductCode,
    pdc=st.from_regex(r"S[0-9]{4}", fullmatch=True),
    collection_type=st.sampled_from(sorted(COLLECTION_TYPES)),
    division=st.from_regex(r"00|[A-Z]0|[A-Z][a-z]", fullmatch=True),
)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DIN_STRATEGY, PRODUCT_STRATEGY)
def test_any_identity_roundtrips_through_datamatrix(din_text: str, product: ProductCode) -> None:
    din = Din(din_text)
    content = datamatrix_content(din, product)
    image = np.asarray(render_symbol_image(content, Symbology.DATAMATRIX, scale=3))
    decoded = [b.text for b in zxingcpp.read_barcodes(image)]
    assert decoded == [content]
    message = parse_scan(decoded[0])
    assert isinstance(message, CompoundMessage)
    assert message.structures == (din, product)


@hsettings(max_examples=40, deadline=None)
@given(DIN_STRATEGY)
def test_any_din_roundtrips_through_code128(din_text: str) -> None:
    din = Din(din_text)
    image = np.asarray(render_symbol_image(din_code128_content(din), Symbology.CODE128, scale=2))
    assert [parse_scan(b.text) for b in zxingcpp.read_barcodes(image)] == [din]


def test_symbol_svg_is_scalable_and_has_no_duplicate_ids() -> None:
    symbol = create_symbol("=G12341765432100", Symbology.CODE128)
    assert symbol.width > symbol.height > 0
    assert 'id="barcode"' not in symbol.body
    nested = symbol.nested(1, 2, 40, 8)
    assert 'preserveAspectRatio="none"' in nested
    assert 'viewBox="0 0 ' in nested


def test_compound_message_rules() -> None:
    assert compound_message(["=G12341765432100", "=<S1234V00"]).startswith("=+02000")
    assert compound_message(["=G12341765432100", "=<S1234V00"], "123").startswith("=+02123")
    with pytest.raises(ValueError, match="2–99 structures"):
        compound_message(["=G12341765432100"])
    with pytest.raises(ValueError, match="reference"):
        compound_message(["=G12341765432100", "=<S1234V00"], "12")
    with pytest.raises(ValueError, match="cannot be inside"):
        compound_message(["=G12341765432100", "&a1234"])


def test_code128_refuses_non_ascii() -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        render_code128_svg("=G1234176543210é")
    with pytest.raises(ValueError, match="non-empty"):
        render_code128_svg("")
