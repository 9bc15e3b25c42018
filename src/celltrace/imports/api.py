"""API operations of the inventory import."""

from ninja import Router

router = Router(tags=["inventory import"])
