"""QC samples in storage positions: storing and retrieving are custody entries on the ledger; a
position holds one item, aliquot or sample, whichever direction the second one comes from."""

from __future__ import annotations

from typing import Any

import pytest

from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.qc import services
from celltrace.qc.models import SamplePlacement
from celltrace.storage import services as storage
from celltrace.storage.models import Placement
from tests.bank import factories
from tests.qc.conftest import Lab, snapshot, submitted
from tests.qc.test_api import Api, ok
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def boxes(tech: Any) -> list[Any]:
    return list(factories.hierarchy(tech, boxes=2, rows=3, columns=3)["boxes"])


def received(lab: Lab, sample_id: str = "S-1", *, client: Any = None) -> Any:
    req = submitted(lab, sample=sample_id, client=client)
    services.sample_receive(actor=lab.analyst, request=req, scanned_id=sample_id, accept=True)
    return req.samples.get()


def pos(box: Any, label: str) -> Any:
    return box.positions.get(label=label)


def counts() -> tuple[int, ...]:
    return (*snapshot(), SamplePlacement.objects.count(), Placement.objects.count())


def test_store_and_retrieve_are_custody_entries(lab: Lab, boxes: list[Any]) -> None:
    sample = received(lab)
    assert sample.custodian_id == lab.analyst.pk
    placement = services.sample_store(
        actor=lab.analyst, sample=sample, position=pos(boxes[0], "A1")
    )
    sample.refresh_from_db()
    assert sample.custodian_id is None
    assert services.sample_active_placement(sample) == placement
    [stored] = AuditEvent.objects.where(event_type="QC_SAMPLE_STORED")
    assert stored.data["old"] == {"custodian": "Li Na"}
    assert stored.data["new"]["box"] == "B1" and stored.data["new"]["position"] == "A1"
    assert stored.data["entity_type"] == "qc.sample"

    services.sample_retrieve(actor=lab.analyst2, sample=sample, purpose="testing")
    sample.refresh_from_db()
    assert sample.custodian_id == lab.analyst2.pk
    placement.refresh_from_db()
    assert placement.removed_at is not None and placement.removal_purpose == "testing"
    [retrieved] = AuditEvent.objects.where(event_type="QC_SAMPLE_RETRIEVED")
    assert retrieved.data["new"]["custodian"] == "Wang Fang"
    assert retrieved.data["old"]["position"] == "A1"

    # back into another position, then disposed of: never stored again
    services.sample_store(actor=lab.analyst2, sample=sample, position=pos(boxes[0], "A2"))
    n = counts()
    with pytest.raises(Invalid) as exc:
        services.sample_retrieve(actor=lab.analyst, sample=sample, purpose="disposal")
    assert exc.value.field == "reason"
    with pytest.raises(Invalid) as exc:
        services.sample_retrieve(actor=lab.analyst, sample=sample, purpose="lost")
    assert exc.value.field == "purpose"
    assert counts() == n
    services.sample_retrieve(
        actor=lab.analyst, sample=sample, purpose="disposal", reason="Retention period over"
    )
    sample.refresh_from_db()
    assert sample.custodian_id is None
    n = counts()
    with pytest.raises(Conflict, match="disposed of"):
        services.sample_store(actor=lab.analyst, sample=sample, position=pos(boxes[0], "A3"))
    with pytest.raises(Conflict, match="not in storage"):
        services.sample_retrieve(actor=lab.analyst, sample=sample, purpose="testing")
    assert counts() == n
    assert verify_database().ok


def test_store_refusals_change_nothing(lab: Lab, boxes: list[Any], tech: Any) -> None:
    sample = received(lab, "S-1")
    other = received(lab, "S-2")
    expected_req = submitted(lab, sample="S-3")
    expected = expected_req.samples.get()
    [aliquot] = factories.aliquots(tech, lab.client_a, 1)
    box = boxes[0]
    storage.aliquot_place(actor=tech, aliquot=aliquot, box=box, position=pos(box, "B1"))
    services.sample_store(actor=lab.analyst, sample=other, position=pos(box, "C1"))
    n = counts()
    cases = [
        (
            PermissionDenied,
            {"actor": lab.alice, "sample": sample, "position": pos(box, "A1")},
            None,
        ),
        (
            Conflict,
            {"actor": lab.analyst, "sample": expected, "position": pos(box, "A1")},
            "sample",
        ),
        (
            Conflict,
            {"actor": lab.analyst, "sample": sample, "position": pos(box, "B1")},
            "position",
        ),
        (
            Conflict,
            {"actor": lab.analyst, "sample": sample, "position": pos(box, "C1")},
            "position",
        ),
        (Conflict, {"actor": lab.analyst, "sample": other, "position": pos(box, "A1")}, "sample"),
    ]
    for error, kwargs, field in cases:
        with pytest.raises(error) as exc:
            services.sample_store(**kwargs)
        if field:
            assert exc.value.field == field, exc.value.message
    assert counts() == n
    with pytest.raises(PermissionDenied):
        services.sample_retrieve(actor=lab.alice, sample=other, purpose="testing")
    assert counts() == n


