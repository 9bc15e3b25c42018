"""RFC 6962 Merkle tree hashes (docs/design/reliability.md §4.4). Standard library only.

The tree is built over leaf hashes. In celltrace the leaf hash of entry *n* is its
``entry_hash`` = SHA-256(0x00 ‖ previous_entry_hash ‖ canonical_bytes): the hash-chain link and
the RFC 6962 leaf are one computation (leaf data = previous hash ‖ canonical bytes).
Interior nodes are SHA-256(0x01 ‖ left ‖ right); an *n*-leaf tree splits at the largest power
of two smaller than *n*, which equals pairing neighbours level by level and carrying an odd
last node up unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from operator import methodcaller

_sha256 = hashlib.sha256
_digest = methodcaller("digest")
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = _sha256(b"").digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(NODE_PREFIX + left + right).digest()


def leaf_hashes(leaf_data: Iterable[bytes]) -> list[bytes]:
    """Leaf hashes of many leaves at C speed (no Python-level loop per leaf)."""
    return list(map(_digest, map(_sha256, map(LEAF_PREFIX.__add__, leaf_data))))


def root_from_leaf_hashes(hashes: list[bytes]) -> bytes:
    """MTH over already-hashed leaves; the empty tree hashes the empty string."""
    if not hashes:
        return EMPTY_ROOT
    level = hashes
    while len(level) > 1:
        odd = level[-1] if len(level) % 2 else None
        pairs = map(bytes.__add__, level[0 : len(level) - 1 : 2], level[1::2])
        level = list(map(_digest, map(_sha256, map(NODE_PREFIX.__add__, pairs))))
        if odd is not None:
            level.append(odd)
    return level[0]


def root_recursive(hashes: list[bytes]) -> bytes:
    """The RFC 6962 §2.1 definition, literally. Slow; used to cross-check the fast path."""
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(root_recursive(hashes[:k]), root_recursive(hashes[k:]))


class MerkleAccumulator:
    """Streams leaf hashes and yields the tree root at any size, in O(log n) memory.

    It keeps the roots of the perfect subtrees that make up the binary decomposition of the
    leaves seen so far, so roots at several checkpoint sizes come from one pass.
    """

    def __init__(self, offset: int = 0) -> None:
        # (size, root) of perfect subtrees, sizes strictly decreasing; ``offset`` is the number
        # of leaves before the first one given here (a block's position in the whole tree).
        self._stack: list[tuple[int, bytes]] = []
        self.offset = offset
        self.size = 0

    def stack(self) -> list[tuple[int, bytes]]:
        return list(self._stack)

    def push(self, size: int, root: bytes) -> None:
        """Add a perfect subtree of ``size`` leaves (aligned to its size in the whole tree)."""
        self._push(size, root)
        self.size += size

    @staticmethod
    def fold(stack: list[tuple[int, bytes]]) -> bytes:
        """The root of the tree whose perfect subtrees, left to right, are ``stack``."""
        if not stack:
            return EMPTY_ROOT
        # merge equal neighbours first (stacks of two blocks may meet at equal sizes)
        merged: list[tuple[int, bytes]] = []
        for size, root in stack:
            while merged and merged[-1][0] == size:
                _, left = merged.pop()
                root = node_hash(left, root)
                size *= 2
            merged.append((size, root))
        _, acc = merged[-1]
        for _, left in reversed(merged[:-1]):
            acc = node_hash(left, acc)
        return acc

    def _push(self, size: int, root: bytes) -> None:
        stack = self._stack
        while stack and stack[-1][0] == size:
            _, left = stack.pop()
            root = node_hash(left, root)
            size *= 2
        stack.append((size, root))

    def extend(self, hashes: list[bytes]) -> None:
        """Add leaf hashes; perfect blocks aligned to their size are hashed at C speed."""
        i, n = 0, len(hashes)
        while i < n:
            # the largest power of two that keeps the block aligned and fits what is left
            pos = self.offset + self.size
            align = pos & -pos if pos else 1 << 62
            block = 1
            while block * 2 <= min(align, n - i):
                block *= 2
            self._push(block, root_from_leaf_hashes(hashes[i : i + block]))
            i += block
            self.size += block

    def root(self) -> bytes:
        return self.fold(self._stack)
