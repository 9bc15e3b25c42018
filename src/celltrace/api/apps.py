from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "celltrace.api"
    label = "api"
    verbose_name = "API"
