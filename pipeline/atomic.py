"""Writing a file so that a reader never sees half of it: a temporary file beside it, then a rename;
and the lock that keeps two runs from writing the same outputs at once (`outputs_lock`).

Every output goes through `write_atomically`, so a run killed half-way leaves each
file whole, old or new. No third-party import here: chart worker processes use it too, and a run
takes its lock before it loads pandas.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.findings import OutputError


def write_atomically(path: Path, data: bytes, *, mode: int | None = 0o644) -> Path:
    """`data` into `path` (its folder made when missing), through a temporary file in the same folder
    and `os.replace`. `mode`: the file's permissions (mkstemp makes it private, 0600; outputs are
    meant to be shared), None to keep them private."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=f"{path.suffix}.tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@contextmanager
def outputs_lock(outputs_dir: Path, name: int | str) -> Iterator[None]:
    """Hold the lock on `<outputs>/<name>` (a year, or `validation`) while writing it: a second run on
    the same outputs stops with a clear message instead of interleaving files with the first.

    An OS file lock (flock, or msvcrt on Windows) on `<outputs>/.<name>.lock`: the system releases it
    when the process ends, so a run killed with `kill -9` never leaves a stale lock behind.
    """
    outputs_dir.mkdir(parents=True, exist_ok=True)
    path = outputs_dir / f".{name}.lock"
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the whole `with`
    try:
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise OutputError(f"another crimetrends run is writing {outputs_dir / str(name)} ({holder}); wait for it to finish, then run again")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing the file releases the lock


def _try_lock(handle) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
