"""Racks of the same name moved into one unit by several processes at once: the target unit
is locked (units in pk order, then the rack), so exactly one move per round wins and the
others get a clean Conflict, never "database is locked" or a constraint error."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count

from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.storage import services as storage
from celltrace.storage.choices import EventType
from celltrace.storage.models import Rack
from tests.bank import factories
from tests.storage import rack_workers
from tests.workers import at_once

WORKERS = 4
ROUNDS = 10


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_rack_moves_into_one_unit(operator: Any, make_user: Any) -> None:
    tech = make_user(operator, "bank_technician", username="racktech")
    target = factories.hierarchy(tech, boxes=0, code="target")["unit"]
    sources = [factories.hierarchy(tech, boxes=0, code=f"src{w}")["unit"] for w in range(WORKERS)]
    plans: list[list[tuple[int, int]]] = [[] for _ in range(WORKERS)]
    for rnd in range(ROUNDS):
        for w, unit in enumerate(sources):
            rack = storage.rack_create(actor=tech, unit=unit, name=f"RR{rnd}")
            plans[w].append((rack.pk, target.pk))
    before = AuditEvent.objects.count()

    results = at_once(rack_workers.rack_move_worker, [("racktech", plan) for plan in plans])

    outcomes = [o for r in results for o in r]
    assert [o for o in outcomes if o[1] == "error"] == []
    for rnd in range(ROUNDS):
        wins = [o for o in outcomes if o[0] == rnd and o[1] == "ok"]
        assert len(wins) == 1, f"round {rnd}: {len(wins)} moves succeeded"
    conflicts = {o[2] for o in outcomes if o[1] == "conflict"}
    assert all("already holds a rack named" in m for m in conflicts), conflicts
    in_target = Rack.objects.filter(unit=target, name__startswith="RR")
    assert in_target.count() == ROUNDS
    assert not in_target.values("name").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert AuditEvent.objects.where(event_type=EventType.RACK_MOVED).count() == ROUNDS
    assert AuditEvent.objects.count() == before + ROUNDS
    report = verify_database()
    assert report.ok, report.problems
