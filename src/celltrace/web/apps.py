from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "celltrace.web"
    label = "web"
    verbose_name = "Web"
