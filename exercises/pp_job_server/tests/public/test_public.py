"""Public tests for pp_job_server: run them with `grader check pp_job_server`."""

from grader.testing import expect_equal, requirement


def _squares(mod, inputs):
    import importlib
    import sys
    import tempfile
    from pathlib import Path

    import pp

    folder = tempfile.mkdtemp()  # pp sends a function's source: it must live in a real file
    Path(folder, "pp_public_funcs.py").write_text("def square(x):\n    return x * x\n")
    sys.path.insert(0, folder)
    funcs = importlib.import_module("pp_public_funcs")
    calls = []
    server = pp.Server(ncpus=2, ppservers=())
    try:
        got = mod.submit_all(server, funcs.square, inputs, lambda x, r: calls.append([x, r]))
    finally:
        server.destroy()
    return {"got": got, "calls": sorted(calls)}


@requirement("after-all", "once")
def test_squares(student):
    """submit_all returns {x: func(x)} and calls the callback for every input"""
    out = student.run(_squares, [1, 2, 3], timeout=10)
    expect_equal(out["got"], {1: 1, 2: 4, 3: 9}, "submit_all(server, square, [1, 2, 3], callback)")
    expect_equal(out["calls"], [[1, 1], [2, 4], [3, 9]],
                 "the callback calls (x, result) of submit_all(server, square, [1, 2, 3], callback)")
