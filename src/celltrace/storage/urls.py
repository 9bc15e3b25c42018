from django.urls import path

from celltrace.storage import views

app_name = "storage"
urlpatterns = [
    path("", views.browser, name="browser"),
    path("sites/new/", views.site_new, name="site_new"),
    path("units/new/", views.unit_new, name="unit_new"),
    path("box-types/new/", views.box_type_new, name="box_type_new"),
    path("units/<int:pk>/", views.unit_detail, name="unit"),
    path("racks/<int:pk>/", views.rack_detail, name="rack"),
    path("boxes/<int:pk>/", views.box_detail, name="box"),
]
