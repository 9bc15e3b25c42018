"""The bank demo's distributions: one released by QA's signature, one awaiting QA; idempotent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from celltrace.audit import signing
from celltrace.audit.verification import verify_database
from celltrace.bank import demo
from celltrace.bank.choices import AliquotStatus, DistributionStatus
from celltrace.bank.models import Distribution
from celltrace.core.demo import DEMO_PASSWORD
from celltrace.storage.models import Placement
from tests.bank import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(operator: Any, make_org: Any, make_user: Any) -> Callable[[int], Any]:
    """The demo's technician, and ``n`` available aliquots of aurora in one box."""

    def make(n: int) -> Any:
        aurora = make_org(name="Aurora Cell Therapies", code="aurora")
        tech = make_user(operator, "bank_technician", username="tech", password=DEMO_PASSWORD)
        store = factories.hierarchy(tech, boxes=1)
        factories.aliquots(
            tech,
            aurora,
            n,
            reference="AUR-1",
            status=AliquotStatus.AVAILABLE,
            positions=factories.positions_of(store["boxes"][0]),
        )
        return tech

    return make


def test_demo_distributions(stored: Any, operator: Any, make_user: Any) -> None:
    tech = stored(6)
    make_user(operator, "qa", username="qa", full_name="Quinn QA", password=DEMO_PASSWORD)
    demo._distributions(tech, False)
    released = Distribution.objects.get(status=DistributionStatus.RELEASED)
    pending = Distribution.objects.get(status=DistributionStatus.DRAFT)
    (m,) = signing.manifestations(released)
    assert m.valid and m.printed_name == "Quinn QA"
    issued = released.items.values_list("aliquot_id", flat=True)
    assert len(issued) == 3
    assert not Placement.objects.filter(aliquot_id__in=issued, removed_at__isnull=True).exists()
    assert pending.items.count() == 2 and not set(issued) & set(
        pending.items.values_list("aliquot_id", flat=True)
    )
    demo._distributions(tech, False)  # idempotent
    assert Distribution.objects.count() == 2
    assert verify_database().ok


def test_demo_genealogy(stored: Any) -> None:
    """Two stored aliquots of aurora divided into two children each; idempotent."""
    from celltrace.bank.models import Aliquot

    tech = stored(3)
    demo._genealogy(tech)
    children = Aliquot.objects.filter(parent__isnull=False)
    assert children.count() == 4 and len({c.parent_id for c in children}) == 2
    demo._genealogy(tech)  # idempotent
    assert Aliquot.objects.filter(parent__isnull=False).count() == 4
    assert verify_database().ok
