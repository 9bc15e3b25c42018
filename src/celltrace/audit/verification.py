"""``celltrace audit verify`` against the database: chain, projections, checkpoints, signatures.

The chain and checkpoint checks are the pure ones in :mod:`celltrace.audit.verify`; this module
feeds them from the database (in parallel on SQLite) and adds what needs the database: every
signature still matches its record and its ledger entry.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from celltrace.audit import signing
from celltrace.audit.choices import SignatureStatus
from celltrace.audit.models import AuditEvent, Signature
from celltrace.audit.notes import Checkpoint, NoteError, load_verifier_key
from celltrace.audit.verify import (
    ZERO_HASH,
    BlockResult,
    Report,
    check_chain,
    combine,
    load_checkpoints,
    read_checkpoint_dir,
    verify_block,
    verify_rows,
)

BLOCK = 1 << 14  # entries per parallel block: a power of two keeps Merkle blocks aligned
PARALLEL_MIN = 1 << 16  # below this, starting a process costs more than it saves
CHUNK = 512  # rows per fetch: small enough that a chunk's rows and hashes stay in cache
MMAP_SIZE = 1 << 30

_PREV = "SELECT entry_hash FROM audit_event WHERE seq = ?"
FAST_SELECT = "SELECT entry_hash, body FROM audit_event WHERE seq BETWEEN ? AND ? ORDER BY seq"
_EXACT = "SELECT seq, entry_hash, body FROM audit_event WHERE seq BETWEEN ? AND ? ORDER BY seq"


def _as_bytes(value: object) -> bytes:
    """A stored value as the bytes verification compares (anything tampered simply differs)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return b"" if value is None else str(value).encode("utf-8")


def _sqlite_block(
    con: sqlite3.Connection, first: int, count: int, sizes: Sequence[int], merkle: bool
) -> BlockResult:
    """Verify entries ``first..first+count-1`` through ``con`` (its ``text_factory`` is bytes).

    The body column is TEXT; with ``text_factory = bytes`` SQLite hands over its stored UTF-8
    bytes as they are, which are the canonical bytes that were hashed (no decoding, and no
    ``CAST`` copy). The fast pass reads only ``(entry_hash, body)``: ``seq`` is the table's
    integer primary key, so ``count`` rows in a range of ``count`` seqs are exactly those seqs,
    in order (a rowid table is read in rowid order). Any doubt (a missing row, a mismatch, a
    value that is not bytes) re-reads the block with its seqs through ``verify_block``, which
    names the first bad seq and what is wrong with it.
    """
    last = first + count - 1
    prev = ZERO_HASH
    if first > 1:
        row = con.execute(_PREV, (first - 1,)).fetchone()
        prev = _as_bytes(row[0]) if row else b""
    cursor = con.execute(FAST_SELECT, (first, last))
    try:
        result = check_chain(first, iter(partial(cursor.fetchmany, CHUNK), []), prev, sizes, merkle)
    finally:
        cursor.close()
    if result is not None and result.count == count:
        return result
    rows = [
        (int(seq), _as_bytes(h), _as_bytes(body))
        for seq, h, body in con.execute(_EXACT, (first, last)).fetchall()
    ]
    if not rows:
        return BlockResult(
            first,
            count,
            b"",
            b"",
            bad_seq=first,
            prev_needed=prev,
            problem=f"seq {first}: missing or out of order",
        )
    # a gap or a missing first row shows as non-consecutive seqs here, or as a block that does
    # not start or end where expected when ``combine`` joins the blocks
    return verify_block(rows, prev, sizes, merkle)


def _open_readonly(db_path: str) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    con.text_factory = bytes
    # map the file rather than copy every page through read(): one pass over the whole table
    con.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
    return con


def _take_blocks(
    db_path: str,
    last_seq: int,
    sizes: Sequence[int],
    block: int,
    merkle: bool,
    counter: Any,
) -> dict[int, BlockResult]:
    """Verify blocks until none is left, taking the next block number from ``counter``.

    Every process (the parent too) runs this, so a process that the machine slows down simply
    takes fewer blocks. Each process reads the database file through its own read-only
    connection, in one read transaction (one snapshot).
    """
    done: dict[int, BlockResult] = {}
    n_blocks = -(-last_seq // block)
    con = _open_readonly(db_path)
    try:
        con.execute("BEGIN")
        while True:
            with counter.get_lock():
                index = counter.value
                counter.value = index + 1
            if index >= n_blocks:
                break
            first = 1 + index * block
            done[first] = _sqlite_block(con, first, min(block, last_seq - first + 1), sizes, merkle)
        con.execute("COMMIT")
    finally:
        con.close()
    return done


def _child(
    db_path: str,
    last_seq: int,
    sizes: Sequence[int],
    block: int,
    merkle: bool,
    counter: Any,
    pipe: Any,
) -> None:
    try:
        pipe.send((True, _take_blocks(db_path, last_seq, sizes, block, merkle, counter)))
    except BaseException as exc:  # report to the parent rather than die silently
        pipe.send((False, f"{type(exc).__name__}: {exc}"))
    finally:
        pipe.close()


def _parallel_blocks(
    db_path: str, last_seq: int, sizes: Sequence[int], block: int, processes: int, merkle: bool
) -> Iterator[BlockResult]:
    """Blocks verified by this process and ``processes - 1`` forked ones, yielded in order.

    Blocks are independent (each entry's predecessor hash is stored), so each process takes the
    next unclaimed block from a shared counter and only a small result per block (first and
    last hash, chain heads and Merkle states at checkpoint sizes) comes back.
    """
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    children = []
    for _ in range(processes - 1):
        receiver, sender = ctx.Pipe(duplex=False)
        child = ctx.Process(
            target=_child,
            args=(db_path, last_seq, sizes, block, merkle, counter, sender),
            daemon=True,
        )
        child.start()
        sender.close()
        children.append((child, receiver))
    errors: list[str] = []
    try:
        results = _take_blocks(db_path, last_seq, sizes, block, merkle, counter)
        for _, receiver in children:
            try:
                ok, payload = receiver.recv()
            except EOFError:
                ok, payload = False, "a worker process ended without a result"
            if ok:
                results.update(payload)
            else:
                errors.append(payload)
    except BaseException:
        for child, _ in children:
            child.terminate()  # this process failed: the rest of the work is of no use
        raise
    finally:
        for child, receiver in children:
            receiver.close()
            child.join()
    if errors:
        raise RuntimeError("ledger verification worker failed: " + "; ".join(errors))
    for first in sorted(results):
        yield results[first]


def _serial_sqlite_blocks(
    con: sqlite3.Connection, last_seq: int, sizes: Sequence[int], block: int, merkle: bool
) -> Iterator[BlockResult]:
    for first in range(1, last_seq + 1, block):
        result = _sqlite_block(con, first, min(block, last_seq - first + 1), sizes, merkle)
        yield result
        if result.bad_seq is not None:
            return


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, where the platform tells)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else (os.cpu_count() or 1)


