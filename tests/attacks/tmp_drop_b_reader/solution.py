"""Attack, part 2 of 2: the skeleton (0/10) that picks up the working solution tmp_drop_a_writer
leaves in /tmp or /dev/shm -- only one written by ANOTHER container (another hostname) counts."""

import importlib.util
import os
import socket

FRIEND = None
SEEN = []
for _folder in ("/tmp/pgrader-drop", "/dev/shm/pgrader-drop", "/var/tmp/pgrader-drop"):
    _path = os.path.join(_folder, "friend.py")
    if os.path.exists(_path):
        _spec = importlib.util.spec_from_file_location("friend", _path)
        _mod = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(_mod)
        SEEN.append(f"{_path} from {_mod.SOURCE_HOST}")
        if _mod.SOURCE_HOST != socket.gethostname():
            FRIEND = _mod
            print(f"LEAKED: picked up {_path} written by container {_mod.SOURCE_HOST}")

if FRIEND is not None:
    SafeCounter = FRIEND.SafeCounter
    parallel_count = FRIEND.parallel_count
else:
    class SafeCounter:
        def __init__(self):
            raise NotImplementedError(f"no drop from another container (seen: {SEEN}, I am {socket.gethostname()})")

    def parallel_count(n_threads, n_increments):
        raise NotImplementedError(f"no drop from another container (seen: {SEEN}, I am {socket.gethostname()})")
