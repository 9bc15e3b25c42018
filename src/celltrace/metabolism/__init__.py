"""Depositor services: cellular energy metabolism runs, wells, results and profiles."""
