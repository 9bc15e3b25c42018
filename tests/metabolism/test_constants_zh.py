"""The run page's constants, units and statistics caption in the page's language (UI review
items 9 and 19): names of Wave's configuration rows and of the analysis' constants, where a
constant came from, the unit "ratio", and what the ± and the brackets are."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import polib
import pytest
from django.test import Client
from django.utils import translation

from celltrace.assays.metabolism import defaults, seahorse
from celltrace.metabolism import labels
from tests.conftest import PASSWORD
from tests.metabolism.conftest import fixture_path
from tests.web.test_i18n import PO_PATH

CJK = re.compile(r"[\u4e00-\u9fff]")


def _cells(page: str, heading: str) -> list[list[str]]:
    """The rows (cell texts) of the first table after ``heading``."""
    table = page[page.index(heading) :]
    table = table[table.index("<tbody>") : table.index("</tbody>")]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c.replace("<br>", "\n"))).strip()
            for c in re.findall(r"<td.*?</td>", r, re.DOTALL)
        ]
        for r in re.findall(r"<tr>.*?</tr>", table, re.DOTALL)
    ]


def test_every_constant_label_the_library_writes_has_a_name_here() -> None:
    written = {
        "XFe Assay Version",
        "Assay Name",
        "Instrument Serial",
        "Plate Volume",
        "kVol",
        "Normalization Unit",
        "Norm. Scale Factor",
        *seahorse._NUMERIC_CONSTANTS,
        *seahorse._TEXT_CONSTANTS,
        "CO2 contribution factor (CCF)",
        "P/O ratio",
    }
    assert written - set(labels.CONSTANT_LABELS) <= labels.CONSTANT_NOTATION
    catalogue = {e.msgid: e.msgstr for e in polib.pofile(str(PO_PATH)) if not e.obsolete}
    assert [m for m in labels.CONSTANT_LABELS.values() if not catalogue.get(m)] == []
    with translation.override("zh-hans"):
        assert labels.constant_label("CO2 contribution factor (CCF)") == "CO2 贡献因子（CCF）"
        assert labels.constant_label("P/O ratio") == "P/O 比"
        assert labels.constant_label("Buffer Factor B07") == "孔 B07 的缓冲因子"
        assert labels.constant_label("TAC") == "TAC"
        assert labels.constant_label("Something newer") == "Something newer"
        sources = [
            labels.constant_source(f"default: {d.source}")
            for d in [*defaults.CCF_DEFAULTS.values(), defaults.PO_RATIO_DEFAULT]
        ]
        assert labels.constant_source("settings") == "随本次运行录入"
        assert labels.constant_source("Assay Configuration!B58") == "Assay Configuration!B58"
        assert labels.unit_text("ratio") == "比值"
        assert labels.unit_text("pmol/min") == "pmol/min"
    assert all(s.startswith("默认值：") for s in sources), sources
    assert [s for s in sources if "verify" in s or "white paper" in s] == []
    with translation.override("en"):
        assert labels.constant_label("ksv") == "ksv"
        assert labels.constant_source("settings") == "entered with the run"
        assert labels.constant_source(f"default: {defaults.PO_RATIO_DEFAULT.source}") == (
            f"default: {defaults.PO_RATIO_DEFAULT.source}"
        )


@pytest.mark.django_db
def test_the_chinese_run_page_names_constants_units_and_statistics(
    analyst: Any, upload: Any
) -> None:
    run = upload(
        "xfe96-mito-glyco-rep1.xlsx",
        file_bytes=fixture_path("xfe96-mito-glyco-rep1.xlsx").read_bytes(),
        filename="xfe96-mito-glyco-rep1.xlsx",
        assay="atp-rate",
        timepoint="after_intervention",
        sampled_on=dt.date(2025, 9, 1),
    )
    web = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert web.post("/login/", {"username": "analyst", "password": PASSWORD}).status_code == 302
    page = web.get(f"/metabolism/runs/{run.pk}/").content.decode()
    constants = {row[0]: row for row in _cells(page, "<h3>常数</h3>")}
    assert constants["CO2 贡献因子（CCF）"][2] == (
        "默认值：开源 Seahorse 软件包对 XF/XFe96 使用的值（待核实）"
    )
    assert constants["P/O 比"][2] == (
        "默认值：Agilent 白皮书《Quantifying Cellular ATP Production Rate》（Romero 等）"
    )
    assert constants["氧传感器猝灭常数（ksv）"][2] == "Assay Configuration!B58"
    assert "孔 A01 的缓冲因子" in constants
    names = list(constants)
    for english in ("CO2 contribution factor (CCF)", "P/O ratio", "ksv", "Buffer Factor A01"):
        assert english not in names
    assert not [n for n in names if not CJK.search(n) and n not in labels.CONSTANT_NOTATION]
    assert "default:" not in page and "white paper" not in page
    # the unit of the ATP rate index, in the results and in the values per well
    results = {row[0].split("\n")[0]: row for row in _cells(page, "<h2>各组结果</h2>")}
    assert results["ATP 速率指数"][1] == "比值"
    assert ">ratio<" not in page
    # what ± and the brackets are
    assert "样本标准差（SD，n − 1）" in page and "均值标准误（SEM = SD / √n）" in page
    assert "样本标准差（SEM）" not in page

    english = Client()
    assert english.post("/login/", {"username": "analyst", "password": PASSWORD}).status_code == 302
    page = english.get(f"/metabolism/runs/{run.pk}/").content.decode()
    assert "CO2 contribution factor (CCF)" in page and ">ratio<" in page
    assert "standard error of the mean (SEM = SD / √n)" in page
    assert "sample SD (SEM)" not in page
