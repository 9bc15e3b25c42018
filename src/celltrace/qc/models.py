"""Models of the qc app."""
