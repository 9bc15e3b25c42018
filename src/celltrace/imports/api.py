"""API operations of the inventory import.

Bank technicians and administrators of the operator upload an inventory file (multipart),
which is checked and written in the background exactly as from the page; they poll the run
for its progress and result. Client users get 404 for every operation.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from celltrace.api.schemas import ERRORS, READ_ERRORS, IdParam, Page
from celltrace.core.api import actor_of
from celltrace.core.errors import NotFound
from celltrace.core.models import Organisation
from celltrace.imports import selectors, services, tasks
from celltrace.imports.models import ImportRun
from celltrace.imports.schemas import ImportCreateIn, ImportRunOut

router = Router(tags=["inventory import"])


class RunFilter(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000_000)


def run_out(run: ImportRun) -> dict[str, Any]:
    progress = selectors.progress_of(run)
    return {
        "id": run.pk,
        "organisation_id": run.organisation_id,
        "created_at": run.created_at,
        "created_by_id": run.created_by_id,
        "file_name": run.file_name,
        "file_format": run.file_format,
        "file_size": run.file_size,
        "file_sha256": run.file_sha256,
        "reason": run.reason,
        "dry_run": run.dry_run,
        "status": run.status,
        "phase": progress.phase,
        "done": progress.done,
        "total": progress.total,
        "rows_read": run.rows_read,
        "rows_written": run.rows_written,
        "error_count": run.error_count,
        "errors": run.errors,
        "counts": run.counts,
        "batch_id": run.batch_id,
        "ledger_seq": run.ledger_seq,
        "finished_at": run.finished_at,
    }


@router.post(
    "/imports", response={202: ImportRunOut, **ERRORS}, operation_id="inventory_imports_create"
)
def inventory_imports_create(
    request: HttpRequest, payload: Form[ImportCreateIn], file: File[UploadedFile]
) -> Status[dict[str, Any]]:
    """Upload an inventory (CSV UTF-8 or XLSX); it is checked, then written if clean, in the
    background. Poll ``GET /imports/{id}`` until ``status`` is written, valid or failed."""
    actor = actor_of(request)
    selectors.runs_visible(actor)  # 404 for client users, 403 for other staff
    org = Organisation.objects.filter(pk=payload.organisation_id).first()
    if org is None:
        raise NotFound(_("No such organisation."), field="organisation_id")
    run = services.import_run_create(
        actor=actor,
        organisation=org,
        file_name=file.name or "",
        content=file,
        reason=payload.reason,
        dry_run=payload.dry_run,
    )
    tasks.start(run.pk)
    return Status(202, run_out(run))


@router.get(
    "/imports",
    response={200: Page[ImportRunOut], **READ_ERRORS},
    operation_id="inventory_imports_list",
)
def inventory_imports_list(request: HttpRequest, q: Query[RunFilter]) -> dict[str, Any]:
    qs = selectors.runs_visible(actor_of(request))
    return {"count": qs.count(), "items": [run_out(r) for r in qs[q.offset : q.offset + q.limit]]}


@router.get(
    "/imports/{run_id}",
    response={200: ImportRunOut, **READ_ERRORS},
    operation_id="inventory_imports_get",
)
def inventory_imports_get(request: HttpRequest, run_id: IdParam) -> dict[str, Any]:
    return run_out(selectors.run_get(actor_of(request), run_id))
