"""Models of the storage app."""
