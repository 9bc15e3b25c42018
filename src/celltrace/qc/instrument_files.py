"""Instrument files uploaded with a computed QC result, stored content-addressed.

An uploaded export (counter CSV, blood-culture CSV, flow statistics CSV, FCS file, gating
template) is kept under ``DATA_DIR/instrument-files/<aa>/<sha256>``, where ``aa`` are the first
two hex digits of its SHA-256. The result's ``calculation`` names each file with its name, size
and SHA-256, so the signatures on the result bind the exact bytes; reading a file back checks the
hash again and refuses a file that changed on disk.

Files are written only once the result has been entered, inside its transaction: a refused
computation or result stores nothing. Stored files are never deleted: another result may rely on
the same content address (identical bytes uploaded for a second test), so removing a file after
a failed commit could break a result committed concurrently; a file left by a commit that failed
afterwards is an inert, read-only copy.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from django.conf import settings
from django.utils.translation import gettext as _

from celltrace.core.errors import Invalid, NotFound

#: Largest accepted instrument file (an FCS file of a few million events is ~100 MB; ours are
#: release panels of some 10^5 events).
MAX_BYTES: Final = 64 * 1024 * 1024
_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Upload:
    """The bytes of one uploaded file with its name and SHA-256 (hashed once)."""

    name: str
    data: bytes
    sha256: str

    @classmethod
    def of(cls, name: str, data: bytes) -> Upload:
        return cls(name=_clean_name(name), data=data, sha256=hashlib.sha256(data).hexdigest())

    @property
    def size(self) -> int:
        return len(self.data)

    def describe(self, kind: str) -> dict[str, str]:
        """The JSON-safe record of this file for a calculation's inputs."""
        return {"kind": kind, "name": self.name, "sha256": self.sha256, "size": str(self.size)}


def _clean_name(name: str) -> str:
    """The file's base name, without directories or control characters, at most 200 chars."""
    base = os.path.basename(name.replace("\\", "/")).strip()
    base = "".join(ch for ch in base if ch.isprintable())
    return base[:200] or "upload"


def read_upload(field: str, uploaded: Any) -> Upload:
    """Read a Django/Ninja ``UploadedFile`` into an :class:`Upload`; refuse empty or huge files."""
    size = getattr(uploaded, "size", None)
    name = str(getattr(uploaded, "name", "") or "upload")
    if size is not None and size > MAX_BYTES:
        raise Invalid(
            _("%(name)s: the file is larger than %(max)s MB.")
            % {"name": name, "max": MAX_BYTES // (1024 * 1024)},
            field=field,
        )
    data = uploaded.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise Invalid(
            _("%(name)s: the file is larger than %(max)s MB.")
            % {"name": name, "max": MAX_BYTES // (1024 * 1024)},
            field=field,
        )
    if not data:
        raise Invalid(_("%(name)s: the file is empty.") % {"name": name}, field=field)
    return Upload.of(name, data)


def root() -> Path:
    return Path(settings.DATA_DIR) / "instrument-files"


def path_for(sha256: str) -> Path:
    if not _SHA256.match(sha256):
        raise NotFound(_("No such instrument file."))
    return root() / sha256[:2] / sha256


def store(upload: Upload) -> bool:
    """Write ``upload`` to its content address (atomically). Returns True when it created the
    file, False when identical content was stored already."""
    target = path_for(upload.sha256)
    if target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(upload.data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o444)
        if target.exists():
            return False
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


def load(sha256: str) -> bytes:
    """The stored bytes of ``sha256``; refuses a missing file or one whose content changed."""
    path = path_for(sha256)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(
            _("The instrument file %(sha)s is not in the file store.") % {"sha": sha256}
        ) from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise Invalid(
            _("The stored instrument file %(sha)s no longer matches its SHA-256.") % {"sha": sha256}
        )
    return data


def files_of(calculation: dict[str, Any] | None) -> list[dict[str, str]]:
    """The instrument files a calculation names (``inputs.files``), in upload order."""
    if not calculation:
        return []
    files = calculation.get("inputs", {}).get("files", [])
    return [f for f in files if isinstance(f, dict) and _SHA256.match(str(f.get("sha256", "")))]
