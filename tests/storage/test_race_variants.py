"""The variants of the placement race test (reliability guide §9.1).

The main test (``test_race.py``) races K processes through the real placement service with both
guards in place: the row lock on the box and aliquot, and the two partial unique constraints on
active placements. Each guard must hold on its own, and the harness must be able to see a race
at all, so the same barrier rounds run three more times:

- **constraint only**: the row locks switched off in the worker processes through the test-only
  setting ``CELLTRACE_RACE_NO_LOCK`` (``storage.services._race_lock``); the partial unique
  constraints must turn every losing insert into a clean Conflict;
- **lock only**: the two partial unique constraints dropped in the scratch test database (and
  restored afterwards); the row lock and the check in front of the insert must refuse every
  loser;
- **canary** (PostgreSQL only): both guards removed. The naive read-check-write under READ
  COMMITTED MUST double-book; if it does not, the harness is not sensitive enough to detect a
  race and the passing variants prove nothing.

On SQLite, ``select_for_update()`` is a no-op and the production ``transaction_mode:
"IMMEDIATE"`` takes the database write lock at ``BEGIN``: writers are serialised by SQLite
itself, so the check and the insert of one worker can never interleave with another's. There
the *constraint only* variant is the same run as the main test (the lock never existed), and
the *lock only* variant shows that IMMEDIATE alone keeps positions single (and that no attempt
fails with "database is locked"). Both are kept on SQLite because they are cheap and prove
exactly that; the canary cannot find races on SQLite by construction, so it is marked
``postgres`` (deselected, not skipped, on SQLite; CI runs it in the PostgreSQL pass).

Sizes: 4 workers × 50 rounds per commit. ``CELLTRACE_RACE_FULL=1`` runs the nightly size of the
guide, 8 workers × 500 rounds (several minutes per variant). Each run prints one line
``race variant=... backend=... workers=... rounds=... attempts=... wins=... conflicts=...
errors=... double_positions=... double_aliquots=...`` (shown with ``pytest -s``).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count

from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.storage.choices import EventType
from celltrace.storage.models import Placement
from tests.bank import factories
from tests.storage import workers

FULL = os.environ.get("CELLTRACE_RACE_FULL") == "1"
WORKERS = 8 if FULL else 4
ROUNDS = 500 if FULL else 50
#: Conflict messages a losing attempt may carry: the check in front of the insert ("occupied",
#: "already stored"), or the unique constraint caught in the savepoint ("changed meanwhile").
LOSING = ("occupied", "already stored", "changed meanwhile")
UNIQUE_NAMES = (
    "storage_placement_one_active_per_position",
    "storage_placement_one_active_per_aliquot",
)


@dataclass
class Race:
    outcomes: list[tuple[int, str, str]]
    double_positions: int
    double_aliquots: int
    placed_events: int
    new_events: int

    def wins(self, rnd: int) -> int:
        return sum(1 for o in self.outcomes if o[0] == rnd and o[1] == "ok")

    def of_kind(self, kind: str) -> list[str]:
        return [o[2] for o in self.outcomes if o[1] == kind]


def _race(operator: Any, client_a: Any, make_user: Any, *, no_lock: bool, label: str) -> Race:
    """Run ROUNDS barrier rounds with WORKERS spawned processes, as in ``test_race.py``.

    Even rounds: every worker a different aliquot into the SAME position. Odd rounds: every
    worker the SAME aliquot into a different position.
    """
    tech = make_user(operator, "bank_technician", username="racetech")
    even = ROUNDS // 2 + ROUNDS % 2
    odd = ROUNDS // 2
    needed = even + odd * WORKERS
    h = factories.hierarchy(tech, boxes=-(-needed // 81), rows=9, columns=9)
    positions = [p for box in h["boxes"] for p in factories.positions_of(box)]
    stock = factories.aliquots(tech, client_a, even * WORKERS + odd)
    pos_iter, stock_iter = iter(positions), iter(stock)
    plans: list[list[tuple[int, int, int]]] = [[] for _ in range(WORKERS)]
    for rnd in range(ROUNDS):
        if rnd % 2 == 0:
            pos = next(pos_iter)
            for w in range(WORKERS):
                plans[w].append((next(stock_iter).pk, pos.box_id, pos.pk))
        else:
            aliquot = next(stock_iter)
            for w in range(WORKERS):
                pos = next(pos_iter)
                plans[w].append((aliquot.pk, pos.box_id, pos.pk))
    events_before = AuditEvent.objects.count()

    ctx = multiprocessing.get_context("spawn")
    db_name = connection.settings_dict["NAME"]
    with ctx.Manager() as manager:
        barrier = manager.Barrier(WORKERS, timeout=120)
        with ctx.Pool(WORKERS) as pool:
            results = pool.starmap(
                workers.place_worker,
                [(db_name, "racetech", plans[w], barrier, no_lock) for w in range(WORKERS)],
            )
    outcomes = [o for r in results for o in r]
    active = Placement.objects.filter(removed_at__isnull=True)
    race = Race(
        outcomes=outcomes,
        double_positions=active.values("position").annotate(n=Count("pk")).filter(n__gt=1).count(),
        double_aliquots=active.values("aliquot").annotate(n=Count("pk")).filter(n__gt=1).count(),
        placed_events=AuditEvent.objects.where(event_type=EventType.ALIQUOT_PLACED).count(),
        new_events=AuditEvent.objects.count() - events_before,
    )
    print(  # the figure of reliability guide §11 #1, shown with pytest -s
        f"race variant={label} backend={connection.vendor} workers={WORKERS} rounds={ROUNDS} "
        f"attempts={len(outcomes)} wins={len(race.of_kind('ok'))} "
        f"conflicts={len(race.of_kind('conflict'))} errors={len(race.of_kind('error'))} "
        f"double_positions={race.double_positions} double_aliquots={race.double_aliquots}"
    )
    return race


def _assert_guarded(race: Race) -> None:
    """Exactly one winner per round, every loser a clean Conflict, nothing double-booked."""
    assert len(race.outcomes) == WORKERS * ROUNDS
    errors = race.of_kind("error")
    assert errors == [], errors[:5]
    for rnd in range(ROUNDS):
        assert race.wins(rnd) == 1, f"round {rnd}: {race.wins(rnd)} placements succeeded"
    conflicts = race.of_kind("conflict")
    assert len(conflicts) == WORKERS * ROUNDS - ROUNDS
    assert all(any(word in m for word in LOSING) for m in conflicts), set(conflicts)
    assert not any("locked" in m for m in conflicts)
    assert Placement.objects.filter(removed_at__isnull=True).count() == ROUNDS
    assert race.double_positions == 0
    assert race.double_aliquots == 0
    assert race.placed_events == ROUNDS
    assert race.new_events == ROUNDS  # one ledger entry per successful placement, no more
    report = verify_database()
    assert report.ok, report.problems


def _unique_constraints() -> list[Any]:
    return [c for c in Placement._meta.constraints if c.name in UNIQUE_NAMES]


def _unique_indexes() -> set[str]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Placement._meta.db_table)
    return {name for name in found if name in UNIQUE_NAMES}


@contextmanager
def _without_unique_constraints() -> Iterator[None]:
    """Drop the two partial unique constraints in this scratch test database, then restore them.

    Before restoring, every active placement is ended (the canary leaves double bookings that
    the constraints would refuse); the transactional test flushes the tables afterwards anyway.
    """
    constraints = _unique_constraints()
    assert len(constraints) == 2
    with connection.schema_editor() as editor:
        for constraint in constraints:
            editor.remove_constraint(Placement, constraint)
    assert _unique_indexes() == set()
    try:
        yield
    finally:
        Placement.objects.filter(removed_at__isnull=True).update(removed_at=dt.datetime.now(dt.UTC))
        with connection.schema_editor() as editor:
            for constraint in constraints:
                editor.add_constraint(Placement, constraint)
        assert _unique_indexes() == set(UNIQUE_NAMES)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_constraint_only_never_double_books(operator: Any, client_a: Any, make_user: Any) -> None:
    """Row locks off: the partial unique constraints alone keep one aliquot per position."""
    assert _unique_indexes() == set(UNIQUE_NAMES)
    race = _race(operator, client_a, make_user, no_lock=True, label="constraint-only")
    _assert_guarded(race)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_lock_only_never_double_books(operator: Any, client_a: Any, make_user: Any) -> None:
    """Unique constraints dropped: the row lock (IMMEDIATE on SQLite) alone is enough."""
    with _without_unique_constraints():
        race = _race(operator, client_a, make_user, no_lock=False, label="lock-only")
        _assert_guarded(race)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_canary_without_guards_finds_double_bookings(
    operator: Any, client_a: Any, make_user: Any
) -> None:
    """Both guards removed: the harness must see the races the guards otherwise prevent."""
    with _without_unique_constraints():
        race = _race(operator, client_a, make_user, no_lock=True, label="canary")
        assert race.of_kind("error") == [], race.of_kind("error")[:5]
        overbooked = [rnd for rnd in range(ROUNDS) if race.wins(rnd) > 1]
        assert overbooked, "no round had two winners: the race harness is not sensitive"
        assert race.double_positions > 0, "no position was double-booked without the guards"
        assert race.double_aliquots > 0, "no aliquot was stored twice without the guards"
