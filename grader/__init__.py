"""pgrader: grading parallel Python code by its behaviour, not just its output."""

__version__ = "0.1.0"
