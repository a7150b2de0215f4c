"""The Celery app of distributed grading and its settings (`[distributed]` in course.toml).

Reliability settings: a job is acknowledged only after it ran (`acks_late`), rejected and
requeued when the process running it dies (`task_reject_on_worker_lost`), each worker process
reserves one job at a time (prefetch 1), and a job left unacknowledged by a worker that
vanished is handed out again after the Redis `visibility_timeout`, which is sized from the
exercises' time limits so that a job still running is never handed out twice. Messages and
results are JSON only (no pickle).

Results live in a Redis result store (`results`, by default the broker when it is Redis).
The submitter polls them in batches (`PolledRedisBackend.metas`) rather than subscribing to
one channel per job.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace

from celery import Celery
from celery.backends.redis import RedisBackend

from grader.course import Course, Exercise
from grader.distributed.tasks import register
from grader.errors import ConfigError
from grader.judge.runner import test_folders, time_budget

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")


@dataclass(frozen=True)
class Settings:
    """`[distributed]` in course.toml; `--broker` or `PGRADER_BROKER` override `broker`."""

    broker: str = DEFAULT_BROKER
    results: str = ""  # a redis:// URL; "": the broker (which must then be Redis)
    visibility_timeout: float = 0.0  # 0: from the exercises' limits (`visibility_for`)
    resend_after: float = 0.0  # submitter: nothing moved for this long → re-send; 0: visibility
    resends: int = 3  # re-sends of a job before it is reported not graded (retryable)
    retries: int = 3  # worker: platform failures retried this many times...
    retry_backoff: float = 5.0  # ...after this many seconds, doubled each time

    @property
    def results_url(self) -> str:
        return self.results or self.broker


def load_settings(course: Course, broker: str | None = None) -> Settings:
    """The course's `[distributed]` table, checked; `broker` (or PGRADER_BROKER) wins."""
    path = course.root / "course.toml"
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("distributed", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, "-", f"a readable course.toml ({exc})") from None
    if not isinstance(table, dict):
        raise ConfigError(path, "distributed", "a table", table)
    known = {f.name: f.type for f in fields(Settings)}
    values: dict = {}
    for key, value in table.items():
        kind = known.get(key)
        if kind is None:
            raise ConfigError(path, f"distributed.{key}", f"one of {', '.join(known)}")
        if kind == "str" and not isinstance(value, str):
            raise ConfigError(path, f"distributed.{key}", "a string", value)
        if kind in ("float", "int") and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or value < 0
            or (kind == "int" and not isinstance(value, int))
        ):
            raise ConfigError(path, f"distributed.{key}", f"a number >= 0 ({kind})", value)
        values[key] = value
    settings = replace(Settings(), **values)
    chosen = broker or os.environ.get("PGRADER_BROKER")
    if chosen:
        settings = replace(settings, broker=chosen)
    _check_urls(settings, path)
    return settings


def _check_urls(settings: Settings, path) -> None:
    scheme = settings.broker.partition("://")[0]
    if "://" not in settings.broker or scheme not in BROKER_SCHEMES:
        raise ConfigError(
            path,
            "distributed.broker (or --broker / PGRADER_BROKER)",
            "a redis:// or amqp:// URL",
            settings.broker,
        )
    if settings.results_url.partition("://")[0] not in ("redis", "rediss"):
        raise ConfigError(
            path,
            "distributed.results",
            "a redis:// URL (needed with a RabbitMQ broker: results are kept in Redis)",
            settings.results or None,
        )


def visibility_for(exercises: Iterable[Exercise], settings: Settings) -> float:
    """Seconds a job may stay unacknowledged: twice the longest test run allowed, plus a minute."""
    if settings.visibility_timeout:
        return float(settings.visibility_timeout)
    budgets = [time_budget(ex.limits, test_folders(ex)) for ex in exercises]
    return 2 * max(budgets, default=600.0) + 60


class PolledRedisBackend(RedisBackend):
    """The Redis result store, without a pub/sub subscription per sent job: results are polled."""

    def on_task_call(self, producer, task_id):
        pass

    def metas(self, task_ids: list[str]) -> dict[str, dict]:
        """The stored state of each of `task_ids` that has one (PENDING ones are left out)."""
        found = {}
        for i in range(0, len(task_ids), 500):
            chunk = task_ids[i : i + 500]
            for task_id, raw in zip(chunk, self.mget([self.get_key_for_task(t) for t in chunk])):
                if raw is not None:
                    found[task_id] = self.decode_result(raw)
        return found


def make_app(settings: Settings, visibility_timeout: float) -> Celery:
    """A Celery app for `settings`, with the grading task registered."""
    results = settings.results_url
    app = Celery(
        "pgrader",
        broker=settings.broker,
        backend=f"{PolledRedisBackend.__module__}:PolledRedisBackend+{results}",
    )
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        task_default_queue="cpu",
        result_expires=7 * 24 * 3600,
        result_extended=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_transport_options={
            "visibility_timeout": int(visibility_timeout),
            # look for jobs of vanished workers a few times per timeout (kombu: every ~100 s)
            "unacked_restore_interval": max(1, min(60, int(visibility_timeout) // 4)),
            "unacked_restore_throttle": 1,
        },
        result_backend_transport_options={"retry_policy": {"max_retries": 20, "interval_max": 1.0}},
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_channel_error_retry=True,
    )
    register(app, settings)
    return app
