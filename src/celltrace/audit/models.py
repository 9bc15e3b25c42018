"""The ledger, its head, checkpoints, electronic signatures and audit-trail reviews.

``AuditEvent`` and ``Signature`` are append-only: triggers installed by migration 0002 reject
UPDATE, DELETE (and TRUNCATE on PostgreSQL) on both backends.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from celltrace.audit.choices import Action, SignatureMeaning
from celltrace.core.models import Organisation, TenantOwned


class BodyKey(models.Func):
    """A top-level field of an entry's sealed body, as SQL (for filters and indexes).

    SQLite: ``json_extract(body, '$.key')``; PostgreSQL: ``(body::jsonb ->> 'key')``, cast to
    bigint for integer keys. Both are deterministic, so they can back expression indexes.
    """

    output_field = models.TextField()

    def __init__(self, key: str, *, integer: bool = False) -> None:
        if not key.isidentifier():
            raise ValueError(f"bad body key {key!r}")
        self.key = key
        self.integer = integer
        output: models.Field[Any, Any] = models.BigIntegerField() if integer else models.TextField()
        super().__init__(models.F("body"), output_field=output)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"json_extract({sql}, '$.{self.key}')", params

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        expr = f"(({sql})::jsonb ->> '{self.key}')"
        return (f"({expr})::bigint" if self.integer else expr), params

    def deconstruct(self) -> Any:
        path, _, _ = super().deconstruct()
        return path, (self.key,), {"integer": self.integer}


_FIELD_ALIASES = {
    "timestamp_utc": "f_timestamp",
    "actor_id": "f_actor",
    "organisation_id": "f_organisation",
}


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def where(self, **fields: Any) -> AuditEventQuerySet:
        """Filter on body fields: ``where(event_type="LOGGED_IN", entity_id="3")``."""
        lookups = {}
        for key, value in fields.items():
            name, _, op = key.partition("__")
            alias = _FIELD_ALIASES.get(name, f"f_{name}")
            lookups[f"{alias}__{op}" if op else alias] = value
        return self.with_fields().filter(**lookups)

    def event_type_counts(self) -> dict[str, int]:
        """How many entries of each event type, counted in SQL over the expression index."""
        grouped = self.annotate(kind=BodyKey("event_type")).values("kind")
        return {row["kind"]: row["n"] for row in grouped.annotate(n=models.Count("seq"))}

    def with_fields(self) -> AuditEventQuerySet:
        """Annotate the body fields the ledger browser filters on."""
        return self.annotate(
            f_timestamp=BodyKey("timestamp_utc"),
            f_actor=BodyKey("actor_id", integer=True),
            f_organisation=BodyKey("organisation_id", integer=True),
            f_action=BodyKey("action"),
            f_event_type=BodyKey("event_type"),
            f_entity_type=BodyKey("entity_type"),
            f_entity_id=BodyKey("entity_id"),
        )


class SeqField(models.BigIntegerField):  # type: ignore[type-arg]
    """The ledger sequence number; on SQLite the table's rowid (``INTEGER PRIMARY KEY``).

    SQLite stores a table in rowid order, so making ``seq`` the rowid lets verification read
    entries in one sequential scan instead of an index lookup per row. It holds 64-bit values
    on both backends.
    """

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "sqlite":
            return "integer"
        return super().db_type(connection)


class AuditEvent(models.Model):
    """One ledger entry: its sequence number, its sealed canonical body and its hash.

    ``body`` is the exact canonical JSON that was hashed, holding every field of the entry
    (who, when, what, old and new values, why). ``entry_hash`` = SHA-256(0x00 ‖ previous
    entry's hash ‖ body); the previous hash is the entry before's ``entry_hash``. Nothing else
    is stored, so there is no copy of a field that could drift from what was sealed: the
    browser filters through expression indexes over the body itself.
    """

    seq = SeqField(primary_key=True)
    body = models.TextField()
    entry_hash = models.BinaryField(max_length=32)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        db_table = "audit_event"
        ordering = ["-seq"]
        indexes = [
            models.Index(
                BodyKey("entity_type"), BodyKey("entity_id"), "seq", name="audit_event_entity"
            ),
            models.Index(BodyKey("actor_id", integer=True), "seq", name="audit_event_actor"),
            models.Index(BodyKey("event_type"), "seq", name="audit_event_type"),
            models.Index(BodyKey("timestamp_utc"), name="audit_event_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type} {self.entity_type}:{self.entity_id}"

    def get_absolute_url(self) -> str:
        return reverse("audit:event", args=[self.seq])

    @cached_property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded

    @property
    def timestamp_utc(self) -> str:
        return str(self.data.get("timestamp_utc", ""))

    @property
    def actor_id(self) -> int | None:
        return self.data.get("actor_id")

    @property
    def organisation_id(self) -> int | None:
        return self.data.get("organisation_id")

    @property
    def action(self) -> str:
        return str(self.data.get("action", ""))

    @property
    def action_label(self) -> str:
        try:
            return str(Action(self.action).label)
        except ValueError:
            return self.action

    @property
    def event_type(self) -> str:
        return str(self.data.get("event_type", ""))

    @property
    def entity_type(self) -> str:
        return str(self.data.get("entity_type", ""))

    @property
    def entity_id(self) -> str:
        return str(self.data.get("entity_id", ""))

    @property
    def entry_hash_hex(self) -> str:
        return bytes(self.entry_hash).hex()

    @cached_property
    def previous_entry_hash_hex(self) -> str:
        if self.seq == 1:
            return "00" * 32
        prev = AuditEvent.objects.filter(seq=self.seq - 1).values_list("entry_hash", flat=True)
        return bytes(prev[0]).hex() if prev else ""

    @property
    def changes(self) -> list[tuple[str, Any, Any]]:
        old = self.data.get("old") or {}
        new = self.data.get("new") or {}
        keys = sorted(set(old) | set(new))
        return [(k, old.get(k), new.get(k)) for k in keys]


class AuditHead(models.Model):
    """The one-row chain head (docs/design/reliability.md §4.3); locked by every append."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.BinaryField(max_length=32)

    class Meta:
        db_table = "audit_head"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single_row")
        ]

    def __str__(self) -> str:
        return f"head at {self.last_seq}"


