"""Entry points for the storage race test. Imported fresh in spawned processes."""

from __future__ import annotations

from typing import Any

from tests import workers


def place_worker(
    db_name: str,
    username: str,
    plan: list[tuple[int, int, int]],
    barrier: Any,
    no_lock: bool = False,
) -> list[tuple[int, str, str]]:
    """Each round: wait at the barrier with the others, then try one placement.

    ``no_lock`` switches the service's row locks off in this process (``CELLTRACE_RACE_NO_LOCK``,
    the *constraint only* and *canary* variants of reliability guide §9.1).
    """
    workers.django_for(db_name)
    from django.conf import settings

    settings.CELLTRACE_RACE_SLEEP = 0.001  # widen the window between check and write
    settings.CELLTRACE_RACE_NO_LOCK = no_lock

    from celltrace.bank.models import Aliquot
    from celltrace.core.errors import Conflict
    from celltrace.core.models import User
    from celltrace.storage import services
    from celltrace.storage.models import Box, Position

    actor = User.objects.get(username=username)
    outcomes: list[tuple[int, str, str]] = []
    for rnd, (aliquot_id, box_id, position_id) in enumerate(plan):
        aliquot = Aliquot.objects.get(pk=aliquot_id)
        box = Box.objects.get(pk=box_id)
        position = Position.objects.get(pk=position_id)
        barrier.wait()
        try:
            services.aliquot_place(
                actor=actor, aliquot=aliquot, box=box, position=position, reason="race"
            )
        except Conflict as exc:
            outcomes.append((rnd, "conflict", exc.message))
        except Exception as exc:  # anything else fails the test, with its text
            outcomes.append((rnd, "error", repr(exc)))
        else:
            outcomes.append((rnd, "ok", ""))
    workers.cleanup()
    return outcomes
