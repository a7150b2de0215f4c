"""Squares through a pipeline of three processes joined by two multiprocessing Pipes.
See README.md for the exercise."""

import multiprocessing


def pipeline_squares(n):
    """[i * i for i in range(n)]: a producer process sends 0..n-1 into a first Pipe, a square
    process sends the squares into a second Pipe, and the caller reads them until EOF."""
    raise NotImplementedError
