"""PID 1 of the sandbox container: reaps orphaned processes and sleeps until SIGTERM."""

import os
import signal
import sys


def _reap(*_):
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _stop(*_):
    sys.exit(0)


signal.signal(signal.SIGCHLD, _reap)
signal.signal(signal.SIGTERM, _stop)
signal.signal(signal.SIGINT, _stop)
_reap()
while True:
    signal.pause()
