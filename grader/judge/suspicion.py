"""Suspicion: evidence that a submission reached for the grader, for a human to judge.

Two sources, shown together to the instructor (results.json's `pgrader.suspicion`, the
dashboard, the report), never as a score by themselves:

* the **static scan** (`scan`) of the submission's Python files, before anything runs: the
  names, attributes, imports and strings that tampering with the in-process checks needs --
  frames and their internals (`sys._getframe`, `f_back`, `tb_frame`...), trace and profile
  hooks (`settrace`, `gettrace`...), function internals (`__globals__`, `__closure__`,
  `__code__`), the garbage collector's object walks, ctypes, marshal, starting other programs,
  the grader's own modules and files, `/proc`. Idioms honest code uses too (`sys.modules`,
  `importlib`, `__import__`) are left to the run's evidence: importing the grader is refused
  and recorded whatever the way. Solutions to
  the exercises have no use for any of them: the reference solutions, the mutants and the
  sample class raise no flag (tests/test_suspicion.py);
* the **run's evidence**: what the agent's audit hook refused the student's code while the
  tests ran, and agent reports that could not be believed (collected by the judge's plugin).

The student sees only the plain "not allowed in graded code" error where something was refused.
"""

from __future__ import annotations

import ast
from pathlib import Path

MAX_FINDINGS = 50

ATTRIBUTES = {
    "f_back": "walks up the call stack (frame.f_back)",
    "f_globals": "reads another frame's globals",
    "f_locals": "reads another frame's local variables",
    "f_trace": "switches tracing off or on for a frame",
    "f_trace_opcodes": "switches opcode tracing for a frame",
    "tb_frame": "takes a frame out of a traceback",
    "gi_frame": "takes a generator's frame",
    "cr_frame": "takes a coroutine's frame",
    "ag_frame": "takes an async generator's frame",
    "__globals__": "reads a function's module globals (the grader's, for its wrappers)",
    "__closure__": "reads a function's closure cells",
    "cell_contents": "reads a closure cell",
    "__code__": "reads or replaces a function's code",
    "__subclasses__": "walks the class hierarchy to find other code's objects",
    "_trace_hook": "reads or changes threading's trace hook",
    "_profile_hook": "reads or changes threading's profile hook",
    "__wrapped_handler__": "unwraps the grader's signal wrapper",
}
CALLS = {
    ("sys", "settrace"): "installs or removes a trace function",
    ("sys", "setprofile"): "installs or removes a profile function",
    ("sys", "gettrace"): "looks for a tracer (the grader's checks)",
    ("sys", "getprofile"): "looks for a profiler",
    ("threading", "settrace"): "installs or removes a trace function for new threads",
    ("threading", "setprofile"): "installs or removes a profile function for new threads",
    ("threading", "gettrace"): "looks for a tracer (the grader's checks)",
    ("threading", "getprofile"): "looks for a profiler",
    ("sys", "_getframe"): "takes a frame",
    ("sys", "_current_frames"): "takes every thread's frame",
    ("sys", "addaudithook"): "installs an audit hook",
    ("gc", "get_objects"): "walks every object in the interpreter",
    ("gc", "get_referrers"): "finds who refers to an object",
    ("gc", "get_referents"): "follows an object's references",
    ("inspect", "currentframe"): "takes a frame",
    ("inspect", "stack"): "takes the frames of the call stack",
    ("inspect", "trace"): "takes the frames of a traceback",
    ("inspect", "getouterframes"): "takes the frames of the call stack",
    ("traceback", "walk_stack"): "takes the frames of the call stack",
    ("traceback", "walk_tb"): "takes the frames of a traceback",
    ("logging", "currentframe"): "takes a frame",
    ("marshal", "loads"): "makes code objects from bytes",
    ("os", "system"): "starts another program",
    ("os", "posix_spawn"): "starts another program",
    ("os", "popen"): "starts another program",
}
MODULES = {
    "grader": "imports the grader's own modules",
    "pgrader": "imports the grader's own modules",
    "ctypes": "calls C code (memory, the interpreter's internals)",
    "_ctypes": "calls C code (memory, the interpreter's internals)",
    "cffi": "calls C code",
    "marshal": "makes code objects from bytes",
    "builtins": "changes the built-in functions",
    "_signal": "installs signal handlers past the grader's wrapper",
    "subprocess": "starts other programs",
    "pty": "starts other programs",
}
NAMES: dict[str, str] = {}  # `__import__`, `importlib`, `sys.modules`: common in honest code
STRINGS = {
    "/proc/": "reads the kernel's view of processes (/proc)",
    "pgrader": "names the grader",
    "PGRADER": "names the grader's variables",
    "grader.agent": "names the grader's modules",
    "grader.checks": "names the grader's modules",
    "grader.judge": "names the grader's modules",
    "request.json": "looks for the grader's request",
    "_getframe": "names a frame function (getattr by name)",
    "settrace": "names a trace function (getattr by name)",
    "gettrace": "names the function that tells whether a tracer runs (getattr by name)",
    "getprofile": "names the function that tells whether a profiler runs (getattr by name)",
    "__globals__": "names a function's globals (getattr by name)",
    "__closure__": "names a function's closure (getattr by name)",
}
_EXEC_PREFIX = "exec"  # os.execv, os.execl...


