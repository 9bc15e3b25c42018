"""Organisations (the tenants), users and their roles, API tokens."""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from celltrace.core.choices import OrganisationKind, Role


class Organisation(models.Model):
    """A tenant: the operator running the installation, or a client company."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=OrganisationKind.choices)
    country = models.CharField(_("country"), max_length=2, blank=True)
    address = models.TextField(_("address"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(kind=OrganisationKind.OPERATOR),
                name="core_organisation_one_operator",
                violation_error_message="There is already an operator organisation.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_operator(self) -> bool:
        return self.kind == OrganisationKind.OPERATOR

    def signature_content(self) -> dict[str, Any]:
        return {"name": self.name, "code": self.code, "kind": self.kind}


class TenantOwned(models.Model):
    """Base for every row owned by one organisation (docs/design/reliability.md §6).

    Rows are read through tenant-scoped selectors (:mod:`celltrace.core.tenancy`), never
    through an unscoped queryset in a view.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", verbose_name=_("organisation")
    )

    class Meta:
        abstract = True


class User(AbstractUser):
    """A person with an account. Usernames are never reused: accounts are deactivated."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="users", null=True
    )
    full_name = models.CharField(_("printed name"), max_length=200)
    must_change_password = models.BooleanField(_("must change password"), default=False)
    password_changed_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[UserManager[User]] = UserManager()  # type: ignore[assignment]

    class Meta:
        ordering = ["username"]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_superuser=True) | Q(organisation__isnull=False),
                name="core_user_has_organisation",
                violation_error_message="Every user belongs to an organisation.",
            ),
            # "AURORA" beside "aurora" would be two look-alike identities on the ledger and
            # on signatures: a username is unique whatever its case
            models.UniqueConstraint(
                Lower("username"),
                name="core_user_username_unique_any_case",
                violation_error_message="This username is taken (in another case).",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.username

    @cached_property
    def roles(self) -> frozenset[str]:
        return frozenset(self.role_grants.values_list("role", flat=True))

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_operator_staff(self) -> bool:
        org = self.organisation
        return org is not None and org.kind == OrganisationKind.OPERATOR

    @property
    def primary_role(self) -> str:
        order = list(Role.values)
        held = sorted(self.roles, key=order.index)
        return held[0] if held else ""

    def signature_content(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "full_name": self.full_name,
            "organisation_id": self.organisation_id,
            "is_active": self.is_active,
            "roles": sorted(self.roles),
        }


class UserRole(models.Model):
    """One role held by one user."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=30, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="core_userrole_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.role}"


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the secret is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
