"""Entry point for the rack-move race test. Imported fresh in spawned processes."""

from __future__ import annotations

from typing import Any

from tests import workers


def rack_move_worker(
    db_name: str, username: str, plan: list[tuple[int, int]], barrier: Any
) -> list[tuple[int, str, str]]:
    """Each round: wait at the barrier with the others, then move one rack into the target."""
    workers.django_for(db_name)
    from django.conf import settings

    settings.CELLTRACE_RACE_SLEEP = 0.001  # widen the window between check and write

    from celltrace.core.errors import Conflict
    from celltrace.core.models import User
    from celltrace.storage import services
    from celltrace.storage.models import Rack, StorageUnit

    actor = User.objects.get(username=username)
    outcomes: list[tuple[int, str, str]] = []
    for rnd, (rack_id, unit_id) in enumerate(plan):
        rack = Rack.objects.get(pk=rack_id)
        unit = StorageUnit.objects.get(pk=unit_id)
        barrier.wait()
        try:
            services.rack_move(actor=actor, rack=rack, unit=unit, reason="race")
        except Conflict as exc:
            outcomes.append((rnd, "conflict", exc.message))
        except Exception as exc:  # anything else fails the test, with its text
            outcomes.append((rnd, "error", repr(exc)))
        else:
            outcomes.append((rnd, "ok", ""))
    workers.cleanup()
    return outcomes
