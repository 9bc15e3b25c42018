"""Root URLs: pages, the ledger, the API, the language switch."""

from django.urls import include, path, re_path

from celltrace.api.api import api
from celltrace.api.errors import no_such_operation

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    # any other address under /api/ answers a problem document too, never the HTML 404 page
    re_path(r"^api/", no_such_operation),
    path("audit/", include("celltrace.audit.urls")),
    path("bank/", include("celltrace.bank.urls")),
    path("imports/", include("celltrace.imports.urls")),
    path("storage/", include("celltrace.storage.urls")),
    path("qc/", include("celltrace.qc.urls")),
    path("metabolism/", include("celltrace.metabolism.urls")),
    path("monitoring/", include("celltrace.monitoring.urls")),
    path("", include("celltrace.web.urls")),
]
