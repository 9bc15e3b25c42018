"""Template helpers: signature manifestations and signing links, JSON display, and whether
the user may change storage (the storage desk tab)."""

from __future__ import annotations

import json
from typing import Any

from django import template

from celltrace.audit import signing

register = template.Library()


@register.inclusion_tag("web/partials/signatures.html", takes_context=True)
def signature_block(context: dict[str, Any], record: Any, meanings: str = "") -> dict[str, Any]:
    """The manifestation of every signature on ``record`` (21 CFR 11.50), with sign links.

    A link for a meaning of ``meanings`` is offered only when the signing service would accept
    it now from the request's user: the record type takes the meaning, no signature with it
    stands unwithdrawn (a broken one is withdrawn first), and the registry's ``can_sign`` gives
    no refusal (roles, four eyes, order: a result is reviewed only once signed performed).
    """
    from celltrace.audit.choices import SignatureStatus
    from celltrace.audit.services import require_withdrawer
    from celltrace.core.errors import permitted
    from celltrace.core.models import User
    from celltrace.web.views import sign_url

    request = context.get("request")
    signatures = signing.manifestations(record)
    here = request.get_full_path() if request is not None else ""
    user = getattr(request, "user", None)
    links = []
    if isinstance(user, User) and user.is_active and not user.must_change_password:
        spec = signing.spec_of(record)
        standing = {m.meaning for m in signatures if m.status != SignatureStatus.WITHDRAWN}
        for meaning in (m for m in meanings.split(",") if m):
            if meaning not in spec.meanings or meaning in standing:
                continue
            if spec.can_sign(user, record, meaning) is None:
                links.append((meaning, sign_url(record, meaning, here)))
    # "Withdraw" only on the signatures this user may withdraw, and none once the record's
    # signatures can no longer be withdrawn (audit.services' own rules)
    frozen = bool(signatures) and signing.frozen_reason(record) is not None
    withdrawable = {
        m.signature.pk
        for m in signatures
        if isinstance(user, User)
        and not frozen
        and m.status != SignatureStatus.WITHDRAWN
        and permitted(require_withdrawer, user, m.signature)
    }
    return {
        "signatures": signatures,
        "sign_links": links,
        "here": here,
        "withdrawable": withdrawable,
    }


@register.filter
def can_change_storage(user: Any) -> bool:
    """Whether ``user`` may place, move and retrieve aliquots: the storage services' own check
    (``storage.services.require_storage_role``), so the storage desk is offered only to them."""
    from celltrace.core.errors import permitted
    from celltrace.core.models import User
    from celltrace.storage.services import require_storage_role

    return isinstance(user, User) and permitted(require_storage_role, user)


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON; decimals, dates and times as their text (a record's signed content)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


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
