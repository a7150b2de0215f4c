"""Pipe ends nobody uses are left open (the child's copy of the input's write end, the
parent's copy of the result's write end): no reader ever sees EOF, both wait for ever."""
import multiprocessing


def square(inbox, outbox, spare):
    while True:
        try:
            x = inbox.recv()
        except EOFError:
            break
        outbox.send(x * x)
    outbox.close()


def run(n):
    a_read, a_write = multiprocessing.Pipe(duplex=False)
    b_read, b_write = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.Process(target=square, args=(a_read, b_write, a_write))
    child.start()
    for x in range(n):
        a_write.send(x)
    a_write.close()
    out = []
    while True:
        try:
            out.append(b_read.recv())
        except EOFError:
            break
    child.join()
    return out
