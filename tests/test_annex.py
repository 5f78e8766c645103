"""Data annex (issue 5) and inert text in xlsx and CSV (issue 6, CWE-1236).

Small hand-made frames in the columns of the real tables; each test states what it looks at.
"""

from __future__ import annotations

import math
import re
import zipfile

import openpyxl
import pandas as pd
import pytest

from pipeline import annex, output_files
from pipeline.changes import COLUMNS as CHANGE_COLUMNS
from pipeline.aggregate import COUNTRY_COLUMNS, COVERAGE_COLUMNS, REGIONAL_COLUMNS
from pipeline.findings import FINDING_COLUMNS
from pipeline.validate import OBSERVATION_COLUMNS, REVISION_COLUMNS, SUBMISSION_COLUMNS

NAN = math.nan
# Text a spreadsheet would run, or read as something other than text, if it were not stored as text.
DANGEROUS = ['=HYPERLINK("http://x","y")', "+1", "-x", "@SUM(A1)", "\tx", "\rx", "=1+1", "#N/A", "-2+3+cmd|' /C calc'!A0"]
SCRIPTS = ["Грузия — ГУВД", "საქართველო", "Հայաստան", "Ελληνικά", "🚨 ok", "مرحبا بالعالم", "שלום"]
OBSERVATION_CSV_COLUMNS = [*OBSERVATION_COLUMNS, "source", "origin"]  # what the run writes (history merged)
SHEET_CSV = {spec.name: spec.csv for spec in annex.SHEETS}


def _frames() -> dict[str, pd.DataFrame]:
    regional = pd.DataFrame(
        [
            # a total with a rate, a change and flags; the change over the same reporters is missing
            ["TIP_OFF", "TOTAL", 2025, 1234.0, 3, 13, "ARM;GEO;TUR", 12_345_678.0, 9.99555, 3, -3.25, 3, NAN, "bp", "e", 0, ""],
            # a total suppressed for confidentiality: no number, flag C
            ["TIP_VIC", "SEX=F", 2025, NAN, 2, 13, "ARM;GEO", NAN, NAN, 0, NAN, 0, NAN, "C", "", 0, ""],
            # a quantity with decimals (kg)
            ["DRG_SZ_HER", "TOTAL", 2025, 1520.25, 2, 13, "GEO;TUR", NAN, NAN, 0, 12.0, 2, 12.0, "", "", 1, "UNODC"],
        ],
        columns=REGIONAL_COLUMNS,
    )
    country = pd.DataFrame(
        [
            ["GEO", "TIP_OFF", "TOTAL", 2025, 0.0, "reported", 0.0, NAN, "", "", 3_700_000.0, 2025, "a real zero", "submission", ""],
            ["ARM", "TIP_OFF", "TOTAL", 2025, NAN, "confidential", NAN, NAN, "C", "", NAN, pd.NA, "", "submission", ""],
            ["TUR", "TIP_OFF", "TOTAL", 2025, 1234.0, "reported", 1.4567891, -3.25, "bp", "e", 85_000_000.0, 2024, DANGEROUS[0], "submission", ""],
        ],
        columns=COUNTRY_COLUMNS,
    ).astype({"population_year": "Int64"})
    observations = pd.DataFrame(
        [
            ["GEO", 2025, "TIP_OFF", "TOTAL", 0.0, "reported", "", "a real zero", "2025/GEO_2025.xlsx", "Data", "E2", "", "submission"],
            ["ARM", 2025, "TIP_OFF", "TOTAL", NAN, "not_available", "", "", "2025/ARM_2025.xlsx", "Data", "E2", "", "submission"],
            ["TUR", 2025, "TIP_OFF", "TOTAL", 1234.0, "reported", "bp", DANGEROUS[0], "2025/TUR_2025.xlsx", "Data", "E2", "", "submission"],
            ["GRC", 2024, "DRG_SZ_HER", "TOTAL", 1520.25, "reported", "p", "", "data_glotip.xlsx", "data_glotip_1", "L2", "UNODC GLOTIP", "history"],
        ]
        + [["TUR", 2025, "TIP_VIC", "TOTAL", 5.0, "reported", "", text, "2025/TUR_2025.xlsx", "Data", f"G{i}", "", "submission"] for i, text in enumerate(DANGEROUS + SCRIPTS, start=3)],
        columns=OBSERVATION_CSV_COLUMNS,
    )
    coverage = pd.DataFrame([["GEO", 2025, "TIP_OFF", "reported", "submission", ""], ["ALB", 2025, "TIP_OFF", "no_submission", "", ""]], columns=COVERAGE_COLUMNS)
    findings = pd.DataFrame(
        [
            ["value-text", "error", "TUR", 2025, "2025/TUR_2025.xlsx", "Data", "E7", "=1+1", "Text is not a number."],
            ["value-error", "error", "TUR", 2025, "2025/TUR_2025.xlsx", "Data", "E8", "#DIV/0!", "A spreadsheet error."],
            ["value-negative", "error", "GEO", 2025, "2025/GEO_2025.xlsx", "Data", "E9", "-5", "The value is negative."],
            ["file-unreadable", "error", "", pd.NA, "notes.xlsx", "", "", "", "Not a workbook."],
        ],
        columns=FINDING_COLUMNS,
    ).astype({"year": "Int64"})
    revisions = pd.DataFrame(
        [["BGR", "TIP_OFF", "TOTAL", 2024, 145.0, "reported", 151.0, 4.137931, "+6 cases added", "2025/BGR_2025.xlsx", "F2", "2024/BGR_2024.xlsx", "E2"]],
        columns=REVISION_COLUMNS,
    )
    submissions = pd.DataFrame(
        [
            ["2025/GEO_2025.xlsx", "GEO", 2025, "accepted", "", "2026-02-01", 81, 0, 1, "ab" * 32],
            ["notes.xlsx", "", pd.NA, "ignored", "not a workbook", "", 0, 1, 0, "cd" * 32],
        ],
        columns=SUBMISSION_COLUMNS,
    ).astype({"year": "Int64"})
    changes = pd.DataFrame(
        [["national", "BGR", "TIP_OFF", "TOTAL", 2024, "value", 145.0, 151.0, 6.0, "reported", "reported", "", "", "revision",
          "BGR TIP_OFF 2024: 145 → 151, revised in 2025/BGR_2025.xlsx Data!F2 (Previous year value)"]],
        columns=CHANGE_COLUMNS,
    )
    return {"regional": regional, "country": country, "observations": observations, "coverage": coverage, "findings": findings, "revisions": revisions,
            "submissions": submissions, "changes": changes}


