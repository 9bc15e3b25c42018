"""Enumerations of the core app. Never compare against string literals."""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganisationKind(models.TextChoices):
    OPERATOR = "operator", _("Operator (bank and laboratory)")
    CLIENT = "client", _("Client company")


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    BANK_TECHNICIAN = "bank_technician", _("Bank technician")
    QC_ANALYST = "qc_analyst", _("QC analyst")
    QC_REVIEWER = "qc_reviewer", _("QC reviewer")
    QA = "qa", _("Quality assurance")
    CLIENT_USER = "client_user", _("Client user")


#: Roles only members of the operator organisation may hold.
OPERATOR_ROLES = frozenset(
    {Role.ADMIN, Role.BANK_TECHNICIAN, Role.QC_ANALYST, Role.QC_REVIEWER, Role.QA}
)
#: Roles members of a client organisation may hold.
CLIENT_ROLES = frozenset({Role.CLIENT_USER})


class ErrorCode(StrEnum):
    """Machine-readable codes carried by domain errors and API problem details."""

    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    INVALID = "invalid"
    CONFLICT = "conflict"
    AUTHENTICATION_FAILED = "authentication_failed"
    REAUTHENTICATION_REQUIRED = "reauthentication_required"
    PASSWORD_CHANGE_REQUIRED = "password_change_required"
    MFA_REQUIRED = "mfa_required"
    ACCOUNT_LOCKED = "account_locked"
    SIGNATURE_MEANING_NOT_ALLOWED = "signature_meaning_not_allowed"
    ALREADY_SIGNED = "already_signed"
    RECORD_CHANGED = "record_changed"
    LEDGER_INVALID = "ledger_invalid"
