"""Bulk import of a legacy cell-bank inventory (CSV or XLSX) into the bank and storage."""
