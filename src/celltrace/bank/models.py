"""Models of the bank app: donors, consents, collections, products and aliquots.

Every row here belongs to one organisation (:class:`~celltrace.core.models.TenantOwned`): the
bank client who deposited the material, or the operator itself. Donors' personal data is
encrypted at rest (:mod:`celltrace.bank.crypto`); only masked forms are shown.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from celltrace.bank import crypto
from celltrace.bank.choices import (
    AliquotStatus,
    CollectionType,
    ContainerType,
    DistributionStatus,
    ProductType,
    ShippingCondition,
    Use,
)
from celltrace.bank.isbt128 import Din, ProductCode, check_character, format_din
from celltrace.core.models import Organisation, TenantOwned

#: The encrypted personal-data fields of a donor: model field → associated-data purpose.
DONOR_PERSONAL_FIELDS = {
    "name": "bank.donor.name",
    "national_id": "bank.donor.national_id",
    "phone": "bank.donor.phone",
    "date_of_birth": "bank.donor.date_of_birth",
}


class Donor(TenantOwned):
    """A donor or depositor, known by a pseudonymous reference.

    Name, national ID number, phone and date of birth are stored only encrypted (``*_enc``,
    AES-256-GCM bound to the column); pages and the API show :attr:`masked`; the plain values
    are revealed only through ``donor_reveal``, which records who asked and why.
    """

    reference = models.CharField(_("reference"), max_length=40)
    name_enc = models.TextField(blank=True, editable=False)
    national_id_enc = models.TextField(blank=True, editable=False)
    phone_enc = models.TextField(blank=True, editable=False)
    date_of_birth_enc = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("donor")
        verbose_name_plural = _("donors")
        ordering = ["reference"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "reference"],
                name="bank_donor_unique_reference_per_organisation",
                violation_error_message="This donor reference is already used.",
            )
        ]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse("bank:donor", args=[self.pk])

    def personal(self, field: str) -> str:
        """The decrypted value of one personal field (callers: services and masking only)."""
        return crypto.decrypt(getattr(self, f"{field}_enc"), purpose=DONOR_PERSONAL_FIELDS[field])

    @property
    def masked(self) -> dict[str, str]:
        return {
            "name": crypto.mask_name(self.personal("name")),
            "national_id": crypto.mask_tail(self.personal("national_id")),
            "phone": crypto.mask_tail(self.personal("phone")),
            "date_of_birth": crypto.mask_date(self.personal("date_of_birth")),
        }


class Consent(TenantOwned):
    """A donor's signed consent: which uses it covers, its version, and any withdrawal."""

    donor = models.ForeignKey(
        Donor, on_delete=models.PROTECT, related_name="consents", verbose_name=_("donor")
    )
    version = models.CharField(_("consent form version"), max_length=20)
    signed_on = models.DateField(_("signed on"))
    scope_storage = models.BooleanField(_("storage"), default=True)
    scope_clinical = models.BooleanField(_("clinical use"), default=False)
    scope_research = models.BooleanField(_("research use"), default=False)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-signed_on", "-pk"]
        indexes = [models.Index(fields=["donor", "withdrawn_at"], name="bank_consent_donor")]

    def __str__(self) -> str:
        return f"{self.donor_id} v{self.version} {self.signed_on}"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None

    def covers(self, use: str) -> bool:
        if not self.is_active:
            return False
        if use == Use.CLINICAL:
            return self.scope_clinical
        if use == Use.RESEARCH:
            return self.scope_research
        return self.scope_storage


class DinSequence(models.Model):
    """The last DIN sequence number issued for one facility FIN and nominal year."""

    TENANCY_GLOBAL = "counters of the operator's own facility identification number"

    fin = models.CharField(max_length=5)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("DIN sequence")
        verbose_name_plural = _("DIN sequences")
        constraints = [
            models.UniqueConstraint(
                fields=["fin", "year"],
                name="bank_dinsequence_unique_fin_year",
                violation_error_message="There is already a counter for this FIN and year.",
            ),
            models.CheckConstraint(
                condition=Q(last__lte=999_999),
                name="bank_dinsequence_last_in_range",
                violation_error_message="The DIN sequence numbers of this year are used up.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fin}/{self.year:02d}: {self.last}"


class BankBatch(TenantOwned):
    """One bulk creation (demo data, an inventory import): one ledger entry covers its rows."""

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_by_name = models.CharField(max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=200)
    reason = models.TextField(_("reason"), blank=True)
    ledger_seq = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("bank batch")
        verbose_name_plural = _("bank batches")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.source})"


