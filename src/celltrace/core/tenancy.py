"""Tenant scoping for reads (docs/design/reliability.md §6; docs/design/architecture.md,
invariant 4).

Operator staff see every organisation's rows; a client user sees only rows of its own
organisation. Anything else answers :class:`~celltrace.core.errors.NotFound`, never a
permission error, so that a foreign object's existence does not leak.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

from celltrace.core.errors import NotFound
from celltrace.core.models import User

M = TypeVar("M", bound=Model)


def sees_all_tenants(actor: User) -> bool:
    return actor.is_active and actor.is_operator_staff


def scope(qs: QuerySet[M], actor: User, *, field: str = "organisation") -> QuerySet[M]:
    """Limit ``qs`` to what ``actor`` may see. ``field`` is the path to the owning organisation."""
    if not actor.is_active or actor.organisation_id is None:
        return qs.none()
    if sees_all_tenants(actor):
        return qs
    return qs.filter(**{field: actor.organisation_id})


def get_visible(qs: QuerySet[M], actor: User, *, field: str = "organisation", **lookup: Any) -> M:
    """The one object matching ``lookup`` that ``actor`` may see, or :class:`NotFound`."""
    try:
        return scope(qs, actor, field=field).get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(_("Not found.")) from exc
