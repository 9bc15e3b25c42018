"""Verification of the ledger (docs/design/reliability.md §4.5). Standard library and
``cryptography``.

Works on any stream of entries, from the database or from an export file, so an auditor can
run it away from the production host. For each entry it checks that ``seq`` runs from 1
without gaps, that ``previous_entry_hash`` equals the previous entry's hash, and that
``entry_hash`` = SHA-256(0x00 ‖ previous ‖ body) recomputes; then, at each signed checkpoint's
tree size, that the RFC 6962 root over the entry hashes equals the signed root. A recomputed
chain or a cut-off tail passes the first checks and fails the checkpoint.

Each row carries its predecessor's stored hash, so every leaf is checked on its own, in a
plain loop: on CPython 3.11 a ``for`` loop calling ``sha256(prefix + previous + body).digest()``
runs about a third faster than the same work chained through ``map``, ``methodcaller`` and
``bytes.__add__`` (measured with ``bench.ledger``; the specialising interpreter makes the loop's
concatenation and method call cheaper than calls through descriptors). :func:`check_chain` is
the fast path for a database that proves the seqs by counting: it needs no seq column and stops
at the first doubt; the caller then re-reads the block with its seqs through
:func:`verify_block`, which names the first bad seq.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from celltrace.audit.merkle import LEAF_PREFIX, MerkleAccumulator
from celltrace.audit.notes import Checkpoint, NoteError, VerifierKey, open_checkpoint

ZERO_HASH = b"\x00" * 32
EXPORT_FORMAT = "celltrace-ledger-export"

#: One entry as stored: (seq, entry_hash, canonical body bytes).
Row = tuple[int, bytes, bytes]

_sha256 = hashlib.sha256


@dataclass
class Report:
    entries: int = 0
    checkpoints_verified: int = 0
    last_hash: bytes = ZERO_HASH
    merkle_root: bytes | None = None  # over every entry verified, when verified with merkle
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


@dataclass
class BlockResult:
    """What verifying one run of consecutive entries found, independent of the rest."""

    first_seq: int
    count: int
    first_hash: bytes  # entry_hash of the first entry
    last_hash: bytes
    bad_seq: int | None = None
    problem: str = ""
    prev_needed: bytes = ZERO_HASH  # the hash the first entry was computed over
    merkle: list[tuple[int, bytes]] = field(default_factory=list)  # aligned subtrees
    roots_at: dict[int, list[tuple[int, bytes]]] = field(default_factory=dict)
    heads_at: dict[int, bytes] = field(default_factory=dict)  # entry_hash at checkpoint sizes


def verify_block(
    rows: Sequence[Row], prev_hash: bytes, want_sizes: Sequence[int] = (), merkle: bool = True
) -> BlockResult:
    """Check a run of consecutive ``(seq, entry_hash, body)`` rows given the hash before it.

    ``prev_hash`` is the stored hash of the entry before the block (or zeros); whether it is
    itself right is checked by the block before. ``want_sizes`` are checkpoint sizes inside
    the block: their chain heads are kept, and with ``merkle`` their Merkle states too.
    """
    seqs, hashes, bodies = zip(*rows, strict=True)
    first = seqs[0]
    n = len(seqs)
    if list(seqs) != list(range(first, first + n)):
        i = _first_mismatch(seqs, range(first, first + n))
        hashes_b = [bytes(h) for h in hashes]
        return BlockResult(
            first,
            n,
            hashes_b[0],
            hashes_b[-1],
            bad_seq=first + i,
            problem=f"seq {first + i}: missing or out of order",
            prev_needed=prev_hash,
        )
    return verify_hashes(first, hashes, bodies, prev_hash, want_sizes, merkle)


def verify_hashes(
    first: int,
    hashes: Sequence[bytes],
    bodies: Sequence[bytes],
    prev_hash: bytes,
    want_sizes: Sequence[int] = (),
    merkle: bool = True,
) -> BlockResult:
    """Entries ``first, first+1, …`` (known to be contiguous) with their hashes and bodies.

    Each entry is hashed over its predecessor's stored hash; the first that does not recompute
    is named.
    """
    n = len(hashes)
    hashes_b = list(hashes) if type(hashes[0]) is bytes else [bytes(h) for h in hashes]
    res = BlockResult(first, n, hashes_b[0], hashes_b[-1], prev_needed=prev_hash)
    if type(bodies[0]) is not bytes:
        bodies = [bytes(b) for b in bodies]
    sha, prefix, prev = _sha256, LEAF_PREFIX, prev_hash
    for i, (entry_hash, body) in enumerate(zip(hashes_b, bodies, strict=True)):
        if sha(prefix + prev + body).digest() != entry_hash:
            res.bad_seq, res.problem = first + i, f"seq {first + i}: entry_hash mismatch"
            return res
        prev = entry_hash
    inside = sorted(s for s in want_sizes if first - 1 < s <= first - 1 + n)
    res.heads_at = {size: hashes_b[size - first] for size in inside}
    if merkle:
        _merkle_states(res, hashes_b, inside)
    return res


def _merkle_states(res: BlockResult, hashes: Sequence[bytes], inside: Sequence[int]) -> None:
    """The block's aligned subtrees, and its Merkle state at each checkpoint size inside it."""
    first = res.first_seq
    acc = MerkleAccumulator(offset=first - 1)
    start = 0
    for size in inside:
        if size == first - 1 + len(hashes):
            continue
        upto = size - (first - 1)
        acc.extend(list(hashes[start:upto]))
        start = upto
        res.roots_at[size] = acc.stack()
    acc.extend(list(hashes[start:]))
    res.merkle = acc.stack()


