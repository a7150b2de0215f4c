"""Real Celery workers for probes, inside the sandbox, with no network.

Probes call one of three runs on the student's module (it must define a Celery `app`):

    from grader.checks import celery_worker
    report = celery_worker.functional(mod, steps)   # in-process worker, threads pool
    report = celery_worker.isolation(mod, steps)    # prefork worker in its own process
    report = celery_worker.fault(mod, ["add"], {"add": [2, 3]})  # a pool child killed on delivery

A step is plain data: `{"task": "add", "args": [2, 3]}` sends the task to the worker;
`{"canvas": "pipeline", "args": [5]}` calls the student's function, says what it returned
(chord, chain, group, signature, a result, a plain value) and runs it on the worker. Each
outcome is `{"status": "ok"|"error"|"timeout"|"not-sent", "value", "error", "canvas", ...}`.

Whatever the student's `app` says (a remote broker, `task_always_eager=True`, pickle), the run
replaces it: the functional run uses a `memory://` broker and a `cache+memory://` backend, the
isolation and fault runs a `filesystem://` broker and a file backend (with atomic writes and a
counter, so chords need no polling task) in a folder of the run's work directory. The report
says what was overridden. In every worker, `AsyncResult.get()` (and `join`, `wait`) called
from a task in the student's files raises Celery's own "Never call result.get() within a
task!" and is recorded by name, even with `disable_sync_subtasks=False` or
`allow_join_result()`. Module globals that a task changes are recorded too (`globals_written`),
and so is every task the worker runs, with its arguments and result (each step's `tasks`).
The isolation worker has `max_tasks_per_child=1`: every task runs in a fresh pool process, so
state shared through module globals is never seen by the next task, as on a real deployment.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from typing import cast

from celery.backends.filesystem import FilesystemBackend

POLL = 0.005  # seconds between looks at the broker and at results
SYNC_GET_MESSAGE = "Never call result.get() within a task!"
READY_FILE = "worker-ready"
_RESERVED = ("app", "celery")


# ---------------------------------------------------------------- the file result backend


class FileBackend(FilesystemBackend):
    """Celery's file backend with atomic writes (a reader never sees half a result) and an
    atomic counter, so chords count their finished parts instead of polling."""

    implements_incr = True
    supports_native_join = True

    def _filename(self, key):
        return os.path.join(os.fsdecode(self.path), os.fsdecode(key))

    def set(self, key, value):
        path = self._filename(key)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as f:
            f.write(value if isinstance(value, bytes) else str(value).encode())
        os.replace(tmp, path)

    def incr(self, key):
        with open(self._filename(key) + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            value = int(self.get(key) or 0) + 1
            self.set(key, str(value).encode())
            return value

    def expire(self, key, value):
        pass

    def _get_many_native(self, ids, timeout, interval):
        return None


def _atomic_put(self, queue, payload, **kwargs):
    """kombu's filesystem transport creates a message file, then writes it: a consumer polling
    the folder can take it still empty. Write it under another name, then rename it."""
    from kombu.utils.json import dumps

    name = f"{int(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
    tmp = os.path.join(self.data_folder_out, f"tmp-{uuid.uuid4().hex}.part")
    with open(tmp, "wb") as f:
        f.write(dumps(payload).encode())
    os.replace(tmp, os.path.join(self.data_folder_out, name))


def _patch_file_transport() -> None:
    from kombu.transport import filesystem

    filesystem.Channel._put = _atomic_put  # type: ignore[method-assign]  # kombu's, made atomic


# ---------------------------------------------------------------- configuration


def _settings(broker: str, backend: str, transport: dict) -> dict:
    return dict(
        broker_url=broker,
        broker_read_url=None,
        broker_write_url=None,
        result_backend=backend,
        broker_transport_options={"polling_interval": POLL, **transport},
        broker_connection_retry_on_startup=False,
        broker_connection_max_retries=0,
        task_always_eager=False,
        task_eager_propagates=False,
        task_store_eager_result=False,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_prefetch_multiplier=1,
        result_chord_join_timeout=10.0,
        task_default_queue="celery",
        task_routes=None,
        task_queues=None,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )


def _student_app(module):
    from celery import Celery

    app = getattr(module, "app", None)
    if not isinstance(app, Celery):
        raise TypeError(
            f"{module.__name__}.py must define `app = Celery(...)`, the Celery "
            "application its tasks belong to"
        )
    return app


def configure(module, broker: str, backend: str, transport: dict | None = None) -> dict:
    """Point the student's app at our broker and backend; what it said before, for the report."""
    app = _student_app(module)
    before = {
        "eager": bool(app.conf.task_always_eager),
        "broker": str(app.conf.broker_url or ""),
        "backend": str(app.conf.result_backend or ""),
    }
    app.conf.update(_settings(broker, backend, transport or {}))
    app._pool = None  # drop connections made with the student's settings
    app._backend_cache = None
    app._local = threading.local()
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    app.set_current()
    app.set_default()
    return before


