"""Simplified Chinese catalogue: complete, placeholder-safe, compiled, and used by the pages."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.test import Client
from django.utils import translation

import celltrace

LC_MESSAGES = Path(celltrace.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_PATH = LC_MESSAGES / "django.po"
MO_PATH = LC_MESSAGES / "django.mo"

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")

# Translations other parts of the suite (the browser test) and users rely on.
REQUIRED = {
    "Dashboard": "仪表板",
    "Audit ledger": "审计账本",
    "Sign": "签名",
    "Valid": "有效",
    "Reviewed": "已复核",
    "Log in": "登录",
    "Log out": "退出登录",
}

# English strings visible on the login page (login.html, base.html and the login form).
LOGIN_PAGE_ENGLISH = [
    "Log in",
    "Times are shown in UTC.",
    "Username",
    "Password",
]


@pytest.fixture(scope="module")
def po() -> polib.POFile:
    return polib.pofile(str(PO_PATH))


def test_header_declares_chinese_without_plural_forms_variation(po: polib.POFile) -> None:
    assert po.metadata["Language"] == "zh_Hans"
    assert po.metadata["Plural-Forms"] == "nplurals=1; plural=0;"
    assert not po.metadata_is_fuzzy


def translations(entry: polib.POEntry) -> list[str]:
    """The msgstr of an entry, or every plural form of a plural entry (ngettext)."""
    if entry.msgid_plural:
        return [entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural)]
    return [entry.msgstr]


def test_every_entry_is_translated_and_not_fuzzy(po: polib.POFile) -> None:
    assert len(po) > 200
    untranslated = [e.msgid for e in po if not all(t.strip() for t in translations(e))]
    fuzzy = [e.msgid for e in po if "fuzzy" in e.flags]
    obsolete = [e.msgid for e in po.obsolete_entries()]
    assert untranslated == []
    assert fuzzy == []
    assert obsolete == []


def test_placeholders_are_kept(po: polib.POFile) -> None:
    mismatched = [
        (e.msgid, t)
        for e in po
        for t in translations(e)
        if set(PLACEHOLDER.findall(e.msgid)) != set(PLACEHOLDER.findall(t))
    ]
    assert mismatched == []


def test_placeholder_entries_are_marked_python_format(po: polib.POFile) -> None:
    unmarked = [
        e.msgid for e in po if PLACEHOLDER.search(e.msgid) and "python-format" not in e.flags
    ]
    assert unmarked == []


def test_compiled_catalogue_matches_po(po: polib.POFile) -> None:
    assert MO_PATH.exists(), "run compilemessages -l zh_Hans"
    mo = polib.mofile(str(MO_PATH))
    po_map = {(e.msgctxt, e.msgid): translations(e) for e in po.translated_entries()}
    mo_map = {(e.msgctxt, e.msgid): translations(e) for e in mo if e.msgid}
    assert mo_map == po_map
    assert mo.metadata.get("Plural-Forms") == po.metadata["Plural-Forms"]


@pytest.mark.parametrize(("english", "chinese"), sorted(REQUIRED.items()))
def test_required_translations(po: polib.POFile, english: str, chinese: str) -> None:
    entry = po.find(english)
    assert entry is not None
    assert entry.msgstr == chinese
    with translation.override("zh-hans"):
        assert translation.gettext(english) == chinese


def test_override_switches_back_to_english() -> None:
    with translation.override("zh-hans"):
        assert translation.gettext("Dashboard") == "仪表板"
    with translation.override("en"):
        assert translation.gettext("Dashboard") == "Dashboard"


class _VisibleText(HTMLParser):
    """Collects the text a reader sees (not attributes, scripts or styles)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def _visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return parser.text


@pytest.mark.django_db
def test_login_page_in_chinese(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/login/"})
    assert response.status_code == 302

    response = client.get("/login/")
    assert response.status_code == 200
    html = response.content.decode()
    text = _visible_text(html)

    assert '<html lang="zh-hans">' in html
    assert "登录" in text
    assert "时间均以 UTC 显示。" in text
    leftovers = [s for s in LOGIN_PAGE_ENGLISH if s in text]
    assert leftovers == []


@pytest.mark.django_db
def test_login_page_in_english_by_default(client: Client) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    text = _visible_text(response.content.decode())
    assert "Log in" in text
    assert "登录" not in text


def test_ambiguous_words_are_translated_by_context() -> None:
    with translation.override("zh-hans"):
        assert translation.pgettext("measurement unit", "Unit") == "单位"
        assert translation.gettext("Unit") != "单位"  # a storage unit elsewhere
        assert translation.pgettext("pharmacopoeial method reference", "Reference") == "检验依据"
        assert translation.gettext("Reference") != "检验依据"  # a donor reference elsewhere
