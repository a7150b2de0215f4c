"""Errors that carry a message meant for a person (instructor or student)."""


class GraderError(Exception):
    """Base class: a problem the grader reports without a Python traceback."""


WHOLE_FILE = "-"  # ConfigError's key when the file as a whole is the problem (missing, not TOML)


class ConfigError(GraderError):
    """A malformed `course.toml` or `exercise.toml`: names the file, the key and what was expected."""

    def __init__(self, path, key: str, expected: str, got=None):
        self.path, self.key, self.expected, self.got = path, key, expected, got
        where = "" if key == WHOLE_FILE else f" key '{key}':"
        detail = f"{path}:{where} expected {expected}"
        if got is not None:
            detail += f", got {got!r}"
        super().__init__(detail)


class UnknownExercise(ConfigError):
    """A slug (typed on the command line, or asked for by a page) that course.toml does not list."""

    def __init__(self, path, slug: str, known: list[str]):
        self.known = ", ".join(known) or "none"
        super().__init__(path, "exercise", f"a known exercise slug ({self.known})", slug)

    def __str__(self) -> str:
        return f"unknown exercise {self.got!r}: {self.path} lists {self.known}"


class SubmissionError(GraderError):
    """A submission that cannot be graded; the message is shown to the student."""


class SandboxUnavailable(GraderError):
    """The sandbox backend cannot run at all (e.g. the Docker engine does not answer).

    This is the platform's fault, never the student's: the submission is not graded
    rather than graded 0."""


class PlatformError(GraderError):
    """The grading platform failed on a submission (a test run that broke or did not close, a
    sandbox that could not start, a fork server that died): never the student's doing, never a
    score; the submission is reported not graded, to be retried."""
