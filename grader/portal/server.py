"""`grader serve`: the portal on waitress, with the grading workers in the same process.

Bodies up to 64 MB reach the app, which refuses those over `[portal] max_upload_kb` with
a clear message; waitress cuts off anything larger. Prints `portal listening on http://HOST:PORT` once the socket accepts connections. SIGTERM
and Ctrl-C stop it; jobs still queued or running are picked up by the next start.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from grader.course import Course
from grader.portal.app import Portal, create_app
from grader.portal.jobs import Grader
from grader.portal.settings import portal_settings
from grader.store import Store


def serve(course: Course, store: Store, *, host: str, port: int, backend: str,
          sandbox_info: dict, workers: int, uploads: Path | None = None,
          trusted_proxy: str | None = None, remote=None) -> int:
    from waitress.server import create_server

    settings = portal_settings(course)
    grader = Grader(course, store, backend, sandbox_info, workers, remote)
    portal = Portal(course, store, settings, grader,
                    (uploads or course.root / "portal-uploads").resolve())
    app = create_app(portal)
    server = create_server(app, host=host, port=port, threads=8,
                           max_request_body_size=max(64 * 2**20, settings.max_upload_kb * 4096),
                           ident="pgrader",
                           **({"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
                               "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"},
                               "clear_untrusted_proxy_headers": True} if trusted_proxy else {}))
    resumed = grader.start()

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    bound_host, bound_port = server.effective_host, server.effective_port
    if resumed:
        print(f"resumed {resumed} queued job(s)", file=sys.stderr, flush=True)
    print(f"portal listening on http://{bound_host}:{bound_port}", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        print("portal stopped; queued jobs resume at the next start", file=sys.stderr)
    finally:
        grader.stop()
        server.close()
    return 0
