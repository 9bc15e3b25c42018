"""Enumerations of the metabolism app. Never compare against string literals."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AssayType(models.TextChoices):
    """The Seahorse XF analyses of :mod:`celltrace.assays.metabolism.analysis`."""

    MITO_STRESS = "mito-stress", _("Mito Stress Test")
    ATP_RATE = "atp-rate", _("Real-Time ATP Rate")
    GLYCOLYTIC_RATE = "glycolytic-rate", _("Glycolytic Rate")


class TimePoint(models.TextChoices):
    """When the measured cells were taken, relative to the depositor's history."""

    AT_BANKING = "at_banking", _("At banking")
    LATER_DRAW = "later_draw", _("Later draw")
    BEFORE_INTERVENTION = "before_intervention", _("Before an intervention")
    AFTER_INTERVENTION = "after_intervention", _("After an intervention")


class RunStatus(models.TextChoices):
    ANALYSED = "analysed", _("Analysed")
    ANALYSED_WITH_WARNINGS = "warnings", _("Analysed, with warnings")


#: Order of time points on the profile page when two runs share a date.
TIMEPOINT_ORDER = {tp.value: i for i, tp in enumerate(TimePoint)}


class EventType:
    """Ledger event types written by the metabolism services."""

    RUN_UPLOADED = "METABOLISM_RUN_UPLOADED"
    WELL_EXCLUDED = "METABOLISM_WELL_EXCLUDED"
    WELL_INCLUDED = "METABOLISM_WELL_INCLUDED"
