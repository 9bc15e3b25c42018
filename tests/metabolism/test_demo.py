"""The metabolism demo step: idempotent, through the services, one excluded well."""

from __future__ import annotations

from typing import Any

import pytest

from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.core import demo as core_demo
from celltrace.metabolism import demo
from celltrace.metabolism.models import MetabolismRun, WellExclusion

pytestmark = pytest.mark.django_db


def test_demo_step_is_registered_idempotent_and_links_time_points(
    make_org: Any, make_user: Any, operator: Any
) -> None:
    assert "metabolism runs and energy profile" in [name for name, _ in core_demo._STEPS]
    aurora = make_org("client", name="Aurora Cell Therapeutics", code="aurora")
    make_user(operator, "bank_technician", username="tech")
    make_user(operator, "qc_analyst", username="analyst")
    demo.load(False)
    entries = AuditEvent.objects.count()
    runs = list(MetabolismRun.objects.order_by("sampled_on", "pk"))
    assert len(runs) == 3
    assert {r.organisation_id for r in runs} == {aurora.pk}
    assert {r.donor.reference for r in runs if r.donor} == {demo.DONOR_REFERENCE}
    assert len({r.sampled_on for r in runs}) == 2
    (exclusion,) = WellExclusion.objects.all()
    assert exclusion.reason and exclusion.well == "C05"
    demo.load(False)
    assert MetabolismRun.objects.count() == 3
    assert WellExclusion.objects.count() == 1
    assert AuditEvent.objects.count() == entries
    assert verify_database().ok
