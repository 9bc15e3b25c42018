"""API operations of the metabolism app."""

from ninja import Router

router = Router(tags=["metabolism"])
