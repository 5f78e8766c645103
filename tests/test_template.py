"""The submission workbook: sheets, rows, what is editable, drop-downs, the hidden version."""

from __future__ import annotations

import openpyxl
import pytest

from pipeline import layout
from pipeline.template import write_template


@pytest.fixture(scope="module")
def workbook(ref, tmp_path_factory):
    path = write_template(ref, "GEO", 2025, tmp_path_factory.mktemp("tpl"))
    return openpyxl.load_workbook(path)


def test_file_is_named_by_country_and_year(ref, tmp_path):
    assert write_template(ref, "MKD", 2026, tmp_path).name == "MKD_2026.xlsx"


def test_sheets_and_hidden_template_version(workbook):
    assert workbook.sheetnames[:3] == [layout.COVER_SHEET, layout.DATA_SHEET, layout.INSTRUCTIONS_SHEET]
    meta = workbook[layout.META_SHEET]
    assert meta.sheet_state == "hidden"
    assert {row[0]: row[1] for row in meta.iter_rows(values_only=True)}[layout.META_VERSION_KEY] == layout.TEMPLATE_VERSION


def test_cover_has_country_and_year_locked_and_contact_fields_open(workbook):
    cover = workbook[layout.COVER_SHEET]
    fields = {row[0].value: row[1] for row in cover.iter_rows(min_row=1, max_col=2) if row[0].value}
    assert fields[layout.COVER_COUNTRY].value == "GEO"
    assert fields[layout.COVER_YEAR].value == 2025
    assert fields[layout.COVER_COUNTRY].protection.locked and fields[layout.COVER_YEAR].protection.locked
    for label in layout.COVER_FILL_FIELDS:
        assert not fields[label].protection.locked, label
    assert cover.protection.sheet


def test_one_data_row_per_indicator_and_breakdown(ref, workbook):
    ws = workbook[layout.DATA_SHEET]
    header = [c.value for c in ws[1]]
    assert header == list(layout.DATA_COLUMNS)
    keys = [(r[0], r[1]) for r in ws.iter_rows(min_row=2, values_only=True)]
    expected = [(ind.code, key) for ind in ref.indicators for key in ref.breakdowns_of(ind)]
    assert keys == expected
    assert ("TIP_VIC", "EXPL=SEX") in keys and ("TIP_CON", "SEX=F") in keys and ("TIP_PRO", "SEX=M") in keys
    definitions = [r[header.index(layout.COL_DEFINITION)] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert all(definitions)


def test_only_value_flag_and_comment_are_editable(workbook):
    ws = workbook[layout.DATA_SHEET]
    assert ws.protection.sheet
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2, max_row=6):
        for name, cell in zip(header, row, strict=True):
            assert cell.protection.locked == (name not in layout.EDITABLE_DATA_COLUMNS), (name, cell.coordinate)


def test_flag_drop_down_and_value_rule_with_input_message(workbook):
    ws = workbook[layout.DATA_SHEET]
    validations = ws.data_validations.dataValidation
    flag = [dv for dv in validations if dv.type == "list"]
    assert len(flag) == 1 and flag[0].formula1 == "FlagList" and "F2" in flag[0].sqref
    lists = workbook[layout.LISTS_SHEET]
    assert "provisional" in [r[0] for r in lists.iter_rows(values_only=True)]
    numeric = [dv for dv in validations if dv.type in ("whole", "decimal")]
    assert {dv.type for dv in numeric} == {"whole", "decimal"}
    for dv in numeric:
        assert dv.operator == "greaterThanOrEqual" and dv.formula1 == "0"
        assert dv.showInputMessage and dv.prompt and dv.showErrorMessage
    assert any("E2" in dv.sqref for dv in numeric)


def test_instructions_explain_blank_zero_and_flags(workbook):
    text = "\n".join(str(r[0]) for r in workbook[layout.INSTRUCTIONS_SHEET].iter_rows(values_only=True) if r[0])
    assert "not available" in text and "0 means a real zero" in text
    assert "p  provisional" in text and "C  confidential" in text
