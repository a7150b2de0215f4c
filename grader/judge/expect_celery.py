"""Judge-side helpers for Celery exercises: run steps on a real worker in the sandbox and
explain what went wrong in words about tasks, workers and canvases.

    STEPS = [task_step("add", 2, 3, expect=5),
             canvas_step("sum_of_squares", [1, 2, 3], kind="chord", expect=14)]

    def test_on_worker(student):
        expect_steps(celery_run(student, "functional", STEPS))

    def test_on_prefork_worker(student):
        expect_steps(celery_run(student, "isolation", STEPS))

    def test_survives_a_killed_worker_process(student):
        expect_survives_worker_loss(celery_fault(student, {"add": [2, 3]}))

Runs are modes of `grader.checks.celery_worker`: `functional` (in-process worker, threads
pool), `isolation` (prefork worker in its own process, a fresh pool process per task), and the
fault run. One sandbox request per distinct run: tests that ask for the same run share it.
Expected values and canvas kinds never leave the judge.
"""

from __future__ import annotations

import json

from grader.judge.verdicts import Failed, StudentError, Timeout
from grader.judge.verdicts.reply import raise_for

EAGER_NOTE = (
    " (Your app sets task_always_eager=True. The grader ignores it and runs a real "
    "worker: eager mode runs every task at once in your own process, with no broker "
    "and no serialization, so it hides exactly these mistakes.)"
)
SYNC_GET = (
    "Never call result.get() within a task: a task that waits for another task's result "
    "blocks its worker process, and when every process of the pool is waiting, nothing "
    "is left to run the tasks they wait for (a deadlock). Celery refuses it with "
    "RuntimeError, and disable_sync_subtasks=False only hides the danger. Let Celery pass "
    "results along instead: a chain hands each result to the next task, a chord hands "
    "the list of results of its header to its body."
)
GLOBALS = (
    "On a real worker each task may run in a different process (a prefork pool has "
    "several, and processes are replaced), and your calling process is another one again: "
    "each has its own copy of the module's globals, so what one task or the caller "
    "stores there is not seen by the next task. Eager mode and a single process hide "
    "this. Pass everything a task needs as its arguments (a partial signature such as "
    "mul.s(x) fixes an argument) and return its result."
)
CANVAS = {
    "chord": (
        "A chord is chord(header, body): the header (signatures that run in parallel, "
        "like a group) and then the body, run once with the list of all their results. "
        "Return chord(header, body) itself: calling it sends it at once."
    ),
    "chain": (
        "A chain is chain(sig1, sig2, ...) or sig1 | sig2: each task's result becomes the "
        "first argument of the next one. Return the chain itself, not a called or "
        "applied one, so the caller decides when and where it runs."
    ),
    "group": "A group runs its signatures in parallel and gives the list of their results.",
}
UNREGISTERED = (
    "The worker does not know this task: a worker imports your module and knows only "
    "the tasks defined at its top level. A task created inside a function exists "
    "only in the process that called that function (eager mode runs it there, so it "
    "seems to work)."
)
CHORD_BODY = (
    "A chord's body receives the list of the header's results as its first argument: make "
    "it a mutable signature with no fixed arguments, e.g. xsum.s()."
)
CHAIN_LINK = (
    "Each step of a chain after the first receives the result of the step before it as its "
    "first argument: make it a mutable signature with only the other arguments fixed, e.g. "
    "mul.s(x)."
)
NOT_SENT = (
    "Its arguments could not be sent to the worker: a real broker carries JSON, so task "
    "arguments and results must be plain numbers, strings, lists and dicts (convert "
    "numpy numbers with int() or float()). Eager mode never serializes, so it hides this."
)
LOST = (
    "By default a task's message is acknowledged when a worker process takes it, so when "
    "that process dies (killed, out of memory) the task is lost and fails with "
    "WorkerLostError. For a task that is safe to run twice, declare "
    "@app.task(acks_late=True, reject_on_worker_lost=True): the message is acknowledged only "
    "after the task finished, and a lost one goes back to the queue for another process."
)


def task_step(name: str, *args, expect=None, what: str | None = None) -> dict:
    """A step that sends task `name` with `args` to the worker."""
    return {"task": name, "args": list(args), "expect": expect, "what": what}


