"""PDFs fetch nothing from outside the document: an address or a local file named in the HTML
or its CSS (by user text that reached it) is never opened; embedded data: images still are."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from celltrace.core.pdf import html_to_pdf

pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 (dev dependency) reads PDF text")

#: a 1 × 1 PNG
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server recording the paths asked of it."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", asked
    finally:
        httpd.shutdown()


def test_no_address_or_file_is_fetched(server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, asked = server
    secret = tmp_path / "secret.txt"
    secret.write_text("do not print")
    html = f"""<html><head><style>
      @page {{ @bottom-left {{ content: url({base}/css-page); }} }}
      body {{ background: url({base}/css-body); }}
    </style><link rel="stylesheet" href="{base}/sheet.css"></head>
    <body><p>Report</p><img src="{base}/img.png"><img src="file://{secret}">
    <object data="file://{secret}"></object><img src="{PIXEL}"></body></html>"""
    pdf = html_to_pdf(html, base_url=str(tmp_path))
    assert pdf.startswith(b"%PDF")
    assert asked == []
    doc = pdfium.PdfDocument(pdf)
    try:
        text = doc[0].get_textpage().get_text_range()
    finally:
        doc.close()
    assert "Report" in text and "do not print" not in text
