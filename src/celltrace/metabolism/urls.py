from django.urls import path

from celltrace.metabolism import views

app_name = "metabolism"
urlpatterns = [
    path("", views.run_list, name="runs"),
    path("runs/new/", views.run_new, name="run_new"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/charts/<slug:name>.svg", views.run_chart, name="run_chart"),
    path("runs/<int:pk>/wells/<str:well>/exclude/", views.well_exclude, name="well_exclude"),
    path("runs/<int:pk>/wells/<str:well>/include/", views.well_include, name="well_include"),
    path("donors/<int:pk>/", views.profile, name="profile"),
    path("donors/<int:pk>/charts/<slug:name>.svg", views.profile_chart, name="profile_chart"),
    path("donors/<int:pk>/report.pdf", views.profile_pdf, name="profile_pdf"),
]
