"""Template helpers: signature manifestations and signing links, JSON display."""

from __future__ import annotations

import json
from typing import Any

from django import template

from celltrace.audit import signing

register = template.Library()


@register.inclusion_tag("web/partials/signatures.html", takes_context=True)
def signature_block(context: dict[str, Any], record: Any, meanings: str = "") -> dict[str, Any]:
    """The manifestation of every signature on ``record`` (21 CFR 11.50), with sign links."""
    from celltrace.web.views import sign_url

    request = context.get("request")
    signatures = signing.manifestations(record)
    done = {m.meaning for m in signatures if m.valid}
    wanted = [m for m in meanings.split(",") if m and m not in done]
    links = []
    if request is not None:
        here = request.get_full_path()
        links = [(m, sign_url(record, m, here)) for m in wanted]
    here = request.get_full_path() if request is not None else ""
    return {"signatures": signatures, "sign_links": links, "here": here}


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@register.filter
def compact_json(value: Any) -> str:
    """A value as JSON on one line (strings without quotes), as the ledger recorded it."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@register.filter
def meaning_label(code: str) -> str:
    """A signature meaning's name in the active language (the code itself if unknown)."""
    from celltrace.audit.choices import SignatureMeaning

    try:
        return str(SignatureMeaning(code).label)
    except ValueError:
        return code


@register.filter
def short_hash(value: str) -> str:
    return f"{value[:12]}…" if value and len(value) > 12 else value
