"""A pandas frame's columns as plain Python values: what `frame[name].tolist()` gives, read faster.

`frame[name]` builds a Series (~8 us) before `tolist()` reads it. Validation reads a few dozen columns
of small frames for every workbook (the Data rows, the observations, the frames the cache encodes),
so building those Series was about a tenth of the time ingest and validation take. These functions
read the array pandas keeps for each column instead, and give the same values of the same types
(`tests/test_frames.py` compares them with `tolist()` for every kind of column the pipeline uses).

pandas' `_get_column_array` is not public API: where it is missing, or the columns are not unique
names, or a column is kept in a form `tolist()` would first convert (numpy datetimes), the Series is
read as before.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any


def column_lists(frame: Any, names: list[str] | tuple[str, ...] | None = None) -> list[list[Any]]:
    """The values of each column of `frame`, or of the columns `names` in that order, as lists:
    `[frame[name].tolist() for name in names]`. A name not in the frame raises KeyError, as there."""
    columns = frame.columns
    names = list(columns) if names is None else names
    read = getattr(frame, "_get_column_array", None) if columns.is_unique else None
    lists = []
    for name in names:
        array = read(columns.get_loc(name)) if read is not None else None
        if array is None or getattr(array, "dtype", None) is None or array.dtype.kind in "mM":
            lists.append(frame[name].tolist())
        else:
            lists.append(array.tolist())
    return lists


def records(frame: Any, names: list[str] | tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """The rows of `frame` (or of its columns `names`) as dicts, column name -> value: what
    `frame.to_dict("records")` gives for columns of text and numbers (which `tolist()` gives as
    Python values already; `to_dict` also converts numpy values kept in object columns)."""
    keys = [str(name) for name in (frame.columns if names is None else names)]
    return [dict(zip(keys, values, strict=True)) for values in zip(*column_lists(frame, names), strict=True)]


def column_list(frame: Any, name: str) -> list[Any]:
    """`frame[name].tolist()`, read faster (`column_lists`)."""
    return column_lists(frame, (name,))[0]


def frame_rows(frame: Any) -> list[Any]:
    """The rows `frame.itertuples(index=False)` gives, the same values of the same types, read a column
    at a time: itertuples reads a text column value by value (~40 ms for the sample's country table),
    `tolist()` at once. Columns of other pandas types (Int64: itertuples gives numpy ints, tolist
    Python ints) are still iterated."""
    import numpy as np
    import pandas as pd

    values = [column.tolist() if isinstance(column.dtype, np.dtype | pd.StringDtype) else list(column)
              for _, column in frame.items()]
    row = namedtuple("Row", [str(name) for name in frame.columns], rename=True)
    if not values:  # no columns: one empty row per row, as itertuples
        return [row() for _ in range(len(frame))]
    return list(map(row._make, zip(*values, strict=True)))
