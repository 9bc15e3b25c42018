"""Addresses of the method catalogue, specifications, test panels, sample labels and storage."""

from django.urls import URLPattern, path

from celltrace.qc import views_catalogue as v

urlpatterns: list[URLPattern] = [
    path("catalogue/methods/", v.method_list, name="methods"),
    path("catalogue/methods/new/", v.method_new, name="method_new"),
    path("catalogue/methods/<slug:code>/", v.method_detail, name="method"),
    path(
        "catalogue/methods/<slug:code>/versions/new/",
        v.method_version_new,
        name="method_version_new",
    ),
    path(
        "catalogue/methods/<slug:code>/versions/<int:version>/withdraw/",
        v.method_version_withdraw,
        name="method_version_withdraw",
    ),
    path("catalogue/specifications/", v.specification_list, name="specifications"),
    path("catalogue/specifications/new/", v.specification_new, name="specification_new"),
    path("catalogue/specifications/<int:pk>/", v.specification_detail, name="specification"),
    path(
        "catalogue/specifications/<int:pk>/new-version/",
        v.specification_version_new,
        name="specification_version_new",
    ),
    path(
        "catalogue/specifications/<int:pk>/withdraw/",
        v.specification_withdraw,
        name="specification_withdraw",
    ),
    path("catalogue/panels/", v.panel_list, name="panels"),
    path("catalogue/panels/new/", v.panel_new, name="panel_new"),
    path("catalogue/panels/<int:pk>/", v.panel_detail, name="panel"),
    path("catalogue/panels/<int:pk>/edit/", v.panel_edit, name="panel_edit"),
    path("requests/<int:pk>/labels.pdf", v.sample_labels_pdf, name="sample_labels"),
    path("samples/scan/", v.sample_scan, name="sample_scan"),
    path("samples/<int:pk>/", v.sample_detail, name="sample"),
]
