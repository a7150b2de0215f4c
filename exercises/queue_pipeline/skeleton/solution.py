"""A pipeline of worker threads connected by queues. See README.md for the exercise."""

import queue
import threading


def pipeline(items, stages, workers_per_stage=3):
    """Pass every item through stages[0], then stages[1], ...; results in the order of items."""
    raise NotImplementedError
