"""Navigation by role, available to every template as ``nav``."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from celltrace.audit.selectors import can_browse_ledger
from celltrace.core.choices import Role
from celltrace.core.models import User


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url: str
    key: str


def nav_for(user: User) -> list[NavItem]:
    items = [NavItem(_("Dashboard"), reverse("web:dashboard"), "dashboard")]
    items.append(NavItem(_("Organisations"), reverse("web:organisations"), "organisations"))
    if user.is_operator_staff or user.has_role(Role.ADMIN):
        items.append(NavItem(_("Users"), reverse("web:users"), "users"))
    if can_browse_ledger(user):
        items.append(NavItem(_("Audit ledger"), reverse("audit:ledger"), "ledger"))
        items.append(NavItem(_("Audit reviews"), reverse("audit:reviews"), "reviews"))
    items.append(NavItem(_("API"), "/api/v1/docs", "api"))
    return items


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not isinstance(user, User):
        return {"nav": []}
    return {"nav": nav_for(user)}
