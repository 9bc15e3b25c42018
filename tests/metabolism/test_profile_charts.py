"""The depositor's energy map: every time point's groups marked, no label over another."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from celltrace.metabolism import charts, selectors
from tests.assays.metabolism.test_charts import _check_legible

pytestmark = pytest.mark.django_db


def test_profile_energy_map_with_crowded_time_points_is_legible(
    analyst: Any, upload: Any, donor_a: Any
) -> None:
    # the demo's shape: two plates, the second analysed twice (same points), and a free-text
    # time point label in Chinese
    upload("xfe24-mst-raw_1.xlsx", timepoint="at_banking", sampled_on=dt.date(2024, 3, 12))
    upload(
        "xfe24-mst-raw_2.xlsx",
        timepoint="later_draw",
        timepoint_label="第二次采血",
        sampled_on=dt.date(2025, 3, 18),
    )
    upload(
        "xfe24-mst-raw_2.xlsx",
        assay="atp-rate",
        timepoint="later_draw",
        timepoint_label="第二次采血",
        sampled_on=dt.date(2025, 3, 18),
        ccf=Decimal("0.60"),
    )
    prof = selectors.donor_profile(analyst, donor_a.pk)
    svg = charts.profile_energy_map(prof.runs)
    n = sum(len(r.group_results) for r in prof.runs)
    boxes = _check_legible(svg, n)
    keys = [
        text for gid, (text, _) in boxes.items() if gid.startswith("key-") and "-" not in gid[4:]
    ]
    assert "2024-03-12 At banking: A" in keys
    assert "2025-03-18 Later draw: 第二次采血: E" in keys
