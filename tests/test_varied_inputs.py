"""grader.judge.varied: seeded Hypothesis inputs for exercise tests (no sandbox needed)."""

import pytest
from hypothesis import strategies as st

from grader.judge import evidence
from grader.testing import Failed, Race, draw_inputs, for_varied_inputs

CASES = st.tuples(st.lists(st.integers(-5, 5), min_size=1, max_size=30), st.integers(1, 6))


def test_same_seed_same_inputs_other_seed_others():
    first = draw_inputs(1234, CASES, 10)
    assert first == draw_inputs(1234, CASES, 10)
    assert len(first) == 10
    assert first != draw_inputs(1235, CASES, 10)
    assert len({repr(c) for c in first}) == 10  # distinct inputs, not one input ten times


def test_varied_sizes_and_orders():
    lists = [values for seed in range(5) for values, _ in draw_inputs(seed, CASES, 10)]
    assert len({len(v) for v in lists}) >= 5
    assert any(v != sorted(v) for v in lists) and any(len(v) > 1 and v == sorted(v) for v in lists)


def test_small_strategy_gives_fewer_inputs():
    assert sorted(draw_inputs(3, st.booleans(), 10)) == [False, True]


def test_verdict_names_the_input_and_the_seed():
    evidence.start("t")

    def check(case):
        values, _ = case
        if len(values) > 3:
            raise Race("updates were lost", lost=1)
        return len(values)

    with pytest.raises(Race) as caught:
        for_varied_inputs(77, CASES, check, count=10)
    failing = caught.value.details["varied_input"]
    assert caught.value.message.startswith(
        f"With input {failing['number']} of 10 drawn from seed 77 ({failing['input']}): "
        "updates were lost"
    )
    assert caught.value.details["lost"] == 1 and failing["seed"] == 77
    drawn = draw_inputs(77, CASES, 10)
    assert failing["input"] == repr(drawn[failing["number"] - 1])
    assert all(len(v) <= 3 for v, _ in drawn[: failing["number"] - 1])
    recorded = evidence.collected()["varied_inputs"]
    assert recorded["seed"] == 77 and recorded["inputs"] == [repr(c) for c in drawn]


def test_passing_checks_return_their_values():
    evidence.start("t")
    got = for_varied_inputs(5, CASES, lambda case: sum(case[0]), count=4, describe=lambda c: "x")
    assert got == [sum(v) for v, _ in draw_inputs(5, CASES, 4)]
    assert evidence.collected()["varied_inputs"]["inputs"] == ["x"] * 4


def test_other_exceptions_pass_through_unchanged():
    with pytest.raises(ZeroDivisionError):
        for_varied_inputs(5, CASES, lambda case: 1 / 0, count=2)
    with pytest.raises(Failed, match="^With input 1 of 2 drawn from seed 5"):
        for_varied_inputs(5, CASES, lambda case: (_ for _ in ()).throw(Failed("no")), count=2)