class LedgerCheckpoint(models.Model):
    """A convenience copy of a signed checkpoint. The authoritative copy is the exported file."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    note = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    file_name = models.CharField(max_length=200)

    class Meta:
        db_table = "audit_checkpoint"
        ordering = ["-tree_size"]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size}"


class Signature(models.Model):
    """An electronic signature (21 CFR 11.50, 11.70): who, when, what it means, over what.

    ``record_digest`` is SHA-256 over the canonical content of the signed record, including its
    type and id, so a signature copied to another record never verifies.
    """

    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    printed_name = models.CharField(max_length=200)
    signer_role = models.CharField(max_length=30, blank=True)
    signed_at = models.DateTimeField()
    meaning = models.CharField(max_length=20, choices=SignatureMeaning.choices)
    record_type = models.CharField(max_length=60)
    record_id = models.CharField(max_length=64)
    record_digest = models.CharField(max_length=64)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", null=True
    )
    comment = models.TextField(blank=True)
    audit_seq = models.BigIntegerField(unique=True)
    mfa_used = models.BooleanField(default=False)

    class Meta:
        db_table = "audit_signature"
        ordering = ["signed_at", "id"]
        indexes = [models.Index(fields=["record_type", "record_id"], name="audit_sig_record")]

    def __str__(self) -> str:
        return f"{self.printed_name} {self.meaning} {self.record_type}:{self.record_id}"


class SignatureWithdrawal(models.Model):
    """Withdrawing a signature keeps it (append-only) and records who withdrew it and why."""

    signature = models.OneToOneField(Signature, on_delete=models.PROTECT, related_name="withdrawal")
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    withdrawn_at = models.DateTimeField()
    reason = models.TextField()
    audit_seq = models.BigIntegerField(unique=True)

    class Meta:
        db_table = "audit_signature_withdrawal"

    def __str__(self) -> str:
        return f"withdrawal of {self.signature_id}"


class AuditReview(TenantOwned):
    """A periodic review of the audit trail (EU GMP Annex 11 §9), signed by its reviewer."""

    from_seq = models.BigIntegerField(_("from entry"))
    to_seq = models.BigIntegerField(_("to entry"))
    to_hash = models.CharField(_("hash of the last entry reviewed"), max_length=64)
    summary = models.JSONField(_("summary"), default=dict)
    conclusion = models.TextField(_("conclusion"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"))

    SIGNATURE_MEANINGS = (SignatureMeaning.REVIEWED, SignatureMeaning.APPROVED)

    class Meta:
        verbose_name = _("audit review")
        verbose_name_plural = _("audit reviews")
        ordering = ["-to_seq"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(from_seq__gte=1) & models.Q(to_seq__gte=models.F("from_seq")),
                name="audit_auditreview_range",
                violation_error_message="The review range must start at 1 or later and not end "
                "before it starts.",
            )
        ]

    def __str__(self) -> str:
        return gettext("Audit review %(first)s–%(last)s") % {
            "first": self.from_seq,
            "last": self.to_seq,
        }

    def get_absolute_url(self) -> str:
        return reverse("audit:review", args=[self.pk])

    def signature_content(self) -> dict[str, Any]:
        return {
            "from_seq": self.from_seq,
            "to_seq": self.to_seq,
            "to_hash": self.to_hash,
            "summary": self.summary,
            "conclusion": self.conclusion,
            "organisation_id": self.organisation_id,
        }
