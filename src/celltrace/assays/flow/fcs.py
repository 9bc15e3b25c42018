"""Reading FCS files through FlowKit (imported lazily: it is the optional ``celltrace[flow]``).

Every failure is turned into :class:`~celltrace.assays.errors.InstrumentFileError` naming the
file and the problem.  Files that need a guess to be read (HEADER and TEXT disagree on where the
DATA segment starts, an unusable ``$TIMESTEP``) are refused rather than read with a guess: a
signed result must not depend on which of two offsets a library happened to trust.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from celltrace.assays.errors import InstrumentFileError

FLOW_EXTRA_HINT = "install the flow cytometry extra: pip install 'celltrace[flow]'"


class FlowKitMissingError(ImportError):
    """FlowKit is not installed; only the CSV-statistics path is available."""


def require_flowkit() -> ModuleType:
    """Import FlowKit on first use, with a clear message when the extra is not installed."""
    try:
        return importlib.import_module("flowkit")
    except ImportError as exc:
        raise FlowKitMissingError(
            f"analysing FCS files needs FlowKit, which is not installed ({exc}); {FLOW_EXTRA_HINT}"
        ) from None


@dataclass(frozen=True)
class FcsFile:
    """The bytes of an FCS file, its name and SHA-256 (read once, hashed once)."""

    name: str
    sha256: str
    data: bytes = field(repr=False)

    @classmethod
    def load(cls, source: str | Path | bytes | FcsFile, *, file_name: str | None = None) -> FcsFile:
        if isinstance(source, FcsFile):
            return source
        if isinstance(source, bytes):
            data = source
            name = file_name or "upload.fcs"
        else:
            path = Path(source)
            name = file_name or path.name
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise InstrumentFileError(f"{name}: cannot be read ({exc.strerror})") from None
        return cls(name=name, sha256=hashlib.sha256(data).hexdigest(), data=data)


_FCS_HEADER_LEN = 58


def _check_header(fcs: FcsFile) -> None:
    data = fcs.data
    if len(data) == 0:
        raise InstrumentFileError(f"{fcs.name}: the file is empty")
    if not data.startswith(b"FCS"):
        raise InstrumentFileError(
            f"{fcs.name}: not an FCS file (it does not start with the 'FCS' version identifier)"
        )
    if len(data) < _FCS_HEADER_LEN:
        raise InstrumentFileError(
            f"{fcs.name}: truncated FCS file ({len(data)} bytes, shorter than the "
            f"{_FCS_HEADER_LEN}-byte HEADER segment)"
        )


def _describe(fcs: FcsFile, exc: BaseException) -> str:
    kind = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else kind
    if kind == "DataOffsetDiscrepancyError":
        return (
            f"{fcs.name}: HEADER and TEXT segments disagree on the DATA segment offset ({text}); "
            f"the file is non-standard and is not read, because either offset would be a guess"
        )
    if "Timestep" in text or "timestep" in text:
        return f"{fcs.name}: invalid $TIMESTEP keyword ({text}); the time channel cannot be scaled"
    if "greater than file size" in text or isinstance(exc, EOFError | struct.error):
        return f"{fcs.name}: truncated or corrupt FCS file ({text})"
    return f"{fcs.name}: cannot be read as an FCS file ({kind}: {text})"


def read_sample(fcs: FcsFile, *, sample_id: str | None = None) -> Any:
    """Parse ``fcs`` into a ``flowkit.Sample`` (pre-processed: gain, log amplification, timestep).

    Raises :class:`InstrumentFileError` for a broken or non-standard file and
    :class:`FlowKitMissingError` without the ``celltrace[flow]`` extra.
    """
    fk = require_flowkit()
    _check_header(fcs)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sample = fk.Sample(io.BytesIO(fcs.data), sample_id=sample_id or fcs.name)
    except Exception as exc:  # FlowIO/FlowKit raise many types; all mean "unreadable file"
        raise InstrumentFileError(_describe(fcs, exc)) from exc
    if sample.event_count == 0:
        raise InstrumentFileError(f"{fcs.name}: the file contains no events")
    return sample


def spillover_keyword(sample: Any) -> str | None:
    """The file's own spillover matrix text ($SPILLOVER, else $SPILL), if any."""
    meta = sample.metadata
    value = meta.get("spillover") or meta.get("spill")
    return str(value) if value else None
