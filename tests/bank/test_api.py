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


# --- problem documents name the request's fields ----------------------------------------------


def _post(c: Client, url: str, body: Any) -> Any:
    return c.post(url, body, content_type="application/json")


def _counts() -> tuple[int, int, int]:
    from celltrace.bank.models import Distribution

    return AuditEvent.objects.count(), Placement.objects.count(), Distribution.objects.count()


def test_errors_name_the_fields_of_the_request_not_of_the_model(
    tech: Any, world: dict[str, Any], operator: Any, client_b: Any
) -> None:
    """The services name their arguments (``aliquots``, ``unit``, ``rack``); the problem
    document names what the caller sent (``aliquot_ids``, ``unit_id``, ``rack_id``)."""
    c = api(tech)
    mine, theirs = world["mine"], world["theirs"]
    before = _counts()
    draft = {
        "recipient_name": "Lab X",
        "intended_use": "research",
        "shipping_conditions": "dry_ice",
    }
    mixed = _post(c, "/api/v1/distributions", {**draft, "aliquot_ids": [mine[0].pk, theirs[0].pk]})
    assert mixed.status_code == 422 and mixed.json()["field"] == "aliquot_ids"
    assert "one organisation" in mixed.json()["detail"]
    elsewhere = _post(
        c,
        "/api/v1/distributions",
        {**draft, "aliquot_ids": [mine[0].pk], "recipient_organisation_id": client_b.pk},
    )
    assert elsewhere.status_code == 422, elsewhere.content
    assert elsewhere.json()["field"] == "recipient_organisation_id"
    # an object looked up from a body field, and not found, names that field
    no_box = _post(c, f"/api/v1/aliquots/{mine[2].pk}/place", {"box_id": 2**62, "position": "A2"})
    assert (no_box.status_code, no_box.json()["field"]) == (404, "box_id")
    no_unit = _post(c, "/api/v1/storage/allocations", {"count": 2, "unit_id": 999999})
    assert (no_unit.status_code, no_unit.json()["field"]) == (404, "unit_id")
    # the aliquot is the address's: no body field is named
    not_stored = _post(c, f"/api/v1/aliquots/{mine[2].pk}/retrieve", {"reason": "thaw"})
    assert not_stored.status_code == 409 and not_stored.json()["field"] is None
    taken = _post(
        c,
        f"/api/v1/aliquots/{mine[2].pk}/place",
        {"box_id": world["b1"].pk, "position": "A1"},  # holds mine[0]
    )
    assert taken.status_code == 409 and taken.json()["field"] == "position"
    same_rack = _post(
        c,
        f"/api/v1/storage/boxes/{world['b1'].pk}/move",
        {"rack_id": world["rack"].pk, "reason": "x"},
    )
    assert (same_rack.status_code, same_rack.json()["field"]) == (422, "rack_id")
    same_unit = _post(
        c,
        f"/api/v1/storage/racks/{world['rack'].pk}/move",
        {"unit_id": world["unit"].pk, "reason": "x"},
    )
    assert (same_unit.status_code, same_unit.json()["field"]) == (422, "unit_id")
    assert _counts() == before


def test_a_taken_rack_or_box_name_names_the_name(
    admin_user: Any, tech: Any, world: dict[str, Any]
) -> None:
    c = api(admin_user)
    before = _counts()
    rack = _post(c, f"/api/v1/storage/units/{world['unit'].pk}/racks", {"name": "R1"})
    assert rack.status_code == 422 and rack.json()["field"] == "name"
    assert "already a rack" in rack.json()["detail"]
    box = _post(
        c,
        f"/api/v1/storage/racks/{world['rack'].pk}/boxes",
        {"name": "B1", "box_type_id": world["box_type"].pk},
    )
    assert box.status_code == 422 and box.json()["field"] == "name"
    assert _counts() == before


# --- filters refuse values they cannot hold ---------------------------------------------------


@pytest.mark.parametrize(
    "query", ["status=bogus", "product_type=bogus", "status=available&product_type=x"]
)
def test_an_unknown_aliquot_filter_value_is_a_422_naming_it(
    tech: Any, world: dict[str, Any], query: str
) -> None:
    response = api(tech).get(f"/api/v1/aliquots?{query}")
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["field"] in query


def test_aliquot_filters_by_status_and_product_type(tech: Any, world: dict[str, Any]) -> None:
    c = api(tech)
    assert c.get("/api/v1/aliquots?status=available").json()["count"] == 4
    assert c.get("/api/v1/aliquots?status=reserved").json()["count"] == 0
    assert c.get("/api/v1/aliquots?product_type=pbmc").json()["count"] == 4
    assert c.get("/api/v1/aliquots?product_type=t_cells").json()["count"] == 0


def test_an_empty_lookup_code_is_a_422_naming_it(tech: Any, world: dict[str, Any]) -> None:
    response = api(tech).get("/api/v1/aliquots/lookup?code=")
    assert response.status_code == 422 and response.json()["field"] == "code"
