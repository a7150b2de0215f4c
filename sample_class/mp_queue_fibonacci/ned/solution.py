"""Ned: fibonacci with processes (saved in Latin-1)."""
# Auteur : Ned Müller été
import multiprocessing

def parallel_fib(values, n_consumers):
    return {}
