"""The application role of docs/operations.md can append to the ledger but not rewrite it."""

from __future__ import annotations

import secrets

import psycopg
import pytest
from django.db import connection

from tests.audit import helpers

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GRANTS = """
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
REVOKE UPDATE, DELETE, TRUNCATE ON audit_event, audit_signature,
       audit_signature_withdrawal, audit_checkpoint FROM {role};
"""


def test_runtime_role_appends_but_cannot_update_delete_or_truncate() -> None:
    helpers.fill(3)
    role = f"celltrace_app_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    s = connection.settings_dict
    with connection.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s NOSUPERUSER NOBYPASSRLS", [password])
        cur.execute(GRANTS.format(role=role))
    try:
        dsn = (
            f"host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432} dbname={s['NAME']} "
            f"user={role} password={password}"
        )
        with psycopg.connect(dsn, autocommit=True) as app:
            assert app.execute("SELECT COUNT(*) FROM audit_event").fetchone()[0] == 3
            for sql in (
                "UPDATE audit_event SET body = body",
                "DELETE FROM audit_event",
                "TRUNCATE audit_event",
                "UPDATE audit_signature SET comment = ''",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    app.execute(sql)
            # the ordinary tables stay writable for the application
            app.execute("UPDATE core_organisation SET address = address")
    finally:
        with connection.cursor() as cur:
            cur.execute(f"DROP OWNED BY {role}")
            cur.execute(f"DROP ROLE {role}")
