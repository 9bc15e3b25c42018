from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "celltrace.audit"
    label = "audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        from celltrace.audit import (
            receivers,  # noqa: F401  (security events from django-axes)
            selectors,
            services,
            signing,
        )
        from celltrace.audit.models import AuditReview
        from celltrace.core import selectors as core_selectors
        from celltrace.core.models import Organisation, User

        signing.register(
            AuditReview,
            meanings=AuditReview.SIGNATURE_MEANINGS,
            can_sign=services.audit_review_can_sign,
            visible=selectors.audit_reviews,
            on_withdrawn=services.audit_review_signature_withdrawn,
        )
        selectors.register_history(User, core_selectors.users_visible)
        selectors.register_history(Organisation, core_selectors.organisations_visible)
