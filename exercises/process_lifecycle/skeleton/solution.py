"""Starting, naming, joining and terminating processes. See README.md for the exercise."""

import multiprocessing


def run_named(func, names):
    """Run func() in one process per name (the process's name), all at the same time;
    returns {name: exit code}."""
    raise NotImplementedError


def run_with_deadline(func, args, seconds):
    """Run func(*args) in a child process; terminate it if it is still running after
    `seconds`. Returns its exit code (negative: killed by that signal)."""
    raise NotImplementedError
