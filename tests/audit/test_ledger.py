"""The ledger detects every kind of tampering (reliability guide §4, figure 4)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from celltrace.audit import ledger
from celltrace.audit.choices import Action
from celltrace.audit.models import AuditEvent
from celltrace.audit.services import checkpoint_create
from celltrace.audit.verification import verify_database
from tests.audit import helpers

pytestmark = pytest.mark.django_db


def first_bad() -> int | None:
    report = verify_database()
    assert not report.ok or report.first_bad_seq is None
    return report.first_bad_seq if not report.ok else None


@pytest.mark.django_db(transaction=True)
def test_append_needs_the_callers_transaction() -> None:
    # In autocommit mode the ledger refuses: an entry must commit together with its change.
    with pytest.raises(ledger.LedgerError):
        ledger.append(actor=None, action=Action.CREATE, event_type="X", entity_type="t.t",
                      entity_id=1)
    assert AuditEvent.objects.count() == 0


def test_entries_chain_and_project_their_body() -> None:
    helpers.fill(5)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert bytes(events[0].previous_entry_hash) == b"\x00" * 32
    for a, b in zip(events, events[1:], strict=False):
        assert bytes(b.previous_entry_hash) == bytes(a.entry_hash)
    for e in events:
        assert e.data["seq"] == e.seq
        assert e.data["entity_id"] == e.entity_id
        assert e.data["timestamp_utc"] == e.timestamp_utc
        assert e.timestamp_utc.endswith("Z") and len(e.timestamp_utc) == 27
    assert verify_database().ok


def test_bulk_digest_is_order_and_content_sensitive() -> None:
    rows = [{"a": 1}, {"a": 2}]
    n, d1 = ledger.rows_digest(rows)
    assert n == 2
    assert ledger.rows_digest(list(reversed(rows)))[1] != d1
    assert ledger.rows_digest([{"a": 1}, {"a": 3}])[1] != d1


def _mutations(value: Any) -> list[Any]:
    if isinstance(value, bytes):
        return [value[:i] + bytes([value[i] ^ 0x01]) + value[i + 1 :] for i in range(len(value))]
    if isinstance(value, str):
        return [value[:i] + chr(ord(value[i]) ^ 0x01) + value[i + 1 :] for i in range(len(value))]
    if isinstance(value, int):
        return [value + 1000, value ^ 1]
    if value is None:
        return [999]
    raise AssertionError(type(value))


def test_every_single_byte_change_of_an_entry_is_detected() -> None:
    helpers.fill(6)
    target = 3
    original = helpers.row(target)
    trials = 0
    for column in helpers.COLUMNS:
        for mutated in _mutations(original[column]):
            if column == "seq" and mutated in (1, 2, 4, 5, 6):
                continue  # would collide with another entry's primary key
            helpers.set_columns(target, **{column: mutated})
            bad = first_bad()
            key = target if column != "seq" else None
            assert bad is not None, f"{column} changed to {mutated!r} went undetected"
            if key is not None:
                assert bad == target, f"{column}: reported seq {bad}, expected {target}"
            restore_seq = mutated if column == "seq" else target
            helpers.set_columns(restore_seq, **{column: original[column]})
            trials += 1
    assert verify_database().ok
    byte_level = len(original["body"]) + 32 + 32 + len(original["timestamp_utc"])
    assert trials >= byte_level


def test_random_flips_anywhere_are_detected() -> None:
    helpers.fill(20)
    rng = random.Random(20261123)
    for _ in range(40):
        seq = rng.randint(1, 20)
        column = rng.choice(["body", "previous_entry_hash", "entry_hash", "timestamp_utc",
                             "entity_id", "event_type"])
        original = helpers.row(seq)[column]
        mutated = rng.choice(_mutations(original))
        helpers.set_columns(seq, **{column: mutated})
        assert first_bad() == seq
        helpers.set_columns(seq, **{column: original})
    assert verify_database().ok


def test_deleted_entry_is_detected() -> None:
    helpers.fill(8)
    helpers.delete(5)
    assert first_bad() == 5


def test_reordered_entries_are_detected() -> None:
    helpers.fill(8)
    a, b = helpers.row(4), helpers.row(5)
    helpers.delete(4, 5)
    with helpers.guards_lifted(), connection.cursor() as cur:
        for seq, src in ((4, b), (5, a)):
            cur.execute(
                "INSERT INTO audit_event (seq, timestamp_utc, actor_id, organisation_id, action,"
                " event_type, entity_type, entity_id, body, previous_entry_hash, entry_hash) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [seq, *[src[c] for c in helpers.COLUMNS[1:]]],
            )
    assert first_bad() == 4


def test_truncated_tail_is_caught_by_the_checkpoint(signing_keys: Any) -> None:
    helpers.fill(10)
    checkpoint_create(actor=None)  # signs 10 entries, then appends entry 11
    assert verify_database().ok
    helpers.delete(11, 10, 9)
    with helpers.guards_lifted(), connection.cursor() as cur:
        cur.execute("UPDATE audit_head SET last_seq = 8")
    report = verify_database()
    assert not report.ok
    assert report.first_bad_seq == 9
    assert any("truncated" in p for p in report.problems)


def test_recomputed_rewrite_is_caught_only_by_the_checkpoint(signing_keys: Any) -> None:
    helpers.fill(12)
    checkpoint_create(actor=None)
    helpers.rewrite_from(7, "nothing to see here")
    assert AuditEvent.objects.get(seq=7).data["reason"] == "nothing to see here"
    # The chain itself was recomputed, so without the checkpoint it looks intact ...
    assert verify_database(checkpoint_dir=Path("/nonexistent")).ok
    # ... and only the signed checkpoint notices, naming the range since the last good one.
    report = verify_database()
    assert not report.ok and report.first_bad_seq == 1
    assert any("Merkle root does not match" in p for p in report.problems)


def test_checkpoint_refuses_to_sign_a_damaged_ledger(signing_keys: Any) -> None:
    from celltrace.core.errors import Conflict

    helpers.fill(4)
    helpers.set_columns(2, entity_id="forged")
    with pytest.raises(Conflict):
        checkpoint_create(actor=None)


@pytest.mark.parametrize("sql", ["UPDATE audit_event SET reason_x = 1",
                                 "UPDATE audit_event SET entity_id = 'x'",
                                 "DELETE FROM audit_event"])
def test_raw_update_and_delete_are_refused(sql: str) -> None:
    helpers.fill(2)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql)
    assert AuditEvent.objects.count() == 2


def test_orm_update_and_delete_are_refused() -> None:
    helpers.fill(2)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(entity_id="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(seq=2).delete()
    assert AuditEvent.objects.get(seq=1).entity_id == "0"
    assert verify_database().ok


@pytest.mark.postgres
def test_truncate_is_refused_on_postgresql() -> None:
    helpers.fill(2)
    for table in ("audit_event", "audit_signature"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"TRUNCATE {table}")
    assert AuditEvent.objects.count() == 2
