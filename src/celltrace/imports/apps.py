from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "celltrace.imports"
    label = "imports"
    verbose_name = "Inventory import"
