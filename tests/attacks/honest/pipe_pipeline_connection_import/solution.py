"""pipeline_squares with the two stages as Process subclasses and `from ... import Pipe`."""

from multiprocessing import Process
from multiprocessing.connection import Pipe


def produce(n, pipe_1):
    reader, writer = pipe_1
    reader.close()
    for i in range(n):
        writer.send(i)
    writer.close()


def square(pipe_1, pipe_2):
    reader, writer = pipe_1
    writer.close()
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


class Stage(Process):
    def __init__(self, func, *args):
        super().__init__()
        self.func, self.func_args = func, args

    def run(self):
        self.func(*self.func_args)


def pipeline_squares(n):
    pipe_1, pipe_2 = Pipe(duplex=False), Pipe(duplex=False)
    stages = [Stage(produce, n, pipe_1), Stage(square, pipe_1, pipe_2)]
    for p in stages:
        p.start()
    pipe_1[0].close()
    pipe_1[1].close()
    pipe_2[1].close()
    results = []
    while True:
        try:
            results.append(pipe_2[0].recv())
        except EOFError:
            break
    pipe_2[0].close()
    for p in stages:
        p.join()
    return results
