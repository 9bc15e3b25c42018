from django.apps import AppConfig


class BankConfig(AppConfig):
    name = "celltrace.bank"
    label = "bank"
    verbose_name = "Bank"

    def ready(self) -> None:
        from celltrace.audit.selectors import register_history
        from celltrace.bank import selectors
        from celltrace.bank.models import Collection, Donor

        # Client users may read the history of their own donors and collections. Aliquots are
        # deliberately not registered: their entries carry storage coordinates, which clients
        # never see; the aliquot page shows them a timeline without locations.
        register_history(Donor, selectors.donors_visible)
        register_history(Collection, selectors.collections_visible)
        from celltrace.bank import demo
        from celltrace.core import demo as core_demo

        core_demo.register("cell bank", demo.load)
