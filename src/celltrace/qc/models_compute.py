"""Models of computed QC results: the sterility media in incubation and their daily readings.

A sterility test is read day by day while it incubates; the readings are kept on the test (never
edited) and the result is computed from them once the incubation is complete or growth is seen
(:func:`celltrace.qc.calculators.sterility_from_readings`). Writes go through
:mod:`celltrace.qc.services_compute` only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from celltrace.core.models import TenantOwned


class SterilityIncubation(TenantOwned):
    """One medium (FTM or SCDM) of a sterility test, inoculated at ``started_at`` and incubated
    for ``days`` days."""

    test = models.ForeignKey("qc.Test", on_delete=models.PROTECT, related_name="incubations")
    medium = models.CharField(_("medium"), max_length=10)
    started_at = models.DateTimeField(_("inoculated"))
    days = models.PositiveSmallIntegerField(_("incubation (days)"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("recorded"))

    class Meta:
        verbose_name = _("sterility incubation")
        verbose_name_plural = _("sterility incubations")
        ordering = ["test_id", "medium"]
        constraints = [
            models.UniqueConstraint(
                fields=["test", "medium"],
                name="qc_sterilityincubation_one_per_medium",
                violation_error_message="This medium is already incubating for the test.",
            ),
            models.CheckConstraint(
                condition=Q(days__gte=1),
                name="qc_sterilityincubation_days_positive",
                violation_error_message="An incubation lasts at least one day.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.test} · {self.medium}"


class SterilityReading(TenantOwned):
    """A reading of one incubated medium: growth (turbidity) or not, when it was read."""

    incubation = models.ForeignKey(
        SterilityIncubation, on_delete=models.PROTECT, related_name="readings"
    )
    observed_at = models.DateTimeField(_("read at"))
    growth = models.BooleanField(_("growth"))
    note = models.CharField(_("note"), max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded"))

    class Meta:
        verbose_name = _("sterility reading")
        verbose_name_plural = _("sterility readings")
        ordering = ["incubation_id", "observed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.incubation} · {self.observed_at:%Y-%m-%d}"
