"""Errors that carry a message meant for a person (instructor or student)."""


class GraderError(Exception):
    """Base class: a problem the grader reports without a Python traceback."""


class ConfigError(GraderError):
    """A malformed `course.toml` or `exercise.toml`: names the file, the key and what was expected."""

    def __init__(self, path, key: str, expected: str, got=None):
        self.path, self.key, self.expected, self.got = path, key, expected, got
        detail = f"{path}: key '{key}': expected {expected}"
        if got is not None:
            detail += f", got {got!r}"
        super().__init__(detail)


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
