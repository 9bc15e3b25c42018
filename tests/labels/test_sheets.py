"""Label sheets: every symbol printed on the PDF decodes back to the identity it belongs to.

Pages are rasterised with pypdfium2 and every symbol on them is decoded with zxing-cpp; the
decoded set must equal the set of identities printed, each symbol found exactly once and inside
its own label's slot.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import zxingcpp

from celltrace.bank.isbt128 import CompoundMessage, Din, ProductCode, make_coi, make_din, parse_scan
from celltrace.labels.label import LabelData, LabelKind, render_label_svg
from celltrace.labels.sheets import (
    A4_BAG,
    A4_VIAL,
    LETTER_BAG,
    LETTER_VIAL,
    SheetLayout,
    label_positions,
    render_label_sheet,
    render_sheet_html,
)

pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 (dev dependency) rasterises PDFs")

DPI = 300  # the usual resolution of thermal-transfer label printers
MM_PER_PX = 25.4 / DPI
ZONE = "Europe/Paris"
EXPIRY = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings() -> SimpleNamespace:
    """Stand-in for pytest-django's ``settings`` (asked for by an autouse fixture in conftest)."""
    return SimpleNamespace()


def vial(n: int, *, collection_type: str = "V", flags: str = "00", name: str = "") -> LabelData:
    return LabelData(
        din=make_din("G1234", 2025, 100 + n, flags),
        product_code=ProductCode("S1001", collection_type, "A0" if n % 3 else "00"),
        product_name=name or f"PBMC, cryopreserved, aliquot {n}",
        expiry=EXPIRY + timedelta(days=n),
        zone=ZONE,
    )


def bag(n: int, collection_type: str) -> LabelData:
    return LabelData(
        din=make_din("G1234", 2025, 5000 + n),
        product_code=ProductCode("S2002", collection_type),
        product_name="T cells, CAR transduced, 10 % DMSO",
        expiry=EXPIRY,
        zone=ZONE,
        kind=LabelKind.BAG,
        storage_temperature="≤ −150 °C",
        volume="70 mL",
        collection_facility="Apheresis Unit <North> & Co",
        processing_facility="celltrace GMP",
        coi=make_coi("G1234", 2025, f"AB{n:04d}"),
    )


def rasterise(pdf: bytes) -> list[Any]:
    doc = pdfium.PdfDocument(pdf)
    return [doc[i].render(scale=DPI / 72, grayscale=True).to_numpy() for i in range(len(doc))]


def page_texts(pdf: bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]


def decode_pages(pdf: bytes) -> list[tuple[int, str, float, float]]:
    """(page, text, centre x mm, centre y mm) of every symbol decoded on every page."""
    found = []
    for index, image in enumerate(rasterise(pdf)):
        for barcode in zxingcpp.read_barcodes(image):
            pos = barcode.position
            xs = [pos.top_left.x, pos.top_right.x, pos.bottom_left.x, pos.bottom_right.x]
            ys = [pos.top_left.y, pos.top_right.y, pos.bottom_left.y, pos.bottom_right.y]
            found.append((index, barcode.text, sum(xs) / 4 * MM_PER_PX, sum(ys) / 4 * MM_PER_PX))
    return found


def assert_sheet_decodes(
    labels: list[LabelData], layout: SheetLayout, pdf: bytes, *, skip: int = 0
) -> None:
    found = decode_pages(pdf)
    printed = {text for label in labels for text in label.symbol_texts}
    decoded = Counter(text for _, text, _, _ in found)
    assert set(decoded) == printed
    assert all(count == 1 for count in decoded.values()), decoded
    # Each symbol lies inside the slot of the label it belongs to.
    slots = label_positions(layout, len(labels), skip=skip)
    owner = {
        text: slot for label, slot in zip(labels, slots, strict=True) for text in label.symbol_texts
    }
    for page, text, x, y in found:
        slot = owner[text]
        assert page == slot.page
        assert slot.x_mm < x < slot.x_mm + layout.label_width_mm
        assert slot.y_mm < y < slot.y_mm + layout.label_height_mm
    # And every decoded symbol parses back to the label's DIN.
    dins = {label.din for label in labels}
    for _, text, _, _ in found:
        parsed = parse_scan(text, zone=ZONE)
        din = parsed.structures[0] if isinstance(parsed, CompoundMessage) else parsed
        assert din in dins


def test_vial_sheet_two_pages_decodes_to_identities() -> None:
    labels = [vial(n) for n in range(A4_VIAL.per_page + 5)]
    pdf = render_label_sheet(labels, A4_VIAL)
    assert pdf.startswith(b"%PDF")
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 2
    width_pt, height_pt = doc[0].get_size()
    assert width_pt == pytest.approx(210 * 72 / 25.4, abs=0.5)
    assert height_pt == pytest.approx(297 * 72 / 25.4, abs=0.5)
    assert_sheet_decodes(labels, A4_VIAL, pdf)


def test_vial_text_shows_din_boxed_check_product_and_expiry() -> None:
    label = LabelData(
        din=Din("G123417654321"),
        product_code=ProductCode("S1001", "V", "B0"),
        product_name="NK cells",
        expiry=datetime(2018, 1, 29, 22, 59, tzinfo=UTC),
        zone=ZONE,
    )
    pdf = render_label_sheet([label], A4_VIAL)
    text = page_texts(pdf)[0]
    assert "G1234 17 654321" in text
    assert "A" in text.split("G1234 17 654321", 1)[1][:4]  # K right after the DIN
    assert "S1001VB0" in text
    assert "Div B0" in text
    assert "NK cells" in text
    assert "2018-01-29 23:59 CET" in text
    assert_sheet_decodes([label], A4_VIAL, pdf)
    svg = render_label_svg(label)
    assert svg.count("<rect") >= 2  # background and the box around K


