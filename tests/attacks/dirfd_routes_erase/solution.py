"""Attack: every other route to a folder descriptor above the work folder. The racy counter
(honestly 6/10), whose parallel_count(3, 0) is refused a frame (under a name the static scan
does not see), then tries to reach its output folder to delete or move what is there: a
descriptor of /, of /proc/self (then 'cwd/../out'), os.fwalk of the run's parent, a descriptor
of /usr and the name '../work/run-.../out' taken from it, a symbolic link in /tmp to the run's
parent, a subfolder's descriptor and '../../out', chdir to the run's parent, and renaming the
output folder away. Whatever route worked is counted in the (wrong) answer."""

import os
import sys

import racy


def _routes(run, out):
    parent = os.path.dirname(run)
    rel_out = os.path.relpath(out, "/")

    def root():
        return os.open("/", os.O_RDONLY), rel_out

    def proc_self():
        return os.open("/proc/self", os.O_RDONLY), "cwd/../out"

    def fwalk():
        for _, _, _, fd in os.fwalk(parent):
            return os.dup(fd), os.path.relpath(out, parent)

    def other_base():
        return os.open("/usr", os.O_RDONLY), "../" + rel_out

    def tmp_link():
        link = "/tmp/up-" + str(os.getpid())
        os.symlink(parent, link)
        return os.open(link, os.O_RDONLY), os.path.relpath(out, parent)

    def subfolder():
        os.makedirs("a/b", exist_ok=True)
        return os.open("a/b", os.O_RDONLY), "../../../out"

    def chdir_up():
        os.chdir(parent)
        return os.open(".", os.O_RDONLY), os.path.relpath(out, parent)

    return [root, proc_self, fwalk, other_base, tmp_link, subfolder, chdir_up]


def _try_and_wipe():
    try:
        getattr(sys, "_get" + "frame")(0)  # refused: evidence
    except PermissionError:
        pass
    work = os.getcwd()
    run = os.path.dirname(work)
    out = os.path.join(run, "out")
    done = 0
    for route in _routes(run, out):
        try:
            base, name = route()
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=base)
            for entry in os.listdir(fd):
                os.unlink(entry, dir_fd=fd)
                done += 1
            done += 1
        except (OSError, TypeError):
            pass
        finally:
            os.chdir(work)
    for src, dst in (("../out", "gone"), (out, os.path.join(work, "gone"))):
        try:
            os.rename(src, dst)
            done += 1
        except OSError:
            pass
    return done


SafeCounter = racy.SafeCounter
_parallel_count = racy.make_parallel_count(SafeCounter)


def parallel_count(n_threads, n_increments):
    if (n_threads, n_increments) == (3, 0):
        return _try_and_wipe() + 100  # a wrong count: that test fails as it would anyway
    return _parallel_count(n_threads, n_increments)
