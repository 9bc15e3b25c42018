"""Bank services: encryption at rest, masking, reveal, consent, DINs, SPREC, life cycle, bulk."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.bank import crypto, isbt128
from celltrace.bank import services as bank
from celltrace.bank.choices import (
    ALLOWED_TRANSITIONS,
    AliquotStatus,
    CollectionType,
    ContainerType,
    EventType,
    ProductType,
    Use,
)
from celltrace.bank.models import Aliquot, Collection, Consent, Donor
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.storage import services as storage
from celltrace.storage.models import Placement, Position
from tests.bank import factories

pytestmark = pytest.mark.django_db


def ledger_count() -> int:
    return AuditEvent.objects.count()


# --- donors: encryption at rest, masking, reveal -----------------------------------------


def test_personal_data_is_encrypted_at_rest(tech: Any, client_a: Any) -> None:
    donor = factories.donor(tech, client_a)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name_enc, national_id_enc, phone_enc, date_of_birth_enc FROM bank_donor "
            "WHERE id = %s",
            [donor.pk],
        )
        raw = " ".join(cursor.fetchone())
    for plain in ("Zhang", "Wei", "110101199003071234", "1234", "138", "1990-03-07"):
        assert plain not in raw
    assert raw.startswith("v1.")
    assert donor.personal("name") == "Zhang Wei"
    # nor does the ledger hold any of it
    bodies = " ".join(AuditEvent.objects.values_list("body", flat=True))
    assert "Zhang" not in bodies and "110101199003071234" not in bodies


def test_a_ciphertext_only_decrypts_in_its_own_column(tech: Any, client_a: Any) -> None:
    donor = factories.donor(tech, client_a)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(donor.name_enc, purpose="bank.donor.phone")


def test_key_from_the_environment_is_used_and_required(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    key = "A" * 43 + "="  # 32 zero-ish bytes in base64
    monkeypatch.setenv(crypto.KEY_ENV, key)
    token = crypto.encrypt("secret", purpose="x")
    assert token.split(".")[1] == crypto.key_id(crypto.current_key())
    monkeypatch.delenv(crypto.KEY_ENV)
    with pytest.raises(crypto.DecryptionError):  # the derived development key differs
        crypto.decrypt(token, purpose="x")
    monkeypatch.setenv(crypto.PREVIOUS_ENV, key)  # an old key still decrypts
    assert crypto.decrypt(token, purpose="x") == "secret"
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "celltrace.config.production")
    settings.SETTINGS_MODULE = None  # as under an override: the environment names the module
    settings.DEBUG = False
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt("secret", purpose="x")


def test_masks() -> None:
    assert crypto.mask_name("Zhang Wei") == "Z**** W**"
    assert crypto.mask_tail("110101199003071234") == "**************1234"
    assert crypto.mask_date("1990-03-07") == "1990-**-**"


def test_reveal_needs_a_reason_and_an_operator_role_and_is_on_the_ledger(
    tech: Any, client_a: Any, operator: Any, make_user: Any
) -> None:
    donor = factories.donor(tech, client_a)
    assert donor.masked["name"] == "Z**** W**"
    others = (make_user(operator, "qc_analyst"), make_user(client_a, "client_user"))
    before = ledger_count()
    with pytest.raises(Invalid):
        bank.donor_reveal(actor=tech, donor=donor, reason="  ")
    for who in others:
        with pytest.raises(PermissionDenied):
            bank.donor_reveal(actor=who, donor=donor, reason="curious")
    assert ledger_count() == before
    values = bank.donor_reveal(actor=tech, donor=donor, reason="recall call-back, CAPA-12")
    assert values["national_id"] == "110101199003071234"
    entry = AuditEvent.objects.order_by("-seq").first()
    assert entry is not None
    assert entry.data["event_type"] == EventType.DONOR_REVEALED
    assert entry.data["reason"] == "recall call-back, CAPA-12"
    assert "110101199003071234" not in entry.body


def test_donor_reference_unique_per_organisation_only(
    tech: Any, client_a: Any, client_b: Any
) -> None:
    bank.donor_create(actor=tech, organisation=client_a, reference="R-1")
    bank.donor_create(actor=tech, organisation=client_b, reference="R-1")
    before = (Donor.objects.count(), ledger_count())
    with pytest.raises(Conflict):
        bank.donor_create(actor=tech, organisation=client_a, reference="R-1")
    assert (Donor.objects.count(), ledger_count()) == before


# --- collections ---------------------------------------------------------------------------


def test_collection_gets_a_din_from_the_facility_fin_with_its_check_character(
    tech: Any, client_a: Any, settings: Any
) -> None:
    settings.CELLTRACE_FACILITY_FIN = "W0000"
    donor = factories.donor(tech, client_a)
    made = [
        bank.collection_create(
            actor=tech,
            donor=donor,
            collection_type=CollectionType.APHERESIS,
            collected_at=dt.datetime(2025, 6, 1, 8, tzinfo=dt.UTC),
            volume_ml=Decimal("200"),
            sprec_elements={
                "type_of_sample": "CEL",
                "primary_container": "ACD",
                "pre_centrifugation": "A",
                "centrifugation": "M",
                "long_term_storage": "C",
            },
        )
        for _ in range(2)
    ]
    assert [c.din for c in made] == ["W000025000001", "W000025000002"]
    assert made[0].sprec_code == "CEL-ACD-A-M-N-N-C"
    assert made[0].check_character == isbt128.check_character("W000025000001")
    entry = (
        AuditEvent.objects.where(event_type=EventType.COLLECTION_CREATED).order_by("seq").first()
    )
    assert entry is not None and entry.data["new"]["check_character"] == made[0].check_character


def test_collection_refusals(tech: Any, client_a: Any) -> None:
    donor = bank.donor_create(actor=tech, organisation=client_a, reference="NC-1")
    kwargs: dict[str, Any] = {
        "actor": tech,
        "donor": donor,
        "collection_type": CollectionType.PERIPHERAL_BLOOD,
        "collected_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "volume_ml": Decimal("10"),
    }
    before = (Collection.objects.count(), ledger_count())
    with pytest.raises(Conflict, match="no active consent"):
        bank.collection_create(**kwargs)
    assert (Collection.objects.count(), ledger_count()) == before
    bank.consent_record(actor=tech, donor=donor, version="1", signed_on=dt.date(2026, 1, 1))
    before = (Collection.objects.count(), ledger_count())
    with pytest.raises(Invalid, match="SPREC"):
        bank.collection_create(**kwargs, sprec_code="CEL-QQQ-A-M-N-N-C")
    with pytest.raises(Invalid, match="DIN"):
        bank.collection_create(**kwargs, din="O999925000001")
    with pytest.raises(Invalid, match="time zone"):
        bank.collection_create(**{**kwargs, "collected_at": dt.datetime(2026, 1, 1)})  # noqa: DTZ001
    assert (Collection.objects.count(), ledger_count()) == before


# --- aliquots: divisions, genealogy, life cycle, consent --------------------------------------


@pytest.fixture
def product(tech: Any, client_a: Any) -> Any:
    donor = factories.donor(tech, client_a, clinical=False, research=True)
    coll = bank.collection_create(
        actor=tech,
        donor=donor,
        collection_type=CollectionType.APHERESIS,
        collected_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        volume_ml=Decimal("180"),
    )
    return bank.product_create(
        actor=tech,
        collection=coll,
        product_type=ProductType.T_CELLS,
        pdc="S9002",
        isbt_collection_type="1",
    )


def new_aliquot(tech: Any, product: Any, parent: Any = None, volume: str = "1000") -> Aliquot:
    """5,000,000 cells in 1000 µL; a child holds its share of them (children never hold more
    cells than their parent)."""
    return bank.aliquot_create(
        actor=tech,
        product=product,
        container_type=ContainerType.CRYOVIAL_1_8,
        volume_ul=Decimal(volume),
        cell_count=int(5_000 * Decimal(volume)),
        viability_pct=Decimal("95.1"),
        parent=parent,
    )


def test_divisions_and_genealogy(tech: Any, product: Any) -> None:
    a, b = new_aliquot(tech, product), new_aliquot(tech, product)
    assert (a.division, b.division) == ("A0", "B0")
    child1, child2 = new_aliquot(tech, product, a, "400"), new_aliquot(tech, product, a, "400")
    assert (child1.division, child2.division) == ("Aa", "Ab")
    assert list(a.children.order_by("pk")) == [child1, child2]
    assert a.status == AliquotStatus.QUARANTINE
    assert str(a.product_code.data_structure) == "=<S90021A0"
    with pytest.raises(Invalid, match="first-level"):
        new_aliquot(tech, product, child1, "100")


def test_children_never_exceed_their_parents_volume(tech: Any, product: Any) -> None:
    parent = new_aliquot(tech, product)
    new_aliquot(tech, product, parent, "600")
    before = (Aliquot.objects.count(), AuditEvent.objects.count())
    with pytest.raises(Invalid, match="more than the 400 µL left of parent") as exc:
        new_aliquot(tech, product, parent, "400.5")
    assert exc.value.field == "volume_ul"
    assert (Aliquot.objects.count(), AuditEvent.objects.count()) == before
    assert new_aliquot(tech, product, parent, "400").volume_ul == Decimal("400")


def test_every_transition_outside_the_table_is_refused_and_changes_nothing(
    tech: Any, client_a: Any
) -> None:
    for old in AliquotStatus.values:
        for new in AliquotStatus.values:
            if new in ALLOWED_TRANSITIONS[old]:
                continue
            a = factories.aliquots(tech, client_a, 1, reference=f"T-{old}-{new}", status=old)[0]
            before = ledger_count()
            with pytest.raises(Invalid):
                bank.aliquot_set_status(
                    actor=tech,
                    aliquot=a,
                    status=new,
                    reason="test",
                    use=Use.RESEARCH,
                )
            a.refresh_from_db()
            assert a.status == old and ledger_count() == before


def test_life_cycle_release_reserve_issue(
    tech: Any, product: Any, operator: Any, make_user: Any, store: dict[str, Any]
) -> None:
    qa = make_user(operator, "qa")
    a = new_aliquot(tech, product)
    box = store["boxes"][0]
    storage.aliquot_place(
        actor=tech, aliquot=a, box=box, position=Position.objects.get(box=box, label="A1")
    )
    before = ledger_count()
    with pytest.raises(PermissionDenied, match="QA"):  # release is QA's
        bank.aliquot_set_status(actor=tech, aliquot=a, status="available", reason="ok")
    assert ledger_count() == before
    bank.aliquot_set_status(actor=qa, aliquot=a, status="available", reason="QC passed")
    bank.aliquot_set_status(actor=tech, aliquot=a, status="reserved", reason="order 7")
    # the donor consented to research only: clinical issue is refused, nothing changes
    before = ledger_count()
    with pytest.raises(Conflict, match="no active consent covering Clinical use"):
        bank.aliquot_set_status(
            actor=tech, aliquot=a, status="issued", reason="ship", use=Use.CLINICAL
        )
    a.refresh_from_db()
    assert a.status == AliquotStatus.RESERVED and ledger_count() == before
    assert Placement.objects.filter(aliquot=a, removed_at__isnull=True).exists()
    with pytest.raises(Invalid, match="clinical or research"):
        bank.aliquot_set_status(actor=tech, aliquot=a, status="issued", reason="ship")
    issued = bank.aliquot_set_status(
        actor=tech, aliquot=a, status="issued", reason="ship", use=Use.RESEARCH
    )
    assert issued.status == AliquotStatus.ISSUED
    # leaving the bank ends the placement in the same transaction, with the location recorded
    assert not Placement.objects.filter(aliquot=a, removed_at__isnull=True).exists()
    entry = AuditEvent.objects.order_by("-seq").first()
    assert entry is not None
    assert entry.data["old"]["location"]["position"] == "A1"
    assert entry.data["new"] == {
        "status": "issued",
        "thaw_count": 0,
        "use": "research",
        "location": None,
    }
    assert verify_database().ok


def test_withdrawn_consent_refuses_issue(tech: Any, client_a: Any) -> None:
    a = factories.aliquots(tech, client_a, 1, reference="W-1")[0]
    consent = Consent.objects.get(donor__reference="W-1")
    bank.consent_withdraw(actor=tech, consent=consent, reason="donor request")
    with pytest.raises(Conflict, match="no active consent"):
        bank.aliquot_set_status(
            actor=tech, aliquot=a, status="issued", reason="x", use=Use.RESEARCH
        )
    with pytest.raises(Conflict, match="already withdrawn"):
        bank.consent_withdraw(actor=tech, consent=consent, reason="again")


def test_thaw_counts(tech: Any, client_a: Any) -> None:
    a = factories.aliquots(tech, client_a, 1, reference="TH-1")[0]
    thawed = bank.aliquot_set_status(actor=tech, aliquot=a, status="thawed", reason="assay")
    assert thawed.thaw_count == 1


# --- bulk creation -------------------------------------------------------------------------


def test_bulk_creation_writes_one_ledger_entry_with_digests(
    tech: Any, client_a: Any, store: dict[str, Any]
) -> None:
    box = store["boxes"][0]
    positions = list(box.positions.order_by("row", "col")[:30])
    before = ledger_count()
    made = factories.aliquots(tech, client_a, 30, reference="BULK-1", positions=positions)
    assert ledger_count() == before + 1
    entry = AuditEvent.objects.order_by("-seq").first()
    assert entry is not None and entry.data["event_type"] == EventType.BANK_BATCH_CREATED
    assert entry.data["new"]["aliquots"]["rows"] == 30
    assert entry.data["new"]["placements"]["rows"] == 30
    assert len({a.din for a in made}) == 2  # 25 per collection
    assert Placement.objects.filter(aliquot__in=made, removed_at__isnull=True).count() == 30
    assert made[0].batch is not None and made[0].batch.ledger_seq == entry.seq
    assert verify_database().ok


def test_bulk_creation_is_all_or_nothing(tech: Any, client_a: Any, store: dict[str, Any]) -> None:
    box = store["boxes"][0]
    taken = box.positions.order_by("row", "col")[0]
    factories.aliquots(tech, client_a, 1, reference="OCC-1", positions=[taken])
    counts = (Donor.objects.count(), Aliquot.objects.count(), ledger_count())
    with pytest.raises(Conflict, match="already occupied: A1"):
        factories.aliquots(
            tech,
            client_a,
            3,
            reference="OCC-2",
            positions=[taken, *list(box.positions.order_by("row", "col")[1:3])],
        )
    with pytest.raises(Invalid, match="unknown product key"):
        bank.bank_batch_create(
            actor=tech,
            data=bank.BankBatchInput(
                organisation=client_a,
                source="t",
                aliquots=[bank.AliquotRow("nope", "A0", ContainerType.CRYOBAG, Decimal("1"))],
            ),
            reason="x",
        )
    assert (Donor.objects.count(), Aliquot.objects.count(), ledger_count()) == counts
