"""The production settings pass the deployment check; the celltrace command works end to end."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(
    args: list[str], env: dict[str, str], timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout, check=False
    )


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "CELLTRACE_TEST"))
    }
    env["CELLTRACE_DATA_DIR"] = str(tmp_path / "var")
    return env


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env.update(
        DJANGO_SETTINGS_MODULE="celltrace.config.production",
        SECRET_KEY="x7$Qp!" + "k2Vd9zLr4Tn8Wy3Bc6Hm1Jf5Gs0Xe7Ua" * 2,
        ALLOWED_HOSTS="celltrace.example.org",
        CELLTRACE_FIELD_KEY=base64.b64encode(os.urandom(32)).decode(),
    )
    check = [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"]
    result = run(check, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    # without the donor field key (or with a malformed one) production does not start
    for value in (None, "too-short"):
        if value is None:
            del env["CELLTRACE_FIELD_KEY"]
        else:
            env["CELLTRACE_FIELD_KEY"] = value
        refused = run(check, env)
        assert refused.returncode != 0
        assert "celltrace.E001" in refused.stderr + refused.stdout
        assert "CELLTRACE_FIELD_KEY" in refused.stderr + refused.stdout
    # and the server does not start without it
    serve = run([sys.executable, "-m", "celltrace.cli", "serve", "--port", "8765"], env, 60)
    assert serve.returncode != 0 and "celltrace.E001" in serve.stderr + serve.stdout


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    env.update(
        DJANGO_SETTINGS_MODULE="celltrace.config.production", ALLOWED_HOSTS="celltrace.example.org"
    )
    result = run([sys.executable, "-m", "django", "check"], env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.sqlite
@pytest.mark.slow
def test_setup_is_idempotent_and_audit_commands_work(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    celltrace = [sys.executable, "-m", "celltrace.cli"]
    first = run([*celltrace, "setup", "--demo", "--no-static"], env)
    assert first.returncode == 0, first.stderr
    assert "Demo logins" in first.stdout and "admin" in first.stdout
    assert (tmp_path / "var" / "keys" / "checkpoint.key").stat().st_mode & 0o777 == 0o600
    db = tmp_path / "var" / "celltrace.sqlite3"
    users_before = sqlite3.connect(db).execute("SELECT COUNT(*) FROM core_user").fetchone()[0]
    second = run([*celltrace, "setup", "--demo", "--no-static"], env)
    assert second.returncode == 0, second.stderr
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM core_user").fetchone()[0] == (
        users_before
    )
    journal = sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"

    cp = run([*celltrace, "audit", "checkpoint"], env)
    assert cp.returncode == 0, cp.stderr
    ok = run([*celltrace, "audit", "verify"], env)
    assert ok.returncode == 0 and "ledger OK" in ok.stdout, ok.stderr
    export = tmp_path / "ledger.jsonl"
    assert run([*celltrace, "audit", "export", "--output", str(export)], env).returncode == 0
    offline = run(
        [
            *celltrace,
            "audit",
            "verify",
            "--file",
            str(export),
            "--key",
            str(tmp_path / "var" / "keys" / "checkpoint.pub"),
        ],
        env,
    )
    assert offline.returncode == 0, offline.stderr

    # tamper with the file behind the triggers' back: verify names the entry
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER audit_event_no_update")
    con.execute(
        "UPDATE audit_event SET body = replace(body, '\"hash_version\":1', "
        "'\"hash_version\":2') WHERE seq = 3"
    )
    con.commit()
    bad = run([*celltrace, "audit", "verify"], env)
    assert bad.returncode == 1
    assert "first bad entry seq 3" in bad.stderr

    for sub in (
        ["setup"],
        ["serve"],
        ["createuser"],
        ["audit", "verify"],
        ["audit", "checkpoint"],
        ["audit", "export"],
        ["backup"],
        ["import"],
        ["import", "inventory"],
        ["import", "template"],
        ["metabolism"],
        ["metabolism", "analyse"],
    ):
        helped = run([*celltrace, *sub, "--help"], env)
        assert helped.returncode == 0 and "usage: celltrace" in helped.stdout, sub


@pytest.mark.sqlite
@pytest.mark.slow
def test_backup_restore_drill(tmp_path: Path) -> None:
    """Back up, check the copy table by table, and verify its ledger (reliability guide §3)."""
    env = base_env(tmp_path)
    celltrace = [sys.executable, "-m", "celltrace.cli"]
    assert run([*celltrace, "setup", "--demo", "--no-static"], env).returncode == 0
    assert run([*celltrace, "audit", "checkpoint"], env).returncode == 0
    backup = tmp_path / "backup.sqlite3"
    made = run([*celltrace, "backup", "--output", str(backup)], env)
    assert made.returncode == 0, made.stderr
    assert "sha256" in made.stdout
    again = run([*celltrace, "backup", "--output", str(backup)], env)
    assert again.returncode == 1 and "exists" in again.stderr  # never overwrites

    live = sqlite3.connect(tmp_path / "var" / "celltrace.sqlite3")
    copy = sqlite3.connect(backup)
    tables = [
        r[0]
        for r in live.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT IN ('django_session')"
        )
    ]
    for table in tables:
        q = f"SELECT * FROM {table} ORDER BY 1"
        assert live.execute(q).fetchall() == copy.execute(q).fetchall(), table
    verified = run([*celltrace, "audit", "verify", "--database", str(backup)], env)
    assert verified.returncode == 0 and "1 signed checkpoint(s) verified" in verified.stdout

    copy.execute("DROP TRIGGER audit_event_no_update")
    copy.execute(
        "UPDATE audit_event SET body = replace(body, 'Ada Admin', 'Eve Admin') "
        "WHERE seq = (SELECT MIN(seq) FROM audit_event WHERE body LIKE '%Ada Admin%')"
    )
    copy.commit()
    tampered = run([*celltrace, "audit", "verify", "--database", str(backup)], env)
    assert tampered.returncode == 1 and "first bad entry seq" in tampered.stderr


@pytest.mark.sqlite
@pytest.mark.slow
def test_setup_keeps_a_restored_verifier_key_and_checkpoints_refuse_a_mismatched_key(
    tmp_path: Path,
) -> None:
    """A data directory restored without its private key (kept by its custodian): setup does
    not make a new pair over the verifier key earlier checkpoints were signed with. A signing
    key or origin the verifier key does not match signs nothing (the read-only file it would
    write could never verify)."""
    env = base_env(tmp_path)
    celltrace = [sys.executable, "-m", "celltrace.cli"]
    keys = tmp_path / "var" / "keys"
    assert run([*celltrace, "setup", "--no-static"], env).returncode == 0
    assert run([*celltrace, "audit", "checkpoint"], env).returncode == 0
    pub_before = (keys / "checkpoint.pub").read_text()
    (keys / "checkpoint.pub").unlink()  # a lost verifier key is written again from the key
    rewritten = run([*celltrace, "setup", "--no-static"], env)
    assert "Wrote the verifier key" in rewritten.stdout, rewritten.stderr
    assert (keys / "checkpoint.pub").read_text() == pub_before
    custodian = tmp_path / "custodian.key"
    (keys / "checkpoint.key").rename(custodian)

    again = run([*celltrace, "setup", "--no-static"], env)
    assert again.returncode == 0, again.stderr
    assert "exists without its signing key" in again.stdout
    assert (keys / "checkpoint.pub").read_text() == pub_before
    assert not (keys / "checkpoint.key").exists()

    checkpoints = sorted((tmp_path / "var" / "checkpoints").iterdir())
    env["CELLTRACE_SIGNING_KEY"] = str(custodian)
    env["CELLTRACE_LEDGER_ORIGIN"] = "celltrace.example.org/ledger"
    refused = run([*celltrace, "audit", "checkpoint"], env)
    assert refused.returncode != 0
    assert "do not match the verifier key" in refused.stdout + refused.stderr
    assert sorted((tmp_path / "var" / "checkpoints").iterdir()) == checkpoints
    del env["CELLTRACE_LEDGER_ORIGIN"]
    signed = run([*celltrace, "audit", "checkpoint"], env)  # the restored key signs again
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert run([*celltrace, "audit", "verify"], env).returncode == 0


@pytest.mark.django_db
def test_demo_data_is_refused_beside_real_accounts_and_under_production(
    operator: Any, make_user: Any, settings: Any
) -> None:
    """Demo accounts share a published password: never into a database with accounts of its
    own, never under production settings unless asked for; nothing is written."""
    from celltrace.audit.models import AuditEvent
    from celltrace.core import demo
    from celltrace.core.models import Organisation, User

    assert demo.refusal() is None  # an empty database takes demo data
    # a real installation whose one account is called "admin", like the demo's
    make_user(operator, "admin", username="admin")
    before = (User.objects.count(), Organisation.objects.count(), AuditEvent.objects.count())
    with pytest.raises(demo.DemoRefused, match="account\\(s\\) of its own"):
        demo.load()
    make_user(operator, "qa", username="real.qa")
    before = (User.objects.count(), Organisation.objects.count(), AuditEvent.objects.count())
    with pytest.raises(demo.DemoRefused, match="account\\(s\\) of its own"):
        demo.load()
    assert (User.objects.count(), Organisation.objects.count(), AuditEvent.objects.count()) == (
        before
    )
    settings.ALLOW_DEMO_DATA = False
    assert "production" in (demo.refusal() or "")
