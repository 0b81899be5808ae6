"""Worked examples for rnndyn (not part of the installed library)."""
