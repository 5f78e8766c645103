"""Ingest: files found recursively, sheets and columns found by name, cells kept, bad files as findings."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import ingest, workbook_contract, validate
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
    assert raw.cover[workbook_contract.COVER_COUNTRY].value == "GEO" and raw.cover[workbook_contract.COVER_COUNTRY].cell == "B4"
    assert raw.cover[workbook_contract.COVER_YEAR].value == 2025
    row = raw.data.set_index(["code", "breakdown"]).loc[("TIP_VIC", "TOTAL")]
    assert (row["value"], row["flag"], row["comment"]) == (12, "p", "police only")
    assert row["value_cell"] == f"E{row['row']}" and row["flag_cell"] == f"G{row['row']}"
    assert raw.meta[workbook_contract.META_VERSION_KEY] == workbook_contract.TEMPLATE_VERSION


def test_reordered_columns_rows_extra_columns_and_renamed_sheet_still_read(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 12})
    wb = openpyxl.load_workbook(path)
    ws = wb[workbook_contract.DATA_SHEET]
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


def test_a_header_that_still_names_its_column_is_read_as_it_with_an_info_on_its_cell(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2026, {("TIP_VIC", "TOTAL"): (12, "p", None)}, previous={("TIP_VIC", "TOTAL"): 9})
    wb = openpyxl.load_workbook(path)
    ws = wb[workbook_contract.DATA_SHEET]
    ws["E1"], ws["F1"], ws["G1"] = "Value (2026)", "Previous year value (2025)", "Flag:"
    wb.save(path)
    raw = _read(path, ref)
    assert _codes(raw) == [("header-renamed", "Data", "E1"), ("header-renamed", "Data", "F1"), ("header-renamed", "Data", "G1")]
    assert [f.severity for f in raw.findings] == ["info"] * 3
    assert raw.findings[0].value == "Value (2026)" and "'Value (2026)'" in raw.findings[0].message and "Value column" in raw.findings[0].message
    row = raw.data.set_index(["code", "breakdown"]).loc[("TIP_VIC", "TOTAL")]
    assert (row["value"], row["previous_value"], row["flag"]) == (12, 9, "p")


def test_a_header_that_names_no_column_is_not_guessed(ref, tmp_path):
    """A bracket or a year is all that is left out: "Values" or "Value added" are other columns."""
    path = write_submission(tmp_path, ref, "GEO", 2026, {})
    wb = openpyxl.load_workbook(path)
    wb[workbook_contract.DATA_SHEET]["E1"] = "Value added"
    wb.save(path)
    assert _codes(_read(path, ref)) == [("header-missing", "Data", "A1")]


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


def test_a_file_this_user_may_not_read_is_one_finding_not_a_stop(ref, tmp_path, monkeypatch):
    # The tests run as root, whom permission bits do not stop: the read raises as for another user.
    path = write_submission(tmp_path, ref, "GEO", 2025, {})

    def refused(_path):
        raise PermissionError(13, "Permission denied", str(_path))

    monkeypatch.setattr(ingest, "file_sha256", refused)
    raw = _read(path, ref)
    assert [f.code for f in raw.findings] == ["file-unreadable"] and not raw.readable
    assert "GEO_2025.xlsx cannot be opened on this computer (Permission denied)" in raw.findings[0].message


def test_missing_sheets_and_header_are_findings(ref, tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    wb.active["A1"] = "nothing here"
    wb.save(tmp_path / "blank.xlsx")
    raw = _read(tmp_path / "blank.xlsx", ref)
    assert _codes(raw) == [("sheet-missing", "Cover", ""), ("sheet-missing", "Data", "")]

    path = write_submission(tmp_path, ref, "GEO", 2025, {})
    wb = openpyxl.load_workbook(path)
    wb[workbook_contract.DATA_SHEET]["B1"] = "Disaggregation"
    wb.save(path)
    assert _codes(_read(path, ref)) == [("header-missing", "Data", "A1")]


def test_error_cells_and_formulas_without_result_are_marked(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_OFF", "TOTAL"): "=1/0", ("TIP_SUS", "TOTAL"): 5})
    raw = _read(path, ref)
    value = raw.data.set_index(["code", "breakdown"]).loc[("TIP_OFF", "TOTAL"), "value"]
    assert isinstance(value, ingest.CellError)


def test_previous_year_value_column_is_read_with_its_cells(ref, tmp_path):
    previous = {("TIP_VIC", "TOTAL"): 12, ("TIP_OFF", "TOTAL"): ":", ("DRG_SZ_HER", "TOTAL"): 1.5, ("TIP_SUS", "TOTAL"): "=1/0"}
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 14}, previous=previous)
    raw = _read(path, ref)
    rows = raw.data.set_index(["code", "breakdown"])
    vic = rows.loc[("TIP_VIC", "TOTAL")]
    assert (vic["value"], vic["previous_value"], vic["previous_cell"]) == (14, 12, f"F{vic['row']}")
    assert rows.loc[("TIP_OFF", "TOTAL"), "previous_value"] == ":"
    assert rows.loc[("DRG_SZ_HER", "TOTAL"), "previous_value"] == 1.5
    assert isinstance(rows.loc[("TIP_SUS", "TOTAL"), "previous_value"], ingest.CellError)  # a formula without a result
    assert rows.loc[("TIP_PRO", "TOTAL"), "previous_value"] is None  # blank


def test_workbook_without_previous_year_column_still_reads(ref, tmp_path):
    """Template 2026.1 had no Previous year value column: nothing is missing, nothing is revised."""
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): (12, "p", "police only")}, previous={("TIP_VIC", "TOTAL"): 10})
    wb = openpyxl.load_workbook(path)
    wb[workbook_contract.DATA_SHEET].delete_cols(6)  # F: Previous year value
    wb[workbook_contract.META_SHEET]["B1"] = "2026.1"
    wb.save(path)
    raw = _read(path, ref)
    assert raw.findings == []
    row = raw.data.set_index(["code", "breakdown"]).loc[("TIP_VIC", "TOTAL")]
    assert (row["value"], row["flag"], row["comment"], row["flag_cell"]) == (12, "p", "police only", f"F{row['row']}")
    assert row["previous_value"] is None and row["previous_cell"] == ""


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


@pytest.mark.libreoffice
@pytest.mark.parametrize("fmt", ["xlsx", "ods", "xls"])
def test_error_cells_computed_by_libreoffice_are_findings_in_every_kind(ref, tmp_path, fmt):
    soffice = require_soffice()
    formulas = {("TIP_OFF", "TOTAL"): "=1/0", ("TIP_SUS", "TOTAL"): "=NA()", ("TIP_PRO", "TOTAL"): "=SQRT(-1)"}
    original = write_submission(tmp_path / "openpyxl", ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 12, **formulas})
    rows = ingest.read_submission(original, original.parent, ref).data.set_index(["code", "breakdown"])
    expected = sorted(("value-error-cell", workbook_contract.DATA_SHEET, rows.loc[key, "value_cell"]) for key in formulas)
    # LibreOffice computes the formulas; calamine alone reads every one of them as a blank.
    converted = _convert(soffice, original, tmp_path / "lo", fmt, tmp_path / f"profile-{fmt}")

    raw = ingest.read_submission(converted, converted.parent, ref)
    sub = validate.validate_submission(raw, ref)
    assert sorted(_codes(sub)) == expected
    shown = raw.data.set_index(["code", "breakdown"]).loc[("TIP_OFF", "TOTAL"), "value"]
    assert isinstance(shown, ingest.CellError) and shown == "#DIV/0!"


_ODS_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
  xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
  xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0">
 <office:body><office:spreadsheet>
  <table:table table:name="Cover">
   <table:table-row><table:table-cell table:formula="of:=1/0" calcext:value-type="error"><text:p>#DIV/0!</text:p></table:table-cell></table:table-row>
  </table:table>
  <table:table table:name="Data">
   <table:table-column table:number-columns-repeated="16384"/>
   <table:table-header-rows><table:table-row><table:table-cell office:value-type="string"><text:p>Code</text:p></table:table-cell></table:table-row></table:table-header-rows>
   <table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="16384"/></table:table-row>
   <table:table-row>
    <table:table-cell table:number-columns-repeated="2"/>
    <table:table-cell table:number-columns-spanned="2" table:formula="of:=NA()" office:value-type="string" calcext:value-type="error"><text:p>#N/A</text:p></table:table-cell>
    <table:covered-table-cell/>
    <table:table-cell table:formula="of:=[.Z1]" office:value-type="string"><text:p>#REF!</text:p></table:table-cell>
    <table:table-cell office:value-type="string"><text:p>#N/A typed</text:p><office:annotation><text:p>Err:502</text:p></office:annotation></table:table-cell>
    <table:table-cell table:number-columns-repeated="1000000000"/>
   </table:table-row>
   <table:table-row table:number-rows-repeated="2">
    <table:table-cell table:formula="of:=SQRT(-1)" calcext:value-type="error"><text:p>Err:502</text:p></table:table-cell>
   </table:table-row>
   <table:table-row table:number-rows-repeated="1000000000"><table:table-cell table:number-columns-repeated="16384"/></table:table-row>
  </table:table>
  <table:table table:name="Other">
   <table:table-row><table:table-cell table:formula="of:=1/0" calcext:value-type="error"><text:p>#DIV/0!</text:p></table:table-cell></table:table-row>
  </table:table>
 </office:spreadsheet></office:body>
</office:document-content>
"""


