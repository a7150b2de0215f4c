"""Fibonacci numbers computed by consumer processes fed through a multiprocessing.Queue.
See README.md for the exercise."""



def fib(n):
    """The n-th Fibonacci number: fib(0) = 0, fib(1) = 1, fib(n) = fib(n-1) + fib(n-2)."""
    raise NotImplementedError


def parallel_fib(values, n_consumers):
    """{n: fib(n) for n in values}, computed by n_consumers consumer processes that take the
    values from a multiprocessing.Queue and put (n, fib(n)) on a result queue."""
    raise NotImplementedError
