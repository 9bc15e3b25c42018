"""API operations of the core app: the caller, organisations, users, API tokens."""

from __future__ import annotations

from typing import Annotated

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Status
from pydantic import Field

from celltrace.api.schemas import ERRORS, READ_ERRORS, IdParam, Offset, Page
from celltrace.core import selectors, services
from celltrace.core.errors import NotFound
from celltrace.core.models import ApiToken, User
from celltrace.core.schemas import (
    OrganisationOut,
    TokenCreatedOut,
    TokenCreateIn,
    TokenOut,
    UserOut,
)

router = Router(tags=["core"])

#: How many items a page holds at most (as ``/aliquots``; the default is 100).
Limit = Annotated[int, Field(ge=1, le=500)]


def actor_of(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@router.get("/me", response={200: UserOut, **READ_ERRORS}, operation_id="me_get")
def me(request: HttpRequest) -> User:
    return actor_of(request)


@router.get(
    "/organisations",
    response={200: Page[OrganisationOut], **READ_ERRORS},
    operation_id="organisations_list",
)
def organisations_list(
    request: HttpRequest, limit: Limit = 100, offset: Offset = 0
) -> dict[str, object]:
    qs = selectors.organisations_visible(actor_of(request)).order_by("name", "pk")
    return {"count": qs.count(), "items": list(qs[offset : offset + limit])}


@router.get(
    "/organisations/{organisation_id}",
    response={200: OrganisationOut, **READ_ERRORS},
    operation_id="organisations_get",
)
def organisations_get(request: HttpRequest, organisation_id: IdParam) -> object:
    return selectors.organisation_get(actor_of(request), organisation_id)


@router.get("/users", response={200: Page[UserOut], **READ_ERRORS}, operation_id="users_list")
def users_list(request: HttpRequest, limit: Limit = 100, offset: Offset = 0) -> dict[str, object]:
    qs = selectors.users_visible(actor_of(request)).order_by("username", "pk")
    return {"count": qs.count(), "items": list(qs[offset : offset + limit])}


@router.get("/users/{user_id}", response={200: UserOut, **READ_ERRORS}, operation_id="users_get")
def users_get(request: HttpRequest, user_id: IdParam) -> object:
    return selectors.user_get(actor_of(request), user_id)


@router.get("/tokens", response={200: list[TokenOut], **READ_ERRORS}, operation_id="tokens_list")
def tokens_list(request: HttpRequest) -> list[ApiToken]:
    return list(selectors.api_tokens_of(actor_of(request)))


@router.post("/tokens", response={201: TokenCreatedOut, **ERRORS}, operation_id="tokens_create")
def tokens_create(request: HttpRequest, payload: TokenCreateIn) -> Status[dict[str, object]]:
    issued = services.api_token_create(
        actor=actor_of(request), name=payload.name, expires_at=payload.expires_at
    )
    t = issued.token
    return Status(
        201,
        {
            "id": t.pk,
            "name": t.name,
            "prefix": t.prefix,
            "created_at": t.created_at,
            "expires_at": t.expires_at,
            "last_used_at": t.last_used_at,
            "revoked_at": t.revoked_at,
            "token": issued.secret,
        },
    )


@router.post(
    "/tokens/{token_id}/revoke", response={200: TokenOut, **ERRORS}, operation_id="tokens_revoke"
)
def tokens_revoke(request: HttpRequest, token_id: IdParam) -> ApiToken:
    actor = actor_of(request)
    token = selectors.api_tokens_of(actor).filter(pk=token_id).first()
    if token is None:
        raise NotFound(_("Token not found."))
    return services.api_token_revoke(actor=actor, token=token)
