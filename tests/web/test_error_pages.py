"""Error pages: 404, 403 and 400 are the site's own pages (navigation, language, a way home);
500 and the CSRF failure page are self-contained (no request, user or database needed)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.utils import translation
from django.views.defaults import server_error

from tests.bank import factories
from tests.conftest import PASSWORD


def login(username: str, language: str = "en") -> Client:
    client = Client(headers={"accept-language": language})
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def no_inline_code(html: str) -> None:
    """The strict CSP forbids inline scripts and styles."""
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html and " style=" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_foreign_object_404_is_the_site_page_in_the_users_language(
    settings: Any, tech: Any, client_a: Any, client_b: Any, make_user: Any, language: str
) -> None:
    assert settings.DEBUG is False
    [theirs] = factories.aliquots(tech, client_b, 1, reference="B-1")
    make_user(client_a, "client_user", username="alice")
    response = login("alice", language).get(f"/bank/aliquots/{theirs.pk}/")
    assert response.status_code == 404
    html = response.content.decode()
    no_inline_code(html)
    assert f'<html lang="{language}">' in html
    assert 'class="mainnav"' in html and 'class="who"' in html  # the signed-in site frame
    assert 'id="error-page"' in html and 'href="/"' in html
    assert "Not Found" not in html and "The requested resource" not in html
    with translation.override(language):
        assert translation.gettext("Page not found") in html
        assert translation.gettext("Dashboard") in html  # the navigation
    if language == "zh-hans":
        assert "仪表板" in html


@pytest.mark.django_db
def test_unknown_url_404_for_a_visitor(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'id="error-page"' in html and "celltrace.css" in html


@pytest.mark.django_db
def test_refused_page_403_shows_the_reason_with_navigation(tech: Any, qa_user: Any) -> None:
    response = login("qa", "zh-hans").get("/imports/")
    assert response.status_code == 403
    html = response.content.decode()
    no_inline_code(html)
    assert "403 Forbidden" not in html
    assert 'id="error-page"' in html and 'class="mainnav"' in html
    assert '<html lang="zh-hans">' in html
    with translation.override("zh-hans"):
        reason = translation.gettext(
            "Only bank technicians and administrators of the operator can do this."
        )
        assert reason in html and translation.gettext("Not permitted") in html


@pytest.mark.django_db
def test_bad_request_400_is_the_site_page(client: Client) -> None:
    response = client.get("/login/", headers={"host": "not-allowed.example"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="error-page"' in html and "Bad Request (400)" not in html
    assert "celltrace.css" in html


def test_server_error_500_needs_no_request_context_or_database(settings: Any) -> None:
    """No database access is allowed in this test (no django_db mark): the page must not try."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }  # no manifest exists here: the page must not look anything up in it
    with translation.override("zh-hans"):
        response = server_error(RequestFactory().get("/"))
        title = translation.gettext("Server error")
    assert response.status_code == 500
    html = response.content.decode()
    no_inline_code(html)
    assert '<html lang="zh-hans">' in html and title in html
    assert 'href="/static/web/celltrace.css"' in html and 'href="/"' in html
    assert "Server Error (500)" not in html


@pytest.mark.django_db
def test_csrf_failure_page_is_styled_and_explains(client: Client) -> None:
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    html = response.content.decode()
    no_inline_code(html)
    assert 'id="error-page"' in html and "celltrace.css" in html
    assert "CSRF verification failed" not in html
    # no cookie at all: the page says so (the reason reaches the template)
    assert "allow cookies for this site" in html
    # a cookie but the wrong origin (a proxy missing from CSRF_TRUSTED_ORIGINS)
    from django.middleware.csrf import _get_new_csrf_string

    secret = _get_new_csrf_string()
    strict.cookies["csrftoken"] = secret
    proxied = strict.post(
        "/login/",
        {"username": "x", "password": "y", "csrfmiddlewaretoken": secret},
        HTTP_ORIGIN="https://celltrace.example.org",
        secure=True,
    )
    assert proxied.status_code == 403
    text = proxied.content.decode()
    assert "CSRF_TRUSTED_ORIGINS" in text and "allow cookies" not in text
