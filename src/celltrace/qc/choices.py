"""Enumerations and ledger event types of the QC laboratory. Never compare against literals."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ResultType(models.TextChoices):
    NUMERIC = "numeric", _("Numeric")
    QUALITATIVE = "qualitative", _("Qualitative")
    TEXT = "text", _("Text")


class RoundingMode(models.TextChoices):
    """Modes of :func:`celltrace.qc.rounding.conforms` a specification may choose."""

    USP = "usp", _("USP General Notices 7.20 (half up to the limit's decimals)")
    ASTM_E29 = "astm_e29", _("ASTM E29 rounding method (half to even)")
    ASTM_E29_ABSOLUTE = "astm_e29_absolute", _("ASTM E29 absolute method (no rounding)")
    PH_EUR = "ph_eur", _("Ph. Eur. (significant figures of the limit)")


class LimitKind(models.TextChoices):
    AT_LEAST = "at_least", _("At least")
    AT_MOST = "at_most", _("At most")
    RANGE = "range", _("Range")
    QUALITATIVE = "qualitative", _("Qualitative expectation")
    REPORT = "report", _("Report only")


class Priority(models.TextChoices):
    ROUTINE = "routine", _("Routine")
    URGENT = "urgent", _("Urgent")


class RequestStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    RECEIVED = "received", _("Received")
    IN_TESTING = "in_testing", _("In testing")
    REVIEWED = "reviewed", _("Reviewed")
    RELEASED = "released", _("Released")
    CERTIFIED = "certified", _("Certified")
    CANCELLED = "cancelled", _("Cancelled")


#: The workflow of a test request: from each status, the statuses it may move to.
REQUEST_TRANSITIONS: dict[str, frozenset[str]] = {
    RequestStatus.DRAFT: frozenset({RequestStatus.SUBMITTED, RequestStatus.CANCELLED}),
    RequestStatus.SUBMITTED: frozenset({RequestStatus.RECEIVED, RequestStatus.CANCELLED}),
    RequestStatus.RECEIVED: frozenset({RequestStatus.IN_TESTING}),
    RequestStatus.IN_TESTING: frozenset({RequestStatus.REVIEWED}),
    RequestStatus.REVIEWED: frozenset({RequestStatus.IN_TESTING, RequestStatus.RELEASED}),
    RequestStatus.RELEASED: frozenset({RequestStatus.CERTIFIED}),
    RequestStatus.CERTIFIED: frozenset(),
    RequestStatus.CANCELLED: frozenset(),
}


class SampleStatus(models.TextChoices):
    EXPECTED = "expected", _("Expected")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


class ResultStatus(models.TextChoices):
    VALID = "valid", _("Valid")
    INVALIDATED = "invalidated", _("Invalidated")


class Conformance(models.TextChoices):
    CONFORMS = "conforms", _("Conforms")
    DOES_NOT_CONFORM = "does_not_conform", _("Does not conform")
    NOT_APPLICABLE = "not_applicable", _("No specification")


class OosPhase(models.TextChoices):
    PHASE_1 = "phase_1", _("Phase I: laboratory investigation")
    PHASE_2 = "phase_2", _("Phase II: full investigation")
    CLOSED = "closed", _("Closed")


class OosOutcome(models.TextChoices):
    PENDING = "", _("Pending")
    INVALIDATED = "invalidated", _("Assignable laboratory cause: result invalidated, retest")
    CONFIRMED = "confirmed", _("Confirmed out of specification")


class Language(models.TextChoices):
    EN = "en", _("English")
    ZH_HANS = "zh-hans", _("Simplified Chinese")


class QcEvent:
    """Ledger event types written by the qc app."""

    CLIENT_CONTACT_CREATED = "QC_CLIENT_CONTACT_CREATED"
    METHOD_CREATED = "QC_METHOD_CREATED"
    METHOD_VERSION_CREATED = "QC_METHOD_VERSION_CREATED"
    METHODS_SEEDED = "QC_METHODS_SEEDED"
    SPECIFICATION_CREATED = "QC_SPECIFICATION_CREATED"
    REQUEST_CREATED = "QC_REQUEST_CREATED"
    REQUEST_STATUS_CHANGED = "QC_REQUEST_STATUS_CHANGED"
    SAMPLE_RECEIVED = "QC_SAMPLE_RECEIVED"
    SAMPLE_HANDED_OVER = "QC_SAMPLE_HANDED_OVER"
    TESTS_CREATED = "QC_TESTS_CREATED"
    TEST_ASSIGNED = "QC_TEST_ASSIGNED"
    RESULT_ENTERED = "QC_RESULT_ENTERED"
    RESULT_CORRECTED = "QC_RESULT_CORRECTED"
    RESULT_INVALIDATED = "QC_RESULT_INVALIDATED"
    OOS_OPENED = "QC_OOS_OPENED"
    OOS_PHASE1_COMPLETED = "QC_OOS_PHASE1_COMPLETED"
    OOS_CLOSED = "QC_OOS_CLOSED"
    CERTIFICATE_ISSUED = "QC_CERTIFICATE_ISSUED"
    CERTIFICATE_TRANSLATED = "QC_CERTIFICATE_TRANSLATED"


class VersionStatus(models.TextChoices):
    """Where a method or specification version stands; only an effective one is used."""

    PENDING = "pending", _("Awaiting approval")
    EFFECTIVE = "effective", _("Effective")
    SUPERSEDED = "superseded", _("Superseded")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class RemovalPurpose(models.TextChoices):
    """Why a stored QC sample was taken out of its storage position."""

    TESTING = "testing", _("Testing")
    DISPOSAL = "disposal", _("Disposal")


class QcCatalogueEvent:
    """Ledger event types of the method catalogue, specifications, panels, labels and storage."""

    METHOD_VERSION_PROPOSED = "QC_METHOD_VERSION_PROPOSED"
    METHOD_VERSION_APPROVED = "QC_METHOD_VERSION_APPROVED"
    METHOD_VERSION_WITHDRAWN = "QC_METHOD_VERSION_WITHDRAWN"
    METHOD_VERSION_SUPERSEDED = "QC_METHOD_VERSION_SUPERSEDED"
    SPECIFICATION_PROPOSED = "QC_SPECIFICATION_PROPOSED"
    SPECIFICATION_APPROVED = "QC_SPECIFICATION_APPROVED"
    SPECIFICATION_WITHDRAWN = "QC_SPECIFICATION_WITHDRAWN"
    SPECIFICATION_SUPERSEDED = "QC_SPECIFICATION_SUPERSEDED"
    PANEL_CREATED = "QC_PANEL_CREATED"
    PANEL_UPDATED = "QC_PANEL_UPDATED"
    SAMPLE_LABELS_PRINTED = "QC_SAMPLE_LABELS_PRINTED"
    SAMPLE_STORED = "QC_SAMPLE_STORED"
    SAMPLE_RETRIEVED = "QC_SAMPLE_RETRIEVED"
