"""Navigation by role, available to every template as ``nav``."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
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


def _first_url(*names: str) -> str | None:
    """The first of ``names`` that resolves: a module shows in the menu once its page exists."""
    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None


def _module_items(user: User) -> list[NavItem]:
    staff = user.is_operator_staff
    qc_lab = staff and user.has_role(Role.QC_ANALYST, Role.QC_REVIEWER, Role.QA, Role.ADMIN)
    bank = staff and user.has_role(Role.BANK_TECHNICIAN, Role.QA, Role.ADMIN)
    wanted: list[tuple[bool, str | Promise, str, tuple[str, ...]]] = [
        (bank or not staff, _("Cell bank"), "bank", ("bank:search", "bank:index", "bank:aliquots")),
        (bank, _("Storage"), "storage", ("storage:index", "storage:browser", "storage:units")),
        (bank, _("Monitoring"), "monitoring", ("monitoring:index", "monitoring:units")),
        (qc_lab, _("QC laboratory"), "qc", ("qc:incoming", "qc:worklist")),
        (not staff, _("Test requests"), "qc", ("qc:portal",)),
        (
            True,
            _("Metabolism"),
            "metabolism",
            ("metabolism:runs", "metabolism:index", "metabolism:run_list"),
        ),
    ]
    items = []
    for show, label, key, names in wanted:
        url = _first_url(*names) if show else None
        if url:
            items.append(NavItem(label, url, key))
    return items


def nav_for(user: User) -> list[NavItem]:
    items = [NavItem(_("Dashboard"), reverse("web:dashboard"), "dashboard")]
    items += _module_items(user)
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
