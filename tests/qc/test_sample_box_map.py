"""QC samples as the storage app sees them (its occupant-source registry): the box map shows a
sample-held position as taken by a QC sample (number and link only for whoever may see the
sample), fill levels count it, and allocation never proposes it."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from celltrace.core.errors import Conflict
from celltrace.qc import services
from celltrace.storage import selectors as storage_selectors
from celltrace.storage import services as storage
from celltrace.storage.services import Occupant
from tests.bank import factories
from tests.qc.conftest import Lab
from tests.qc.test_api import Api, ok
from tests.qc.test_pages import logged_in
from tests.qc.test_sample_storage import pos, received

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(tech: Any) -> dict[str, Any]:
    return factories.hierarchy(tech, boxes=2, rows=3, columns=3)


def stored(lab: Lab, box: Any, *labels: str) -> list[Any]:
    """One received sample stored at each of ``labels`` of ``box``."""
    out = []
    for label in labels:
        sample = received(lab, f"S-{box.pk}-{label}")
        services.sample_store(actor=lab.analyst, sample=sample, position=pos(box, label))
        out.append(sample)
    return out


def test_box_map_shows_the_sample(lab: Lab, store: dict[str, Any], tech: Any) -> None:
    box = store["boxes"][0]
    [sample] = stored(lab, box, "B2")
    [aliquot] = factories.aliquots(tech, lab.client_a, 1)
    storage.aliquot_place(actor=tech, aliquot=aliquot, box=box, position=pos(box, "A1"))

    grid = storage_selectors.box_map(tech, box.pk)
    cells = {c.position.label: c for _, row in grid.rows for c in row}
    held = cells["B2"]
    assert held.aliquot is None
    assert held.other == Occupant(
        code="qc_sample", kind="QC sample", label=sample.number, url=f"/qc/samples/{sample.pk}/"
    )
    assert cells["A1"].aliquot == aliquot and cells["A1"].other is None
    assert all(c.other is None for label, c in cells.items() if label != "B2")
    assert grid.occupied == 2 and grid.others == {"QC sample": 1}
    assert grid.by_status == {aliquot.status: 1}

    page = logged_in(tech).get(f"/storage/boxes/{box.pk}/").content.decode()
    assert page.count('class="cell held"') == 1
    assert f'<a href="/qc/samples/{sample.pk}/">{sample.number}</a>' in page
    assert "QC sample (1)" in page
    assert page.count("cell empty") == 7
    assert '<span class="num">2 / 9</span>' in page

    # the fill levels of the box, its rack and its unit count the sample as well
    [b] = [b for b in storage_selectors.boxes_with_occupancy(tech) if b.pk == box.pk]
    assert b.occupied == 2  # type: ignore[attr-defined]
    assert storage_selectors.rack_get(tech, store["rack"].pk).occupied == 2  # type: ignore[attr-defined]
    assert storage_selectors.unit_get(tech, store["unit"].pk).occupied == 2  # type: ignore[attr-defined]
    api = ok(Api(tech).get(f"/storage/boxes/{box.pk}/map"))
    assert api["box"]["occupied"] == 2
    by_label = {c["position"]: c for c in api["cells"]}
    assert by_label["B2"]["occupant"] == "qc_sample"
    assert by_label["B2"]["occupant_name"] == "QC sample"
    assert by_label["B2"]["occupant_label"] == sample.number
    assert by_label["B2"]["aliquot_id"] is None
    assert by_label["A1"]["occupant"] is None and by_label["C3"]["occupant"] is None

    # a retrieved sample frees the position again
    services.sample_retrieve(actor=lab.analyst, sample=sample, purpose="testing")
    grid = storage_selectors.box_map(tech, box.pk)
    assert grid.occupied == 1 and grid.others == {}


def test_only_who_may_see_the_sample_gets_its_number(lab: Lab, store: dict[str, Any]) -> None:
    box = store["boxes"][0]
    [sample] = stored(lab, box, "A1")  # a sample of client A (Alice)
    position = pos(box, "A1").pk
    seen = storage.occupants_seen_by([box.pk], lab.bob)
    assert seen == {position: Occupant(code="qc_sample", kind="QC sample")}
    assert str(seen[position]) == "QC sample"
    own = storage.occupants_seen_by([box.pk], lab.alice)[position]
    assert own.label == sample.number and own.url == f"/qc/samples/{sample.pk}/"
    lab_view = storage.occupants_seen_by([box.pk], lab.analyst)[position]
    assert lab_view.label == sample.number and lab_view.url
    # the importer's view: every number, keyed by position
    assert storage.other_occupants([box.pk]) == {position: sample.number}
    assert storage.other_occupants([store["boxes"][1].pk]) == {}
    # clients never see the box map at all
    for user in (lab.alice, lab.bob):
        page = logged_in(user).get(f"/storage/boxes/{box.pk}/")
        assert page.status_code == 404
        assert sample.number not in page.content.decode()


def test_allocation_skips_sample_positions(lab: Lab, store: dict[str, Any], tech: Any) -> None:
    first, second = store["boxes"]
    stored(lab, first, "A1", "A2")
    assert storage_selectors.first_free_position(first).label == "A3"
    got = storage.allocate_positions(actor=tech, count=3, unit=store["unit"])
    assert [(p.box_id, p.label) for p in got] == [(first.pk, x) for x in ("A3", "B1", "B2")]
    # the first box has 7 free positions, not 9: eight go together into the second box
    eight = storage.allocate_positions(actor=tech, count=8)
    assert {p.box_id for p in eight} == {second.pk}
    seven = storage.allocate_positions(actor=tech, count=7)
    assert {p.box_id for p in seven} == {first.pk}
    assert {"A1", "A2"}.isdisjoint(p.label for p in seven)
    # spilling over both boxes still leaves the samples alone
    all_free = storage.allocate_positions(actor=tech, count=16)
    assert len(all_free) == 16
    assert not {pos(first, "A1").pk, pos(first, "A2").pk} & {p.pk for p in all_free}
    with pytest.raises(Conflict, match="Only 16 free positions"):
        storage.allocate_positions(actor=tech, count=17)
    proposed = ok(Api(tech).post("/storage/allocations", {"count": 2}))
    assert [p["position"] for p in proposed] == ["A3", "B1"]

    # a box whose every position holds a sample is full
    stored(lab, second, *[p.label for p in factories.positions_of(second)])
    with pytest.raises(Conflict, match="is full"):
        storage_selectors.first_free_position(second)


def test_box_map_queries_do_not_grow_with_samples(
    lab: Lab, store: dict[str, Any], tech: Any
) -> None:
    few, many = store["boxes"]
    stored(lab, few, "A1")
    stored(lab, many, "A1", "A2", "B1", "B3", "C2")
    web = logged_in(tech)
    web.get(f"/storage/boxes/{few.pk}/")  # warm caches outside the count
    counts = []
    for box, n in ((few, 1), (many, 5)):
        with CaptureQueriesContext(connection) as selector_queries:
            grid = storage_selectors.box_map(tech, box.pk)
        assert sum(grid.others.values()) == n
        assert len(selector_queries) == 4  # box, aliquots, positions, samples
        with CaptureQueriesContext(connection) as page_queries:
            page = web.get(f"/storage/boxes/{box.pk}/")
        assert page.content.decode().count('class="cell held"') == n
        counts.append(len(page_queries))
    assert counts[0] == counts[1] <= 15


def test_bulk_placement_refuses_a_sample_position(
    lab: Lab, store: dict[str, Any], tech: Any
) -> None:
    """Aliquots registered in bulk with their positions (the bank's batch service) are refused
    a position holding a QC sample, and nothing is written."""
    from celltrace.bank.models import Aliquot
    from celltrace.storage.models import Placement

    box = store["boxes"][0]
    stored(lab, box, "A2")
    before = (Aliquot.objects.count(), Placement.objects.count())
    with pytest.raises(Conflict, match="A2"):
        factories.aliquots(tech, lab.client_a, 2, positions=[pos(box, "A1"), pos(box, "A2")])
    assert (Aliquot.objects.count(), Placement.objects.count()) == before
