from django.urls import path

from celltrace.imports import views

app_name = "imports"
urlpatterns = [
    path("", views.index, name="index"),
    path("template.csv", views.template_csv, name="template_csv"),
    path("template.xlsx", views.template_xlsx, name="template_xlsx"),
    path("<int:pk>/", views.run_detail, name="run"),
    path("<int:pk>/progress/", views.run_progress, name="progress"),
    path("<int:pk>/write/", views.run_write, name="write"),
]
