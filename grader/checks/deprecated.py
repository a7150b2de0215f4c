"""Old APIs in a submission: a static scan (the code is parsed, never run) and hints for errors.

Students copy parallel-programming code from tutorials written for Python 3.4-3.9 or
NumPy < 1.24. That code fails here with messages such as "module 'asyncio' has no
attribute 'coroutine'", or works with a DeprecationWarning nobody reads. Two tools:

- `scan(folder)` parses every `.py` file of a prepared submission and returns one
  finding per old form: `{"file", "line", "col", "old", "new", "why", "code",
  "severity"}`; severity "error" means it fails on the grader's Python/NumPy,
  "warning" that it still works but is deprecated.
- `explain_exception(record)` turns an exception record of a reply (type, message,
  frames: see `grader.agent.frames`) caused by an old API into a hint naming the
  modern form, or returns None.

This runs on the judge's side, on the submission folder; nothing is imported from it.
"""

from __future__ import annotations

import ast
import os
import re

MAX_FILE_BYTES = 1_000_000
MAX_FILES = 200

# ---------------------------------------------------------------- what is old, and its modern form

# Dotted names (after resolving imports) that are old wherever they are used.
# name -> (old form shown, new form, why, severity)
NAMES: dict[str, tuple[str, str, str, str]] = {
    "asyncio.coroutine": (
        "@asyncio.coroutine",
        "async def (and await instead of yield from)",
        "asyncio.coroutine was removed in Python 3.11",
        "error",
    ),
    "asyncio.async": (
        "asyncio.async(...)",
        "asyncio.create_task(...) (or asyncio.ensure_future)",
        "asyncio.async was removed in Python 3.7 (async is a keyword)",
        "error",
    ),
    "asyncio.Task.all_tasks": (
        "asyncio.Task.all_tasks()",
        "asyncio.all_tasks()",
        "Task.all_tasks was removed in Python 3.9",
        "error",
    ),
    "asyncio.Task.current_task": (
        "asyncio.Task.current_task()",
        "asyncio.current_task()",
        "Task.current_task was removed in Python 3.9",
        "error",
    ),
    "time.clock": (
        "time.clock()",
        "time.perf_counter() for elapsed time, time.process_time() for CPU time",
        "time.clock was removed in Python 3.8",
        "error",
    ),
    "threading.currentThread": (
        "threading.currentThread()",
        "threading.current_thread()",
        "deprecated since Python 3.10",
        "warning",
    ),
    "threading.activeCount": (
        "threading.activeCount()",
        "threading.active_count()",
        "deprecated since Python 3.10",
        "warning",
    ),
    "numpy.int": ("np.int", "int (or np.int64)", "removed in NumPy 1.24", "error"),
    "numpy.float": ("np.float", "float (or np.float64)", "removed in NumPy 1.24", "error"),
    "numpy.complex": ("np.complex", "complex (or np.complex128)", "removed in NumPy 1.24", "error"),
    "numpy.object": ("np.object", "object", "removed in NumPy 1.24", "error"),
    "numpy.str": ("np.str", "str", "removed in NumPy 1.24", "error"),
    "numpy.unicode": ("np.unicode", "str", "removed in NumPy 1.24", "error"),
    "numpy.bool": (
        "np.bool",
        "bool (or np.bool_)",
        "removed in NumPy 1.24 (NumPy 2 brought it back as its own boolean type, so it "
        "fails only on NumPy 1.24-1.26)",
        "warning",
    ),
    "numpy.float_": ("np.float_", "np.float64", "removed in NumPy 2.0", "error"),
    "numpy.complex_": ("np.complex_", "np.complex128", "removed in NumPy 2.0", "error"),
    "numpy.unicode_": ("np.unicode_", "np.str_", "removed in NumPy 2.0", "error"),
    "numpy.string_": ("np.string_", "np.bytes_", "removed in NumPy 2.0", "error"),
    "numpy.NaN": ("np.NaN", "np.nan", "removed in NumPy 2.0", "error"),
    "numpy.NAN": ("np.NAN", "np.nan", "removed in NumPy 2.0", "error"),
    "numpy.Inf": ("np.Inf", "np.inf", "removed in NumPy 2.0", "error"),
    "numpy.Infinity": ("np.Infinity", "np.inf", "removed in NumPy 2.0", "error"),
    "numpy.infty": ("np.infty", "np.inf", "removed in NumPy 2.0", "error"),
    "numpy.PINF": ("np.PINF", "np.inf", "removed in NumPy 2.0", "error"),
    "numpy.NINF": ("np.NINF", "-np.inf", "removed in NumPy 2.0", "error"),
    "numpy.product": ("np.product", "np.prod", "removed in NumPy 2.0", "error"),
    "numpy.cumproduct": ("np.cumproduct", "np.cumprod", "removed in NumPy 2.0", "error"),
    "numpy.alltrue": ("np.alltrue", "np.all", "removed in NumPy 2.0", "error"),
    "numpy.sometrue": ("np.sometrue", "np.any", "removed in NumPy 2.0", "error"),
    "numpy.round_": ("np.round_", "np.round", "removed in NumPy 2.0", "error"),
    "numpy.asfarray": (
        "np.asfarray",
        "np.asarray(x, dtype=float)",
        "removed in NumPy 2.0",
        "error",
    ),
    "numpy.mat": (
        "np.mat",
        "np.asmatrix (or better, a plain np.array)",
        "removed in NumPy 2.0",
        "error",
    ),
    "numpy.trapz": ("np.trapz", "np.trapezoid", "removed in NumPy 2.4", "error"),
    "numpy.in1d": ("np.in1d", "np.isin", "removed in NumPy 2.4", "error"),
}