def test_ods_scan_follows_repeats_and_covered_cells_without_expanding_them():
    # The content repeats a row a billion times: a scan that expanded the repeats would not finish.
    found = ingest.scan_ods_content(io.BytesIO(_ODS_CONTENT.encode()), "Data")
    # Row 1 is the header, then 1,048,000 empty rows: the next row is 1,048,002. Column C spans two
    # columns (D covered), E's formula shows #REF! (no calcext type, as older files), F is typed text.
    assert found == {"C1048002": "#N/A", "E1048002": "#REF!", "A1048003": "Err:502", "A1048004": "Err:502"}
    assert all(isinstance(value, ingest.CellError) for value in found.values())


@pytest.mark.libreoffice
@pytest.mark.parametrize("fmt", ["xlsx", "ods", "xls"])
def test_merged_value_cells_are_found_in_every_kind(ref, tmp_path, fmt):
    """A merge over Value cells of three rows: one warning naming the range, the top-left value kept."""
    soffice = require_soffice()
    original = write_submission(tmp_path / "openpyxl", ref, "GEO", 2025, {("TIP_OFF", "TOTAL"): 7})
    wb = openpyxl.load_workbook(original)
    ws = wb[workbook_contract.DATA_SHEET]
    first = next(r[0].row for r in ws.iter_rows(min_row=2) if (r[0].value, r[1].value) == ("TIP_OFF", "TOTAL"))
    ws.merge_cells(f"E{first}:E{first + 2}")
    ws.merge_cells(f"C{first}:C{first + 2}")  # the Indicator column is not read: no finding
    wb.save(original)
    converted = _convert(soffice, original, tmp_path / "lo", fmt, tmp_path / f"profile-{fmt}")
    raw = ingest.read_submission(converted, converted.parent, ref)
    assert _codes(raw) == [("cells-merged", workbook_contract.DATA_SHEET, f"E{first}:E{first + 2}")]
    assert raw.data.set_index(["code", "breakdown"]).loc[("TIP_OFF", "TOTAL"), "value"] == 7


