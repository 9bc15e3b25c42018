"""``celltrace import inventory FILE``: check and write a legacy inventory from the terminal.

A progress bar (tqdm) goes to stderr; the result (or every problem, with row, column and
rule) to stdout. Exit status: 0 written (or clean, with ``--dry-run``), 1 the file has
problems (nothing written), 2 bad arguments (unknown user or organisation, no such file).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="celltrace import",
        description="Import a legacy cell-bank inventory (CSV UTF-8 or XLSX). Only a file "
        "without any problem is written, all at once; every problem is reported.",
    )
    sub = parser.add_subparsers(dest="what", required=True, metavar="WHAT")
    p = sub.add_parser(
        "inventory",
        help="donors, collections, products, aliquots and their storage positions",
        description="Columns: see docs/inventory-import.md or 'celltrace import template'.",
    )
    p.add_argument("file", type=Path, help="the inventory, .csv (UTF-8) or .xlsx")
    p.add_argument(
        "--organisation",
        metavar="CODE",
        help="code of the organisation the material belongs to (default: the operator)",
    )
    p.add_argument(
        "--user",
        required=True,
        metavar="USERNAME",
        help="the bank technician or administrator responsible (recorded on the ledger)",
    )
    p.add_argument("--reason", default="", help="why (default: 'Legacy inventory import')")
    p.add_argument("--dry-run", action="store_true", help="check only, write nothing")
    p.add_argument(
        "--check-first",
        action="store_true",
        help="check the whole file before taking the database's write lock, so that the bank "
        "stays writable while it is checked (SQLite; by default the file is checked and "
        "written in one pass, about twice as fast, under the lock)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    t = sub.add_parser("template", help="write the template (CSV or XLSX) to a file")
    t.add_argument("target", type=Path, help="file to write, .csv or .xlsx")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    from celltrace.cli import _django

    _django()
    if args.what == "template":
        return _template(args.target)
    return _inventory(args)


def _template(target: Path) -> int:
    from celltrace.imports import template

    if target.suffix.lower() == ".xlsx":
        target.write_bytes(template.xlsx_bytes())
    elif target.suffix.lower() == ".csv":
        target.write_bytes(template.csv_bytes())
    else:
        print("error: the template is a .csv or .xlsx file", file=sys.stderr)
        return 2
    print(f"Wrote the inventory template {target}")
    return 0


def _inventory(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from celltrace.core.choices import OrganisationKind
    from celltrace.core.errors import DomainError
    from celltrace.core.models import Organisation, User
    from celltrace.imports import services
    from celltrace.imports.choices import ImportStatus

    path: Path = args.file
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 2
    user = User.objects.filter(username=args.user, is_active=True).first()
    if user is None:
        print(f"error: no active user {args.user!r}", file=sys.stderr)
        return 2
    if args.organisation:
        org = Organisation.objects.filter(code=args.organisation).first()
    else:
        org = Organisation.objects.filter(kind=OrganisationKind.OPERATOR).first()
    if org is None:
        print(f"error: no organisation with code {args.organisation!r}", file=sys.stderr)
        return 2
    try:
        run = services.import_run_create(
            actor=user,
            organisation=org,
            file_name=path.name,
            content=path,
            reason=args.reason or "Legacy inventory import",
            dry_run=args.dry_run,
        )
    except DomainError as exc:
        print(f"error: {exc.field or 'input'}: {exc.message}", file=sys.stderr)
        return 2
    bars: dict[str, Any] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if args.quiet:
            return
        bar = bars.get(phase)
        if bar is None:
            for other in bars.values():
                other.close()
            check = phase in ("check", "import") and run.file_format == "csv"
            bar = bars[phase] = tqdm(
                total=total,
                desc={"check": "checking", "import": "importing"}.get(phase, "writing"),
                unit="B" if check else " rows",
                unit_scale=True,
                file=sys.stderr,
                mininterval=0.5,
            )
        bar.total = max(total, done)
        bar.update(done - bar.n)

    try:
        run = services.import_run_execute(run=run, progress=progress, one_pass=not args.check_first)
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        for bar in bars.values():
            bar.close()
    print(f"import {run.pk}: {run.file_name} (sha256 {run.file_sha256}) into {org.code}")
    if run.status == ImportStatus.FAILED:
        print(f"{run.error_count} problem(s); nothing was written:")
        for p in run.errors:
            where = f"row {p['row']}" if p["row"] is not None else "file"
            column = f", {p['column']}" if p["column"] else ""
            value = f" {p['value']!r}" if p["value"] else ""
            print(f"  {where}{column}:{value} {p['rule']}")
        if run.error_count > len(run.errors):
            print(f"  … and {run.error_count - len(run.errors)} more")
        return 1
    if run.status == ImportStatus.VALID:
        print(f"{run.rows_read} rows checked: no problems (dry run, nothing written)")
        return 0
    counts = ", ".join(f"{k} {v}" for k, v in run.counts.items())
    print(f"{run.rows_read} rows written: {counts}; ledger entry {run.ledger_seq}")
    return 0