# asyncio functions and classes whose `loop` parameter was removed in Python 3.10.
# (ensure_future, run_coroutine_threadsafe, wrap_future, Future and Task still take it.)
LOOP_REMOVED = frozenset(
    {
        "sleep",
        "gather",
        "wait",
        "wait_for",
        "shield",
        "as_completed",
        "open_connection",
        "start_server",
        "open_unix_connection",
        "start_unix_server",
        "create_subprocess_exec",
        "create_subprocess_shell",
        "Queue",
        "PriorityQueue",
        "LifoQueue",
        "Lock",
        "Event",
        "Condition",
        "Semaphore",
        "BoundedSemaphore",
    }
)

# Old method names of threading objects: method -> (new form, why, severity).
METHODS: dict[str, tuple[str, str, str]] = {
    "getName": (".name", "Thread.getName() is deprecated since Python 3.10", "warning"),
    "setName": (".name = ...", "Thread.setName() is deprecated since Python 3.10", "warning"),
    "isDaemon": (".daemon", "Thread.isDaemon() is deprecated since Python 3.10", "warning"),
    "setDaemon": (
        ".daemon = ... (or Thread(..., daemon=True))",
        "Thread.setDaemon() is deprecated since Python 3.10",
        "warning",
    ),
    "isAlive": (".is_alive()", "Thread.isAlive() was removed in Python 3.9", "error"),
    "notifyAll": (
        ".notify_all()",
        "Condition.notifyAll() is deprecated since Python 3.10",
        "warning",
    ),
    "isSet": (".is_set()", "Event.isSet() is deprecated since Python 3.10", "warning"),
}

_MODULES = ("asyncio", "time", "threading", "numpy", "types")


# ---------------------------------------------------------------- the scan


def scan(folder) -> list[dict]:
    """Findings for every Python file under `folder` (paths relative to it), sorted by place."""
    folder = os.fspath(folder)
    found: list[dict] = []
    files = 0
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            files += 1
            if files > MAX_FILES or os.path.islink(path):
                continue
            try:
                if os.path.getsize(path) > MAX_FILE_BYTES:
                    continue
                with open(path, encoding="utf-8", errors="replace") as f:
                    source = f.read()
            except OSError:
                continue
            found.extend(scan_source(source, os.path.relpath(path, folder)))
    found.sort(key=lambda f: (f["file"], f["line"], f["col"]))
    return found


