"""The ledger detects every kind of tampering (reliability guide §4, figure 4)."""

from __future__ import annotations

import itertools
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
        ledger.append(
            actor=None, action=Action.CREATE, event_type="X", entity_type="t.t", entity_id=1
        )
    assert AuditEvent.objects.count() == 0


def test_entries_chain_and_project_their_body() -> None:
    helpers.fill(5)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].previous_entry_hash_hex == "00" * 32
    for a, b in itertools.pairwise(events):
        assert b.previous_entry_hash_hex == a.entry_hash_hex
    for e in events:
        assert e.data["seq"] == e.seq
        assert e.timestamp_utc.endswith("Z") and len(e.timestamp_utc) == 27
    found = AuditEvent.objects.with_fields().filter(f_entity_type="test.thing", f_entity_id="3")
    assert [e.seq for e in found] == [4]
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
    trials = refused = 0
    for column in helpers.COLUMNS:
        for mutated in _mutations(original[column]):
            if column == "seq" and mutated in (1, 2, 4, 5, 6):
                continue  # would collide with another entry's primary key
            try:
                helpers.set_columns(target, **{column: mutated})
            except DatabaseError:
                refused += 1  # e.g. a body that is no longer JSON: the indexes refuse it
                trials += 1
                continue
            bad = first_bad()
            key = target if column != "seq" else None
            assert bad is not None, f"{column} changed to {mutated!r} went undetected"
            if key is not None:
                assert bad == target, f"{column}: reported seq {bad}, expected {target}"
            restore_seq = mutated if column == "seq" else target
            helpers.set_columns(restore_seq, **{column: original[column]})
            trials += 1
    assert verify_database().ok
    byte_level = len(original["body"].encode()) + 32
    assert trials >= byte_level
    assert refused < trials / 2  # most changes are stored, and then detected by verify


def test_random_flips_anywhere_are_detected() -> None:
    helpers.fill(20)
    rng = random.Random(20261123)
    for _ in range(40):
        seq = rng.randint(1, 20)
        column = rng.choice(["body", "entry_hash"])
        original = helpers.row(seq)[column]
        mutated = rng.choice(_mutations(original))
        try:
            helpers.set_columns(seq, **{column: mutated})
        except DatabaseError:
            continue  # refused outright by the expression indexes (not JSON any more)
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
                "INSERT INTO audit_event (seq, body, entry_hash) VALUES (%s, %s, %s)",
                [seq, src["body"], src["entry_hash"]],
            )
    assert first_bad() == 4


@pytest.mark.parametrize("merkle", [False, True], ids=["chain-head", "merkle-root"])
def test_truncated_tail_is_caught_by_the_checkpoint(signing_keys: Any, merkle: bool) -> None:
    helpers.fill(10)
    checkpoint_create(actor=None)  # signs 10 entries, then appends entry 11
    assert verify_database().ok
    helpers.delete(11, 10, 9)
    with helpers.guards_lifted(), connection.cursor() as cur:
        cur.execute("UPDATE audit_head SET last_seq = 8")
    report = verify_database(merkle=merkle)
    assert not report.ok
    assert report.first_bad_seq == 9
    assert any("truncated" in p for p in report.problems)


@pytest.mark.parametrize("merkle", [False, True], ids=["chain-head", "merkle-root"])
def test_recomputed_rewrite_is_caught_only_by_the_checkpoint(
    signing_keys: Any, merkle: bool
) -> None:
    helpers.fill(12)
    checkpoint_create(actor=None)
    helpers.rewrite_from(7, "nothing to see here")
    assert AuditEvent.objects.get(seq=7).data["reason"] == "nothing to see here"
    # The chain itself was recomputed, so without the checkpoint it looks intact ...
    assert verify_database(checkpoint_dir=Path("/nonexistent")).ok
    # ... and only the signed checkpoint notices, naming the range since the last good one.
    report = verify_database(merkle=merkle)
    assert not report.ok and report.first_bad_seq == 1
    assert any("does not match the signed checkpoint" in p for p in report.problems)


