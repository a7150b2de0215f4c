"""Jobs and callbacks on a Parallel Python server. See README.md for the exercise."""

import pp


def submit_all(server, func, inputs, callback):
    """Submit func(x) to the pp.Server for every x in inputs; call callback(x, result) exactly
    once per input as its job finishes; return {x: result} when every job and callback is done."""
    raise NotImplementedError
