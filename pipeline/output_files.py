"""Output files: CSV tables, workbooks and zip packages, each written atomically.

Input: DataFrames, openpyxl workbooks, or the bytes of a package a library made. Output: CSV files
under `<outputs>/<year>/data/` (`write_csv`, read back with `read_csv`), and workbooks and packages
with fixed document and zip times (`write_workbook`, `write_package`, `write_zip`), so the same
inputs give the same bytes. The year folder these go into is staged by `pipeline.atomic`.

CSV conventions (a contract the tests and other tools rely on): UTF-8, comma-separated, a header
row; an empty cell is "no number" (the `status` column says why); whole numbers are written without a
decimal part; rates and changes keep 6 decimals; flags are kept verbatim as a string column.

Text that a spreadsheet would run as a formula (CWE-1236, "CSV injection"): a text cell starting with
`=`, `+`, `-`, `@`, a tab or a carriage return is written with one single quote in front (OWASP's
advice), so Excel and LibreOffice show it as text: a comment `=HYPERLINK(...)` is written
`'=HYPERLINK(...)`. Numbers are never quoted (-3 is written -3), nor is text that is only a number
("-3", "+1": a spreadsheet reads it as that number, nothing runs). Text that already starts with
quotes before such a character gets one more, so `read_csv` can remove exactly the one added and a
round trip gives the original text. Read these files with `read_csv` (or `restore_text_columns`),
not bare `pd.read_csv`, or the added quotes stay.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import zipfile
from pathlib import Path

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.workbook import Workbook
from openpyxl.writer.excel import ExcelWriter

from pipeline.atomic import write_atomically

DATA_DIR = "data"
DECIMALS = 6


def number_text(value: object) -> str:
    """A number as CSV text: '' for missing, '12' for 12.0, '0.123457' for a rate."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
        return repr(round(value, DECIMALS))
    return str(value)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` to `path` atomically with the number and text conventions above."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = frame.copy()
    # Lists, not Series iteration (same Python values, without boxing each); each distinct text once.
    texts: dict[str, str] = {}

    def csv_text(value: str) -> str:
        done = texts.get(value)
        if done is None:
            done = texts[value] = _csv_text(value)
        return done

    for column in text.columns:
        if pd.api.types.is_float_dtype(text[column]) or text[column].dtype == object:
            text[column] = [number_text(v) if isinstance(v, float) or v is None or v is pd.NA else csv_text(v) if isinstance(v, str) else v for v in text[column].tolist()]
        elif pd.api.types.is_string_dtype(text[column]):
            text[column] = [csv_text(v) if isinstance(v, str) else v for v in text[column].tolist()]
    content = text.to_csv(index=False, lineterminator="\n")
    if _CR_MARK in content:
        content = content.replace(_CR_MARK, "\r")
    return write_atomically(path, content.encode("utf-8"))


# Python's csv writer (under pandas) quotes a field holding "\n" but not one holding a lone "\r" when
# lines end in "\n": readers would break the row there, and text after the CR would start a line of
# its own (a formula, for a spreadsheet). So each CR is written as this mark, whose newline makes the
# writer quote the field, and turned back into "\r" in the written text. U+FDD0 is a Unicode
# noncharacter, reserved for such internal use: no submitted text holds it.
_CR_MARK = "\n\ufdd0"


def _csv_text(value: str) -> str:
    text = inert_text(value)
    return text.replace("\r", _CR_MARK) if "\r" in text else text


def set_cell(cell: Cell, value: object) -> Cell:
    """Write `value` into an openpyxl cell as data, never as a formula.

    Text from submissions may start with '=' (openpyxl would store it as a formula, CWE-1236) or hold
    control characters XML cannot carry (openpyxl would raise): the first stays text, the second are dropped.
    """
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"
    else:
        cell.value = value
    return cell


def write_workbook(wb: Workbook, target: Path, stamp: dt.datetime) -> Path:
    """Save `wb` atomically with fixed document times and zip entry times (`stamp`), so the same
    workbook gives the same bytes.

    Through openpyxl's `ExcelWriter` rather than `wb.save`, which stamps the current time into
    the document's properties.
    """
    wb.properties.created = stamp
    wb.properties.modified = stamp
    raw = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(raw, "w")).save()  # stored: write_package deflates each part once
    return write_package(raw.getvalue(), target, stamp)


def write_package(package: bytes, target: Path, stamp: dt.datetime) -> Path:
    """Write a zip package (.xlsx, .docx) made by a library to `target`, atomically, with every
    entry dated `stamp`: libraries date them with the current time."""
    with zipfile.ZipFile(io.BytesIO(package)) as source:
        parts = [(info.filename, source.read(info)) for info in source.infolist()]
    return write_zip(parts, target, stamp)


def write_zip(parts: list[tuple[str, bytes]], target: Path, stamp: dt.datetime) -> Path:
    """Write `parts` (name, bytes), in this order, as a deflated zip at `target`, atomically, every
    entry dated `stamp` (1980 to 2107, what a zip can hold), so the same parts give the same bytes."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts:
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16  # rw-------, what zipfile gives an entry written by name
            package.writestr(info, data)
    return write_atomically(target, raw.getvalue())


def read_csv(path: Path) -> pd.DataFrame:
    """Read back a CSV written by `write_csv` (text stays text: flags such as 'p' are not parsed).

    The quote `write_csv` put before formula-like text is removed again (`restore_text`).
    """
    frame = pd.read_csv(path, dtype={"flags": str, "rate_flags": str, "comment": str, "cell": str, "value": float}, keep_default_na=False, na_values=[""])
    return restore_text_columns(frame)


# -- inert text in CSV (CWE-1236) ------------------------------------------------------------------
# What a spreadsheet takes as the start of a formula: = + - @, and tab / carriage return (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_QUOTE = re.compile(r"'*[=+\-@\t\r]")  # formula-like, possibly after quotes a reader may strip
_QUOTED = re.compile(r"'+[=+\-@\t\r]")  # what `inert_text` wrote: one quote more than the text had
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_FIRST_CHARS = "".join(FORMULA_STARTS) + "'"


def inert_text(text: str) -> str:
    """Text as `write_csv` writes it: a quote in front when a spreadsheet would run it as a formula.

    >>> inert_text("=1+1"), inert_text("-x"), inert_text("'=x"), inert_text("-3"), inert_text("a-b")
    ("'=1+1", "'-x", "''=x", '-3', 'a-b')
    """
    if text and text[0] in _FIRST_CHARS and _NEEDS_QUOTE.match(text) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def restore_text(value: object) -> object:
    """The inverse of `inert_text`: removes the one quote it added (other values unchanged).

    >>> restore_text("'=1+1"), restore_text("''=x"), restore_text("'quoted'"), restore_text(-3.0)
    ('=1+1', "'=x", "'quoted'", -3.0)
    """
    if isinstance(value, str) and value[:1] == "'" and _QUOTED.match(value):
        return value[1:]
    return value


def restore_text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (read from a `write_csv` file) with `restore_text` applied to its text columns, in place."""
    for column in frame.columns:
        series = frame[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            values = series.tolist()
            if any(isinstance(v, str) and v[:1] == "'" for v in values):
                frame[column] = [restore_text(v) for v in values]
    return frame