def canvas_step(
    name: str,
    *args,
    kind: str | None = None,
    expect=None,
    what: str | None = None,
    tasks: list | None = None,
) -> dict:
    """A step that calls the student's function `name(*args)`, which must return a canvas of
    `kind` ("chord", "chain", "group", "signature"), and runs it on the worker. `tasks`, if
    given, is how the value must be computed: a list of stages, each a list of
    `(task name, args)` that run in any order among themselves, the stages one after another
    (arguments of `add` and `mul` in any order)."""
    return {
        "canvas": name,
        "args": list(args),
        "kind": kind,
        "expect": expect,
        "what": what,
        "tasks": tasks,
    }


def _probe_celery(mod, mode, steps, options):
    from grader.checks import celery_worker  # lazy: Celery, only for Celery exercises

    if mode == "fault":
        return celery_worker.fault(mod, options["tasks"], options["args"])
    return getattr(celery_worker, mode)(mod, steps, **options)


class CeleryReport(dict):
    """What a run saw (`outcomes` in step order, `sync_get`, `globals_written`, ...), with the
    judge-side steps (expected values) alongside."""

    steps: list

    @property
    def outcomes(self) -> list:
        return self.get("outcomes", [])


COMMUTATIVE = ("add", "mul")


def _call_text(name: str, args) -> str:
    return f"{name}({', '.join(repr(a) for a in args)})"


def _task_key(name: str, args) -> tuple:
    shown = [repr(a) for a in args]
    return (name, tuple(sorted(shown) if name in COMMUTATIVE else shown))


def expect_tasks(step: dict, out: dict, what: str) -> None:
    """The tasks the worker ran for a step must be the stages `step["tasks"]` names, in order."""
    want = step.get("tasks")
    if want is None:
        return
    ran = [(t["task"], t["args"]) for t in out.get("tasks") or []]
    expected = [c for stage in want for c in stage]
    got_stages, i = [], 0
    for stage in want:
        got_stages.append(sorted(_task_key(n, a) for n, a in ran[i : i + len(stage)]))
        i += len(stage)
    if len(ran) == len(expected) and all(
        got == sorted(_task_key(n, a) for n, a in stage) for got, stage in zip(got_stages, want)
    ):
        return
    shown = ", then ".join(" and ".join(_call_text(n, a) for n, a in stage) for stage in want)
    did = ", ".join(_call_text(n, a) for n, a in ran[:12]) or "no task at all"
    raise Failed(
        f"{what} computed its value with other tasks than the statement asks for: the "
        f"worker ran {did}; the canvas must run {shown}. The value alone does not show "
        "how a canvas is built: each signature in it is a task the worker runs, in "
        "the order the canvas gives.",
        expected_tasks=shown,
        tasks=out.get("tasks"),
    )


def _sent(step: dict) -> dict:
    return {k: step[k] for k in ("task", "canvas", "args") if k in step}


def celery_run(
    student, mode: str, steps: list[dict], timeout: float | None = None, **options
) -> CeleryReport:
    """Run `steps` on a real worker (`mode` "functional" or "isolation"); the report, shared by
    every test that asks for the same run. A reply that is not a report raises its verdict."""
    runs = student.shared_runs  # (mode, steps, options) -> report, for this student only
    key = (mode, json.dumps([_sent(s) for s in steps]), json.dumps(options))
    if key not in runs:
        reply = student.reply(
            _probe_celery,
            mode,
            [_sent(s) for s in steps],
            options,
            timeout=timeout,
            what=f"your tasks on a {_worker_words(mode)}",
        )
        raise_for(reply)
        runs[key] = CeleryReport(reply.value)
        runs[key].steps = steps
    return runs[key]


def celery_fault(student, args: dict, timeout: float | None = None) -> CeleryReport:
    """Send each task of `args` ({name: [args]}), kill the pool process running it, and report
    whether it was lost or redelivered and completed."""
    runs = student.shared_runs
    key = ("fault", json.dumps(args))
    if key not in runs:
        reply = student.reply(
            _probe_celery,
            "fault",
            [],
            {"tasks": list(args), "args": args},
            timeout=timeout,
            what="your tasks with a worker process killed",
        )
        raise_for(reply)
        runs[key] = CeleryReport(reply.value)
        runs[key].steps = []
    return runs[key]