def reassert_not_eager(module, notes: dict) -> None:
    """Student code may switch eager mode on while it runs (in pipeline(), say): undo, note it."""
    app = _student_app(module)
    if app.conf.task_always_eager:
        notes["eager"] = True
        app.conf.task_always_eager = False


# ---------------------------------------------------------------- what tasks do in the worker


def _student_file(workdir: str, filename: str) -> bool:
    path = os.path.realpath(filename)
    return path.startswith(workdir + os.sep) and os.sep + "celery-run-" not in path


def _frame_record(frame, workdir: str) -> dict:
    import linecache

    return {
        "file": os.path.relpath(frame.f_code.co_filename, workdir),
        "line": frame.f_lineno,
        "function": frame.f_code.co_name,
        "code": linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()[:200],
    }


def _append(path: str, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record, default=repr) + "\n")


def install_sync_get_guard(workdir: str, record_dir: str) -> None:
    """`result.get()` (or join/wait) called by student code inside a task raises Celery's
    RuntimeError, whatever disable_sync_subtasks or allow_join_result say, and is recorded."""
    from celery import _state, result

    def guard(cls, name):
        original = getattr(cls, name)
        if getattr(original, "_pgrader_guard", False):
            return

        @functools.wraps(original)
        def wrapper(self, *args, **kwargs):
            task = _state.get_current_worker_task()
            caller = sys._getframe(1)
            if task is not None and _student_file(workdir, caller.f_code.co_filename):
                _append(
                    os.path.join(record_dir, f"sync-get-{os.getpid()}.jsonl"),
                    {"task": task.name, "method": name, **_frame_record(caller, workdir)},
                )
                raise RuntimeError(
                    f"{SYNC_GET_MESSAGE} (the grader's worker refuses it even with "
                    "disable_sync_subtasks=False: a task that waits for another task blocks a "
                    "worker process, and when every process waits, nothing runs)"
                )
            return original(self, *args, **kwargs)

        wrapper._pgrader_guard = True
        setattr(cls, name, wrapper)

    guarded = (
        (result.AsyncResult, ("get", "wait")),
        (result.ResultSet, ("get", "join", "join_native")),
        (result.EagerResult, ("get", "wait")),
    )

    def install():
        for cls, names in guarded:
            for name in names:
                guard(cls, name)

    def still_guarded(task=None, **_):
        """A task that put the original methods back is recorded, and the guard comes back."""
        if not all(
            getattr(getattr(cls, n), "_pgrader_guard", False)
            for cls, names in guarded
            for n in names
        ):
            _append(
                os.path.join(record_dir, f"sync-get-{os.getpid()}.jsonl"),
                {
                    "task": getattr(task, "name", "?"),
                    "method": "get",
                    "tampered": True,
                    "file": "?",
                    "line": 0,
                    "function": "?",
                    "code": "",
                },
            )
            install()

    install()
    from celery import signals

    signals.task_postrun.connect(still_guarded, weak=False)


def _snapshot(module) -> dict:
    import types

    from celery import Task

    out = {}
    for name, value in list(vars(module).items()):
        if (
            name.startswith("__")
            or name in _RESERVED
            or isinstance(value, (types.ModuleType, types.FunctionType, type, Task))
            or callable(value)
        ):
            continue
        try:
            out[name] = (id(value), repr(value)[:500])
        except Exception:  # noqa: BLE001 - a hostile __repr__ only hides this global
            out[name] = (id(value), "?")
    return out


