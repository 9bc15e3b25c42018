"""API operations of the monitoring app."""

from ninja import Router

router = Router(tags=["monitoring"])
