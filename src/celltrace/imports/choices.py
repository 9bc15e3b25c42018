"""Enumerations of the inventory import. Never compare against string literals."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    VALIDATING = "validating", _("Validating")
    WRITING = "writing", _("Writing")
    VALID = "valid", _("Valid (checked only)")
    WRITTEN = "written", _("Written")
    FAILED = "failed", _("Failed")


#: Statuses after which nothing more happens to a run.
FINAL_STATUSES = frozenset({ImportStatus.VALID, ImportStatus.WRITTEN, ImportStatus.FAILED})


class EventType:
    """Typed domain events written by the import services."""

    INVENTORY_IMPORTED = "INVENTORY_IMPORTED"
