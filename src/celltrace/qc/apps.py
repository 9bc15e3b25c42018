from django.apps import AppConfig


class QcConfig(AppConfig):
    name = "celltrace.qc"
    label = "qc"
    verbose_name = "QC laboratory"

    def ready(self) -> None:
        from celltrace.audit import signing
        from celltrace.audit.selectors import register_history
        from celltrace.core import demo as core_demo
        from celltrace.qc import (
            demo,
            selectors,
            services,
        )
        from celltrace.qc.models import (
            Certificate,
            OosInvestigation,
            Result,
            Sample,
            Test,
            TestRequest,
        )

        signing.register(
            Result,
            meanings=Result.SIGNATURE_MEANINGS,
            can_sign=services.result_can_sign,
            visible=selectors.results_signable,
            on_signed=services.result_signed,
            on_withdrawn=services.result_signature_withdrawn,
            lock=services.result_lock,
            frozen=services.result_frozen,
        )
        signing.register(
            TestRequest,
            meanings=TestRequest.SIGNATURE_MEANINGS,
            can_sign=services.request_can_sign,
            visible=selectors.requests_visible,
            on_signed=services.request_signed,
            on_withdrawn=services.request_signature_withdrawn,
            frozen=services.request_frozen,
        )
        register_history(TestRequest, selectors.requests_visible)
        register_history(Sample, selectors.samples_visible)
        register_history(Test, selectors.tests_visible)
        register_history(Result, selectors.results_visible)
        register_history(OosInvestigation, selectors.oos_visible)
        register_history(Certificate, selectors.certificates_visible)
        core_demo.register("qc laboratory", demo.load)
        self._ready_catalogue()

    def _ready_catalogue(self) -> None:
        """Method and specification approval, panels' history, QC samples in storage."""
        from celltrace.audit import signing
        from celltrace.audit.selectors import register_history
        from celltrace.qc import selectors, services
        from celltrace.qc.models import MethodVersion, Specification, TestPanel
        from celltrace.storage.services import register_occupant_check, register_occupant_source

        signing.register(
            MethodVersion,
            meanings=MethodVersion.SIGNATURE_MEANINGS,
            can_sign=services.method_version_can_sign,
            visible=selectors.method_versions_signable,
            on_signed=services.method_version_approved,
            frozen=services.approval_frozen,
            lock=services.method_version_lock,
        )
        signing.register(
            Specification,
            meanings=Specification.SIGNATURE_MEANINGS,
            can_sign=services.specification_can_sign,
            visible=selectors.specifications_signable,
            on_signed=services.specification_approved,
            frozen=services.approval_frozen,
            lock=services.specification_lock,
        )
        register_history(TestPanel, selectors.panels_visible)
        register_history(MethodVersion, selectors.method_versions_visible)
        register_history(Specification, selectors.specifications)
        register_occupant_check(services.refuse_position_with_sample)
        register_occupant_source(
            services.positions_with_samples, held=services.positions_holding_samples
        )
