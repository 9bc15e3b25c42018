"""Bank workflows: processing a collection into aliquots (placed at once), distributions
released by QA's signature (consent checks, custody on the ledger), and their refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import RequestFactory

from celltrace.audit.choices import SignatureMeaning
from celltrace.audit.models import AuditEvent, Signature
from celltrace.audit.services import record_sign
from celltrace.audit.verification import verify_database
from celltrace.bank import services as bank
from celltrace.bank.choices import (
    AliquotStatus,
    CollectionType,
    ContainerType,
    DistributionStatus,
    EventType,
    ProductType,
    ShippingCondition,
    Use,
)
from celltrace.bank.models import Aliquot, BankBatch, Distribution, DistributionItem, Product
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.storage.models import Placement
from tests.bank import factories
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def ledger_count() -> int:
    return AuditEvent.objects.count()


def request_for(user: Any) -> Any:
    req = RequestFactory().post("/sign/")
    req.user = user
    req.META["REMOTE_ADDR"] = "127.0.0.1"
    return req


def sign_release(user: Any, dist: Distribution) -> Signature:
    return record_sign(
        request=request_for(user),
        actor=user,
        record=dist,
        meaning=SignatureMeaning.RELEASED,
        password=PASSWORD,
    )


def collection(tech: Any, org: Any, ref: str = "D-P1", **consent: bool) -> Any:
    donor = factories.donor(tech, org, ref, **consent)
    return bank.collection_create(
        actor=tech,
        donor=donor,
        collection_type=CollectionType.APHERESIS,
        collected_at=dt.datetime(2026, 2, 1, 8, 0, tzinfo=dt.UTC),
        volume_ml=Decimal("180.00"),
        sprec_code="CEL-ACD-A-M-N-N-C",
    )


def process(tech: Any, coll: Any, count: int = 4, **kw: Any) -> bank.ProcessingResult:
    values: dict[str, Any] = {
        "product_type": ProductType.PBMC,
        "pdc": "S9001",
        "isbt_collection_type": "1",
        "count": count,
        "container_type": ContainerType.CRYOVIAL_1_8,
        "volume_ul": Decimal("1000.0"),
        "cell_count": 10_000_000,
        "viability_pct": Decimal("94.00"),
        "processed_at": dt.datetime(2026, 2, 1, 12, 0, tzinfo=dt.UTC),
    }
    values.update(kw)
    return bank.collection_process(actor=tech, collection=coll, **values)


# --- processing -----------------------------------------------------------------------------


def test_processing_makes_a_product_and_aliquots_placed_together_in_one_entry(
    tech: Any, client_a: Any, store: dict[str, Any]
) -> None:
    coll = collection(tech, client_a)
    before = ledger_count()
    result = process(tech, coll, 5, place=True, unit=store["unit"], reason="run 12")
    assert ledger_count() == before + 1
    entry = AuditEvent.objects.with_fields().get(seq=result.ledger_seq)
    assert entry.event_type == EventType.COLLECTION_PROCESSED
    assert [a.division for a in result.aliquots] == ["A0", "B0", "C0", "D0", "E0"]
    assert {a.status for a in result.aliquots} == {AliquotStatus.QUARANTINE}
    assert all(a.batch_id == result.batch.pk for a in result.aliquots)
    labels = list(
        Placement.objects.filter(aliquot__in=result.aliquots, removed_at__isnull=True)
        .order_by("aliquot_id")
        .values_list("position__box__name", "position__label")
    )
    assert labels == [("B1", "A1"), ("B1", "A2"), ("B1", "A3"), ("B1", "A4"), ("B1", "A5")]
    assert result.placed == 5
    # a second run of the same PDC continues the divisions
    again = process(tech, coll, 2)
    assert [a.division for a in again.aliquots] == ["F0", "G0"]
    assert verify_database().ok


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 27}, "count"),
        ({"viability_pct": Decimal("101")}, "viability_pct"),
        ({"volume_ul": Decimal("-1")}, "volume_ul"),
        ({"pdc": "XX"}, "pdc"),
        ({"processed_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}, "processed_at"),
    ],
)
def test_processing_refuses_bad_input_and_writes_nothing(
    tech: Any, client_a: Any, change: dict[str, Any], field: str
) -> None:
    coll = collection(tech, client_a)
    before = (ledger_count(), Product.objects.count(), Aliquot.objects.count())
    with pytest.raises(Invalid) as info:
        process(tech, coll, **change)
    assert info.value.field == field
    assert (ledger_count(), Product.objects.count(), Aliquot.objects.count()) == before


def test_processing_into_a_full_store_writes_nothing(
    tech: Any, client_a: Any, make_user: Any
) -> None:
    small = factories.hierarchy(tech, boxes=1, rows=1, columns=2, code="sm")
    coll = collection(tech, client_a)
    before = (ledger_count(), BankBatch.objects.count(), Aliquot.objects.count())
    with pytest.raises(Conflict) as info:
        process(tech, coll, 3, place=True, unit=small["unit"])
    assert "free positions" in info.value.message
    assert (ledger_count(), BankBatch.objects.count(), Aliquot.objects.count()) == before


def test_only_bank_staff_process(qa_user: Any, tech: Any, client_a: Any) -> None:
    coll = collection(tech, client_a)
    before = ledger_count()
    with pytest.raises(PermissionDenied):
        process(qa_user, coll)
    assert ledger_count() == before and not Product.objects.exists()


# --- distributions --------------------------------------------------------------------------


def stock(
    tech: Any, qa_user: Any, org: Any, n: int, store: dict[str, Any], **consent: bool
) -> list[Aliquot]:
    coll = collection(tech, org, **consent)
    result = process(tech, coll, n, place=True, unit=store["unit"])
    for a in result.aliquots:
        bank.aliquot_set_status(
            actor=qa_user, aliquot=a, status=AliquotStatus.AVAILABLE, reason="QC passed"
        )
    return list(Aliquot.objects.filter(pk__in=[a.pk for a in result.aliquots]).order_by("pk"))


def draft(tech: Any, aliquots: list[Aliquot], use: str = Use.CLINICAL, **kw: Any) -> Distribution:
    return bank.distribution_create(
        actor=tech,
        aliquots=aliquots,
        recipient_name="Ruijin Hospital cell therapy ward",
        recipient_address="197 Ruijin Er Road, Shanghai",
        intended_use=use,
        shipping_conditions=ShippingCondition.LN2_DRY_SHIPPER,
        **kw,
    )


def test_signed_release_issues_the_aliquots_and_ends_their_storage(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    aliquots = stock(tech, qa_user, client_a, 3, store)
    dist = draft(tech, aliquots[:2], recipient_organisation=client_a)
    assert dist.status == DistributionStatus.DRAFT
    before = ledger_count()
    signature = sign_release(qa_user, dist)
    # the signature, one custody entry per aliquot, the distribution's release
    assert ledger_count() == before + 4
    dist.refresh_from_db()
    assert dist.status == DistributionStatus.RELEASED and dist.released_at is not None
    for a in aliquots[:2]:
        a.refresh_from_db()
        assert a.status == AliquotStatus.ISSUED
        assert not Placement.objects.filter(aliquot=a, removed_at__isnull=True).exists()
        entry = (
            AuditEvent.objects.with_fields()
            .filter(f_entity_type="bank.aliquot", f_entity_id=str(a.pk))
            .order_by("-seq")
            .first()
        )
        assert entry is not None and entry.event_type == EventType.ALIQUOT_DISPATCHED
        assert entry.data["new"]["custodian"] == "Ruijin Hospital cell therapy ward"
        assert entry.data["old"]["location"]["box"] == "B1"
    aliquots[2].refresh_from_db()
    assert aliquots[2].status == AliquotStatus.AVAILABLE
    # the signature stays valid: the status it set is not part of the signed content
    from celltrace.audit import signing

    (m,) = signing.manifestations(dist)
    assert m.valid and m.signature.pk == signature.pk
    assert verify_database().ok


@pytest.mark.postgres
def test_a_release_locks_what_it_issues_before_the_ledger(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    """The distribution, its aliquots' boxes and the aliquots are locked before the ledger's
    head, the storage services' order (boxes, aliquots, head): no deadlock with a move."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.locks import lock_statements, locked_tables, locks_only_its_own_table

    dist = draft(tech, stock(tech, qa_user, client_a, 2, store), recipient_organisation=client_a)
    with CaptureQueriesContext(connection) as ctx:
        sign_release(qa_user, dist)
    order = locked_tables(ctx.captured_queries)
    assert order[:4] == ["bank_distribution", "storage_box", "bank_aliquot", "audit_head"], order
    # after the head, the hook locks no box the signing did not hold already
    box_locks = lock_statements(ctx.captured_queries, "storage_box")
    head = next(i for i, q in enumerate(ctx.captured_queries) if "audit_head" in q["sql"])
    held = {sql for i, sql in box_locks if i < head}
    assert held and {sql for i, sql in box_locks if i > head} <= held
    # joined rows (product, collection, donor) are not locked with the aliquots
    aliquot_locks = [sql for _i, sql in lock_statements(ctx.captured_queries, "bank_aliquot")]
    assert aliquot_locks and all(
        locks_only_its_own_table(sql, "bank_aliquot") for sql in aliquot_locks
    ), aliquot_locks


