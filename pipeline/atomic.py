"""Writing a file so that a reader never sees half of it: a temporary file beside it, then a rename.

Every output and cache entry goes through `write_atomically`, so a run killed half-way leaves each
file whole, old or new. No third-party import here: chart worker processes use it too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
