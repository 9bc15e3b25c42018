"""Appending to the ledger (docs/design/reliability.md §4.2–4.3).

Every GMP-relevant service calls :func:`append` inside its own transaction, after its business
writes: the head row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's IMMEDIATE
transactions already serialise writers), the next ``seq`` and hash are computed, the entry is
inserted and the head moved, all in the caller's transaction. A change can therefore never
commit without its entry, nor an entry without its change, and concurrent writers cannot fork
the chain. ``seq`` is the primary key, which backs the head up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Model

from celltrace.audit import context
from celltrace.audit.canonical import canonical_bytes, jsonable, utc_iso

HASH_VERSION = 1
ZERO_HASH = b"\x00" * 32
_LEAF = b"\x00"

_INSERT = "INSERT INTO audit_event (seq, body, entry_hash) VALUES (%s, %s, %s)"
_UPDATE_HEAD = "UPDATE audit_head SET last_seq = %s, last_hash = %s WHERE id = 1"
_INSERT_QMARK = _INSERT.replace("%s", "?")
_UPDATE_HEAD_QMARK = _UPDATE_HEAD.replace("%s", "?")
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class LedgerError(RuntimeError):
    """The ledger cannot be appended to (misuse, or a damaged head)."""


@dataclass(frozen=True)
class Entry:
    """What a service records: one change to one object, or one bulk write."""

    action: str
    event_type: str
    entity_type: str
    entity_id: str
    old: Mapping[str, Any] = field(default_factory=dict)
    new: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    entity_label: str = ""
    organisation_id: int | None = None
    signature_meaning: str = ""
    record_hash: str = ""


@dataclass(frozen=True)
class Appended:
    seq: int
    entry_hash: bytes
    timestamp_utc: str


def entity_of(obj: Model) -> tuple[str, str]:
    """``(entity_type, entity_id)`` of a model instance, e.g. ``("core.user", "12")``."""
    return obj._meta.label_lower, str(obj.pk)


def _actor_fields(actor: Any) -> tuple[int | None, str, str, int | None]:
    if actor is None:
        return None, "system", "", None
    name = getattr(actor, "full_name", "") or getattr(actor, "username", "")
    role = getattr(actor, "primary_role", "") or ""
    return actor.pk, name, role, getattr(actor, "organisation_id", None)


def _lock_head(cursor: Any, conn: Any) -> tuple[int, bytes]:
    suffix = " FOR UPDATE" if conn.features.has_select_for_update else ""
    select = "SELECT last_seq, last_hash FROM audit_head WHERE id = 1" + suffix  # noqa: S608
    cursor.execute(select)
    row = cursor.fetchone()
    if row is None:
        # The migration creates the head; recreate it only for an empty ledger.
        cursor.execute("SELECT COUNT(*) FROM audit_event")
        if cursor.fetchone()[0]:
            raise LedgerError("the ledger head row is missing while entries exist")
        cursor.execute(
            "INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, %s) "
            "ON CONFLICT (id) DO NOTHING",
            [ZERO_HASH],
        )
        cursor.execute(select)
        row = cursor.fetchone()
    return int(row[0]), bytes(row[1])


def _body(seq: int, when: str, actor: Any, entry: Entry, ctx: context.AuditContext) -> str:
    actor_id, actor_name, actor_role, actor_org = _actor_fields(actor)
    org_id = entry.organisation_id if entry.organisation_id is not None else actor_org
    content = {
        "hash_version": HASH_VERSION,
        "seq": seq,
        "event_id": str(uuid.uuid4()),
        "timestamp_utc": when,
        "actor_id": actor_id,
        "actor_name": actor_name,
        "actor_role": actor_role,
        "organisation_id": org_id,
        "client_id": ctx.client_id,
        "request_id": ctx.request_id,
        "action": entry.action,
        "event_type": entry.event_type,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "entity_label": entry.entity_label,
        "old": jsonable(entry.old),
        "new": jsonable(entry.new),
        "reason": entry.reason,
        "signature_meaning": entry.signature_meaning or None,
        "record_hash": entry.record_hash or None,
    }
    # old/new were made float-free by jsonable(); the rest are plain str/int/None
    return _ENCODER.encode(content)


def append_entries(actor: Any, entries: Iterable[Entry]) -> list[Appended]:
    """Append entries in order, in the caller's transaction, holding the head once."""
    conn = transaction.get_connection()  # resolve the connection proxy once
    if not conn.in_atomic_block:
        raise LedgerError("ledger entries must be written inside the service's transaction")
    ctx = context.current()
    out: list[Appended] = []
    rows: list[tuple[Any, ...]] = []
    with conn.cursor() as cursor:
        last_seq, last_hash = _lock_head(cursor, conn)
        when = utc_iso(dt.datetime.now(dt.UTC))
        for entry in entries:
            seq = last_seq + 1
            body = _body(seq, when, actor, entry, ctx)
            entry_hash = hashlib.sha256(_LEAF + last_hash + body.encode("utf-8")).digest()
            rows.append((seq, body, entry_hash))
            out.append(Appended(seq, entry_hash, when))
            last_seq, last_hash = seq, entry_hash
        if not rows:
            return out
        if conn.vendor == "sqlite":
            # the driver's own connection: same transaction, no per-statement SQL rewriting
            db = conn.connection
            db.executemany(_INSERT_QMARK, rows)
            db.execute(_UPDATE_HEAD_QMARK, (last_seq, last_hash))
        else:
            cursor.executemany(_INSERT, rows)
            cursor.execute(_UPDATE_HEAD, [last_seq, last_hash])
    return out


def append(
    *,
    actor: Any,
    action: str,
    event_type: str,
    entity_type: str,
    entity_id: str | int,
    old: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
    reason: str = "",
    entity_label: str = "",
    organisation_id: int | None = None,
    signature_meaning: str = "",
    record_hash: str = "",
) -> Appended:
    """Append one entry in the caller's transaction and return its seq and hash."""
    entry = Entry(
        action=action,
        event_type=event_type,
        entity_type=entity_type,
        entity_id=str(entity_id),
        old=old or {},
        new=new or {},
        reason=reason,
        entity_label=entity_label,
        organisation_id=organisation_id,
        signature_meaning=signature_meaning,
        record_hash=record_hash,
    )
    return append_entries(actor, [entry])[0]


def rows_digest(rows: Iterable[Mapping[str, Any]]) -> tuple[int, str]:
    """Count and SHA-256 over the canonical bytes of each row, in order, for bulk entries.

    A bulk operation writes one ledger entry carrying ``{"rows": n, "digest": …}``; anyone
    holding the rows can recompute the digest and prove they are the rows that were written.
    """
    digest = hashlib.sha256()
    n = 0
    for row in rows:
        data = canonical_bytes(row)
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
        n += 1
    return n, digest.hexdigest()


def label_of(obj: Any) -> str:
    """``str(obj)`` in the installation's language, not the acting user's: a record's label
    on the ledger reads the same whoever acted (some records' names are translated on
    screen, e.g. "Alarm 4" / "报警 4")."""
    from django.conf import settings
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):
        return str(obj)


def atomic_append(**kwargs: Any) -> Appended:
    """Append in a transaction of its own (security events that must survive a refusal)."""
    with transaction.atomic():
        return append(**kwargs)
