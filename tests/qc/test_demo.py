"""The QC demo data: every request state, an open and a closed OOS, issued and amended
certificates; loading twice changes nothing."""

from __future__ import annotations

import pytest
from django.db import transaction

from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.core import demo as core_demo
from celltrace.core import services as core_services
from celltrace.core.models import Organisation, User
from celltrace.qc import demo
from celltrace.qc.choices import OosPhase, RequestStatus
from celltrace.qc.models import Certificate, OosInvestigation, TestRequest

pytestmark = pytest.mark.django_db


def _people() -> None:
    orgs = {}
    for name, code, kind, country in core_demo.ORGANISATIONS:
        orgs[code] = core_services.organisation_create(
            actor=None, name=name, code=code, kind=kind, country=country
        )
    for username, full_name, org_code, roles in core_demo.USERS:
        with transaction.atomic():
            core_services.user_create(
                actor=None,
                organisation=orgs[org_code],
                username=username,
                full_name=full_name,
                email=f"{username}@example.org",
                roles=roles,
                password=core_demo.DEMO_PASSWORD,
                must_change_password=False,
            )


def test_demo_data_covers_every_state_and_is_idempotent() -> None:
    _people()
    demo.load(False)
    statuses = set(TestRequest.objects.values_list("status", flat=True))
    assert statuses == set(RequestStatus.values)
    phases = set(OosInvestigation.objects.values_list("phase", flat=True))
    assert OosPhase.CLOSED in phases and (phases - {OosPhase.CLOSED})
    assert Certificate.objects.filter(supersedes__isnull=False).exists()
    # the demo's Chinese copies are translations of a version, not amendments
    translations = Certificate.objects.filter(translation_of__isnull=False)
    assert {(c.version, c.language) for c in translations} == {(1, "zh-hans"), (2, "zh-hans")}
    clients = set(TestRequest.objects.values_list("organisation__code", flat=True))
    assert clients == {"aurora", "borealis", "cirrus"}
    assert User.objects.get(username="cirrus").organisation == Organisation.objects.get(
        code="cirrus"
    )
    size = AuditEvent.objects.count()
    demo.load(False)
    assert AuditEvent.objects.count() == size
    assert verify_database().ok
