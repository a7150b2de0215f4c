"""Judge-side helpers for GPU kernels: kernel-checker findings, nvcc compile checks, no-GPU runs.

    reply = student.reply("cl_saxpy", 2.0, x, y, checks={"oclgrind": {}})
    expect_clean_kernels(reply, "cl_saxpy(2.0, x, y) with 1000 elements")

    expect_kernels_compile(student)      # PyCUDA kernels, with nvcc, on any machine
    require_gpu(student)                 # not-run (scores nothing) where no GPU exists

Findings come from Oclgrind (OpenCL) or compute-sanitizer (CUDA), through the
supervisor (see `grader.agent.wrappers`). A check that could not run here is
`NotRun`: it awards nothing and blames nobody.
"""

from __future__ import annotations

from grader.judge import cuda_compile
from grader.judge.cuda_barriers import barrier_gaps
from grader.judge.verdicts import Failed, NotRun, Race, SandboxFault
from grader.protocol import Reply

NO_GPU = "not run: no GPU on this grading machine"

# How messages name things in each tool's world.
WORDS = {
    "oclgrind": {
        "item": "work-item",
        "group": "work-group",
        "barrier": "barrier(CLK_LOCAL_MEM_FENCE)",
        "local": "local",
        "index": "get_global_id(0)",
    },
    "sanitizer": {
        "item": "thread",
        "group": "block",
        "barrier": "__syncthreads()",
        "local": "__shared__",
        "index": "blockIdx.x * blockDim.x + threadIdx.x",
    },
}


def kernel_report(reply: Reply, tool: str = "oclgrind") -> dict:
    """The tool's report for the last request; `NotRun` where the tool is missing, `Failed` when the
    student's code kept it from watching (e.g. OpenCL ran on another device)."""
    report = reply.checks.get(tool)
    if report is None:
        raise SandboxFault(f"the {tool} check did not report")
    if report.get("available") is False:
        raise NotRun(f"not run: {report.get('error', tool + ' is not available here')}", check=tool)
    if not report.get("intact", True):
        if report.get("platforms"):
            raise Failed(
                "Your code did not run its kernels on the grader's Oclgrind simulator "
                f"(it saw the OpenCL platforms {report['platforms']}), so they could not "
                "be checked; this check earns no points.",
                check=tool,
            )
        raise SandboxFault(f"the {tool} check could not run: {report.get('error', '?')}")
    return report


def expect_clean_kernels(reply: Reply, what: str, tool: str = "oclgrind", hint: str = "") -> None:
    """Raise a verdict for the first (worst) finding: out-of-bounds access or barrier divergence
    (`Failed`), data race (`Race`), use of never-written memory (`Failed`)."""
    findings = kernel_report(reply, tool).get("findings") or []
    order = ("out-of-bounds", "barrier-divergence", "data-race", "uninitialized", "other")
    findings = sorted(
        findings, key=lambda f: order.index(f.get("kind")) if f.get("kind") in order else 9
    )
    if not findings:
        return
    first = findings[0]
    message = describe(first, what, WORDS.get(tool, WORDS["oclgrind"]))
    others = len(findings) - 1
    if others:
        message += f" ({others} other problem{'s' if others > 1 else ''} found too.)"
    verdict = Race if first.get("kind") == "data-race" else Failed
    raise verdict(message + (f" {hint}" if hint else ""), findings=findings[:10])


def _where(f: dict) -> str:
    kernel = f"in kernel `{f['kernel']}`" if f.get("kernel") else "in a kernel"
    line = f" at line {f['line']} of the kernel source" if f.get("line") else ""
    source = f": `{f['source']}`" if f.get("source") else ""
    return kernel + line + source


def describe(f: dict, what: str, w: dict) -> str:
    """One finding in words for the student."""
    kind = f.get("kind")
    item = w["item"]
    who = f"{item} {f['work_item'][0]}" if f.get("work_item") else f"a {item}"
    times = f" ({f['count']} such accesses)" if f.get("count", 1) > 1 else ""
    if kind == "out-of-bounds":
        size = f.get("size") or 4
        offset = f.get("offset")
        at = (
            f" (byte {offset}, that is element {offset // size} of {size}-byte elements)"
            if isinstance(offset, int)
            else ""
        )
        verb = "reads" if f.get("access") == "read" else "writes"
        return (
            f"{what}: {who} {verb} past the end of a {f.get('memory', 'global')} buffer{at} "
            f"{_where(f)}{times}. More {item}s ran than the data has elements (the launch size "
            f"is rounded up to a multiple of the {w['group']} size): pass the length n to the "
            f"kernel and guard every access with `if (i < n)`, where i = {w['index']}."
        )
    if kind == "barrier-divergence":
        reached = (
            f"only {f['reached']} of the {f['group_size']} {item}s of a {w['group']} "
            if f.get("reached")
            else f"not every {item} of a {w['group']} "
        )
        return (
            f"{what}: {reached}reached the barrier {_where(f)}. Every {item} of a "
            f"{w['group']} must reach the same {w['barrier']} (on a GPU the others wait "
            "forever, or the results are undefined): move the barrier out of the `if` "
            "or the loop that only some of them enter."
        )
    if kind == "data-race":
        return (
            f"{what}: data race {_where(f)}: {item}s of one {w['group']} write and read the "
            f"same {f.get('memory', w['local'])} memory with no barrier between them{times}. "
            "The result may be right by luck on one device and wrong on another: put "
            f"{w['barrier']} between the step that writes shared memory and the step that "
            "reads what other " + item + "s wrote."
        )
    if kind == "uninitialized":
        return (
            f"{what}: {who} used a value that was never written ({f.get('memory', '?')} memory) "
            f"{_where(f)}. Write every element before it is read, or skip the {item}s that "
            "have no data."
        )
    return f"{what}: the kernel checker reported `{f.get('message', '?')}` {_where(f)}."


