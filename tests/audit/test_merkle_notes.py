"""RFC 6962 Merkle hashing, checkpoint notes and canonical encoding (no database)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from celltrace.audit import merkle
from celltrace.audit.canonical import canonical_bytes, utc_iso
from celltrace.audit.notes import (
    Checkpoint,
    NoteError,
    VerifierKey,
    open_checkpoint,
    parse_verifier_key,
    sign_checkpoint,
)

# The RFC 6962 reference leaves and tree heads used by certificate-transparency and
# transparency-dev/merkle test suites (sizes 1..8).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_rfc6962_reference_vectors(size: int) -> None:
    leaves = merkle.leaf_hashes(CT_LEAVES[:size])
    assert merkle.root_from_leaf_hashes(leaves).hex() == CT_ROOTS[size - 1]
    assert merkle.root_recursive(leaves).hex() == CT_ROOTS[size - 1]


def test_empty_tree_is_hash_of_empty_string() -> None:
    assert merkle.root_from_leaf_hashes([]) == hashlib.sha256(b"").digest()
    assert merkle.MerkleAccumulator().root() == hashlib.sha256(b"").digest()


@given(st.integers(min_value=1, max_value=300), st.lists(st.integers(1, 37), max_size=6))
def test_fast_paths_equal_the_recursive_definition(n: int, chunks: list[int]) -> None:
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]
    expected = merkle.root_recursive(hashes)
    assert merkle.root_from_leaf_hashes(hashes) == expected
    acc = merkle.MerkleAccumulator()
    i = 0
    for c in chunks:  # feed in uneven chunks; the root must not depend on the chunking
        acc.extend(hashes[i : i + c])
        i = min(n, i + c)
        assert acc.root() == merkle.root_recursive(hashes[:i])
    acc.extend(hashes[i:])
    assert acc.size == n
    assert acc.root() == expected


def _key() -> tuple[Ed25519PrivateKey, VerifierKey]:
    private = Ed25519PrivateKey.generate()
    return private, VerifierKey("example.org/ledger", private.public_key())


def test_checkpoint_note_round_trip_and_layout() -> None:
    private, vkey = _key()
    cp = Checkpoint("example.org/ledger", 42, hashlib.sha256(b"root").digest())
    note = sign_checkpoint(cp, private, vkey.name)
    lines = note.split("\n")
    assert lines[:3] == ["example.org/ledger", "42", base64.b64encode(cp.root).decode()]
    assert lines[3] == "" and lines[4].startswith("\u2014 example.org/ledger ")
    assert open_checkpoint(note, vkey) == cp
    assert parse_verifier_key(vkey.encode()).raw == vkey.raw


@pytest.mark.parametrize(
    "mutate",
    [
        lambda n: n.replace("\n42\n", "\n43\n"),
        lambda n: n.replace("example.org/ledger\n42", "example.org/other\n42"),
        lambda n: n[:-10] + ("A" if n[-10] != "A" else "B") + n[-9:],
        lambda n: n.split("\n\n")[0] + "\n",
    ],
    ids=["size", "origin", "signature", "no-signature"],
)
def test_altered_checkpoint_is_refused(mutate) -> None:  # type: ignore[no-untyped-def]
    private, vkey = _key()
    note = sign_checkpoint(Checkpoint(vkey.name, 42, b"\x01" * 32), private, vkey.name)
    with pytest.raises(NoteError):
        open_checkpoint(mutate(note), vkey)


def test_checkpoint_signed_by_another_key_is_refused() -> None:
    _, vkey = _key()
    other, _ = _key()
    note = sign_checkpoint(Checkpoint(vkey.name, 1, b"\x02" * 32), other, vkey.name)
    with pytest.raises(NoteError):
        open_checkpoint(note, vkey)


def test_canonical_bytes_are_sorted_compact_and_float_free() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    data = {"b": Decimal("1.50"), "a": when, "c": [2**60, "混合"]}
    assert (
        canonical_bytes(data)
        == (
            '{"a":"2026-01-02T03:04:05.000006Z","b":"1.50","c":["1152921504606846976","混合"]}'
        ).encode()
    )
    with pytest.raises(TypeError):
        canonical_bytes({"x": 0.1})
    with pytest.raises(ValueError):
        utc_iso(dt.datetime(2026, 1, 1))  # noqa: DTZ001 - the naive datetime is the point
