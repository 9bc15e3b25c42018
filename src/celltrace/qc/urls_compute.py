from django.urls import URLPattern, path

from celltrace.qc import views_compute

urlpatterns: list[URLPattern] = [
    path("tests/<int:pk>/compute/", views_compute.test_compute, name="test_compute"),
    path("tests/<int:pk>/sterility/", views_compute.sterility_readings, name="sterility"),
    path("sterility/due/", views_compute.readings_due, name="readings_due"),
    path("results/<int:pk>/plots/<int:index>.svg", views_compute.result_plot, name="result_plot"),
]
