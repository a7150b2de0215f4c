"""Hidden tests for pp_job_server.

Jobs run on a real local `pp.Server` (worker processes, no network). The grader's job function
sleeps so that every job is still running when submit_all hands the last one to the server:
each callback call is recorded with its input and result when submit_all returns (callbacks
lost or fired twice), a tagged result shows whether a callback got its own input (a lambda in
the loop that sees only the last input), and jobs that finish in reverse order show whether
results were matched to inputs by completion order.
"""

from grader.testing import Failed, expect_equal, requirement

TIMEOUT = 12


# ---------------------------------------------------------------- probes (run in the sandbox)

def _jobs(mod, inputs, reverse, gap=0.15, pids=False, falsy=False):
    """Run submit_all on a local pp.Server with work(x) -> [x, x * x] (or, with pids, the worker
    process's pid; with falsy, None for even x and 0 for odd x: results that are false and
    alike); job x sleeps 0.2 s, or, with reverse, (max(inputs) - x) * gap + 0.1 s so that the
    last input finishes first. Callback calls are recorded in order, with the caller's pid."""
    import importlib
    import sys
    import tempfile
    import threading
    from pathlib import Path

    import pp

    import os

    top = max(inputs, default=0)
    sleep = f"({top} - x) * {gap} + 0.1" if reverse else "0.2"
    result = "os.getpid()" if pids else "(None, 0)[x % 2]" if falsy else "[x, x * x]"
    folder = tempfile.mkdtemp()  # pp sends a function's source: it must live in a real file
    Path(folder, "pp_hidden_funcs.py").write_text(
        f"def work(x):\n    import os\n    import time\n    time.sleep({sleep})\n"
        f"    return {result}\n")
    sys.path.insert(0, folder)
    funcs = importlib.import_module("pp_hidden_funcs")
    calls, lock = [], threading.Lock()

    def callback(x, result):
        with lock:
            calls.append([x, result])

    server = pp.Server(ncpus=max(2, len(inputs)), ppservers=())
    try:
        got = mod.submit_all(server, funcs.work, inputs, callback)
        with lock:
            at_return = list(calls)
        # the server's own worker processes, and the jobs it ran (all nodes): where a job ran
        # is judged against these, not only against the caller (tests/attacks/pp_jobs_forked)
        workers = sorted({w.pid for w in server._Server__workers if getattr(w, "pid", None)})
        ran = sum(stat.njobs for stat in server.get_stats().values())
    finally:
        server.destroy()
    return {"got": got, "calls": at_return, "caller": os.getpid(), "workers": workers,
            "ran": ran}


# ---------------------------------------------------------------- judge-side helpers

def _expected(inputs):
    return {x: [x, x * x] for x in inputs}


def _calls_by_job(calls):
    """Callback calls grouped by the job they report: work(x) tags its result with x, so a call
    that got the wrong input still counts for its own job (that mix-up is judged elsewhere)."""
    by_job = {}
    for x, result in calls:
        job = result[0] if isinstance(result, list) and len(result) == 2 else x
        by_job.setdefault(repr(job), []).append(x)
    return by_job


# ---------------------------------------------------------------- tests

@requirement("after-all")
def test_values(student):
    """submit_all returns {x: func(x)} for several input lists"""
    for inputs in ([5, 2, 7], [], [0]):
        what = f"submit_all(server, work, {inputs}, callback) where work(x) returns [x, x * x]"
        out = student.run(_jobs, inputs, False, timeout=TIMEOUT, what=what)
        expect_equal(out["got"], _expected(inputs), what)


@requirement("once", "after-all")
def test_each_callback_exactly_once(student):
    """When submit_all returns, the callback has run exactly once for every input"""
    inputs = [1, 2, 3, 4]
    what = f"submit_all(server, work, {inputs}, callback)"
    out = student.run(_jobs, inputs, False, timeout=TIMEOUT, what=what)
    by_job = _calls_by_job(out["calls"])
    missing = [x for x in inputs if repr(x) not in by_job]
    twice = {x: len(by_job[repr(x)]) for x in inputs if len(by_job.get(repr(x), [])) > 1}
    if twice:
        raise Failed(f"In {what}, the callback ran more than once for some inputs "
                     f"(input: times) {twice}. pp already calls the callback you pass to "
                     "server.submit(..., callback=...) when the job finishes; calling it again "
                     "yourself after job() fires it twice.", twice=twice, calls=out["calls"])
    if missing:
        raise Failed(f"In {what}, when submit_all returned the callback had not run for the "
                     f"inputs {missing} ({len(out['calls'])} of {len(inputs)} calls): "
                     "server.submit returns at once, while the job is still running. Wait for "
                     "all jobs (server.wait(), or call each job()) before returning, and pass "
                     "the callback to every submit.", missing=missing, calls=out["calls"])
    if len(out["calls"]) != len(inputs):
        raise Failed(f"In {what}, the callback ran {len(out['calls'])} times for {len(inputs)} "
                     "inputs.", calls=out["calls"])
    # Every input once whatever its result: results that are false (None, 0) or alike too
    what = f"submit_all(server, work, {inputs}, callback) where work(x) returns None or 0"
    out = student.run(_jobs, inputs, False, 0.15, False, True, timeout=TIMEOUT, what=what)
    got = sorted(x for x, _ in out["calls"])
    if got != inputs:
        raise Failed(f"In {what}, the callback ran for the inputs {got}, expected each of "
                     f"{inputs} exactly once: every finished job gets its callback, whatever "
                     "its result (None, 0 and equal results included). Do not filter the "
                     "callbacks on the result's value.", calls=out["calls"])


