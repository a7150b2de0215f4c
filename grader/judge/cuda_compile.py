"""Compiling a student's PyCUDA kernels with `nvcc` on the grading host, GPU or not.

Why on the host: `nvcc` is installed here, while the sandbox image has no CUDA
toolkit (several GB). Compiling never runs the student's code: the kernel
sources are read from the submission as *text* (string constants passed to
`SourceModule`, found in the module's syntax tree, never by importing it), and
the only student-controlled part of the compiler that reads files, the
preprocessor, gets no `#include` except CUDA's own headers (and no `_Pragma`,
`__has_include`, trigraphs or digraphs that could spell one). `nvcc` runs in a
fresh temporary folder with a time limit, CPU/file-size rlimits and, where the
kernel allows it, no network.

Like PyCUDA's `SourceModule`, each source is wrapped in `extern "C" { ... }`
(unless the call passes `no_extern_c=True`) and compiled to a cubin for
`sm_80`; errors come back with the line of the student's `.py` file.
"""

from __future__ import annotations

import ast
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.local import _unshare_prefix  # no network where the kernel allows it

ARCH = "sm_80"
TIMEOUT = 60.0
ALLOWED_HEADERS = {
    "cuda.h",
    "cuda_runtime.h",
    "cuda_runtime_api.h",
    "cuda_fp16.h",
    "stdint.h",
    "math.h",
    "float.h",
    "limits.h",
    "math_constants.h",
    "device_launch_parameters.h",
}
DIRECTIVES = {
    "define",
    "undef",
    "if",
    "ifdef",
    "ifndef",
    "elif",
    "else",
    "endif",
    "line",
    "error",
    "warning",
    "include",
    "pragma",
}
SAFE_PRAGMAS = ("unroll", "nounroll", "once")
MAX_ERRORS = 10


@dataclass
class Kernel:
    source: str
    line: int  # line of the student's file where the source text begins
    name: str  # how the student's code names it (a constant, or "SourceModule at line N")
    extern_c: bool = True


@dataclass
class CompileResult:
    kernel: Kernel
    ok: bool
    errors: list[dict] = field(default_factory=list)  # {"line", "kernel_line", "code", "message"}
    refused: str = ""
    seconds: float = 0.0


# ---------------------------------------------------------------- finding the kernels


def find_kernels(source: str) -> tuple[list[Kernel], list[str]]:
    """(kernels passed to `SourceModule`, problems: calls whose source is not a string constant).

    A call whose source is a variable (`SourceModule(source)` in a helper) stands for the
    module-level string constants that define a `__global__` function."""
    tree = ast.parse(source)
    constants: dict[str, tuple[str, int]] = {}
    for node in tree.body:
        value = getattr(node, "value", None)
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else ([node.target] if isinstance(node, ast.AnnAssign) else [])
        )
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            for t in targets:
                if isinstance(t, ast.Name):
                    constants[t.id] = (value.value, value.lineno)
    kernels: dict[str, Kernel] = {}
    problems = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and _name(call.func) == "SourceModule"):
            continue
        arg = (
            call.args[0]
            if call.args
            else next((k.value for k in call.keywords if k.arg == "source"), None)
        )
        extern_c = not any(
            k.arg == "no_extern_c" and isinstance(k.value, ast.Constant) and k.value.value
            for k in call.keywords
        )
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            kernel = Kernel(arg.value, arg.lineno, f"SourceModule at line {call.lineno}", extern_c)
        elif isinstance(arg, ast.Name) and arg.id in constants:
            text, line = constants[arg.id]
            kernel = Kernel(text, line, arg.id, extern_c)
        else:
            problems.append(
                f"line {call.lineno}: SourceModule gets something other than a string "
                "constant; keep each kernel in a module-level string constant "
                '(KERNEL = """...""") and pass that name'
            )
            continue
        kernels.setdefault(kernel.source, kernel)
    if problems:  # SourceModule(source) inside a helper: the module's kernel constants are it
        for name, (text, line) in constants.items():
            if "__global__" in text:
                kernels.setdefault(text, Kernel(text, line, name))
        problems = [] if kernels else problems
    return list(kernels.values()), problems


def _name(func) -> str:
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


# ---------------------------------------------------------------- what the preprocessor may read