def install_globals_watch(module, record_dir: str) -> None:
    """Record each module global a task rebinds or mutates (by a look before and after it)."""
    from celery import signals

    before: dict = {}

    def prerun(task_id=None, task=None, **_):
        before[task_id] = _snapshot(module)

    def postrun(task_id=None, task=None, **_):
        old, new = before.pop(task_id, None), _snapshot(module)
        if old is None:
            return
        changed = sorted(n for n in new if old.get(n) != new[n])
        if changed:
            _append(
                os.path.join(record_dir, f"globals-{os.getpid()}.jsonl"),
                {"task": getattr(task, "name", "?"), "globals": changed[:10], "pid": os.getpid()},
            )

    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)


def install_fault(record_dir: str, names: list[str]) -> None:
    """On its first delivery, each named task tells us its process and sleeps there, to be killed;
    a redelivered run goes straight to the student's code. The fault acts on delivery (Celery's
    `task_prerun` signal, sent by the worker before it runs a delivered task), never inside the
    task's code: a task body called directly by another task (`add(2, 3)` inside `xsum`) is
    ordinary code and never meets this sleep."""
    from celery import signals

    def on_delivery(task_id=None, task=None, **_):
        if task is None or task.name.rsplit(".", 1)[-1] not in names:
            return
        marker = os.path.join(record_dir, f"fault-{task_id}")
        if os.path.exists(marker):
            return
        with open(marker + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(marker + ".tmp", marker)
        time.sleep(60)

    signals.task_prerun.connect(on_delivery, weak=False)


def install_task_log(record_dir: str) -> tuple:
    """Record every task a worker runs (name, arguments, result, when, which process), so the
    judge can tell how a canvas computed its value, not only the value. A task is recorded when
    it starts, before its result can reach the caller, and again when it ends: the caller's
    `get()` returns as soon as the last result is stored, which may be before `task_postrun`."""
    from celery import signals

    def log(record: dict) -> None:
        _append(os.path.join(record_dir, f"tasks-{os.getpid()}.jsonl"), record)

    def prerun(task_id=None, task=None, args=None, kwargs=None, **_):
        log(
            {
                "id": str(task_id),
                "task": getattr(task, "name", "?").rsplit(".", 1)[-1],
                "args": _plain(list(args or [])),
                "kwargs": _plain(dict(kwargs or {})),
                "t0": time.monotonic(),
                "pid": os.getpid(),
            }
        )

    def postrun(task_id=None, retval=None, state=None, **_):
        log(
            {
                "id": str(task_id),
                "result": _plain(retval) if state == "SUCCESS" else None,
                "state": state,
                "t1": time.monotonic(),
            }
        )

    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)
    return prerun, postrun


def _read_records(record_dir: str, prefix: str, limit: int = 50) -> list[dict]:
    records = []
    for name in sorted(os.listdir(record_dir)):
        if name.startswith(prefix) and name.endswith(".jsonl"):
            with open(os.path.join(record_dir, name)) as f:
                records += [json.loads(line) for line in f if line.strip()]
    return records[:limit]


def _task_runs(record_dir: str) -> list[dict]:
    """Each task's start record merged with its end record (if it ended yet), by task id."""
    runs: dict = {}
    for r in _read_records(record_dir, "tasks-", 1000):
        if isinstance(r, dict) and isinstance(r.get("id"), str):
            runs.setdefault(r["id"], {"result": None, "state": "STARTED"}).update(r)
    return [r for r in runs.values() if isinstance(r.get("t0"), (int, float)) and "task" in r]


def _tasks_by_step(record_dir: str, outcomes: list[dict]) -> None:
    """Give each step's outcome the tasks that ran while it was waited for (steps run one after
    another), in the order they started."""
    runs = sorted(_task_runs(record_dir), key=lambda r: r["t0"])
    for out in outcomes:
        if "t0" in out:
            end = out.get("t1", float("inf"))
            out["tasks"] = [
                {k: r.get(k) for k in ("task", "args", "kwargs", "result", "state")}
                for r in runs
                if out["t0"] <= r["t0"] <= end
            ][:40]


# ---------------------------------------------------------------- running steps


