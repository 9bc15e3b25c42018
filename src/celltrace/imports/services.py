"""Writes of the inventory import.

:func:`import_run_create` records a submitted file (an :class:`ImportRun`, no ledger entry: a
submission changes nothing in the bank). :func:`import_run_execute` checks the whole file
and, only if it is clean, writes it in ONE transaction that also appends two ledger entries:
``BANK_BATCH_CREATED`` for the rows (per-kind row counts and digests, as
:func:`celltrace.bank.services.bank_batch_create` writes them) and ``INVENTORY_IMPORTED`` for
the run (file name, size, SHA-256, counts). A file with any problem writes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from celltrace.audit import ledger
from celltrace.audit.choices import Action
from celltrace.bank.choices import EventType as BankEventType
from celltrace.bank.models import BankBatch
from celltrace.bank.services import require_bank_role
from celltrace.core.errors import Conflict, Invalid, NotFound
from celltrace.core.models import Organisation, User
from celltrace.core.validation import require_reason
from celltrace.imports import inventory
from celltrace.imports.choices import EventType, ImportStatus
from celltrace.imports.models import ImportRun

#: A run with no progress for this long was interrupted (the server stopped meanwhile).
STALE_AFTER = dt.timedelta(minutes=10)
ALLOWED_SUFFIXES = (".csv", ".xlsx")
#: SQLite page cache (KiB) of the importing connection while it writes: the indexes a large
#: import touches stay in memory instead of spilling to the WAL and being read back (measured at
#: 1,000,000 rows: write 18 s with 256 MiB against 25 s with 128 MiB; peak memory 528 MB).
WRITE_CACHE_KIB = 262_144


def imports_dir() -> Path:
    path = Path(settings.DATA_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _progress_file(run_id: int) -> Path:
    return imports_dir() / f"run-{run_id}.progress"


def read_progress(run: ImportRun) -> tuple[str, int, int]:
    """The latest progress of a run: (phase, done, total); phase ``""`` if none yet."""
    try:
        phase, done, total = _progress_file(run.pk).read_text().split()
        return phase, int(done), int(total)
    except (OSError, ValueError):
        return "", 0, 0


def _write_progress(run_id: int, phase: str, done: int, total: int) -> None:
    path = _progress_file(run_id)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{phase} {done} {total}")
    tmp.replace(path)


def _clean_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name.strip() or "inventory"
    return base[:255]


def import_run_create(
    *,
    actor: User,
    organisation: Organisation,
    file_name: str,
    content: IO[bytes] | Path,
    reason: str,
    dry_run: bool = False,
) -> ImportRun:
    """Record a submitted inventory file and keep a copy of it under the data directory.

    ``content`` is an open binary file (an upload) or a path (the command line: the file is
    copied too, so the run keeps the exact bytes it imported).
    """
    require_bank_role(actor)
    reason = require_reason(reason)
    if not organisation.is_active:
        raise Invalid(_("This organisation is not active."), field="organisation")
    name = _clean_name(file_name)
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        raise Invalid(_("Choose a .csv or .xlsx file."), field="file")
    target = imports_dir() / f"{uuid.uuid4().hex}{Path(name).suffix.lower()}"
    digest = hashlib.sha256()
    size = 0
    source: IO[bytes] = content.open("rb") if isinstance(content, Path) else content
    try:
        with target.open("wb") as out:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                if size > inventory.MAX_FILE_BYTES:
                    raise Invalid(_("The file is too large."), field="file")
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        if isinstance(content, Path):
            source.close()
    return ImportRun.objects.create(
        organisation=organisation,
        created_by=actor,
        file_name=name,
        file_format=inventory.sniff_format(target),
        file_size=size,
        file_sha256=digest.hexdigest(),
        stored_path=str(target),
        reason=reason,
        dry_run=dry_run,
    )


def import_run_write_checked(*, actor: User, run: ImportRun) -> ImportRun:
    """Import for real the file a check-only run found clean: a new run of the very bytes
    checked (their SHA-256 is compared), with the same organisation and reason. The file is
    checked again as it is written, against the database as it is now."""
    if not run.dry_run or run.status != ImportStatus.VALID:
        raise Conflict(_("Only a check-only run that found no problem is imported from here."))
    stored = Path(run.stored_path)
    if not run.stored_path or not stored.is_file():
        raise Conflict(_("The checked file is no longer kept; upload it again."))
    digest = hashlib.sha256()
    with stored.open("rb") as kept:
        while chunk := kept.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != run.file_sha256:
        raise Conflict(_("The checked file has changed since it was checked; upload it again."))
    return import_run_create(
        actor=actor,
        organisation=run.organisation,
        file_name=run.file_name,
        content=stored,
        reason=run.reason,
    )


def _mark(run: ImportRun, **fields: Any) -> None:
    for key, value in fields.items():
        setattr(run, key, value)
    run.save(update_fields=[*fields, "updated_at"])


def import_run_execute(
    *,
    run: ImportRun,
    progress: Callable[[str, int, int], None] | None = None,
    one_pass: bool = False,
) -> ImportRun:
    """Check the run's file and, if it is clean (and not a dry run), write it all at once.

    By default in two phases: the whole file is checked without holding the database's
    write lock (the bank stays writable meanwhile: the web upload), then written.
    ``one_pass`` (the command line): on SQLite, checked and written in one pass under the
    write lock, about twice as fast; a file with a problem is rolled back and then checked
    in two phases for the full report (:func:`_import_in_one_pass`)."""
    actor = run.created_by
    require_bank_role(actor)
    if run.status != ImportStatus.QUEUED:
        raise Invalid(_("This import has already been run."))
    _mark(run, status=ImportStatus.VALIDATING)
    last = [0.0]

    def report(phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if progress is not None:
            progress(phase, done, total)
        if now - last[0] >= 0.5 or done >= total:
            last[0] = now
            _write_progress(run.pk, phase, done, total)

    checked = None
    try:
        if one_pass and _one_pass_possible(run) and _import_in_one_pass(run, actor, report):
            return run
        # check-only runs, PostgreSQL, and files the one pass stopped on (nothing written):
        # the whole file checked first, every problem reported, then written if clean
        checked = inventory.check_file(
            Path(run.stored_path), organisation_id=run.organisation_id, progress=report
        )
        problems = checked.problems
        fields: dict[str, Any] = {
            "rows_read": checked.rows,
            "error_count": problems.count,
            "errors": [p.as_dict() for p in problems.items],
            "bytes_done": run.file_size,
        }
        if not checked.ok:
            if not problems:
                problems.add(None, "", "", _("The file has no data rows."))
                fields.update(error_count=1, errors=[p.as_dict() for p in problems.items])
            _mark(run, status=ImportStatus.FAILED, finished_at=_now(), **fields)
            return run
        if run.dry_run:
            _mark(run, status=ImportStatus.VALID, finished_at=_now(), **fields)
            return run
        _mark(run, status=ImportStatus.WRITING, **fields)
        try:
            _write(run, actor, checked, report)
        except IntegrityError:
            # rolled back; say which rows collide with what the bank holds now
            rows = inventory.taken_since_check(checked)
            if rows:
                rule = _(
                    "A position, DIN or aliquot of the file was taken by someone else while "
                    "it was being checked; nothing was written. Correct the rows below and "
                    "submit it again."
                )
            else:
                rule = _(
                    "A position, DIN or aliquot of the file was taken by someone else while "
                    "it was being checked; nothing was written. Submit it again."
                )
            first = inventory.Problem(None, "", "", rule)
            _mark(
                run,
                status=ImportStatus.FAILED,
                finished_at=_now(),
                error_count=1 + rows.count,
                errors=[p.as_dict() for p in [first, *rows.items][: inventory.MAX_ERRORS]],
            )
        return run
    except BaseException:
        ImportRun.objects.filter(pk=run.pk).exclude(status=ImportStatus.WRITTEN).update(
            status=ImportStatus.FAILED,
            finished_at=_now(),
            error_count=1,
            errors=[
                inventory.Problem(
                    None, "", "", _("The import stopped on an internal error; nothing was written.")
                ).as_dict()
            ],
        )
        raise
    finally:
        if checked is not None:
            inventory.discard(checked)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextlib.contextmanager
def _large_page_cache() -> Iterator[None]:
    """SQLite: a page cache of :data:`WRITE_CACHE_KIB` for this connection while the import
    writes (the indexes of a million rows then stay in memory); durability is unchanged."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as c:
        c.execute("PRAGMA cache_size")
        before = int(c.fetchone()[0])
        c.execute(f"PRAGMA cache_size = -{WRITE_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as c:
            c.execute(f"PRAGMA cache_size = {before}")


def _one_pass_possible(run: ImportRun) -> bool:
    """The one-pass import (:func:`celltrace.imports.inventory.import_in_one_pass`) is for
    SQLite in a database file (its second, read-only connection opens the file), a run that
    writes, and a caller outside any transaction (that connection sees only what is
    committed)."""
    return (
        not run.dry_run
        and connection.vendor == "sqlite"
        and not connection.in_atomic_block
        and Path(str(connection.settings_dict["NAME"])).is_file()
    )


def _import_in_one_pass(
    run: ImportRun, actor: User, report: Callable[[str, int, int], None]
) -> bool:
    """Check and write the file in one pass and one transaction; True if it was written.
    False if a problem stopped it: rolled back, nothing written (the run as it was)."""
    try:
        with _large_page_cache(), transaction.atomic():
            batch = _batch_create(run, actor)
            rows, written = inventory.import_in_one_pass(
                Path(run.stored_path),
                organisation_id=run.organisation_id,
                actor_id=actor.pk,
                batch_id=batch.pk,
                now=_now(),
                progress=report,
            )
            _record(run, actor, batch, rows, written)
    except (inventory.NotClean, IntegrityError):
        run.refresh_from_db()
        return False
    return True


def _batch_create(run: ImportRun, actor: User) -> BankBatch:
    return BankBatch.objects.create(
        organisation_id=run.organisation_id,
        created_by=actor,
        created_by_name=actor.full_name or actor.username,
        source=f"inventory import {run.pk}: {run.file_name}"[:200],
        reason=run.reason,
    )


def _write(
    run: ImportRun,
    actor: User,
    checked: inventory.Checked,
    report: Callable[[str, int, int], None],
) -> None:
    now = _now()
    with _large_page_cache(), transaction.atomic():
        batch = _batch_create(run, actor)
        assert checked.checker is not None
        boxes = inventory.staged_boxes(checked.checker.db)
        if connection.vendor != "sqlite":
            with connection.cursor() as c:
                for i in range(0, len(boxes), 1000):
                    part = boxes[i : i + 1000]
                    c.execute(
                        "SELECT id FROM storage_box WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                        [part],
                    )
        if inventory.rows_on_held_positions(checked.checker.db, boxes):
            # a QC sample was stored in one of the file's positions after the check
            raise IntegrityError("position taken by another item since the check")
        written = inventory.write_staged(
            checked,
            organisation_id=run.organisation_id,
            actor_id=actor.pk,
            batch_id=batch.pk,
            now=now,
            progress=report,
        )
        _record(run, actor, batch, checked.rows, written)


def _record(
    run: ImportRun, actor: User, batch: BankBatch, rows: int, written: inventory.Written
) -> None:
    """The two ledger entries of a written import, and the run marked written (inside the
    write's transaction)."""
    appended = ledger.append(
        actor=actor,
        action=Action.CREATE,
        event_type=BankEventType.BANK_BATCH_CREATED,
        entity_type="bank.bankbatch",
        entity_id=batch.pk,
        entity_label=str(batch),
        organisation_id=run.organisation_id,
        new={"source": batch.source, "consents": {"rows": 0}, **written.digests},
        reason=run.reason,
    )
    batch.ledger_seq = appended.seq
    batch.save(update_fields=["ledger_seq"])
    entry = ledger.append(
        actor=actor,
        action=Action.CREATE,
        event_type=EventType.INVENTORY_IMPORTED,
        entity_type="imports.importrun",
        entity_id=run.pk,
        entity_label=str(run),
        organisation_id=run.organisation_id,
        new={
            "file_name": run.file_name,
            "file_format": run.file_format,
            "file_size": run.file_size,
            "file_sha256": run.file_sha256,
            "rows": rows,
            "batch_id": batch.pk,
            "batch_ledger_seq": appended.seq,
            "counts": written.counts,
        },
        reason=run.reason,
    )
    _mark(
        run,
        status=ImportStatus.WRITTEN,
        rows_read=rows,
        error_count=0,
        errors=[],
        bytes_done=run.file_size,
        rows_written=written.counts["aliquots"],
        counts=written.counts,
        batch=batch,
        ledger_seq=entry.seq,
        finished_at=_now(),
    )


def import_run_expire_stale(*, now: dt.datetime | None = None) -> int:
    """Mark runs that stopped making progress (the server stopped meanwhile) as failed."""
    now = now or _now()
    stale = ImportRun.objects.filter(
        status__in=[ImportStatus.QUEUED, ImportStatus.VALIDATING, ImportStatus.WRITING],
        updated_at__lt=now - STALE_AFTER,
    )
    count = 0
    for run in stale:
        moved = _progress_file(run.pk)
        if moved.exists() and dt.datetime.fromtimestamp(moved.stat().st_mtime, dt.UTC) > (
            now - STALE_AFTER
        ):
            continue
        count += ImportRun.objects.filter(pk=run.pk, status=run.status).update(
            status=ImportStatus.FAILED,
            finished_at=now,
            error_count=1,
            errors=[
                inventory.Problem(
                    None,
                    "",
                    "",
                    _("The import was interrupted (the server stopped); nothing was written."),
                ).as_dict()
            ],
        )
    return count


def get_run(actor: User, pk: int) -> ImportRun:
    """A run the actor may see (bank staff of the operator); others get NotFound."""
    if not actor.is_operator_staff:
        raise NotFound(_("No such import."))
    try:
        return ImportRun.objects.select_related("organisation", "created_by").get(pk=pk)
    except ImportRun.DoesNotExist as exc:
        raise NotFound(_("No such import.")) from exc
