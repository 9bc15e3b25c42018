"""Enumerations of the storage app. Never compare against string literals."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class UnitKind(models.TextChoices):
    LN2_VAPOUR = "ln2_vapour", _("LN2 vapour-phase tank")
    LN2_LIQUID = "ln2_liquid", _("LN2 liquid-phase tank")
    FREEZER_80 = "freezer_minus80", _("-80 °C freezer")


class FillOrder(models.TextChoices):
    """The order in which free positions of a box are handed out."""

    ROW_MAJOR = "row_major", _("Row by row (A1, A2, … B1)")
    COLUMN_MAJOR = "column_major", _("Column by column (A1, B1, … A2)")


class BoxKind(models.TextChoices):
    VIAL_BOX = "vial_box", _("Cryovial box")
    BAG_RACK = "bag_rack", _("Bag rack")


class EventType:
    """Typed domain events written by the storage services."""

    SITE_CREATED = "SITE_CREATED"
    STORAGE_UNIT_CREATED = "STORAGE_UNIT_CREATED"
    RACK_CREATED = "RACK_CREATED"
    BOX_TYPE_CREATED = "BOX_TYPE_CREATED"
    BOX_CREATED = "BOX_CREATED"
    BOX_MOVED = "BOX_MOVED"
    RACK_MOVED = "RACK_MOVED"
    ALIQUOT_PLACED = "ALIQUOT_PLACED"
    ALIQUOT_MOVED = "ALIQUOT_MOVED"
    ALIQUOT_RETRIEVED = "ALIQUOT_RETRIEVED"
    ALIQUOT_RETURNED = "ALIQUOT_RETURNED"