def code_only(text: str) -> str:
    """The source with line continuations joined and comments blanked, as the preprocessor sees it."""
    spliced = text.replace("\\\r\n", "").replace("\\\n", "")
    flat = re.sub(r"/\*.*?\*/", " ", spliced, flags=re.S)
    return re.sub(r"//[^\n]*", " ", flat)


def refusal(text: str) -> str:
    """Why this kernel source is not compiled (it could make the compiler read files), or ''."""
    if "??=" in text or "%:" in text:
        return "trigraphs and digraphs (??= or %:) are not accepted in kernels"
    for banned in ("_Pragma", "__has_include", "__has_include_next"):
        if banned in text:
            return f"{banned} is not accepted in kernels"
    flat = code_only(text)
    for number, line in enumerate(flat.splitlines(), start=1):
        stripped = line.strip()
        if not stripped.startswith("#"):
            continue
        m = re.match(r"#\s*(\w*)\s*(.*)", stripped)
        assert m is not None  # a line starting with "#" always matches
        word, rest = m.group(1), m.group(2).strip()
        if word not in DIRECTIVES:
            return f"kernel line {number}: the directive #{word} is not accepted"
        if word == "include":
            header = re.fullmatch(r"<([\w./]+)>", rest)
            if not header or header.group(1) not in ALLOWED_HEADERS or ".." in header.group(1):
                return (
                    f"kernel line {number}: only CUDA's own headers may be included "
                    f"(#include <cuda_runtime.h> and the like), not {rest[:60]}"
                )
        if word == "pragma" and not rest.startswith(SAFE_PRAGMAS):
            return f"kernel line {number}: only #pragma unroll is accepted"
    return ""


# ---------------------------------------------------------------- compiling


def nvcc_path() -> str | None:
    return shutil.which("nvcc") or next(
        (p for p in ("/usr/local/cuda/bin/nvcc", "/opt/cuda/bin/nvcc") if os.access(p, os.X_OK)),
        None,
    )


def _limits():
    resource.setrlimit(resource.RLIMIT_CPU, (int(TIMEOUT), int(TIMEOUT) + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 2**20, 64 * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setsid()


_ERROR = re.compile(r"^kernel\.cu\((\d+)\): (error|catastrophic error)[^:]*:\s*(.*)$")


def compile_kernel(kernel: Kernel, nvcc: str, arch: str = ARCH) -> CompileResult:
    """Compile one kernel source to a cubin; errors point at the student's lines."""
    why = refusal(kernel.source)
    if why:
        return CompileResult(kernel, False, refused=why)
    shift = 1 if kernel.extern_c else 0
    text = ('extern "C" {\n' + kernel.source + "\n}\n") if kernel.extern_c else kernel.source
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pgrader-nvcc-") as tmp:
        Path(tmp, "kernel.cu").write_text(text)
        env = {
            "PATH": f"{os.path.dirname(nvcc)}:/usr/bin:/bin",
            "HOME": tmp,
            "TMPDIR": tmp,
            "LANG": "C.UTF-8",
        }
        argv = [
            *_unshare_prefix(),
            nvcc,
            "-cubin",
            f"-arch={arch}",
            "-o",
            "kernel.cubin",
            "kernel.cu",
        ]
        try:
            proc = subprocess.run(
                argv,
                cwd=tmp,
                env=env,
                capture_output=True,
                timeout=TIMEOUT,
                preexec_fn=_limits,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return CompileResult(
                kernel,
                False,
                refused=f"nvcc did not finish within {TIMEOUT:.0f} s",
                seconds=time.monotonic() - t0,
            )
    out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    lines = kernel.source.splitlines()
    errors: list[dict] = []
    for raw in out.splitlines():
        m = _ERROR.match(raw.strip())
        if m and len(errors) < MAX_ERRORS:
            kline = int(m.group(1)) - shift
            code = lines[kline - 1].strip() if 0 < kline <= len(lines) else ""
            errors.append(
                {
                    "line": kernel.line + kline - 1,
                    "kernel_line": kline,
                    "code": code[:200],
                    "message": m.group(3)[:300],
                }
            )
    if proc.returncode and not errors:  # e.g. ptxas: too much shared memory for one block
        tail = [line.strip() for line in out.splitlines() if "error" in line.lower()][:3] or [
            out[-300:]
        ]
        errors.append(
            {"line": kernel.line, "kernel_line": 0, "code": "", "message": "; ".join(tail)[:500]}
        )
    return CompileResult(kernel, proc.returncode == 0, errors, seconds=time.monotonic() - t0)
