"""`grader serve`: the portal on waitress, with the grading workers in the same process.

`grader serve` refuses to start while the store holds no account and no LMS registered for LTI
launches (`no_accounts_message`).
Bodies up to 64 MB reach the app, which refuses those over `[portal] max_upload_kb` with
a clear message; waitress cuts off anything larger. Prints `portal listening on
http://HOST:PORT` once the socket accepts connections; every request goes to the access log.
LTI scores go back to the LMS from a passback thread (`grader.portal.lti.passback`).
SIGTERM and Ctrl-C stop it; jobs still queued or running are picked up by any other portal
process on the same store, or by the next start. Several processes may serve one course
from one PostgreSQL store (docs/portal.md).
"""

from __future__ import annotations

import errno
import signal
import sys
from pathlib import Path

from grader.course import Course
from grader.errors import GraderError
from grader.portal import accesslog
from grader.portal.app import Portal, create_app
from grader.portal.jobs import Grader
from grader.portal.live import LiveCourse
from grader.portal.lti.passback import Passback
from grader.store import Store

THREADS = 8  # requests handled at once (pages are short; grading has its own threads)
# Every browser keeps a connection or more open between requests: waitress's default of 100
# open connections made the 101st student wait until an idle one timed out (2 minutes), with
# a class of 300 at a deadline (scripts/bench_burst.py). poll(), not select(), past 1024 fds.
CONNECTIONS = 2000
IDLE_SECONDS = 60  # an idle kept-alive connection is closed after this


def no_accounts_message(store: Store, course: Course) -> str:
    return (
        f"No portal account exists in the store {store.engine.url.render_as_string()}, so "
        "nobody could sign in. Import a roster first (columns student, name, email, and "
        "optionally role, password, sis_id, section), e.g. the example one:\n"
        f"  grader --course {course.root} accounts import docs/example-roster.csv "
        "--passwords-out private/passwords.csv\n"
        "then start `grader serve` again (docs/portal.md). A course whose students sign in "
        "only from an LMS registers it instead: `grader lti register` (docs/lti.md)."
    )


def serve(
    course: Course,
    store: Store,
    *,
    host: str,
    port: int,
    backend: str,
    sandbox_info: dict,
    workers: int,
    uploads: Path | None = None,
    trusted_proxy: str | None = None,
    remote=None,
    access_log: Path | None = None,
) -> int:
    from waitress.server import create_server

    _enough_files(CONNECTIONS + 500)

    live = LiveCourse(course)
    settings = live.settings
    grader = Grader(live, store, backend, sandbox_info, workers, remote)
    uploads = (uploads or course.root / "portal-uploads").resolve()
    portal = Portal(live, store, grader, uploads, uploads / ".bundles")
    if access_log is not None:
        accesslog.open_access_log(access_log)
    app = create_app(portal)
    try:
        server = create_server(
            app,
            host=host,
            port=port,
            threads=THREADS,
            max_request_body_size=max(64 * 2**20, settings.max_upload_kb * 4096),
            connection_limit=CONNECTIONS,
            channel_timeout=IDLE_SECONDS,
            asyncore_use_poll=True,
            backlog=1024,
            ident="pgrader",
            **(
                {
                    "trusted_proxy": trusted_proxy,
                    "trusted_proxy_count": 1,
                    "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"},
                    "clear_untrusted_proxy_headers": True,
                }
                if trusted_proxy
                else {}
            ),
        )
    except OSError as exc:  # before any thread started: nothing to stop
        raise GraderError(_cannot_listen(host, port, exc)) from None
    resumed = grader.start()
    passback = Passback(live, store)
    grader.graded.append(passback.graded)
    passback.start()

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    bound_host, bound_port = server.effective_host, server.effective_port
    if resumed:
        print(
            f"{resumed} job(s) left running or not graded by an earlier server: grading them again",
            file=sys.stderr,
            flush=True,
        )
    print(f"portal listening on http://{bound_host}:{bound_port}", flush=True)
    try:
        server.run()  # returns on SIGTERM or Ctrl-C: waitress swallows the KeyboardInterrupt
    finally:
        passback.stop()
        grader.stop()
        server.close()
    print("portal stopped; queued jobs resume at the next start", file=sys.stderr)
    return 0


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    """What to do when the portal's socket cannot be bound (a second `grader serve`, most often)."""
    text = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    if exc.errno == errno.EADDRINUSE:
        text += (
            ". Another program (another `grader serve`?) holds that port: stop it, or start "
            "this one on another port with `grader serve --port N`"
        )
    return text


def _enough_files(n: int) -> None:
    """Raise this process's open-file limit towards `n` (up to the hard limit)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
