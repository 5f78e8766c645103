"""Part of a job done by a forked copy of this process, while this process does the rest.

Reading and validating workbooks is Python work: one process uses one core. On a machine with a
second core, `ForkedPart` forks this process (the modules loaded, the reference data and the list of
files are the child's at no cost), the child does its part and sends the result back pickled through
a pipe, and ends; the parent does the other part meanwhile, then takes the child's result.

The child is a copy of a process that may have other threads (the chart workers' pool manager, a
progress bar): what it runs must take no lock such a thread may hold. The work given here
(`cli.read_and_validate`) reads files and computes, and at most marks a cache entry checked (a file
written atomically); the child runs it with logging off, writes its result to its pipe and ends with
`os._exit`, so no atexit handler, buffered stream or finaliser of the parent runs in it (Python
3.12+ warns on any fork of a process with threads, for the locks in general; that warning is
silenced here, for this reason). Whatever goes wrong in the child (an exception, a crash, a result that does not unpickle,
no answer before the deadline) is `FAILED` to the parent, which then does the part itself: a
forked part is a way to be faster, never a way to lose a result.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import signal
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

FAILED = object()  # what `ForkedPart.result` gives when the child gave nothing usable
_CHUNK = 1 << 20


def can_fork() -> bool:
    """A second core to work on, on Linux. Not Windows (no fork), nor macOS, where a forked child of a
    process that loaded Apple's system frameworks may crash (Python's own process pools start fresh
    processes there)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and (os.cpu_count() or 1) >= 2


class ForkedPart:
    """`work()` run in a forked child; `result(timeout)` is its return value, or `FAILED`.

    `work` is called in the child only: its effects on objects stay there, only its return value
    (which must pickle) comes back. Raises OSError when no process can be forked (the caller then
    does the work itself).
    """

    def __init__(self, work: Callable[[], Any]) -> None:
        read_end, write_end = os.pipe()
        _widen(write_end)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see the module docstring
            try:
                pid = os.fork()
            except OSError:
                os.close(read_end)
                os.close(write_end)
                raise
        if pid == 0:  # the child: never returns
            os.close(read_end)
            _run_child(work, write_end)
        os.close(write_end)
        self._pid, self._fd = pid, read_end
        self._done = False

    def result(self, timeout: float) -> Any:
        """The child's return value, waiting at most `timeout` seconds for it; `FAILED` otherwise (the
        child is then stopped)."""
        if self._done:
            raise RuntimeError("the result of a forked part is taken once")
        self._done = True
        deadline = time.monotonic() + timeout
        chunks, complete = [], False
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                    break  # no answer in time
                chunk = os.read(self._fd, _CHUNK)
                if not chunk:
                    complete = True
                    break
                chunks.append(chunk)
        finally:
            os.close(self._fd)
        if not complete:
            _stop(self._pid)
            return FAILED
        # The child closed the pipe once everything was written, before ending (which takes it a few
        # ms): its result is read while it ends, and its exit code then says whether it is whole.
        try:
            result = pickle.loads(b"".join(chunks))
        except Exception:  # noqa: BLE001 - a damaged result is no result
            result = FAILED
        return result if _wait(self._pid, deadline) == 0 else FAILED

    def abandon(self) -> None:
        """Stop the child without its result (the caller failed before asking for it)."""
        if not self._done:
            self._done = True
            os.close(self._fd)
            _stop(self._pid)


def _run_child(work: Callable[[], Any], fd: int) -> None:
    code = 1
    try:
        logging.disable(logging.CRITICAL)  # the parent's handlers (console, run.log) are not the child's to use
        data = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.close(fd)  # the parent reads to the end now, while this process ends
        code = 0
    except BaseException:  # noqa: BLE001, S110 - the parent sees the exit code and does the part itself
        pass
    finally:
        os._exit(code)


def _widen(fd: int) -> None:
    """A pipe buffer of 1 MB where the system allows it (Linux; 64 KB by default): the child writes
    its result at once and ends, instead of waiting for the parent to read each 64 KB."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _CHUNK)
    except (ImportError, OSError):
        pass


def _wait(pid: int, deadline: float) -> int:
    """The child's exit code once it ends (it has sent everything: it is ending); -1 if it does not by the deadline."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            _stop(pid)
            return -1
        time.sleep(0.001)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
