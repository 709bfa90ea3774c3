"""Small values read once per open database and shared by every thread using it (the Message-ID key,
the ticket type records): kept per database object, behind a lock, never on the (immutable) desk."""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable

import peewee as pw


class DatabaseCache:
    """Values of one open database, by key; safe to use from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._values.get(key, default)

    def put(self, key: str, value: Any) -> Any:
        with self._lock:
            self._values[key] = value
        return value

    def get_or_make(self, key: str, make: Callable[[], Any]) -> Any:
        """The cached value, else `make()`'s, kept (two threads may both make it: the same value)."""
        found = self.get(key, _MISSING)
        return self.put(key, make()) if found is _MISSING else found

    def drop(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._values.pop(key, None)


_MISSING = object()
_caches: weakref.WeakKeyDictionary[pw.Database, DatabaseCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def for_database(db: pw.Database) -> DatabaseCache:
    """The cache of this open database (made on first use, gone with the database object)."""
    with _caches_lock:
        found = _caches.get(db)
        if found is None:
            found = _caches[db] = DatabaseCache()
        return found
