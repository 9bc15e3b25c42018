"""The impact report: aliquots whose placement [placed, removed) overlaps the excursion."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from celltrace.core.errors import NotFound
from celltrace.monitoring import selectors, services
from celltrace.monitoring.models import Excursion, Sensor
from celltrace.storage import services as storage
from tests.bank import factories

pytestmark = pytest.mark.django_db


def tick() -> dt.datetime:
    """The current time, strictly after every earlier call (placements use the real clock)."""
    time.sleep(0.01)
    moment = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    return moment


def test_placements_before_during_and_after_the_excursion(
    tech: Any, store: dict[str, Any], sensor: Sensor, client_a: Any, qa_user: Any
) -> None:
    box = store["boxes"][0]
    pos = factories.positions_of(box)
    a_before_gone, a_through, a_leaves_during, a_arrives_during, a_after = factories.aliquots(
        tech, client_a, 5
    )
    # an aliquot in another unit is never listed
    other = factories.hierarchy(tech, boxes=1, code="t2")
    [elsewhere] = factories.aliquots(tech, client_a, 1, reference="D-0002")
    storage.aliquot_place(
        actor=tech,
        aliquot=elsewhere,
        box=other["boxes"][0],
        position=factories.positions_of(other["boxes"][0])[0],
    )

    storage.aliquot_place(actor=tech, aliquot=a_before_gone, box=box, position=pos[0])
    storage.aliquot_place(actor=tech, aliquot=a_through, box=box, position=pos[1])
    storage.aliquot_place(actor=tech, aliquot=a_leaves_during, box=box, position=pos[2])
    storage.aliquot_retrieve(actor=tech, aliquot=a_before_gone, reason="to the clinic")
    start = tick()
    storage.aliquot_retrieve(actor=tech, aliquot=a_leaves_during, reason="thaw for QC")
    storage.aliquot_place(actor=tech, aliquot=a_arrives_during, box=box, position=pos[3])
    end = tick()
    storage.aliquot_place(actor=tech, aliquot=a_after, box=box, position=pos[4])

    services.readings_ingest(
        actor=tech,
        readings=[
            {
                "sensor": "LN2-T1",
                "measured_at": start - dt.timedelta(minutes=5),
                "temperature_c": "-190",
            },
            {"sensor": "LN2-T1", "measured_at": start, "temperature_c": "-140"},
            {"sensor": "LN2-T1", "measured_at": end, "temperature_c": "-190"},
        ],
    )
    exc = Excursion.objects.get()
    assert (exc.started_at, exc.ended_at) == (start, end)
    with CaptureQueriesContext(connection) as queries:
        rows = selectors.excursion_impact(qa_user, exc)
    assert len(queries.captured_queries) == 1
    assert {r["aliquot_id"] for r in rows} == {
        a_through.pk,
        a_leaves_during.pk,
        a_arrives_during.pk,
    }
    by_id = {r["aliquot_id"]: r for r in rows}
    row = by_id[a_through.pk]
    assert row["din"] == a_through.din and row["division"] == a_through.division
    assert row["product_code"] == a_through.pdc + a_through.isbt_collection_type
    assert (row["box"], row["position"], row["removed_at"]) == (box.name, pos[1].label, None)
    assert by_id[a_leaves_during.pk]["removed_at"] is not None
    assert row["organisation"] == client_a.name


def test_an_open_excursion_lists_everything_stored_since_it_started(
    tech: Any, store: dict[str, Any], sensor: Sensor, client_a: Any, qa_user: Any
) -> None:
    box = store["boxes"][0]
    pos = factories.positions_of(box)
    early, late = factories.aliquots(tech, client_a, 2)
    storage.aliquot_place(actor=tech, aliquot=early, box=box, position=pos[0])
    start = tick()
    storage.aliquot_place(actor=tech, aliquot=late, box=box, position=pos[1])
    services.readings_ingest(
        actor=tech, readings=[{"sensor": "LN2-T1", "measured_at": start, "temperature_c": "-100"}]
    )
    exc = Excursion.objects.get()
    assert exc.ended_at is None
    assert {r["aliquot_id"] for r in selectors.excursion_impact(qa_user, exc)} == {
        early.pk,
        late.pk,
    }


def test_the_impact_report_is_for_operator_staff_only(
    tech: Any, sensor: Sensor, client_a: Any, make_user: Any
) -> None:
    services.readings_ingest(
        actor=tech,
        readings=[
            {"sensor": "LN2-T1", "measured_at": "2026-03-01T00:00:00Z", "temperature_c": "-100"}
        ],
    )
    with pytest.raises(NotFound):
        selectors.excursion_impact(make_user(client_a, "client_user"), Excursion.objects.get())


def test_the_impact_csv_cannot_carry_a_spreadsheet_formula(
    tech: Any, store: dict[str, Any], sensor: Sensor, client_a: Any, qa_user: Any
) -> None:
    """Rack and box names are free text: in the CSV a name starting like a formula is
    neutralised with a leading apostrophe (as the QC overdue CSV does)."""
    import csv
    import io

    from django.test import Client

    box_type = store["boxes"][0].box_type
    rack = storage.rack_create(actor=tech, unit=store["unit"], name='=HYPERLINK("http://x")')
    box = storage.box_create(actor=tech, rack=rack, box_type=box_type, name="+B9")
    [aliquot] = factories.aliquots(tech, client_a, 1)
    storage.aliquot_place(
        actor=tech, aliquot=aliquot, box=box, position=factories.positions_of(box)[0]
    )
    services.readings_ingest(
        actor=tech, readings=[{"sensor": "LN2-T1", "measured_at": tick(), "temperature_c": "-100"}]
    )
    web = Client()
    web.force_login(qa_user)
    response = web.get(f"/monitoring/excursions/{Excursion.objects.get().pk}/impact.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["rack"], r["box"]) for r in rows] == [('\'=HYPERLINK("http://x")', "'+B9")]
