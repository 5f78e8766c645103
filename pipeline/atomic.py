"""Outputs a reader never sees half of: a file written through a temporary file beside it and a
rename (`write_atomically`); a whole folder built in a staging folder and swapped into place only
when everything in it was made (`staged_dir`, `staged_year_dir`), so a run that fails or is killed
half-way leaves the previous outputs whole, and the frozen releases in it (`RELEASES_DIR`) where
they are; and the lock that keeps two runs from writing the same
outputs at once (`outputs_lock`).

A folder that cannot be written (read-only, a file where a folder should be, a full disk) is an
`OutputError` naming it (`cannot_write`), and never leaves a staging folder behind.

Every output goes through `write_atomically`, so a run killed half-way leaves each
file whole, old or new. No third-party import here: chart worker processes use it too, and a run
takes its lock before it loads pandas.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import OutputError

# <outputs>/<year>/releases/: the frozen copies of what was circulated (pipeline.release). A run or a
# report replaces the year folder but moves this one across untouched, never copying or rewriting it.
RELEASES_DIR = "releases"
KEPT_IN_YEAR_DIR = (RELEASES_DIR,)


def write_atomically(path: Path, data: bytes, *, mode: int | None = 0o644) -> Path:
    """`data` into `path` (its folder made when missing), through a temporary file in the same folder
    and `os.replace`. `mode`: the file's permissions (mkstemp makes it private, 0600; outputs are
    meant to be shared), None to keep them private."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=f"{path.suffix}.tmp")
    except OSError as err:
        raise cannot_write(path.parent, err) from err
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as err:
        raise cannot_write(path, err) from err
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
    path = outputs_dir / f".{name}.lock"
    try:
        outputs_dir.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the whole `with`
    except OSError as err:
        raise cannot_write(outputs_dir, err) from err
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
        import fcntl  # POSIX only: which locking module exists depends on the system
    except ImportError:  # Windows
        import msvcrt  # Windows only

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


def cannot_write(folder: Path, err: OSError) -> OutputError:
    """The error for `folder` (or a file in it) that could not be written, saying why in words."""
    folder = Path(folder)
    blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        why = f"{'it' if blocking == folder else blocking} is a file, not a folder; move the file away or choose another folder"
    elif isinstance(err, PermissionError):
        existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
        why = f"permission denied ({existing} is read-only for this user); make it writable or choose another folder"
    else:
        why = f"{err.strerror or err}"
    return OutputError(f"cannot write to {folder}: {why}")


def require_writable(*folders: Path) -> None:
    """Raise `OutputError` when one of `folders` could not be written, before anything is: a file
    where it or a folder above it should be, or a folder this user may not write to (the nearest one
    that exists: the others are made in it). Writes nothing; the writes themselves still say why
    they failed (`cannot_write`) for what cannot be seen beforehand, such as a full disk."""
    for folder in map(Path, folders):
        existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
        if not existing.is_dir():
            raise cannot_write(folder, NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing)))
        if not os.access(existing, os.W_OK | os.X_OK):
            raise cannot_write(folder, PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(existing)))


# -- a whole folder, swapped into place ------------------------------------------------------------
def _previous_dir(final: Path) -> Path:
    return final.parent / f".{final.name}.previous"


def restore_interrupted(outputs_dir: Path, year: int) -> None:
    """If a run was killed between moving the old outputs aside and moving the new ones in (or the
    releases across), put them back."""
    _restore(outputs_dir / str(year), KEPT_IN_YEAR_DIR)


def _restore(final: Path, keep: tuple[str, ...] = ()) -> None:
    previous = _previous_dir(final)
    if not previous.exists():
        return
    if not final.exists():
        os.rename(previous, final)
        return
    for name in keep:
        if (previous / name).exists() and not (final / name).exists():
            os.rename(previous / name, final / name)


@contextmanager
def staged_year_dir(outputs_dir: Path, year: int) -> Iterator[Path]:
    """Yield an empty staging folder; on success it becomes `<outputs>/<year>`, on failure it is
    removed. The year's releases (`RELEASES_DIR`) stay: they are moved into the new folder as they are."""
    with staged_dir(outputs_dir / str(year), keep=KEPT_IN_YEAR_DIR) as staging:
        yield staging


@contextmanager
def staged_dir(final: Path, *, keep: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield an empty staging folder beside `final`; on success it replaces `final`, on failure it is
    removed. A folder that cannot be written is an `OutputError` naming it, and leaves no staging
    folder (nor, when the swap itself fails, anything but the previous `final`).

    `keep`: names of sub-folders of `final` that are not replaced but moved, untouched, into the new
    `final` (renamed, never copied); the staging folder must not make them."""
    if final.exists() and not final.is_dir():  # the swap would replace the file with the folder
        raise cannot_write(final, NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(final)))
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        _restore(final, keep)
        # Staging folders of runs that were killed (kill -9 runs no clean-up); callers hold the outputs
        # lock, so none of them belongs to a run still going.
        for stale in final.parent.glob(f".{final.name}.staging-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.staging-"))
    except OSError as err:
        raise cannot_write(final.parent, err) from err
    try:
        os.chmod(staging, 0o755)
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    made = [name for name in keep if (staging / name).exists()]
    if made:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"{final / made[0]} is never replaced by a run; nothing was written")
    try:
        _swap(staging, final, keep)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise cannot_write(final.parent, err) from err  # both renames write in the folder holding `final`


def _swap(staging: Path, final: Path, keep: tuple[str, ...] = ()) -> None:
    """`staging` becomes `final`; the previous `final` is moved aside first and put back if the second
    rename fails; then its `keep` sub-folders are moved into the new `final`. A kill between these
    renames leaves them in the previous folder, which `_restore` puts back before anything removes it."""
    previous = _previous_dir(final)
    if previous.exists():
        shutil.rmtree(previous)  # `_restore` took back what it kept
    moved_aside = final.exists()
    if moved_aside:
        os.rename(final, previous)
    try:
        os.rename(staging, final)
    except OSError:
        if moved_aside:
            os.rename(previous, final)
        raise
    for name in keep:
        if (previous / name).exists():
            os.rename(previous / name, final / name)
    shutil.rmtree(previous, ignore_errors=True)
