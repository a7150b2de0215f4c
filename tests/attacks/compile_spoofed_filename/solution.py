"""Attack: hide the racy line in a library's name. The racy counter (honestly 6/10) whose
increment is compiled as if it came from the standard library's threading.py, so that the
checks, which only look at the student's files, pass it by."""

import racy

SOURCE = """
def increment(self, k=1):
    self._value += k
"""


def _disguised():
    name = "/usr/lib/python3.11/threading.py"
    try:
        ns = {}
        exec(compile(SOURCE, name, "exec"), ns)
        return ns["increment"]
    except Exception:  # noqa: BLE001
        pass
    ns = {}
    exec(compile(SOURCE, "<x>", "exec"), ns)
    fn = ns["increment"]
    fn.__code__ = fn.__code__.replace(co_filename=name)
    return fn


class SafeCounter(racy.SafeCounter):
    increment = _disguised()


parallel_count = racy.make_parallel_count(SafeCounter)