class Collection(TenantOwned):
    """A collection event from a donor, identified by its ISBT 128 DIN."""

    donor = models.ForeignKey(
        Donor, on_delete=models.PROTECT, related_name="collections", verbose_name=_("donor")
    )
    din = models.CharField(_("DIN"), max_length=13)
    collection_type = models.CharField(
        _("collection type"), max_length=20, choices=CollectionType.choices
    )
    collected_at = models.DateTimeField(_("collected (UTC)"))
    volume_ml = models.DecimalField(_("volume (mL)"), max_digits=10, decimal_places=2)
    collection_site = models.CharField(_("collection site"), max_length=200, blank=True)
    sprec_code = models.CharField(_("SPREC code"), max_length=17, blank=True)
    sprec_version = models.CharField(_("SPREC version"), max_length=3, default="3.0")
    batch = models.ForeignKey(
        BankBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="collections"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("collection")
        verbose_name_plural = _("collections")
        ordering = ["-collected_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["din"],
                name="bank_collection_unique_din",
                violation_error_message="This DIN is already assigned to a collection.",
            ),
            models.CheckConstraint(
                condition=Q(volume_ml__gte=0),
                name="bank_collection_volume_non_negative",
                violation_error_message="The volume cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return self.din

    @property
    def check_character(self) -> str:
        return check_character(self.din)

    @property
    def din_display(self) -> str:
        return format_din(self.din).text


class Product(TenantOwned):
    """What a collection was processed into (PBMC, T cells …) with its ISBT 128 PDC."""

    collection = models.ForeignKey(
        Collection, on_delete=models.PROTECT, related_name="products", verbose_name=_("collection")
    )
    product_type = models.CharField(_("product type"), max_length=20, choices=ProductType.choices)
    pdc = models.CharField(_("product description code"), max_length=5)
    isbt_collection_type = models.CharField(_("ISBT 128 collection type"), max_length=1)
    processed_at = models.DateTimeField(_("processed (UTC)"), null=True, blank=True)
    batch = models.ForeignKey(
        BankBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="products"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.collection_id}: {self.get_product_type_display()} {self.pdc}"


class Aliquot(TenantOwned):
    """One container (cryovial or bag) of a product, identified by DIN + product code + division.

    ``din``, ``pdc`` and ``isbt_collection_type`` are copied from the collection and product so
    that a scanned identity is found with one index lookup. ``parent`` links a container
    divided from another (genealogy). The status changes only through ``aliquot_set_status``
    along :data:`celltrace.bank.choices.ALLOWED_TRANSITIONS`.
    """

    # Neither foreign key below has an index of its own: (organisation, barcode) and
    # (organisation, status) lead with the organisation, (product, division) with the product.
    # One index fewer per row is a large part of a million-row import's time.
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organisation"),
        db_index=False,
    )
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        related_name="aliquots",
        verbose_name=_("product"),
        db_index=False,
    )
    din = models.CharField(_("DIN"), max_length=13)
    pdc = models.CharField(_("product description code"), max_length=5)
    isbt_collection_type = models.CharField(_("ISBT 128 collection type"), max_length=1)
    division = models.CharField(_("division"), max_length=2, default="00")
    barcode = models.CharField(_("barcode"), max_length=40)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent aliquot"),
    )
    container_type = models.CharField(_("container"), max_length=20, choices=ContainerType.choices)
    volume_ul = models.DecimalField(_("volume (µL)"), max_digits=10, decimal_places=1)
    cell_count = models.PositiveBigIntegerField(_("cell count"), null=True, blank=True)
    viability_pct = models.DecimalField(
        _("viability (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    expiry = models.DateTimeField(_("expiry (UTC)"), null=True, blank=True)
    thaw_count = models.PositiveIntegerField(_("thaw count"), default=0)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=AliquotStatus.choices,
        default=AliquotStatus.QUARANTINE,
    )
    batch = models.ForeignKey(
        BankBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="aliquots"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("aliquot")
        verbose_name_plural = _("aliquots")
        ordering = ["din", "pdc", "division"]
        constraints = [
            models.UniqueConstraint(
                fields=["din", "pdc", "division"],
                name="bank_aliquot_unique_identity",
                violation_error_message="An aliquot with this DIN, product code and division "
                "already exists.",
            ),
            models.UniqueConstraint(
                fields=["organisation", "barcode"],
                name="bank_aliquot_unique_barcode_per_organisation",
                violation_error_message="This barcode is already used.",
            ),
            models.CheckConstraint(
                condition=Q(volume_ul__gte=0),
                name="bank_aliquot_volume_non_negative",
                violation_error_message="The volume cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(viability_pct__isnull=True)
                | Q(viability_pct__gte=0, viability_pct__lte=100),
                name="bank_aliquot_viability_in_range",
                violation_error_message="Viability is a percentage between 0 and 100.",
            ),
            models.CheckConstraint(
                condition=Q(thaw_count__gte=0),
                name="bank_aliquot_thaw_count_non_negative",
                violation_error_message="The thaw count cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=AliquotStatus.values),
                name="bank_aliquot_status_known",
                violation_error_message="Unknown aliquot status.",
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "status"], name="bank_aliquot_org_status"),
            models.Index(fields=["barcode"], name="bank_aliquot_barcode"),
            models.Index(fields=["product", "division"], name="bank_aliquot_product"),
        ]

    def __str__(self) -> str:
        return f"{self.din} {self.pdc}{self.isbt_collection_type}{self.division}"

    def get_absolute_url(self) -> str:
        return reverse("bank:aliquot", args=[self.pk])

    @property
    def din_obj(self) -> Din:
        return Din(self.din)

    @property
    def check_character(self) -> str:
        return check_character(self.din)

    @property
    def din_display(self) -> str:
        """Eye-readable DIN with national grouping, e.g. ``A9999 26 000123``."""
        return format_din(self.din).text

    @property
    def product_code(self) -> ProductCode:
        return ProductCode(self.pdc, self.isbt_collection_type, self.division)

    @property
    def product_code_text(self) -> str:
        return f"{self.pdc}{self.isbt_collection_type}{self.division}"

    @property
    def is_expired(self) -> bool:
        return self.expiry is not None and self.expiry <= dt.datetime.now(dt.UTC)


class Distribution(TenantOwned):
    """Aliquots leaving the bank for a recipient: the chain of custody out of the bank.

    ``organisation`` owns the material (every aliquot belongs to it). The bank drafts the
    distribution; QA releases it with an electronic signature (meaning *released*), which
    issues the aliquots for ``intended_use`` and ends their storage placements
    (``distribution_released``, the ``on_signed`` hook). The signature binds
    :meth:`signature_content`: recipient, use, shipping conditions and the aliquots.
    """

    SIGNATURE_MEANINGS = ("released",)

    recipient_organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recipient organisation"),
    )
    recipient_name = models.CharField(_("recipient (clinical site or person)"), max_length=200)
    recipient_address = models.TextField(_("delivery address"), blank=True)
    intended_use = models.CharField(_("intended use"), max_length=20, choices=Use.choices)
    shipping_conditions = models.CharField(
        _("shipping conditions"), max_length=30, choices=ShippingCondition.choices
    )
    shipping_notes = models.TextField(_("shipping notes"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=DistributionStatus.choices,
        default=DistributionStatus.DRAFT,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(_("released"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)

    class Meta:
        verbose_name = _("distribution")
        verbose_name_plural = _("distributions")
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DistributionStatus.values),
                name="bank_distribution_status_known",
                violation_error_message="Unknown distribution status.",
            ),
            models.CheckConstraint(
                condition=Q(intended_use__in=Use.values),
                name="bank_distribution_use_known",
                violation_error_message="Unknown intended use.",
            ),
            models.CheckConstraint(
                condition=~Q(status=DistributionStatus.RELEASED) | Q(released_at__isnull=False),
                name="bank_distribution_released_has_time",
                violation_error_message="A released distribution records when it was released.",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"DIS-{self.pk or 0:06d}"

    def get_absolute_url(self) -> str:
        return reverse("bank:distribution", args=[self.pk])

    def signature_content(self) -> dict[str, object]:
        """What QA's release signature binds (the status it sets is deliberately not part)."""
        return {
            "number": self.number,
            "organisation_id": self.organisation_id,
            "recipient_organisation_id": self.recipient_organisation_id,
            "recipient_name": self.recipient_name,
            "recipient_address": self.recipient_address,
            "intended_use": self.intended_use,
            "shipping_conditions": self.shipping_conditions,
            "shipping_notes": self.shipping_notes,
            "created_by_id": self.created_by_id,
            "aliquots": [
                {
                    "id": item.aliquot_id,
                    "din": item.aliquot.din,
                    "product_code": item.aliquot.product_code_text,
                    "barcode": item.aliquot.barcode,
                }
                for item in self.items.select_related("aliquot").order_by("aliquot_id")
            ],
        }


class DistributionItem(TenantOwned):
    """One aliquot of a distribution (the aliquot's organisation, like the distribution's)."""

    distribution = models.ForeignKey(Distribution, on_delete=models.PROTECT, related_name="items")
    aliquot = models.ForeignKey(
        Aliquot, on_delete=models.PROTECT, related_name="distribution_items"
    )

    class Meta:
        verbose_name = _("distribution item")
        verbose_name_plural = _("distribution items")
        ordering = ["distribution_id", "aliquot_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["distribution", "aliquot"],
                name="bank_distributionitem_unique_aliquot",
                violation_error_message="This aliquot is already on the distribution.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.distribution_id}: {self.aliquot_id}"
