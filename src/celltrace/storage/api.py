"""API operations of the storage app."""

from ninja import Router

router = Router(tags=["storage"])