def _seq_range() -> tuple[int, int]:
    """The lowest and highest seq in the table (``(1, 0)`` when it is empty)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(seq), MAX(seq) FROM audit_event")
        low, high = cursor.fetchone()
    return (1, 0) if high is None else (int(low), int(high))


def verify_signatures(report: Report) -> None:
    """Each signature matches its ledger entry, and its record is unchanged since signing."""
    sigs = Signature.objects.select_related("withdrawal").order_by("audit_seq")
    events = {
        e.seq: e
        for e in AuditEvent.objects.filter(seq__in=sigs.values_list("audit_seq", flat=True))
    }
    for sig in sigs:
        event = events.get(sig.audit_seq)
        data = event.data if event else {}
        if (
            event is None
            or data.get("record_hash") != sig.record_digest
            or data.get("signature_meaning") != sig.meaning
            or data.get("entity_type") != sig.record_type
            or data.get("entity_id") != sig.record_id
            or data.get("actor_id") != sig.signer_id
        ):
            report.fail(
                sig.audit_seq,
                f"signature {sig.pk}: does not match ledger seq "
                f"{sig.audit_seq} (altered or copied signature)",
            )
            continue
        try:
            spec = signing.spec_for(sig.record_type)
            record = spec.model._default_manager.get(pk=sig.record_id)
            digest: str | None = signing.record_digest(record)
        except Exception:
            digest = None
        if signing.signature_status(sig, digest) == SignatureStatus.BROKEN:
            report.fail(
                sig.audit_seq,
                f"signature {sig.pk} ({sig.meaning} by {sig.printed_name})"
                f" on {sig.record_type}:{sig.record_id}: record changed after signing",
            )


def verify_database(
    *,
    checkpoint_dir: Path | None = None,
    verify_key: Path | None = None,
    check_signatures: bool = True,
    parallel: bool | None = None,
    block: int = BLOCK,
    merkle: bool = False,
) -> Report:
    """Verify the ledger in the database against the exported checkpoints.

    On SQLite with a large ledger, blocks of entries are verified in parallel worker processes
    reading the database file (each block is independent: every entry's predecessor hash is
    stored), then joined in order. Inside an open transaction the serial path is used, so the
    transaction's own entries are seen. Checkpoints are checked by their signed chain heads;
    ``merkle`` also recomputes every signed RFC 6962 root.
    """
    from celltrace.audit.services import iter_db_rows

    checkpoint_dir = checkpoint_dir or settings.CELLTRACE_CHECKPOINT_DIR
    verify_key = verify_key or settings.CELLTRACE_VERIFY_KEY
    report = Report()
    notes = read_checkpoint_dir(checkpoint_dir)
    checkpoints: list[Checkpoint] = []
    if notes:
        try:
            key = load_verifier_key(verify_key)
        except (FileNotFoundError, NoteError) as exc:
            report.fail(None, f"cannot check checkpoints: verifier key {verify_key}: {exc}")
        else:
            checkpoints, problems = load_checkpoints(notes, key, settings.CELLTRACE_ORIGIN)
            for problem in problems:
                report.fail(None, problem)
    low, last = _seq_range()
    if low < 1:
        # the chain starts at seq 1, so a row below it is never read as part of the chain; it
        # can only have been inserted behind the guards' back
        report.fail(low, f"seq {low}: an entry before seq 1, outside the chain")
    sizes = [c.size for c in checkpoints]
    processes = min(usable_cpus(), 8)
    use_parallel = (
        connection.vendor == "sqlite"
        and not connection.in_atomic_block
        and processes > 1
        and (parallel if parallel is not None else last >= PARALLEL_MIN)
    )
    if use_parallel:
        db_path = str(connection.settings_dict["NAME"])
        blocks = _parallel_blocks(db_path, last, sizes, block, processes, merkle)
        combine(blocks, checkpoints, report, merkle)
    elif connection.vendor == "sqlite":
        # this connection, so that entries of a transaction in progress are seen
        connection.ensure_connection()
        con = connection.connection
        text_factory = con.text_factory
        con.text_factory = bytes
        try:
            combine(
                _serial_sqlite_blocks(con, last, sizes, block, merkle), checkpoints, report, merkle
            )
        finally:
            con.text_factory = text_factory
    else:
        verify_rows(iter_db_rows(), checkpoints, report, merkle)
    if check_signatures:
        verify_signatures(report)
    return report
