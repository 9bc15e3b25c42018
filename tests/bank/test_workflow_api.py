"""API of the bank workflows and hierarchy building: donor → consent → collection →
processing (placed) → distribution released by QA through POST /signatures; refusals are
problem documents and change nothing; client users get 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.bank.choices import AliquotStatus
from celltrace.bank.models import Aliquot, Collection, Distribution, Donor
from celltrace.core.services import api_token_create
from celltrace.storage.models import Box, Placement, Rack, StorageUnit
from tests.bank import factories
from tests.conftest import PASSWORD, digest_of

pytestmark = pytest.mark.django_db


def api(user: Any) -> Client:
    token = api_token_create(actor=user, name="tests").secret
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def post(c: Client, url: str, body: dict[str, Any]) -> Any:
    return c.post(url, body, content_type="application/json")


def test_the_whole_chain_through_the_api(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any], make_user: Any
) -> None:
    t = api(tech)
    donor = post(
        t,
        "/api/v1/donors",
        {"organisation_id": client_a.pk, "reference": "API-1", "name": "Chen Jie"},
    )
    assert donor.status_code == 201, donor.content
    assert donor.json()["name"] == "C*** J**"
    donor_id = donor.json()["id"]
    consent = post(
        t,
        f"/api/v1/donors/{donor_id}/consents",
        {"version": "2.0", "signed_on": "2026-01-10", "clinical": True, "research": True},
    )
    assert consent.status_code == 201 and consent.json()["clinical"] is True
    coll = post(
        t,
        f"/api/v1/donors/{donor_id}/collections",
        {
            "collection_type": "apheresis",
            "collected_at": "2026-02-01T08:00:00+08:00",
            "volume_ml": "150.00",
            "sprec_code": "CEL-ACD-A-M-N-N-C",
        },
    )
    assert coll.status_code == 201, coll.content
    assert coll.json()["collected_at"].startswith("2026-02-01T00:00:00")
    processed = post(
        t,
        f"/api/v1/collections/{coll.json()['id']}/process",
        {
            "product_type": "t_cells",
            "pdc": "S9002",
            "isbt_collection_type": "1",
            "count": 3,
            "container_type": "cryovial_5ml",
            "volume_ul": "4500.0",
            "viability_pct": "91.20",
            "processed_at": "2026-02-01T06:00:00Z",
            "place": True,
            "unit_id": store["unit"].pk,
        },
    )
    assert processed.status_code == 201, processed.content
    body = processed.json()
    assert body["placed"] == 3
    assert [a["division"] for a in body["aliquots"]] == ["A0", "B0", "C0"]
    assert [a["location"]["position"] for a in body["aliquots"]] == ["A1", "A2", "A3"]
    ids = [a["id"] for a in body["aliquots"]]
    for pk in ids:
        assert (
            post(
                api(qa_user),
                f"/api/v1/aliquots/{pk}/status",
                {"status": "available", "reason": "QC passed"},
            ).status_code
            == 200
        )
    dist = post(
        t,
        "/api/v1/distributions",
        {
            "aliquot_ids": ids[:2],
            "recipient_organisation_id": client_a.pk,
            "recipient_name": "Aurora clinical site 2",
            "recipient_address": "88 Zhangjiang Road, Shanghai",
            "intended_use": "clinical",
            "shipping_conditions": "ln2_dry_shipper",
        },
    )
    assert dist.status_code == 201, dist.content
    assert dist.json()["status"] == "draft" and dist.json()["aliquot_ids"] == ids[:2]
    signed = post(
        api(qa_user),
        "/api/v1/signatures",
        {
            "record_type": "bank.distribution",
            "record_id": str(dist.json()["id"]),
            "meaning": "released",
            "password": PASSWORD,
            "expected_digest": digest_of("bank.distribution", dist.json()["id"]),
        },
    )
    assert signed.status_code == 201, signed.content
    got = t.get(f"/api/v1/distributions/{dist.json()['id']}").json()
    assert got["status"] == "released" and got["released_at"]
    assert "Quinn Assurance · released" in got["signatures"][0]
    assert set(Aliquot.objects.filter(pk__in=ids[:2]).values_list("status", flat=True)) == {
        AliquotStatus.ISSUED
    }
    assert not Placement.objects.filter(aliquot_id__in=ids[:2], removed_at__isnull=True).exists()
    # the client sees its distribution, but creates nothing
    alice = api(make_user(client_a, "client_user", username="alice"))
    assert alice.get(f"/api/v1/distributions/{dist.json()['id']}").status_code == 200
    assert alice.get("/api/v1/distributions").json()["count"] == 1
    before = AuditEvent.objects.count()
    assert (
        post(
            alice,
            "/api/v1/distributions",
            {
                "aliquot_ids": ids[2:],
                "recipient_name": "x",
                "intended_use": "research",
                "shipping_conditions": "dry_ice",
            },
        ).status_code
        == 404
    )
    assert (
        post(
            alice,
            f"/api/v1/donors/{donor_id}/consents",
            {"version": "9", "signed_on": "2026-01-01"},
        ).status_code
        == 404
    )
    assert AuditEvent.objects.count() == before
    assert verify_database().ok


def test_api_refusals_are_problems_and_change_nothing(
    tech: Any, client_a: Any, client_b: Any, make_user: Any
) -> None:
    t = api(tech)
    donor = factories.donor(tech, client_a, "REF-1", clinical=False, research=True)
    items = factories.aliquots(
        tech, client_a, 1, reference="REF-1", existing_donor=True, status=AliquotStatus.AVAILABLE
    )
    before = (AuditEvent.objects.count(), Distribution.objects.count(), Collection.objects.count())
    refused = post(
        t,
        "/api/v1/distributions",
        {
            "aliquot_ids": [items[0].pk],
            "recipient_name": "Clinic",
            "recipient_address": "1 Hospital Road",
            "intended_use": "clinical",
            "shipping_conditions": "ln2_dry_shipper",
        },
    )
    assert refused.status_code == 409
    assert "no active consent covering Clinical use" in refused.json()["detail"]
    bad_sprec = post(
        t,
        f"/api/v1/donors/{donor.pk}/collections",
        {
            "collection_type": "apheresis",
            "collected_at": "2026-02-01T08:00:00Z",
            "volume_ml": "1",
            "sprec_code": "XXX-ACD-A-M-N-N-C",
        },
    )
    assert bad_sprec.status_code == 422
    naive = post(
        t,
        f"/api/v1/donors/{donor.pk}/collections",
        {"collection_type": "apheresis", "collected_at": "2026-02-01T08:00:00", "volume_ml": "1"},
    )
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
    extra = post(t, "/api/v1/donors", {"organisation_id": client_a.pk, "reference": "X", "x": 1})
    assert extra.status_code == 422
    assert (
        AuditEvent.objects.count(),
        Distribution.objects.count(),
        Collection.objects.count(),
    ) == before
    assert not Donor.objects.filter(reference="X").exists()
    # foreign donors are 404 for a client
    bob = api(make_user(client_b, "client_user", username="bob"))
    assert bob.get(f"/api/v1/donors/{donor.pk}/consents").status_code == 404


def test_build_the_hierarchy_and_move_a_rack_through_the_api(
    tech: Any, client_a: Any, make_user: Any
) -> None:
    t = api(tech)
    site = post(t, "/api/v1/storage/sites", {"name": "Zhangjiang", "code": "zj"})
    assert site.status_code == 201
    unit_body = {
        "site_id": site.json()["id"],
        "name": "Tank Z1",
        "code": "z1",
        "kind": "ln2_vapour",
        "set_point_c": "-190.0",
        "alarm_low_c": "-196.0",
        "alarm_high_c": "-150.0",
    }
    unit = post(t, "/api/v1/storage/units", unit_body)
    assert unit.status_code == 201 and unit.json()["capacity"] == 0
    unit2 = post(t, "/api/v1/storage/units", {**unit_body, "name": "Tank Z2", "code": "z2"})
    wrong = post(
        t,
        "/api/v1/storage/units",
        {**unit_body, "name": "Tank Z3", "code": "z3", "set_point_c": "-100.0"},
    )
    assert wrong.status_code == 422
    assert not StorageUnit.objects.filter(code="z3").exists()
    rack = post(t, f"/api/v1/storage/units/{unit.json()['id']}/racks", {"name": "C1"})
    assert rack.status_code == 201
    box_type = post(t, "/api/v1/storage/box-types", {"name": "10x10", "rows": 10, "columns": 10})
    assert box_type.status_code == 201
    box = post(
        t,
        f"/api/v1/storage/racks/{rack.json()['id']}/boxes",
        {"box_type_id": box_type.json()["id"], "name": "B1", "barcode": "ZJ-B1"},
    )
    assert box.status_code == 201 and box.json()["capacity"] == 100
    assert Box.objects.get(barcode="ZJ-B1").positions.count() == 100
    moved = post(
        t,
        f"/api/v1/storage/racks/{rack.json()['id']}/move",
        {"unit_id": unit2.json()["id"], "reason": "tank Z1 maintenance"},
    )
    assert moved.status_code == 200, moved.content
    assert Rack.objects.get(pk=rack.json()["id"]).unit_id == unit2.json()["id"]
    same = post(
        t,
        f"/api/v1/storage/racks/{rack.json()['id']}/move",
        {"unit_id": unit2.json()["id"], "reason": "again"},
    )
    assert same.status_code == 422
    alice = api(make_user(client_a, "client_user", username="alice"))
    before = AuditEvent.objects.count()
    assert post(alice, "/api/v1/storage/sites", {"name": "X", "code": "x"}).status_code == 404
    assert (
        post(
            alice,
            f"/api/v1/storage/racks/{rack.json()['id']}/move",
            {"unit_id": unit.json()["id"], "reason": "x"},
        ).status_code
        == 404
    )
    assert AuditEvent.objects.count() == before
