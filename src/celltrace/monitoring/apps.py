from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "celltrace.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
