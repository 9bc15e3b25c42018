"""Test helpers that play the attacker: write to the ledger tables behind the guards' back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from celltrace.audit import guards, ledger
from celltrace.audit.choices import Action

COLUMNS = ("seq", "body", "entry_hash")


@contextmanager
def guards_lifted() -> Iterator[None]:
    guards.uninstall(connection)
    try:
        yield
    finally:
        guards.install(connection)


def fill(n: int, actor: Any = None) -> None:
    from django.db import transaction

    with transaction.atomic():
        for i in range(n):
            ledger.append(
                actor=actor,
                action=Action.UPDATE,
                event_type="TEST_EVENT",
                entity_type="test.thing",
                entity_id=i,
                new={"i": i, "note": "ü"},
                reason=f"reason {i}",
            )


def row(seq: int) -> dict[str, Any]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_event WHERE seq = %s", [seq])
        values = cur.fetchone()
    out = dict(zip(COLUMNS, values, strict=True))
    out["entry_hash"] = bytes(out["entry_hash"])
    return out


def set_columns(at_seq: int, **values: Any) -> None:
    from django.db import transaction

    sets = ", ".join(f"{k} = %s" for k in values)
    with transaction.atomic(), guards_lifted(), connection.cursor() as cur:
        cur.execute(f"UPDATE audit_event SET {sets} WHERE seq = %s", [*values.values(), at_seq])


def delete(*seqs: int) -> None:
    with guards_lifted(), connection.cursor() as cur:
        for s in seqs:
            cur.execute("DELETE FROM audit_event WHERE seq = %s", [s])


def rewrite_from(seq: int, new_reason: str) -> None:
    """What an attacker with write access does: edit an entry and recompute every later hash
    and the head, so the chain alone looks perfect."""
    with connection.cursor() as cur:
        cur.execute("SELECT seq, body FROM audit_event WHERE seq >= %s ORDER BY seq", [seq])
        rows = list(cur.fetchall())
    prev = row(seq - 1)["entry_hash"] if seq > 1 else b"\x00" * 32
    with guards_lifted(), connection.cursor() as cur:
        for s, body in rows:
            if s == seq:
                data = json.loads(body)
                data["reason"] = new_reason
                body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            h = hashlib.sha256(b"\x00" + prev + body.encode()).digest()
            cur.execute(
                "UPDATE audit_event SET body = %s, entry_hash = %s WHERE seq = %s", [body, h, s]
            )
            prev = h
        cur.execute("UPDATE audit_head SET last_hash = %s WHERE id = 1", [prev])
