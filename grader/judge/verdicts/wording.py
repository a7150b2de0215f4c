"""Small phrases verdict messages share: where in the student's code, how a call is named (how
long a run waited: `grader.protocol.Reply.waited`)."""

from __future__ import annotations


def student_location(frames: list[dict]) -> str:
    """' (solution.py, line 12, in increment: `self.v += k`)' for the innermost student frame."""
    mine = [f for f in frames if f.get("student")]
    if not mine:
        return ""
    f = mine[-1]
    code = f": `{f['code']}`" if f.get("code") else ""
    return f" ({f['file']}, line {f['line']}, in {f['name']}{code})"


def stuck_location(stacks: list[dict]) -> str:
    lines = []
    for proc in stacks:
        for thread in proc.get("threads", []):
            mine = [f for f in thread["frames"] if f.get("student")]
            if mine:
                f = mine[-1]
                lines.append(f"{f['file']} line {f['line']} (`{f['code']}`)")
    if not lines:
        return ""
    unique = list(dict.fromkeys(lines))
    return "; threads were stuck at " + ", ".join(unique[:4])


def describe_call(name: str, args, kwargs) -> str:
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _short(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