def check_chain(
    first: int,
    chunks: Iterable[Sequence[tuple[bytes, bytes]]],
    prev_hash: bytes,
    want_sizes: Sequence[int] = (),
    merkle: bool = True,
) -> BlockResult | None:
    """Fast path: chunks of ``(entry_hash, body)`` rows meant to be entries ``first, first+1, …``.

    The caller vouches for the order and, by comparing ``count`` of the result with the number
    of seqs it asked for, for the absence of gaps (seq is a unique integer, so *n* rows from a
    range of *n* seqs are all of them, in order). Each row's hash is recomputed over its
    predecessor's stored hash and compared with its own stored hash. Returns ``None`` at the
    first row that does not verify, or holds something other than bytes: the caller then
    re-reads the block with its seqs through :func:`verify_block`, which names the first bad
    seq and what is wrong with it.
    """
    sha, prefix, prev = _sha256, LEAF_PREFIX, prev_hash
    n = 0
    first_hash = b""
    heads: dict[int, bytes] = {}
    sizes = sorted(s for s in want_sizes if s >= first)
    kept: list[bytes] = []
    try:
        for rows in chunks:
            for entry_hash, body in rows:
                if sha(prefix + prev + body).digest() != entry_hash:
                    return None
                prev = entry_hash
            if not rows:
                continue
            if not n:
                first_hash = rows[0][0]
            end = first + n + len(rows)  # the seq after this chunk
            while sizes and sizes[0] < end:
                size = sizes.pop(0)
                heads[size] = rows[size - first - n][0]
            if merkle:
                kept.extend([entry_hash for entry_hash, _ in rows])
            n += len(rows)
    except TypeError:  # a body that is not bytes (NULL, a number) cannot be concatenated
        return None
    if not n:
        return None
    res = BlockResult(first, n, first_hash, prev, prev_needed=prev_hash, heads_at=heads)
    if merkle:
        _merkle_states(res, kept, sorted(heads))
    return res


def combine(
    blocks: Iterable[BlockResult],
    checkpoints: Sequence[Checkpoint],
    report: Report | None = None,
    merkle: bool = True,
) -> Report:
    """Join block results in order: links between blocks, then each checkpoint.

    A checkpoint is checked by its signed chain head (the recomputed hash of entry ``size``
    must equal it: the chain from genesis commits to every earlier entry) and, with
    ``merkle``, by recomputing its RFC 6962 root too.
    """
    report = report or Report()
    pending = sorted(checkpoints, key=lambda c: c.size)
    acc = MerkleAccumulator()
    last_good_size = 0
    expected = 1
    prev_hash = ZERO_HASH
    for block in blocks:
        if block.first_seq != expected:
            report.fail(expected, f"seq {expected}: missing or out of order")
            return report
        if block.prev_needed != prev_hash:
            report.fail(
                block.first_seq, f"seq {block.first_seq}: previous entry hash does not link"
            )
            return report
        if block.bad_seq is not None:
            report.fail(block.bad_seq, block.problem)
            return report
        end = block.first_seq - 1 + block.count
        while pending and pending[0].size <= end:
            cp = pending.pop(0)
            good = True
            if cp.chain_head is not None:
                good = block.heads_at.get(cp.size) == cp.chain_head
            elif not merkle:
                report.fail(
                    None,
                    f"checkpoint at tree size {cp.size} has no chain head; verify it with --merkle",
                )
                continue
            if merkle and good:
                stack = block.merkle if cp.size == end else block.roots_at[cp.size]
                good = MerkleAccumulator.fold([*acc.stack(), *stack]) == cp.root
            if good:
                report.checkpoints_verified += 1
                last_good_size = cp.size
            else:
                report.fail(
                    last_good_size + 1,
                    f"checkpoint at tree size {cp.size}: the ledger does not match the signed "
                    f"checkpoint; seq {last_good_size + 1}..{cp.size} (after the last good "
                    "checkpoint) were rewritten",
                )
        for size, root in block.merkle:
            acc.push(size, root)
        expected = end + 1
        prev_hash = block.last_hash
        report.entries += block.count
    report.last_hash = prev_hash
    if merkle:
        report.merkle_root = acc.root()
    for cp in pending:
        report.fail(
            report.entries + 1,
            f"checkpoint at tree size {cp.size} but the ledger ends at seq {report.entries}: "
            f"entries {report.entries + 1}..{cp.size} are missing (truncated)",
        )
    return report


def verify_rows(
    chunks: Iterable[Sequence[Row]],
    checkpoints: Sequence[Checkpoint] = (),
    report: Report | None = None,
    merkle: bool = True,
) -> Report:
    """Verify entries arriving in chunks in ``seq`` order against signed ``checkpoints``."""
    sizes = [c.size for c in checkpoints]

    def blocks() -> Iterator[BlockResult]:
        prev = ZERO_HASH
        for chunk in chunks:
            if not chunk:
                continue
            block = verify_block(chunk, prev, sizes, merkle)
            yield block
            prev = block.last_hash
            if block.bad_seq is not None:
                return

    return combine(blocks(), checkpoints, report, merkle)


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
                    (int(item["seq"]), bytes.fromhex(item["hash"]), item["body"].encode("utf-8"))
                )
                if len(chunk) >= chunk_size:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk

    return notes, rows()
