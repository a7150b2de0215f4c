"""The planted-bug corpus (see catalogue.py)."""