def describe_canvas(obj) -> str:
    """What a student's function returned, in Celery's words."""
    from celery import canvas, result

    for cls, word in (
        (canvas._chord, "chord"),
        (canvas._chain, "chain"),
        (canvas.group, "group"),
        (canvas.Signature, "signature"),
        (result.ResultBase, "result"),
    ):
        if isinstance(obj, cls):
            return word
    return f"value of type {type(obj).__name__}"


def _signature_words(sig) -> dict:
    """A signature's task, whether it is immutable (`.si()`) and the arguments the caller fixed."""
    return {
        "task": str(sig.get("task") or type(sig).__name__)[:100],
        "immutable": bool(sig.get("immutable")),
        "args": "(" + ", ".join(map(repr, sig.get("args") or ()))[:200] + ")",
    }


def describe_links(built) -> list[dict] | None:
    """A chain's signatures after the first (`_signature_words`): an immutable one ignores the
    result of the step before it. None if they cannot be read."""
    try:
        return [_signature_words(sig) for sig in list(built.tasks)[1:20]]
    except Exception:  # noqa: BLE001 - the student's own object: nothing to say about it
        return None


def describe_body(built) -> dict | None:
    """A chord's body: its task, whether it is immutable (`.si()`: it then ignores the list of
    the header's results) and the arguments the caller fixed; None if it cannot be read."""
    try:
        return _signature_words(built.body)
    except Exception:  # noqa: BLE001 - the student's own object: nothing to say about it
        return None


def _error(exc: BaseException, workdir: str, tb_text: str | None = None) -> dict:
    """An exception as data, with the innermost line of the student's files it passed through."""
    where = None
    frames: list[traceback.FrameSummary]
    if tb_text is None:
        frames = traceback.extract_tb(exc.__traceback__)
    else:
        frames = []
        import re

        for m in re.finditer(r'File "([^"]+)", line (\d+), in (\S+)\n\s*(.*)', tb_text):
            frames.append(traceback.FrameSummary(m[1], int(m[2]), m[3], line=m[4]))
    for fr in frames:
        if _student_file(workdir, fr.filename):
            where = {
                "file": os.path.relpath(fr.filename, workdir),
                "line": fr.lineno,
                "function": fr.name,
                "code": (fr.line or "").strip()[:200],
            }
    return {"type": type(exc).__name__, "message": str(exc)[:500], "where": where}


def _wait(res, timeout: float, workdir: str) -> dict:
    from celery.exceptions import TimeoutError as CeleryTimeout

    try:
        value = res.get(timeout=timeout, interval=POLL, propagate=True)
        return {"status": "ok", "value": _plain(value)}
    except CeleryTimeout:
        return {"status": "timeout", "state": str(getattr(res, "state", "?"))}
    except Exception as exc:  # noqa: BLE001 - the task's own exception, re-raised by get()
        return {"status": "error", "error": _error(exc, workdir, getattr(res, "traceback", None))}


def _plain(value):
    """JSON-shaped data back as it came (lists, dicts, numbers, strings)."""
    return json.loads(json.dumps(value, default=repr))


def run_step(module, step: dict, timeout: float, workdir: str, notes: dict) -> dict:
    name = step.get("task") or step.get("canvas")
    args = list(step.get("args", []))
    out: dict = {"step": name, "args": args, "t0": time.monotonic()}
    t0 = time.perf_counter()
    try:
        target = getattr(module, cast(str, name), None)  # a step names its task or canvas
        if target is None:
            return {**out, "status": "missing"}
        if "task" in step:
            if not hasattr(target, "apply_async"):
                return {**out, "status": "not-a-task"}
            sent = target.apply_async(args)
            out["canvas"] = "task"
        else:
            before = _snapshot(module)
            built = target(*args)
            after = _snapshot(module)
            changed = sorted(n for n in after if before.get(n) != after[n])
            if changed:  # the caller's process changed globals: no worker process sees that
                out["globals_written_by_caller"] = changed[:10]
            reassert_not_eager(module, notes)
            out["canvas"] = describe_canvas(built)
            if out["canvas"] == "chord":
                out["chord_body"] = describe_body(built)
            if out["canvas"] == "chain":
                out["chain_links"] = describe_links(built)
            if out["canvas"] in ("chord", "chain", "group", "signature"):
                sent = built.apply_async()
            elif out["canvas"] == "result":
                sent = built
            else:
                return {**out, "status": "ok", "value": _plain(built), "t1": time.monotonic()}
        reassert_not_eager(module, notes)
        out.update(_wait(sent, timeout, workdir))
    except Exception as exc:  # noqa: BLE001 - building or sending failed in the student's code
        out.update(status="not-sent", error=_error(exc, workdir))
    out["seconds"] = round(time.perf_counter() - t0, 4)
    out["t1"] = time.monotonic()
    return out


