"""Models of the metabolism app."""
