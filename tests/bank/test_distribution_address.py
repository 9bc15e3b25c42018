"""A distribution for clinical use names its delivery address (ui.md item 5: one without an
address passed drafting and QA's release, and the dispatch note printed "Delivery address —"):
``distribution_create`` refuses it naming ``recipient_address`` (the form's and the API's
field), and QA's release is refused if a draft somehow has none. A refusal changes nothing
(row counts and ledger entries before and after).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from celltrace.bank import services as bank
from celltrace.bank.choices import AliquotStatus, DistributionStatus, ShippingCondition, Use
from celltrace.bank.models import Aliquot, Distribution
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from tests.bank.test_new_material_rules import bank_counts, bearer, web
from tests.bank.test_workflows import sign_release, stock

pytestmark = pytest.mark.django_db


# --- delivery address of a clinical distribution --------------------------------------------


@pytest.mark.parametrize("address", ["", "   \n  "])
def test_a_clinical_distribution_without_a_delivery_address_is_refused(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any], address: str
) -> None:
    aliquots = stock(tech, qa_user, client_a, 2, store)
    before = bank_counts()
    with pytest.raises(Invalid) as refused:
        bank.distribution_create(
            actor=tech,
            aliquots=aliquots,
            recipient_name="Ruijin Hospital",
            recipient_address=address,
            intended_use=Use.CLINICAL,
            shipping_conditions=ShippingCondition.LN2_DRY_SHIPPER,
        )
    assert refused.value.field == "recipient_address"
    assert "clinical use needs a delivery address" in refused.value.message
    assert bank_counts() == before


def test_a_research_distribution_needs_no_delivery_address(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    aliquots = stock(tech, qa_user, client_a, 1, store)
    dist = bank.distribution_create(
        actor=tech,
        aliquots=aliquots,
        recipient_name="Research laboratory",
        intended_use=Use.RESEARCH,
        shipping_conditions=ShippingCondition.DRY_ICE,
    )
    assert dist.status == DistributionStatus.DRAFT and dist.recipient_address == ""


def test_the_distribution_form_and_the_api_name_the_delivery_address(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    aliquots = stock(tech, qa_user, client_a, 1, store)
    page_client, api = web(tech), bearer(tech)
    before = bank_counts()
    page = page_client.post(
        "/bank/distributions/new/",
        {
            "recipient_name": "Ruijin Hospital",
            "recipient_address": "",
            "intended_use": "clinical",
            "shipping_conditions": "ln2_dry_shipper",
            "aliquots": aliquots[0].barcode,
        },
    )
    assert page.status_code == 200
    errors = page.context["form"].errors
    assert list(errors) == ["recipient_address"]
    assert "needs a delivery address" in errors["recipient_address"][0]
    refused = api.post(
        "/api/v1/distributions",
        json.dumps(
            {
                "aliquot_ids": [aliquots[0].pk],
                "recipient_name": "Ruijin Hospital",
                "intended_use": "clinical",
                "shipping_conditions": "ln2_dry_shipper",
            }
        ),
        content_type="application/json",
    )
    assert refused.status_code == 422, refused.content
    assert refused.json()["field"] == "recipient_address"
    assert bank_counts() == before


def test_qa_cannot_release_a_clinical_distribution_without_a_delivery_address(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    """A draft from before the rule (its address blanked here as such a row would be) is not
    released: QA's signature is refused, nothing is issued."""
    aliquots = stock(tech, qa_user, client_a, 2, store)
    dist = bank.distribution_create(
        actor=tech,
        aliquots=aliquots,
        recipient_name="Ruijin Hospital",
        recipient_address="197 Ruijin Er Road, Shanghai",
        intended_use=Use.CLINICAL,
        shipping_conditions=ShippingCondition.LN2_DRY_SHIPPER,
    )
    Distribution.objects.filter(pk=dist.pk).update(recipient_address="")
    dist.refresh_from_db()
    assert bank.distribution_can_sign(qa_user, dist, "released") == (
        "A distribution for clinical use needs a delivery address."
    )
    before = bank_counts()
    with pytest.raises(PermissionDenied) as refused:  # can_sign's refusal, as for a consent
        sign_release(qa_user, dist)
    assert "delivery address" in refused.value.message
    assert bank_counts() == before
    dist.refresh_from_db()
    assert dist.status == DistributionStatus.DRAFT
    assert set(
        Aliquot.objects.filter(pk__in=[a.pk for a in aliquots]).values_list("status", flat=True)
    ) == {AliquotStatus.AVAILABLE}


def test_the_release_hook_itself_refuses_a_missing_address(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    """Behind ``can_sign``, the hook that issues the aliquots checks it again on the locked
    row."""
    aliquots = stock(tech, qa_user, client_a, 1, store)
    dist = bank.distribution_create(
        actor=tech,
        aliquots=aliquots,
        recipient_name="Ruijin Hospital",
        recipient_address="Shanghai",
        intended_use=Use.CLINICAL,
        shipping_conditions=ShippingCondition.LN2_DRY_SHIPPER,
    )
    Distribution.objects.filter(pk=dist.pk).update(recipient_address=" ")
    before = bank_counts()
    with pytest.raises(Conflict) as refused:
        bank.distribution_released(qa_user, dist, signature=None)
    assert refused.value.field == "recipient_address"
    assert bank_counts() == before
    assert Aliquot.objects.get(pk=aliquots[0].pk).status == AliquotStatus.AVAILABLE
