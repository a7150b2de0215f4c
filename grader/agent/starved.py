"""Time the student's threads were ready to run but waited for a CPU.

A request's timeout is wall-clock time from the call. On a machine whose CPUs other work keeps
busy, a correct program can still be running at its deadline only because it was not let run,
and would be told "an endless loop or a busy-wait". The kernel counts that wait per thread
(`run_delay`, the second field of /proc/<pid>/task/<tid>/schedstat, in nanoseconds). The
supervisor gives a request the waits of all its threads since the call, added up, on top of its
timeout (threads that take turns -- processes passing a lock back and forth -- wait one after
the other, each wait on the program's path: the longest one alone counted half of it, and a
correct twin under load 30 timed out), but never more than the CPU time its cores could have
given it and it did not use (a program whose own threads keep all its cores busy was not
starved by anyone: its busy loop is not prolonged), and at most the timeout once more (the
backend waits 2 × timeout + start-up + grace). A starved program finishes; a busy loop still
ends as a timeout. Starving itself wins a program nothing: its own threads that compete for its
CPUs take that CPU from it.
"""

from __future__ import annotations

from collections.abc import Iterable

from grader.agent import tasks


def _delays(pids: Iterable[int]) -> dict[tuple[int, int], int]:
    """run_delay (ns) of every live thread of `pids`, by (pid, tid)."""
    out = {}
    for pid, tid in tasks.threads(pids):
        try:
            out[(pid, tid)] = int((tasks.read(pid, tid, "schedstat", 128) or b"").split()[1])
        except (ValueError, IndexError):
            continue
    return out


class StarvedClock:
    """The wait for a CPU of a request's threads, from the call on."""

    def __init__(self) -> None:
        self._start: dict[tuple[int, int], int] = {}
        self._at, self._cpu, self._cores = 0.0, 0.0, 1

    def mark(self, pids: Iterable[int], at: float, cpu: float, cores: int) -> None:
        """The call starts at `at` (monotonic), the tree having used `cpu` seconds so far, on
        `cores` CPUs: what each thread has waited so far is not the call's."""
        self._start = _delays(pids)
        self._at, self._cpu, self._cores = at, cpu, max(1, cores)

    def give_back(self, pids: Iterable[int], now: float, cpu: float, timeout: float) -> float:
        """Seconds to add to the request's timeout at `now`, the tree having used `cpu` seconds:
        its threads' waits for a CPU since the mark, at most the CPU its cores left unused and
        at most `timeout`."""
        unused = self._cores * (now - self._at) - (cpu - self._cpu)
        return max(0.0, min(self.since_mark(pids), unused, timeout))

    def since_mark(self, pids: Iterable[int]) -> float:
        """How long the live threads of `pids` have waited for a CPU since `mark`, added up, in
        seconds (a thread started after the mark counts from its start). Threads starved at the
        same moment are counted each: more time than the program lost, which only delays the
        verdict on a hang (the caps in `give_back` bound it); never less."""
        now = _delays(pids)
        return sum(max(0, d - self._start.get(k, 0)) for k, d in now.items()) / 1e9