def test_the_template_sits_far_inside_every_limit(ref, tmp_path):
    """The real template sits far inside every limit: its inspection measures the four sheets ingest
    reads (not the helper sheets `_lists` and `_checks`, which it never reads) and their extents."""
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 12})
    shape = ingest.inspect_workbook(path, path.read_bytes())
    assert shape.kind == "xlsx" and not shape.macros
    assert set(shape.extents) == {workbook_contract.COVER_SHEET, workbook_contract.DATA_SHEET, workbook_contract.INSTRUCTIONS_SHEET, workbook_contract.META_SHEET}
    rows, columns = shape.extents[workbook_contract.DATA_SHEET]
    assert rows * 100 < ingest.MAX_SHEET_ROWS and columns * 100 <= ingest.MAX_SHEET_COLUMNS
    assert path.stat().st_size * 100 < ingest.MAX_FILE_BYTES


# -- cells as pandas reads them (ingest reads with calamine and converts as pandas would) -------------
def _same_cells(fast: list[list], slow: list[list]) -> bool:
    """Equal grids, value and type for type (NaN equal to NaN)."""
    def key(value):
        return (type(value), "nan") if isinstance(value, float) and value != value else (type(value), value)

    return [[key(v) for v in row] for row in fast] == [[key(v) for v in row] for row in slow]


def _sheets_both_ways(content: bytes):
    """(what ingest reads, what pandas.read_excel reads): each a {sheet: grid} or the refusal message."""
    results = []
    for read in (ingest._read_sheets, ingest._read_sheets_with_pandas):
        try:
            sheets = read(content)
            results.append({name: sheets[name] for name in sheets})
        except ingest._Refused as refused:
            results.append(f"{refused.code}: {refused}")
    return results


