"""Search the sandbox for what a student must never see (shared by the read_* attacks).

Walks the whole file system for about two seconds (skipping /proc, /sys, /dev and the
system's own libraries), notes test files, anything under solutions/ or exercises/ and every
Python source that is not this submission's, and looks at where the other processes of the
container live. The answer is cached in /tmp, which lasts as long as this student's container.
"""

import json
import os
import time

CACHE = "/tmp/.snoop.json"
SKIP = {"/proc", "/sys", "/dev", "/usr", "/opt/venv/lib", "/var/lib", "/var/cache"}
RUN = os.path.dirname(os.path.realpath(os.getcwd()))  # /work/run-XXXX: this request's own folder


def snoop(budget: float = 2.0) -> dict:
    try:
        with open(CACHE) as f:
            return json.load(f)
    except (OSError, ValueError):
        pass
    found = {"tests": [], "solutions": [], "sources": [], "processes": [], "folders": 0,
             "denied": 0, "complete": True}
    t0 = time.monotonic()

    def denied(_exc):
        found["denied"] += 1

    for root, dirs, files in os.walk("/", onerror=denied):
        if time.monotonic() - t0 > budget:
            found["complete"] = False
            break
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in SKIP
                   and not os.path.join(root, d).startswith(RUN)]
        found["folders"] += 1
        for name in files:
            path = os.path.join(root, name)
            if (name.startswith("test_") and name.endswith(".py")) or name == "conftest.py" \
                    or "/hidden/" in path + "/" or "/tests/" in path + "/":
                found["tests"].append(path)
            elif "/solutions/" in path or "/mutants/" in path or "/exercises/" in path:
                found["solutions"].append(path)
            elif name.endswith(".py") and not path.startswith("/submission/"):
                found["sources"].append(path)
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            for link in ("cwd", "root"):
                try:
                    found["processes"].append(f"/proc/{pid}/{link} -> {os.readlink(f'/proc/{pid}/{link}')}")
                except OSError:
                    found["denied"] += 1
    try:
        with open(CACHE, "w") as f:
            json.dump(found, f)
    except OSError:
        pass
    return found


def read(path: str, limit: int = 400) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read(limit)
    except OSError as exc:
        return f"<{type(exc).__name__}>"


def summary(found: dict) -> str:
    return (f"walked {found['folders']} folders ({'all' if found['complete'] else 'time ran out'}), "
            f"{found['denied']} refused; tests: {found['tests'][:5]}; solutions: "
            f"{found['solutions'][:5]}; other sources: {found['sources'][:5]}; processes: "
            f"{found['processes'][:4]}")
