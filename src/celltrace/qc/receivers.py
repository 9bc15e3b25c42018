"""Keeps a request's status in step with the signatures on it and its results.

Signing happens through the shared page and API (:func:`celltrace.audit.services.record_sign`),
which know nothing of QC. When a signature on a ``qc.result`` or ``qc.testrequest`` is created,
:func:`celltrace.qc.services.request_sync_status` runs in the same transaction, so the status
can never disagree with the signatures that justify it.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from celltrace.audit.models import Signature

QC_RECORDS = frozenset({"qc.result", "qc.testrequest"})


@receiver(post_save, sender=Signature, dispatch_uid="qc_signature_status")
def signature_created(sender: Any, instance: Signature, created: bool, **kwargs: Any) -> None:
    if not created or instance.record_type not in QC_RECORDS:
        return
    from celltrace.qc import services
    from celltrace.qc.models import Result, TestRequest

    if instance.record_type == "qc.result":
        request = Result.objects.select_related("test__request").get(pk=instance.record_id)
        target = request.test.request
    else:
        target = TestRequest.objects.get(pk=instance.record_id)
    services.request_sync_status(actor=instance.signer, request=target)
