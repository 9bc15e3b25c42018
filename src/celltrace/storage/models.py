"""Models of the storage app: site > storage unit > rack > box > position, and placements.

The hierarchy belongs to the operator (the lab runs the tanks); the aliquots placed in it
belong to clients. A client never sees the hierarchy, only that its aliquot is stored.
Two partial unique constraints guard the placements (docs/design/reliability.md §1.1): a
position holds at most one aliquot, an aliquot is in at most one position.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from celltrace.core.models import TenantOwned
from celltrace.storage.choices import BoxKind, FillOrder, UnitKind

_OPERATOR_OWNED = "storage infrastructure run by the operator; holds no client data"

#: Box types have at most 26 rows, labelled A to Z.
MAX_ROWS = 26
MAX_COLUMNS = 50


def position_label(row: int, col: int) -> str:
    """``(1, 1)`` → ``"A1"``; ``(2, 10)`` → ``"B10"``."""
    return f"{chr(ord('A') + row - 1)}{col}"


def parse_position_label(label: str) -> tuple[int, int] | None:
    """``"b10"`` → ``(2, 10)``; None if it is not a position label."""
    text = label.strip().upper()
    if len(text) < 2 or not ("A" <= text[0] <= "Z") or not text[1:].isdigit():
        return None
    return ord(text[0]) - ord("A") + 1, int(text[1:])


class Site(models.Model):
    """A building or campus holding storage units."""

    TENANCY_GLOBAL = _OPERATOR_OWNED

    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StorageUnit(models.Model):
    """An LN2 tank or a freezer, with its set point and alarm limits (°C)."""

    TENANCY_GLOBAL = _OPERATOR_OWNED

    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="units", verbose_name=_("site")
    )
    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=UnitKind.choices)
    set_point_c = models.DecimalField(_("set point (°C)"), max_digits=6, decimal_places=1)
    alarm_low_c = models.DecimalField(_("low alarm (°C)"), max_digits=6, decimal_places=1)
    alarm_high_c = models.DecimalField(_("high alarm (°C)"), max_digits=6, decimal_places=1)
    fill_order = models.CharField(
        _("fill order"), max_length=20, choices=FillOrder.choices, default=FillOrder.ROW_MAJOR
    )
    is_active = models.BooleanField(_("in service"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("storage unit")
        verbose_name_plural = _("storage units")
        ordering = ["site__name", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(alarm_low_c__lte=models.F("set_point_c"))
                & Q(set_point_c__lte=models.F("alarm_high_c")),
                name="storage_storageunit_set_point_within_alarm_limits",
                violation_error_message=_("The set point must lie between the alarm limits."),
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("storage:unit", args=[self.pk])


class Rack(models.Model):
    """A rack (freezer) or canister (tank) inside a storage unit."""

    TENANCY_GLOBAL = _OPERATOR_OWNED

    unit = models.ForeignKey(
        StorageUnit, on_delete=models.PROTECT, related_name="racks", verbose_name=_("unit")
    )
    name = models.CharField(_("name"), max_length=100)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("rack")
        verbose_name_plural = _("racks")
        ordering = ["unit_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "name"],
                name="storage_rack_unique_name_per_unit",
                violation_error_message=_("There is already a rack of this name in the unit."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.unit} / {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("storage:rack", args=[self.pk])


class BoxType(models.Model):
    """A box geometry: rows × columns of positions (9×9, 10×10, a bag rack of 1 × N)."""

    TENANCY_GLOBAL = _OPERATOR_OWNED

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=BoxKind.choices)
    rows = models.PositiveSmallIntegerField(_("rows"))
    columns = models.PositiveSmallIntegerField(_("columns"))

    class Meta:
        verbose_name = _("box type")
        verbose_name_plural = _("box types")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rows__gte=1, rows__lte=MAX_ROWS),
                name="storage_boxtype_rows_in_range",
                violation_error_message=_("A box has 1 to 26 rows (A to Z)."),
            ),
            models.CheckConstraint(
                condition=Q(columns__gte=1, columns__lte=MAX_COLUMNS),
                name="storage_boxtype_columns_in_range",
                violation_error_message=_("A box has 1 to 50 columns."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def capacity(self) -> int:
        return self.rows * self.columns


class Box(models.Model):
    """A box (or bag rack) in a rack; its positions are generated from its type."""

    TENANCY_GLOBAL = _OPERATOR_OWNED

    rack = models.ForeignKey(
        Rack, on_delete=models.PROTECT, related_name="boxes", verbose_name=_("rack")
    )
    box_type = models.ForeignKey(
        BoxType, on_delete=models.PROTECT, related_name="boxes", verbose_name=_("box type")
    )
    name = models.CharField(_("name"), max_length=100)
    barcode = models.CharField(_("barcode"), max_length=40, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("box")
        verbose_name_plural = _("boxes")
        ordering = ["rack_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["rack", "name"],
                name="storage_box_unique_name_per_rack",
                violation_error_message=_("There is already a box of this name in the rack."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.barcode})"

    def get_absolute_url(self) -> str:
        return reverse("storage:box", args=[self.pk])


class Position(models.Model):
    """One cell of a box, generated from the box type (row and column from 1)."""

    TENANCY_GLOBAL = _OPERATOR_OWNED

    box = models.ForeignKey(Box, on_delete=models.PROTECT, related_name="positions")
    row = models.PositiveSmallIntegerField(_("row"))
    col = models.PositiveSmallIntegerField(_("column"))
    label = models.CharField(_("position"), max_length=4)

    class Meta:
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        ordering = ["box_id", "row", "col"]
        constraints = [
            models.UniqueConstraint(
                fields=["box", "row", "col"],
                name="storage_position_unique_cell",
                violation_error_message=_(
                    "This box already has a position at this row and column."
                ),
            ),
            models.UniqueConstraint(
                fields=["box", "label"],
                name="storage_position_unique_label",
                violation_error_message=_("This box already has a position with this label."),
            ),
            models.CheckConstraint(
                condition=Q(row__gte=1),
                name="storage_position_row_positive",
                violation_error_message=_("Rows are numbered from 1."),
            ),
            models.CheckConstraint(
                condition=Q(col__gte=1),
                name="storage_position_col_positive",
                violation_error_message=_("Columns are numbered from 1."),
            ),
        ]

    def __str__(self) -> str:
        return self.label


class Placement(TenantOwned):
    """An aliquot in a position from ``placed_at`` until ``removed_at`` (open while stored).

    ``organisation`` is the aliquot's, so a client's placements can be scoped like its
    aliquots.
    """

    # No index of its own: "storage_placement_hist" (aliquot, placed_at) leads with it.
    aliquot = models.ForeignKey(
        "bank.Aliquot", on_delete=models.PROTECT, related_name="placements", db_index=False
    )
    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="placements")
    placed_at = models.DateTimeField(_("placed"))
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)
    # Who placed and removed it: read with the placement, never searched by, so not indexed
    # (users are deactivated, not deleted).
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        verbose_name = _("placement")
        verbose_name_plural = _("placements")
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["position"],
                condition=Q(removed_at__isnull=True),
                name="storage_placement_one_active_per_position",
                violation_error_message=_("This position is already occupied."),
            ),
            models.UniqueConstraint(
                fields=["aliquot"],
                condition=Q(removed_at__isnull=True),
                name="storage_placement_one_active_per_aliquot",
                violation_error_message=_("This aliquot is already stored elsewhere."),
            ),
            models.CheckConstraint(
                condition=Q(removed_at__isnull=True) | Q(removed_at__gte=models.F("placed_at")),
                name="storage_placement_removed_after_placed",
                violation_error_message=_("An aliquot cannot be removed before it was placed."),
            ),
        ]
        indexes = [models.Index(fields=["aliquot", "placed_at"], name="storage_placement_hist")]

    def __str__(self) -> str:
        return f"{self.aliquot_id} @ {self.position_id}"
