"""The run lock: one `fetch` (or other writer) per database at a time.

filelock takes an OS-level lock (flock) that the kernel drops when the process dies,
so a run killed with SIGKILL never leaves a stale lock that blocks the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import LockedError, StorageError


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


@contextmanager
def run_lock(db_path: Path | str | None) -> Iterator[None]:
    if db_path is None:  # in-memory store: nothing to guard
        yield
        return
    path = lock_path(Path(db_path))
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(
            f"{db_path}: another newsdesk run is using this database (lock {path}); "
            "it will be free when that run ends"
        ) from None
    except OSError as e:
        raise StorageError(
            f"{db_path}: cannot create the lock file {path} ({e.strerror}); the database "
            "directory must be writable (read-only file system?)"
        ) from None
    try:
        yield
    finally:
        lock.release()
