"""Small input checks shared by the services of every app."""

from __future__ import annotations

from django.utils.translation import gettext as _

from celltrace.core.errors import Invalid


def require_reason(reason: str, *, max_chars: int | None = None) -> str:
    """The reason for a GMP-relevant change, stripped; refused when empty or too long."""
    text = reason.strip()
    if not text:
        raise Invalid(_("Give a reason."), field="reason")
    if max_chars is not None and len(text) > max_chars:
        raise Invalid(
            _("The reason is longer than %(n)s characters.") % {"n": max_chars},
            field="reason",
        )
    return text
