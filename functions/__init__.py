"""Deployed entry points: one module per function; ``functions/main.py`` re-exports them all."""
