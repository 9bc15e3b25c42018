from django.apps import AppConfig


class MetabolismConfig(AppConfig):
    name = "celltrace.metabolism"
    label = "metabolism"
    verbose_name = "Metabolism"
