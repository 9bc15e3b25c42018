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
from django.utils.translation import gettext_lazy as _

from celltrace.audit.choices import Action, SignatureMeaning
from celltrace.core.models import Organisation, TenantOwned


class AuditEvent(models.Model):
    """One ledger entry.

    ``body`` holds the exact canonical bytes that were hashed (every field of the entry:
    who, when, what, old and new values, why). The indexed columns beside it are projections
    of the body for browsing; ``celltrace audit verify`` checks each against the body, so a
    change to any byte of any column is detected.
    """

    seq = models.BigIntegerField(primary_key=True)
    timestamp_utc = models.CharField(max_length=27, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    event_type = models.CharField(max_length=60, db_index=True)
    entity_type = models.CharField(max_length=60)
    entity_id = models.CharField(max_length=64)
    body = models.BinaryField()
    previous_entry_hash = models.BinaryField(max_length=32)
    entry_hash = models.BinaryField(max_length=32)

    class Meta:
        db_table = "audit_event"
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["entity_type", "entity_id", "seq"], name="audit_event_entity"),
            models.Index(fields=["actor", "seq"], name="audit_event_actor"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type} {self.entity_type}:{self.entity_id}"

    def get_absolute_url(self) -> str:
        return reverse("audit:event", args=[self.seq])

    @cached_property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(bytes(self.body))
        return loaded

    @property
    def entry_hash_hex(self) -> str:
        return bytes(self.entry_hash).hex()

    @property
    def previous_entry_hash_hex(self) -> str:
        return bytes(self.previous_entry_hash).hex()

    @property
    def changes(self) -> list[tuple[str, Any, Any]]:
        old = self.data.get("old") or {}
        new = self.data.get("new") or {}
        keys = sorted(set(old) | set(new))
        return [(k, old.get(k), new.get(k)) for k in keys]


class AuditHead(models.Model):
    """The one-row chain head (reliability guide §4.3); locked by every append."""

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
        return f"Audit review {self.from_seq}–{self.to_seq}"

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
