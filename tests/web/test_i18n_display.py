"""Text that reached Chinese pages in English: signing buttons, ``_l`` strings, SPREC element
names and the monitoring chart legend."""

from __future__ import annotations

import ast
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import polib
import pytest
from django.template.loader import render_to_string
from django.utils import translation

import celltrace
from celltrace.audit.choices import SignatureMeaning
from celltrace.bank import sprec
from celltrace.core.management.commands.makemessages import Command as MakeMessages
from celltrace.imports import inventory
from celltrace.monitoring import charts
from celltrace.monitoring.selectors import Thresholds
from celltrace.qc.calculators import CALCULATORS

SRC = Path(celltrace.__file__).parent
CATALOGUE = SRC / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _sign_buttons(meanings: list[str]) -> list[str]:
    html = render_to_string(
        "web/partials/signatures.html",
        {"signatures": [], "sign_links": [(m, f"/sign/{m}/") for m in meanings], "here": ""},
    )
    return re.findall(r'<a class="button" href="[^"]*">([^<]*)</a>', html)


def test_every_sign_button_shows_the_translated_meaning() -> None:
    meanings = list(SignatureMeaning.values)
    with translation.override("zh-hans"):
        buttons = _sign_buttons(meanings)
        labels = [str(SignatureMeaning(m).label) for m in meanings]
    assert buttons == [f"签名: {label}" for label in labels]
    for meaning, button in zip(meanings, buttons, strict=True):
        assert meaning not in button
        assert CJK.search(button.removeprefix("签名: ")), button


def test_sign_buttons_in_english_use_the_labels() -> None:
    with translation.override("en"):
        assert _sign_buttons(["performed", "released", "acknowledged"]) == [
            "Sign: Performed",
            "Sign: Released",
            "Sign: Acknowledged",
        ]


def _l_strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "_l"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]


def test_makemessages_extracts_the_l_alias() -> None:
    assert "--keyword=_l" in MakeMessages.xgettext_options
    catalogue = {e.msgid: e.msgstr for e in polib.pofile(str(CATALOGUE)) if not e.obsolete}
    found = [
        text
        for module in ("qc/calculators.py", "imports/inventory.py")
        for text in _l_strings(SRC / module)
    ]
    assert len(found) > 30
    missing = [text for text in found if not catalogue.get(text)]
    assert missing == []


def test_no_other_translation_alias_is_used() -> None:
    """Only ``_`` (xgettext's own) and ``_l`` (our makemessages) are extracted as aliases."""
    pattern = re.compile(r"from django\.utils\.translation import .*\bas (\w+)")
    aliases = {
        m.group(1)
        for path in SRC.rglob("*.py")
        for m in pattern.finditer(path.read_text(encoding="utf-8"))
    }
    assert aliases <= {"_", "_l"}


def test_inventory_columns_and_calculator_kinds_are_translated() -> None:
    with translation.override("zh-hans"):
        helps = {c.name: str(c.help) for c in inventory.COLUMNS}
        kinds = {k.slug: str(k.label) for kinds in CALCULATORS.values() for k in kinds}
    assert helps["donor_reference"] == "假名化献者编号（最多 40 个字符）"
    assert kinds["gel-clot"] == "凝胶法"
    assert kinds["kinetic"] == "动态显色法或动态浊度法"
    assert kinds["hemocytometer"] == "血细胞计数板计数"
    english = [t for t in [*helps.values(), *kinds.values()] if not CJK.search(t)]
    assert english == []
    with translation.override("en"):
        assert str(inventory.COLUMNS[0].help) == "Pseudonymous donor reference (max. 40)"


def test_sprec_element_names_follow_the_active_language() -> None:
    with translation.override("zh-hans"):
        names = [human for _attr, human, _table, _length in sprec.ELEMENTS]
        assert sprec.ELEMENTS[0][1] == "样本类型"
        assert [e[1] for e in sprec.ELEMENTS[:2]] == ["样本类型", "初级容器"]
    assert names[:2] == ["样本类型", "初级容器"]
    assert all(CJK.search(n) for n in names)
    with translation.override("en"):
        assert [e[1] for e in sprec.ELEMENTS] == [e[1] for e in sprec.ELEMENTS_EN]
    assert len(sprec.ELEMENTS) == len(sprec.ELEMENTS_EN) == 7


