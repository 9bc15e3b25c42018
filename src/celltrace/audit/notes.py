"""Signed checkpoints in the C2SP ``tlog-checkpoint`` layout as ``signed-note`` (Ed25519).

A checkpoint body is three lines: origin, tree size, base64 root hash. The signature line is
``— <key name> <base64(key id ‖ signature)>`` where the key id is the first four bytes of
SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key). Standard library and ``cryptography`` only.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519_TYPE = b"\x01"
EM_DASH = "\u2014"


class NoteError(ValueError):
    """A checkpoint or key file that cannot be parsed or does not verify."""


CHAIN_HEAD = "celltrace-chain-head "


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: origin, tree size, RFC 6962 root, and (extension line) the hash of
    entry ``size``: the head of the hash chain, which commits to the same entries."""

    origin: str
    size: int
    root: bytes
    chain_head: bytes | None = None

    def body(self) -> str:
        text = f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"
        if self.chain_head is not None:
            text += f"{CHAIN_HEAD}{base64.b64encode(self.chain_head).decode()}\n"
        return text


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public_key: Ed25519PublicKey

    @property
    def raw(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.raw)

    def encode(self) -> str:
        """The C2SP verifier key string ``<name>+<hex key id>+<base64(type ‖ key)>``."""
        blob = base64.b64encode(ED25519_TYPE + self.raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"


def key_id(name: str, raw_public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519_TYPE + raw_public).digest()[:4]


def parse_verifier_key(text: str) -> VerifierKey:
    try:
        name, hex_id, blob = text.strip().split("+", 2)
        raw = base64.b64decode(blob, validate=True)
    except ValueError as exc:
        raise NoteError("verifier key is not '<name>+<id>+<base64 key>'") from exc
    if raw[:1] != ED25519_TYPE or len(raw) != 33:
        raise NoteError("verifier key is not an Ed25519 key")
    public = Ed25519PublicKey.from_public_bytes(raw[1:])
    vkey = VerifierKey(name, public)
    if vkey.key_id.hex() != hex_id:
        raise NoteError("verifier key id does not match its name and key")
    return vkey


def sign_checkpoint(checkpoint: Checkpoint, private_key: Ed25519PrivateKey, name: str) -> str:
    body = checkpoint.body()
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    sig = private_key.sign(body.encode())
    blob = base64.b64encode(key_id(name, raw) + sig).decode()
    return f"{body}\n{EM_DASH} {name} {blob}\n"


def open_checkpoint(note: str, key: VerifierKey) -> Checkpoint:
    """Parse ``note`` and check its signature by ``key``; raise :class:`NoteError` if not valid."""
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        raise NoteError("checkpoint has no signature block")
    body += "\n"
    lines = body.split("\n")
    if len(lines) < 4:
        raise NoteError("checkpoint body must have origin, size and root lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError(f"checkpoint tree size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError as exc:
        raise NoteError("checkpoint root is not base64") from exc
    if len(root) != 32:
        raise NoteError("checkpoint root is not a SHA-256 hash")
    chain_head = None
    for extension in lines[3:]:
        if extension.startswith(CHAIN_HEAD):
            try:
                chain_head = base64.b64decode(extension[len(CHAIN_HEAD) :], validate=True)
            except ValueError as exc:
                raise NoteError("checkpoint chain head is not base64") from exc
    for line in sigs.splitlines():
        if not line.startswith(EM_DASH + " "):
            continue
        parts = line[2:].split(" ")
        if len(parts) != 2 or parts[0] != key.name:
            continue
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except ValueError:
            continue
        if blob[:4] != key.key_id:
            continue
        try:
            key.public_key.verify(blob[4:], body.encode())
        except InvalidSignature as exc:
            raise NoteError("checkpoint signature does not verify") from exc
        return Checkpoint(origin, int(size_text), root, chain_head)
    raise NoteError(f"checkpoint carries no signature by key {key.name!r}")


def generate_key_files(private_path: Path, public_path: Path, name: str) -> VerifierKey:
    """Create an Ed25519 key pair: PKCS#8 PEM private key (mode 0600) and verifier key text.
    Neither file may exist (``FileExistsError``)."""
    if public_path.exists():
        raise FileExistsError(f"{public_path} exists; choose a new path for a new key pair")
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    private_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return write_verifier_key(private_path, public_path, name)


def write_verifier_key(private_path: Path, public_path: Path, name: str) -> VerifierKey:
    """Write the verifier key of an existing private key (a lost or never-copied ``.pub``);
    ``public_path`` must not exist (a verifier key checkpoints rely on is never replaced)."""
    vkey = VerifierKey(name, load_private_key(private_path).public_key())
    public_path.parent.mkdir(parents=True, exist_ok=True)
    with public_path.open("x") as fh:
        fh.write(vkey.encode() + "\n")
    return vkey


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise NoteError(f"{path} is not an Ed25519 private key")
    return key


def load_verifier_key(path: Path) -> VerifierKey:
    return parse_verifier_key(path.read_text())