def test_missing_value_strings_are_pandas_own():
    """Each string ingest reads as missing is one pandas reads as missing, and nothing more: a
    near-miss (another case, a space around it) stays text in both."""
    near_misses = ["na", "Na", " NA", "N/A ", "NONE", "-", ":"]
    wb = openpyxl.Workbook()
    wb.active.title = workbook_contract.DATA_SHEET
    for j, text in enumerate([*sorted(ingest._MISSING_TEXT - {""}), *near_misses], start=1):
        wb.active.cell(row=1, column=j, value=text)
    stream = io.BytesIO()
    wb.save(stream)
    fast, slow = _sheets_both_ways(stream.getvalue())
    assert _same_cells(fast[workbook_contract.DATA_SHEET], slow[workbook_contract.DATA_SHEET])
    row = fast[workbook_contract.DATA_SHEET][0]
    assert all(value != value for value in row[: len(ingest._MISSING_TEXT) - 1])  # NaN
    assert row[len(ingest._MISSING_TEXT) - 1:] == near_misses


_TRICKY_CELLS = [
    None, True, False, 0, 1, 1.0, 0.0, -0.0, 2.5, 1e20, float("inf"), 12.125, "", " ", "NA", "N/A", "n/a",
    "null", "None", "nan", "#N/A", "<NA>", "1.#IND", "TOTAL", " TIP_VIC ", "\ufeffCode", '\ufeff"Code"x',
    dt.date(2024, 2, 29), dt.datetime(2025, 1, 31, 13, 45), dt.time(9, 30), dt.timedelta(days=3, seconds=5), "=1/0",
]


@settings(max_examples=40, deadline=None)
@given(
    cells=st.lists(st.tuples(st.integers(1, 12), st.integers(1, 6), st.sampled_from(_TRICKY_CELLS)), max_size=30),
    sheet=st.sampled_from([workbook_contract.DATA_SHEET, workbook_contract.COVER_SHEET, workbook_contract.META_SHEET]),
)
def test_cells_read_as_pandas_reads_them(cells, sheet):
    """Differential: every sheet as ingest reads it equals what pandas.read_excel(engine="calamine",
    header=None, dtype=object) gives, value and type (NaN for the missing-value strings, int for
    integral numbers, datetime for dates, bools beside ints as they are)."""
    wb = openpyxl.Workbook()
    wb.active.title = sheet
    for row, column, value in cells:
        wb.active.cell(row=row, column=column).value = value
    wb.create_sheet("Empty")
    stream = io.BytesIO()
    wb.save(stream)
    fast, slow = _sheets_both_ways(stream.getvalue())
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert list(fast) == list(slow) and all(_same_cells(fast[name], slow[name]) for name in slow)


@pytest.mark.parametrize("first", ['\ufeff"Code', '\ufeff"Code"', "\ufeff", "\ufeffNA"])
def test_byte_order_mark_in_the_first_cell_as_pandas(first):
    """pandas' parser treats a byte-order mark in A1 as the start of a file: ingest does the same,
    also when that makes the workbook unreadable (an opening quote that never closes)."""
    wb = openpyxl.Workbook()
    wb.active.title = workbook_contract.DATA_SHEET
    wb.active["A1"], wb.active["B1"] = first, "Breakdown"
    stream = io.BytesIO()
    wb.save(stream)
    fast, slow = _sheets_both_ways(stream.getvalue())
    assert fast == slow if isinstance(slow, str) else _same_cells(fast[workbook_contract.DATA_SHEET], slow[workbook_contract.DATA_SHEET])


def test_a_submission_keeps_its_rows_as_read_and_builds_the_frame_from_them():
    from pipeline.ingest import RAW_COLUMNS, RawSubmission

    row = (2, "TIP_VIC", "", 5, None, "", "", "E2", "F2", "A2", "D2", None, "H2")
    raw = RawSubmission(file="X.xlsx", sha256="", kind="workbook", rows=[row])
    assert raw.data_rows() == [dict(zip(RAW_COLUMNS, row, strict=True))]  # the cell's own int, not the frame's type
    assert raw.data["code"].tolist() == ["TIP_VIC"] and list(raw.data.columns) == RAW_COLUMNS
    raw.rows = []  # other rows: another frame
    assert raw.data.empty and list(raw.data.columns) == RAW_COLUMNS
    raw.data = pd.DataFrame([row], columns=RAW_COLUMNS)  # a frame given: validation reads it
    assert raw.rows is None and raw.data_rows()[0]["value"] == 5
    assert RawSubmission(file="X.xlsx", sha256="", kind="other").data_rows() == []


