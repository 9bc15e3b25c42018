from django.urls import path

from celltrace.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.ledger, name="ledger"),
    path("entries/<int:seq>/", views.event, name="event"),
    path("history/<str:entity_type>/<str:entity_id>/", views.history, name="history"),
    path("reviews/", views.reviews, name="reviews"),
    path("reviews/<int:pk>/", views.review, name="review"),
    path("checkpoints/", views.checkpoints, name="checkpoints"),
]
