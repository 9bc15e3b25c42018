"""``celltrace audit verify`` against the database: chain, projections, checkpoints, signatures.

The chain and checkpoint checks are the pure ones in :mod:`celltrace.audit.verify`; this module
adds what needs the database: that each indexed column equals the field in the entry's body,
and that every signature still matches its record and its ledger entry.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import connection

from celltrace.audit import signing
from celltrace.audit.choices import SignatureStatus
from celltrace.audit.models import AuditEvent, Signature
from celltrace.audit.notes import NoteError, load_verifier_key
from celltrace.audit.verify import Report, load_checkpoints, read_checkpoint_dir, verify_rows

#: Indexed columns and the body field each must equal.
PROJECTIONS = (
    ("seq", "seq"),
    ("timestamp_utc", "timestamp_utc"),
    ("actor_id", "actor_id"),
    ("organisation_id", "organisation_id"),
    ("action", "action"),
    ("event_type", "event_type"),
    ("entity_type", "entity_type"),
    ("entity_id", "entity_id"),
)


def _first_projection_mismatch() -> int | None:
    if connection.vendor == "sqlite":
        paths = ", ".join(f"'$.{key}'" for _, key in PROJECTIONS)
        cols = ", ".join(col for col, _ in PROJECTIONS)
        # One JSON parse per row: extract every field at once and compare with the columns.
        sql = (
            "SELECT seq FROM audit_event WHERE CASE WHEN json_valid(CAST(body AS TEXT)) "  # noqa: S608
            f"THEN json_extract(CAST(body AS TEXT), {paths}) IS NOT json_array({cols}) "
            "ELSE 1 END ORDER BY seq LIMIT 1"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql)
            row = cursor.fetchone()
        return int(row[0]) if row else None
    cols = ", ".join(col for col, _ in PROJECTIONS)
    last = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT {cols}, body FROM audit_event WHERE seq > %s ORDER BY seq LIMIT 5000",  # noqa: S608
                [last],
            )
            rows = cursor.fetchall()
            if not rows:
                return None
            for row in rows:
                try:
                    data = json.loads(bytes(row[-1]))
                except (ValueError, UnicodeDecodeError):
                    return int(row[0])
                if not isinstance(data, dict) or any(
                    data.get(key) != row[i] for i, (_, key) in enumerate(PROJECTIONS)
                ):
                    return int(row[0])
            last = rows[-1][0]


def verify_signatures(report: Report) -> None:
    """Each signature matches its ledger entry, and its record is unchanged since signing."""
    sigs = Signature.objects.select_related("withdrawal").order_by("audit_seq")
    events = {
        e.seq: e
        for e in AuditEvent.objects.filter(seq__in=sigs.values_list("audit_seq", flat=True))
    }
    for sig in sigs:
        event = events.get(sig.audit_seq)
        data = event.data if event else {}
        if (
            event is None
            or data.get("record_hash") != sig.record_digest
            or data.get("signature_meaning") != sig.meaning
            or data.get("entity_type") != sig.record_type
            or data.get("entity_id") != sig.record_id
            or data.get("actor_id") != sig.signer_id
        ):
            report.fail(sig.audit_seq, f"signature {sig.pk}: does not match ledger seq "
                        f"{sig.audit_seq} (altered or copied signature)")
            continue
        try:
            spec = signing.spec_for(sig.record_type)
            record = spec.model._default_manager.get(pk=sig.record_id)
            digest: str | None = signing.record_digest(record)
        except Exception:  # noqa: BLE001 - a missing record or type is itself the finding
            digest = None
        if signing.signature_status(sig, digest) == SignatureStatus.BROKEN:
            report.fail(sig.audit_seq, f"signature {sig.pk} ({sig.meaning} by {sig.printed_name})"
                        f" on {sig.record_type}:{sig.record_id}: record changed after signing")


def verify_database(
    *, checkpoint_dir: Path | None = None, verify_key: Path | None = None,
    check_signatures: bool = True,
) -> Report:
    from celltrace.audit.services import iter_db_rows

    checkpoint_dir = checkpoint_dir or settings.CELLTRACE_CHECKPOINT_DIR
    verify_key = verify_key or settings.CELLTRACE_VERIFY_KEY
    report = Report()
    notes = read_checkpoint_dir(checkpoint_dir)
    checkpoints = []
    if notes:
        try:
            key = load_verifier_key(verify_key)
        except (FileNotFoundError, NoteError) as exc:
            report.fail(None, f"cannot check checkpoints: verifier key {verify_key}: {exc}")
        else:
            checkpoints, problems = load_checkpoints(notes, key, settings.CELLTRACE_ORIGIN)
            for problem in problems:
                report.fail(None, problem)
    bad = _first_projection_mismatch()
    if bad is not None:
        report.fail(bad, f"seq {bad}: indexed columns differ from the sealed entry body")
    verify_rows(iter_db_rows(), checkpoints, report)
    if check_signatures:
        verify_signatures(report)
    return report
