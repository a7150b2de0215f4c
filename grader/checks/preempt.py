"""Forced thread switches at bytecode boundaries, chosen by a seeded random generator.

CPython 3.11 only switches threads at a few checkpoints, so an unlocked
`counter += 1` almost never loses an update under plain stress. This check
makes every thread, before each bytecode instruction of the student's code,
give up the GIL with probability `probability` (`time.sleep(0)`), so the
read-modify-write windows really do interleave. Each thread draws from its
own generator seeded by (seed, thread name; names are given in creation order): the same seed makes the same
switch decisions; the operating system still orders the threads, so a replay
reproduces the failure with high probability, not bit for bit.
"""

from __future__ import annotations

import random
import threading
import time

from grader.checks import tracing


class Preempt:
    name = "preempt"

    def __init__(self, seed: int, probability: float):
        self.seed, self.probability = seed, probability
        self.switches = 0
        self._tls = threading.local()

    def _rng(self) -> random.Random:
        rng = getattr(self._tls, "rng", None)
        if rng is None:
            name = threading.current_thread().name
            rng = self._tls.rng = random.Random(f"{self.seed}:{name}")
        return rng

    def on_opcode(self, frame) -> None:
        if self._rng().random() < self.probability:
            self.switches += 1
            time.sleep(0)

    def stop(self) -> dict:
        return {
            "seed": self.seed,
            "probability": self.probability,
            "switches": self.switches,
            "intact": tracing.intact(),
            "events": tracing.events(),
        }


def start(options: dict, workdir: str) -> Preempt:
    check = Preempt(int(options.get("seed", 0)), float(options.get("probability", 0.05)))
    tracing.install(workdir, check.on_opcode)
    return check
