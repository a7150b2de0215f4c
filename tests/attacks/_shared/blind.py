"""What the in-process attacks do once they hold the grader's objects: blind every check.

`blind(obj)` replaces, on one check object (anything with a `name` and a `stop()`), the report
it will give with an all-clear one; `blind_all(objects)` does it to every check among them and
says how many it found."""

CLEAN = {"intact": True, "races": [], "lost": [], "cycles": [], "self_deadlocks": [],
         "switches": 5000, "events": 10**6, "writes": 10**6, "writer_threads": 8}


def blind(obj) -> bool:
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not callable(getattr(obj, "stop", None)):
        return False
    real = obj.stop

    def stop():
        try:
            report = dict(real())
        except Exception:  # noqa: BLE001
            report = {}
        report.update({k: v for k, v in CLEAN.items() if k in report or k == "intact"})
        return report

    try:
        obj.stop = stop
        for attr in ("races", "lost"):
            if isinstance(getattr(obj, attr, None), list):
                getattr(obj, attr).clear()
        if hasattr(obj, "probability"):
            obj.probability = 0.0
    except Exception:  # noqa: BLE001 - slots, read-only
        return False
    return True


def blind_all(objects) -> int:
    n = 0
    for obj in objects:
        try:
            if blind(obj):
                n += 1
        except Exception:  # noqa: BLE001
            pass
    return n


def checks_in_frames(frame) -> list:
    """Every check object in the locals of `frame` and the frames above it."""
    found, seen = [], 0
    while frame is not None and seen < 200:
        for value in list(frame.f_locals.values()):
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                if callable(getattr(item, "stop", None)) and isinstance(getattr(item, "name", None), str):
                    found.append(item)
        frame, seen = frame.f_back, seen + 1
    return found
