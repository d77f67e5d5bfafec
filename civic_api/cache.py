"""Reference data held in each process and reloaded when its version changes.

Categories and municipality boundaries are read on every report and change a few times a
year; the latest release is read by every map and changes once a month. Categories and
boundaries each have a one-row version table whose value triggers set to the changing
transaction's id (never reused, so a change that was rolled back cannot be confused with a
later one); releases are only ever added, so their count and latest month version them.

At most every `max_age` seconds the first caller compares the version with the one it
loaded and reloads when they differ: a committed change is seen within `max_age` seconds
by every process, and between checks no statement is sent.
"""

import math
import threading
import time
from collections.abc import Callable

from sqlalchemy import Select

from civic_api.database import session


class VersionedCache:
    """Subclasses set `version_query` (a select of one row: the version) and `_load()`."""

    version_query: Select

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic):
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._version: tuple | None = None
        self._checked_at = -math.inf

    def _load(self) -> None:
        raise NotImplementedError

    def _fresh(self) -> None:
        if self._clock() - self._checked_at >= self.max_age:
            self._refresh()

    def _refresh(self) -> None:
        with self._lock:
            started = self._clock()
            if started - self._checked_at < self.max_age:
                return  # another thread has just checked
            # The version first: data read after it is at least as new, never older.
            version = tuple(session.execute(self.version_query).one())
            if version != self._version:
                self._load()
                self._version = version
            self._checked_at = started
