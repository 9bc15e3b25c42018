from django.apps import AppConfig


class BankConfig(AppConfig):
    name = "celltrace.bank"
    label = "bank"
    verbose_name = "Bank"

    def ready(self) -> None:
        from celltrace.audit import signing
        from celltrace.audit.selectors import register_history
        from celltrace.bank import (
            checks,  # noqa: F401 (registers the system checks)
            selectors,
            services,
        )
        from celltrace.bank.models import Collection, Distribution, Donor

        # Client users may read the history of their own donors and collections. Aliquots are
        # deliberately not registered: their entries carry storage coordinates, which clients
        # never see; the aliquot page shows them a timeline without locations.
        register_history(Donor, selectors.donors_visible)
        register_history(Collection, selectors.collections_visible)
        register_history(Distribution, selectors.distributions_visible)
        # QA's release signature issues the aliquots: an explicit hook, never a signal.
        signing.register(
            Distribution,
            meanings=Distribution.SIGNATURE_MEANINGS,
            can_sign=services.distribution_can_sign,
            visible=selectors.distributions_visible,
            on_signed=services.distribution_released,
            frozen=services.distribution_release_frozen,
            lock=services.distribution_lock,
        )
        from celltrace.bank import demo
        from celltrace.core import demo as core_demo

        core_demo.register("cell bank", demo.load)
