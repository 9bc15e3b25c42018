"""Rendering of certificates of analysis to PDF (WeasyPrint, from a Django template).

The certificate prints the laboratory and the client, the samples, each method with its
reference, the specification, the result and its conformance, the signature manifestations
(printed name, UTC time, meaning; 21 CFR 11.50) and a QR code opening the public verification
page, which compares an uploaded PDF's SHA-256 with the one recorded at issue. A translation
(the same version in the other language) states which certificate and language it translates.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

import segno
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from celltrace.audit import signing
from celltrace.audit.canonical import canonical_bytes
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
        # the version's original: a translation of an amendment states what it supersedes
        # and why, as its original does (the reason as QA gave it)
        "amendment": (original or cert) if (original or cert).supersedes_id else None,
        "original_issued_at_utc": (
            original.issued_at.strftime("%Y-%m-%d %H:%M:%S UTC") if original else ""
        ),
    }


def _html(cert: Certificate, ctx: dict[str, Any]) -> str:
    with translation.override(cert.language):
        return render_to_string("qc/pdf/certificate.html", ctx)


def render_html(cert: Certificate, verify_base: str = "") -> str:
    return _html(cert, certificate_context(cert, verify_base))


_fonts = threading.local()


def font_config() -> Any:
    """This thread's WeasyPrint font configuration, kept between documents so that Pango's
    font and shaping caches stay warm (the PDFs use system fonts only, no @font-face)."""
    config = getattr(_fonts, "config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _fonts.config = FontConfiguration()
    return config


def stated_content(ctx: dict[str, Any]) -> dict[str, Any]:
    """What a certificate rendered from ``ctx`` states, in no language: the parties, the
    request, its samples, every method, specification and result with its conformance, the
    signatures with their status, and the closed investigations. Not the certificate's own
    identity (number, language, issue time, UUID), which differs between its translations."""
    req, spec = ctx["req"], ctx["specification"]

    def sigs(manifestations: list[signing.Manifestation]) -> list[list[str]]:
        return [
            [str(m.signature.pk), m.printed_name, m.signed_at_utc, m.meaning, m.status]
            for m in manifestations
        ]

    def party(org: Organisation | None) -> list[str]:
        return [org.name, org.address] if org is not None else []

    stated: dict[str, Any] = {
        "lab": party(ctx["lab"]),
        "client": party(ctx["client"]),
        "request": [req.number, req.product, req.product_type, req.batch],
        "samples": [
            [
                s.client_sample_id,
                s.container,
                s.status,
                s.received_at,
                s.arrival_temperature_c,
                s.rejection_reason,
            ]
            for s in ctx["samples"]
        ],
        "specification": (
            [spec.code, spec.version, spec.title, spec.rounding_mode] if spec is not None else []
        ),
        "rows": [
            {
                "method": [
                    row["method"].method.code,
                    row["method"].version,
                    row["method"].name,
                    row["method"].reference,
                    row["method"].lod,
                ],
                "result": (
                    [
                        row["result"].pk,
                        row["result"].value_text,
                        row["result"].reported_value,
                        row["result"].unit,
                        row["result"].limit_text,
                        row["result"].conformance,
                    ]
                    if row["result"] is not None
                    else None
                ),
                "signatures": sigs(row["signatures"]),
                "retests": row["retests"],
            }
            for row in ctx["rows"]
        ],
        "release": sigs(ctx["release"]),
        "oos": [[o.number, o.outcome, o.conclusion, o.capa_reference] for o in ctx["oos"]],
    }
    if ctx["amendment"] is not None:  # only an amendment's digest covers the notice
        stated["amendment"] = [ctx["amendment"].supersedes.number, ctx["amendment"].reason]
    return stated


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    content_sha256: str  # SHA-256 of :func:`stated_content`, the same for every translation


def render(cert: Certificate, verify_base: str = "") -> Rendered:
    ctx = certificate_context(cert, verify_base)
    pdf = html_to_pdf(_html(cert, ctx), base_url=str(settings.BASE_DIR), font_config=font_config())
    digest = hashlib.sha256(canonical_bytes(stated_content(ctx))).hexdigest()
    return Rendered(pdf=pdf, content_sha256=digest)


def render_pdf(cert: Certificate, verify_base: str = "") -> bytes:
    return render(cert, verify_base).pdf
