"""Models of the metabolism app: Seahorse XF runs, excluded wells and the stored results.

A :class:`MetabolismRun` keeps the uploaded Wave export itself (bytes and SHA-256), the optional
normalisation CSV, the settings not found in the file (CCF, P/O ratio), what the file says about
the instrument and its constants, and the results of the last calculation. Results are written
only by :mod:`celltrace.metabolism.services`, which recomputes them from the stored inputs and
the active :class:`WellExclusion` rows whenever either changes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from celltrace.bank.models import Aliquot, Donor
from celltrace.core.models import TenantOwned
from celltrace.metabolism.choices import AssayType, RunStatus, TimePoint


class MetabolismRun(TenantOwned):
    """One Seahorse XF plate analysed as one assay, linked to a depositor's time point.

    ``group_results`` holds one object per analysed group (``group``, ``n``, the mean of each
    parameter, and ``sd``/``sem``/``units`` keyed by parameter: the shape of
    :func:`celltrace.assays.metabolism.analysis.group_rows`); ``well_results`` one object per
    analysed well (values, exclusion, measurement points); ``calculation`` the calculation
    record (parameters with formulas, constants with their cells and sources, injections,
    normalisation, skipped groups, warnings). ``results_sha256`` seals the three together.
    """

    file_name = models.CharField(_("file name"), max_length=255)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64)
    file_data = models.BinaryField(_("Wave export"))
    file_size = models.PositiveIntegerField(_("file size (bytes)"))
    assay = models.CharField(_("assay"), max_length=20, choices=AssayType.choices)
    instrument_family = models.CharField(_("instrument"), max_length=40)
    instrument_serial = models.CharField(_("instrument serial"), max_length=80, blank=True)
    plate_format = models.CharField(_("plate format"), max_length=20)
    wave_version = models.CharField(_("Wave version"), max_length=40)
    wave_assay_name = models.CharField(_("assay name in Wave"), max_length=255, blank=True)
    constants = models.JSONField(_("constants read from the file"), default=list)
    plate_layout = models.JSONField(_("plate layout"), default=dict)

    normalisation_name = models.CharField(_("normalisation file"), max_length=255, blank=True)
    normalisation_sha256 = models.CharField(max_length=64, blank=True)
    normalisation_data = models.BinaryField(_("normalisation CSV"), null=True, blank=True)
    normalisation_unit = models.CharField(_("normalisation unit"), max_length=40, blank=True)
    normalisation_scale = models.DecimalField(
        _("normalisation scale factor"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    ccf = models.DecimalField(
        _("CO2 contribution factor"), max_digits=6, decimal_places=4, null=True, blank=True
    )
    po_ratio = models.DecimalField(
        _("P/O ratio"), max_digits=6, decimal_places=4, null=True, blank=True
    )

    donor = models.ForeignKey(
        Donor,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("donor"),
    )
    aliquot = models.ForeignKey(
        Aliquot,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("aliquot"),
    )
    timepoint = models.CharField(_("time point"), max_length=30, choices=TimePoint.choices)
    timepoint_label = models.CharField(_("time point label"), max_length=100, blank=True)
    sampled_on = models.DateField(_("date of the time point"))

    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=20, choices=RunStatus.choices)
    calculation_version = models.CharField(_("calculation version"), max_length=80)
    group_results = models.JSONField(_("group results"), default=list)
    well_results = models.JSONField(_("well results"), default=list)
    calculation = models.JSONField(_("calculation record"), default=dict)
    results_sha256 = models.CharField(max_length=64)
    computed_at = models.DateTimeField(_("results computed"))

    class Meta:
        ordering = ["-sampled_on", "-pk"]
        indexes = [
            models.Index(fields=["donor", "sampled_on"], name="metabolism_run_donor_date"),
            models.Index(fields=["organisation", "uploaded_at"], name="metabolism_run_org"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ccf__isnull=True) | Q(ccf__gt=0),
                name="metabolism_metabolismrun_ccf_positive",
                violation_error_message="The CO2 contribution factor must be positive.",
            ),
            models.CheckConstraint(
                condition=Q(po_ratio__isnull=True) | Q(po_ratio__gt=0),
                name="metabolism_metabolismrun_po_positive",
                violation_error_message="The P/O ratio must be positive.",
            ),
            models.CheckConstraint(
                condition=Q(assay__in=AssayType.values),
                name="metabolism_metabolismrun_assay_known",
                violation_error_message="Unknown assay.",
            ),
            models.CheckConstraint(
                condition=Q(timepoint__in=TimePoint.values),
                name="metabolism_metabolismrun_timepoint_known",
                violation_error_message="Unknown time point.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.assay}, #{self.pk})"

    def get_absolute_url(self) -> str:
        return reverse("metabolism:run", args=[self.pk])

    @property
    def timepoint_display(self) -> str:
        label = str(self.get_timepoint_display())
        return f"{label}: {self.timepoint_label}" if self.timepoint_label else label

    @property
    def parameters(self) -> list[dict[str, Any]]:
        params: list[dict[str, Any]] = self.calculation.get("parameters", [])
        return params

    @property
    def warnings(self) -> list[str]:
        found: list[str] = self.calculation.get("warnings", [])
        return found


class WellExclusion(TenantOwned):
    """A well left out of a run's group statistics, with who excluded it and why.

    Including the well again does not delete the row: it records who included it, when and
    why (``included_*``), so the run keeps its exclusion history next to the ledger's.
    At most one active (not included again) exclusion exists per run and well.
    """

    run = models.ForeignKey(
        MetabolismRun, on_delete=models.PROTECT, related_name="exclusions", verbose_name=_("run")
    )
    well = models.CharField(_("well"), max_length=4)
    group = models.CharField(_("group"), max_length=200, blank=True)
    reason = models.TextField(_("reason"))
    excluded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    excluded_at = models.DateTimeField(_("excluded"))
    included_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    included_at = models.DateTimeField(_("included again"), null=True, blank=True)
    include_reason = models.TextField(_("reason for including again"), blank=True)

    class Meta:
        ordering = ["run", "well", "excluded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "well"],
                condition=Q(included_at__isnull=True),
                name="metabolism_wellexclusion_one_active",
                violation_error_message="This well is already excluded.",
            ),
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="metabolism_wellexclusion_reason_given",
                violation_error_message="An exclusion needs a reason.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.well}"

    @property
    def is_active(self) -> bool:
        return self.included_at is None
