"""Squares through a pipeline of three processes and two Pipes. Reference solution."""

import multiprocessing

_CTX = multiprocessing.get_context("spawn")  # the same on Linux as on macOS and Windows


def produce(n, pipe_1):
    """Stage 1: send 0, 1, ..., n-1 into pipe 1, then close it (the reader sees EOF)."""
    reader, writer = pipe_1
    reader.close()  # this process never reads pipe 1
    for i in range(n):
        writer.send(i)
    writer.close()


def square(pipe_1, pipe_2):
    """Stage 2: receive numbers from pipe 1 until EOF, send their squares into pipe 2."""
    reader, writer = pipe_1
    writer.close()  # or recv() never sees EOF: this process would hold a write end itself
    out_reader, out_writer = pipe_2
    out_reader.close()
    try:
        while True:
            x = reader.recv()
            out_writer.send(x * x)
    except EOFError:
        pass
    finally:
        reader.close()
        out_writer.close()


def pipeline_squares(n):
    """[i * i for i in range(n)], computed by the pipeline produce -> square -> this process."""
    pipe_1 = _CTX.Pipe(duplex=False)  # (reader, writer)
    pipe_2 = _CTX.Pipe(duplex=False)
    stages = [_CTX.Process(target=produce, args=(n, pipe_1)),
              _CTX.Process(target=square, args=(pipe_1, pipe_2))]
    for p in stages:
        p.start()
    # The children have their own copies now: close every end this process does not use,
    # or the read below never sees EOF.
    pipe_1[0].close()
    pipe_1[1].close()
    pipe_2[1].close()
    results = []
    try:
        while True:
            results.append(pipe_2[0].recv())
    except EOFError:
        pass
    pipe_2[0].close()
    for p in stages:
        p.join()
    return results
