"""Verification of the ledger (reliability guide §4.5). Standard library and ``cryptography``.

Works on any stream of entries, from the database or from an export file, so an auditor can
run it away from the production host. For each entry it checks that ``seq`` runs from 1
without gaps, that ``previous_entry_hash`` equals the previous entry's hash, and that
``entry_hash`` = SHA-256(0x00 ‖ previous ‖ body) recomputes; then, at each signed checkpoint's
tree size, that the RFC 6962 root over the entry hashes equals the signed root. A recomputed
chain or a cut-off tail passes the first checks and fails the checkpoint.

Hashing runs through ``map`` over whole chunks of rows (each row carries its predecessor's
hash, so leaves are independent), which keeps verification close to the speed of hashing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import methodcaller
from pathlib import Path

from celltrace.audit.merkle import LEAF_PREFIX, MerkleAccumulator
from celltrace.audit.notes import Checkpoint, NoteError, VerifierKey, open_checkpoint

ZERO_HASH = b"\x00" * 32
EXPORT_FORMAT = "celltrace-ledger-export"

#: One entry as stored: (seq, previous_entry_hash, entry_hash, canonical body bytes).
Row = tuple[int, bytes, bytes, bytes]

_sha256 = hashlib.sha256
_digest = methodcaller("digest")


@dataclass
class Report:
    entries: int = 0
    checkpoints_verified: int = 0
    last_hash: bytes = ZERO_HASH
    first_bad_seq: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, seq: int | None, message: str) -> None:
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq
        self.problems.append(message)


def _first_mismatch(a: Sequence[object], b: Sequence[object]) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def verify_rows(
    chunks: Iterable[Sequence[Row]],
    checkpoints: Sequence[Checkpoint] = (),
    report: Report | None = None,
) -> Report:
    """Verify entries arriving in chunks in ``seq`` order against signed ``checkpoints``."""
    report = report or Report()
    pending = sorted(checkpoints, key=lambda c: c.size)
    acc = MerkleAccumulator()
    last_good_size = 0
    expected_seq = 1
    prev_hash = ZERO_HASH
    for chunk in chunks:
        if not chunk:
            continue
        seqs, prevs, hashes, bodies = zip(*chunk, strict=True)
        hashes_b = [bytes(h) for h in hashes]
        prevs_b = [bytes(p) for p in prevs]
        n = len(seqs)
        if list(seqs) != list(range(expected_seq, expected_seq + n)):
            i = _first_mismatch(seqs, range(expected_seq, expected_seq + n))
            report.fail(expected_seq + i, f"seq {expected_seq + i}: missing or out of order")
            return report
        computed = list(
            map(_digest, map(_sha256, map(bytes.__add__, map(LEAF_PREFIX.__add__, prevs_b),
                                          map(bytes, bodies))))
        )
        links_ok = prevs_b[0] == prev_hash and prevs_b[1:] == hashes_b[:-1]
        hashes_ok = computed == hashes_b
        if not (links_ok and hashes_ok):
            # name the earliest bad entry, whichever check found it
            bad_link = n if links_ok else _first_mismatch(prevs_b, [prev_hash, *hashes_b[:-1]])
            bad_hash = n if hashes_ok else _first_mismatch(computed, hashes_b)
            if bad_hash <= bad_link:
                report.fail(seqs[bad_hash], f"seq {seqs[bad_hash]}: entry_hash mismatch")
            else:
                report.fail(seqs[bad_link],
                            f"seq {seqs[bad_link]}: previous_entry_hash does not link")
            return report
        # Merkle roots at checkpoint sizes that fall inside this chunk
        start = 0
        while pending and pending[0].size <= expected_seq - 1 + n:
            cp = pending.pop(0)
            upto = cp.size - (expected_seq - 1)
            if upto > start:
                acc.extend(hashes_b[start:upto])
                start = upto
            if acc.root() == cp.root:
                report.checkpoints_verified += 1
                last_good_size = cp.size
            else:
                report.fail(
                    last_good_size + 1,
                    f"checkpoint at tree size {cp.size}: Merkle root does not match the signed "
                    f"root; seq {last_good_size + 1}..{cp.size} (after the last good checkpoint) "
                    "were rewritten",
                )
        acc.extend(hashes_b[start:])
        expected_seq += n
        prev_hash = hashes_b[-1]
        report.entries += n
    report.last_hash = prev_hash
    for cp in pending:
        report.fail(
            report.entries + 1,
            f"checkpoint at tree size {cp.size} but the ledger ends at seq {report.entries}: "
            f"entries {report.entries + 1}..{cp.size} are missing (truncated)",
        )
    return report


def load_checkpoints(
    notes: Iterable[tuple[str, str]], key: VerifierKey, origin: str | None = None
) -> tuple[list[Checkpoint], list[str]]:
    """Open every (name, note text); return the valid checkpoints and the problems found."""
    good: list[Checkpoint] = []
    problems: list[str] = []
    for name, text in notes:
        try:
            cp = open_checkpoint(text, key)
        except NoteError as exc:
            problems.append(f"checkpoint {name}: {exc}")
            continue
        if origin is not None and cp.origin != origin:
            problems.append(f"checkpoint {name}: origin {cp.origin!r} is not {origin!r}")
            continue
        good.append(cp)
    return good, problems


def read_checkpoint_dir(directory: Path) -> list[tuple[str, str]]:
    if not directory.is_dir():
        return []
    return [(p.name, p.read_text()) for p in sorted(directory.glob("*.checkpoint"))]


def iter_export(path: Path, chunk_size: int = 10_000) -> tuple[list[str], Iterator[list[Row]]]:
    """Read an export written by ``celltrace audit export``: its checkpoints, then its entries."""
    fh = path.open(encoding="utf-8")
    try:
        header = json.loads(fh.readline() or "{}")
    except json.JSONDecodeError:
        header = {}
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        fh.close()
        raise ValueError(f"{path} is not a celltrace ledger export")
    notes = [str(n) for n in header.get("checkpoints", [])]

    def rows() -> Iterator[list[Row]]:
        chunk: list[Row] = []
        with fh:
            for line in fh:
                item = json.loads(line)
                chunk.append(
                    (
                        int(item["seq"]),
                        bytes.fromhex(item["prev"]),
                        bytes.fromhex(item["hash"]),
                        item["body"].encode("utf-8"),
                    )
                )
                if len(chunk) >= chunk_size:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    return notes, rows()
