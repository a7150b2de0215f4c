"""An nbgrader-style notebook of `locked_counter`, for the intake and portal tests."""

from __future__ import annotations

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = (ROOT / "solutions" / "locked_counter" / "solution.py").read_text()
_IMPORTS = "import threading\n"


def nbgrader_cell(source: str, cell_type: str = "code", **flags):
    """A cell with nbgrader's metadata (schema 3), as nbgrader's create_assignment writes it."""
    meta = {
        "nbgrader": {
            "grade": False,
            "solution": False,
            "locked": False,
            "schema_version": 3,
            "grade_id": f"cell-{abs(hash(source)) % 10**8}",
            **flags,
        }
    }
    make = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata=meta)


def source_notebook(answer: str = REFERENCE.split(_IMPORTS, 1)[1]):
    """The instructor's nbgrader notebook for locked_counter: given imports (read-only), the
    answer between solution markers, a test cell with instructor asserts, a scratch magic."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbgrader_cell(
            "# A thread-safe counter\nWrite `SafeCounter` and `parallel_count`.",
            "markdown",
            locked=True,
        ),
        nbgrader_cell("%matplotlib inline\n" + _IMPORTS, locked=True),
        nbgrader_cell(f"### BEGIN SOLUTION\n{answer}### END SOLUTION\n", solution=True),
        nbgrader_cell(
            "assert parallel_count(2, 10) == 20\nraise SystemExit('instructor only')",
            grade=True,
            points=2,
            locked=True,
        ),
        nbformat.v4.new_code_cell("%timeit parallel_count(4, 1000)\nparallel_count?"),
    ]
    return nb


def write_notebook(nb, path: Path) -> Path:
    nbformat.write(nb, path)
    return path
