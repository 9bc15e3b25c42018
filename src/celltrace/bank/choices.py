"""Enumerations of the bank app. Never compare against string literals."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CollectionType(models.TextChoices):
    PERIPHERAL_BLOOD = "peripheral_blood", _("Peripheral blood")
    APHERESIS = "apheresis", _("Apheresis")
    CORD_BLOOD = "cord_blood", _("Cord blood")
    TISSUE = "tissue", _("Tissue")


class ProductType(models.TextChoices):
    PBMC = "pbmc", _("PBMC")
    T_CELLS = "t_cells", _("T cells")
    NK_CELLS = "nk_cells", _("NK cells")
    MSC = "msc", _("MSC")
    CD34 = "cd34", _("CD34+ cells")
    OTHER = "other", _("Other")


class ContainerType(models.TextChoices):
    CRYOVIAL_1_8 = "cryovial_1_8ml", _("Cryovial 1.8 mL")
    CRYOVIAL_5 = "cryovial_5ml", _("Cryovial 5 mL")
    CRYOBAG = "cryobag", _("Cryobag")


class AliquotStatus(models.TextChoices):
    QUARANTINE = "quarantine", _("Quarantine")
    AVAILABLE = "available", _("Available")
    RESERVED = "reserved", _("Reserved")
    ISSUED = "issued", _("Issued")
    THAWED = "thawed", _("Thawed")
    DISCARDED = "discarded", _("Discarded")


#: The status life cycle: from -> the statuses it may move to. Anything else is refused.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    AliquotStatus.QUARANTINE: frozenset({AliquotStatus.AVAILABLE, AliquotStatus.DISCARDED}),
    AliquotStatus.AVAILABLE: frozenset(
        {
            AliquotStatus.QUARANTINE,
            AliquotStatus.RESERVED,
            AliquotStatus.ISSUED,
            AliquotStatus.THAWED,
            AliquotStatus.DISCARDED,
        }
    ),
    AliquotStatus.RESERVED: frozenset(
        {AliquotStatus.AVAILABLE, AliquotStatus.ISSUED, AliquotStatus.DISCARDED}
    ),
    AliquotStatus.ISSUED: frozenset(),
    AliquotStatus.THAWED: frozenset({AliquotStatus.DISCARDED}),
    AliquotStatus.DISCARDED: frozenset(),
}

#: Statuses of an aliquot that is physically in the bank (may hold a storage position).
IN_STOCK_STATUSES = frozenset(
    {AliquotStatus.QUARANTINE, AliquotStatus.AVAILABLE, AliquotStatus.RESERVED}
)
#: Statuses that take an aliquot out of the bank: its placement ends with the change.
LEAVING_STATUSES = frozenset({AliquotStatus.ISSUED, AliquotStatus.THAWED, AliquotStatus.DISCARDED})


class Use(models.TextChoices):
    """What an issued aliquot is for; checked against the donor's consent."""

    CLINICAL = "clinical", _("Clinical use")
    RESEARCH = "research", _("Research use")


class EventType:
    """Typed domain events written by the bank services."""

    DONOR_CREATED = "DONOR_CREATED"
    DONOR_REVEALED = "DONOR_REVEALED"
    CONSENT_RECORDED = "CONSENT_RECORDED"
    CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
    COLLECTION_CREATED = "COLLECTION_CREATED"
    PRODUCT_CREATED = "PRODUCT_CREATED"
    ALIQUOT_CREATED = "ALIQUOT_CREATED"
    ALIQUOT_STATUS_CHANGED = "ALIQUOT_STATUS_CHANGED"
    ALIQUOTS_PRINTED = "ALIQUOTS_PRINTED"
    BANK_BATCH_CREATED = "BANK_BATCH_CREATED"
    COLLECTION_PROCESSED = "COLLECTION_PROCESSED"
    DISTRIBUTION_CREATED = "DISTRIBUTION_CREATED"
    DISTRIBUTION_CANCELLED = "DISTRIBUTION_CANCELLED"
    DISTRIBUTION_RELEASED = "DISTRIBUTION_RELEASED"
    #: One per aliquot when a signed distribution hands it over (chain of custody).
    ALIQUOT_DISPATCHED = "ALIQUOT_DISPATCHED"


class DistributionStatus(models.TextChoices):
    """A distribution is drafted by the bank, then released by QA's signature (or cancelled)."""

    DRAFT = "draft", _("Draft (awaiting QA release)")
    RELEASED = "released", _("Released and dispatched")
    CANCELLED = "cancelled", _("Cancelled")


class ShippingCondition(models.TextChoices):
    LN2_DRY_SHIPPER = "ln2_dry_shipper", _("LN2 dry shipper (≤ -150 °C)")
    DRY_ICE = "dry_ice", _("Dry ice (≤ -70 °C)")
    REFRIGERATED = "refrigerated", _("Refrigerated (2–8 °C)")
    AMBIENT = "ambient", _("Ambient (15–25 °C)")