def test_a_release_that_issued_the_aliquots_cannot_be_withdrawn(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    from celltrace.audit.models import SignatureWithdrawal
    from celltrace.audit.services import signature_withdraw

    aliquots = stock(tech, qa_user, client_a, 2, store)
    dist = draft(tech, aliquots, recipient_organisation=client_a)
    signature = sign_release(qa_user, dist)
    before = ledger_count()
    with pytest.raises(Conflict, match="have left the bank"):
        signature_withdraw(actor=qa_user, signature=signature, reason="wrong recipient")
    assert ledger_count() == before and not SignatureWithdrawal.objects.exists()
    dist.refresh_from_db()
    assert dist.status == DistributionStatus.RELEASED
    assert {a.status for a in Aliquot.objects.filter(pk__in=[a.pk for a in aliquots])} == {
        AliquotStatus.ISSUED
    }
    assert verify_database().ok


def test_distribution_outside_consent_is_refused_and_writes_nothing(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    aliquots = stock(tech, qa_user, client_a, 2, store, clinical=False, research=True)
    before = (ledger_count(), Distribution.objects.count(), DistributionItem.objects.count())
    with pytest.raises(Conflict) as info:
        draft(tech, aliquots, use=Use.CLINICAL)
    assert "no active consent covering Clinical use" in info.value.message
    assert "D-P1" in info.value.message
    assert (ledger_count(), Distribution.objects.count(), DistributionItem.objects.count()) == (
        before
    )
    # research use is covered
    assert draft(tech, aliquots, use=Use.RESEARCH).status == DistributionStatus.DRAFT


def test_consent_withdrawn_after_drafting_blocks_the_signature(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    aliquots = stock(tech, qa_user, client_a, 1, store)
    dist = draft(tech, aliquots)
    donor = aliquots[0].product.collection.donor
    for consent in donor.consents.all():
        bank.consent_withdraw(actor=tech, consent=consent, reason="donor called")
    before = ledger_count()
    with pytest.raises(PermissionDenied) as info:
        sign_release(qa_user, dist)
    assert "no active consent" in info.value.message
    assert ledger_count() == before
    assert not Signature.objects.filter(record_id=str(dist.pk)).exists()
    aliquots[0].refresh_from_db()
    assert aliquots[0].status == AliquotStatus.AVAILABLE
    assert Placement.objects.filter(aliquot=aliquots[0], removed_at__isnull=True).exists()


def test_release_needs_qa_other_than_the_author(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any], make_user: Any, operator: Any
) -> None:
    aliquots = stock(tech, qa_user, client_a, 1, store)
    both = make_user(operator, "bank_technician", "qa", username="both", full_name="Bo Th")
    dist = draft(both, aliquots)
    before = ledger_count()
    for who in (tech, both):
        with pytest.raises(PermissionDenied):
            sign_release(who, dist)
    assert ledger_count() == before
    dist.refresh_from_db()
    assert dist.status == DistributionStatus.DRAFT


def test_distribution_refusals(
    tech: Any, qa_user: Any, client_a: Any, client_b: Any, store: dict[str, Any]
) -> None:
    aliquots = stock(tech, qa_user, client_a, 2, store)
    quarantined = process(tech, collection(tech, client_a, "D-Q"), 1).aliquots
    before = (ledger_count(), Distribution.objects.count())
    with pytest.raises(Conflict) as info:
        draft(tech, quarantined)
    assert "Quarantine" in info.value.message
    with pytest.raises(Invalid) as info2:
        draft(tech, aliquots, recipient_organisation=client_b)
    assert info2.value.field == "recipient_organisation"
    with pytest.raises(Invalid):
        draft(tech, [])
    with pytest.raises(PermissionDenied):
        draft(qa_user, aliquots)
    assert (ledger_count(), Distribution.objects.count()) == before
    first = draft(tech, aliquots[:1])
    with pytest.raises(Conflict) as info3:
        draft(tech, aliquots)
    assert first.number in info3.value.message
    bank.distribution_cancel(actor=tech, distribution=first, reason="wrong recipient")
    assert draft(tech, aliquots).items.count() == 2


def test_cancelled_distribution_cannot_be_signed_or_cancelled_again(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    aliquots = stock(tech, qa_user, client_a, 1, store)
    dist = draft(tech, aliquots)
    bank.distribution_cancel(actor=tech, distribution=dist, reason="courier unavailable")
    before = ledger_count()
    with pytest.raises(Conflict):
        bank.distribution_cancel(actor=tech, distribution=dist, reason="again")
    dist.refresh_from_db()
    with pytest.raises(PermissionDenied):
        sign_release(qa_user, dist)
    assert ledger_count() == before
