"""Models of the monitoring app: sensors, readings, excursions and their alarms.

Everything here describes the operator's storage units and probes; nothing names a client's
aliquot. Which aliquots an excursion touched is computed from the storage placements when the
impact report is asked for (:func:`celltrace.monitoring.selectors.excursion_impact`), never
copied here.

Limits are inclusive (USP General Notices 7.10: limits include their end values): a reading
exactly at a unit's alarm limit is within limits. A reading strictly above ``alarm_high_c`` or
strictly below ``alarm_low_c`` opens or extends an excursion.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from celltrace.audit.choices import SignatureMeaning
from celltrace.monitoring.choices import ExcursionKind, ReadingSource
from celltrace.storage.models import StorageUnit

_OPERATOR_OWNED = "monitoring of the operator's storage units; holds no client data"


class UnitMonitoring(models.Model):
    """Monitoring settings of one storage unit, next to its alarm limits.

    The alarm limits themselves are the unit's (``alarm_low_c``/``alarm_high_c``); this adds a
    warning band inside them and after how many missed intervals a sensor counts as silent.
    """

    TENANCY_GLOBAL = _OPERATOR_OWNED

    unit = models.OneToOneField(
        StorageUnit, on_delete=models.PROTECT, related_name="monitoring", verbose_name=_("unit")
    )
    warning_band_c = models.DecimalField(
        _("warning band (°C)"), max_digits=5, decimal_places=1, default=Decimal("5.0")
    )
    silent_after_intervals = models.PositiveSmallIntegerField(
        _("silent after missed intervals"), default=3
    )

    class Meta:
        verbose_name = _("unit monitoring settings")
        verbose_name_plural = _("unit monitoring settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(warning_band_c__gte=0),
                name="monitoring_unitmonitoring_band_not_negative",
                violation_error_message="The warning band cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(silent_after_intervals__gte=1),
                name="monitoring_unitmonitoring_silent_after_positive",
                violation_error_message="A sensor is silent after at least one missed interval.",
            ),
        ]

    def __str__(self) -> str:
        return f"monitoring of {self.unit_id}"


#: Defaults for units without a :class:`UnitMonitoring` row.
DEFAULT_WARNING_BAND_C = Decimal("5.0")
DEFAULT_SILENT_AFTER_INTERVALS = 3


class Sensor(models.Model):
    """A calibrated temperature probe in a storage unit, reporting every ``interval_s``."""

    TENANCY_GLOBAL = _OPERATOR_OWNED

    unit = models.ForeignKey(
        StorageUnit,
        on_delete=models.PROTECT,
        related_name="monitoring_sensors",
        verbose_name=_("unit"),
    )
    probe_id = models.CharField(_("probe ID"), max_length=60, unique=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    calibration_due = models.DateField(_("calibration due"))
    interval_s = models.PositiveIntegerField(_("reporting interval (s)"), default=300)
    is_active = models.BooleanField(_("active"), default=True)
    last_reading_at = models.DateTimeField(_("last reading"), null=True, blank=True)
    last_temperature_c = models.DecimalField(
        _("last temperature (°C)"), max_digits=6, decimal_places=3, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("sensor")
        verbose_name_plural = _("sensors")
        ordering = ["unit_id", "probe_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(interval_s__gte=1),
                name="monitoring_sensor_interval_positive",
                violation_error_message="The reporting interval must be at least one second.",
            )
        ]

    def __str__(self) -> str:
        return self.probe_id


class ReadingBatch(models.Model):
    """One ingested batch of readings (API call, CSV file or demo chunk) and its digest."""

    TENANCY_GLOBAL = _OPERATOR_OWNED

    received_at = models.DateTimeField(_("received"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    source = models.CharField(_("source"), max_length=10, choices=ReadingSource.choices)
    filename = models.CharField(_("file name"), max_length=200, blank=True)
    rows = models.PositiveIntegerField(_("rows"))
    digest = models.CharField(_("SHA-256 of the rows"), max_length=64)
    ledger_seq = models.BigIntegerField(_("ledger entry"), null=True, blank=True)

    class Meta:
        verbose_name = _("reading batch")
        verbose_name_plural = _("reading batches")
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.rows} rows)"


class Reading(models.Model):
    """One temperature measured by a sensor at a UTC instant. Millions of rows.

    The unique (sensor, measured_at) index is also the index of every time-range query, which
    always names the sensors of a unit.
    """

    TENANCY_GLOBAL = _OPERATOR_OWNED

    id = models.BigAutoField(primary_key=True)
    sensor = models.ForeignKey(Sensor, on_delete=models.PROTECT, related_name="readings")
    measured_at = models.DateTimeField(_("measured (UTC)"))
    temperature_c = models.DecimalField(_("temperature (°C)"), max_digits=6, decimal_places=3)
    batch = models.ForeignKey(
        ReadingBatch, on_delete=models.PROTECT, related_name="readings", db_index=False
    )

    class Meta:
        verbose_name = _("reading")
        verbose_name_plural = _("readings")
        ordering = ["sensor_id", "measured_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sensor", "measured_at"],
                name="monitoring_reading_unique_time",
                violation_error_message="This sensor already has a reading at this time.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.sensor_id}@{self.measured_at:%Y-%m-%dT%H:%M:%SZ} {self.temperature_c}"


class Excursion(models.Model):
    """A period during which a sensor read outside its unit's limits, or reported nothing.

    ``started_at`` is the first reading outside the limits (for a silent sensor: its last
    reading, or its creation when it never reported); ``ended_at`` the first reading back
    within limits (for a silent sensor: its next reading); null while open. ``peak_c`` is the
    highest (above) or lowest (below) temperature read during it.
    """

    TENANCY_GLOBAL = (
        "an event of an operator storage unit; the affected aliquots are computed from "
        "placements with tenant scoping, never stored here"
    )

    unit = models.ForeignKey(
        StorageUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit")
    )
    sensor = models.ForeignKey(Sensor, on_delete=models.PROTECT, related_name="excursions")
    kind = models.CharField(_("kind"), max_length=10, choices=ExcursionKind.choices)
    started_at = models.DateTimeField(_("start (UTC)"))
    ended_at = models.DateTimeField(_("end (UTC)"), null=True, blank=True)
    duration_s = models.PositiveBigIntegerField(_("duration (s)"), null=True, blank=True)
    limit_c = models.DecimalField(
        _("limit crossed (°C)"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    peak_c = models.DecimalField(
        _("peak (°C)"), max_digits=6, decimal_places=3, null=True, blank=True
    )
    peak_at = models.DateTimeField(_("peak at (UTC)"), null=True, blank=True)
    readings_outside = models.PositiveIntegerField(_("readings outside limits"), default=0)

    class Meta:
        verbose_name = _("excursion")
        verbose_name_plural = _("excursions")
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="monitoring_excursion_ends_after_start",
                violation_error_message="An excursion cannot end before it started.",
            ),
            models.UniqueConstraint(
                fields=["sensor"],
                condition=Q(ended_at__isnull=True, kind__in=["above", "below"]),
                name="monitoring_excursion_one_open_temperature",
                violation_error_message="This sensor already has an open temperature excursion.",
            ),
            models.UniqueConstraint(
                fields=["sensor"],
                condition=Q(ended_at__isnull=True, kind="silent"),
                name="monitoring_excursion_one_open_silent",
                violation_error_message="This sensor is already marked silent.",
            ),
        ]
        indexes = [models.Index(fields=["unit", "started_at"], name="monitoring_exc_unit_start")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.started_at:%Y-%m-%d %H:%M} UTC"

    def get_absolute_url(self) -> str:
        return reverse("monitoring:excursion", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def duration(self, now: dt.datetime | None = None) -> dt.timedelta:
        """Closed: end − start. Open: so far (until ``now``)."""
        end = self.ended_at or now or dt.datetime.now(dt.UTC)
        return max(end - self.started_at, dt.timedelta(0))


class Alarm(models.Model):
    """The alarm an excursion (or a silent sensor) raises; acknowledged by e-signature.

    Before signing, the person acknowledging writes ``comment`` (required); the signature with
    meaning *acknowledged* binds it. The signed content leaves out what keeps changing while
    an excursion is open (end, peak), so that acknowledging an open excursion stays valid.
    """

    TENANCY_GLOBAL = _OPERATOR_OWNED
    SIGNATURE_MEANINGS = (SignatureMeaning.ACKNOWLEDGED,)

    excursion = models.OneToOneField(Excursion, on_delete=models.PROTECT, related_name="alarm")
    raised_at = models.DateTimeField(_("raised (UTC)"))
    comment = models.TextField(_("acknowledgement comment"), blank=True)

    class Meta:
        verbose_name = _("alarm")
        verbose_name_plural = _("alarms")
        ordering = ["-raised_at", "-pk"]

    def __str__(self) -> str:
        return gettext("Alarm %(number)s") % {"number": self.pk}

    def get_absolute_url(self) -> str:
        return reverse("monitoring:excursion", args=[self.excursion_id])

    def signature_content(self) -> dict[str, Any]:
        exc = self.excursion
        return {
            "alarm_id": self.pk,
            "raised_at": self.raised_at,
            "excursion_id": exc.pk,
            "kind": exc.kind,
            "unit_id": exc.unit_id,
            "sensor_id": exc.sensor_id,
            "started_at": exc.started_at,
            "limit_c": exc.limit_c,
            "comment": self.comment,
        }