# ---------------------------------------------------------------- CUDA without a GPU


def require_gpu(student) -> None:
    """`NotRun` unless this sandbox session has a GPU: the test then scores nothing, never a pass."""
    if not getattr(student.session, "gpu", False):
        raise NotRun(NO_GPU)


def expect_kernels_compile(student, expect_kernels: int = 1) -> list:
    """Compile every `SourceModule` kernel of the student's module with nvcc; `Failed` on an error
    (with the student's line), `NotRun` where nvcc is missing. Returns the compile results."""
    path = student.source_file()
    try:
        kernels, problems = cuda_compile.find_kernels(path.read_text())
    except (OSError, SyntaxError, ValueError) as exc:
        raise SandboxFault(f"could not read {path.name}: {exc}") from exc
    if problems:
        raise Failed(f"{path.name} {problems[0]}.", problems=problems)
    if len(kernels) < expect_kernels:
        raise Failed(
            f"{path.name} compiles {len(kernels)} kernel source(s) with SourceModule, "
            f"expected at least {expect_kernels}: write the kernels yourself in CUDA C "
            "and compile them with pycuda.compiler.SourceModule."
        )
    nvcc = cuda_compile.nvcc_path()
    if nvcc is None:
        raise NotRun("not run: nvcc (the CUDA compiler) is not installed on this grading machine")
    results = [cuda_compile.compile_kernel(k, nvcc) for k in kernels]
    for r in results:
        if r.refused:
            raise Failed(
                f"The kernel {r.kernel.name} ({path.name}, line {r.kernel.line}) was not "
                f"compiled: {r.refused}.",
                refused=r.refused,
            )
        if not r.ok:
            e = r.errors[0]
            code = f" `{e['code']}`" if e["code"] else ""
            raise Failed(
                f"The kernel {r.kernel.name} does not compile: {path.name} line {e['line']}"
                f" (kernel line {e['kernel_line']}){code}: {e['message']}.",
                errors=r.errors,
                seconds=round(r.seconds, 2),
            )
    return results


def _kernels(student) -> tuple:
    """(the submission's file, its SourceModule kernels), read as text, never imported."""
    path = student.source_file()
    try:
        return path, cuda_compile.find_kernels(path.read_text())[0]
    except (OSError, SyntaxError, ValueError) as exc:
        raise SandboxFault(f"could not read {path.name}: {exc}") from exc


def expect_only_cuda_headers(student) -> None:
    """A static check that runs everywhere (no nvcc, no GPU): `Failed` when a kernel includes a
    header that is not CUDA's own (or uses a directive that could read a file), or when there is
    no kernel to check."""
    path, kernels = _kernels(student)
    if not kernels:
        raise Failed(
            f"{path.name} passes no kernel source to SourceModule, so there is no kernel whose "
            "headers could be checked: write the kernels in CUDA C, each in a module-level "
            "string constant passed to SourceModule."
        )
    for k in kernels:
        why = cuda_compile.refusal(k.source)
        if why:
            raise Failed(
                f"The kernel {k.name} ({path.name}, line {k.line}): {why}. The grader compiles "
                "your kernels on its own, where no other header is available: drop the "
                "#include (device code needs none for printf or the math functions).",
                kernel=k.name,
                refused=why,
            )


def expect_shared_memory_synchronised(student) -> None:
    """A static check that runs everywhere: a kernel that shares `__shared__` memory between
    threads must call `__syncthreads()`, and in the right places: after filling shared memory
    and inside the reduction loop, between its steps (see `grader.judge.cuda_barriers`). `Race`
    if a barrier is missing, `Failed` if no kernel uses shared memory at all (the exercise asks
    for a shared-memory reduction)."""
    path, kernels = _kernels(student)
    shared = [k for k in kernels if "__shared__" in cuda_compile.code_only(k.source)]
    if not shared:
        raise Failed(
            f"No kernel in {path.name} uses __shared__ memory: the exercise asks for a "
            "tree reduction in shared memory (see the statement)."
        )
    for k in shared:
        if "__syncthreads" not in cuda_compile.code_only(k.source):
            raise Race(
                f"The kernel {k.name} ({path.name}, line {k.line}) shares __shared__ memory "
                "between threads but never calls __syncthreads(): a thread can read a "
                "partial sum before the thread that computes it has written it. The answer "
                "may still come out right (threads of one warp run together), but it is a "
                "race: call __syncthreads() after filling shared memory and after every "
                "step of the tree.",
                kernel=k.name,
            )
        for gap in barrier_gaps(k.source):
            line = k.line + gap.line - 1
            if gap.kind == "loop":
                why = (
                    f"the loop at {path.name} line {line} (`{gap.code}`) reads elements of "
                    f"`{gap.array}` that other threads write in the step before, with no "
                    "__syncthreads() inside it: every step of the tree races with the last "
                    "one. Call __syncthreads() at the end of the loop body, outside the `if`."
                )
            else:
                why = (
                    f"`{gap.array}` is filled at {path.name} line {line} (`{gap.code}`) and "
                    "read by the tree loop with no __syncthreads() in between: a thread can "
                    "read an element before its owner has written it."
                )
            raise Race(
                f"The kernel {k.name} calls __syncthreads(), but not where it is needed: "
                f"{why} The answer may still come out right (threads of one warp run "
                "together), which is why the barrier's place is checked.",
                kernel=k.name,
                line=line,
                missing=gap.kind,
            )
