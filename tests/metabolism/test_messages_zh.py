"""Warnings and formulas of the assay library in the page's language (pages and the PDF).

The library writes English with a code and parameters; the app keeps one translatable template
per code (``labels.WARNING_TEXTS``, ``labels.FORMULA_TEXTS``). A library code without a template
here, or a template missing from the Chinese catalogue, fails these tests.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from pathlib import Path
from typing import Any

import openpyxl
import polib
import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from celltrace.assays.metabolism.messages import (
    FORMULA_TEMPLATES,
    WARNING_TEMPLATES,
    AssayWarning,
    Formula,
    parse_warning,
    template_fields,
)
from celltrace.metabolism import labels, report, selectors, services
from celltrace.metabolism.models import MetabolismRun
from tests.conftest import PASSWORD
from tests.metabolism.conftest import fixture_path
from tests.metabolism.test_pages import pdf_text

CJK = re.compile(r"[\u4e00-\u9fff]")
FIELD = re.compile(r"%\((\w+)\)s")
#: Formulas written in notation only (OCR, m3, min, max, P/O…): the same in every language.
NOTATION_ONLY = {
    "non_mitochondrial_ocr",
    "basal_respiration",
    "maximal_respiration",
    "proton_leak",
    "atp_linked_respiration",
    "acute_response",
    "mito_atp_production_rate",
    "total_atp_production_rate",
    "atp_rate_index",
    "post_2dg_acidification",
}


def _gettext_form(template: str) -> str:
    return template.format(**{name: f"%({name})s" for name in template_fields(template)})


def _sample(cls: type[AssayWarning] | type[Formula], code: str) -> AssayWarning | Formula:
    return cls(code, **{n: f"<{n}>" for n in template_fields(cls.TEMPLATES[code])})


def test_every_library_code_has_a_translatable_template() -> None:
    assert set(labels.WARNING_TEXTS) == set(WARNING_TEMPLATES)
    assert set(labels.FORMULA_TEXTS) == set(FORMULA_TEMPLATES)
    for code, template in WARNING_TEMPLATES.items():
        assert labels.WARNING_TEXTS[code] == _gettext_form(template), code
    for code, template in FORMULA_TEMPLATES.items():
        assert labels.FORMULA_TEXTS[code] == _gettext_form(template), code
    assert set(FORMULA_TEMPLATES) > NOTATION_ONLY


def test_every_template_is_in_the_chinese_catalogue_with_its_fields() -> None:
    po = Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES" / "django.po"
    catalogue = {e.msgid: e.msgstr for e in polib.pofile(str(po)) if not e.obsolete}
    missing = []
    for msgid in [*labels.WARNING_TEXTS.values(), *labels.FORMULA_TEXTS.values()]:
        msgstr = catalogue.get(msgid, "")
        if not msgstr:
            missing.append(msgid)
            continue
        assert set(FIELD.findall(msgstr)) == set(FIELD.findall(msgid)), msgid
    assert missing == []


def test_each_code_reads_in_chinese_and_in_english() -> None:
    for code in WARNING_TEMPLATES:
        msg = _sample(AssayWarning, code)
        with translation.override("zh-hans"):
            zh = labels.warning_text(str(msg))
        with translation.override("en"):
            assert labels.warning_text(str(msg)) == str(msg)
        assert CJK.search(zh) and zh != str(msg), code
        assert all(f"<{n}>" in zh for n in msg.params), code  # every parameter is shown
    for code in FORMULA_TEMPLATES:
        msg = _sample(Formula, code)
        param = {"key": code, "formula": str(msg)}
        with translation.override("zh-hans"):
            zh = (
                labels.normalisation_formula_text(str(msg))
                if code == "normalised_rate"
                else labels.formula_text(param)
            )
        with translation.override("en"):
            assert labels.formula_text(param) == str(msg) or code == "normalised_rate"
        assert all(f"<{n}>" in zh for n in msg.params), code
        assert bool(CJK.search(zh)) is (code not in NOTATION_ONLY), code


def test_texts_no_template_matches_are_shown_as_stored() -> None:
    with translation.override("zh-hans"):
        assert labels.warning_text("a warning of a later version") == "a warning of a later version"
        assert labels.formula_text({"key": "new_parameter", "formula": "OCR m1"}) == "OCR m1"
        assert labels.formula_text({"key": "proton_leak", "formula": "edited"}) != ""


# ----------------------------------------------------------------------------------------------
# Pages and the PDF


def _edited_per_export() -> bytes:
    """The first XFe24 export with one PER value raised: the reader warns of an edited file."""
    wb = openpyxl.load_workbook(fixture_path("xfe24-mst-raw_1.xlsx"))
    ws = wb["Rate"]
    header = [c.value for c in ws[1]]
    per_col = header.index("PER") + 1
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 3).value != "Background")
    ws.cell(row, per_col).value = float(ws.cell(row, per_col).value) + 50.0
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", html.unescape(text))


@pytest.mark.django_db
def test_chinese_pages_and_report_show_no_english_warning_or_formula(
    analyst: Any, upload: Any, donor_a: Any
) -> None:
    # default CCF (atp-rate without a CCF) and an edited PER column
    atp = upload(
        "xfe24-mst-raw_1.xlsx",
        assay="atp-rate",
        timepoint="at_banking",
        sampled_on=dt.date(2024, 5, 2),
    )
    edited = upload(
        "xfe24-mst-raw_1.xlsx",
        file_bytes=_edited_per_export(),
        filename="edited.xlsx",
        timepoint="later_draw",
        sampled_on=dt.date(2025, 5, 2),
    )
    # a group with every well excluded
    for well, group in sorted(edited.plate_layout.items()):
        if group == "A":
            services.well_exclude(actor=analyst, run=edited, well=well, reason="test")
    edited.refresh_from_db()
    codes = {
        w.code
        for run in (atp, edited)
        for w in (parse_warning(t) for t in MetabolismRun.objects.get(pk=run.pk).warnings)
        if w is not None
    }
    assert codes == {"ccf_default_unverified", "per_identity_spread", "group_without_wells"}
    runs = list(MetabolismRun.objects.order_by("sampled_on"))
    english_warnings = [w for r in runs for w in r.warnings]
    english_formulas = [
        str(p["formula"]) for r in runs for p in r.parameters if p["key"] not in NOTATION_ONLY
    ]
    assert any("Wave PER column" in f for f in english_formulas)
    with translation.override("zh-hans"):
        chinese = [labels.warning_text(w) for w in english_warnings] + [
            labels.formula_text(p) for r in runs for p in r.parameters
        ]

    web = Client()
    assert web.post("/login/", {"username": "analyst", "password": PASSWORD}).status_code == 302
    web.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    pages = {
        f"run {r.pk}": _squeeze(web.get(f"/metabolism/runs/{r.pk}/").content.decode()) for r in runs
    }
    pages["profile"] = _squeeze(web.get(f"/metabolism/donors/{donor_a.pk}/").content.decode())
    prof = selectors.donor_profile(analyst, donor_a.pk)
    pages["pdf"] = _squeeze(pdf_text(report.render_pdf(prof, "zh-hans")))
    for name, text in pages.items():
        for english in english_warnings + english_formulas:
            assert _squeeze(english) not in text, (name, english)
    for text in chinese:
        assert _squeeze(text) in pages["pdf"] or not CJK.search(text)
    for w in english_warnings:
        with translation.override("zh-hans"):
            assert _squeeze(labels.warning_text(w)) in pages["profile"]
    # the English report still reads as the library wrote it
    english_pdf = _squeeze(pdf_text(report.render_pdf(prof, "en")))
    for english in english_warnings + english_formulas:
        assert _squeeze(english) in english_pdf, english
