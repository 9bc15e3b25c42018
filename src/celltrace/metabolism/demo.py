"""Demo data for the metabolism app: a demo depositor of ``aurora`` with three Seahorse runs
at two time points (real XFe24 exports shipped in ``demo_data/``), one well excluded with a
reason. Written through the services; idempotent (each part is skipped when it exists).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from celltrace.bank import services as bank
from celltrace.bank.models import Donor
from celltrace.core.models import Organisation, User
from celltrace.metabolism import services
from celltrace.metabolism.choices import AssayType, TimePoint
from celltrace.metabolism.models import MetabolismRun, WellExclusion

DATA = Path(__file__).parent / "demo_data"
DONOR_REFERENCE = "AUR-ENERGY-001"
#: (export, counts CSV or "", assay, time point, label, date, CCF or None)
RUNS = [
    (
        "xfe24-mst-raw_1.xlsx",
        "xfe24-mst-counts_1.csv",
        AssayType.MITO_STRESS,
        TimePoint.AT_BANKING,
        "",
        dt.date(2024, 3, 12),
        None,
    ),
    (
        "xfe24-mst-raw_2.xlsx",
        "xfe24-mst-counts_2.csv",
        AssayType.MITO_STRESS,
        TimePoint.LATER_DRAW,
        "second draw",
        dt.date(2025, 3, 18),
        None,
    ),
    (
        "xfe24-mst-raw_2.xlsx",
        "",
        AssayType.ATP_RATE,
        TimePoint.LATER_DRAW,
        "second draw",
        dt.date(2025, 3, 18),
        Decimal("0.60"),
    ),
]
EXCLUDED = ("xfe24-mst-raw_2.xlsx", AssayType.MITO_STRESS, "C05", "cells detached in this well")


def load(progress: bool = False) -> None:
    aurora = Organisation.objects.filter(code="aurora").first()
    tech = User.objects.filter(username="tech").first()
    analyst = User.objects.filter(username="analyst").first()
    if aurora is None or tech is None or analyst is None:
        return
    donor = Donor.objects.filter(organisation=aurora, reference=DONOR_REFERENCE).first()
    if donor is None:
        donor = bank.donor_create(actor=tech, organisation=aurora, reference=DONOR_REFERENCE)
    for export, counts, assay, timepoint, label, day, ccf in RUNS:
        data = (DATA / export).read_bytes()
        run = MetabolismRun.objects.filter(
            donor=donor, assay=assay, file_name=export, sampled_on=day
        ).first()
        if run is None:
            run = services.metabolism_run_upload(
                actor=analyst,
                organisation=aurora,
                file_bytes=data,
                filename=export,
                assay=assay,
                donor=donor,
                timepoint=timepoint,
                timepoint_label=label,
                sampled_on=day,
                normalisation=(DATA / counts).read_bytes() if counts else None,
                normalisation_filename=counts,
                normalisation_scale=Decimal(10000),
                ccf=ccf,
                reason="demo data",
            )
        export_name, excl_assay, well, reason = EXCLUDED
        if (export, assay) == (export_name, excl_assay) and not WellExclusion.objects.filter(
            run=run, well=well
        ).exists():
            services.well_exclude(actor=analyst, run=run, well=well, reason=reason)
