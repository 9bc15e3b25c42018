"""Rules of the UI review (ui.md items 5 and 12) on the aliquots the bank makes (the delivery
address of a clinical distribution is in test_distribution_address.py):

- new aliquots are not made already expired: an expiry given to ``collection_process`` or
  ``aliquot_create`` lies after now (UTC), refused naming ``expiry``; existing stock recorded by
  ``bank_batch_create`` or the inventory import keeps its (possibly past) expiry, and children
  of a division keep their parent's;
- dividing an aliquot states the total asked against what is left of the parent, and the
  aliquot page shows what its children have left of its volume and cells.

Every refusal changes nothing (row counts and ledger entries before and after).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from celltrace.audit.models import AuditEvent, Signature
from celltrace.bank import services as bank
from celltrace.bank.choices import (
    AliquotStatus,
    CollectionType,
    ContainerType,
    ProductType,
)
from celltrace.bank.models import Aliquot, BankBatch, Distribution, Product
from celltrace.core.errors import Invalid
from celltrace.core.services import api_token_create
from tests.bank import factories
from tests.bank.test_workflows import collection, process
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def bank_counts() -> tuple[int, ...]:
    return (
        Product.objects.count(),
        Aliquot.objects.count(),
        BankBatch.objects.count(),
        Distribution.objects.count(),
        Signature.objects.count(),
        AuditEvent.objects.count(),
    )


def bearer(user: Any) -> Client:
    return Client(HTTP_AUTHORIZATION="Bearer " + api_token_create(actor=user, name="t").secret)


def web(user: Any) -> Client:
    client = Client()
    assert (
        client.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    )
    return client


# --- expiry of new aliquots -----------------------------------------------------------------

PAST_EXPIRIES: dict[str, Any] = {
    "2020-01-01 (the review's)": lambda: dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    "a minute ago": lambda: now() - dt.timedelta(minutes=1),
    "now, in another zone": lambda: now().astimezone(dt.timezone(dt.timedelta(hours=8))),
}


@pytest.mark.parametrize("when", PAST_EXPIRIES)
def test_processing_refuses_an_expiry_not_after_now(tech: Any, client_a: Any, when: str) -> None:
    coll = collection(tech, client_a)
    before = bank_counts()
    with pytest.raises(Invalid) as refused:
        process(tech, coll, 4, expiry=PAST_EXPIRIES[when]())
    assert refused.value.field == "expiry"
    assert "not after now" in refused.value.message
    assert bank_counts() == before


def test_processing_takes_an_expiry_after_now(tech: Any, client_a: Any) -> None:
    coll = collection(tech, client_a)
    soon = now() + dt.timedelta(minutes=5)
    result = process(tech, coll, 2, expiry=soon)
    assert {a.expiry for a in Aliquot.objects.filter(product=result.product)} == {soon}
    assert all(not a.is_expired for a in result.aliquots)


def test_aliquot_create_refuses_an_expiry_not_after_now(tech: Any, client_a: Any) -> None:
    [first] = factories.aliquots(tech, client_a, 1)
    before = bank_counts()
    with pytest.raises(Invalid) as refused:
        bank.aliquot_create(
            actor=tech,
            product=first.product,
            container_type=ContainerType.CRYOVIAL_1_8,
            volume_ul=Decimal("500.0"),
            expiry=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        )
    assert refused.value.field == "expiry"
    assert "2020-01-01 00:00 UTC" in refused.value.message
    assert bank_counts() == before


def test_the_process_page_and_the_api_name_the_expiry(
    tech: Any, client_a: Any, store: dict[str, Any]
) -> None:
    coll = collection(tech, client_a)
    page_client, api = web(tech), bearer(tech)  # logging in is on the ledger
    before = bank_counts()
    page = page_client.post(
        f"/bank/collections/{coll.pk}/process/",
        {
            "product_type": "pbmc",
            "pdc": "S9001",
            "isbt_collection_type": "1",
            "processed_at": "2026-02-03T12:00",
            "count": "4",
            "container_type": "cryovial_1_8ml",
            "volume_ul": "1000",
            "expiry": "2020-01-01T00:00",
            "reason": "run 7",
        },
    )
    assert page.status_code == 200
    errors = page.context["form"].errors
    assert list(errors) == ["expiry"]
    assert "new aliquots cannot be made already expired" in errors["expiry"][0]
    refused = api.post(
        f"/api/v1/collections/{coll.pk}/process",
        json.dumps(
            {
                "product_type": "pbmc",
                "pdc": "S9001",
                "isbt_collection_type": "1",
                "count": 2,
                "container_type": "cryovial_1_8ml",
                "volume_ul": "1000.0",
                "expiry": "2020-01-01T00:00:00Z",
                "processed_at": "2026-02-01T06:00:00Z",
            }
        ),
        content_type="application/json",
    )
    assert refused.status_code == 422, refused.content
    assert refused.json()["field"] == "expiry"
    assert bank_counts() == before


def _legacy_batch(client_a: Any, expiry: dt.datetime) -> bank.BankBatchInput:
    data = bank.BankBatchInput(organisation=client_a, source="legacy inventory")
    data.donors.append(bank.DonorRow(reference="OLD-1", name="Li Na"))
    data.consents.append(bank.ConsentRow("OLD-1", "1.0", dt.date(2019, 1, 1), True, True, True))
    data.collections.append(
        bank.CollectionRow(
            key="c",
            donor_reference="OLD-1",
            collection_type=CollectionType.APHERESIS,
            collected_at=dt.datetime(2019, 1, 5, 9, 0, tzinfo=dt.UTC),
            volume_ml=Decimal("150.00"),
        )
    )
    data.products.append(bank.ProductRow("p", "c", ProductType.PBMC, factories.PDC, "1"))
    data.aliquots.append(
        bank.AliquotRow(
            product_key="p",
            division="A0",
            container_type=ContainerType.CRYOVIAL_1_8,
            volume_ul=Decimal("1000.0"),
            cell_count=10_000_000,
            expiry=expiry,
            status=AliquotStatus.AVAILABLE,
        )
    )
    return data


def test_existing_stock_keeps_its_past_expiry_in_a_batch(tech: Any, client_a: Any) -> None:
    """``bank_batch_create`` records stock as it is (the demo data and legacy batches use it):
    an aliquot that expired in 2020 is recorded as expired, not refused."""
    expired = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    result = bank.bank_batch_create(
        actor=tech, data=_legacy_batch(client_a, expired), reason="legacy"
    )
    (aliquot,) = Aliquot.objects.filter(batch=result.batch)
    assert aliquot.expiry == expired and aliquot.is_expired


def test_the_inventory_import_keeps_accepting_past_expiries(
    tech: Any, client_a: Any, tmp_path: Path
) -> None:
    from celltrace.bank.isbt128 import check_character
    from celltrace.imports import services as imports
    from celltrace.imports.choices import ImportStatus
    from celltrace.imports.inventory import COLUMN_NAMES

    factories.hierarchy(tech, boxes=1)
    din = "A999925000001"
    values = {
        "donor_reference": "OLD-2",
        "din": din + check_character(din),
        "collection_type": "apheresis",
        "collected_at": "2019-03-02T09:30:00+08:00",
        "collection_volume_ml": "250.00",
        "product_type": "pbmc",
        "product_code": "S1234VA0",
        "frozen_on": "2019-03-02",
        "container": "cryovial_1_8ml",
        "volume_ul": "1000",
        "expires_on": "2020-01-01",
        "status": "quarantine",
        "storage_path": "main/t1/R1/B1",
        "position": "A1",
    }
    path = tmp_path / "inventory.csv"
    path.write_text(
        ",".join(COLUMN_NAMES) + "\n" + ",".join(values.get(c, "") for c in COLUMN_NAMES) + "\n",
        encoding="utf-8",
    )
    run = imports.import_run_create(
        actor=tech,
        organisation=client_a,
        file_name=path.name,
        content=path,
        reason="Legacy inventory",
    )
    run = imports.import_run_execute(run=run)
    assert run.status == ImportStatus.WRITTEN, run.errors
    (aliquot,) = Aliquot.objects.filter(organisation=client_a)
    assert aliquot.expiry == dt.datetime(2020, 1, 1, 23, 59, 59, tzinfo=dt.UTC)


def test_children_keep_their_parents_expiry_even_when_it_has_passed(
    tech: Any, client_a: Any
) -> None:
    """A division makes portions of existing material: the children carry the parent's expiry
    as it is, so they are flagged expired with it (never issued for clinical use)."""
    expired = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    result = bank.bank_batch_create(
        actor=tech, data=_legacy_batch(client_a, expired), reason="legacy"
    )
    (parent,) = Aliquot.objects.filter(batch=result.batch)
    children = bank.aliquot_divide(actor=tech, parent=parent, count=2, volume_ul=Decimal("400"))
    assert [c.expiry for c in children] == [expired, expired]


# --- dividing: the total asked against what is left ------------------------------------------


def test_the_refusal_states_the_total_asked_against_what_is_left(tech: Any, client_a: Any) -> None:
    [parent] = factories.aliquots(tech, client_a, 1)  # 1000.0 µL, 10,000,000 cells
    before = bank_counts()
    with pytest.raises(Invalid) as refused:
        bank.aliquot_divide(actor=tech, parent=parent, count=3, volume_ul=Decimal("500"))
    assert refused.value.field == "volume_ul"
    assert refused.value.message == (
        f"3 × 500 µL = 1500 µL is more than the 1000 µL left of parent {parent} (of 1000 µL)."
    )
    assert bank_counts() == before  # all or nothing

    bank.aliquot_divide(actor=tech, parent=parent, count=2, volume_ul=Decimal("400"))
    with pytest.raises(Invalid) as again:
        bank.aliquot_divide(actor=tech, parent=parent, count=2, volume_ul=Decimal("150.5"))
    assert "2 × 150.5 µL = 301 µL is more than the 200 µL left of parent" in again.value.message
    with pytest.raises(Invalid) as cells:
        bank.aliquot_divide(
            actor=tech, parent=parent, count=3, volume_ul=Decimal("50"), cell_count=4_000_000
        )
    assert cells.value.field == "cell_count"
    # the two children above took no cells: all 10,000,000 are left
    assert cells.value.message == (
        f"3 × 4000000 cells = 12000000 cells are more than the 10000000 cells left of parent "
        f"{parent} (of 10000000 cells)."
    )
    made = bank.aliquot_divide(actor=tech, parent=parent, count=2, volume_ul=Decimal("100"))
    assert len(made) == 2
    assert bank.aliquot_remaining(parent) == bank.Remaining(Decimal("0.0"), 10_000_000, 4)


def test_the_aliquot_page_shows_what_is_left_after_its_children(tech: Any, client_a: Any) -> None:
    [parent] = factories.aliquots(tech, client_a, 1)
    c = web(tech)
    fresh = c.get(f"/bank/aliquots/{parent.pk}/")
    assert fresh.context["remaining"] is None  # no children: the volume is all there is
    assert 'id="volume-left"' not in fresh.content.decode()
    divided = c.post(
        f"/bank/aliquots/{parent.pk}/",
        {
            "action": "divide",
            "divide-count": "2",
            "divide-volume_ul": "400",
            "divide-cell_count": "3000000",
        },
    )
    assert divided.status_code == 302
    page = c.get(f"/bank/aliquots/{parent.pk}/")
    html = page.content.decode()
    assert page.context["remaining"] == bank.Remaining(Decimal("200.0"), 4_000_000, 2)
    assert '<dd id="volume-left">200.0 ' in html and "(2 child aliquots)" in html
    assert '<dd id="cells-left">4000000</dd>' in html
    refused = c.post(
        f"/bank/aliquots/{parent.pk}/",
        {"action": "divide", "divide-count": "3", "divide-volume_ul": "100"},
    )
    assert refused.status_code == 200
    errors = refused.context["divide_form"].errors
    assert list(errors) == ["volume_ul"]
    assert "3 × 100 µL = 300 µL is more than the 200 µL left of parent" in errors["volume_ul"][0]
    # an unknown cell count leaves no "cells left" line
    unknown = bank.aliquot_create(
        actor=tech,
        product=parent.product,
        container_type=ContainerType.CRYOVIAL_5,
        volume_ul=Decimal("1000.0"),
    )
    bank.aliquot_divide(actor=tech, parent=unknown, count=1, volume_ul=Decimal("250"))
    html = c.get(f"/bank/aliquots/{unknown.pk}/").content.decode()
    assert '<dd id="volume-left">750.0 ' in html and 'id="cells-left"' not in html


def test_the_api_refusal_of_a_division_states_the_total(tech: Any, client_a: Any) -> None:
    [parent] = factories.aliquots(tech, client_a, 1)
    api = bearer(tech)
    before = bank_counts()
    refused = api.post(
        f"/api/v1/aliquots/{parent.pk}/children",
        json.dumps({"count": 3, "volume_ul": "500"}),
        content_type="application/json",
    )
    assert refused.status_code == 422, refused.content
    assert refused.json()["field"] == "volume_ul"
    assert "3 × 500 µL = 1500 µL is more than the 1000 µL left" in refused.json()["detail"]
    assert bank_counts() == before
