"""Whose code is this? The student's, the grader's (its modules and the hidden tests' probes), or
an installed library's.

The checks ask it which frames to trace, whose writes to watch and where a lock was taken; the
agent's audit hook asks it who is calling. The answer does not depend on where the code's file
lies but on what it is: anything that is not the grader's and not a library's counts as the
student's, whatever file name it claims ("<string>", "/tmp/x.py", a relative name...), so code
the student compiles at run time is watched like the rest of it. Claiming a library's or the
grader's file name would escape that, which is why the audit hook refuses student code any
`compile()` or code object under such a name; the probes' code objects are trusted by identity
(`trust`), since their pseudo file name could be claimed too.
"""

from __future__ import annotations

import os
import sysconfig

LIBRARY, STUDENT, PROBE, GRADER = 0, 1, 2, 3

GRADER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_paths = sysconfig.get_paths()
LIBRARY_PREFIXES = tuple(
    sorted(
        {
            norm(p) + os.sep
            for p in (_paths["stdlib"], _paths["platstdlib"], _paths["purelib"], _paths["platlib"])
            for norm in (os.path.abspath, os.path.realpath)
        }
        | {"<frozen "}
    )
)
GRADER_PREFIXES = tuple({GRADER_DIR, os.path.realpath(GRADER_DIR) + os.sep})
PROBE_FILE = "<grader probe>"

_kinds: dict = {}  # code object -> kind (code objects live as long as the process here)


def kind_of_file(filename: str) -> int:
    """What a file name alone says (GRADER, LIBRARY or STUDENT): for names, never for trust."""
    if filename.startswith(GRADER_PREFIXES):
        return GRADER
    if filename.startswith(LIBRARY_PREFIXES):
        return LIBRARY
    return STUDENT


def kind(code) -> int:
    """LIBRARY, STUDENT, PROBE or GRADER for a code object."""
    k = _kinds.get(code)
    if k is None:
        k = _kinds[code] = kind_of_file(code.co_filename)
    return k


def is_student(code) -> bool:
    return kind(code) == STUDENT


def trust(code, as_kind: int = PROBE) -> None:
    """Mark `code` and every code object nested in it (functions, lambdas, comprehensions) as the
    grader's own: the probes a hidden test sends are compiled from source in the agent."""
    todo = [code]
    while todo:
        c = todo.pop()
        _kinds[c] = as_kind
        todo.extend(x for x in c.co_consts if hasattr(x, "co_code"))


def claims_trusted_name(filename) -> bool:
    """Would code under this file name pass for the grader's or a library's (or a probe's)?"""
    if not isinstance(filename, str):
        filename = os.fsdecode(filename) if isinstance(filename, bytes) else ""
    return filename == PROBE_FILE or kind_of_file(filename) != STUDENT
