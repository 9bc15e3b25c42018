"""The dispatch note of a released distribution (PDF via WeasyPrint): what travels with the
shipment, with QA's release signature manifested (21 CFR 11.50)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from celltrace.audit import signing
from celltrace.audit.choices import SignatureMeaning
from celltrace.bank.models import Aliquot, Distribution
from celltrace.core.pdf import html_to_pdf


def context(dist: Distribution) -> dict[str, Any]:
    items = list(
        Aliquot.objects.filter(distribution_items__distribution=dist)
        .select_related("product__collection__donor")
        .order_by("din", "pdc", "division")
    )
    return {
        "dist": dist,
        "items": items,
        "release": [
            m for m in signing.manifestations(dist) if m.meaning == SignatureMeaning.RELEASED
        ],
        "printed_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def render_html(dist: Distribution) -> str:
    return render_to_string("bank/pdf/dispatch_note.html", context(dist))


def render_pdf(dist: Distribution) -> bytes:

    return html_to_pdf(render_html(dist), base_url=str(settings.BASE_DIR))