_ASYNC_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*async\s*\(")


def scan_source(source: str, filename: str = "solution.py") -> list[dict]:
    """Findings of one source text."""
    lines = source.splitlines()
    extra: list[dict] = []
    try:
        tree = ast.parse(source, filename)
    except (RecursionError, MemoryError, ValueError):
        return []  # nested too deep for the parser (or NUL bytes): it does not compile either
    except SyntaxError:
        # `asyncio.async(...)` no longer parses (async is a keyword): find it in the text, then
        # parse the rest with it replaced, so the other old forms are still found.
        patched = source
        for i, text in enumerate(lines):
            for m in _ASYNC_CALL.finditer(text):  # `x.async(` never parses since Python 3.7
                extra.append(_finding(filename, i + 1, m.start(), NAMES["asyncio.async"], text))
        if not extra:
            return []
        patched = _ASYNC_CALL.sub(lambda m: f"{m.group(1)}.ensure_future(", source)
        try:
            tree = ast.parse(patched, filename)
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            return extra
    visitor = _Visitor(filename, lines)
    visitor.walk(tree)
    out = extra + visitor.found
    seen, unique = set(), []
    for f in sorted(out, key=lambda f: (f["line"], f["col"])):
        key = (f["line"], f["old"])
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _finding(filename, line, col, entry, text) -> dict:
    old, new, why, severity = entry
    return {
        "file": filename,
        "line": line,
        "col": col,
        "old": old,
        "new": new,
        "why": why,
        "code": text.strip()[:200],
        "severity": severity,
    }


def _constant_str(node) -> str | None:
    """The string a constant expression spells ("notify" "All", "notify" + "All"), else None."""
    parts: list[str] = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        if not (isinstance(node.right, ast.Constant) and isinstance(node.right.value, str)):
            return None
        parts.append(node.right.value)
        node = node.left
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return None
    return "".join([node.value, *reversed(parts)])


_LEAVE_FUNCTION = object()  # a marker on the visitor's stack: the enclosing function ends here


class _Visitor(ast.NodeVisitor):
    """An `ast.NodeVisitor` that never recurses: `generic_visit` pushes the children on a stack
    that `walk` drains, so an expression nested a few thousand levels deep (it still compiles)
    is scanned like any other, not a RecursionError in the judge."""

    def __init__(self, filename: str, lines: list[str]):
        self.filename, self.lines = filename, lines
        self.aliases: dict[str, str] = {}  # local name -> dotted name it stands for
        self.found: list[dict] = []
        self.functions: list[ast.AST] = []  # enclosing functions
        self.coroutine_funcs: set[int] = set()
        self.own_methods: set[str] = set()  # methods the student defines (not threading's)
        self.stack: list = []  # nodes still to visit, the next one last

    def walk(self, tree) -> None:
        self.stack.append(tree)
        while self.stack:
            node = self.stack.pop()
            if node is _LEAVE_FUNCTION:
                self.functions.pop()
            else:
                self.visit(node)

    def generic_visit(self, node) -> None:
        self.stack.extend(reversed(list(ast.iter_child_nodes(node))))  # in source order

    # ------------------------------------------------------------ helpers
    def add(self, node, entry) -> None:
        line = getattr(node, "lineno", 1)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        self.found.append(
            _finding(self.filename, line, getattr(node, "col_offset", 0), entry, text)
        )

    def resolve(self, node) -> str | None:
        """'numpy.int' for `np.int` after `import numpy as np`; None if not from a module we know."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.aliases:
            return None
        return ".".join([self.aliases[node.id], *reversed(parts)])

    # ------------------------------------------------------------ imports
    def visit_Module(self, node):
        for n in ast.walk(node):  # imports first, wherever they are (inside functions too)
            if isinstance(n, ast.ClassDef):
                for item in n.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.own_methods.add(item.name)
            elif isinstance(n, ast.Import):
                self._import(n)
            elif isinstance(n, ast.ImportFrom):
                self._import_from(n)
        self.generic_visit(node)

    def visit_Import(self, node):
        pass

    def visit_ImportFrom(self, node):
        pass

    def _import(self, node):
        for a in node.names:
            root = a.name.split(".")[0]
            if root in _MODULES:
                if a.asname:
                    self.aliases[a.asname] = a.name
                else:
                    self.aliases[root] = root

    def _import_from(self, node):
        if node.module and node.module.split(".")[0] in _MODULES and not node.level:
            base = "asyncio" if node.module.startswith("asyncio.") else node.module
            for a in node.names:
                dotted = f"{base}.{a.name}"
                self.aliases[a.asname or a.name] = dotted
                if dotted in NAMES:
                    self.add(node, NAMES[dotted])

    # ------------------------------------------------------------ names and attributes
    def visit_Attribute(self, node):
        dotted = self.resolve(node)
        if dotted in NAMES:
            self.add(node, NAMES[dotted])
            return  # asyncio.Task.all_tasks: do not also report asyncio.Task
        self.generic_visit(node)

    # ------------------------------------------------------------ functions
    def _function(self, node):
        for d in node.decorator_list:
            target = d.func if isinstance(d, ast.Call) else d
            if self.resolve(target) == "asyncio.coroutine" or (
                isinstance(target, ast.Name) and self.aliases.get(target.id) == "asyncio.coroutine"
            ):
                self.coroutine_funcs.add(id(node))
        self.functions.append(node)
        self.stack.append(_LEAVE_FUNCTION)  # below the children: popped once they are done
        self.generic_visit(node)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_YieldFrom(self, node):
        func = self.functions[-1] if self.functions else None
        value = node.value.func if isinstance(node.value, ast.Call) else node.value
        target = self.resolve(value) or ""
        if (func is not None and id(func) in self.coroutine_funcs) or target.startswith("asyncio."):
            self.add(
                node,
                (
                    "yield from ...",
                    "await ...",
                    "generator-based coroutines were removed in Python 3.11",
                    "error",
                ),
            )
        self.generic_visit(node)

    # ------------------------------------------------------------ calls
    def visit_Call(self, node):
        func = node.func
        dotted = self.resolve(func)
        if dotted is None and isinstance(func, ast.Name):
            dotted = self.aliases.get(func.id)
        if dotted and dotted.startswith("asyncio."):
            short = dotted.split(".", 1)[1]
            if short in LOOP_REMOVED and any(k.arg == "loop" for k in node.keywords):
                self.add(
                    node,
                    (
                        f"asyncio.{short}(..., loop=...)",
                        f"asyncio.{short}(...) without loop=",
                        "the loop parameter was removed in Python 3.10 (the running loop is used)",
                        "error",
                    ),
                )
            if (
                short == "wait"
                and node.args
                and isinstance(node.args[0], (ast.List, ast.Set, ast.Tuple))
                and any(
                    isinstance(e, ast.Call) and not self._is_task_call(e) for e in node.args[0].elts
                )
            ):
                self.add(
                    node,
                    (
                        "asyncio.wait([coro(), ...])",
                        "asyncio.wait([asyncio.create_task(coro()), ...]) or asyncio.gather(...)",
                        "passing coroutines to asyncio.wait was removed in Python 3.11",
                        "error",
                    ),
                )
            if short == "get_event_loop" and not any(
                isinstance(f, ast.AsyncFunctionDef) for f in self.functions
            ):
                self.add(
                    node,
                    (
                        "asyncio.get_event_loop() outside a coroutine",
                        "asyncio.run(main()) (and asyncio.get_running_loop() inside coroutines)",
                        "get_event_loop() without a running loop is deprecated since Python "
                        "3.10 (an error from 3.14)",
                        "warning",
                    ),
                )
        if (
            isinstance(func, ast.Name)
            and func.id == "getattr"
            and len(node.args) >= 2
            and self.resolve(node.args[0]) == "asyncio"
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "async"
        ):
            self.add(node, NAMES["asyncio.async"])
        if (
            isinstance(func, ast.Attribute)
            and func.attr in METHODS
            and func.attr not in self.own_methods
            and self.resolve(func) is None
        ):
            new, why, severity = METHODS[func.attr]
            self.add(node, (f".{func.attr}()", new, why, severity))
        if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2:
            self._getattr(node, _constant_str(node.args[1]))
        self.generic_visit(node)

    def _getattr(self, node: ast.Call, name: str | None) -> None:
        """`getattr(cond, "notify" "All")`: an old name looked up by a constant string is the old
        name all the same (tests/attacks/old_api_via_getattr)."""
        if not name:
            return
        base = self.resolve(node.args[0])
        if base is not None and f"{base}.{name}" in NAMES and f"{base}.{name}" != "asyncio.async":
            self.add(node, NAMES[f"{base}.{name}"])
        elif base is None and name in METHODS and name not in self.own_methods:
            new, why, severity = METHODS[name]
            self.add(node, (f".{name}()", new, why, severity))

    def _is_task_call(self, call: ast.Call) -> bool:
        name = self.resolve(call.func) or ""
        attr = call.func.attr if isinstance(call.func, ast.Attribute) else ""
        return name in ("asyncio.create_task", "asyncio.ensure_future") or attr == "create_task"


# ---------------------------------------------------------------- exceptions to hints

_MODULE_ATTR = re.compile(r"module '([\w.]+)' has no attribute '(\w+)'")
_OBJECT_ATTR = re.compile(r"'(\w+)' object has no attribute '(\w+)'")
_TYPE_ATTR = re.compile(r"type object '([\w.]+)' has no attribute '(\w+)'")
_NUMPY_REMOVED = re.compile(r"`np\.(\w+)` was removed")
_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")


def explain_exception(record: dict | None) -> str | None:
    """A hint naming the modern form when an exception comes from an old API, else None.

    `record` is an exception record of a reply: {"type", "message", "frames"}."""
    if not record:
        return None
    kind = str(record.get("type", ""))
    message = str(record.get("message", ""))
    first = message.splitlines()[0] if message else ""
    codes = " ".join(str(f.get("code", "")) for f in record.get("frames", []) or [])

    dotted = None
    m = _MODULE_ATTR.search(first)
    if m:
        dotted = f"{m.group(1)}.{m.group(2)}"
    m = _NUMPY_REMOVED.search(first)
    if dotted is None and m:
        dotted = f"numpy.{m.group(1)}"
        if dotted not in NAMES:
            return f"An old NumPy name: {first.strip()}"
    if dotted is None:
        m2 = _CANNOT_IMPORT.search(first)
        if m2:
            dotted = f"{m2.group(2)}.{m2.group(1)}"
    if dotted is None:
        m3 = _TYPE_ATTR.search(first)
        if m3 and m3.group(1).rsplit(".", 1)[-1] == "Task":
            dotted = f"asyncio.Task.{m3.group(2)}"
    if dotted is not None:
        dotted = dotted.replace("asyncio.tasks.", "asyncio.").replace(
            "asyncio.coroutines.", "asyncio."
        )
        if dotted in NAMES:
            return _hint(NAMES[dotted])
    m = _OBJECT_ATTR.search(first)
    if m and m.group(2) in METHODS:
        new, why, _ = METHODS[m.group(2)]
        return f"`.{m.group(2)}()` is an old name ({why}). Modern form: {new}."
    if kind == "TypeError" and (
        "unexpected keyword argument 'loop'" in first
        or "loop* parameter was removed" in first
        or "loop parameter" in first
    ):
        return (
            "The `loop=` argument of asyncio functions and classes was removed in Python 3.10: "
            "leave it out, they use the running event loop. Inside a coroutine, "
            "asyncio.get_running_loop() gives the loop if you need it."
        )
    if kind == "TypeError" and "Passing coroutines is forbidden" in first:
        return (
            "asyncio.wait() no longer accepts coroutines (Python 3.11): wrap each one with "
            "asyncio.create_task(...), or use asyncio.gather(...) to wait for all of them."
        )
    if kind == "RuntimeError" and "There is no current event loop" in first:
        return (
            "asyncio.get_event_loop() only works where a loop is running or was set: start "
            "your code with asyncio.run(main()), and inside coroutines use "
            "asyncio.get_running_loop()."
        )
    if kind == "SyntaxError" and (
        re.search(r"\.\s*async\s*\(", codes) or "asyncio.async" in message
    ):
        return _hint(NAMES["asyncio.async"])
    if kind == "TypeError" and "object is not iterable" in first and "yield from" in codes:
        return _hint(
            (
                "yield from",
                "await",
                "generator-based coroutines were removed in Python 3.11",
                "error",
            )
        )
    return None


def _hint(entry) -> str:
    old, new, why, _ = entry
    return f"`{old}` is an old form ({why}). Modern form: {new}."
