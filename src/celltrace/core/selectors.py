"""Reads of the core app, scoped to what the acting user may see."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from celltrace.core.errors import NotFound
from celltrace.core.models import ApiToken, Organisation, User, UserRole
from celltrace.core.tenancy import scope, sees_all_tenants


def organisations_visible(actor: User) -> QuerySet[Organisation]:
    if sees_all_tenants(actor):
        return Organisation.objects.all()
    if actor.organisation_id is None:
        return Organisation.objects.none()
    return Organisation.objects.filter(pk=actor.organisation_id)


def organisation_get(actor: User, pk: int | str) -> Organisation:
    try:
        return organisations_visible(actor).get(pk=pk)
    except (Organisation.DoesNotExist, ValueError) as exc:
        raise NotFound(_("Organisation not found.")) from exc


def users_visible(actor: User) -> QuerySet[User]:
    return (
        scope(User.objects.all(), actor)
        .select_related("organisation")
        .prefetch_related(Prefetch("role_grants", queryset=UserRole.objects.order_by("role")))
    )


def user_get(actor: User, pk: int | str) -> User:
    try:
        return users_visible(actor).get(pk=pk)
    except (User.DoesNotExist, ValueError) as exc:
        raise NotFound(_("User not found.")) from exc


def api_tokens_of(actor: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=actor)
