"""Demo data for ``celltrace setup --demo``. Idempotent; writes only through services.

Later features add their own steps with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import Q

from celltrace.core import services
from celltrace.core.choices import OrganisationKind, Role
from celltrace.core.models import Organisation, User

DEMO_PASSWORD = "Bank&Lab-demo-2026"  # noqa: S105 - the published demo password

ORGANISATIONS = [
    ("Celltrace Demo Bank & Laboratory", "demo-lab", OrganisationKind.OPERATOR, "CN"),
    ("Aurora Cell Therapeutics", "aurora", OrganisationKind.CLIENT, "CN"),
    ("Borealis Biologics", "borealis", OrganisationKind.CLIENT, "DE"),
    ("Cirrus Cell Therapy", "cirrus", OrganisationKind.CLIENT, "SG"),
]

USERS = [
    ("admin", "Ada Admin", "demo-lab", [Role.ADMIN]),
    ("tech", "Tom Technician", "demo-lab", [Role.BANK_TECHNICIAN]),
    ("analyst", "Li Na (Analyst)", "demo-lab", [Role.QC_ANALYST]),
    ("reviewer", "Rita Reviewer", "demo-lab", [Role.QC_REVIEWER]),
    ("qa", "Quinn QA", "demo-lab", [Role.QA]),
    ("aurora", "Chen Wei", "aurora", [Role.CLIENT_USER]),
    ("borealis", "Ben Becker", "borealis", [Role.CLIENT_USER]),
    ("cirrus", "Siti Rahman", "cirrus", [Role.CLIENT_USER]),
]

Step = Callable[[bool], None]
_STEPS: list[tuple[str, Step]] = []


def register(name: str, step: Step) -> None:
    """Add a demo-data step (runs after the organisations and users exist)."""
    if name not in [n for n, _ in _STEPS]:
        _STEPS.append((name, step))


class DemoRefused(Exception):
    """Demo data (accounts with a published password, real signatures) would go into a
    database that is not a demo's."""


def refusal() -> str | None:
    """Why demo data may not be loaded here, or None: never under settings that forbid it
    (production: ``CELLTRACE_ALLOW_DEMO`` unset), never into a database with accounts of its
    own (QA and administrator logins with the published password would sit beside them)."""
    from django.conf import settings

    if not getattr(settings, "ALLOW_DEMO_DATA", True):
        return (
            "Demo data is not loaded under these settings (production): its accounts share a "
            "published password. Use a data directory of its own for a demonstration."
        )
    # an account is the demo's only under a demo username in that user's demo organisation
    # (a real installation's "admin" in its own organisation is not)
    demo = Q(pk__in=[])
    for username, _name, org_code, _roles in USERS:
        demo |= Q(username=username, organisation__code=org_code)
    own = User.objects.exclude(demo)
    if own.exists():
        return (
            f"This database has {own.count()} account(s) of its own: demo data, whose accounts "
            "share a published password, goes only into a database of its own."
        )
    return None


def load(progress: bool = False) -> list[tuple[str, str, str, list[str]]]:
    """Create the demo organisations and users, run every registered step, and return the
    demo logins (username, full name, organisation name, roles) for ``setup --demo`` to print:
    every demo user is in :data:`USERS`, so that the printed list and the README agree.
    Raises :class:`DemoRefused` where :func:`refusal` says so, before writing anything."""
    why = refusal()
    if why is not None:
        raise DemoRefused(why)
    orgs: dict[str, Organisation] = {}
    for name, code, kind, country in ORGANISATIONS:
        org = Organisation.objects.filter(code=code).first()
        if org is None:
            org = services.organisation_create(
                actor=None, name=name, code=code, kind=kind, country=country
            )
        orgs[code] = org
    logins = []
    for username, full_name, org_code, roles in USERS:
        if not User.objects.filter(username=username).exists():
            with transaction.atomic():
                services.user_create(
                    actor=None,
                    organisation=orgs[org_code],
                    username=username,
                    full_name=full_name,
                    email=f"{username}@example.org",
                    roles=roles,
                    password=DEMO_PASSWORD,
                    must_change_password=False,
                )
        logins.append((username, full_name, orgs[org_code].name, [str(r) for r in roles]))
    for name, step in _STEPS:
        if progress:
            print(f"Demo data: {name} …", flush=True)
        step(progress)
    return logins
