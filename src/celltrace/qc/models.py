"""Models of the QC testing laboratory: clients' contacts, methods, specifications, requests,
samples, tests, results, OOS investigations and certificates of analysis.

Rows holding a client's data derive from :class:`~celltrace.core.models.TenantOwned`; the
method catalogue and specifications are the laboratory's own (``TENANCY_GLOBAL``). Writes go
through :mod:`celltrace.qc.services` only.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from celltrace.audit.choices import SignatureMeaning
from celltrace.core.models import Organisation, TenantOwned
from celltrace.qc.choices import (
    Conformance,
    Language,
    LimitKind,
    OosOutcome,
    OosPhase,
    Priority,
    RemovalPurpose,
    RequestStatus,
    ResultStatus,
    ResultType,
    RoundingMode,
    SampleStatus,
    VersionStatus,
)


class ClientContact(TenantOwned):
    """A person at a client company the laboratory corresponds with."""

    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    function = models.CharField(_("function"), max_length=100, blank=True)
    is_primary = models.BooleanField(_("primary contact"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("client contact")
        verbose_name_plural = _("client contacts")
        ordering = ["organisation_id", "-is_primary", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(is_primary=True),
                name="qc_clientcontact_one_primary",
                violation_error_message="A client has at most one primary contact.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Method(models.Model):
    """A test method of the laboratory's catalogue; its content lives in versions."""

    TENANCY_GLOBAL = "The laboratory's method catalogue holds no client data."

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("method")
        verbose_name_plural = _("methods")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"