def test_checkpoint_refuses_to_sign_a_damaged_ledger(signing_keys: Any) -> None:
    from celltrace.core.errors import Conflict

    helpers.fill(4)
    helpers.set_columns(2, body=helpers.row(2)["body"].replace("reason 1", "reason X"))
    with pytest.raises(Conflict):
        checkpoint_create(actor=None)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_event SET body = 'x'",
        "UPDATE audit_event SET seq = seq + 100",
        "DELETE FROM audit_event",
    ],
)
def test_raw_update_and_delete_are_refused(sql: str) -> None:
    helpers.fill(2)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql)
    assert AuditEvent.objects.count() == 2


def test_orm_update_and_delete_are_refused() -> None:
    helpers.fill(2)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(body="{}")
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


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_parallel_verification_agrees_with_the_serial_path(signing_keys: Any) -> None:
    helpers.fill(300)
    checkpoint_create(actor=None)  # at 300
    helpers.fill(77)
    checkpoint_create(actor=None)  # at 378
    helpers.fill(5)
    for block, merkle in ((16, True), (64, False), (128, True)):
        report = verify_database(parallel=True, block=block, merkle=merkle)
        assert report.ok, report.problems
        assert report.entries == 384 and report.checkpoints_verified == 2
    serial = verify_database(parallel=False)
    assert serial.ok and serial.last_hash == report.last_hash
    helpers.set_columns(200, body=helpers.row(200)["body"].replace("reason", "treason"))
    assert verify_database(parallel=True, block=32).first_bad_seq == 200
    assert verify_database(parallel=False).first_bad_seq == 200
    helpers.set_columns(200, body=helpers.row(200)["body"].replace("treason", "reason"))
    helpers.delete(150)
    assert verify_database(parallel=True, block=32).first_bad_seq == 150
    assert verify_database(parallel=False).first_bad_seq == 150


# --- the fast path: rows without their seq, checked a chunk at a time -----------------------


def _chain(n: int) -> list[tuple[int, bytes, bytes]]:
    """``n`` well-formed ``(seq, entry_hash, body)`` rows, built independently of verify.py."""
    import hashlib

    rows, prev = [], b"\x00" * 32
    for seq in range(1, n + 1):
        body = f'{{"seq":{seq},"note":"ü {seq}"}}'.encode()
        prev = hashlib.sha256(b"\x00" + prev + body).digest()
        rows.append((seq, prev, body))
    return rows


def _chunks(rows: list[tuple[int, bytes, bytes]], size: int) -> list[list[tuple[bytes, bytes]]]:
    pairs = [(h, b) for _, h, b in rows]
    return [pairs[i : i + size] for i in range(0, len(pairs), size)]


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
@pytest.mark.parametrize("merkle", [False, True])
def test_check_chain_agrees_with_the_row_by_row_check(chunk: int, merkle: bool) -> None:
    from celltrace.audit.verify import check_chain, verify_block

    rows = _chain(50)
    block = rows[16:48]  # entries 17..48 after the stored hash of entry 16
    prev = rows[15][1]
    sizes = [10, 17, 20, 33, 48, 60]
    fast = check_chain(17, _chunks(block, chunk), prev, sizes, merkle)
    exact = verify_block(block, prev, sizes, merkle)
    assert fast is not None and exact.bad_seq is None
    assert (fast.first_seq, fast.count, fast.first_hash, fast.last_hash, fast.prev_needed) == (
        17,
        32,
        rows[16][1],
        rows[47][1],
        prev,
    )
    expected_heads = {size: rows[size - 1][1] for size in (17, 20, 33, 48)}  # 10, 60: outside
    assert fast.heads_at == exact.heads_at == expected_heads
    assert fast.merkle == exact.merkle and fast.roots_at == exact.roots_at
    if merkle:
        assert fast.merkle and set(fast.roots_at) == {17, 20, 33}


