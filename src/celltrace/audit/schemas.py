"""API schemas of the audit app."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema

from celltrace.api.schemas import IdIn, StrictIn


class AuditEventOut(Schema):
    seq: int
    timestamp_utc: str
    actor_id: int | None
    actor_name: str
    actor_role: str
    organisation_id: int | None
    action: str
    event_type: str
    entity_type: str
    entity_id: str
    entity_label: str
    old: dict[str, Any]
    new: dict[str, Any]
    reason: str
    signature_meaning: str | None
    record_hash: str | None
    request_id: str
    client_id: str
    entry_hash: str

    @staticmethod
    def resolve_actor_name(obj: Any) -> str:
        return str(obj.data.get("actor_name", ""))

    @staticmethod
    def resolve_actor_role(obj: Any) -> str:
        return str(obj.data.get("actor_role", ""))

    @staticmethod
    def resolve_entity_label(obj: Any) -> str:
        return str(obj.data.get("entity_label", ""))

    @staticmethod
    def resolve_old(obj: Any) -> dict[str, Any]:
        return dict(obj.data.get("old") or {})

    @staticmethod
    def resolve_new(obj: Any) -> dict[str, Any]:
        return dict(obj.data.get("new") or {})

    @staticmethod
    def resolve_reason(obj: Any) -> str:
        return str(obj.data.get("reason", ""))

    @staticmethod
    def resolve_signature_meaning(obj: Any) -> str | None:
        value = obj.data.get("signature_meaning")
        return None if value is None else str(value)

    @staticmethod
    def resolve_record_hash(obj: Any) -> str | None:
        value = obj.data.get("record_hash")
        return None if value is None else str(value)

    @staticmethod
    def resolve_request_id(obj: Any) -> str:
        return str(obj.data.get("request_id", ""))

    @staticmethod
    def resolve_client_id(obj: Any) -> str:
        return str(obj.data.get("client_id", ""))

    @staticmethod
    def resolve_entry_hash(obj: Any) -> str:
        return str(obj.entry_hash_hex)


class AuditEventDetailOut(AuditEventOut):
    previous_entry_hash: str

    @staticmethod
    def resolve_previous_entry_hash(obj: Any) -> str:
        return str(obj.previous_entry_hash_hex)


class AuditEventPage(Schema):
    items: list[AuditEventOut]
    next_before_seq: int | None = Field(
        description="Pass as before_seq to fetch the next (older) page; null at the end."
    )


class SignatureOut(Schema):
    id: int
    printed_name: str
    signer_id: int
    signed_at: dt.datetime
    meaning: str
    record_type: str
    record_id: str
    record_digest: str
    status: str
    comment: str
    audit_seq: int


class SignIn(StrictIn):
    record_type: str = Field(min_length=3, max_length=60, examples=["audit.auditreview"])
    record_id: str = Field(min_length=1, max_length=64)
    meaning: str = Field(min_length=1, max_length=20)
    password: str = Field(min_length=1, max_length=1024)
    otp_token: str = Field(default="", max_length=12)
    comment: str = Field(default="", max_length=2000)
    expected_digest: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="The record's digest as the signer read it "
        "(GET /signatures/{record_type}/{record_id}/content): if the record changed since, "
        "nothing is signed (409 record_changed).",
    )


class SignableOut(Schema):
    """What a signature on the record binds now, and its SHA-256 (21 CFR 11.70)."""

    record_type: str
    record_id: str
    label: str
    meanings: list[str]
    content: dict[str, Any]
    digest: str


class WithdrawIn(StrictIn):
    signature_id: IdIn
    reason: str = Field(min_length=1, max_length=2000)


class AuditReviewOut(Schema):
    id: int
    from_seq: int
    to_seq: int
    to_hash: str
    summary: dict[str, Any]
    conclusion: str
    created_by_id: int
    created_at: dt.datetime


class AuditReviewIn(StrictIn):
    conclusion: str = Field(min_length=1, max_length=5000)
