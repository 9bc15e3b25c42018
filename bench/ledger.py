"""Ledger benchmark: append through the real service path, verify, compare with bare hashing.

    .venv/bin/python -m bench.ledger [--entries 200000] [--batch 1000] [--keep]

Appends ``--entries`` entries with :func:`celltrace.audit.ledger.append` (the function every
service calls) on a fresh SQLite database with the production settings (WAL, IMMEDIATE,
synchronous=FULL), ``--batch`` appends per transaction as a bulk operation does; then runs the
database verification (seqs, chain, the signed checkpoint's chain head); then hashes the same
canonical bytes in a bare ``hashlib`` chain in this process. Last line:

    ledger append_per_s=<n> verify_per_s=<n> verify_ratio=<ours/bare>

On stderr, where verification's time goes per entry: CPU time in all its processes against the
bare chain's (comparable even when other work shares the machine), fetching the rows against
hashing and comparing them, and the wall time of verification in one process.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger")
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="verification repetitions")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="celltrace-bench-ledger-"))
    try:
        return _run(args, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)  # about 140 MB for 200,000 entries


def _run(args: argparse.Namespace, tmp: Path) -> int:
    os.environ["CELLTRACE_DATA_DIR"] = str(tmp)
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "celltrace.config.local"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from tqdm import tqdm

    from celltrace.audit import ledger
    from celltrace.audit.choices import Action
    from celltrace.audit.verification import verify_database

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("PRAGMA synchronous")
        sync = cur.fetchone()[0]
    print(
        f"database: SQLite {connection.Database.sqlite_version} at {tmp}, synchronous={sync} "
        "(2 = FULL)",
        file=sys.stderr,
    )

    n, batch = args.entries, args.batch
    started = time.perf_counter()
    with tqdm(total=n, desc="append", unit="entry", file=sys.stderr, mininterval=1) as bar:
        done = 0
        while done < n:
            k = min(batch, n - done)
            with transaction.atomic():
                for i in range(done, done + k):
                    ledger.append(
                        actor=None,
                        action=Action.UPDATE,
                        event_type="ALIQUOT_PLACED",
                        entity_type="bank.aliquot",
                        entity_id=i,
                        new={"box": f"B-{i // 81:06d}", "position": f"A{i % 9 + 1}"},
                        old={"position": None},
                        reason="placement after processing",
                    )
            done += k
            bar.update(k)
    append_s = time.perf_counter() - started
    append_per_s = n / append_s

    # one append per transaction, as a single interactive change commits (fsync each time)
    single = 300
    t0 = time.perf_counter()
    for i in range(single):
        with transaction.atomic():
            ledger.append(
                actor=None,
                action=Action.UPDATE,
                event_type="SINGLE",
                entity_type="bank.aliquot",
                entity_id=i,
            )
    single_per_s = single / (time.perf_counter() - t0)
    # a signed checkpoint over everything, as production keeps one: verify must check it
    from django.conf import settings

    from celltrace.audit.notes import generate_key_files
    from celltrace.audit.services import checkpoint_create

    generate_key_files(
        settings.CELLTRACE_SIGNING_KEY, settings.CELLTRACE_VERIFY_KEY, settings.CELLTRACE_ORIGIN
    )
    checkpoint_create(actor=None)
    total = n + single + 1

    verify_times = []
    verify_cpu = []
    for _ in range(args.repeat):
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        report = verify_database(check_signatures=False)
        verify_times.append(time.perf_counter() - t0)
        verify_cpu.append(_cpu_seconds() - cpu0)
        assert report.ok and report.entries == total, report.problems
        assert report.checkpoints_verified == 1, report.problems
    verify_s = statistics.median(verify_times)

    with connection.cursor() as cur:
        cur.execute("SELECT body FROM audit_event ORDER BY seq")
        bodies = [r[0].encode("utf-8") for r in cur.fetchall()]
    bare_times = []
    bare_cpu = []
    for _ in range(args.repeat):
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        h = b"\x00" * 32
        for body in bodies:
            h = hashlib.sha256(h + body).digest()
        bare_times.append(time.perf_counter() - t0)
        bare_cpu.append(_cpu_seconds() - cpu0)
    bare_s = statistics.median(bare_times)

    verify_per_s = total / verify_s
    bare_per_s = total / bare_s
    print(
        f"append: {n} entries in {append_s:.1f} s, {batch} per transaction; "
        f"one per transaction: {single_per_s:.0f}/s",
        file=sys.stderr,
    )
    t0 = time.perf_counter()
    assert verify_database(check_signatures=False, merkle=True).ok
    merkle_s = time.perf_counter() - t0
    print(
        f"verify: {total} entries in {verify_s:.3f} s (median of {args.repeat}; "
        f"{merkle_s:.3f} s with --merkle); bare hashlib chain over the same bytes: "
        f"{bare_s:.3f} s",
        file=sys.stderr,
    )
    _report_phases(total, verify_cpu, bare_cpu, str(connection.settings_dict["NAME"]))
    print(
        f"ledger append_per_s={append_per_s:.0f} verify_per_s={verify_per_s:.0f} "
        f"verify_ratio={verify_per_s / bare_per_s:.2f}"
    )
    return 0


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (verification's worker processes)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _report_phases(total: int, verify_cpu: list[float], bare_cpu: list[float], db: str) -> None:
    """Where verification's time goes, per entry, on stderr (the machine may be shared)."""
    from django.db import connection

    from celltrace.audit.verification import CHUNK, FAST_SELECT, MMAP_SIZE, verify_database
    from celltrace.audit.verify import ZERO_HASH, check_chain

    def us(seconds: float) -> str:
        return f"{seconds / total * 1e6:.2f}"

    t0 = time.perf_counter()
    verify_database(check_signatures=False, parallel=False)
    serial_s = time.perf_counter() - t0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.text_factory = bytes
    con.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
    t0 = time.process_time()
    cursor = con.execute(FAST_SELECT, (1, total))
    chunks = list(iter(functools.partial(cursor.fetchmany, CHUNK), []))
    fetch_s = time.process_time() - t0
    con.close()
    t0 = time.process_time()
    assert check_chain(1, chunks, ZERO_HASH, merkle=False) is not None
    hash_s = time.process_time() - t0
    print(
        f"verify per entry, CPU µs: {us(statistics.median(verify_cpu))} in all processes "
        f"(bare chain {us(statistics.median(bare_cpu))}); fetch (entry_hash, body) {us(fetch_s)}"
        f" + hash and compare {us(hash_s)}; one process, wall: {us(serial_s)} µs; "
        f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.1f} "
        f"({connection.vendor})",
        file=sys.stderr,
    )


if __name__ == "__main__":
    sys.exit(main())