def _write(path, ref, *, is_demonstration=False, **changes):
    frames = {**_frames(), **changes}
    return annex.write_data_annex(path, year=2025, ref=ref, is_demonstration=is_demonstration, **frames)


@pytest.fixture(scope="module")
def annex_file(tmp_path_factory, ref):
    return _write(tmp_path_factory.mktemp("annex") / "BSEC_Annual_Assessment_2025_data.xlsx", ref)


@pytest.fixture(scope="module")
def wb(annex_file):
    return openpyxl.load_workbook(annex_file)


def _rows(ws) -> list[dict[str, object]]:
    values = list(ws.values)
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def _cells(ws, column: str) -> list:
    header = [c.value for c in ws[1]]
    return [row[header.index(column)] for row in ws.iter_rows(min_row=2)]


def _calamine(path, sheet: str) -> pd.DataFrame:
    """A sheet as calamine reads it (the reader ingest uses), every cell as text."""
    return pd.read_excel(path, sheet_name=sheet, engine="calamine", dtype=str, keep_default_na=False)


def test_every_sheet_has_the_columns_of_its_csv_in_the_same_order(wb, tmp_path):
    assert wb.sheetnames == ["README", "Regional", "National", "Observations", "Coverage", "Findings", "Revisions", "Submissions", "Changes"]
    frames = _frames()
    for sheet, frame in zip(SHEET_CSV, frames.values(), strict=True):
        csv_header = output_files.write_csv(frame, tmp_path / SHEET_CSV[sheet]).read_text(encoding="utf-8").splitlines()[0].split(",")
        if sheet in ("Regional", "National", "Observations", "Changes"):  # the two reader columns sit right after indicator
            at = csv_header.index("indicator") + 1
            csv_header[at:at] = ["indicator_label", "unit"]
        assert [c.value for c in wb[sheet][1]] == csv_header, sheet
        assert wb[sheet].max_row == len(frame) + 1, sheet


