"""Store: write the machine-readable outputs, atomically.

Input: DataFrames and openpyxl workbooks. Output: CSV files under `<outputs>/<year>/data/` and
workbooks (`write_workbook`) with fixed document and zip times, so the same inputs give the same bytes. The whole year folder is built
in a staging folder beside it and swapped into place only when every stage has succeeded, so a run
that fails or is killed half-way leaves the previous outputs whole.

CSV conventions (a contract the tests and other tools rely on): UTF-8, comma-separated, a header
row; an empty cell is "no number" (the `status` column says why); whole numbers are written without a
decimal part; rates and changes keep 6 decimals; flags are kept verbatim as a string column.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.workbook import Workbook
from openpyxl.writer.excel import ExcelWriter

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
    """Write `frame` to `path` atomically with the number conventions above."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = frame.copy()
    for column in text.columns:
        if pd.api.types.is_float_dtype(text[column]) or text[column].dtype == object:
            text[column] = [number_text(v) if isinstance(v, float) or v is None or v is pd.NA else v for v in text[column]]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".csv")
    os.close(fd)
    try:
        text.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


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
    """Save `wb` atomically with fixed document times and zip entry times (`stamp`), readable by all.

    openpyxl's `save()` stamps the current time into the file; the ExcelWriter does not, and the zip
    is rewritten with fixed entry times, so the same workbook gives the same bytes.
    """
    wb.properties.created = stamp
    wb.properties.modified = stamp
    raw = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    fixed = io.BytesIO()
    date_time = stamp.timetuple()[:6]
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, src.read(info.filename))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(fixed.getvalue())
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; output folders are shared
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def read_csv(path: Path) -> pd.DataFrame:
    """Read back a CSV written by `write_csv` (text stays text: flags such as 'p' are not parsed)."""
    return pd.read_csv(path, dtype={"flags": str, "rate_flags": str, "comment": str, "cell": str, "value": float}, keep_default_na=False, na_values=[""])


def _previous_dir(final: Path) -> Path:
    return final.parent / f".{final.name}.previous"


def restore_interrupted(outputs_dir: Path, year: int) -> None:
    """If a run was killed between moving the old outputs aside and moving the new ones in, put the old back."""
    _restore(outputs_dir / str(year))


def _restore(final: Path) -> None:
    previous = _previous_dir(final)
    if previous.exists() and not final.exists():
        os.rename(previous, final)


@contextmanager
def staged_year_dir(outputs_dir: Path, year: int) -> Iterator[Path]:
    """Yield an empty staging folder; on success it becomes `<outputs>/<year>`, on failure it is removed."""
    with staged_dir(outputs_dir / str(year)) as staging:
        yield staging


@contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside `final`; on success it replaces `final`, on failure it is removed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    _restore(final)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.staging-"))
    os.chmod(staging, 0o755)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = _previous_dir(final)
    if previous.exists():
        shutil.rmtree(previous)
    if final.exists():
        os.rename(final, previous)
    os.rename(staging, final)
    shutil.rmtree(previous, ignore_errors=True)
