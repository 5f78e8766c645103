"""Ingest: files found recursively, sheets and columns found by name, cells kept, bad files as findings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import openpyxl
import pytest

from pipeline import ingest, layout, validate
from tests.conftest import require_soffice, write_submission


def _read(path: Path, ref):
    return ingest.read_submission(path, path.parent, ref)


def _codes(raw):
    return [(f.code, f.sheet, f.cell) for f in raw.findings]


def test_discovers_files_recursively_in_stable_order(tmp_path):
    (tmp_path / "2025" / "late").mkdir(parents=True)
    for name in ("2025/late/b.xlsx", "2025/a.ods", "readme.txt", ".hidden/x.xlsx"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in ingest.discover_files(tmp_path)]
    assert found == ["2025/a.ods", "2025/late/b.xlsx", "readme.txt"]


def test_reads_cover_and_data_with_cells(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): (12, "p", "police only"), ("TIP_VIC", "SEX=F"): 7})
    raw = _read(path, ref)
    assert raw.readable and raw.findings == []
    assert raw.cover[layout.COVER_COUNTRY].value == "GEO" and raw.cover[layout.COVER_COUNTRY].cell == "B4"
    assert raw.cover[layout.COVER_YEAR].value == 2025
    row = raw.data.set_index(["code", "breakdown"]).loc[("TIP_VIC", "TOTAL")]
    assert (row["value"], row["flag"], row["comment"]) == (12, "p", "police only")
    assert row["value_cell"] == f"E{row['row']}" and row["flag_cell"] == f"F{row['row']}"
    assert raw.meta[layout.META_VERSION_KEY] == layout.TEMPLATE_VERSION


def test_reordered_columns_rows_extra_columns_and_renamed_sheet_still_read(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 12})
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.DATA_SHEET]
    ws.title = "Données"
    ws.insert_cols(1)  # an extra, unnamed column in front shifts every column
    ws.cell(row=1, column=1, value="Internal note")
    ws.move_range("F1:F100", cols=3)  # Value moved to the right of Comment
    ws.insert_rows(1, amount=2)  # a title block above the header
    ws.cell(row=1, column=1, value="Our national copy")
    wb.save(path)
    raw = _read(path, ref)
    assert raw.data_sheet == "Données" and _codes(raw) == []
    row = raw.data.set_index(["code", "breakdown"]).loc[("TIP_VIC", "TOTAL")]
    assert row["value"] == 12 and row["value_cell"] == f"I{row['row']}"


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("empty.xlsx", b"", "file-unreadable"),
        ("text.xlsx", b"country,value\nGEO,12\n", "file-unreadable"),
        ("truncated.xlsx", None, "file-unreadable"),
        ("locked.xlsx", ingest.OLE2_MAGIC + b"\0" * 600, "file-password-protected"),
        ("notes.txt", b"hello", "file-not-a-workbook"),
        ("~$GEO_2025.xlsx", b"owner", "file-lock-file"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_finding(ref, tmp_path, name, content, code):
    if content is None:  # a real workbook cut in half, as a broken e-mail attachment would be
        good = write_submission(tmp_path, ref, "GEO", 2025, {})
        content = good.read_bytes()[:1500]
        good.unlink()
    path = tmp_path / name
    path.write_bytes(content)
    raw = _read(path, ref)
    assert [f.code for f in raw.findings] == [code]
    assert raw.findings[0].file == name and not raw.readable


def test_missing_sheets_and_header_are_findings(ref, tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    wb.active["A1"] = "nothing here"
    wb.save(tmp_path / "blank.xlsx")
    raw = _read(tmp_path / "blank.xlsx", ref)
    assert _codes(raw) == [("sheet-missing", "Cover", ""), ("sheet-missing", "Data", "")]

    path = write_submission(tmp_path, ref, "GEO", 2025, {})
    wb = openpyxl.load_workbook(path)
    wb[layout.DATA_SHEET]["B1"] = "Disaggregation"
    wb.save(path)
    assert _codes(_read(path, ref)) == [("header-missing", "Data", "A1")]


def test_error_cells_and_formulas_without_result_are_marked(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_OFF", "TOTAL"): "=1/0", ("TIP_SUS", "TOTAL"): 5})
    raw = _read(path, ref)
    value = raw.data.set_index(["code", "breakdown"]).loc[("TIP_OFF", "TOTAL"), "value"]
    assert isinstance(value, ingest.CellError)


def _convert(soffice: str, source: Path, target_dir: Path, fmt: str, profile: Path) -> Path:
    filters = {"xlsx": "xlsx:Calc MS Excel 2007 XML", "ods": "ods", "xls": "xls:MS Excel 97"}
    subprocess.run(
        [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", filters[fmt], "--outdir", str(target_dir), str(source)],
        check=True, capture_output=True, timeout=180,
    )
    converted = target_dir / f"{source.stem}.{fmt}"
    assert converted.exists(), f"LibreOffice wrote no {fmt}"
    return converted


@pytest.mark.libreoffice
@pytest.mark.parametrize("fmt", ["xlsx", "ods", "xls"])
def test_workbook_saved_again_by_libreoffice_reads_the_same(ref, tmp_path, fmt):
    soffice = require_soffice()
    values = {
        ("TIP_VIC", "TOTAL"): (120, "p", "Не окончательные данные & <draft>"),
        ("TIP_VIC", "SEX=F"): 80,
        ("TIP_OFF", "TOTAL"): ":",
        ("TIP_PRO", "TOTAL"): "<5",
        ("DRG_SZ_HER", "TOTAL"): (12.125, "e", "ჰეროინი"),
        ("SOM_OFF", "TOTAL"): 0,
    }
    original = write_submission(tmp_path / "openpyxl", ref, "GEO", 2025, values)
    converted = _convert(soffice, original, tmp_path / "lo", fmt, tmp_path / "profile")

    def observations(path):
        sub = validate.validate_submission(ingest.read_submission(path, path.parent, ref), ref)
        assert sub.status == "accepted", sub.findings
        return sub.observations.drop(columns=["source_file"]).reset_index(drop=True)

    expected, actual = observations(original), observations(converted)
    assert actual.equals(expected) or actual.compare(expected).empty
    totals = actual.set_index(["indicator", "breakdown"])
    assert totals.loc[("DRG_SZ_HER", "TOTAL"), "value"] == 12.125
    assert totals.loc[("SOM_OFF", "TOTAL"), "value"] == 0 and totals.loc[("SOM_OFF", "TOTAL"), "status"] == "reported"
    assert totals.loc[("TIP_PRO", "TOTAL"), "status"] == "confidential"
    assert totals.loc[("TIP_VIC", "TOTAL"), "comment"] == "Не окончательные данные & <draft>"
