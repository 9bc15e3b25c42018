"""API operations of the qc app."""

from ninja import Router

router = Router(tags=["qc"])