def test_bag_sheet_statements_and_decoding() -> None:
    labels = [bag(0, "1"), bag(1, "V"), bag(2, "X"), bag(3, "A"), bag(4, "1")]
    pdf = render_label_sheet(labels, A4_BAG)
    texts = page_texts(pdf)
    assert len(texts) == 2
    joined = "\n".join(texts)
    # "For autologous use only" exactly where the collection type says so (1 and X).
    assert joined.count("FOR AUTOLOGOUS USE ONLY") == 3
    assert joined.count("BIOHAZARD") == 1
    assert joined.count("Store at ≤ −150 °C") == 5
    assert joined.count("Collected by Apheresis Unit <North> & Co") == 5
    assert joined.count("Processed by celltrace GMP") == 5
    assert "CH G1234 25 AB0000" in joined
    assert_sheet_decodes(labels, A4_BAG, pdf)


def test_letter_layouts_with_skip() -> None:
    labels = [vial(n, collection_type="1") for n in range(7)]
    pdf = render_label_sheet(labels, LETTER_VIAL, skip=4)
    assert_sheet_decodes(labels, LETTER_VIAL, pdf, skip=4)
    bags = [bag(n, "V") for n in range(2)]
    pdf = render_label_sheet(bags, LETTER_BAG, skip=1)
    assert_sheet_decodes(bags, LETTER_BAG, pdf, skip=1)


def test_custom_small_vial_layout_decodes() -> None:
    # Small cryovial labels (38 x 19 mm), 5 x 13 per A4 sheet, outlines for test prints.
    layout = SheetLayout(210, 297, 38, 19, 5, 13, 10, 7.5, 1.5, 2.5, outline=True)
    labels = [vial(n) for n in range(13)]
    assert_sheet_decodes(labels, layout, render_label_sheet(labels, layout))


def test_type3_flags_are_encoded_but_never_printed() -> None:
    din3 = Din("G123417654321").with_type3_flags()
    label = LabelData(din3, ProductCode("S1001", "V"), "PBMC", EXPIRY, ZONE)
    svg = render_label_svg(label)
    assert "rotate(" not in svg
    pdf = render_label_sheet([label], A4_VIAL)
    assert "70" not in page_texts(pdf)[0].replace("2026", "")
    assert {text for _, text, _, _ in decode_pages(pdf)} == set(label.symbol_texts)
    assert label.code128_text == "=G12341765432170"
    type1 = vial(1, flags="02")
    assert "rotate(90" in render_label_svg(type1)


def test_text_is_escaped() -> None:
    hostile = 'Cells </text><script>alert("x")</script> & <b>'
    label = vial(0, name=hostile)
    html = render_sheet_html([label], A4_VIAL, title="<Sheet>")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<title>&lt;Sheet&gt;</title>" in html
    pdf = render_label_sheet([label], A4_VIAL)
    assert hostile[:40] in page_texts(pdf)[0].replace("\r\n", "")


def test_long_product_name_is_truncated_not_overflowing() -> None:
    label = vial(0, name="X" * 150)
    svg = render_label_svg(label)
    assert "…" in svg
    assert "X" * 150 not in svg


def test_preview_svg_decodes() -> None:
    import weasyprint

    label = bag(9, "1")
    svg = render_label_svg(label, outline=True)
    assert svg.startswith("<svg")
    page_css = "@page { size: 120mm 120mm; margin: 5mm }"
    html = f"<html><head><style>{page_css}</style></head><body>{svg}</body></html>"
    pdf = weasyprint.HTML(string=html).write_pdf()
    decoded = {text for _, text, _, _ in decode_pages(pdf)}
    assert decoded == set(label.symbol_texts)


def test_label_positions() -> None:
    slots = label_positions(A4_VIAL, 42, skip=2)
    assert (slots[0].page, slots[0].row, slots[0].column) == (0, 0, 2)
    assert slots[0].x_mm == pytest.approx(6 + 2 * (48 + 2))
    assert (slots[2].row, slots[2].column) == (1, 0)
    assert slots[2].y_mm == pytest.approx(14.5 + 25 + 2)
    assert (slots[-1].page, slots[-1].row, slots[-1].column) == (1, 0, 3)
    assert len({(s.page, s.row, s.column) for s in slots}) == 42
    with pytest.raises(ValueError, match="skip"):
        label_positions(A4_VIAL, 1, skip=40)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"columns": 5}, "columns end at"),
        ({"rows": 12}, "rows end at"),
        ({"label_width_mm": 0}, "label_width_mm"),
        ({"gap_x_mm": -1}, "gap_x_mm"),
        ({"columns": 0}, "columns"),
    ],
)
def test_layout_validation(kwargs: dict[str, Any], fragment: str) -> None:
    base: dict[str, Any] = {
        "page_width_mm": 210,
        "page_height_mm": 297,
        "label_width_mm": 48,
        "label_height_mm": 25,
        "columns": 4,
        "rows": 10,
        "margin_top_mm": 14.5,
        "margin_left_mm": 6,
        "gap_x_mm": 2,
        "gap_y_mm": 2,
    }
    base.update(kwargs)
    with pytest.raises(ValueError) as excinfo:
        SheetLayout(**base)
    assert fragment in str(excinfo.value)


def test_refusals() -> None:
    with pytest.raises(ValueError, match="no labels"):
        render_label_sheet([], A4_VIAL)
    with pytest.raises(ValueError, match="at least"):
        render_label_svg(vial(0), 20, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        LabelData(make_din("G1234", 2025, 1), ProductCode("S1001", "V"), "x", datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="product name"):
        LabelData(make_din("G1234", 2025, 1), ProductCode("S1001", "V"), "  ")
