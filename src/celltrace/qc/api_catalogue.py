"""API operations of the QC method catalogue, specifications and test panels."""

from ninja import Router

router = Router(tags=["qc"])
