"""Concurrent writers never fork or gap the chain (reliability guide §4.3)."""

from __future__ import annotations

import pytest

from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from tests import workers
from tests.audit import helpers

WORKERS = 8
EACH = 40


@pytest.mark.django_db(transaction=True)
def test_eight_processes_appending_leave_a_valid_gap_free_chain() -> None:
    helpers.fill(1)  # the head row exists before the race starts
    results = workers.at_once(workers.append_worker, [(w, EACH) for w in range(WORKERS)])
    all_seqs = sorted(s for r, _, _ in results for s in r)
    total = 1 + WORKERS * EACH
    assert all_seqs == list(range(2, total + 1)), "every append got its own seq"
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, total + 1)
    )
    # the writers really ran at the same time: every one started before any finished
    assert max(start for _, start, _ in results) < min(end for _, _, end in results)
    report = verify_database()
    assert report.ok, report.problems
    assert report.entries == total
