"""API operations of the bank app."""

from ninja import Router

router = Router(tags=["bank"])
