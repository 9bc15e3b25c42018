"""HTML to PDF with WeasyPrint, fetching nothing from outside the document.

Every PDF of celltrace (certificates, OOS reports, label sheets, dispatch notes, metabolism
reports) embeds its images as ``data:`` URIs and uses the system's fonts, so the only URLs
WeasyPrint is allowed to open are ``data:`` ones: text a user typed can never make the server
fetch an address (SSRF) or read a local file, whatever it ends up in.
"""

from __future__ import annotations

from typing import Any


def html_to_pdf(html: str, *, base_url: str | None = None, **write_pdf: Any) -> bytes:
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"})
    pdf = HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf(**write_pdf)
    if not isinstance(pdf, bytes):
        raise RuntimeError("WeasyPrint returned no PDF")
    return pdf
