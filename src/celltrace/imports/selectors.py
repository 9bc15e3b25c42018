"""Reads of the inventory import. Only the operator's bank staff see import runs."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from celltrace.bank.services import require_bank_role
from celltrace.core.errors import NotFound
from celltrace.core.models import User
from celltrace.imports import services
from celltrace.imports.choices import ImportStatus
from celltrace.imports.models import ImportRun


def _require_staff(actor: User) -> None:
    """Client users do not learn that imports exist (404); other staff are refused (403)."""
    if not actor.is_operator_staff:
        raise NotFound(_("Not found."))
    require_bank_role(actor)


def runs_visible(actor: User) -> QuerySet[ImportRun]:
    _require_staff(actor)
    return ImportRun.objects.select_related("organisation", "created_by").order_by(
        "-created_at", "-pk"
    )


def run_get(actor: User, pk: int) -> ImportRun:
    run = runs_visible(actor).filter(pk=pk).first()
    if run is None:
        raise NotFound(_("No such import."))
    return run


@dataclass(frozen=True)
class Progress:
    phase: str
    done: int
    total: int

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


def progress_of(run: ImportRun) -> Progress:
    """Where a run stands: the check counts bytes (CSV) or rows (XLSX), the write rows."""
    if run.status in (ImportStatus.VALIDATING, ImportStatus.WRITING):
        phase, done, total = services.read_progress(run)
        return Progress(phase or "check", done, total)
    if run.is_finished:
        return Progress("done", 1, 1)
    return Progress("queued", 0, 0)


def example_storage_path() -> str:
    """The ``storage_path`` of one box of this installation (SITE/UNIT/RACK/BOX: codes for the
    site and unit, names for the rack and box), to show what the column expects; "" if none."""
    from celltrace.storage.models import Box

    box = (
        Box.objects.select_related("rack__unit__site")
        .filter(rack__unit__is_active=True)
        .order_by("pk")
        .first()
    )
    if box is None:
        return ""
    unit = box.rack.unit
    return f"{unit.site.code}/{unit.code}/{box.rack.name}/{box.name}"