def test_indicator_label_and_unit_come_from_the_catalogue(wb, ref):
    row = _rows(wb["Regional"])[0]
    assert (row["indicator"], row["indicator_label"], row["unit"]) == ("TIP_OFF", ref.indicator_by_code["TIP_OFF"].label, ref.indicator_by_code["TIP_OFF"].unit)
    assert _rows(wb["Observations"])[3]["unit"] == "kg"


def test_text_from_submissions_stays_text_and_no_sheet_holds_a_formula(wb, annex_file):
    comments = _cells(wb["Observations"], "comment")
    assert all(cell.data_type == "s" for cell in comments[4:4 + len(DANGEROUS)])
    # A carriage return is stored as _x000D_ (ECMA-376's escape), which Excel, LibreOffice and
    # calamine read back as the character; openpyxl shows inline strings' escapes as they are.
    assert _calamine(annex_file, "Observations")["comment"].tolist()[4:4 + len(DANGEROUS)] == DANGEROUS
    findings = {c.value: c.data_type for c in _cells(wb["Findings"], "value")}
    assert findings == {"=1+1": "s", "#DIV/0!": "s", "-5": "s", None: "n"}  # "#DIV/0!" is not an error value
    assert _rows(wb["Revisions"])[0]["comment"] == "+6 cases added"
    with zipfile.ZipFile(annex_file) as z:
        sheets = [name for name in z.namelist() if name.startswith("xl/worksheets/")]
        assert len(sheets) == 9
        for name in sheets:
            assert not re.search(r"<(\w+:)?f[ >/]", z.read(name).decode("utf-8")), name


def test_numbers_are_numbers_missing_is_empty_and_flags_are_verbatim(wb):
    regional = wb["Regional"]
    total, suppressed, quantity = (_cells(regional, c) for c in ("total", "flags", "rate_per_100k"))
    assert [c.value for c in total] == [1234, None, 1520.25]  # never 0, never "nan" for a suppressed total
    assert [c.data_type for c in total] == ["n", "n", "n"]
    assert [c.value for c in suppressed] == ["bp", "C", None]
    rate = quantity[0]
    assert (rate.value, rate.number_format) == (9.99555, annex.RATE_FORMAT)  # shown 10.0, full value kept
    assert [c.number_format for c in total[::2]] == [annex.COUNT_FORMAT, annex.DECIMAL_FORMAT]
    population = _cells(regional, "population")[0]
    assert (population.value, population.number_format) == (12_345_678, annex.COUNT_FORMAT)
    change = _cells(regional, "change_pct")[0]
    assert (change.value, change.number_format) == (-3.25, annex.RATE_FORMAT)

    national = _rows(wb["National"])
    assert [r["value"] for r in national] == [0, None, 1234]  # a real zero stays 0, confidential is empty
    assert [r["population_year"] for r in national] == [2025, None, 2024]
    year = _cells(wb["National"], "year")[0]
    assert (year.value, type(year.value), year.number_format) == (2025, int, "General")  # not 2,025
    assert [r["year"] for r in _rows(wb["Findings"])] == [2025, 2025, 2025, None]
    submissions = _rows(wb["Submissions"])
    assert [(r["year"], r["n_values"], r["date_submitted"]) for r in submissions] == [(2025, 81, "2026-02-01"), (None, 0, None)]
    assert _cells(wb["Submissions"], "n_values")[0].number_format == annex.COUNT_FORMAT


def test_header_is_bold_and_frozen_with_a_filter_over_the_data(wb):
    for spec in annex.SHEETS:
        ws = wb[spec.name]
        assert ws.freeze_panes == "A2", spec.name
        assert all(c.font.bold for c in ws[1]), spec.name
        assert ws.auto_filter.ref == f"A1:{ws.cell(row=1, column=ws.max_column).column_letter}{ws.max_row}", spec.name
        assert all(ws.column_dimensions[c.column_letter].width >= annex.MIN_WIDTH for c in ws[1]), spec.name


