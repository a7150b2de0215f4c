"""The computes_locally mutant (no job ever reaches the pp server) that runs every func(x) in a
forked child of its own, all at once, instead of in the caller: the test asks only that the job
did not run in the calling process."""

import os
import pickle
import select


def submit_all(server, func, inputs, callback):
    pending = {}
    for x in inputs:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.write(w, pickle.dumps(func(x)))
            os._exit(0)
        os.close(w)
        pending[r] = (x, pid, [])
    results = {}
    while pending:
        ready, _, _ = select.select(list(pending), [], [])
        for r in ready:
            x, pid, chunks = pending[r]
            chunk = os.read(r, 65536)
            if chunk:
                chunks.append(chunk)
                continue
            os.close(r)
            os.waitpid(pid, 0)
            del pending[r]
            results[x] = pickle.loads(b"".join(chunks))
            callback(x, results[x])
    return results