@requirement("own-input")
def test_callbacks_get_their_own_input(student):
    """Each callback call gets its input together with that input's own result"""
    inputs = [1, 2, 3, 4]
    what = f"submit_all(server, work, {inputs}, callback) where work(x) returns [x, x * x]"
    out = student.run(_jobs, inputs, False, timeout=TIMEOUT, what=what)
    wrong = [[x, r] for x, r in out["calls"] if r != [x, x * x]]
    if wrong:
        raise Failed(f"In {what}, the callback got results that belong to another input "
                     f"(callback(x, result) calls: {wrong}). A `lambda result: callback(x, "
                     "result)` written in the loop looks up x when it runs, after the loop has "
                     "moved on, so every call sees the last x. Give the input to pp instead: "
                     "server.submit(func, (x,), callback=..., callbackargs=(x,)).",
                     wrong=wrong)
    if not out["calls"]:
        raise Failed(f"In {what}, the callback never ran.", calls=out["calls"])


@requirement("own-input")
def test_results_matched_to_inputs(student):
    """Results stay with their inputs when later inputs finish first"""
    inputs = [0, 1, 2, 3]
    what = f"submit_all(server, work, {inputs}, callback) where later inputs finish first"
    out = student.run(_jobs, inputs, True, timeout=TIMEOUT, what=what)
    got, expected = out["got"], _expected(inputs)
    if isinstance(got, dict) and got != expected and sorted(map(repr, got.values())) == sorted(
            map(repr, expected.values())):
        raise Failed(f"{what} returned {got!r}, expected {expected!r}: the results were matched to "
                     "the inputs in the order the jobs finished, not by the job they came from. "
                     "Jobs on a pp server finish in any order; record each result under its own "
                     "input (callbackargs=(x,) tells the callback which one).", got=got)
    expect_equal(got, expected, what)


@requirement("on-finish")
def test_callback_when_its_job_finishes(student):
    """Each callback runs when its own job finishes: callbacks come in the order jobs finish"""
    inputs = [0, 1, 2, 3]
    what = (f"submit_all(server, work, {inputs}, callback) where the jobs finish 0.25 s apart, "
            "the last input first")
    out = student.run(_jobs, inputs, True, 0.25, timeout=TIMEOUT, what=what)
    order = [x for x, _ in out["calls"]]
    finished = sorted(inputs, reverse=True)
    if sorted(order) == sorted(inputs) and order != finished:
        raise Failed(f"In {what}, the callbacks ran for the inputs in the order {order}, but the "
                     f"jobs finished in the order {finished}: a callback ran long after its job "
                     "had finished (after waiting for the jobs before it). Hand the callback to "
                     "pp (server.submit(func, (x,), callback=..., callbackargs=(x,))): pp calls "
                     "it the moment that job's result arrives.", order=order, finished=finished)
    expect_equal(sorted(order), inputs, f"the inputs the callback got in {what}")


@requirement("on-server")
def test_jobs_run_on_the_server(student):
    """The jobs run in the server's worker processes, not in the caller"""
    inputs = [1, 2, 3]
    what = f"submit_all(server, work, {inputs}, callback) where work(x) returns its process id"
    out = student.run(_jobs, inputs, False, 0.15, True, timeout=TIMEOUT, what=what)
    got = out["got"]
    if isinstance(got, dict) and out["caller"] in got.values():
        here = sorted(x for x, pid in got.items() if pid == out["caller"])
        raise Failed(f"In {what}, func ran in the calling process for the inputs {here}: those "
                     "jobs were never given to the server. Submit every input with "
                     "server.submit(func, (x,), ...); pp runs it in a worker process.",
                     inputs_run_here=here)
    if not isinstance(got, dict) or sorted(got, key=repr) != inputs:
        raise Failed(f"{what} returned {got!r:.200}, expected a dict with one entry per input.",
                     got=repr(got)[:300])
    elsewhere = sorted(x for x, pid in got.items() if pid not in out["workers"])
    if elsewhere or out["ran"] < len(inputs):
        raise Failed(f"In {what}, the pp server ran {out['ran']} job(s) and func ran outside its "
                     f"worker processes for the inputs {elsewhere}: those jobs were never given "
                     "to the server (another process of your own is not the server). Submit every "
                     "input with server.submit(func, (x,), ...); pp runs it in a worker process.",
                     inputs_run_elsewhere=elsewhere, server_jobs=out["ran"])
