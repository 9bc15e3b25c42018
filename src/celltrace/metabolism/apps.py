from django.apps import AppConfig


class MetabolismConfig(AppConfig):
    name = "celltrace.metabolism"
    label = "metabolism"
    verbose_name = "Metabolism"

    def ready(self) -> None:
        from celltrace.audit.selectors import register_history
        from celltrace.metabolism import selectors
        from celltrace.metabolism.models import MetabolismRun

        register_history(MetabolismRun, selectors.runs_visible)