def _line(lines: list[str], node) -> str:
    n = getattr(node, "lineno", 0)
    return lines[n - 1].strip()[:200] if 0 < n <= len(lines) else ""


def scan_source(text: str, file: str) -> list[dict]:
    """What one Python file does that tampering needs, as findings {file, line, code, reason}."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    lines = text.splitlines()
    found: list[dict] = []

    def note(node, reason: str) -> None:
        key = (getattr(node, "lineno", 0), reason)
        if len(found) < MAX_FINDINGS and all((f["line"], f["reason"]) != key for f in found):
            found.append(
                {"file": file, "line": key[0], "code": _line(lines, node), "reason": reason}
            )

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in ATTRIBUTES:
                note(node, ATTRIBUTES[node.attr])
            base = node.value.id if isinstance(node.value, ast.Name) else None
            if base and (base, node.attr) in CALLS:
                note(node, CALLS[(base, node.attr)])
            if base == "os" and node.attr.startswith(_EXEC_PREFIX) and node.attr != "execution":
                note(node, "replaces the process with another program")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in MODULES:
                    note(node, MODULES[top])
        elif isinstance(node, ast.ImportFrom):
            top = (node.module or "").split(".")[0]
            if top in MODULES:
                note(node, MODULES[top])
            for alias in node.names:
                if (top, alias.name) in CALLS:
                    note(node, CALLS[(top, alias.name)])
        elif isinstance(node, ast.Name) and node.id in NAMES:
            note(node, NAMES[node.id])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for needle, reason in STRINGS.items():
                if needle in node.value:
                    note(node, f"a string that {reason}")
    return sorted(found, key=lambda f: (f["file"], f["line"]))


def scan(submission: Path) -> list[dict]:
    """The static scan of every Python file of a prepared submission."""
    found: list[dict] = []
    for path in sorted(Path(submission).rglob("*.py"))[:200]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found += scan_source(text, path.relative_to(submission).as_posix())
    return found[:MAX_FINDINGS]


def report(static: list[dict], runtime: list[dict]) -> dict:
    """The suspicion block of a result: {} when there is nothing to look at."""
    if not static and not runtime:
        return {}
    return {"flagged": True, "static": static[:MAX_FINDINGS], "runtime": runtime[:MAX_FINDINGS]}


def flagged(results) -> list[dict]:
    """The students whose current result is flagged, with their evidence, by name."""
    out = []
    for r in results:
        block = getattr(r, "suspicion", None) or {}
        if block.get("flagged"):
            out.append(
                {
                    "student": r.student,
                    "static": block.get("static") or [],
                    "runtime": block.get("runtime") or [],
                }
            )
    return sorted(out, key=lambda f: f["student"])
