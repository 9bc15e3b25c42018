"""Reads of the metabolism app, scoped to what the acting user may see.

Operator staff see every organisation's runs; a client user sees only its own organisation's
runs and donors. Anything else is :class:`~celltrace.core.errors.NotFound`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from celltrace.bank.models import Donor
from celltrace.core.models import User
from celltrace.core.tenancy import get_visible, scope
from celltrace.metabolism.choices import TIMEPOINT_ORDER
from celltrace.metabolism.models import MetabolismRun, WellExclusion


def runs_visible(actor: User) -> QuerySet[MetabolismRun]:
    return (
        scope(MetabolismRun.objects.all(), actor)
        .select_related("organisation", "donor", "aliquot", "uploaded_by")
        .defer("file_data", "normalisation_data")
    )


def run_get(actor: User, pk: int | str) -> MetabolismRun:
    return get_visible(
        scope(MetabolismRun.objects.all(), actor)
        .select_related("organisation", "donor", "aliquot", "uploaded_by")
        .defer("file_data", "normalisation_data"),
        actor,
        pk=pk,
    )


def exclusions_visible(actor: User) -> QuerySet[WellExclusion]:
    return scope(WellExclusion.objects.all(), actor)


def exclusions_of(run: MetabolismRun) -> QuerySet[WellExclusion]:
    """Every exclusion of a run (active and withdrawn); ``run`` must be visible."""
    return WellExclusion.objects.filter(run=run).select_related("excluded_by", "included_by")


def donors_visible(actor: User) -> QuerySet[Donor]:
    return scope(Donor.objects.all(), actor).select_related("organisation")


def donor_get(actor: User, pk: int | str) -> Donor:
    return get_visible(donors_visible(actor), actor, pk=pk)


def donors_with_runs(actor: User) -> QuerySet[Donor]:
    ids = runs_visible(actor).filter(donor__isnull=False).values("donor_id")
    return donors_visible(actor).filter(pk__in=ids).order_by("organisation__name", "reference")


def _order(run: MetabolismRun) -> tuple[Any, ...]:
    return (run.sampled_on, TIMEPOINT_ORDER.get(run.timepoint, 99), run.pk)


@dataclass(frozen=True)
class Profile:
    """One depositor's runs in time order (oldest first)."""

    donor: Donor
    runs: list[MetabolismRun]

    @property
    def assays(self) -> list[str]:
        seen: list[str] = []
        for run in self.runs:
            if run.assay not in seen:
                seen.append(run.assay)
        return seen


def donor_profile(actor: User, pk: int | str) -> Profile:
    donor = donor_get(actor, pk)
    runs = sorted(runs_visible(actor).filter(donor=donor), key=_order)
    return Profile(donor, runs)