def _run_steps(
    module, steps, deadline: float, step_timeout: float, workdir: str, notes: dict
) -> list[dict]:
    outcomes = []
    for step in steps:
        left = deadline - time.monotonic()
        if left <= 0.05:
            outcomes.append(
                {
                    "step": step.get("task") or step.get("canvas"),
                    "args": step.get("args", []),
                    "status": "timeout",
                    "state": "not started: time was up",
                }
            )
            continue
        outcomes.append(run_step(module, step, min(step_timeout, left), workdir, notes))
    return outcomes


def _settle(record_dir: str, seconds: float = 1.0) -> None:
    """Wait (briefly) until every task that started has ended: what a task records at its end
    (globals it changed, a result.get() it tried) comes after its result reached the caller."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and any(r["state"] == "STARTED" for r in _task_runs(record_dir)):
        time.sleep(POLL)


def _report(mode: str, before: dict, notes: dict, record_dir: str, outcomes, **extra) -> dict:
    _settle(record_dir)
    _tasks_by_step(record_dir, outcomes)
    for out in outcomes:
        out.pop("t0", None)
        out.pop("t1", None)
    if any(o.get("status") == "timeout" for o in outcomes):
        extra["worker_log_tail"] = _log_tail(record_dir)
    return {
        "mode": mode,
        "eager_was_set": before["eager"] or bool(notes.get("eager")),
        "broker_was": before["broker"],
        "backend_was": before["backend"],
        "outcomes": outcomes,
        "sync_get": _read_records(record_dir, "sync-get-"),
        "globals_written": _read_records(record_dir, "globals-"),
        **extra,
    }


def _record_dir(workdir: str) -> str:
    return tempfile.mkdtemp(prefix="celery-run-", dir=workdir)


# ---------------------------------------------------------------- functional: in-process worker


@contextlib.contextmanager
def in_process_worker(module, concurrency: int = 4, record_dir: str | None = None):
    """A worker thread in this process (threads pool), on an in-memory broker and backend."""
    from celery.contrib.testing.worker import TestWorkController, setup_app_for_worker
    from celery.result import _set_task_join_will_block
    from celery.worker import state

    workdir = os.path.realpath(os.getcwd())
    record_dir = record_dir or _record_dir(workdir)
    before = configure(module, "memory://", "cache+memory://")
    app = _student_app(module)
    install_sync_get_guard(workdir, record_dir)
    install_globals_watch(module, record_dir)
    install_task_log(record_dir)
    setup_app_for_worker(app, "ERROR", os.path.join(record_dir, "worker.log"))
    worker = TestWorkController(
        app=app,
        concurrency=concurrency,
        pool="threads",
        hostname="grader@sandbox",
        loglevel="ERROR",
        logfile=os.path.join(record_dir, "worker.log"),
        ready_callback=None,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    thread = threading.Thread(target=worker.start, daemon=True, name="celery-worker")
    t0 = time.perf_counter()
    thread.start()
    worker.ensure_started()
    _set_task_join_will_block(False)
    started = time.perf_counter() - t0
    try:
        yield {
            "before": before,
            "record_dir": record_dir,
            "workdir": workdir,
            "start_seconds": started,
        }
    finally:
        # Stopping cleanly takes seconds (the consumer's last poll); the agent's process ends
        # right after the probe anyway, so ask it to stop and do not wait for it.
        state.should_terminate = 0


def functional(
    module,
    steps: list[dict],
    timeout: float = 10.0,
    step_timeout: float = 5.0,
    concurrency: int = 4,
) -> dict:
    """Run `steps` on an in-process worker; the report of what each did."""
    deadline = time.monotonic() + timeout
    with in_process_worker(module, concurrency) as ctx:
        notes: dict = {}
        outcomes = _run_steps(module, steps, deadline, step_timeout, ctx["workdir"], notes)
    return _report(
        "functional",
        ctx["before"],
        notes,
        ctx["record_dir"],
        outcomes,
        worker_start_seconds=round(ctx["start_seconds"], 4),
        worker_errors=_log_errors(ctx["record_dir"]),
    )


# ---------------------------------------------------------------- isolation: prefork process


def _file_transport(record_dir: str) -> tuple[str, str, dict]:
    _patch_file_transport()
    queue = os.path.join(record_dir, "broker")
    results = os.path.join(record_dir, "results")
    for d in (queue, results, os.path.join(record_dir, "control")):
        os.makedirs(d, exist_ok=True)
    transport = {
        "data_folder_in": queue,
        "data_folder_out": queue,
        "control_folder": os.path.join(record_dir, "control"),
    }
    return "filesystem://", f"{__name__}:FileBackend+file://{results}", transport


@contextlib.contextmanager
def prefork_worker(
    module,
    concurrency: int = 2,
    max_tasks_per_child: int | None = 1,
    fault: list[str] | None = None,
    start_timeout: float = 8.0,
):
    """A prefork worker in its own process (a new session, killed with its pool on exit)."""
    workdir = os.path.realpath(os.getcwd())
    record_dir = _record_dir(workdir)
    broker, backend, transport = _file_transport(record_dir)
    before = configure(module, broker, backend, transport)
    config = {
        "module": module.__name__,
        "workdir": workdir,
        "record_dir": record_dir,
        "concurrency": concurrency,
        "max_tasks_per_child": max_tasks_per_child,
        "fault": fault or [],
    }
    log = open(os.path.join(record_dir, "worker.log"), "ab")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-I", "-m", __name__, json.dumps(config)],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        ready = os.path.join(record_dir, READY_FILE)
        end = time.monotonic() + start_timeout
        while not os.path.exists(ready) and proc.poll() is None and time.monotonic() < end:
            time.sleep(POLL)
        if not os.path.exists(ready):
            raise RuntimeError("the Celery worker did not start: " + _log_tail(record_dir))
        yield {
            "before": before,
            "record_dir": record_dir,
            "workdir": workdir,
            "proc": proc,
            "start_seconds": time.perf_counter() - t0,
        }
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()


def _log_tail(record_dir: str, limit: int = 1500) -> str:
    try:
        with open(os.path.join(record_dir, "worker.log"), errors="replace") as f:
            return f.read()[-limit:]
    except OSError:
        return ""


def _log_errors(record_dir: str) -> list[str]:
    """Lines of the worker's log that say something went wrong (an unregistered task, ...)."""
    lines = _log_tail(record_dir, 200_000).splitlines()
    keep = [
        ln.strip()
        for ln in lines
        if "unregistered task" in ln
        or "ERROR/" in ln
        or "CRITICAL/" in ln
        or ln.startswith(("ERROR:", "CRITICAL:", "KeyError", "kombu.exceptions"))
    ]
    return list(dict.fromkeys(keep))[:20]


