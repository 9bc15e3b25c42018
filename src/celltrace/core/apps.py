from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "celltrace.core"
    label = "core"
    verbose_name = "Core"
