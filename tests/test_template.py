"""The submission workbook: sheets, rows, what is editable, drop-downs, the hidden version."""

from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline import workbook_contract, output_files
from pipeline.cli import main
from pipeline.template import is_demonstration_run, load_previous, read_previous_observations, write_template


@pytest.fixture(scope="module")
def workbook(ref, tmp_path_factory):
    path = write_template(ref, "GEO", 2025, tmp_path_factory.mktemp("tpl"))
    return openpyxl.load_workbook(path)


def test_file_is_named_by_country_and_year(ref, tmp_path):
    assert write_template(ref, "MKD", 2026, tmp_path).name == "MKD_2026.xlsx"


def test_sheets_and_hidden_template_version(workbook):
    assert workbook.sheetnames[:3] == [workbook_contract.COVER_SHEET, workbook_contract.DATA_SHEET, workbook_contract.INSTRUCTIONS_SHEET]
    meta = workbook[workbook_contract.META_SHEET]
    assert meta.sheet_state == "hidden"
    assert {row[0]: row[1] for row in meta.iter_rows(values_only=True)}[workbook_contract.META_VERSION_KEY] == workbook_contract.TEMPLATE_VERSION


def test_cover_has_country_and_year_locked_and_contact_fields_open(workbook):
    cover = workbook[workbook_contract.COVER_SHEET]
    fields = {row[0].value: row[1] for row in cover.iter_rows(min_row=1, max_col=2) if row[0].value}
    assert fields[workbook_contract.COVER_COUNTRY].value == "GEO"
    assert fields[workbook_contract.COVER_YEAR].value == 2025
    assert fields[workbook_contract.COVER_COUNTRY].protection.locked and fields[workbook_contract.COVER_YEAR].protection.locked
    for label in workbook_contract.COVER_FILL_FIELDS:
        assert not fields[label].protection.locked, label
    assert cover.protection.sheet


def test_one_data_row_per_indicator_and_breakdown(ref, workbook):
    ws = workbook[workbook_contract.DATA_SHEET]
    header = [c.value for c in ws[1]]
    assert header == list(workbook_contract.DATA_COLUMNS)
    keys = [(r[0], r[1]) for r in ws.iter_rows(min_row=2, values_only=True)]
    expected = [(ind.code, key) for ind in ref.indicators for key in ref.breakdowns_of(ind)]
    assert keys == expected
    assert ("TIP_VIC", "EXPL=SEX") in keys and ("TIP_CON", "SEX=F") in keys and ("TIP_PRO", "SEX=M") in keys
    definitions = [r[header.index(workbook_contract.COL_DEFINITION)] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert all(definitions)


def test_only_value_flag_and_comment_are_editable(workbook):
    ws = workbook[workbook_contract.DATA_SHEET]
    assert ws.protection.sheet
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2, max_row=6):
        for name, cell in zip(header, row, strict=True):
            assert cell.protection.locked == (name not in workbook_contract.EDITABLE_DATA_COLUMNS), (name, cell.coordinate)


def test_flag_drop_down_and_value_rule_with_input_message(workbook):
    ws = workbook[workbook_contract.DATA_SHEET]
    validations = ws.data_validations.dataValidation
    flag = [dv for dv in validations if dv.type == "list"]
    assert len(flag) == 1 and flag[0].formula1 == "FlagList" and "G2" in flag[0].sqref
    lists = workbook[workbook_contract.LISTS_SHEET]
    assert "provisional" in [r[0] for r in lists.iter_rows(values_only=True)]
    numeric = [dv for dv in validations if dv.type in ("whole", "decimal")]
    assert {dv.type for dv in numeric} == {"whole", "decimal"}
    for dv in numeric:
        assert dv.operator == "greaterThanOrEqual" and dv.formula1 == "0"
        assert dv.showInputMessage and dv.prompt and dv.showErrorMessage
    assert any("E2" in dv.sqref for dv in numeric)
    previous = [dv for dv in numeric if "F2" in dv.sqref]
    assert len(previous) == 1 and previous[0].promptTitle == "Previous year value" and "2024" in previous[0].prompt
    assert all(len(dv.prompt) <= 255 and len(dv.promptTitle) <= 32 for dv in numeric)  # Excel's limits


