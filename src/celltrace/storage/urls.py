from django.urls import path

from celltrace.storage import views

app_name = "storage"
urlpatterns = [
    path("", views.browser, name="browser"),
    path("units/<int:pk>/", views.unit_detail, name="unit"),
    path("racks/<int:pk>/", views.rack_detail, name="rack"),
    path("boxes/<int:pk>/", views.box_detail, name="box"),
]
