"""Store: write the machine-readable outputs, atomically.

Input: DataFrames. Output: CSV files under `<outputs>/<year>/data/`. The whole year folder is built
in a staging folder beside it and swapped into place only when every stage has succeeded, so a run
that fails or is killed half-way leaves the previous outputs whole.

CSV conventions (a contract the tests and other tools rely on): UTF-8, comma-separated, a header
row; an empty cell is "no number" (the `status` column says why); whole numbers are written without a
decimal part; rates and changes keep 6 decimals; flags are kept verbatim as a string column.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

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


def read_csv(path: Path) -> pd.DataFrame:
    """Read back a CSV written by `write_csv` (text stays text: flags such as 'p' are not parsed)."""
    return pd.read_csv(path, dtype={"flags": str, "rate_flags": str, "comment": str, "cell": str, "value": float}, keep_default_na=False, na_values=[""])


def _previous_dir(outputs_dir: Path, year: int) -> Path:
    return outputs_dir / f".{year}.previous"


def restore_interrupted(outputs_dir: Path, year: int) -> None:
    """If a run was killed between moving the old outputs aside and moving the new ones in, put the old back."""
    final, previous = outputs_dir / str(year), _previous_dir(outputs_dir, year)
    if previous.exists() and not final.exists():
        os.rename(previous, final)


@contextmanager
def staged_year_dir(outputs_dir: Path, year: int) -> Iterator[Path]:
    """Yield an empty staging folder; on success it becomes `<outputs>/<year>`, on failure it is removed."""
    outputs_dir.mkdir(parents=True, exist_ok=True)
    restore_interrupted(outputs_dir, year)
    staging = Path(tempfile.mkdtemp(dir=outputs_dir, prefix=f".{year}.staging-"))
    os.chmod(staging, 0o755)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    final, previous = outputs_dir / str(year), _previous_dir(outputs_dir, year)
    if previous.exists():
        shutil.rmtree(previous)
    if final.exists():
        os.rename(final, previous)
    os.rename(staging, final)
    shutil.rmtree(previous, ignore_errors=True)
