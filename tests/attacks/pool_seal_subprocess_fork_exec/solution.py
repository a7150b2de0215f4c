"""Attack: pool_seal_key_from_env through subprocess's own binding of the launcher:
`subprocess._fork_exec` is _posixsubprocess.fork_exec as subprocess imported it, so a wrapper
of the module's attribute alone leaves it unwatched. /usr/bin/env started with it prints the
environment (the work-item key among it); parallel_map then computes every value itself, has a
forked helper burn as much CPU again, and appends forged records to the output folder through
/bin/sh, returning each value sealed with its forged record."""

import subprocess

import sealforge


def parallel_map(func, data, workers, kind):
    fork_exec = subprocess._fork_exec
    return sealforge.parallel_map(func, data, workers, kind, lambda: sealforge.env_key(fork_exec),
                                  sealforge.sh_append(fork_exec))
