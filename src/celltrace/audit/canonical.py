"""Canonical bytes of ledger entries and signed records (docs/design/reliability.md §4.2).

UTF-8 JSON with sorted keys and no insignificant whitespace, following RFC 8785 for data
without floats: decimals and large integers are strings, timestamps are UTC ISO 8601 with
microseconds and a ``Z``. This module needs only the standard library, so that an auditor's
copy of the verifier can use it.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any

MAX_SAFE_INT = 2**53 - 1


def utc_iso(moment: dt.datetime) -> str:
    """``2026-11-23T12:00:00.000000Z``; a naive datetime is refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    if moment.year < 1000:
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # isoformat is several times faster than strftime and gives the same fixed-width text
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def jsonable(value: Any) -> Any:
    """Turn a Python value into the float-free JSON model the ledger hashes."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else str(value)
    if isinstance(value, float):
        raise TypeError("floats are not allowed in canonical content; use Decimal or str")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("non-finite decimals are not allowed in canonical content")
        return str(value)
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes | bytearray):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    pk = getattr(value, "pk", None)
    if pk is not None:
        return jsonable(pk)
    raise TypeError(f"cannot put {type(value).__name__} into canonical content")


def canonical_bytes(value: Any) -> bytes:
    return json.dumps(
        jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
