"""API schemas of the core app."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from celltrace.api.schemas import AwareDateTimeIn, StrictIn


class OrganisationOut(Schema):
    id: int
    name: str
    code: str
    kind: str
    country: str
    is_active: bool


class UserOut(Schema):
    id: int
    username: str
    full_name: str
    email: str
    organisation_id: int | None
    roles: list[str]
    is_active: bool
    must_change_password: bool

    @staticmethod
    def resolve_roles(obj: object) -> list[str]:
        return sorted(getattr(obj, "roles", []))


class TokenCreateIn(StrictIn):
    name: str = Field(min_length=1, max_length=100)
    expires_at: AwareDateTimeIn | None = Field(
        default=None, description="ISO 8601 with a UTC offset; answered in UTC."
    )


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The secret. It is shown once and never stored.")
