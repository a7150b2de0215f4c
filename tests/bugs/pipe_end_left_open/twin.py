"""Each process closes the pipe ends it does not use, so EOF arrives (correct twin)."""
import multiprocessing


def square(inbox, outbox, spare):
    spare.close()  # the input's write end, inherited: only the parent writes
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
    a_read.close()
    b_write.close()
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
