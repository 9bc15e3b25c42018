"""Rendering of certificates of analysis to PDF (WeasyPrint, from a Django template).

The certificate prints the laboratory and the client, the samples, each method with its
reference, the specification, the result and its conformance, the signature manifestations
(printed name, UTC time, meaning; 21 CFR 11.50) and a QR code opening the public verification
page, which compares an uploaded PDF's SHA-256 with the one recorded at issue. A translation
(the same version in the other language) states which certificate and language it translates.
"""

from __future__ import annotations

import threading
from typing import Any

import segno
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from celltrace.audit import signing
from celltrace.audit.choices import SignatureMeaning
from celltrace.core.models import Organisation
from celltrace.core.pdf import html_to_pdf
from celltrace.qc.choices import OosPhase, ResultStatus
from celltrace.qc.models import Certificate, Result, Test

DEFAULT_ORIGIN = "https://celltrace.local"


def verify_url(cert: Certificate, verify_base: str = "") -> str:
    base = (verify_base or getattr(settings, "CELLTRACE_PUBLIC_URL", "") or DEFAULT_ORIGIN).rstrip(
        "/"
    )
    return base + reverse("qc:verify", args=[cert.uuid])


def _qr_data_uri(url: str) -> str:
    return str(segno.make(url, error="m").svg_data_uri(scale=3, border=2))


def certificate_context(cert: Certificate, verify_base: str = "") -> dict[str, Any]:
    req = cert.request
    lab = Organisation.objects.filter(kind="operator").first()
    tests = list(
        Test.objects.filter(request=req)
        .select_related("method_version__method", "sample")
        .prefetch_related("results")
        .order_by("method_version__method__code")
    )
    rows = []
    for test in tests:
        result: Result | None = test.current_result
        sigs = signing.manifestations(result) if result is not None else []
        rows.append(
            {
                "test": test,
                "method": test.method_version,
                "result": result,
                "signatures": [
                    s
                    for s in sigs
                    if s.meaning in {SignatureMeaning.PERFORMED, SignatureMeaning.REVIEWED}
                ],
                "retests": sum(
                    1 for r in test.results.all() if r.status == ResultStatus.INVALIDATED
                ),
            }
        )
    url = verify_url(cert, verify_base)
    original = cert.translation_of
    return {
        "cert": cert,
        "req": req,
        "lab": lab,
        "client": req.organisation,
        "samples": list(req.samples.order_by("pk")),
        "rows": rows,
        "specification": req.specification,
        "release": [
            s for s in signing.manifestations(req) if s.meaning == SignatureMeaning.RELEASED
        ],
        "oos": list(req.oos.filter(phase=OosPhase.CLOSED).order_by("pk")),
        "verify_url": url,
        "qr": _qr_data_uri(url),
        "issued_at_utc": cert.issued_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        # a translation names the certificate it translates (number, language, issue time)
        "translation_of": original,
        "original_issued_at_utc": (
            original.issued_at.strftime("%Y-%m-%d %H:%M:%S UTC") if original else ""
        ),
    }


def render_html(cert: Certificate, verify_base: str = "") -> str:
    with translation.override(cert.language):
        return render_to_string("qc/pdf/certificate.html", certificate_context(cert, verify_base))


_fonts = threading.local()


def font_config() -> Any:
    """This thread's WeasyPrint font configuration, kept between documents so that Pango's
    font and shaping caches stay warm (the PDFs use system fonts only, no @font-face)."""
    config = getattr(_fonts, "config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _fonts.config = FontConfiguration()
    return config


def render_pdf(cert: Certificate, verify_base: str = "") -> bytes:
    html = render_html(cert, verify_base)
    return html_to_pdf(html, base_url=str(settings.BASE_DIR), font_config=font_config())
