"""The ``celltrace`` command.

Thin: each subcommand parses its arguments, calls a service or selector, and reports.
Subcommands of later features register themselves in :data:`EXTENSIONS`.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DEFAULT_SETTINGS = "celltrace.config.local"


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    import django

    django.setup()


# --- setup ---------------------------------------------------------------------------------


def cmd_setup(args: argparse.Namespace) -> int:
    _django()
    from django.conf import settings
    from django.core.management import call_command

    from celltrace.audit.notes import generate_key_files, write_verifier_key
    from celltrace.config.env import ensure_dir

    ensure_dir(Path(settings.DATA_DIR))
    print("Migrating the database …", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    key, pub = Path(settings.CELLTRACE_SIGNING_KEY), Path(settings.CELLTRACE_VERIFY_KEY)
    if not key.exists() and pub.exists():
        # a restored data directory, or a web host whose signer lives elsewhere: a new pair
        # would replace the verifier key every earlier checkpoint was signed with
        print(
            f"The verifier key {pub} exists without its signing key {key}: no new key pair was "
            "made. Restore the signing key from its custodian (or point CELLTRACE_SIGNING_KEY "
            "at it) before signing checkpoints; docs/operations.md."
        )
    elif key.exists() and not pub.exists():
        write_verifier_key(key, pub, settings.CELLTRACE_ORIGIN)
        print(f"Wrote the verifier key {pub} of the signing key {key}")
    elif not key.exists():
        generate_key_files(key, pub, settings.CELLTRACE_ORIGIN)
        print(f"Created the checkpoint signing key {key} (keep it away from the web server)")
        print(f"  and its verifier key {pub}")
    from celltrace.qc.services import methods_seed

    seeded = methods_seed()
    if seeded:
        print(f"Seeded {seeded} compendial QC methods")
    if not args.no_static:
        call_command("collectstatic", interactive=False, verbosity=0)
    if args.demo:
        from celltrace.core import demo

        try:
            logins = demo.load(progress=True)
        except demo.DemoRefused as exc:
            print(f"celltrace setup --demo: {exc}", file=sys.stderr)
            return 2
        print(f"\nDemo logins (password for all: {demo.DEMO_PASSWORD})")
        for username, name, org, roles in logins:
            print(f"  {username:<10} {name:<22} {org:<32} {', '.join(roles)}")
    print("Setup complete.")
    return 0


# --- serve ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    _django()
    from django.core.management import call_command
    from gunicorn.app.base import BaseApplication

    # the system checks (e.g. celltrace.E001, no donor field key in production) stop the
    # server before it starts, not on the first page that needs what is missing
    call_command("check", fail_level="ERROR")

    from celltrace.config.wsgi import application

    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers,
        "threads": args.threads,
        "accesslog": "-",
        "timeout": 120,
        "forwarded_allow_ips": os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    }

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return application

    print(f"celltrace serving on http://{args.host}:{args.port}/ (Ctrl-C stops)", flush=True)
    Server().run()
    return 0


# --- users ---------------------------------------------------------------------------------


def cmd_createuser(args: argparse.Namespace) -> int:
    _django()
    from celltrace.core import services
    from celltrace.core.errors import DomainError
    from celltrace.core.models import Organisation

    org = Organisation.objects.filter(code=args.organisation).first()
    if org is None:
        print(f"error: no organisation with code {args.organisation!r}", file=sys.stderr)
        return 2
    password = args.password or os.environ.get("CELLTRACE_NEW_PASSWORD") or ""
    if not password:
        password = getpass.getpass("Temporary password: ")
    try:
        user = services.user_create(
            actor=None,
            organisation=org,
            username=args.username,
            full_name=args.full_name,
            email=args.email,
            roles=args.role,
            password=password,
            must_change_password=not args.no_password_change,
        )
    except DomainError as exc:
        print(f"error: {exc.field or 'input'}: {exc.message}", file=sys.stderr)
        return 2
    print(f"Created user {user.username} (id {user.pk}) in {org.name}")
    return 0


def cmd_organisation(args: argparse.Namespace) -> int:
    _django()
    from celltrace.core import services
    from celltrace.core.errors import DomainError

    try:
        org = services.organisation_create(
            actor=None, name=args.name, code=args.code, kind=args.kind, country=args.country
        )
    except DomainError as exc:
        print(f"error: {exc.field or 'input'}: {exc.message}", file=sys.stderr)
        return 2
    print(f"Created organisation {org.name} (code {org.code}, id {org.pk})")
    return 0


# --- audit ---------------------------------------------------------------------------------


def cmd_audit_verify(args: argparse.Namespace) -> int:
    if args.file:
        return _verify_export(args)
    if args.database:
        # verify a restored SQLite copy: point the default connection at it, read-only use
        os.environ.pop("DATABASE_URL", None)
        os.environ["CELLTRACE_VERIFY_DATABASE"] = str(Path(args.database).resolve())
    _django()
    from celltrace.audit.verification import verify_database

    report = verify_database(
        checkpoint_dir=Path(args.checkpoints) if args.checkpoints else None,
        verify_key=Path(args.key) if args.key else None,
        merkle=args.merkle,
    )
    return _print_report(report)


def _verify_export(args: argparse.Namespace) -> int:
    # Standard library and cryptography only: an auditor can run this away from the server.
    from celltrace.audit.notes import load_verifier_key
    from celltrace.audit.verify import (
        Report,
        iter_export,
        load_checkpoints,
        read_checkpoint_dir,
        verify_rows,
    )

    if not args.key:
        print("error: --key (the verifier key file) is needed with --file", file=sys.stderr)
        return 2
    key = load_verifier_key(Path(args.key))
    report = Report()
    try:
        notes, rows = iter_export(Path(args.file))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    named = [(f"embedded #{i + 1}", n) for i, n in enumerate(notes)]
    if args.checkpoints:
        named += read_checkpoint_dir(Path(args.checkpoints))
    checkpoints, problems = load_checkpoints(named, key)
    for p in problems:
        report.fail(None, p)
    verify_rows(rows, checkpoints, report, merkle=args.merkle)
    return _print_report(report)


def _print_report(report: Any) -> int:
    if report.ok:
        print(
            f"ledger OK: {report.entries} entries, {report.checkpoints_verified} signed "
            f"checkpoint(s) verified, head {report.last_hash.hex()}"
        )
        if report.checkpoints_verified == 0:
            print(
                "warning: no signed checkpoint covers the ledger; a rewritten or truncated "
                "chain cannot be detected without one (run 'celltrace audit checkpoint')"
            )
        return 0
    if report.first_bad_seq is not None:
        print(f"LEDGER INVALID: first bad entry seq {report.first_bad_seq}", file=sys.stderr)
    else:
        print("LEDGER INVALID", file=sys.stderr)
    for problem in report.problems:
        print(f"  {problem}", file=sys.stderr)
    return 1


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    _django()
    from celltrace.audit.services import checkpoint_create
    from celltrace.core.errors import DomainError

    try:
        result = checkpoint_create(
            actor=None,
            signing_key=Path(args.key) if args.key else None,
            checkpoint_dir=Path(args.output_dir) if args.output_dir else None,
        )
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    cp = result.checkpoint
    print(f"checkpoint signed: tree size {cp.tree_size}, root {cp.root_hash}")
    print(f"exported to {result.path}")
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    _django()
    from celltrace.audit.services import ledger_export

    n = ledger_export(actor=None, output=Path(args.output))
    print(f"exported {n} entries to {args.output}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    _django()
    from django.db import connection

    from celltrace.core.backup import BackupError, backup_postgresql, backup_sqlite

    output = Path(args.output)
    try:
        if connection.vendor == "sqlite":
            result = backup_sqlite(Path(connection.settings_dict["NAME"]), output)
        else:
            result = backup_postgresql(connection.settings_dict, output)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"backup written: {result.path} ({result.size} bytes, sha256 {result.sha256})")
    print("verify it: celltrace audit verify --database <file> (SQLite) or after pg_restore")
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["celltrace manage", *args.rest])
    return 0


# --- extension point -----------------------------------------------------------------------

#: name -> (help, configure(parser)); each configure sets ``func`` on its parser.
EXTENSIONS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {}


def _metabolism(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        help="analyse FILE --assay … (see 'celltrace metabolism analyse --help')",
    )

    def run(args: argparse.Namespace) -> int:
        try:
            from celltrace.assays.metabolism.cli import main as metabolism_main
        except ImportError:  # pragma: no cover - the module ships with the package
            print("error: the metabolism module is not installed", file=sys.stderr)
            return 2
        return int(metabolism_main(list(args.rest)))

    parser.set_defaults(func=run)


EXTENSIONS["metabolism"] = ("Cellular energy metabolism (Seahorse XF) analyses", _metabolism)


def _import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        help="inventory FILE [--organisation CODE] --user NAME [--dry-run] | template FILE",
    )

    def run(args: argparse.Namespace) -> int:
        from celltrace.imports.cli import main as import_main

        return int(import_main(list(args.rest)))

    parser.set_defaults(func=run)


EXTENSIONS["import"] = ("Bulk import of a legacy cell-bank inventory (CSV or XLSX)", _import)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="celltrace",
        description="celltrace: cell bank, QC laboratory and traceability. Data lives under "
        "$CELLTRACE_DATA_DIR (default ./var); settings come from the environment.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "setup",
        help="migrate, create the signing key, collect static files",
        description="Migrate the database, create the checkpoint signing key if "
        "missing, collect static files and optionally load demo data. Idempotent.",
    )
    p.add_argument("--demo", action="store_true", help="load demo organisations, users and data")
    p.add_argument("--no-static", action="store_true", help="skip collecting static files")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser(
        "serve",
        help="run the production web server (gunicorn)",
        description="Serve the application with gunicorn; static files are served "
        "by WhiteNoise. Put a TLS-terminating proxy in front in production.",
    )
    p.add_argument(
        "--host",
        default=os.environ.get("CELLTRACE_HOST", "127.0.0.1"),
        help="address to bind (default $CELLTRACE_HOST or 127.0.0.1)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("CELLTRACE_PORT", "8000")),
        help="port (default $CELLTRACE_PORT or 8000)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("CELLTRACE_WORKERS", "2")),
        help="gunicorn worker processes (default $CELLTRACE_WORKERS or 2)",
    )
    p.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "createuser",
        help="create a user account",
        description="Create a user in an organisation with one or more roles. The "
        "password is read from --password, $CELLTRACE_NEW_PASSWORD or a prompt.",
    )
    p.add_argument("--username", required=True)
    p.add_argument("--full-name", required=True, help="printed name used in signatures")
    p.add_argument("--organisation", required=True, help="organisation code")
    p.add_argument(
        "--role",
        action="append",
        required=True,
        help="admin, bank_technician, qc_analyst, qc_reviewer, qa or client_user "
        "(repeat for several)",
    )
    p.add_argument("--email", default="")
    p.add_argument(
        "--password",
        default="",
        help="temporary password (default: $CELLTRACE_NEW_PASSWORD, else asked for)",
    )
    p.add_argument(
        "--no-password-change",
        action="store_true",
        help="do not force a password change at first login",
    )
    p.set_defaults(func=cmd_createuser)

    p = sub.add_parser(
        "organisation",
        help="create an organisation",
        description="Create the operator or a client organisation.",
    )
    p.add_argument("--name", required=True)
    p.add_argument("--code", required=True)
    p.add_argument("--kind", required=True, choices=["operator", "client"])
    p.add_argument("--country", default="")
    p.set_defaults(func=cmd_organisation)

    audit = sub.add_parser(
        "audit",
        help="verify, checkpoint and export the audit ledger",
        description="The tamper-evident audit ledger.",
    )
    asub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    p = asub.add_parser(
        "verify",
        help="recompute the chain and check the signed checkpoints",
        description="Check that the sequence numbers run from 1 without gaps and recompute "
        "every entry's hash from its predecessor's hash and its stored body; check each "
        "signed checkpoint's signature and that its signed chain head equals the recomputed "
        "hash of the entry at its tree size (this catches a rewritten or truncated chain; the "
        "Merkle root is recomputed only with --merkle); then check that every electronic "
        "signature still matches its ledger entry and its unchanged record (not with --file, "
        "which has no records). Exits 1 naming the first bad sequence number.",
    )
    p.add_argument(
        "--file",
        help="verify an export file ('celltrace audit export') instead of the database; "
        "needs --key; only the standard library and cryptography are used",
    )
    p.add_argument(
        "--checkpoints",
        help="directory of exported checkpoint files (default $CELLTRACE_CHECKPOINT_DIR; "
        "with --file, added to the checkpoints embedded in the export)",
    )
    p.add_argument(
        "--key",
        help="verifier (public) key file (default $CELLTRACE_VERIFY_KEY; required with --file)",
    )
    p.add_argument("--database", help="verify this SQLite file (a backup or restored copy)")
    p.add_argument(
        "--merkle",
        action="store_true",
        help="also recompute each checkpoint's RFC 6962 Merkle root (the chain head "
        "signed in every checkpoint already detects rewrites and truncation)",
    )
    p.set_defaults(func=cmd_audit_verify)
    p = asub.add_parser(
        "checkpoint",
        help="sign a checkpoint over the ledger and export it",
        description="Verify the ledger, compute the RFC 6962 Merkle root over "
        "every entry, sign it with the Ed25519 key and write it to a file.",
    )
    p.add_argument("--key", help="private signing key (default $CELLTRACE_SIGNING_KEY)")
    p.add_argument("--output-dir", help="where to write (default $CELLTRACE_CHECKPOINT_DIR)")
    p.set_defaults(func=cmd_audit_checkpoint)
    p = asub.add_parser(
        "export",
        help="export the ledger with its checkpoints",
        description="Write every entry and the exported checkpoints to a JSON "
        "Lines file that 'celltrace audit verify --file' checks offline.",
    )
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_audit_export)

    p = sub.add_parser(
        "backup",
        help="write a consistent backup of the database",
        description="SQLite: the online backup API plus an integrity check; PostgreSQL: "
        "pg_dump --format=custom. Back up the data directory's keys/checkpoint.pub and "
        "checkpoints/ with it (docs/operations.md).",
    )
    p.add_argument("--output", required=True, help="the backup file to create")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "manage",
        help="run a Django management command",
        description="Pass the remaining arguments to Django's manage.py.",
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)

    for name, (help_text, configure) in EXTENSIONS.items():
        configure(sub.add_parser(name, help=help_text, add_help=False))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # an extension parses its own arguments: argparse's REMAINDER leaves out options that
        # come first (``celltrace import --help``), so hand them over in their place
        if args.command not in EXTENSIONS:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.rest = [*unknown, *args.rest]
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
