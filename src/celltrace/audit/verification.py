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
from pathlib import Path

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
    combine,
    load_checkpoints,
    read_checkpoint_dir,
    verify_block,
    verify_rows,
)

BLOCK = 1 << 14  # entries per parallel block: a power of two keeps Merkle blocks aligned
PARALLEL_MIN = 4 * BLOCK


def _read_block(
    db_path: str, first: int, count: int, sizes: Sequence[int], merkle: bool
) -> BlockResult:
    """Verify entries first..first+count-1 from the SQLite file (run in a worker process)."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    last = first + count - 1
    try:
        prev = ZERO_HASH
        if first > 1:
            row = con.execute(
                "SELECT entry_hash FROM audit_event WHERE seq = ?", (first - 1,)
            ).fetchone()
            prev = bytes(row[0]) if row else b""
        rows = con.execute(
            "SELECT seq, entry_hash, CAST(body AS BLOB) FROM audit_event "
            "WHERE seq BETWEEN ? AND ? ORDER BY seq",
            (first, last),
        ).fetchall()
    finally:
        con.close()
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


def _read_block_args(args: tuple[str, int, int, Sequence[int], bool]) -> BlockResult:
    return _read_block(*args)


def _parallel_blocks(
    db_path: str, last_seq: int, sizes: Sequence[int], block: int, workers: int, merkle: bool
) -> Iterator[BlockResult]:
    ranges = [
        (db_path, first, min(block, last_seq - first + 1), sizes, merkle)
        for first in range(1, last_seq + 1, block)
    ]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        yield from pool.imap(_read_block_args, ranges)


def _last_seq() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(seq) FROM audit_event")
        value = cursor.fetchone()[0]
    return int(value or 0)


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
    last = _last_seq()
    workers = min(os.cpu_count() or 1, 8)
    use_parallel = (
        connection.vendor == "sqlite"
        and not connection.in_atomic_block
        and workers > 1
        and (parallel if parallel is not None else last >= PARALLEL_MIN)
    )
    if use_parallel:
        db_path = str(connection.settings_dict["NAME"])
        sizes = [c.size for c in checkpoints]
        combine(
            _parallel_blocks(db_path, last, sizes, block, workers, merkle),
            checkpoints,
            report,
            merkle,
        )
    else:
        verify_rows(iter_db_rows(), checkpoints, report, merkle)
    if check_signatures:
        verify_signatures(report)
    return report
