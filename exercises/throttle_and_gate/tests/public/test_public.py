"""Public tests for throttle_and_gate: run them with `grader check throttle_and_gate`."""

from grader.testing import Failed, expect_equal, requirement


def _limited(mod):
    import threading
    import time

    lock = threading.Lock()
    state = {"in": 0, "peak": 0}

    def slow_square(x):
        with lock:
            state["in"] += 1
            state["peak"] = max(state["peak"], state["in"])
        time.sleep(0.02)
        with lock:
            state["in"] -= 1
        return x * x

    return {"value": mod.limited_map(slow_square, list(range(8)), 2), "peak": state["peak"]}


def _together(mod):
    import threading

    names = []
    starts = mod.start_together(3, lambda i: names.append(threading.current_thread().name))
    return {"starts": len(starts), "workers": len(set(names))}


@requirement("map-values", "at-most")
def test_limited_map(student):
    """limited_map returns the results in order and runs at most 2 calls at once"""
    got = student.run(_limited, timeout=5)
    expect_equal(got["value"], [x * x for x in range(8)], "limited_map(slow_square, range(8), 2)")
    if got["peak"] > 2:
        raise Failed(f"limited_map(slow_square, range(8), 2) ran {got['peak']} calls at once.")


@requirement("start-times")
def test_start_together(student):
    """start_together(3, work) runs work in 3 threads and returns 3 start times"""
    expect_equal(student.run(_together, timeout=5), {"starts": 3, "workers": 3},
                 "start_together(3, work): start times returned, distinct worker threads")
