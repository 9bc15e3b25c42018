from django.urls import path  # noqa: F401

app_name = "metabolism"
urlpatterns: list[object] = []