def test_aliquots_are_not_placed_where_a_sample_is(lab: Lab, boxes: list[Any], tech: Any) -> None:
    """The storage app asks the qc app (its occupancy-check registry) before placing."""
    sample = received(lab)
    box = boxes[1]
    services.sample_store(actor=lab.analyst, sample=sample, position=pos(box, "A1"))
    [aliquot] = factories.aliquots(tech, lab.client_a, 1)
    n = counts()
    with pytest.raises(Conflict, match="holds QC sample") as exc:
        storage.aliquot_place(actor=tech, aliquot=aliquot, box=box, position=pos(box, "A1"))
    assert exc.value.field == "position"
    assert counts() == n
    storage.aliquot_place(actor=tech, aliquot=aliquot, box=box, position=pos(box, "A2"))
    services.sample_retrieve(actor=lab.analyst, sample=sample, purpose="testing")
    storage.aliquot_retrieve(actor=tech, aliquot=aliquot, reason="thaw")
    storage.aliquot_return(actor=tech, aliquot=aliquot, box=box, position=pos(box, "A1"))
    assert Placement.objects.get(aliquot=aliquot, removed_at__isnull=True).position.label == "A1"


def test_aliquots_are_not_moved_where_a_sample_is(lab: Lab, boxes: list[Any], tech: Any) -> None:
    sample = received(lab)
    box = boxes[0]
    services.sample_store(actor=lab.analyst, sample=sample, position=pos(box, "B2"))
    [aliquot] = factories.aliquots(tech, lab.client_a, 1)
    storage.aliquot_place(actor=tech, aliquot=aliquot, box=box, position=pos(box, "A1"))
    n = counts()
    with pytest.raises(Conflict, match="holds QC sample") as exc:
        storage.aliquot_move(
            actor=tech, aliquot=aliquot, box=box, position=pos(box, "B2"), reason="reorganise"
        )
    assert exc.value.field == "position"
    assert counts() == n
    assert Placement.objects.get(aliquot=aliquot, removed_at__isnull=True).position.label == "A1"


def test_sample_page_stores_and_shows_the_location(lab: Lab, boxes: list[Any]) -> None:
    sample = received(lab)
    analyst = logged_in(lab.analyst)
    page = analyst.get(f"/qc/samples/{sample.pk}/").content.decode()
    assert "With Li Na" in page and 'name="box"' in page
    n = counts()
    bad = analyst.post(
        f"/qc/samples/{sample.pk}/", {"action": "store", "box": "T1-B1", "position": "Z9"}
    )
    assert bad.status_code == 200 and "Box B1 has no position Z9." in bad.content.decode()
    unknown = analyst.post(
        f"/qc/samples/{sample.pk}/", {"action": "store", "box": "NOPE", "position": "A1"}
    )
    assert "No box with barcode NOPE." in unknown.content.decode()
    assert counts() == n
    done = analyst.post(
        f"/qc/samples/{sample.pk}/", {"action": "store", "box": "T1-B1", "position": "b2"}
    )
    assert done.status_code == 302
    page = analyst.get(f"/qc/samples/{sample.pk}/").content.decode()
    assert "t1 / R1 /" in page and "B1</a> / B2" in page
    gone = analyst.post(
        f"/qc/samples/{sample.pk}/", {"action": "retrieve", "purpose": "disposal", "reason": ""}
    )
    assert "Give the reason for disposing of the sample." in gone.content.decode()
    assert services.sample_active_placement(sample) is not None

    # the client sees its sample but neither storage nor the forms; the other client a 404
    alice, bob = logged_in(lab.alice), logged_in(lab.bob)
    client_page = alice.get(f"/qc/samples/{sample.pk}/").content.decode()
    assert sample.client_sample_id in client_page and "T1-B1" not in client_page
    assert 'name="box"' not in client_page
    n = counts()
    assert (
        alice.post(
            f"/qc/samples/{sample.pk}/", {"action": "retrieve", "purpose": "testing"}
        ).status_code
        == 404
    )
    assert bob.get(f"/qc/samples/{sample.pk}/").status_code == 404
    assert counts() == n