def _worker_words(mode: str) -> str:
    return {
        "functional": "real Celery worker",
        "isolation": "prefork Celery worker (separate processes)",
    }.get(mode, "Celery worker")


def _call_words(step: dict) -> str:
    if step.get("what"):
        return step["what"]
    name = step.get("task") or step.get("canvas")
    args = ", ".join(repr(a) for a in step.get("args", []))
    return f"{name}.delay({args})" if "task" in step else f"{name}({args})"


def _where(error: dict) -> str:
    w = (error or {}).get("where")
    if not w:
        return ""
    return f" ({w['file']}, line {w['line']}, in {w['function']}: `{w['code']}`)"


def _eager(report) -> str:
    return EAGER_NOTE if report.get("eager_was_set") else ""


def expect_no_sync_get(report: CeleryReport) -> None:
    """Raise `Failed` if a task called result.get() (or join/wait) on another task's result, or
    if no step completed at all (then nothing was checked)."""
    calls = report.get("sync_get") or []
    if not calls:
        if report.outcomes and not any(o.get("status") == "ok" for o in report.outcomes):
            raise Failed(
                "None of your tasks completed on the worker, so this could not be "
                "checked; see the other tests for why."
            )
        return
    tampered = [c for c in calls if c.get("tampered")]
    if tampered:
        raise Failed(
            "Your code switched off the grader's check of result.get() inside tasks "
            "(it put Celery's original methods back; noticed when task "
            f"{tampered[0]['task']} ended), so this check could not run and earns no "
            "points.",
            sync_get=calls,
        )
    c = calls[0]
    raise Failed(
        f"Task {c['task']} waited for another task's result with .{c['method']}() "
        f"({c['file']}, line {c['line']}: `{c['code']}`). {SYNC_GET}" + _eager(report),
        sync_get=calls,
    )


def _globals_hint(report) -> str:
    written = report.get("globals_written") or []
    by_caller = [
        (o["step"], o["globals_written_by_caller"])
        for o in report.outcomes
        if o.get("globals_written_by_caller")
    ]
    if by_caller and not written:
        step, names = by_caller[0]
        return (
            f" {step}() changed the module global{'s' if len(names) > 1 else ''} "
            f"{', '.join(names)} in the calling process, and your tasks rely on it. " + GLOBALS
        )
    if not written:
        return ""
    names = sorted({g for w in written for g in w["globals"]})
    tasks = sorted({w["task"].rsplit(".", 1)[-1] for w in written})
    return (
        f" Your task{'s' if len(tasks) > 1 else ''} {', '.join(tasks)} changed the module "
        f"global{'s' if len(names) > 1 else ''} {', '.join(names)}: the state is kept in "
        f"a module global. {GLOBALS}"
    )