def test_a_table_with_no_rows_gets_its_header_and_filter(tmp_path, ref):
    path = _write(tmp_path / "a.xlsx", ref, revisions=pd.DataFrame(columns=REVISION_COLUMNS))
    ws = openpyxl.load_workbook(path)["Revisions"]
    assert [c.value for c in ws[1]] == REVISION_COLUMNS
    assert (ws.max_row, ws.auto_filter.ref) == (1, "A1:M1")


def test_two_writes_give_the_same_bytes(tmp_path, ref):
    first = _write(tmp_path / "one" / "a.xlsx", ref).read_bytes()
    second = _write(tmp_path / "two" / "a.xlsx", ref).read_bytes()
    assert first == second


def test_every_script_is_kept_intact(wb):
    comments = [c.value for c in _cells(wb["Observations"], "comment")]
    assert comments[4 + len(DANGEROUS):] == SCRIPTS


def test_readme_explains_sheets_columns_flags_symbols_and_source(wb, ref):
    ws = wb["README"]
    text = "\n".join(" | ".join(str(v) for v in row if v is not None) for row in ws.values)
    assert wb.sheetnames[0] == "README" and "2025" in ws["A1"].value
    for spec in annex.SHEETS:
        assert f"{spec.name} | data/{spec.csv}" in text
    for flag in ref.flags:
        assert f"{flag.code} | {flag.word} | {flag.meaning}" in text
    for status in ("not_available", "not_applicable", "confidential", "rejected"):
        assert f"{status} | value empty" in text
    assert "data/*.csv" in text and "Source: BSEC member-state submissions" in text
    assert "published data: UNODC GLOTIP" in text  # the sources of history values in the observations
    assert annex.DEMONSTRATION_NOTICE not in text
    # every column of every sheet is listed with a meaning
    listed = {(row[0], row[1]): row[2] for row in ws.values if row[0] in SHEET_CSV and row[1] and row[2]}
    for sheet in SHEET_CSV:
        for column in (c.value for c in wb[sheet][1]):
            assert listed.get((sheet, column)), (sheet, column)


def test_readme_says_when_the_data_are_a_demonstration(tmp_path, ref):
    ws = openpyxl.load_workbook(_write(tmp_path / "demo.xlsx", ref, is_demonstration=True))["README"]
    assert annex.DEMONSTRATION_NOTICE in [row[0] for row in ws.values]


@pytest.mark.parametrize(
    "columns",
    [REGIONAL_COLUMNS, COUNTRY_COLUMNS, OBSERVATION_CSV_COLUMNS, COVERAGE_COLUMNS, FINDING_COLUMNS, REVISION_COLUMNS, SUBMISSION_COLUMNS],
)
def test_every_column_of_the_real_tables_has_a_meaning(columns):
    """A column added to a table needs a line in the README (`annex.COLUMN_MEANINGS`)."""
    assert [c for c in columns if not annex.column_meaning("any", c)] == []


# -- store: inert text on the append path and in CSV ----------------------------------------------
def test_csv_quotes_formula_like_text_and_read_csv_gives_it_back(tmp_path):
    texts = [*DANGEROUS, "a\r=1+1", "a\r\nb", "'=already quoted", "''-y", "'quoted'", "-3", "+1.5", "a-b", "Ελληνικά", "plain"]
    frame = pd.DataFrame({"comment": texts, "value": [-3.0] * len(texts), "year": [2025] * len(texts)})
    path = output_files.write_csv(frame, tmp_path / "t.csv")
    raw = path.read_bytes().decode("utf-8")
    assert raw.splitlines()[1].startswith("\"'=HYPERLINK(")  # CSV-quoted because of the commas and quotes
    lines = raw.split("\n")
    assert lines[2] == "+1,-3,2025"  # text that is only a number is not quoted: it runs nothing
    assert lines[3] == "'-x,-3,2025"
    assert lines[4] == "'@SUM(A1),-3,2025"
    assert lines[5] == "'\tx,-3,2025"
    assert "\"'\rx\"" in raw and "\"a\r=1+1\"" in raw  # a carriage return never ends a row
    assert ",-3,2025" in raw and "'-3" not in raw  # numbers are never quoted
    back = output_files.read_csv(path)
    assert back["comment"].tolist() == texts
    assert back["value"].tolist() == [-3.0] * len(texts) and back["year"].tolist() == [2025] * len(texts)


