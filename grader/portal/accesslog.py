"""The portal's access log: one line per request, in the Combined Log Format web servers use,
with the signed-in login and the time the request took:

    127.0.0.1 - alice [06/Dec/2026:12:00:01 +0000] "POST /exercises/x/submit HTTP/1.1" 303 0 "-" "Mozilla/5.0" 0.042

Written through a `WatchedFileHandler` (logrotate may move the file away), in append mode, so
several `grader serve` processes can share one file. Query strings are kept, bodies never
(passwords are only ever in bodies). Behind `--trusted-proxy`, the address is the client's.
"""

from __future__ import annotations

import logging
import logging.handlers
import time
from pathlib import Path

from flask import Flask, g, request
from flask_login import current_user

log = logging.getLogger("grader.portal.access")


def open_access_log(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"')[:500] + '"'


def install(app: Flask) -> None:
    @app.before_request
    def _start():
        g.access_t0 = time.monotonic()

    @app.after_request
    def _line(resp):
        if not log.handlers:
            return resp
        who = current_user.login if current_user.is_authenticated else "-"
        took = time.monotonic() - g.get("access_t0", time.monotonic())
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z")
        line = (
            f"{request.remote_addr or '-'} - {who} [{stamp}] "
            + _quote(
                f"{request.method} {request.full_path.rstrip('?')} "
                f"{request.environ.get('SERVER_PROTOCOL', 'HTTP/1.1')}"
            )
            + f" {resp.status_code} {resp.calculate_content_length() or 0} "
            + _quote(request.referrer or "-")
            + " "
            + _quote(request.user_agent.string or "-")
            + f" {took:.3f}"
        )
        log.info(line)
        return resp
