from django.urls import include, path

from celltrace.qc import views

app_name = "qc"
urlpatterns = [
    path("", views.portal, name="portal"),
    path("requests/new/", views.request_new, name="request_new"),
    path("requests/<int:pk>/", views.request_detail, name="request"),
    path("requests/<int:pk>/submit/", views.request_submit, name="request_submit"),
    path("requests/<int:pk>/cancel/", views.request_cancel, name="request_cancel"),
    path("requests/<int:pk>/receive/", views.receive, name="receive"),
    path("requests/<int:pk>/tests/", views.tests_create, name="tests_create"),
    path("requests/<int:pk>/certificates/", views.certificate_issue, name="certificate_issue"),
    path("lab/", views.incoming, name="incoming"),
    path("worklist/", views.worklist, name="worklist"),
    path("review/", views.review_queue, name="review"),
    path("tests/<int:pk>/", views.test_detail, name="test"),
    path("results/<int:pk>/invalidate/", views.result_invalidate, name="result_invalidate"),
    path("oos/", views.oos_list, name="oos_list"),
    path("oos/<int:pk>/", views.oos_detail, name="oos"),
    path("certificates/<int:pk>/pdf/", views.certificate_download, name="certificate_pdf"),
    path("certificates/<int:pk>/amend/", views.certificate_amend, name="certificate_amend"),
    path(
        "certificates/<int:pk>/translate/",
        views.certificate_translate,
        name="certificate_translate",
    ),
    path("verify/<uuid:uuid>/", views.verify, name="verify"),
    path("", include("celltrace.qc.urls_dashboard")),
    path("", include("celltrace.qc.urls_catalogue")),
    path("", include("celltrace.qc.urls_compute")),
]
