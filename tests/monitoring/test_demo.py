"""The demo step: sensors for the demo units, readings with excursions, idempotent."""

from __future__ import annotations

from typing import Any

import pytest

from celltrace.audit import signing
from celltrace.audit.verification import verify_database
from celltrace.core.demo import DEMO_PASSWORD
from celltrace.monitoring import demo
from celltrace.monitoring.choices import ExcursionKind
from celltrace.monitoring.models import Excursion, Reading, Sensor
from tests.bank import factories

pytestmark = pytest.mark.django_db


def test_nothing_without_units(operator: Any, make_user: Any) -> None:
    make_user(operator, "bank_technician", username="tech", password=DEMO_PASSWORD)
    demo.load(False)
    assert not Sensor.objects.exists()


def test_demo_readings_excursions_acknowledged_open_and_silent(
    operator: Any, make_user: Any
) -> None:
    tech = make_user(operator, "bank_technician", username="tech", password=DEMO_PASSWORD)
    make_user(operator, "qa", username="qa", full_name="Quinn QA", password=DEMO_PASSWORD)
    for code in ("ln2-a", "ln2-b", "frz-1"):
        factories.hierarchy(tech, boxes=1, code=code)
    demo.load(False)
    assert Sensor.objects.count() == 4
    assert Reading.objects.count() > 3000
    kinds = sorted(Excursion.objects.values_list("kind", flat=True))
    assert kinds.count(ExcursionKind.ABOVE) == 2 and ExcursionKind.BELOW in kinds
    assert ExcursionKind.SILENT in kinds
    assert Excursion.objects.filter(kind=ExcursionKind.ABOVE, ended_at__isnull=True).count() == 1
    acknowledged = [
        e for e in Excursion.objects.select_related("alarm") if signing.manifestations(e.alarm)
    ]
    assert len(acknowledged) == 1 and signing.manifestations(acknowledged[0].alarm)[0].valid
    counts = (Sensor.objects.count(), Reading.objects.count(), Excursion.objects.count())
    demo.load(False)  # idempotent
    assert (Sensor.objects.count(), Reading.objects.count(), Excursion.objects.count()) == counts
    assert verify_database().ok
