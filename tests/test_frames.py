"""frames.column_lists: the values `frame[name].tolist()` gives, of the same types, for every kind of
column the pipeline's frames hold (text with NaN, numbers, mixed objects, nullable ints, dates)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.frames import column_list, column_lists

TEXT = st.text(max_size=5)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
OBJECTS = st.one_of(st.none(), st.integers(-10, 10), FLOATS, TEXT, st.booleans(), st.dates().map(lambda d: dt.datetime(d.year, d.month, d.day)))


def _same(a: list, b: list) -> bool:
    """The same values of the same types, NaN equal to NaN."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if type(x) is not type(y):
            return False
        if isinstance(x, float) and math.isnan(x):
            if not math.isnan(y):
                return False
        elif x is not y and not (x == y):
            return False
    return True


def _frames(n: int) -> st.SearchStrategy[pd.DataFrame]:
    columns = {
        "text": st.lists(st.one_of(TEXT, st.just(math.nan)), min_size=n, max_size=n),
        "float": st.lists(FLOATS, min_size=n, max_size=n),
        "int": st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n),
        "object": st.lists(OBJECTS, min_size=n, max_size=n),
        "bool": st.lists(st.booleans(), min_size=n, max_size=n),
    }
    return st.fixed_dictionaries(columns).map(pd.DataFrame)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 6).flatmap(_frames))
def test_column_lists_give_what_tolist_gives(frame: pd.DataFrame) -> None:
    expected = [frame[name].tolist() for name in frame.columns]
    got = column_lists(frame)
    assert all(_same(e, g) for e, g in zip(expected, got, strict=True))
    # Some columns, in another order, and one of them twice.
    names = ["object", "text", "float", "text"]
    assert all(_same(frame[n].tolist(), g) for n, g in zip(names, column_lists(frame, names), strict=True))


def test_pandas_types_and_dates() -> None:
    frame = pd.DataFrame({
        "nullable": pd.array([1, None, 3], dtype="Int64"),
        "when": pd.to_datetime(["2025-01-02", None, "2024-12-31"]),
        "text": pd.array(["a", None, "c"], dtype="str"),
        "category": pd.Categorical(["x", "y", "x"]),
        "float": [1.5, math.nan, 2.0],
    })
    for name, values in zip(frame.columns, column_lists(frame), strict=True):
        assert _same(frame[name].tolist(), values), name
    assert column_list(frame, "when")[0] == pd.Timestamp("2025-01-02")
    assert column_list(frame, "nullable")[1] is pd.NA


def test_repeated_column_names_and_missing_names() -> None:
    frame = pd.DataFrame([[1, "a", 2.0]], columns=["x", "y", "x"])
    assert column_lists(frame, ["y"]) == [["a"]]
    with pytest.raises(KeyError):
        column_lists(pd.DataFrame({"x": [1]}), ["nope"])


def test_empty_frames() -> None:
    frame = pd.DataFrame(columns=["a", "b"])
    assert column_lists(frame) == [[], []]
    assert column_lists(pd.DataFrame({"a": np.array([], dtype=np.float64)}), ["a"]) == [[]]
