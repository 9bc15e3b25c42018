"""System checks of the cell bank's configuration."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def field_key_configured(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Outside development settings ``CELLTRACE_FIELD_KEY`` must be set (and valid): found at
    start-up, not on the first donor page (a 500) or half-way through a demo load."""
    from celltrace.bank import crypto

    try:
        crypto.current_key()
        crypto.all_keys()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint='Generate one with: python -c "import os, base64; '
                'print(base64.b64encode(os.urandom(32)).decode())" and keep it with the '
                "database backups' keys (docs/operations.md).",
                id="celltrace.E001",
            )
        ]
    return []
