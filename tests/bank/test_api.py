"""API of the bank and storage apps: filters, scanner lookup, status, placements, box maps,
occupancy, allocation, labels; client users get 404 for everything that is not theirs."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from celltrace.audit.models import AuditEvent
from celltrace.bank import isbt128
from celltrace.core.services import api_token_create
from celltrace.storage.models import Placement, Position
from tests.bank import factories

pytestmark = pytest.mark.django_db


def api(user: Any) -> Client:
    token = api_token_create(actor=user, name="tests").secret
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def world(tech: Any, client_a: Any, client_b: Any, make_user: Any, store: Any) -> dict[str, Any]:
    b1, b2 = store["boxes"]
    mine = factories.aliquots(
        tech, client_a, 3, reference="A-1", positions=list(b1.positions.order_by("row", "col")[:2])
    )
    theirs = factories.aliquots(
        tech, client_b, 1, reference="B-1", positions=[Position.objects.get(box=b2, label="C3")]
    )
    alice = make_user(client_a, "client_user", username="alice")
    return {"mine": mine, "theirs": theirs, "b1": b1, "b2": b2, "alice": alice, **store}


def test_list_filters_and_lookup(tech: Any, world: dict[str, Any]) -> None:
    c = api(tech)
    body = c.get("/api/v1/aliquots", {"donor": "A-1"}).json()
    assert body["count"] == 3
    first = body["items"][0]
    assert first["location"]["box"] == "B1" and first["stored"] is True
    assert first["check_character"] == isbt128.check_character(first["din"])
    assert c.get("/api/v1/aliquots", {"box": world["b2"].pk}).json()["count"] == 1
    a = world["theirs"][0]
    found = c.get("/api/v1/aliquots/lookup", {"code": f"={a.din}00"})
    assert found.status_code == 200 and found.json()["id"] == a.pk
    several = c.get("/api/v1/aliquots/lookup", {"code": world["mine"][0].din})
    assert several.status_code == 404 and several.json()["field"] == "code"
    bad = c.get("/api/v1/aliquots/lookup", {"code": a.din + "?"})
    assert bad.status_code == 422 and "check character" in bad.json()["detail"]


def test_place_move_retrieve_return_through_the_api(tech: Any, world: dict[str, Any]) -> None:
    c = api(tech)
    a = world["mine"][2]  # not placed
    b2 = world["b2"]
    placed = c.post(
        f"/api/v1/aliquots/{a.pk}/place",
        {"box_id": b2.pk, "position": "A1"},
        content_type="application/json",
    )
    assert placed.status_code == 201, placed.content
    assert placed.json()["position"] == "A1"
    taken = c.post(
        f"/api/v1/aliquots/{world['mine'][0].pk}/move",
        {"box_id": b2.pk, "position": "A1", "reason": "x"},
        content_type="application/json",
    )
    assert taken.status_code == 409 and "A1 is already occupied" in taken.json()["detail"]
    moved = c.post(
        f"/api/v1/aliquots/{a.pk}/move",
        {"box_id": b2.pk, "position": "B2", "reason": "tidy"},
        content_type="application/json",
    )
    assert moved.status_code == 200 and moved.json()["position"] == "B2"
    out = c.post(
        f"/api/v1/aliquots/{a.pk}/retrieve", {"reason": "assay"}, content_type="application/json"
    )
    assert out.status_code == 200 and out.json()["removed_at"]
    back = c.post(
        f"/api/v1/aliquots/{a.pk}/return",
        {"box_id": b2.pk, "position": "B2", "reason": "unused"},
        content_type="application/json",
    )
    assert back.status_code == 201
    strict = c.post(
        f"/api/v1/aliquots/{a.pk}/move",
        {"box_id": str(b2.pk), "position": "B3", "reason": "x", "extra": 1},
        content_type="application/json",
    )
    assert strict.status_code == 422


def test_status_box_map_occupancy_allocation_labels(tech: Any, world: dict[str, Any]) -> None:
    c = api(tech)
    a = world["mine"][0]
    r = c.post(
        f"/api/v1/aliquots/{a.pk}/status",
        {"status": "reserved", "reason": "order 9"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["status"] == "reserved"
    illegal = c.post(
        f"/api/v1/aliquots/{a.pk}/status",
        {"status": "quarantine", "reason": "x"},
        content_type="application/json",
    )
    assert illegal.status_code == 422
    grid = c.get(f"/api/v1/storage/boxes/{world['b1'].pk}/map").json()
    assert grid["box"]["occupied"] == 2 and len(grid["cells"]) == 81
    assert grid["cells"][0]["status"] == "reserved"
    units = c.get("/api/v1/storage/units").json()
    assert [(u["code"], u["capacity"], u["occupied"]) for u in units] == [("t1", 162, 3)]
    racks = c.get(f"/api/v1/storage/units/{world['unit'].pk}/racks").json()
    assert racks[0]["occupied"] == 3
    boxes = c.get(f"/api/v1/storage/racks/{world['rack'].pk}/boxes").json()
    assert [b["occupied"] for b in boxes] == [2, 1]
    alloc = c.post("/api/v1/storage/allocations", {"count": 4}, content_type="application/json")
    assert [p["position"] for p in alloc.json()] == ["A3", "A4", "A5", "A6"]
    pdf = c.get("/api/v1/aliquots/labels", {"aliquot": [a.pk], "layout": "a4_vial"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # a sheet prints every aliquot named or none: an unknown one, or too many, is refused
    before = AuditEvent.objects.count()
    unknown = c.get("/api/v1/aliquots/labels", {"aliquot": [a.pk, 987654]})
    assert unknown.status_code == 404 and unknown.json()["field"] == "aliquot"
    assert "987654" in unknown.json()["detail"]
    too_many = c.get("/api/v1/aliquots/labels", {"aliquot": list(range(1, 502))})
    assert too_many.status_code == 422 and "At most 500" in too_many.json()["detail"]
    assert c.get("/api/v1/aliquots/labels").status_code == 422
    assert AuditEvent.objects.count() == before


def test_client_user_gets_404_for_storage_and_foreign_objects(world: dict[str, Any]) -> None:
    c = api(world["alice"])
    mine, theirs = world["mine"][0], world["theirs"][0]
    own = c.get(f"/api/v1/aliquots/{mine.pk}").json()
    assert own["stored"] is True and own["location"] is None
    listing = c.get("/api/v1/aliquots").json()
    assert listing["count"] == 3 and all(i["location"] is None for i in listing["items"])
    assert c.get("/api/v1/aliquots/lookup", {"code": theirs.barcode}).status_code == 404
    gets = [
        f"/api/v1/aliquots/{theirs.pk}",
        f"/api/v1/donors/{theirs.product.collection.donor_id}",
        "/api/v1/storage/units",
        f"/api/v1/storage/units/{world['unit'].pk}/racks",
        f"/api/v1/storage/racks/{world['rack'].pk}/boxes",
        f"/api/v1/storage/boxes/{world['b1'].pk}/map",
        f"/api/v1/aliquots/labels?aliquot={mine.pk}",
        f"/api/v1/aliquots?box={world['b1'].pk}",
    ]
    for url in gets:
        response = c.get(url)
        assert response.status_code == 404, url
        assert b"B-1" not in response.content
    before = (AuditEvent.objects.count(), Placement.objects.count())
    posts = [
        (
            f"/api/v1/aliquots/{mine.pk}/move",
            {"box_id": world["b2"].pk, "position": "A1", "reason": "x"},
        ),
        (
            f"/api/v1/aliquots/{theirs.pk}/move",
            {"box_id": world["b2"].pk, "position": "A1", "reason": "x"},
        ),
        (f"/api/v1/aliquots/{mine.pk}/retrieve", {"reason": "x"}),
        (f"/api/v1/aliquots/{theirs.pk}/status", {"status": "discarded", "reason": "x"}),
        (f"/api/v1/donors/{theirs.product.collection.donor_id}/reveal", {"reason": "x"}),
        (
            f"/api/v1/storage/boxes/{world['b1'].pk}/move",
            {"rack_id": world["rack"].pk, "reason": "x"},
        ),
        ("/api/v1/storage/allocations", {"count": 1}),
    ]
    for url, body in posts:
        response = c.post(url, body, content_type="application/json")
        assert response.status_code == 404, url
    assert (AuditEvent.objects.count(), Placement.objects.count()) == before
    donors = c.get("/api/v1/donors").json()
    assert [d["reference"] for d in donors["items"]] == ["A-1"]
    assert donors["items"][0]["name"] == "L* N*"
