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
    """Record the lockout. When it was tripped by a request already signed in as that user (a
    session or token guessing the password at signing or on the password page: likely not its
    owner), the account stops everywhere: its other sessions end, this request logs out, and
    its API tokens are refused until the lock lifts (api.auth.TokenAuth). A lockout tripped by
    anonymous login attempts only blocks new logins, so that anyone who knows a username cannot
    end its owner's work and integrations.

    django-axes signals again for every failure while the account stays locked: those are
    not recorded again (each failure is a failed login on the ledger already). The entry of
    a lockout tripped while signed in names that request's failure records (``attempts``),
    so that the tokens stay stopped for as long as *they* hold the lock, whatever another
    party's failures add or refresh (``core.services.user_tokens_stopped``). Our own password
    and code checks refuse a locked account before authenticating
    (``core.services.refuse_if_locked_out``), so a signed-in owner never signals a lockout
    somebody else tripped."""
    from axes.helpers import get_failure_limit
    from axes.models import AccessAttempt

    from celltrace.core.models import User

    user = User.objects.filter(username=username).first()
    who = getattr(request, "user", None)
    signed_in = (
        user is not None
        and who is not None
        and who.is_authenticated
        and getattr(who, "pk", None) == user.pk
    )
    failures = getattr(request, "axes_failures_since_start", None)
    credentials = getattr(request, "axes_credentials", None) or {"username": username}
    repeat = failures is not None and failures > get_failure_limit(request, credentials)
    if repeat and not signed_in:
        # a failure while already locked: on the ledger as a failed login already; no new
        # lockout entry (a flood of them must not bury the one that stopped the tokens)
        return
    # the failure records of *this* request (its address and browser): the tokens stay
    # stopped while they hold the lock, whatever another party's failures do
    mine = AccessAttempt.objects.filter(username=username)
    if signed_in:
        mine = mine.filter(
            ip_address=getattr(request, "axes_ip_address", None),
            user_agent=getattr(request, "axes_user_agent", ""),
        )
    ledger.atomic_append(
        actor=None,
        action=Action.SECURITY,
        event_type=EventType.USER_LOCKED_OUT,
        entity_type="core.user",
        entity_id=user.pk if user else username,
        entity_label=username,
        organisation_id=user.organisation_id if user else None,
        new={
            "username": username,
            "ip_address": kwargs.get("ip_address", ""),
            "while_signed_in": signed_in,
            "attempts": sorted(mine.values_list("pk", flat=True)),
        },
    )
    if signed_in and user is not None:
        from django.contrib.auth import logout

        from celltrace.core.services import user_sessions_end

        session = getattr(request, "session", None)
        user_sessions_end(user, keep=getattr(session, "session_key", None))
        if session is not None:
            logout(request)
