"""Field encryption for donors' personal data (AES-256-GCM), and masking for display.

The key comes from the environment variable ``CELLTRACE_FIELD_KEY``: 32 random bytes, base64
(standard or URL-safe alphabet), e.g. ``python -c "import os,base64;
print(base64.b64encode(os.urandom(32)).decode())"``. Older keys that must still decrypt go in
``CELLTRACE_FIELD_KEY_PREVIOUS`` (comma-separated); new values are always written with the
current key. Each stored value names the key it was written with (first 8 hex characters of
SHA-256 of the key), so rotation is possible without guessing.

Only when ``CELLTRACE_FIELD_KEY`` is absent **and** the active settings are the test or local
ones (``celltrace.config.test``/``celltrace.config.local``) or ``DEBUG`` is on, a key is derived
from ``SECRET_KEY`` (HKDF-SHA256), so a developer machine works without set-up. Production
refuses to start encrypting without the variable.

Every value is bound to its column (associated data ``purpose``, e.g. ``bank.donor.name``): a
ciphertext copied into another column or row type does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from celltrace.config.env import env

KEY_ENV = "CELLTRACE_FIELD_KEY"
PREVIOUS_ENV = "CELLTRACE_FIELD_KEY_PREVIOUS"
VERSION = "v1"
_NONCE = 12
_DEV_SETTINGS = ("celltrace.config.test", "celltrace.config.local")


class DecryptionError(ValueError):
    """A stored value cannot be decrypted with any configured key."""


def _decode_key(text: str, name: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} is not base64") from exc
    if len(raw) != 32:
        raise ImproperlyConfigured(f"{name} must be 32 bytes (base64), got {len(raw)} bytes")
    return raw


def development_fallback_allowed() -> bool:
    module = getattr(settings, "SETTINGS_MODULE", "") or os.environ.get(
        "DJANGO_SETTINGS_MODULE", ""
    )
    return bool(getattr(settings, "DEBUG", False)) or module in _DEV_SETTINGS


def _derived_key() -> bytes:
    secret = str(settings.SECRET_KEY).encode()
    if not secret:
        raise ImproperlyConfigured(f"Set {KEY_ENV} (or SECRET_KEY on a development machine).")
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"celltrace field encryption v1"
    ).derive(secret)


def current_key() -> bytes:
    text = env.str(KEY_ENV, default="")
    if text:
        return _decode_key(text, KEY_ENV)
    if development_fallback_allowed():
        return _derived_key()
    raise ImproperlyConfigured(
        f"{KEY_ENV} is not set: donors' personal data cannot be encrypted. Set it to 32 random "
        "bytes in base64."
    )


def all_keys() -> list[bytes]:
    keys = [current_key()]
    for i, part in enumerate(p for p in env.str(PREVIOUS_ENV, default="").split(",") if p):
        keys.append(_decode_key(part, f"{PREVIOUS_ENV}[{i}]"))
    return keys


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def encrypt(plaintext: str, *, purpose: str) -> str:
    """``v1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>``; empty text stays empty."""
    if plaintext == "":
        return ""
    key = current_key()
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), purpose.encode())
    blob = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
    return f"{VERSION}.{key_id(key)}.{blob}"


def decrypt(token: str, *, purpose: str) -> str:
    if token == "":
        return ""
    try:
        version, kid, blob = token.split(".", 2)
        raw = base64.urlsafe_b64decode(blob.encode("ascii"))
    except (ValueError, binascii.Error) as exc:
        raise DecryptionError("malformed encrypted value") from exc
    if version != VERSION:
        raise DecryptionError(f"unknown encryption version {version!r}")
    for key in all_keys():
        if key_id(key) != kid:
            continue
        try:
            plain = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], purpose.encode())
        except InvalidTag as exc:
            raise DecryptionError("the value does not belong here or was altered") from exc
        return plain.decode("utf-8")
    raise DecryptionError(f"no configured key has id {kid}")


# --- masking --------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    """``"Zhang Wei"`` → ``"Z**** W**"``: first letter of each word, the rest starred."""
    return " ".join(w[0] + "*" * (len(w) - 1) for w in name.split() if w)


def mask_tail(value: str, keep: int = 4) -> str:
    """``"110101199003071234"`` → ``"**************1234"``: only the last ``keep`` shown."""
    if not value:
        return ""
    shown = value[-keep:] if len(value) > keep else ""
    return "*" * (len(value) - len(shown)) + shown


def mask_date(value: str) -> str:
    """A date of birth shows only its year: ``"1990-03-07"`` → ``"1990-**-**"``."""
    return f"{value[:4]}-**-**" if len(value) >= 4 else "*" * len(value)