def test_check_chain_refuses_any_damage_and_leaves_the_naming_to_verify_block() -> None:
    from celltrace.audit.verify import ZERO_HASH, check_chain, verify_block

    rows = _chain(30)

    def changed(seq: int, entry_hash: Any = None, body: Any = None) -> list[Any]:
        _, h, b = rows[seq - 1]
        new = (seq, h if entry_hash is None else entry_hash, b if body is None else body)
        return [*rows[: seq - 1], new, *rows[seq:]]

    body13, hash9 = rows[12][2], rows[8][1]
    damaged = {
        "body byte": (13, changed(13, body=body13[:5] + bytes([body13[5] ^ 0x20]) + body13[6:])),
        "hash byte": (9, changed(9, entry_hash=bytes([hash9[0] ^ 1]) + hash9[1:])),
        "swapped": (21, [*rows[:20], rows[21], rows[20], *rows[22:]]),
        "not bytes": (4, changed(4, body=0)),
    }
    for name, (bad, tampered) in damaged.items():
        for size in (1, 5, 30):
            assert check_chain(1, _chunks(tampered, size), ZERO_HASH) is None, name
        if name != "not bytes":  # the database path turns such values into bytes first
            assert verify_block(tampered, ZERO_HASH).bad_seq == bad, name
    # a wrong predecessor hash, and nothing at all, are no proof either
    assert check_chain(1, _chunks(rows, 4), b"\x01" * 32) is None
    assert check_chain(1, [], ZERO_HASH) is None


@pytest.mark.parametrize("block", [4, 8, 1 << 14])
def test_first_bad_seq_is_named_in_any_block(block: int) -> None:
    # the fast pass fails for the whole block; the row-by-row re-read must still name the seq,
    # at a block's first entry, inside it and at its last entry
    helpers.fill(24)
    for target in (1, 5, 8, 9, 14, 24):
        original = helpers.row(target)["body"]
        helpers.set_columns(target, body=original.replace("reason", "season"))
        report = verify_database(block=block)
        assert not report.ok and report.first_bad_seq == target, (block, target)
        assert report.problems == [f"seq {target}: entry_hash mismatch"]
        helpers.set_columns(target, body=original)
    assert verify_database(block=block).ok
    helpers.delete(16)  # the last entry of a block of 8
    report = verify_database(block=block)
    assert report.first_bad_seq == 16 and "missing" in report.problems[0]


@pytest.mark.sqlite
def test_a_hash_or_body_of_another_type_is_read_as_its_bytes() -> None:
    # SQLite lets an attacker store any type in a column: text or a number where the hash was,
    # a blob where the body was. Each is read as bytes: different bytes fail at that seq, the
    # very same bytes are the very same entry.
    helpers.fill(10)
    hash4, hash6 = helpers.row(4)["entry_hash"], helpers.row(6)["entry_hash"]
    helpers.set_columns(4, entry_hash=hash4.hex()[:32])
    assert first_bad() == 4
    helpers.set_columns(4, entry_hash=hash4)
    helpers.set_columns(6, entry_hash=7)
    assert first_bad() == 6
    helpers.set_columns(6, entry_hash=hash6)
    assert verify_database().ok
    with helpers.guards_lifted(), connection.cursor() as cur:
        for index in ("entity", "actor", "type", "time"):  # json_extract refuses a blob
            cur.execute(f"DROP INDEX audit_event_{index}")
    body = helpers.row(2)["body"].encode()
    helpers.set_columns(2, body=body)
    with connection.cursor() as cur:
        cur.execute("SELECT typeof(body) FROM audit_event WHERE seq = 2")
        assert cur.fetchone()[0] == "blob"
    assert verify_database().ok
    helpers.set_columns(2, body=body.replace(b"reason", b"Reason"))
    assert first_bad() == 2


def test_an_entry_before_seq_1_is_reported() -> None:
    # an extra row at seq 0 (or below) is no part of the chain, yet the browser would list it
    helpers.fill(3)
    with helpers.guards_lifted(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO audit_event (seq, body, entry_hash) VALUES (%s, %s, %s)",
            [0, helpers.row(1)["body"], helpers.row(1)["entry_hash"]],
        )
    report = verify_database()
    assert not report.ok and report.first_bad_seq == 0
    assert any("seq 0" in p for p in report.problems)


@pytest.mark.sqlite
def test_a_failing_parallel_verification_leaves_no_process_behind(tmp_path: Path) -> None:
    import multiprocessing
    import sqlite3

    from celltrace.audit.verification import _parallel_blocks

    missing = str(tmp_path / "no-such.sqlite3")  # read-only mode will not create it
    with pytest.raises(sqlite3.OperationalError):
        list(_parallel_blocks(missing, 1000, [], 16, 3, False))
    assert multiprocessing.active_children() == []
    assert not (tmp_path / "no-such.sqlite3").exists()
