"""Attack: a digit that is not one. The racy counter (honestly 6/10), which at import writes
'\u00b2 <digest>' (superscript two: isdigit() is true, int() raises) and an Arabic-Indic
digit line into every pipe or socket among its descriptors."""

import os
import stat

import racy

for fd in range(3, 256):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode) or stat.S_ISSOCK(os.fstat(fd).st_mode):
            os.write(fd, ("\u00b2 " + "ab" * 32 + "\n\u0663 " + "cd" * 32 + "\n").encode())
    except OSError:
        pass

SafeCounter = racy.SafeCounter
parallel_count = racy.make_parallel_count(SafeCounter)
