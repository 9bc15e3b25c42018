"""API operations of the QC dashboards."""

from ninja import Router

router = Router(tags=["qc"])
