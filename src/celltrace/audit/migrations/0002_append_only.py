"""Append-only guards (triggers) on the ledger and signature tables, and the chain head row."""

from django.db import migrations

from celltrace.audit import guards


def install(apps, schema_editor):  # type: ignore[no-untyped-def]
    for sql in guards.install_sql(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)
    head = apps.get_model("audit", "AuditHead")
    head.objects.get_or_create(id=1, defaults={"last_seq": 0, "last_hash": b"\x00" * 32})


def uninstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    for sql in guards.uninstall_sql(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
