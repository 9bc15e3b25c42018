from django.urls import path

from celltrace.monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("", views.index, name="index"),
    path("units/<int:pk>/", views.unit_detail, name="unit"),
    path("units/<int:pk>/chart.svg", views.unit_chart, name="unit_chart"),
    path("excursions/", views.excursion_list, name="excursions"),
    path("excursions/<int:pk>/", views.excursion_detail, name="excursion"),
    path("excursions/<int:pk>/impact.csv", views.excursion_impact_csv, name="impact_csv"),
    path("alarms/<int:pk>/comment/", views.alarm_comment, name="alarm_comment"),
    path("readings/upload/", views.upload, name="upload"),
    path("readings/template.csv", views.template_csv, name="template"),
]
