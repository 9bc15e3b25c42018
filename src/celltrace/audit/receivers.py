"""Security events raised by django-axes, recorded on the ledger (Part 11 §11.300(d)).

A lockout is not a domain change, so listening to the library's signal is the decoupled way to
learn of it; the entry is written in a transaction of its own.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.dispatch import receiver

from celltrace.audit import ledger
from celltrace.audit.choices import Action, EventType


@receiver(user_locked_out)
def record_lockout(sender: Any, request: Any = None, username: str = "", **kwargs: Any) -> None:
    from celltrace.core.models import User

    user = User.objects.filter(username=username).first()
    ledger.atomic_append(
        actor=None,
        action=Action.SECURITY,
        event_type=EventType.USER_LOCKED_OUT,
        entity_type="core.user",
        entity_id=user.pk if user else username,
        entity_label=username,
        organisation_id=user.organisation_id if user else None,
        new={"username": username, "ip_address": kwargs.get("ip_address", "")},
    )
    if user is not None:
        # a locked account works nowhere until unlocked: its other sessions end (its API tokens
        # are refused meanwhile, api.auth.TokenAuth); the request that tripped the lockout logs
        # its own session out (e.g. a hijacked session guessing the password at signing)
        from django.contrib.auth import logout

        from celltrace.core.services import user_sessions_end

        session = getattr(request, "session", None)
        user_sessions_end(user, keep=getattr(session, "session_key", None))
        who = getattr(request, "user", None)
        if session is not None and who is not None and who.is_authenticated:
            logout(request)