def test_storage_api(lab: Lab, boxes: list[Any]) -> None:
    sample = received(lab)
    analyst, alice, bob = Api(lab.analyst), Api(lab.alice), Api(lab.bob)
    stored = ok(analyst.post(f"/qc/samples/{sample.pk}/store", {"box": "T1-B2", "position": "C3"}))
    assert stored["location"]["box"] == "B2" and stored["location"]["position"] == "C3"
    assert stored["custodian"] is None and stored["number"] == sample.number
    n = counts()
    again = analyst.post(f"/qc/samples/{sample.pk}/store", {"box": "T1-B2", "position": "C2"})
    assert again.status_code == 409 and again.json()["field"] == "sample"
    assert alice.get(f"/qc/samples/{sample.pk}/storage").status_code == 404
    assert bob.post(f"/qc/samples/{sample.pk}/retrieve", {"purpose": "testing"}).status_code == 404
    assert counts() == n
    out = ok(analyst.post(f"/qc/samples/{sample.pk}/retrieve", {"purpose": "testing"}))
    assert out["location"] is None and out["custodian"] == "Li Na"
    assert len(ok(analyst.get(f"/qc/samples/{sample.pk}/storage"))["placements"]) == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_samples_and_aliquots_never_share_a_position(
    operator: Any, client_a: Any, make_user: Any
) -> None:
    """4 processes at once, each round all on ONE position: two store different samples, two
    place different aliquots. No constraint spans both tables; the box lock both services take
    must let exactly one win, and every other attempt end in a clean Conflict."""

    from tests.qc import workers
    from tests.workers import at_once

    rounds, per_kind = 8, 2
    # one person may do both: a bank technician who is also a QC analyst
    racer = make_user(operator, "bank_technician", "qc_analyst", username="racer")
    alice = make_user(client_a, "client_user", username="race-alice")
    services.methods_seed()
    box = factories.hierarchy(racer, boxes=1, rows=3, columns=3)["boxes"][0]
    positions = factories.positions_of(box)[:rounds]
    ids = [f"R-{i:03d}" for i in range(rounds * per_kind)]
    req = services.request_create(
        actor=alice,
        product="Aurocel",
        product_type="CAR-T cells",
        batch="RACE",
        samples=[services.SampleSpec(i) for i in ids],
        method_codes=["viability"],
        submit=True,
    )
    for i in ids:
        services.sample_receive(actor=racer, request=req, scanned_id=i, accept=True)
    samples = list(req.samples.order_by("pk"))
    aliquots = factories.aliquots(racer, client_a, rounds * per_kind)
    plans: list[list[tuple[str, int, int]]] = [[] for _ in range(2 * per_kind)]
    for rnd, position in enumerate(positions):
        for k in range(per_kind):
            plans[k].append(("sample", samples[rnd * per_kind + k].pk, position.pk))
            plans[per_kind + k].append(("aliquot", aliquots[rnd * per_kind + k].pk, position.pk))

    results = at_once(workers.store_worker, [("racer", plan) for plan in plans])

    outcomes = [o for r in results for o in r]
    assert [o for o in outcomes if o[1] == "error"] == []
    for rnd in range(rounds):
        wins = [o for o in outcomes if o[0] == rnd and o[1] == "ok"]
        assert len(wins) == 1, f"round {rnd}: {wins}"
    conflicts = [o[2] for o in outcomes if o[1] == "conflict"]
    assert len(conflicts) == rounds * (2 * per_kind - 1)
    assert not any("locked" in m for m in conflicts), set(conflicts)
    held = {p.position_id for p in SamplePlacement.objects.filter(removed_at__isnull=True)}
    stored = {p.position_id for p in Placement.objects.filter(removed_at__isnull=True)}
    assert held.isdisjoint(stored)
    assert len(held) + len(stored) == rounds
    assert verify_database().ok
