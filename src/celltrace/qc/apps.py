from django.apps import AppConfig


class QcConfig(AppConfig):
    name = "celltrace.qc"
    label = "qc"
    verbose_name = "Qc"
