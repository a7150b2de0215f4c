"""Inputs varied by a seeded generator: Hypothesis strategies drawn from the test's seed.

A requirement about inputs of any size, order or shape is not proven by one fixed input. A test
describes the inputs with Hypothesis strategies and lets the test's `seed` (the plugin's
per-test seed, recorded in the results and replayed by `grader grade --seed` / `grader replay`)
choose them:

    from grader.testing import for_varied_inputs, st

    @requirement("bins")
    def test_histogram_varied(student, seed):
        cases = st.tuples(st.lists(st.integers(0, 9), min_size=1), st.integers(1, 6))
        for_varied_inputs(seed, cases, lambda case: _hist(student, *case), count=8)

The draw is Hypothesis's own generation (`@given` under `@seed(seed)`, no example database,
generate phase only): the same seed gives the same inputs, on any machine with the same
Hypothesis version. Nothing is shrunk: every input costs a sandbox request, and a shrink would
replay a concurrent program many times over. A verdict on one input names it, with its number
and the seed, so the student sees which input broke their code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grader.judge.evidence import record_evidence
from grader.judge.verdicts import Verdict

SHOWN = 300  # characters of an input repeated in a message


def draw_inputs(seed: int, strategy: Any, count: int = 10) -> list:
    """Up to `count` distinct inputs that Hypothesis draws from `strategy` under `seed` (fewer
    when the strategy has fewer values); the same seed gives the same list."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seeded

    drawn: list = []

    @seeded(seed)
    @settings(
        database=None,
        max_examples=count,
        phases=(Phase.generate,),
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(strategy)
    def collect(value):
        drawn.append(value)

    collect()
    return drawn


def for_varied_inputs(
    seed: int,
    strategy: Any,
    check: Callable[[Any], object],
    count: int = 10,
    describe: Callable[[Any], str] = repr,
) -> list:
    """Run `check(value)` on each input drawn by `draw_inputs(seed, strategy, count)`, in order.
    A verdict on an input is raised again with the input (`describe(value)`), its number and the
    seed in front of its message and in its details; the inputs tried are recorded as evidence
    whatever the outcome. Returns what `check` returned for each input."""
    inputs = draw_inputs(seed, strategy, count)
    shown = [describe(v)[:SHOWN] for v in inputs]
    record_evidence(varied_inputs={"seed": seed, "count": len(inputs), "inputs": shown})
    results = []
    for number, (value, text) in enumerate(zip(inputs, shown), 1):
        try:
            results.append(check(value))
        except Verdict as verdict:
            raise type(verdict)(
                f"With input {number} of {len(inputs)} drawn from seed {seed} ({text}): "
                f"{verdict.message}",
                **{
                    **verdict.details,
                    "varied_input": {"seed": seed, "number": number, "input": text},
                },
            ) from verdict
    return results
