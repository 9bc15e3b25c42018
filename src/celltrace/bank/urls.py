from django.urls import path

from celltrace.bank import views

app_name = "bank"
urlpatterns = [
    path("", views.search, name="search"),
    path("aliquots/<int:pk>/", views.aliquot_detail, name="aliquot"),
    path("labels.pdf", views.label_sheet, name="labels"),
    path("donors/", views.donors, name="donors"),
    path("donors/new/", views.donor_new, name="donor_new"),
    path("donors/<int:pk>/", views.donor_detail, name="donor"),
    path("donors/<int:pk>/collections/new/", views.collection_new, name="collection_new"),
    path("collections/<int:pk>/", views.collection_detail, name="collection"),
    path("collections/<int:pk>/process/", views.collection_process, name="process"),
    path("desk/", views.desk, name="desk"),
    path("distributions/", views.distributions, name="distributions"),
    path("distributions/new/", views.distribution_new, name="distribution_new"),
    path("distributions/<int:pk>/", views.distribution_detail, name="distribution"),
    path("distributions/<int:pk>/dispatch-note.pdf", views.dispatch_note, name="dispatch_note"),
]
