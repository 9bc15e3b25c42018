"""Enumerations of the audit app."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    """Generic action of a ledger entry (docs/design/reliability.md §4.1)."""

    CREATE = "create", _("create")
    UPDATE = "update", _("update")
    DELETE = "delete", _("delete")
    SIGN = "sign", _("sign")
    PRINT = "print", _("print")
    EXPORT = "export", _("export")
    VIEW = "view", _("view")
    LOGIN = "login", _("login")
    LOGOUT = "logout", _("logout")
    LOGIN_FAILED = "login_failed", _("login failed")
    PERMISSION_CHANGE = "permission_change", _("permission change")
    SECURITY = "security", _("security event")


class SignatureMeaning(models.TextChoices):
    """What a signer means by signing (21 CFR 11.50(a)(3))."""

    AUTHORED = "authored", _("Authored")
    PERFORMED = "performed", _("Performed")
    REVIEWED = "reviewed", _("Reviewed")
    APPROVED = "approved", _("Approved")
    RELEASED = "released", _("Released")
    REJECTED = "rejected", _("Rejected")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    VERIFIED = "verified", _("Verified")


class SignatureStatus(models.TextChoices):
    VALID = "valid", _("Valid")
    BROKEN = "broken", _("Record changed after signing")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class EventType:
    """Typed domain events written by this app and core (docs/design/style.md §2.4)."""

    USER_CREATED = "USER_CREATED"
    USER_UPDATED = "USER_UPDATED"
    USER_ROLES_CHANGED = "USER_ROLES_CHANGED"
    USER_DEACTIVATED = "USER_DEACTIVATED"
    USER_REACTIVATED = "USER_REACTIVATED"
    USER_PASSWORD_RESET = "USER_PASSWORD_RESET"
    USER_PASSWORD_CHANGED = "USER_PASSWORD_CHANGED"
    USER_UNLOCKED = "USER_UNLOCKED"
    USER_LOCKED_OUT = "USER_LOCKED_OUT"
    TOTP_ENROLLED = "TOTP_ENROLLED"
    TOTP_RESET = "TOTP_RESET"
    ORGANISATION_CREATED = "ORGANISATION_CREATED"
    ORGANISATION_UPDATED = "ORGANISATION_UPDATED"
    API_TOKEN_CREATED = "API_TOKEN_CREATED"
    API_TOKEN_REVOKED = "API_TOKEN_REVOKED"
    LOGGED_IN = "LOGGED_IN"
    LOGGED_OUT = "LOGGED_OUT"
    LOGIN_FAILED = "LOGIN_FAILED"
    SIGNING_FAILED = "SIGNING_FAILED"
    RECORD_SIGNED = "RECORD_SIGNED"
    SIGNATURE_WITHDRAWN = "SIGNATURE_WITHDRAWN"
    CHECKPOINT_SIGNED = "CHECKPOINT_SIGNED"
    LEDGER_EXPORTED = "LEDGER_EXPORTED"
    AUDIT_REVIEW_CREATED = "AUDIT_REVIEW_CREATED"
    BULK_WRITE = "BULK_WRITE"