def test_sprec_form_labels_are_translated() -> None:
    from celltrace.bank.forms import CollectionForm

    with translation.override("zh-hans"):
        form = CollectionForm()
        labels = [str(f.label) for name, f in form.fields.items() if name.startswith("sprec_")]
    assert labels[:2] == ["SPREC：样本类型", "SPREC：初级容器"]
    assert not [label for label in labels if re.search(r"[a-z]{4,}", label)]


SPREC_TABLES = (
    sprec.TYPE_OF_SAMPLE,
    sprec.PRIMARY_CONTAINER,
    sprec.PRE_CENTRIFUGATION,
    sprec.CENTRIFUGATION,
    sprec.POST_CENTRIFUGATION,
    sprec.LONG_TERM_STORAGE,
)


def _sprec_options(form: object) -> dict[str, list[str]]:
    fields = form.fields.items()  # type: ignore[attr-defined]
    return {
        name: [str(label) for value, label in f.choices if value]
        for name, f in fields
        if name.startswith("sprec_")
    }


def test_every_sprec_description_is_in_the_catalogue() -> None:
    catalogue = {e.msgid: e.msgstr for e in polib.pofile(str(CATALOGUE)) if not e.obsolete}
    descriptions = {text for table in SPREC_TABLES for text, _since in table.values()}
    assert len(descriptions) > 110
    assert sorted(d for d in descriptions if not catalogue.get(d)) == []
    # every description that says something in words says it in Chinese
    worded = [d for d in descriptions if re.search(r"[a-z]{3,}", d) and d not in BRANDS]
    assert sorted(d for d in worded if not CJK.search(catalogue[d])) == []


#: Product names kept as they are on the tube.
BRANDS = {"Oragene", "RNAlater"}


def test_sprec_options_follow_the_language_of_each_form() -> None:
    """The choices are built when the form is, so one process serves both languages."""
    from celltrace.bank.forms import CollectionForm

    with translation.override("zh-hans"):
        chinese = _sprec_options(CollectionForm())
    with translation.override("en"):
        english = _sprec_options(CollectionForm())
    assert "C · 冻存管 1–2 mL，液氮" in chinese["sprec_long_term_storage"]
    assert "W · 聚丙烯管 40–500 µL，< −135 °C" in chinese["sprec_long_term_storage"]
    assert "A · 室温，< 2 h" in chinese["sprec_pre_centrifugation"]
    assert "SER · 血清" in chinese["sprec_type_of_sample"]
    assert "C · Cryotube 1–2 mL, liquid nitrogen" in english["sprec_long_term_storage"]
    assert "A · RT, < 2 h" in english["sprec_pre_centrifugation"]
    assert [o.split(" · ")[0] for o in chinese["sprec_type_of_sample"]] == [
        o.split(" · ")[0] for o in english["sprec_type_of_sample"]
    ]
    left_english = [
        option
        for options in chinese.values()
        for option in options
        if re.search(r"[a-z]{3,}", option.split(" · ", 1)[1])
        and option.split(" · ", 1)[1] not in BRANDS
        and not CJK.search(option)
    ]
    assert left_english == []


def test_sprec_descriptions_stay_english_in_the_code_and_its_messages() -> None:
    with translation.override("zh-hans"):
        code = sprec.parse_sprec("SER-SST-A-B-N-B-C")
        assert code.describe()["long-term storage"] == "Cryotube 1–2 mL, liquid nitrogen"
        assert sprec.description(sprec.LONG_TERM_STORAGE, "C") == "冻存管 1–2 mL，液氮"
        assert sprec.LONG_TERM_STORAGE["C"][0] == "Cryotube 1–2 mL, liquid nitrogen"


def test_sprec_validation_messages_stay_english() -> None:
    with translation.override("zh-hans"), pytest.raises(ValueError, match="SPREC type of sample"):
        sprec.parse_sprec("SE-SST-A-B-N-B-A")


def _chart() -> str:
    thresholds = Thresholds(
        low_c=Decimal("-196"),
        high_c=Decimal("-150"),
        warning_band_c=Decimal("5"),
        silent_after_intervals=3,
    )
    end = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    return charts.temperature_chart(
        title="LN2-01",
        series=[],
        thresholds=thresholds,
        excursions=[],
        start=end - dt.timedelta(days=1),
        end=end,
    )


def test_monitoring_chart_legend_is_in_the_active_language() -> None:
    with translation.override("zh-hans"):
        svg = _chart()
    for text in ("报警上限", "报警下限", "预警"):
        assert text in svg
    for text in ("alarm high", "alarm low", "warning"):
        assert text not in svg
    with translation.override("en"):
        english = _chart()
    assert "alarm high" in english and "报警" not in english
