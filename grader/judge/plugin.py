"""The pytest plugin the judge runs exercise tests with (`-p grader.judge.plugin --grader-job JOB`).

JOB is a JSON file written by `grader.judge.runner`: the prepared submission,
the student's module, the backend, the limits, the base seed and where to write
the report. The plugin provides the fixtures tests use:

- `student`: a `grader.judge.proxy.Student` over one sandbox session per run;
- `seed`: a per-test seed derived from the base seed and the test's id, recorded
  in the report so `grader grade --seed` replays the same run;

and records, besides, the exercise requirements each test names (`@requirement(...)`, see
`grader.requirements`);

and writes one record per test: status (passed, failed, error, timeout,
deadlock, race, crashed, not-run, grader-error), a message for the student and
the evidence behind it.
"""

from __future__ import annotations

import atexit
import hashlib
import signal
import time
from pathlib import Path

import pytest

from grader.course import Limits
from grader.judge import evidence, verdicts
from grader.judge.proxy import Student
from grader.judge.race_watch import RaceWatch, shuffled, uses_race_checks
from grader.judge.verdicts.record import classify, jsonable
from grader.protocol import Job, Outcome, Report, TestRecord
from grader.requirements import test_requirements
from grader.sandbox import get_backend

_STATE: dict = {
    "records": [],
    "seeds": {},
    "session": None,
    "backend": None,
    "broken": [],
    "collected": [],
    "failures": [],
    "tampering": [],
    "races": RaceWatch(),
}


def pytest_addoption(parser):
    parser.addoption("--grader-job", help="JSON job file written by grader.judge.runner")


def pytest_configure(config):
    config.addinivalue_line("markers", "requirement(*ids): the exercise requirements a test checks")
    path = config.getoption("--grader-job")
    _STATE["job"] = Job.read(Path(path)) if path else None
    signal.signal(signal.SIGTERM, _interrupted)  # the batch was stopped: clean up the sandbox
    atexit.register(_close_session)


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def _close_session() -> None:
    session = _STATE.get("session")
    if session is not None:
        session.close()


def pytest_collection_modifyitems(config, items):
    job = _STATE.get("job")
    only = job.only if job is not None else None
    if only:
        keep = [i for i in items if getattr(i, "originalname", i.name) in only]
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    _STATE["collected"] = [i.nodeid for i in items]  # every one of them must end with a record
    if uses_race_checks({Path(str(i.fspath)) for i in items}):
        # every request carries the lockset check, and the tests run in the seed's order
        _STATE["races"] = RaceWatch(enabled=True)
        if job is not None:
            items[:] = shuffled(items, job.seed)


def _job() -> Job:
    job = _STATE.get("job")
    if job is None:
        raise verdicts.SandboxFault("these tests run through `grader check` or `grader grade`")
    return job


@pytest.fixture(scope="session")
def student():
    job = _job()
    box = job.box  # a container the grading process started ahead of time
    backend = get_backend(job.backend, handed_a_box=box or False)
    _STATE["backend"] = backend
    extra = {"gpu": True} if job.gpu else {}  # the exercise's [runtime] gpu
    if box is not None:
        extra["box"] = box
    session = backend.open(Path(job.submission), Limits(**job.limits), **extra)
    _STATE["session"] = session
    try:
        yield Student(
            session=session,
            module=job.module,
            timeout=job.limits["wall_seconds"],
            limits=job.limits,
            submission=Path(job.submission),
            on_reply=_note_tampering,
            races=_STATE["races"],
        )
    finally:
        session.close()
        backend.close()


def _note_tampering(reply) -> None:
    """Evidence of tampering in a reply (what the agent's audit hook refused, a report that could
    not be believed), kept for the submission's suspicion report with the test it came from."""
    for item in reply.tampering[:20]:
        if len(_STATE["tampering"]) < 100:
            _STATE["tampering"].append(
                {**item, "test": evidence.current_test(), "request": reply.what[:200]}
            )


@pytest.fixture
def seed(request) -> int:
    base = int(_job().seed)
    digest = hashlib.sha256(f"{base}:{request.node.nodeid}".encode()).digest()
    value = int.from_bytes(digest[:4], "big")
    _STATE["seeds"][request.node.nodeid] = value
    return value


# ---------------------------------------------------------------- recording outcomes


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _STATE["current"] = {"start": time.monotonic(), "phases": {}}
    evidence.start(item.nodeid)
    yield
    try:
        _finish(item)
    except Exception as exc:  # noqa: BLE001 - one test's record must never end the run
        _STATE["failures"].append(f"{item.nodeid}: {type(exc).__name__}: {exc}"[:500])
        _STATE["records"].append(
            TestRecord(
                nodeid=item.nodeid,
                function=getattr(item, "originalname", item.name),
                name=item.name,
                visibility="hidden",
                status=Outcome.GRADER_ERROR,
                message="the grader could not record this test's result; this is not your fault",
                details={},
                duration=0.0,
                seed=_STATE["seeds"].get(item.nodeid),
            )
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when in ("setup", "call") and (report.failed or report.skipped or call.when == "call"):
        _STATE["current"]["phases"][call.when] = (report, call.excinfo)


def _finish(item) -> None:
    phases = _STATE["current"]["phases"]
    report, excinfo = phases.get("setup") if "setup" in phases else phases.get("call", (None, None))
    status, message, details = classify(report, excinfo)
    details = jsonable({**evidence.collected(), **details})
    path = Path(str(item.fspath))
    doc = (item.function.__doc__ or "").strip().splitlines() if hasattr(item, "function") else []
    _STATE["records"].append(
        TestRecord(
            nodeid=item.nodeid,
            function=getattr(item, "originalname", item.name),
            name=doc[0] if doc else item.name,
            visibility="public" if "public" in path.parts else "hidden",
            status=status,
            message=message,
            details=details,
            duration=round(time.monotonic() - _STATE["current"]["start"], 3),
            seed=_STATE["seeds"].get(item.nodeid),
            requirements=test_requirements(item),
        )
    )


def pytest_collectreport(report):
    """A test file that cannot be imported is the course's fault (student code never runs here)."""
    if report.failed:
        lines = [ln.strip() for ln in str(report.longrepr).splitlines() if ln.strip()]
        errors = [ln[1:].strip() for ln in lines if ln.startswith("E ")]  # pytest's error lines
        _STATE["broken"].append(
            {
                "where": report.nodeid or "(collection)",
                "error": (errors or lines or ["?"])[-1][:500],
            }
        )


def pytest_internalerror(excrepr, excinfo):
    _STATE["failures"].append(f"pytest internal error: {str(excrepr)[-1000:]}")


def pytest_sessionfinish(session, exitstatus):
    job = _STATE.get("job")
    if job is not None and job.report:
        _STATE["races"].settle(_STATE["records"])
        order = {nodeid: i for i, nodeid in enumerate(_STATE["collected"])}
        _STATE["records"].sort(key=lambda r: order.get(r.nodeid, len(order)))  # the files' order
        Report(
            tests=_STATE["records"],
            broken_test_files=_STATE["broken"],
            collected=_STATE["collected"],
            failures=_STATE["failures"],
            tampering=_STATE["tampering"],
            exitstatus=int(exitstatus),
        ).write(Path(job.report))