def test_each_kind_of_cell_reads_as_the_pipeline_expects(ref, tmp_path):
    """What validation gets for each kind of Value cell: numbers whole -> int, else float; dates ->
    datetime at midnight; datetimes, times, bools and text as they are; blank and missing-value text
    -> None; an error cell or a formula without a cached value -> a CellError naming it."""
    kinds = {
        "int": (12, 12),
        "float": (2.5, 2.5),
        "whole float": (3.0, 3),
        "negative zero": (-0.0, 0),
        "bool": (True, True),
        "date": (dt.date(2024, 2, 29), dt.datetime(2024, 2, 29)),
        "datetime": (dt.datetime(2025, 1, 31, 13, 45), dt.datetime(2025, 1, 31, 13, 45)),
        "time": (dt.time(9, 30), dt.time(9, 30)),
        "text": (" 1 154 ", " 1 154 "),
        "not available": (":", ":"),
        "missing-value text": ("N/A", None),
        "blank": (None, None),
        "formula without a cached value": ("=1/0", ingest.NO_CACHED_RESULT),
    }
    kinds["error cell"] = (987654321, ingest.CellError("#DIV/0!"))  # the number is made an error below
    path = write_submission(tmp_path, ref, "GEO", 2025, {})
    wb = openpyxl.load_workbook(path)
    ws = wb[workbook_contract.DATA_SHEET]
    rows = {}
    for (kind, (written, _)), row in zip(kinds.items(), range(2, 2 + len(kinds)), strict=True):
        ws[f"E{row}"] = written
        rows[kind] = row
    data_part = f"xl/worksheets/sheet{wb.sheetnames.index(workbook_contract.DATA_SHEET) + 1}.xml"
    wb.save(path)
    # An error value as spreadsheet programs cache it (openpyxl cannot write one): `t="e"` and its text.
    with zipfile.ZipFile(path) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    cell = f'<c r="E{rows["error cell"]}"'.encode()
    parts[data_part], found = re.subn(re.escape(cell) + rb'([^>]*?)(?: t="n")?><v>987654321</v>', cell + rb'\1 t="e"><v>#DIV/0!</v>', parts[data_part])
    assert found == 1
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)

    raw = _read(path, ref)
    assert raw.findings == []
    values = {row[0]: row[3] for row in raw.rows}  # RAW_COLUMNS: row, ..., value
    assert set(rows.values()) <= set(values)
    for kind, (_, expected) in kinds.items():
        got = values.get(rows[kind])
        assert type(got) is type(expected) and got == expected, (kind, got)


def test_one_scan_of_an_xlsx_sheet_finds_its_extent_merges_and_error_cells():
    """The inspection's scan of a sheet, in the forms spreadsheet programs and hand-made files use:
    any namespace prefix, attributes in any order and quoting. An error cell or a formula without a
    cached value is found where its `r` says; a cell without `r` has no reference to name."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    sheet = (
        f'<worksheet xmlns="{ns}" xmlns:x="{ns}"><sheetData>'
        '<row r="2"><c r="E2" t="e"><v>#DIV/0!</v></c><c s="1" r=\'F2\'><f>1/0</f><v></v></c><c r="G2"><f>1+1</f><v>2</v></c></row>'
        '<x:row r="3"><x:c r="e3" t="e"><x:v>#N/A</x:v></x:c><x:c t="e"><x:v>#REF!</x:v></x:c></x:row>'
        '<row r="9"><c r="B9" t="e"/><c r="C9" s="2"/></row>'
        '</sheetData><mergeCells><mergeCell ref="A5:B6"/></mergeCells></worksheet>'
    )
    wb = openpyxl.Workbook()
    wb.active.title = workbook_contract.DATA_SHEET
    wb.active["A1"] = "x"
    stream = io.BytesIO()
    wb.save(stream)
    with zipfile.ZipFile(stream) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    content = io.BytesIO()
    with zipfile.ZipFile(content, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    shape = ingest.inspect_workbook(Path("hand-made.xlsx"), content.getvalue())
    assert shape.extents[workbook_contract.DATA_SHEET] == (3, 7)  # up to G2 and row 3 (F3 has no r: one right of E3)
    assert shape.merged[workbook_contract.DATA_SHEET] == [(4, 0, 5, 1)]
    errors = {ingest.cell_ref(*position): error for position, error in shape.errors[workbook_contract.DATA_SHEET].items()}
    assert errors == {"E2": "#DIV/0!", "F2": ingest.NO_CACHED_RESULT, "E3": "#N/A", "B9": "#ERROR"}
    assert all(isinstance(error, ingest.CellError) for error in errors.values())
    content_bytes = content.getvalue()
    assert ingest._error_cells(content_bytes, shape, workbook_contract.DATA_SHEET, {4}) == {"E2": "#DIV/0!", "E3": "#N/A"}
