from django.apps import AppConfig


class MetabolismConfig(AppConfig):
    name = "celltrace.metabolism"
    label = "metabolism"
    verbose_name = "Metabolism"

    def ready(self) -> None:
        from celltrace.audit.selectors import register_history
        from celltrace.core import demo as core_demo
        from celltrace.metabolism import demo, selectors
        from celltrace.metabolism.models import MetabolismRun

        register_history(MetabolismRun, selectors.runs_visible)
        core_demo.register("metabolism runs and energy profile", demo.load)
