"""Seahorse parameter names in the page's language (pages and the PDF report)."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from celltrace.assays.metabolism import analysis
from celltrace.metabolism import labels, report, selectors
from celltrace.metabolism.models import MetabolismRun
from tests.conftest import PASSWORD

CJK = re.compile(r"[\u4e00-\u9fff]")


def _library_labels() -> dict[str, str]:
    """Every ``ParameterDef(key, label, ...)`` the assay library writes."""
    tree = ast.parse(Path(analysis.__file__).read_text(encoding="utf-8"))
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ParameterDef":
            key, label = node.args[0], node.args[1]
            assert isinstance(key, ast.Constant) and isinstance(label, ast.Constant)
            found[key.value] = label.value
    return found


def test_the_table_names_every_parameter_of_the_library_as_the_library_does() -> None:
    assert _library_labels() == labels.PARAMETER_LABELS


def test_every_parameter_has_a_chinese_name() -> None:
    with translation.override("zh-hans"):
        names = {key: labels.parameter_label({"key": key}) for key in labels.PARAMETER_LABELS}
    assert names["basal_respiration"] == "基础呼吸"
    assert names["proton_leak"] == "质子漏"
    assert names["coupling_efficiency_percent"] == "偶联效率"
    assert [k for k, v in names.items() if not CJK.search(v)] == []


def test_stored_labels_and_unknown_keys() -> None:
    with translation.override("zh-hans"):
        assert labels.parameter_label("Basal respiration") == "基础呼吸"
        assert labels.parameter_label({"key": "new_thing", "label": "New thing"}) == "New thing"
        assert labels.parameter_label("Wave constant") == "Wave constant"
    with translation.override("en"):
        assert labels.parameter_label({"key": "proton_leak", "label": "x"}) == "Proton leak"


@pytest.mark.django_db
def test_run_page_and_report_show_chinese_parameter_names(
    analyst: Any, upload: Any, donor_a: Any
) -> None:
    upload("xfe24-mst-raw_1.xlsx", timepoint="at_banking", sampled_on=dt.date(2024, 5, 2))
    run = MetabolismRun.objects.get()
    web = Client()
    assert web.post("/login/", {"username": "analyst", "password": PASSWORD}).status_code == 302
    web.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    page = web.get(f"/metabolism/runs/{run.pk}/").content.decode()
    assert "基础呼吸" in page and "质子漏" in page
    assert "Basal respiration" not in page and "Proton leak" not in page
    profile = web.get(f"/metabolism/donors/{donor_a.pk}/").content.decode()
    assert "基础呼吸" in profile and "Basal respiration" not in profile

    prof = selectors.donor_profile(analyst, donor_a.pk)
    chinese = report.render_html(prof, "zh-hans")
    assert "基础呼吸" in chinese and "Basal respiration" not in chinese
    english = report.render_html(prof, "en")
    assert "Basal respiration" in english and "基础呼吸" not in english


def test_a_value_rounding_to_zero_is_shown_without_a_sign() -> None:
    from celltrace.metabolism.report import fmt_value

    assert [fmt_value(v) for v in (-0.001, -0.006, 0.0, 12.5, None)] == [
        "0.00",
        "-0.01",
        "0.00",
        "12.50",
        "—",
    ]