def expect_step(report: CeleryReport, index: int) -> None:
    """Step `index` of the run must have returned its expected value (and canvas kind)."""
    step, out = report.steps[index], report.outcomes[index]
    what = _call_words(step)
    where = _worker_words(report.get("mode", ""))
    status = out.get("status")
    kind = step.get("kind")
    if status == "missing":
        raise StudentError(
            f"{out['step']} is not defined in your module: the exercise asks for it."
        )
    if status == "not-a-task":
        raise Failed(f"{out['step']} is not a Celery task: decorate it with @app.task.")
    got_kind = out.get("canvas", "")
    # A function that raised while building its canvas returned nothing: its exception is the
    # diagnosis (below), not "returned a , expected a chord"
    if kind and got_kind != kind and not (status == "not-sent" and not got_kind):
        hint = CANVAS.get(kind, "")
        extra = (
            " It ran the work itself and returned the result: the caller can no longer "
            "choose where and when it runs."
            if got_kind.startswith(("value", "result"))
            else ""
        )
        raise Failed(
            f"{what} returned a {got_kind}, expected a {kind}.{extra} {hint}",
            expected=kind,
            got=got_kind,
        )
    if status == "not-sent":
        err = out.get("error") or {}
        why = (
            NOT_SENT
            if "Encode" in err.get("type", "") or "serializ" in err.get("message", "")
            else ""
        )
        raise StudentError(
            f"{what} failed before reaching the worker: {err.get('type')}: "
            f"{err.get('message')}{_where(err)}. {why}".rstrip()
            + _eager(report),
            exception=err,
        )
    if status == "error":
        err = out.get("error") or {}
        if "Never call result.get() within a task" in err.get("message", "") or report.get(
            "sync_get"
        ):
            expect_no_sync_get(report)
        hint = f" {UNREGISTERED}" if err.get("type") == "NotRegistered" else ""
        raise StudentError(
            f"{what} on a {where} raised {err.get('type')}: "
            f"{err.get('message')}{_where(err)}.{hint}" + _eager(report),
            exception=err,
        )
    if status == "timeout":
        errors = report.get("worker_errors") or []
        unknown = [e for e in errors if "unregistered task" in e]
        if unknown:
            raise Failed(
                f"{what} never finished on a {where}: the worker said "
                f'"{unknown[0][:200]}". {UNREGISTERED}' + _eager(report),
                worker_errors=errors,
            )
        raise Timeout(
            f"{what} never finished on a {where} (its state stayed "
            f"{out.get('state', '?')}). Check that each task returns and that no task "
            "waits for another one." + _globals_hint(report) + _eager(report),
            worker_errors=errors,
            worker_log=report.get("worker_log_tail", ""),
        )
    expected, got = step.get("expect"), out.get("value")
    if step.get("expect") is not None and not (type(got) is type(expected) and got == expected):
        hint = _globals_hint(report) if report.get("mode") == "isolation" else ""
        if not hint and report.get("mode") == "isolation":
            hint = (
                " It works when everything runs in one process; on this worker every task "
                "runs in its own process. " + GLOBALS
            )
        raise Failed(
            f"{what} on a {where} returned {got!r:.300}, expected {expected!r:.300}."
            + hint
            + _eager(report),
            expected=repr(expected),
            got=repr(got)[:300],
        )
    body = out.get("chord_body") or {}
    if kind == "chord" and body.get("immutable") is True:
        task = str(body.get("task", "?")).rpartition(".")[2]
        raise Failed(
            f"{what} returned a chord whose body is the immutable signature "
            f"{task}.si{str(body.get('args', '()'))[:200]}: it ignores the list of the header's "
            "results and adds values the caller fixed before any task ran, so the header's "
            f"work is thrown away. {CHORD_BODY}",
            chord_body=body,
        )
    fixed = [link for link in out.get("chain_links") or [] if link.get("immutable") is True]
    if kind == "chain" and fixed:
        task = str(fixed[0].get("task", "?")).rpartition(".")[2]
        raise Failed(
            f"{what} returned a chain with the immutable step "
            f"{task}.si{str(fixed[0].get('args', '()'))[:200]}: it ignores the result of the "
            "step before it and uses values the caller computed before any task ran, so that "
            f"step's work is thrown away (the right number, without the chain). {CHAIN_LINK}",
            chain_links=out.get("chain_links"),
        )
    expect_tasks(step, out, f"{what} on a {where}")


def expect_steps(report: CeleryReport, only=None) -> None:
    """Every step (or those whose task/function is named in `only`) returned what it should."""
    for i, step in enumerate(report.steps):
        if only is None or (step.get("task") or step.get("canvas")) in only:
            expect_step(report, i)


def expect_survives_worker_loss(report: CeleryReport) -> None:
    """Every task must have been redelivered and completed after its pool process was killed."""
    for run in report.get("runs", []):
        name = run["task"]
        if run.get("outcome") == "completed":
            continue
        if run.get("outcome") == "lost":
            config = (
                "acks_late=True without reject_on_worker_lost=True: Celery then still "
                "records the loss as a failure instead of sending the task again"
                if run.get("acks_late")
                else "the default settings"
            )
            raise Failed(
                f"Task {name} was lost when the worker process running it was killed "
                f"(WorkerLostError), with {config}. {LOST}",
                runs=report["runs"],
            )
        raise Failed(
            f"Task {name} did not complete after the worker process running it was "
            f"killed (outcome: {run.get('outcome')}). {LOST}",
            runs=report["runs"],
        )
