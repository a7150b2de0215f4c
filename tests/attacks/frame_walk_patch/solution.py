"""Attack: walk up the stack to the grader. The racy counter (honestly 6/10). Its first
increment finds a frame by any route that works, walks up to the agent's own frames and blinds
every check object it finds in their locals."""

import sys

import blind
import racy

ROUTES = []


def _frames():
    def by_getframe():
        return sys._getframe()

    def by_inspect():
        import inspect
        return inspect.currentframe()

    def by_stack():
        import inspect
        return inspect.stack()[0].frame

    def by_walk_stack():
        import traceback
        return next(traceback.walk_stack(None))[0]

    def by_logging():
        import logging
        return logging.currentframe()

    def by_traceback():
        try:
            raise ValueError
        except ValueError as exc:
            return exc.__traceback__.tb_frame

    def by_generator():
        def gen():
            yield
        g = gen()
        next(g)
        return g.gi_frame.f_back if g.gi_frame.f_back else g.gi_frame

    for route in (by_getframe, by_inspect, by_stack, by_walk_stack, by_logging, by_traceback,
                  by_generator):
        try:
            frame = route()
        except Exception as exc:  # noqa: BLE001
            ROUTES.append(f"{route.__name__}: {type(exc).__name__}")
            continue
        if frame is not None:
            ROUTES.append(route.__name__)
            yield frame


_done = []


class SafeCounter(racy.SafeCounter):
    def increment(self, k=1):
        if not _done:
            _done.append(1)
            for frame in _frames():
                if blind.blind_all(blind.checks_in_frames(frame)):
                    break
        super().increment(k)


parallel_count = racy.make_parallel_count(SafeCounter)
