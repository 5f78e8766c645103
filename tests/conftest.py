"""Shared fixtures: the reference data and tiny submission workbooks written into tmp_path.

Workbooks are made from the real template (`pipeline.template.build_workbook`) and filled cell by
cell here, so each test states the few values it needs and nothing else.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from pipeline import layout
from pipeline.reference import Reference, load_reference
from pipeline.template import build_workbook


@pytest.fixture(scope="session")
def ref() -> Reference:
    return load_reference()


def fill(wb, values: dict, *, date: dt.date | None = dt.date(2026, 2, 1), agency: str = "Ministry of Interior") -> None:
    """Put `values[(code, breakdown)]` (a value, or (value, flag, comment)) into the Data sheet."""
    ws = wb[layout.DATA_SHEET]
    header = {cell.value: cell.column for cell in ws[1]}
    remaining = dict(values)
    for row in ws.iter_rows(min_row=2):
        key = (row[header[layout.COL_CODE] - 1].value, row[header[layout.COL_BREAKDOWN] - 1].value)
        if key not in remaining:
            continue
        entry = remaining.pop(key)
        value, flag, comment = entry if isinstance(entry, tuple) else (entry, None, None)
        ws.cell(row=row[0].row, column=header[layout.COL_VALUE], value=value)
        ws.cell(row=row[0].row, column=header[layout.COL_FLAG], value=flag)
        ws.cell(row=row[0].row, column=header[layout.COL_COMMENT], value=comment)
    assert not remaining, f"no template rows for {sorted(remaining)}"
    cover = wb[layout.COVER_SHEET]
    for row in cover.iter_rows(min_col=1, max_col=1):
        label = row[0].value
        if label == layout.COVER_DATE:
            cover.cell(row=row[0].row, column=2, value=date)
        elif label == layout.COVER_AGENCY:
            cover.cell(row=row[0].row, column=2, value=agency)


def write_submission(folder: Path, ref: Reference, iso3: str, year: int, values: dict, *, name: str | None = None, **cover) -> Path:
    """A filled submission workbook `folder/<name or ISO3_year.xlsx>`."""
    folder.mkdir(parents=True, exist_ok=True)
    wb = build_workbook(ref, iso3, year)
    fill(wb, values, **cover)
    path = folder / (name or f"{iso3}_{year}.xlsx")
    wb.save(path)
    return path


def require_soffice() -> str:
    """The soffice binary; skips locally when missing, fails in CI (a silently skipped check is a defect)."""
    binary = shutil.which("soffice") or shutil.which("libreoffice")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is required in CI: .ci/run installs it")
        pytest.skip("LibreOffice (soffice) is not installed")
    return binary