class MethodVersion(models.Model):
    """One version of a method; a test records the version it was performed with."""

    TENANCY_GLOBAL = "The laboratory's method catalogue holds no client data."

    method = models.ForeignKey(Method, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    name = models.CharField(_("name"), max_length=200)
    reference = models.CharField(_("pharmacopoeial reference"), max_length=300)
    result_type = models.CharField(_("result type"), max_length=20, choices=ResultType.choices)
    unit = models.CharField(_("unit"), max_length=40, blank=True)
    reported_decimals = models.PositiveSmallIntegerField(_("reported decimals"), null=True)
    lod = models.CharField(_("limit of detection"), max_length=40, blank=True)
    loq = models.CharField(_("limit of quantitation"), max_length=40, blank=True)
    turnaround_days = models.PositiveSmallIntegerField(_("turnaround (days)"))
    qualitative_options = models.JSONField(_("qualitative outcomes"), default=list, blank=True)
    is_current = models.BooleanField(_("current"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    reason = models.TextField(_("reason"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=VersionStatus.choices,
        default=VersionStatus.EFFECTIVE,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)

    #: QA's approval makes a proposed version effective (see ``method_version_approved``).
    SIGNATURE_MEANINGS = (SignatureMeaning.APPROVED,)

    class Meta:
        verbose_name = _("method version")
        verbose_name_plural = _("method versions")
        ordering = ["method__code", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["method"],
                condition=Q(status=VersionStatus.PENDING),
                name="qc_methodversion_one_pending",
                violation_error_message="A method has at most one version awaiting approval.",
            ),
            models.CheckConstraint(
                condition=Q(is_current=True, status=VersionStatus.EFFECTIVE)
                | (Q(is_current=False) & ~Q(status=VersionStatus.EFFECTIVE)),
                name="qc_methodversion_current_is_effective",
                violation_error_message="The current version is the effective one.",
            ),
            models.UniqueConstraint(
                fields=["method", "version"],
                name="qc_methodversion_unique",
                violation_error_message="This version of the method exists already.",
            ),
            models.UniqueConstraint(
                fields=["method"],
                condition=Q(is_current=True),
                name="qc_methodversion_one_current",
                violation_error_message="A method has one current version.",
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1),
                name="qc_methodversion_version_positive",
                violation_error_message="Versions start at 1.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method.code} v{self.version}"

    def get_absolute_url(self) -> str:
        return reverse("qc:method", args=[self.method.code])

    def signature_content(self) -> dict[str, Any]:
        """What QA's approval binds: every field a test performed with this version uses."""
        return {
            "method": self.method.code,
            "version": self.version,
            "name": self.name,
            "reference": self.reference,
            "result_type": self.result_type,
            "unit": self.unit,
            "reported_decimals": self.reported_decimals,
            "lod": self.lod,
            "loq": self.loq,
            "turnaround_days": self.turnaround_days,
            "qualitative_options": list(self.qualitative_options or []),
            "reason": self.reason,
            "created_by_id": self.created_by_id,
        }


class Specification(models.Model):
    """A versioned release specification for a product type, optionally for one client.

    A client-specific specification carries its client's limits; it is read only by laboratory
    staff and reaches the client only through that client's own results and certificates.
    """

    TENANCY_GLOBAL = (
        "Laboratory-owned; a client-specific version names its client and is never listed to "
        "client users."
    )

    code = models.SlugField(_("code"), max_length=60)
    version = models.PositiveIntegerField(_("version"))
    title = models.CharField(_("title"), max_length=200)
    product_type = models.CharField(_("product type"), max_length=100)
    client = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("client"),
    )
    rounding_mode = models.CharField(
        _("rounding"), max_length=20, choices=RoundingMode.choices, default=RoundingMode.USP
    )
    is_current = models.BooleanField(_("current"), default=True)
    reason = models.TextField(_("reason"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=VersionStatus.choices,
        default=VersionStatus.EFFECTIVE,
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)

    #: QA's approval makes a proposed version effective (see ``specification_approved``).
    SIGNATURE_MEANINGS = (SignatureMeaning.APPROVED,)

    class Meta:
        verbose_name = _("specification")
        verbose_name_plural = _("specifications")
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(status=VersionStatus.PENDING),
                name="qc_specification_one_pending",
                violation_error_message="A specification has at most one version awaiting "
                "approval.",
            ),
            models.CheckConstraint(
                condition=Q(is_current=True, status=VersionStatus.EFFECTIVE)
                | (Q(is_current=False) & ~Q(status=VersionStatus.EFFECTIVE)),
                name="qc_specification_current_is_effective",
                violation_error_message="The current version is the effective one.",
            ),
            models.UniqueConstraint(
                fields=["code", "version"],
                name="qc_specification_unique",
                violation_error_message="This version of the specification exists already.",
            ),
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(is_current=True),
                name="qc_specification_one_current",
                violation_error_message="A specification has one current version.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"

    def get_absolute_url(self) -> str:
        return reverse("qc:specification", args=[self.pk])

    def signature_content(self) -> dict[str, Any]:
        """What QA's approval binds: the version's identity, rounding and every limit."""
        return {
            "code": self.code,
            "version": self.version,
            "title": self.title,
            "product_type": self.product_type,
            "client_id": self.client_id,
            "rounding_mode": self.rounding_mode,
            "reason": self.reason,
            "created_by_id": self.created_by_id,
            "limits": [
                {
                    "method": li.method.code,
                    "kind": li.kind,
                    "lower": li.lower,
                    "lower_inclusive": li.lower_inclusive,
                    "upper": li.upper,
                    "upper_inclusive": li.upper_inclusive,
                    "expected_text": li.expected_text,
                    "alert_lower": li.alert_lower,
                    "alert_upper": li.alert_upper,
                    "unit": li.unit,
                }
                for li in self.limits.select_related("method").order_by("method__code")
            ],
        }


class SpecificationLimit(models.Model):
    """The acceptance criterion of one method within a specification version.

    Limits are stored as the strings they were written with, so ``"70"`` and ``"70.0"`` keep
    their different precision (USP GN 7.20 rounds the value to the limit's decimals).
    """

    TENANCY_GLOBAL = "Part of a laboratory-owned specification."

    specification = models.ForeignKey(
        Specification, on_delete=models.PROTECT, related_name="limits"
    )
    method = models.ForeignKey(Method, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=LimitKind.choices)
    lower = models.CharField(_("lower limit"), max_length=40, blank=True)
    lower_inclusive = models.BooleanField(_("lower limit included"), default=True)
    upper = models.CharField(_("upper limit"), max_length=40, blank=True)
    upper_inclusive = models.BooleanField(_("upper limit included"), default=True)
    expected_text = models.CharField(_("expected result"), max_length=100, blank=True)
    alert_lower = models.CharField(_("lower alert limit"), max_length=40, blank=True)
    alert_upper = models.CharField(_("upper alert limit"), max_length=40, blank=True)
    unit = models.CharField(_("unit"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("specification limit")
        verbose_name_plural = _("specification limits")
        ordering = ["specification_id", "method__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["specification", "method"],
                name="qc_specificationlimit_one_per_method",
                violation_error_message="A specification has one limit per method.",
            ),
            models.CheckConstraint(
                condition=~Q(kind=LimitKind.AT_LEAST) | ~Q(lower=""),
                name="qc_specificationlimit_at_least_has_lower",
                violation_error_message="An 'at least' limit needs its lower limit.",
            ),
            models.CheckConstraint(
                condition=~Q(kind=LimitKind.AT_MOST) | ~Q(upper=""),
                name="qc_specificationlimit_at_most_has_upper",
                violation_error_message="An 'at most' limit needs its upper limit.",
            ),
            models.CheckConstraint(
                condition=~Q(kind=LimitKind.RANGE) | (~Q(lower="") & ~Q(upper="")),
                name="qc_specificationlimit_range_has_ends",
                violation_error_message="A range needs both ends.",
            ),
            models.CheckConstraint(
                condition=~Q(kind=LimitKind.QUALITATIVE) | ~Q(expected_text=""),
                name="qc_specificationlimit_qualitative_has_text",
                violation_error_message="A qualitative limit names the expected result.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method.code}: {self.display}"

    @property
    def display(self) -> str:
        """The criterion as printed, e.g. ``≥ 70 %``, ``0.5–2.0 EU/mL``, ``No growth``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.kind == LimitKind.AT_LEAST:
            return f"{'≥' if self.lower_inclusive else '>'} {self.lower}{unit}"
        if self.kind == LimitKind.AT_MOST:
            return f"{'≤' if self.upper_inclusive else '<'} {self.upper}{unit}"
        if self.kind == LimitKind.RANGE:
            return f"{self.lower}–{self.upper}{unit}"
        if self.kind == LimitKind.QUALITATIVE:
            return self.expected_text
        return str(_("Report result"))


class TestRequest(TenantOwned):
    """A client's request to test one batch (or lot) of a product with a set of methods."""

    __test__ = False  # not a pytest test class

    product = models.CharField(_("product"), max_length=200)
    product_type = models.CharField(_("product type"), max_length=100)
    batch = models.CharField(_("batch or lot"), max_length=100)
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.ROUTINE
    )
    status = models.CharField(
        _("status"), max_length=20, choices=RequestStatus.choices, default=RequestStatus.DRAFT
    )
    notes = models.TextField(_("notes"), blank=True)
    methods = models.ManyToManyField(Method, related_name="+", verbose_name=_("requested methods"))
    panels = models.ManyToManyField(
        "qc.TestPanel", blank=True, related_name="+", verbose_name=_("requested panels")
    )
    specification = models.ForeignKey(
        Specification, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"))
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    received_at = models.DateTimeField(_("received"), null=True, blank=True)
    released_at = models.DateTimeField(_("released"), null=True, blank=True)

    SIGNATURE_MEANINGS = (SignatureMeaning.RELEASED,)

    class Meta:
        verbose_name = _("QC request")
        verbose_name_plural = _("QC requests")
        ordering = ["-pk"]
        indexes = [models.Index(fields=["organisation", "status"], name="qc_request_org_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RequestStatus.values),
                name="qc_testrequest_status_known",
                violation_error_message="Unknown request status.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} · {self.product} {self.batch}"

    @property
    def number(self) -> str:
        return f"QC-{self.pk:06d}" if self.pk else "QC-new"

    def get_absolute_url(self) -> str:
        return reverse("qc:request", args=[self.pk])

    def signature_content(self) -> dict[str, Any]:
        """What QA's release binds: the request and every current result of it."""
        results = []
        for test in self.tests.order_by("pk"):
            current = test.current_result
            results.append(
                {
                    "test_id": test.pk,
                    "method": test.method_version.method.code,
                    "method_version": test.method_version.version,
                    "result_id": current.pk if current else None,
                    "value": current.value_text if current else None,
                    "conformance": current.conformance if current else None,
                }
            )
        return {
            "number": self.number,
            "organisation_id": self.organisation_id,
            "product": self.product,
            "product_type": self.product_type,
            "batch": self.batch,
            "specification_id": self.specification_id,
            "samples": list(self.samples.order_by("pk").values_list("client_sample_id", "status")),
            "results": results,
        }


class Sample(TenantOwned):
    """A container a client sends for a request; the client's id is unique per organisation."""

    request = models.ForeignKey(TestRequest, on_delete=models.PROTECT, related_name="samples")
    client_sample_id = models.CharField(_("client's sample id"), max_length=80)
    container = models.CharField(_("container"), max_length=100, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=SampleStatus.choices, default=SampleStatus.EXPECTED
    )
    arrival_temperature_c = models.DecimalField(
        _("temperature on arrival (°C)"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    container_intact = models.BooleanField(_("container intact"), null=True)
    label_matches = models.BooleanField(_("label matches"), null=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    received_at = models.DateTimeField(_("received"), null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    custodian = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("sample")
        verbose_name_plural = _("samples")
        ordering = ["request_id", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "client_sample_id"],
                name="qc_sample_client_id_unique",
                violation_error_message="This sample id is already used by the client.",
            ),
            models.CheckConstraint(
                condition=~Q(status=SampleStatus.REJECTED) | ~Q(rejection_reason=""),
                name="qc_sample_rejection_has_reason",
                violation_error_message="A rejected sample needs a reason.",
            ),
        ]

    def __str__(self) -> str:
        return self.client_sample_id

    @property
    def number(self) -> str:
        """The laboratory's identity of the sample, printed on its labels (``QS-000123``)."""
        return f"QS-{self.pk:06d}" if self.pk else "QS-new"

    @staticmethod
    def pk_of_number(text: str) -> int | None:
        """The primary key a laboratory label (``QS-000123``, any case) names, else None."""
        text = text.strip()
        if text.upper().startswith("QS-") and text[3:].isdigit():
            return int(text[3:])
        return None


class Test(TenantOwned):
    """One method (in the version used) performed on a request's sample."""

    __test__ = False  # not a pytest test class

    request = models.ForeignKey(TestRequest, on_delete=models.PROTECT, related_name="tests")
    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="tests")
    method_version = models.ForeignKey(MethodVersion, on_delete=models.PROTECT, related_name="+")
    analyst = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"))
    due_on = models.DateField(_("due"))

    class Meta:
        verbose_name = _("test")
        verbose_name_plural = _("tests")
        ordering = ["request_id", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "method_version"],
                name="qc_test_one_per_method",
                violation_error_message="The request already has this test.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.request.number} · {self.method_version.method.code}"

    def get_absolute_url(self) -> str:
        return reverse("qc:test", args=[self.pk])

    @property
    def current_result(self) -> Result | None:
        """The latest result that has not been invalidated."""
        prefetched = getattr(self, "_prefetched_objects_cache", {}).get("results")
        if prefetched is not None:
            valid = [r for r in prefetched if r.status == ResultStatus.VALID]
            return max(valid, key=lambda r: r.pk) if valid else None
        return self.results.filter(status=ResultStatus.VALID).order_by("-pk").first()


class Result(TenantOwned):
    """A reported result of a test; never edited once signed (invalidate and retest instead)."""

    test = models.ForeignKey(Test, on_delete=models.PROTECT, related_name="results")
    value_text = models.CharField(_("value as reported"), max_length=100)
    comparator = models.CharField(_("comparator"), max_length=1, blank=True)
    value = models.DecimalField(_("value"), max_digits=30, decimal_places=10, null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=40, blank=True)
    reported_value = models.CharField(_("rounded value"), max_length=100, blank=True)
    conformance = models.CharField(_("conformance"), max_length=20, choices=Conformance.choices)
    alert = models.BooleanField(_("beyond alert limit"), default=False)
    limit = models.ForeignKey(
        SpecificationLimit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    limit_text = models.CharField(_("specification"), max_length=200, blank=True)
    rounding_mode = models.CharField(
        _("rounding"), max_length=20, choices=RoundingMode.choices, blank=True
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ResultStatus.choices, default=ResultStatus.VALID
    )
    comment = models.TextField(_("comment"), blank=True)
    calculation = models.JSONField(_("calculation"), null=True, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entered_at = models.DateTimeField(_("entered"))
    invalidated_reason = models.TextField(_("reason for invalidation"), blank=True)
    invalidated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    invalidated_at = models.DateTimeField(_("invalidated"), null=True, blank=True)

    SIGNATURE_MEANINGS = (SignatureMeaning.PERFORMED, SignatureMeaning.REVIEWED)

    class Meta:
        verbose_name = _("result")
        verbose_name_plural = _("results")
        ordering = ["test_id", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=ResultStatus.INVALIDATED) | ~Q(invalidated_reason=""),
                name="qc_result_invalidation_has_reason",
                violation_error_message="An invalidated result needs a reason.",
            ),
            models.CheckConstraint(
                condition=Q(comparator__in=["", "<", ">"]),
                name="qc_result_comparator_known",
                violation_error_message="The comparator is '<', '>' or nothing.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.test} = {self.value_text} {self.unit}".strip()

    def get_absolute_url(self) -> str:
        return reverse("qc:test", args=[self.test_id])

    def signature_content(self) -> dict[str, Any]:
        """Everything a reviewer relies on; a change after signing breaks the signatures."""
        mv = self.test.method_version
        return {
            "test_id": self.test_id,
            "request_id": self.test.request_id,
            "sample": self.test.sample.client_sample_id,
            "method": mv.method.code,
            "method_version": mv.version,
            "value_text": self.value_text,
            "comparator": self.comparator,
            # normalised: the instance just saved holds Decimal("86"), the database "86.0…0"
            "value": None if self.value is None else format(self.value.normalize(), "f"),
            "unit": self.unit,
            "reported_value": self.reported_value,
            "conformance": self.conformance,
            "alert": self.alert,
            "limit_id": self.limit_id,
            "limit_text": self.limit_text,
            "rounding_mode": self.rounding_mode,
            "calculation": self.calculation,
            "comment": self.comment,
            "entered_by_id": self.entered_by_id,
            "entered_at": self.entered_at,
            "organisation_id": self.organisation_id,
        }

    @property
    def numeric(self) -> Decimal | None:
        return self.value


class OosInvestigation(TenantOwned):
    """An out-of-specification investigation, opened automatically by a non-conforming result."""

    result = models.OneToOneField(Result, on_delete=models.PROTECT, related_name="oos")
    request = models.ForeignKey(TestRequest, on_delete=models.PROTECT, related_name="oos")
    phase = models.CharField(
        _("phase"), max_length=20, choices=OosPhase.choices, default=OosPhase.PHASE_1
    )
    outcome = models.CharField(
        _("outcome"), max_length=20, choices=OosOutcome.choices, default="", blank=True
    )
    opened_at = models.DateTimeField(_("opened"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    phase1_summary = models.TextField(_("phase I findings"), blank=True)
    assignable_cause = models.BooleanField(_("assignable laboratory cause"), null=True)
    phase1_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    phase1_at = models.DateTimeField(_("phase I completed"), null=True, blank=True)
    phase2_summary = models.TextField(_("phase II findings"), blank=True)
    capa_reference = models.CharField(_("CAPA reference"), max_length=80, blank=True)
    conclusion = models.TextField(_("conclusion"), blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("OOS investigation")
        verbose_name_plural = _("OOS investigations")
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(phase=OosPhase.CLOSED, closed_at__isnull=False)
                | (~Q(phase=OosPhase.CLOSED) & Q(closed_at__isnull=True)),
                name="qc_oosinvestigation_closed_has_time",
                violation_error_message="A closed investigation records when it was closed.",
            )
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"OOS-{self.pk:05d}" if self.pk else "OOS-new"

    @property
    def is_open(self) -> bool:
        return self.phase != OosPhase.CLOSED

    def get_absolute_url(self) -> str:
        return reverse("qc:oos", args=[self.pk])


class Certificate(TenantOwned):
    """An issued certificate of analysis (a PDF and its SHA-256); amendments supersede it.

    A *translation* (``translation_of`` set) is the same version rendered in another language:
    same request, results and version number, its own PDF, SHA-256 and UUID. It is not an
    amendment (it supersedes nothing and has no reason); an amendment of its version supersedes
    it together with the version it translates.
    """

    uuid = models.UUIDField(_("public identifier"), unique=True, default=uuid.uuid4)
    request = models.ForeignKey(TestRequest, on_delete=models.PROTECT, related_name="certificates")
    version = models.PositiveIntegerField(_("version"))
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    translation_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="translations",
        verbose_name=_("translation of"),
    )
    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    pdf = models.BinaryField(_("PDF"))
    sha256 = models.CharField(_("SHA-256 of the PDF"), max_length=64)
    # what the certificate states, in no language (qc.certificates.stated_content): a
    # translation is issued only while the data still say what its version's original says
    content_sha256 = models.CharField(_("SHA-256 of the stated content"), max_length=64, blank=True)
    reason = models.TextField(_("reason for the amendment"), blank=True)
    issued_at = models.DateTimeField(_("issued"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("certificate of analysis")
        verbose_name_plural = _("certificates of analysis")
        # each version's original before its translations
        ordering = ["request_id", "-version", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "version"],
                condition=Q(translation_of__isnull=True),
                name="qc_certificate_version_unique",
                violation_error_message="This version of the certificate exists already.",
            ),
            models.UniqueConstraint(
                fields=["request", "version", "language"],
                name="qc_certificate_version_language_unique",
                violation_error_message="This version of the certificate exists in this "
                "language already.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(translation_of__isnull=True)
                    & (
                        Q(version=1, supersedes__isnull=True)
                        | (Q(version__gt=1, supersedes__isnull=False) & ~Q(reason=""))
                    )
                )
                | Q(translation_of__isnull=False, supersedes__isnull=True, reason=""),
                name="qc_certificate_amendment_supersedes",
                violation_error_message="An amendment supersedes the previous version and gives "
                "a reason; a translation supersedes nothing and has no reason.",
            ),
        ]

    def __str__(self) -> str:
        if self.translation_of_id is not None:
            return f"{self.number} ({self.language})"
        return self.number

    @property
    def number(self) -> str:
        return f"CoA-{self.request.number}-{self.version}"

    @property
    def is_translation(self) -> bool:
        return self.translation_of_id is not None

    @property
    def is_superseded(self) -> bool:
        """Whether a later version exists: an amendment supersedes the version it replaces
        and, through it, that version's translations."""
        original = self.translation_of
        if original is not None:
            return original.is_superseded
        return hasattr(self, "superseded_by")

    def get_absolute_url(self) -> str:
        return reverse("qc:verify", args=[self.uuid])


class TestPanel(models.Model):
    """A named set of methods a client can request at once (e.g. a CAR-T release panel).

    A panel with a client is that client's own: it is listed to that client and the laboratory
    only. Changes are audited on the ledger; panels are not versioned (a request records the
    methods it was created with).
    """

    __test__ = False  # not a pytest test class

    TENANCY_GLOBAL = (
        "Laboratory-owned; a client-specific panel names its client and is listed only to that "
        "client and the laboratory."
    )

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    methods = models.ManyToManyField(Method, related_name="panels", verbose_name=_("methods"))
    product_type = models.CharField(_("product type"), max_length=100, blank=True)
    client = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("client"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("test panel")
        verbose_name_plural = _("test panels")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("qc:panel", args=[self.pk])


class SamplePlacement(TenantOwned):
    """A received QC sample in a storage position from ``placed_at`` until ``removed_at``.

    The storage app's ``Placement`` holds aliquots only; this is its counterpart for QC
    samples. A position holds one active placement of either kind: the QC services lock the
    position and look at both, and the storage services ask :mod:`celltrace.qc` through their
    occupancy-check registry.
    """

    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="placements")
    position = models.ForeignKey(
        "storage.Position", on_delete=models.PROTECT, related_name="qc_sample_placements"
    )
    placed_at = models.DateTimeField(_("placed"))
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    removal_purpose = models.CharField(
        _("purpose of removal"), max_length=20, choices=RemovalPurpose.choices, blank=True
    )
    removal_reason = models.TextField(_("reason for removal"), blank=True)

    class Meta:
        verbose_name = _("sample placement")
        verbose_name_plural = _("sample placements")
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["position"],
                condition=Q(removed_at__isnull=True),
                name="qc_sampleplacement_one_active_per_position",
                violation_error_message="This position is already occupied.",
            ),
            models.UniqueConstraint(
                fields=["sample"],
                condition=Q(removed_at__isnull=True),
                name="qc_sampleplacement_one_active_per_sample",
                violation_error_message="This sample is already stored elsewhere.",
            ),
            models.CheckConstraint(
                condition=Q(removed_at__isnull=True) | Q(removed_at__gte=models.F("placed_at")),
                name="qc_sampleplacement_removed_after_placed",
                violation_error_message="A sample cannot be removed before it was placed.",
            ),
            models.CheckConstraint(
                condition=Q(removed_at__isnull=True, removal_purpose="")
                | Q(removed_at__isnull=False, removal_purpose__in=RemovalPurpose.values),
                name="qc_sampleplacement_removal_has_purpose",
                violation_error_message="A removal states its purpose.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sample_id} @ {self.position_id}"


# Sterility incubations and readings of computed results (celltrace.qc.models_compute).
from celltrace.qc.models_compute import SterilityIncubation, SterilityReading  # noqa: E402, F401