def test_csv_starting_with_equals_is_written_with_a_quote(tmp_path):
    path = output_files.write_csv(pd.DataFrame({"comment": ["=1+1"], "flags": ["bp"]}), tmp_path / "t.csv")
    assert path.read_text(encoding="utf-8").splitlines() == ["comment,flags", "'=1+1,bp"]
    assert output_files.read_csv(path)["comment"].tolist() == ["=1+1"]


def test_inert_text_and_restore_text_are_inverse():
    for text in [*DANGEROUS, *SCRIPTS, "'", "''", "'=", "'''=x", "-", "=", "", "-3", "1e5", ".5", "-.5e-3", "x'"]:
        assert output_files.restore_text(output_files.inert_text(text)) == text, text
        assert not re.match(r"[=+\-@\t\r]", output_files.inert_text(text)) or re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text), text


# -- the workbook as written -------------------------------------------------------------------------
def test_a_number_keeps_16_significant_digits(tmp_path, ref):
    """XlsxWriter writes 16 significant digits: more than Excel shows (15), and the CSV keeps 6 decimals."""
    frames = _frames()
    frames["regional"].loc[0:1, "rate_per_100k"] = [9.995551234567891, 0.1 + 0.2]
    ws = openpyxl.load_workbook(_write(tmp_path / "a.xlsx", ref, regional=frames["regional"]))["Regional"]
    kept, rounded = (c.value for c in _cells(ws, "rate_per_100k")[:2])
    assert kept == 9.995551234567891
    assert rounded == pytest.approx(0.1 + 0.2, rel=1e-15)


def test_text_with_spaces_line_breaks_and_controls_comes_back_as_written(tmp_path, ref):
    frames = _frames()
    texts = ["  leading and trailing  ", "two\nlines", "cr\rinside", "tab\tinside", "bell\x07 dropped", "<b>&amp;</b> \"q\" 'a'"]
    frames["findings"] = pd.concat([frames["findings"]] * 2, ignore_index=True).iloc[: len(texts)]
    frames["findings"]["message"] = texts
    path = _write(tmp_path / "a.xlsx", ref, findings=frames["findings"])
    assert _calamine(path, "Findings")["message"].tolist() == [*texts[:4], "bell dropped", texts[5]]


def test_the_annex_reads_the_same_with_calamine(annex_file):
    """A second reader (the one ingest uses) sees the same sheets, header and numbers."""
    sheets = pd.read_excel(annex_file, sheet_name=None, engine="calamine")
    assert list(sheets) == ["README", "Regional", "National", "Observations", "Coverage", "Findings", "Revisions", "Submissions", "Changes"]
    assert sheets["Regional"]["total"].tolist()[0] == 1234 and math.isnan(sheets["Regional"]["total"].tolist()[1])
    assert sheets["Observations"]["comment"].tolist()[4] == DANGEROUS[0]


def test_the_package_is_well_formed(annex_file):
    from xml.dom import minidom

    with zipfile.ZipFile(annex_file) as z:
        assert z.testzip() is None
        names = z.namelist()
        assert "[Content_Types].xml" in names
        for name in names:
            minidom.parseString(z.read(name))  # every part parses as XML
        assert b'<definedName name="_xlnm._FilterDatabase" localSheetId="1" hidden="1">' in z.read("xl/workbook.xml")


def test_the_changes_sheet_holds_the_figures_changed_since_the_release_and_only_its_header_without_one(wb, ref, tmp_path):
    row = _rows(wb["Changes"])[0]
    assert (row["country_iso3"], row["indicator"], row["year"], row["measure"], row["old_value"], row["new_value"], row["cause"]) == (
        "BGR", "TIP_OFF", 2024, "value", 145, 151, "revision")
    assert "2025/BGR_2025.xlsx Data!F2" in row["evidence"]
    without = openpyxl.load_workbook(_write(tmp_path / "none.xlsx", ref, changes=None))
    assert [c.value for c in without["Changes"][1]][:3] == ["level", "country_iso3", "indicator"] and without["Changes"].max_row == 1
