"""API operations that compute QC results from instrument files and entered values."""

from ninja import Router

router = Router(tags=["qc"])
