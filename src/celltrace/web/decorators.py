"""View decorators shared by the apps' pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils.translation import gettext as _

#: ``Sec-Fetch-Site`` values of a request the user started on celltrace itself (or by typing
#: the address / opening a bookmark: ``none``).
OWN_SITE = frozenset({"same-origin", "none"})


def from_another_site(request: HttpRequest) -> bool:
    """The browser says another site started this request (Fetch Metadata); False when it
    says nothing (an older browser, a script)."""
    site = request.headers.get("Sec-Fetch-Site")
    return site is not None and site not in OWN_SITE


def own_site_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse a request another site started, for GET views that record something on the
    ledger (printing labels) or change the user's state: a link or image on another site
    would otherwise do it in the user's name, since CSRF protection covers unsafe methods
    only. Uses the browser's Fetch Metadata (``Sec-Fetch-Site``); a client that sends none
    (an older browser, a script with its own session) is let through."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if from_another_site(request):
            return HttpResponseForbidden(
                _("Open this from celltrace's own pages, not from another site."),
                content_type="text/plain; charset=utf-8",
            )
        return view(request, *args, **kwargs)

    return wrapper
