from django.urls import path

from celltrace.qc import views_dashboard, views_reports

urlpatterns = [
    path("dashboard/", views_dashboard.dashboard_page, name="dashboard"),
    path(
        "dashboard/charts/<slug:name>.svg", views_dashboard.dashboard_chart, name="dashboard_chart"
    ),
    path(
        "dashboard/overdue.csv", views_dashboard.dashboard_overdue_csv, name="dashboard_overdue_csv"
    ),
    path("oos/<int:pk>/report.pdf", views_reports.oos_report, name="oos_report"),
]
