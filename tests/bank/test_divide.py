"""Dividing an aliquot into child aliquots: the genealogy the aliquot page and the API show.

Children are portions of their parent (together never more than it holds), in quarantine, of
its product, with divisions under its letter (A0 → Aa, Ab …); all or nothing; one ledger entry
each; for bank staff, on the page and through the API; a client never reaches it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from celltrace.audit.models import AuditEvent
from celltrace.bank import services
from celltrace.bank.choices import AliquotStatus, ContainerType
from celltrace.bank.models import Aliquot
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.core.services import api_token_create
from tests.bank import factories

pytestmark = pytest.mark.django_db


def test_divide_makes_children_under_the_parent_and_refuses_an_overdraw(
    tech: Any, qa_user: Any, client_a: Any
) -> None:
    [parent] = factories.aliquots(tech, client_a, 1)  # 1000.0 µL
    before = (Aliquot.objects.count(), AuditEvent.objects.count())
    with pytest.raises(Invalid) as over:
        services.aliquot_divide(actor=tech, parent=parent, count=3, volume_ul=Decimal("400"))
    assert over.value.field == "volume_ul"
    assert (Aliquot.objects.count(), AuditEvent.objects.count()) == before  # all or nothing
    with pytest.raises(PermissionDenied):
        services.aliquot_divide(actor=qa_user, parent=parent, count=1, volume_ul=Decimal("10"))
    made = services.aliquot_divide(
        actor=tech,
        parent=parent,
        count=2,
        volume_ul=Decimal("300.0"),
        container_type=ContainerType.CRYOVIAL_5,
    )
    assert [a.division for a in made] == [parent.division[0] + "a", parent.division[0] + "b"]
    for child in made:
        assert (child.parent_id, child.product_id) == (parent.pk, parent.product_id)
        assert child.status == AliquotStatus.QUARANTINE
        assert child.container_type == ContainerType.CRYOVIAL_5
    assert AuditEvent.objects.count() == before[1] + 2  # one entry per child
    with pytest.raises(Invalid):  # 400 µL left
        services.aliquot_divide(actor=tech, parent=parent, count=1, volume_ul=Decimal("400.1"))
    services.aliquot_set_status(
        actor=tech, aliquot=parent, status=AliquotStatus.DISCARDED, reason="spent", use=""
    )
    parent.refresh_from_db()
    with pytest.raises(Conflict):
        services.aliquot_divide(actor=tech, parent=parent, count=1, volume_ul=Decimal("1"))


def test_divide_on_the_page_and_through_the_api(tech: Any, client_a: Any, make_user: Any) -> None:
    [parent] = factories.aliquots(tech, client_a, 1)
    web = Client()
    web.force_login(tech)
    page = web.get(f"/bank/aliquots/{parent.pk}/").content.decode()
    assert 'id="divide-form"' in page
    done = web.post(
        f"/bank/aliquots/{parent.pk}/",
        {"action": "divide", "divide-count": "2", "divide-volume_ul": "250.0"},
        follow=True,
    )
    assert "2 child aliquots made" in done.content.decode()
    children = list(parent.children.order_by("division"))
    assert len(children) == 2
    for child in children:  # the genealogy: the parent page links the children
        assert f'href="/bank/aliquots/{child.pk}/"' in done.content.decode()

    api = Client(HTTP_AUTHORIZATION="Bearer " + api_token_create(actor=tech, name="t").secret)
    made = api.post(
        f"/api/v1/aliquots/{parent.pk}/children",
        json.dumps({"count": 1, "volume_ul": "100.0"}),
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    [body] = made.json()
    assert body["parent_id"] == parent.pk and body["division"] == parent.division[0] + "c"

    alice = make_user(client_a, "client_user")
    as_client = Client(
        HTTP_AUTHORIZATION="Bearer " + api_token_create(actor=alice, name="c").secret
    )
    count = Aliquot.objects.count()
    refused = as_client.post(
        f"/api/v1/aliquots/{parent.pk}/children",
        json.dumps({"count": 1, "volume_ul": "10.0"}),
        content_type="application/json",
    )
    assert refused.status_code in (403, 404) and Aliquot.objects.count() == count