def test_previous_year_column_right_of_value_with_a_note(workbook):
    ws = workbook[workbook_contract.DATA_SHEET]
    header = [c.value for c in ws[1]]
    assert header.index(workbook_contract.COL_PREVIOUS) == header.index(workbook_contract.COL_VALUE) + 1
    note = ws.cell(row=1, column=header.index(workbook_contract.COL_PREVIOUS) + 1).comment.text
    assert "2024" in note and "accepted last year" in note and "Comment column" in note and "<5" in note
    # Without --previous the column is empty.
    assert all(r[header.index(workbook_contract.COL_PREVIOUS)] is None for r in ws.iter_rows(min_row=2, values_only=True))


def test_instructions_explain_blank_zero_flags_and_revisions(workbook):
    text = "\n".join(str(r[0]) for r in workbook[workbook_contract.INSTRUCTIONS_SHEET].iter_rows(values_only=True) if r[0])
    assert "not available" in text and "0 means a real zero" in text
    assert "p  provisional" in text and "C  confidential" in text
    assert "Previous year value shows the 2024 figure as accepted last year" in text


# -- the Previous year value column pre-filled from last year's run ----------------------------------
def _observation(iso3, year, indicator, breakdown, value, status, flags="", origin="submission"):
    return {"country_iso3": iso3, "year": year, "indicator": indicator, "breakdown": breakdown, "value": value, "status": status,
            "flags": flags, "comment": "", "source_file": f"{iso3}_{year}.xlsx", "sheet": "Data", "cell": "E2", "source": "", "origin": origin}


@pytest.fixture
def last_run(tmp_path):
    """An observations.csv as `crimetrends run --year 2024` writes it (every year, history rows too)."""
    nan = float("nan")
    rows = [
        _observation("GEO", 2024, "TIP_VIC", "TOTAL", 12.0, "reported", "p"),
        _observation("GEO", 2024, "TIP_VIC", "SEX=F", 7.0, "confidential", "C"),  # confidential, number known
        _observation("GEO", 2024, "TIP_VIC", "SEX=M", nan, "confidential"),  # "<5": no number to show
        _observation("GEO", 2024, "TIP_OFF", "TOTAL", nan, "not_available"),
        _observation("GEO", 2024, "TIP_PRO", "TOTAL", nan, "rejected"),
        _observation("GEO", 2024, "TER_OFF", "TOTAL", nan, "not_applicable", "m"),
        _observation("GEO", 2024, "DRG_SZ_HER", "TOTAL", 1.125, "reported"),
        _observation("GEO", 2024, "SOM_OFF", "TOTAL", 0.0, "reported"),
        _observation("GEO", 2024, "CYB_OFF", "TOTAL", 300.0, "reported", origin="history"),  # published, not the state's
        _observation("GEO", 2023, "FA_OFF", "TOTAL", 40.0, "reported"),  # another year
        _observation("ROU", 2024, "FA_OFF", "TOTAL", 90.0, "reported"),  # another state
    ]
    path = output_files.write_csv(pd.DataFrame(rows), tmp_path / "outputs" / "2024" / "data" / "observations.csv")
    _write_manifest(path, is_demonstration=False)
    return path


def _write_manifest(observations_path, **keys):
    """The manifest.json the run writes beside data/ (only the keys the template reads)."""
    (observations_path.parent.parent / "manifest.json").write_text(json.dumps({"reporting_year": 2024, **keys}), encoding="utf-8")


def _previous_column(path):
    ws = openpyxl.load_workbook(path)[workbook_contract.DATA_SHEET]
    header = [c.value for c in ws[1]]
    return {(r[0], r[1]): r[header.index(workbook_contract.COL_PREVIOUS)] for r in ws.iter_rows(min_row=2, values_only=True)}


def test_previous_year_values_are_pre_filled_from_last_years_observations(ref, tmp_path, last_run):
    path = write_template(ref, "GEO", 2025, tmp_path / "tpl", previous=read_previous_observations(last_run))
    cells = _previous_column(path)
    filled = {key: value for key, value in cells.items() if value is not None}
    assert filled == {
        ("TIP_VIC", "TOTAL"): 12,
        ("TIP_VIC", "SEX=F"): 7,
        ("TIP_OFF", "TOTAL"): ":",
        ("TER_OFF", "TOTAL"): ":",
        ("DRG_SZ_HER", "TOTAL"): 1.125,
        ("SOM_OFF", "TOTAL"): 0,
    }
    assert isinstance(cells[("TIP_VIC", "TOTAL")], int)  # a count is written as a whole number, not 12.0


