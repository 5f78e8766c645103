"""The rows of a pandas frame, for the modules that still import `frame_rows` from here."""

from __future__ import annotations

from typing import Any


def frame_rows(frame: Any) -> list[Any]:
    """The rows `frame.itertuples(index=False)` gives, as a list of named tuples."""
    return list(frame.itertuples(index=False))
