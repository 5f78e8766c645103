"""Shared fixtures: the reference data and tiny submission workbooks written into tmp_path.

Workbooks are made from the real template (`pipeline.template.build_workbook`) and filled with
`pipeline.samples.fill_workbook`, so each test states the few values it needs and nothing else.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from pipeline import pdf
from pipeline.reference import Reference, load_reference
from pipeline.samples import fill_workbook
from pipeline.template import build_workbook


# In CI the property tests draw the same examples every time: a red build always reproduces.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session")
def ref() -> Reference:
    return load_reference()


def write_submission(folder: Path, ref: Reference, iso3: str, year: int, values: dict, *, name: str | None = None, previous: dict | None = None, **cover) -> Path:
    """A filled submission workbook `folder/<name or ISO3_year.xlsx>`.

    `previous` maps (code, breakdown) to what its Previous year value cell holds (else blank).
    """
    folder.mkdir(parents=True, exist_ok=True)
    cover = {"date": dt.date(2026, 2, 1), "agency": "Ministry of Interior", "contact": "Nino Beridze", **cover}
    wb = fill_workbook(build_workbook(ref, iso3, year, previous), values, cover={k: v for k, v in cover.items() if v is not None}, demonstration=False)
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


def require_uno_python(soffice: str) -> str:
    """The Python with `uno`; like require_soffice, skips locally and fails in CI when missing."""
    python = pdf.find_uno_python(soffice)
    if python is None:
        if os.environ.get("CI"):
            pytest.fail("python3-uno is required in CI: .ci/run installs it")
        pytest.skip("no Python with the LibreOffice UNO bridge (python3-uno)")
    return python


def fail_the_staging_swap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the rename that moves a staging folder into place raise PermissionError, as it does for a
    user who may not write there (the tests run as root, whom permission bits do not stop)."""
    real_rename = os.rename

    def rename(src, dst):
        if ".staging-" in str(src):
            raise PermissionError(13, "Permission denied", str(src))
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
