"""CUDA kernels under NVIDIA compute-sanitizer (memcheck, racecheck, synccheck, initcheck).

`checks={"sanitizer": {"tool": "racecheck"}}` makes the supervisor start the agent as
`compute-sanitizer --tool racecheck --log-file LOG ... python -m grader.agent.agent`.
Like Oclgrind's (see `grader.checks.oclgrind`), the log is a file outside the
student's folders, read back by the supervisor with its size-capped reader, so
text the student prints never becomes (or hides) a finding. There is nothing to
start inside the agent: the sanitizer instruments the CUDA driver itself.

ONLY EXERCISED ON GPU HOSTS: compute-sanitizer needs a GPU and its driver. The
parser follows the message formats of NVIDIA's Compute Sanitizer documentation
(CUDA 12); the platform's own tests feed it those documented messages.
"""

from __future__ import annotations

import re
import shutil

from grader.checks import findings

NAME = "sanitizer"
TOOLS = ("memcheck", "racecheck", "synccheck", "initcheck")
MAX_FINDINGS = 50
PREFIX = "========="
SEARCH_PATH = "/usr/local/cuda/bin:/opt/cuda/bin:/usr/bin:/usr/local/bin"


def command(options: dict, log_path: str) -> list[str] | None:
    """The argv prefix that runs a command under compute-sanitizer; None where it is missing."""
    exe = shutil.which("compute-sanitizer", path=SEARCH_PATH)
    tool = options.get("tool", "memcheck")
    if not exe or tool not in TOOLS:
        return None
    return [
        exe,
        "--tool",
        tool,
        "--log-file",
        log_path,
        "--print-limit",
        "100",
        "--target-processes",
        "all",
    ]


_HEADS = (
    (
        re.compile(r"Invalid __(global|shared|local)__ (read|write) of size (\d{1,12}) bytes?"),
        "out-of-bounds",
        ("memory", "access", "size"),
    ),
    (re.compile(r"(?:Error: )?Race reported between (\w+) access"), "data-race", ("access",)),
    (re.compile(r"Barrier error detected\.?\s*(.*)"), "barrier-divergence", ("detail",)),
    (
        re.compile(r"Uninitialized __(global|shared)__ memory read of size (\d{1,12}) bytes?"),
        "uninitialized",
        ("memory", "size"),
    ),
)
_SKIP = re.compile(
    r"(COMPUTE-SANITIZER|ERROR SUMMARY|LEAK SUMMARY|RACECHECK SUMMARY|Saved host "
    r"backtrace|Target application returned)"
)
_KERNEL = re.compile(
    r"\b(?:at|in)\s+(?:0x[0-9a-fA-F]+\s+in\s+)?(?:[^\s:]*:\d+:)?"
    r"([A-Za-z_]\w{0,200})(?:\(|\+0x)"
)
_THREAD = re.compile(
    r"by thread \((\d{1,12}),(\d{1,12}),(\d{1,12})\) in block \((\d{1,12}),(\d{1,12}),(\d{1,12})\)"
)
_FILE_LINE = re.compile(r"(?:in|at)\s+\S*?\.(?:cu|ptx|cubin)?:(\d{1,12})")


def _blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    for raw in text.splitlines():
        if not raw.startswith(PREFIX):
            continue
        body = raw[len(PREFIX) :]
        if not body.strip() or _SKIP.search(body):
            continue
        if body.startswith(" ") and not body.startswith("     "):
            blocks.append([body.strip()])  # one space after the prefix opens a message
        elif blocks:
            blocks[-1].append(body.strip())
    return blocks


def _parse_block(lines: list[str]) -> dict:
    head = lines[0][:300]
    finding: dict = {"kind": "other", "message": head}
    for pattern, kind, names in _HEADS:
        m = pattern.search(head)  # anywhere: text the student wrote in front cannot hide it
        if m:
            finding["kind"] = kind
            finding.update(zip(names, m.groups()))
            break
    if "size" in finding:
        finding["size"] = int(finding["size"])
    for line in lines:
        if "kernel" not in finding and (m := _KERNEL.search(line)):
            finding["kernel"] = m.group(1)
        if "line" not in finding and (m := _FILE_LINE.search(line)):
            finding["line"] = int(m.group(1))
        if "work_item" not in finding and (m := _THREAD.search(line)):
            finding["thread"] = [int(g) for g in m.groups()[:3]]
            finding["block"] = [int(g) for g in m.groups()[3:]]
            finding["work_item"] = finding["thread"]
        if line.startswith("Address ") and "address_note" not in finding:
            finding["address_note"] = line[:200]
    return finding


def parse_log(text: str) -> list[dict]:
    """Findings from a compute-sanitizer log, merged by (kind, kernel, line, access)."""
    return findings.merged(
        map(_parse_block, _blocks(text)),
        lambda f: (
            f["kind"],
            f.get("kernel"),
            f.get("line"),
            f.get("access"),
            f["message"] if f["kind"] == "other" else "",
        ),
        MAX_FINDINGS,
    )