def test_missing_previous_file_leaves_the_column_blank(tmp_path):
    assert read_previous_observations(tmp_path / "nowhere.csv") is None


def test_template_command_reads_last_years_run_by_default(tmp_path, last_run):
    outputs = tmp_path / "outputs"
    result = CliRunner().invoke(main, ["template", "--year", "2025", "--country", "GEO", "--outputs", str(outputs)])
    assert result.exit_code == 0, result.output
    assert _previous_column(outputs / "templates" / "2025" / "GEO_2025.xlsx")[("TIP_VIC", "TOTAL")] == 12
    assert "left blank" not in result.stderr


def test_template_command_without_last_years_run_says_so_once(tmp_path, last_run):
    result = CliRunner().invoke(main, ["template", "--year", "2026", "--country", "GEO", "--country", "ROU", "--outputs", str(tmp_path / "outputs")])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("left blank") == 1 and "2025" in result.stderr
    assert all(v is None for v in _previous_column(tmp_path / "outputs" / "templates" / "2026" / "GEO_2026.xlsx").values())


def test_template_command_takes_an_explicit_previous_file_and_refuses_a_wrong_one(tmp_path, last_run):
    out = tmp_path / "send"
    result = CliRunner().invoke(main, ["template", "--year", "2025", "--country", "GEO", "--previous", str(last_run), "--out", str(out), "--outputs", str(tmp_path / "elsewhere")])
    assert result.exit_code == 0, result.output
    assert _previous_column(out / "GEO_2025.xlsx")[("DRG_SZ_HER", "TOTAL")] == 1.125
    wrong = tmp_path / "regional.csv"
    wrong.write_text("indicator,value\nTIP_VIC,3\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["template", "--year", "2025", "--previous", str(wrong), "--out", str(out)])
    assert result.exit_code == 2 and "country_iso3" in result.output


# -- no demonstration figure reaches a real template ---------------------------------------------------
def test_a_demonstration_run_pre_fills_nothing_and_the_command_says_so_in_one_line(tmp_path, last_run):
    _write_manifest(last_run, is_demonstration=True)
    assert is_demonstration_run(last_run) is True
    previous = load_previous(last_run)
    assert previous.observations is None and "demonstration" in previous.note
    outputs = tmp_path / "outputs"
    result = CliRunner().invoke(main, ["-q", "template", "--year", "2025", "--country", "GEO", "--country", "ROU", "--outputs", str(outputs)])
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(said) == 1 and "demonstration run" in said[0] and "left blank" in said[0], result.stderr  # shown even with -q
    for iso3 in ("GEO", "ROU"):
        assert all(v is None for v in _previous_column(outputs / "templates" / "2025" / f"{iso3}_2025.xlsx").values())
    meta = openpyxl.load_workbook(outputs / "templates" / "2025" / "GEO_2025.xlsx")[workbook_contract.META_SHEET]
    assert {row[0]: row[1] for row in meta.iter_rows(values_only=True)}[workbook_contract.META_DEMONSTRATION_KEY] == "no"


@pytest.mark.parametrize("manifest", [None, "{not json", json.dumps({"reporting_year": 2024}), json.dumps({"is_demonstration": "no"})])
def test_a_run_that_does_not_say_whether_it_was_a_demonstration_pre_fills_nothing(tmp_path, last_run, manifest):
    target = last_run.parent.parent / "manifest.json"
    if manifest is None:
        target.unlink()
    else:
        target.write_text(manifest, encoding="utf-8")
    assert is_demonstration_run(last_run) is None
    previous = load_previous(last_run)
    assert previous.observations is None and "manifest.json" in previous.note and "left blank" in previous.note
    result = CliRunner().invoke(main, ["template", "--year", "2025", "--country", "GEO", "--previous", str(last_run), "--out", str(tmp_path / "send")])
    assert result.exit_code == 0, result.output
    assert "does not say whether" in result.stderr
    assert all(v is None for v in _previous_column(tmp_path / "send" / "GEO_2025.xlsx").values())


def test_a_real_run_pre_fills_and_published_history_never_does(ref, tmp_path, last_run):
    previous = load_previous(last_run)
    assert previous.observations is not None and previous.note == ""
    path = write_template(ref, "GEO", 2025, tmp_path / "tpl", previous=previous.observations)
    cells = _previous_column(path)
    assert cells[("TIP_VIC", "TOTAL")] == 12
    assert cells[("CYB_OFF", "TOTAL")] is None, "a published (history) figure is not the state's: never pre-filled"
