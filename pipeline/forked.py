"""Part of a job done by a forked copy of this process, while this process does the rest.

Reading and validating workbooks is Python work: one process uses one core. On a machine with a
second core, `ForkedPart` forks this process (the modules loaded, the reference data and the list of
files are the child's at no cost), the child does its part and sends the result back pickled through
a pipe, and ends; the parent does the other part meanwhile, then takes the child's result. The child
may also send objects on the way (`send`), which the parent receives in order before the result: a
first answer the parent can act on while the child goes on.

The child is a copy of a process that may have other threads (the chart workers' pool manager, a
progress bar): what it runs must take no lock such a thread may hold. The work given here
(`cli.read_and_validate`, `cli.read_and_check`) reads files and computes, and at most marks a cache
entry checked (a file written atomically); the child runs it with logging off, writes its result to
its pipe and ends with `os._exit`, so no atexit handler, buffered stream or finaliser of the parent
runs in it (Python 3.12+ warns on any fork of a process with threads, for the locks in general; that
warning is silenced here, for this reason). Whatever goes wrong in the child (an exception, a crash,
a result that does not unpickle, no answer before the deadline) is `FAILED` to the parent, which
then does the part itself: a forked part is a way to be faster, never a way to lose a result.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import signal
import struct
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
    """`work(send)` run in a forked child. `receive(timeout)` gives, in order, each object the child
    passed to `send`, then `work`'s return value; `result(timeout)` gives the return value alone.
    Either gives `FAILED` when the child gave nothing usable in time.

    `work` is called in the child only: its effects on objects stay there, only what it sends and
    returns (which must pickle) comes back. Raises OSError when no process can be forked (the caller
    then does the work itself).
    """

    def __init__(self, work: Callable[[Callable[[Any], None]], Any]) -> None:
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
        self._buffer = bytearray()
        self._state = "running"  # then "returned" (its return value taken) or "failed" (or abandoned)

    def receive(self, timeout: float) -> Any:
        """The next object from the child (one it sent, else its return value), waiting at most
        `timeout` seconds for it; `FAILED` otherwise (the child is then stopped, and every later call
        gives `FAILED` too)."""
        if self._state == "failed":
            return FAILED
        if self._state == "returned":
            raise RuntimeError("the result of a forked part is taken once")
        deadline = time.monotonic() + timeout
        frame = self._frame(deadline)
        if frame is None:
            self._fail()
            return FAILED
        last, data = frame
        try:
            received = pickle.loads(data)
        except Exception:  # noqa: BLE001 - a damaged object is no object
            self._fail()
            return FAILED
        if not last:
            return received
        self._state = "returned"
        os.close(self._fd)
        # The child closed the pipe once everything was written, before ending (which takes it a few
        # ms): its result was read while it ends, and its exit code now says whether it is whole.
        if _wait(self._pid, deadline) != 0:
            self._state = "failed"
            return FAILED
        return received

    def result(self, timeout: float) -> Any:
        """The child's return value (objects it sent and were not received are passed over), waiting
        at most `timeout` seconds for it; `FAILED` otherwise (the child is then stopped)."""
        deadline = time.monotonic() + timeout
        while True:
            received = self.receive(max(0.0, deadline - time.monotonic()))
            if received is FAILED or self._state == "returned":
                return received

    def abandon(self) -> None:
        """Stop the child without its result (the caller failed before asking for it, or needs it no more)."""
        if self._state == "running":
            self._fail()

    def _frame(self, deadline: float) -> tuple[bool, bytearray] | None:
        """The next frame, (is it the return value, the pickle), read by the deadline; None when the
        pipe ends first or time runs out."""
        needed = _HEADER.size
        header = None
        while True:
            if header is None and len(self._buffer) >= _HEADER.size:
                header = _HEADER.unpack_from(self._buffer)
                needed = _HEADER.size + header[1]
            if header is not None and len(self._buffer) >= needed:
                data = self._buffer[_HEADER.size:needed]
                del self._buffer[:needed]
                return header[0], data
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                return None  # no answer in time
            chunk = os.read(self._fd, _CHUNK)
            if not chunk:
                return None  # the child ended before sending it whole
            self._buffer += chunk

    def _fail(self) -> None:
        self._state = "failed"
        os.close(self._fd)
        _stop(self._pid)


# Each object crosses the pipe as a frame: whether it is the return value, the pickle's length, the pickle.
_HEADER = struct.Struct("<?Q")


def _run_child(work: Callable[[Callable[[Any], None]], Any], fd: int) -> None:
    code = 1

    def send(obj: Any, last: bool = False) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        for part in (_HEADER.pack(last, len(data)), data):
            view = memoryview(part)
            while view:
                view = view[os.write(fd, view):]

    try:
        logging.disable(logging.CRITICAL)  # the parent's handlers (console, run.log) are not the child's to use
        send(work(send), last=True)
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
