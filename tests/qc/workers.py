"""Entry points for the QC sample storage race test. Imported fresh in spawned processes."""

from __future__ import annotations

from typing import Any

from tests import workers


def store_worker(
    db_name: str, username: str, plan: list[tuple[str, int, int]], barrier: Any
) -> list[tuple[int, str, str]]:
    """Each round: wait at the barrier with the others, then put one item (``("sample", id,
    position)`` or ``("aliquot", id, position)``) into a position."""
    workers.django_for(db_name)
    from celltrace.bank.models import Aliquot
    from celltrace.core.errors import Conflict
    from celltrace.core.models import User
    from celltrace.qc import services
    from celltrace.qc.models import Sample
    from celltrace.storage import services as storage
    from celltrace.storage.models import Position

    actor = User.objects.get(username=username)
    outcomes: list[tuple[int, str, str]] = []
    for rnd, (kind, item_id, position_id) in enumerate(plan):
        position = Position.objects.select_related("box").get(pk=position_id)
        barrier.wait()
        try:
            if kind == "sample":
                services.sample_store(
                    actor=actor, sample=Sample.objects.get(pk=item_id), position=position
                )
            else:
                storage.aliquot_place(
                    actor=actor,
                    aliquot=Aliquot.objects.get(pk=item_id),
                    box=position.box,
                    position=position,
                    reason="race",
                )
        except Conflict as exc:
            outcomes.append((rnd, "conflict", exc.message))
        except Exception as exc:  # anything else fails the test, with its text
            outcomes.append((rnd, "error", repr(exc)))
        else:
            outcomes.append((rnd, "ok", kind))
    workers.cleanup()
    return outcomes
