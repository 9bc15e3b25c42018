"""Models of the inventory import: one :class:`ImportRun` per file submitted."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from celltrace.core.models import TenantOwned
from celltrace.imports.choices import FINAL_STATUSES, ImportStatus


class ImportRun(TenantOwned):
    """One inventory file submitted for import into an organisation's bank records.

    Records who submitted which file (name, size, SHA-256; the file itself is kept under the
    data directory), its progress while it is checked and written, the problems found (the
    first :data:`celltrace.imports.inventory.MAX_ERRORS`, each with row, column, value and
    rule) and, once written, the counts and the bank batch and ledger entry that wrote it.
    A run that fails leaves no trace in the bank, the storage or the ledger.
    """

    created_at = models.DateTimeField(_("submitted"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    file_name = models.CharField(_("file name"), max_length=255)
    file_format = models.CharField(_("format"), max_length=4)
    file_size = models.BigIntegerField(_("size (bytes)"), default=0)
    file_sha256 = models.CharField(_("SHA-256"), max_length=64)
    stored_path = models.CharField(max_length=500, blank=True)
    reason = models.TextField(_("reason"))
    dry_run = models.BooleanField(_("check only"), default=False)
    status = models.CharField(
        _("status"), max_length=20, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    bytes_done = models.BigIntegerField(default=0)
    rows_read = models.PositiveBigIntegerField(_("rows read"), default=0)
    rows_written = models.PositiveBigIntegerField(_("rows written"), default=0)
    error_count = models.PositiveBigIntegerField(_("problems"), default=0)
    errors = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    batch = models.ForeignKey(
        "bank.BankBatch", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ledger_seq = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(_("last progress"), auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values),
                name="imports_importrun_status_known",
                violation_error_message="Unknown import status.",
            ),
            models.CheckConstraint(
                condition=Q(file_format__in=["csv", "xlsx"]),
                name="imports_importrun_format_known",
                violation_error_message="An inventory is a CSV or XLSX file.",
            ),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.file_name})"

    def get_absolute_url(self) -> str:
        return reverse("imports:run", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in FINAL_STATUSES