def isolation(
    module,
    steps: list[dict],
    timeout: float = 16.0,
    step_timeout: float = 6.0,
    concurrency: int = 2,
) -> dict:
    """Run `steps` on a prefork worker in its own process, each task in a fresh pool process."""
    deadline = time.monotonic() + timeout
    with prefork_worker(module, concurrency) as ctx:
        notes: dict = {}
        outcomes = _run_steps(module, steps, deadline, step_timeout, ctx["workdir"], notes)
    return _report(
        "isolation",
        ctx["before"],
        notes,
        ctx["record_dir"],
        outcomes,
        worker_start_seconds=round(ctx["start_seconds"], 4),
        worker_errors=_log_errors(ctx["record_dir"]),
    )


# ---------------------------------------------------------------- fault: a pool child killed


def fault(
    module, tasks: list[str], args: dict, timeout: float = 10.0, wait_after_kill: float = 4.0
) -> dict:
    """Send each named task at once (one pool process each), SIGKILL every pool process while
    it runs one, and report per task whether it was lost (`WorkerLostError`) or redelivered
    and completed."""
    from celery.exceptions import WorkerLostError

    deadline = time.monotonic() + timeout
    runs: list[dict] = []
    with prefork_worker(
        module, concurrency=len(tasks), max_tasks_per_child=None, fault=tasks
    ) as ctx:
        sent = {}
        for name in tasks:
            task = getattr(module, name)
            runs.append(
                {
                    "task": name,
                    "acks_late": bool(getattr(task, "acks_late", False)),
                    "reject_on_worker_lost": bool(getattr(task, "reject_on_worker_lost", False)),
                }
            )
            sent[name] = task.apply_async(list(args.get(name, [])), task_id=str(uuid.uuid4()))
        markers = {n: os.path.join(ctx["record_dir"], f"fault-{r.id}") for n, r in sent.items()}
        while not all(map(os.path.exists, markers.values())) and time.monotonic() < deadline:
            time.sleep(POLL)
        killed = time.perf_counter()
        for run in runs:
            if os.path.exists(markers[run["task"]]):
                with open(markers[run["task"]]) as f:
                    run["killed_pid"] = int(f.read())
                os.kill(run["killed_pid"], signal.SIGKILL)
        end = min(deadline, time.monotonic() + wait_after_kill)
        for run in runs:
            if "killed_pid" not in run:
                run["outcome"] = "never-started"
                continue
            got = _wait(sent[run["task"]], max(0.1, end - time.monotonic()), ctx["workdir"])
            if got["status"] == "ok":
                run.update(outcome="completed", value=got["value"])
            elif got["status"] == "error" and got["error"]["type"] == WorkerLostError.__name__:
                run.update(outcome="lost", error=got["error"])
            else:
                run.update(outcome=got["status"], **{k: v for k, v in got.items() if k != "status"})
            run["seconds_after_kill"] = round(time.perf_counter() - killed, 3)
    return {
        "mode": "fault",
        "eager_was_set": ctx["before"]["eager"],
        "runs": runs,
        "worker_start_seconds": round(ctx["start_seconds"], 4),
        "worker_errors": _log_errors(ctx["record_dir"]),
    }


