"""Range checks on bank input: a donor's date of birth lies between 1900-01-01 and today (UTC),
checked before it is encrypted, and children of an aliquot together never hold more cells than
their parent when its cell count is known. A refusal names its field (service, page and API
alike) and changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from celltrace.audit.models import AuditEvent
from celltrace.bank import services
from celltrace.bank.choices import ContainerType
from celltrace.bank.models import Aliquot, BankBatch, Donor
from celltrace.core.errors import Invalid
from celltrace.core.services import api_token_create
from tests.bank import factories

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def donor_counts() -> tuple[int, int, int]:
    return Donor.objects.count(), BankBatch.objects.count(), AuditEvent.objects.count()


def aliquot_counts() -> tuple[int, int]:
    return Aliquot.objects.count(), AuditEvent.objects.count()


def bearer(user: Any) -> Client:
    return Client(HTTP_AUTHORIZATION="Bearer " + api_token_create(actor=user, name="t").secret)


# --- date of birth --------------------------------------------------------------------------


REFUSED_BIRTHS: dict[str, Any] = {
    "9999-12-31": lambda: dt.date(9999, 12, 31),
    "tomorrow (UTC)": lambda: today() + dt.timedelta(days=1),
    "1899-12-31": lambda: dt.date(1899, 12, 31),
    "0001-01-01": lambda: dt.date(1, 1, 1),
}


@pytest.mark.parametrize("when", REFUSED_BIRTHS)
def test_a_date_of_birth_in_the_future_or_before_1900_is_refused(
    tech: Any, client_a: Any, when: str
) -> None:
    born = REFUSED_BIRTHS[when]()
    before = donor_counts()
    with pytest.raises(Invalid) as refused:
        services.donor_create(
            actor=tech, organisation=client_a, reference="D-9", name="Li Na", date_of_birth=born
        )
    assert refused.value.field == "date_of_birth"
    assert born.isoformat() in refused.value.message and "1900-01-01" in refused.value.message
    assert donor_counts() == before


@pytest.mark.parametrize("born", [dt.date(1900, 1, 1), dt.date(1990, 3, 7), None])
def test_a_date_of_birth_from_1900_to_today_is_stored_encrypted(
    tech: Any, client_a: Any, born: dt.date | None
) -> None:
    born = born or today()
    donor = services.donor_create(
        actor=tech, organisation=client_a, reference="D-9", date_of_birth=born
    )
    assert born.isoformat() not in donor.date_of_birth_enc
    assert Donor.objects.get(pk=donor.pk).personal("date_of_birth") == born.isoformat()


def test_a_bulk_creation_refuses_a_donor_born_in_the_future(tech: Any, client_a: Any) -> None:
    data = services.BankBatchInput(organisation=client_a, source="tests")
    data.donors.append(services.DonorRow(reference="D-1", date_of_birth=dt.date(1980, 5, 1)))
    data.donors.append(services.DonorRow(reference="D-2", date_of_birth=dt.date(9999, 12, 31)))
    before = donor_counts()
    with pytest.raises(Invalid) as refused:
        services.bank_batch_create(actor=tech, data=data, reason="import")
    assert "donor 2: The date of birth 9999-12-31" in refused.value.message
    assert "donor 1" not in refused.value.message
    assert donor_counts() == before


def test_the_donor_form_and_the_api_name_the_date_of_birth(tech: Any, client_a: Any) -> None:
    web, api = Client(), bearer(tech)
    web.force_login(tech)
    before = donor_counts()
    page = web.post(
        "/bank/donors/new/",
        {"organisation": client_a.pk, "reference": "D-9", "date_of_birth": "9999-12-31"},
    )
    assert page.status_code == 200
    errors = page.context["form"].errors
    assert list(errors) == ["date_of_birth"]
    assert "is not between 1900-01-01 and today" in errors["date_of_birth"][0]
    refused = api.post(
        "/api/v1/donors",
        json.dumps(
            {"organisation_id": client_a.pk, "reference": "D-9", "date_of_birth": "9999-12-31"}
        ),
        content_type="application/json",
    )
    assert refused.status_code == 422, refused.content
    assert refused.json()["field"] == "date_of_birth"
    assert donor_counts() == before


# --- cells of child aliquots ----------------------------------------------------------------


def test_children_never_hold_more_cells_than_their_parent(tech: Any, client_a: Any) -> None:
    [parent] = factories.aliquots(tech, client_a, 1)  # 1000.0 µL, 10,000,000 cells
    before = aliquot_counts()
    with pytest.raises(Invalid) as refused:
        services.aliquot_divide(
            actor=tech, parent=parent, count=2, volume_ul=Decimal("400"), cell_count=5_000_001
        )
    assert refused.value.field == "cell_count"
    assert "10000000 cells" in refused.value.message
    assert aliquot_counts() == before  # all or nothing: the first child is not kept

    made = services.aliquot_divide(
        actor=tech, parent=parent, count=2, volume_ul=Decimal("100"), cell_count=4_000_000
    )
    assert [a.cell_count for a in made] == [4_000_000, 4_000_000]
    # a child of unknown cell count takes none; 2,000,000 are left
    services.aliquot_divide(actor=tech, parent=parent, count=1, volume_ul=Decimal("100"))
    before = aliquot_counts()
    with pytest.raises(Invalid) as again:
        services.aliquot_divide(
            actor=tech, parent=parent, count=1, volume_ul=Decimal("100"), cell_count=2_000_001
        )
    assert again.value.field == "cell_count"
    assert "more than the 2000000 cells left of parent" in again.value.message
    assert "(of 10000000 cells)" in again.value.message
    assert aliquot_counts() == before
    services.aliquot_divide(
        actor=tech, parent=parent, count=1, volume_ul=Decimal("100"), cell_count=2_000_000
    )
    assert sum(c.cell_count or 0 for c in parent.children.all()) == 10_000_000


def test_a_parent_of_unknown_cell_count_does_not_limit_its_children(
    tech: Any, client_a: Any
) -> None:
    [first] = factories.aliquots(tech, client_a, 1)
    parent = services.aliquot_create(
        actor=tech,
        product=first.product,
        container_type=ContainerType.CRYOVIAL_5,
        volume_ul=Decimal("1000.0"),
        cell_count=None,
    )
    child = services.aliquot_create(
        actor=tech,
        product=first.product,
        container_type=ContainerType.CRYOVIAL_1_8,
        volume_ul=Decimal("100.0"),
        cell_count=10**18,
        parent=parent,
    )
    assert child.cell_count == 10**18


def test_the_divide_form_and_the_api_name_the_cell_count(tech: Any, client_a: Any) -> None:
    [parent] = factories.aliquots(tech, client_a, 1)
    web, api = Client(), bearer(tech)
    web.force_login(tech)
    before = aliquot_counts()
    page = web.post(
        f"/bank/aliquots/{parent.pk}/",
        {
            "action": "divide",
            "divide-count": "2",
            "divide-volume_ul": "400.0",
            "divide-cell_count": "1000000000000000000",
        },
    )
    assert page.status_code == 200
    errors = page.context["divide_form"].errors
    assert list(errors) == ["cell_count"]
    assert "cells are more than the 10000000 cells left of parent" in errors["cell_count"][0]
    refused = api.post(  # the request of the API review
        f"/api/v1/aliquots/{parent.pk}/children",
        json.dumps({"count": 2, "volume_ul": "400", "cell_count": 1_000_000_000_000_000_000}),
        content_type="application/json",
    )
    assert refused.status_code == 422, refused.content
    assert refused.json()["field"] == "cell_count"
    assert aliquot_counts() == before
