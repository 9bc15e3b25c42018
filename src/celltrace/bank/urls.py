from django.urls import path

from celltrace.bank import views

app_name = "bank"
urlpatterns = [
    path("", views.search, name="search"),
    path("aliquots/<int:pk>/", views.aliquot_detail, name="aliquot"),
    path("labels.pdf", views.label_sheet, name="labels"),
    path("donors/", views.donors, name="donors"),
    path("donors/<int:pk>/", views.donor_detail, name="donor"),
]
