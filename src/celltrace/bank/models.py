"""Models of the bank app."""
