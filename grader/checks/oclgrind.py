"""OpenCL kernels under Oclgrind: out-of-bounds accesses, data races, barrier divergence.

`checks={"oclgrind": {"data_races": True, "uninitialized": False, "optimize": False}}`
makes the supervisor start the agent as `oclgrind --log LOG ... python -m grader.agent.agent`
(Oclgrind preloads its runtime, so PyOpenCL sees only the "Oclgrind Simulator"
device and every kernel is simulated work-item by work-item). Oclgrind writes
what it finds to LOG, a file outside the student's folders that the supervisor
reads back with its safe, size-capped reader: text the student prints on
stdout or stderr never reaches the findings. Oclgrind exits 0 whatever it
found, so the log is the only evidence.

Inside the agent, `start` checks, before the student's module is imported,
that the OpenCL platform really is Oclgrind; its report says so (`intact`).
On the supervisor's side, `command` builds the wrapper and `parse_log` turns
the log into findings: {"kind": "out-of-bounds" | "data-race" |
"barrier-divergence" | "uninitialized" | "other", "kernel", "work_item",
"line", "column", "source", "access", "size", "memory", "offset", "count"}.
"""

from __future__ import annotations

import re
import shutil

from grader.checks import findings

NAME = "oclgrind"
MAX_ERRORS = 200  # Oclgrind stops reporting after this many messages
MAX_LOG_BYTES = 512 * 1024
MAX_FINDINGS = 50
OFFSET_BITS = 48  # Oclgrind addresses: buffer number in the top 16 bits, byte offset below


# ---------------------------------------------------------------- agent side


class OclgrindCheck:
    name = NAME

    def __init__(self):
        self.platforms: list[str] = []
        self.error = ""
        try:
            import pyopencl

            self.platforms = [str(p.name)[:100] for p in pyopencl.get_platforms()][:8]
        except Exception as exc:  # noqa: BLE001 - reported, the judge says it could not run
            self.error = f"{type(exc).__name__}: {exc}"[:300]

    def stop(self) -> dict:
        simulated = bool(self.platforms) and all("Oclgrind" in p for p in self.platforms)
        return {
            "intact": simulated and not self.error,
            "platforms": self.platforms,
            "error": self.error,
        }


def start(options: dict, workdir: str) -> OclgrindCheck:
    return OclgrindCheck()


# ---------------------------------------------------------------- supervisor side


def command(options: dict, log_path: str) -> list[str] | None:
    """The argv prefix that runs a command under Oclgrind; None if Oclgrind is not installed."""
    exe = shutil.which("oclgrind", path="/usr/bin:/usr/local/bin:/bin")
    if not exe:
        return None
    argv = [exe, "--log", log_path, "--max-errors", str(MAX_ERRORS)]
    if not options.get("optimize", False):
        # the kernels as written: the optimiser would drop a read past the end whose value only
        # an in-bounds branch uses (`float v = y[i]; if (i < n) out[i] = v;`), hiding it
        argv += ["--build-options", "-cl-opt-disable"]
    if options.get("data_races", True):
        argv.append("--data-races")
    if options.get("uninitialized", False):
        argv.append("--uninitialized")
    return argv


_HEADS = (
    (
        re.compile(
            r"Invalid (read|write) of size (\d{1,12}) at (\w+) memory address (0x[0-9a-fA-F]{1,16})"
        ),
        "out-of-bounds",
        ("access", "size", "memory", "address"),
    ),
    (
        re.compile(
            r"(Read-write|Write-write) data race at (\w+) memory address (0x[0-9a-fA-F]{1,16})"
        ),
        "data-race",
        ("access", "memory", "address"),
    ),
    (
        re.compile(r"Work-(group|item) divergence detected \((\w[\w ]*)\)"),
        "barrier-divergence",
        ("scope", "construct"),
    ),
    (re.compile(r"Uninitialized value (\w+)"), "uninitialized", ("access",)),
)
_KERNEL = re.compile(r"Kernel:\s+(\w{1,200})")
_ENTITY = re.compile(r"(?:First entity|Entity):\s+Global\((\d{1,12}),(\d{1,12}),(\d{1,12})\)")
_GROUP = re.compile(r"Work-group:\s+\((\d{1,12}),(\d{1,12}),(\d{1,12})\)")
_ONLY = re.compile(r"Only (\d{1,12}) out of (\d{1,12}) work-items")
_LINE = re.compile(r"At line (\d{1,12}) \(column (\d{1,12})\)")


def _blocks(text: str) -> list[list[str]]:
    """Messages: a line that starts at column 0 opens one; indented lines belong to it."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    return blocks


def _parse_block(lines: list[str]) -> dict:
    head = lines[0].strip()[:300]
    finding: dict = {"kind": "other", "message": head}
    for pattern, kind, names in _HEADS:
        m = pattern.search(head)  # anywhere: text the student wrote in front cannot hide it
        if m:
            finding["kind"] = kind
            finding.update(zip(names, m.groups()))
            break
    if "address" in finding:
        address = int(finding.pop("address"), 16)
        finding["offset"] = address & ((1 << OFFSET_BITS) - 1)
    if "size" in finding:
        finding["size"] = int(finding["size"])
    for i, raw in enumerate(lines[1:], start=1):
        line = raw.strip()
        if (m := _KERNEL.match(line)) and "kernel" not in finding:
            finding["kernel"] = m.group(1)
        elif (m := _ENTITY.match(line)) and "work_item" not in finding:
            finding["work_item"] = [int(g) for g in m.groups()]
        elif m := _GROUP.match(line):
            finding["work_group"] = [int(g) for g in m.groups()]
        elif m := _ONLY.match(line):
            finding["reached"], finding["group_size"] = int(m.group(1)), int(m.group(2))
        elif (m := _LINE.match(line)) and "line" not in finding:
            finding["line"], finding["column"] = int(m.group(1)), int(m.group(2))
            source = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if source and source != "(source not available)":
                finding["source"] = source[:200]
    return finding


def parse_log(text: str) -> list[dict]:
    """Findings from an Oclgrind log, one per (kind, kernel, line, column, access), with a count."""
    fields = ("kind", "kernel", "line", "column", "access", "memory")
    return findings.merged(
        map(_parse_block, _blocks(text)),
        lambda f: (*(f.get(k) for k in fields), f["message"] if f["kind"] == "other" else ""),
        MAX_FINDINGS,
    )