# ---------------------------------------------------------------- the worker process itself


def _patch_pool_supervisor(every: float = 0.02) -> None:
    """billiard looks at its pool processes every 0.8 s: a process that ended (after its one
    task) or was killed is replaced or reported that late. Look every `every` seconds."""
    from billiard import pool

    def body(self):
        try:
            while self._state == pool.RUN and self.pool._state == pool.RUN:
                self.pool._maintain_pool()
                time.sleep(every)
        except pool.RestartFreqExceeded:
            self.pool.close()
            self.pool.join()
            raise

    pool.Supervisor.body = body


def _serve(config: dict) -> None:
    import importlib

    workdir, record_dir = config["workdir"], config["record_dir"]
    os.chdir(workdir)
    sys.path.insert(0, workdir)
    module = importlib.import_module(config["module"])
    broker, backend, transport = _file_transport(record_dir)
    configure(module, broker, backend, transport)
    install_sync_get_guard(workdir, record_dir)
    install_globals_watch(module, record_dir)
    install_task_log(record_dir)
    _patch_pool_supervisor()
    if config["fault"]:
        install_fault(record_dir, config["fault"])

    def ready(consumer):
        with open(os.path.join(record_dir, READY_FILE), "w") as f:
            f.write(str(os.getpid()))

    app = _student_app(module)
    logging.basicConfig(level=os.environ.get("PGRADER_CELERY_LOGLEVEL", "ERROR"))
    worker = app.WorkController(
        pool_cls="prefork",
        concurrency=int(config["concurrency"]),
        max_tasks_per_child=config["max_tasks_per_child"],
        hostname="grader-prefork@sandbox",
        loglevel=os.environ.get("PGRADER_CELERY_LOGLEVEL", "ERROR"),
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        optimization="fair",
        prefetch_multiplier=1,
        ready_callback=ready,
        worker_lost_wait=0.3,
    )  # report a killed pool process at once, not after 10 s
    worker.start()


if __name__ == "__main__":
    _serve(json.loads(sys.argv[1]))
