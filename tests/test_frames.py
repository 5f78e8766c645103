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

from pipeline.frames import column_list, column_lists, frame_rows, records

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


def test_records_give_what_to_dict_gives_for_text_and_numbers() -> None:
    frame = pd.DataFrame({"code": ["TIP_VIC", "TIP_OFF"], "value": [12.0, math.nan], "row": [2, 3], "note": pd.array(["a", None], dtype="str")})
    expected = frame.to_dict("records")
    got = records(frame)
    assert [list(r) for r in got] == [list(r) for r in expected]
    assert all(_same(list(e.values()), list(g.values())) for e, g in zip(expected, got, strict=True))
    assert records(frame, ["row", "code"]) == [{"row": 2, "code": "TIP_VIC"}, {"row": 3, "code": "TIP_OFF"}]


def test_frame_rows_are_the_rows_itertuples_gives():
    """The same values of the same types (text, numpy ints, NaN, Int64's numpy ints and NA, objects)."""
    frame = pd.DataFrame({
        "indicator": pd.Series(["TIP_VIC", "TIP_VIC", "DRG_SZ_HER", None], dtype="str"),
        "year": [2024, 2025, 2025, 2025],
        "total": [1.5, float("nan"), 3.0, 4.0],
        "n": pd.array([1, None, 3, 3], dtype="Int64"),
        "flags": pd.Series(["p", None, "", "e"], dtype="str"),
        "other": [object(), "x", 2, None],
        "not an identifier": [1, 2, 3, 4],
    })

    def described(rows):
        return [(row._fields, [(type(value), repr(value)) for value in row]) for row in rows]

    assert described(frame_rows(frame)) == described(frame.itertuples(index=False))
    assert described(frame_rows(frame.iloc[:0])) == []
    assert [tuple(row) for row in frame_rows(pd.DataFrame(index=range(2)))] == [(), ()]
