"""Append-only guards on the ledger and signature tables (docs/design/reliability.md §4.1).

Installed by migration ``0002_append_only``. SQLite: ``BEFORE UPDATE``/``BEFORE DELETE``
triggers that ``RAISE(ABORT)``. PostgreSQL: row triggers for UPDATE and DELETE and a statement
trigger for TRUNCATE, raising ``insufficient_privilege``; deployments also revoke those
privileges from the runtime role (docs/operations.md).
"""

from __future__ import annotations

from typing import Any

GUARDED_TABLES = (
    "audit_event",
    "audit_signature",
    "audit_signature_withdrawal",
    "audit_checkpoint",
)

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION celltrace_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def install_sql(vendor: str) -> list[str]:
    statements: list[str] = []
    if vendor == "postgresql":
        statements.append(PG_FUNCTION)
        for t in GUARDED_TABLES:
            statements += [
                f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                "FOR EACH ROW EXECUTE FUNCTION celltrace_append_only()",
                f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION celltrace_append_only()",
            ]
    elif vendor == "sqlite":
        for t in GUARDED_TABLES:
            for op in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
                    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"
                )
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"no append-only guards for database vendor {vendor!r}")
    return statements


def uninstall_sql(vendor: str) -> list[str]:
    statements: list[str] = []
    for t in GUARDED_TABLES:
        if vendor == "postgresql":
            statements += [
                f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}",
                f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}",
            ]
        else:
            statements += [f"DROP TRIGGER IF EXISTS {t}_no_{op} " for op in ("update", "delete")]
    return statements


def install(connection: Any) -> None:
    with connection.cursor() as cursor:
        for sql in install_sql(connection.vendor):
            cursor.execute(sql)


def uninstall(connection: Any) -> None:
    with connection.cursor() as cursor:
        for sql in uninstall_sql(connection.vendor):
            cursor.execute(sql)


def installed(connection: Any) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT COUNT(*) FROM pg_trigger WHERE tgname = 'audit_event_append_only'"
            )
        else:
            cursor.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' "
                "AND name = 'audit_event_no_update'"
            )
        return bool(cursor.fetchone()[0])
