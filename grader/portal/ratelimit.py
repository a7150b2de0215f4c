"""A `limits` storage in the course's store, for Flask-Limiter (`storage_uri="pgrader://"`).

Flask-Limiter keeps its counters in memory, Redis, Memcached or MongoDB; a portal needs
none of these (its store is SQLite or PostgreSQL), and in-memory counters would be per
process and forgotten at a restart, so an attacker could spread guesses over several
`grader serve` processes or wait for the next deployment. Each hit is a row of `rate_hits`
(the moving window counts rows younger than the window; the fixed window, rows sharing one
expiry), removed once it has expired.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from limits.storage import MovingWindowSupport, Storage
from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from grader.portal.models import RateHit
from grader.store import Store
from grader.store.models import utcnow


class StoreStorage(Storage, MovingWindowSupport):
    """Rate-limit hits as rows of the store given as the storage option `store`."""

    STORAGE_SCHEME = ["pgrader"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        store = options.pop("store", None)
        if not isinstance(store, Store):
            raise ValueError("the pgrader:// rate-limit storage needs the option store=Store")
        super().__init__(uri, wrap_exceptions, **options)
        self.store = store

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def _live(self, key: str, now: dt.datetime):
        return select(func.count(), func.min(RateHit.at), func.min(RateHit.expires_at)).where(
            RateHit.key == key[:300], RateHit.expires_at > now
        )

    def _add(self, s, key: str, now: dt.datetime, expires: dt.datetime, amount: int) -> None:
        s.execute(delete(RateHit).where(RateHit.expires_at <= now))
        s.add_all(RateHit(key=key[:300], at=now, expires_at=expires) for _ in range(amount))

    # ------------------------------------------------------------ moving window

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = utcnow()
        with self.store._tx() as s:
            count = s.execute(self._live(key, now)).one()[0]
            if count + amount > limit:
                return False
            self._add(s, key, now, now + dt.timedelta(seconds=expiry), amount)
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = utcnow()
        with self.store._read() as s:
            count, oldest, _ = s.execute(self._live(key, now)).one()
        return (oldest.timestamp() if oldest else now.timestamp()), count

    # ------------------------------------------------------------ fixed window

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = utcnow()
        with self.store._tx() as s:
            count, _, expires = s.execute(self._live(key, now)).one()
            self._add(s, key, now, expires or now + dt.timedelta(seconds=expiry), amount)
        return count + amount

    def get(self, key: str) -> int:
        with self.store._read() as s:
            return s.execute(self._live(key, utcnow())).one()[0]

    def get_expiry(self, key: str) -> float:
        now = utcnow()
        with self.store._read() as s:
            expires = s.execute(self._live(key, now)).one()[2]
        return (expires or now).timestamp()

    # ------------------------------------------------------------ upkeep

    def check(self) -> bool:
        try:
            with self.store._read() as s:
                s.execute(select(func.count()).select_from(RateHit))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.store._tx() as s:
            return cast(CursorResult, s.execute(delete(RateHit))).rowcount

    def clear(self, key: str) -> None:
        with self.store._tx() as s:
            s.execute(delete(RateHit).where(RateHit.key == key[:300]))
