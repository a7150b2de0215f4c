"""Public tests for bounded_buffer: run them with `grader check bounded_buffer`."""

from grader.testing import expect_equal, requirement


def _single_thread(mod):
    b = mod.BoundedBuffer(2)
    b.put("a")
    b.put("b")
    out = [b.get(), b.get()]
    b.close()
    try:
        b.get()
    except mod.BufferClosed:
        out.append("closed")
    return out


def _handoff(mod, n):
    import threading

    b = mod.BoundedBuffer(2)
    got = []

    def consume():
        for _ in range(n):
            got.append(b.get())

    t = threading.Thread(target=consume)
    t.start()
    for i in range(n):
        b.put(i)
    t.join()
    return got


@requirement("fifo", "closed-get")
def test_single_thread(student):
    """put, get and close in one thread"""
    expect_equal(student.run(_single_thread, timeout=4), ["a", "b", "closed"],
                 "put('a'), put('b'), get(), get(), close(), get() (BufferClosed)")


@requirement("fifo", "thread-safe")
def test_producer_and_consumer(student):
    """One producer and one consumer hand over 20 items through a BoundedBuffer(2)"""
    expect_equal(student.run(_handoff, 20, timeout=4), list(range(20)), "20 items through BoundedBuffer(2)")
