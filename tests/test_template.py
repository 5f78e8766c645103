"""The submission workbook: sheets, rows, what is editable, drop-downs, the hidden version."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from openpyxl.utils import get_column_letter

from pipeline import output_files, pdf, workbook_contract
from pipeline.cli import main
from pipeline.template import (
    DIGITS, FLAG_CHARACTERS, FLAG_LIST, NOT_AVAILABLE_LIST, build_workbook, flag_rule, instruction_sections,
    is_demonstration_run, load_previous, read_previous_observations, value_rule, write_template,
)
from pipeline.validate import FLAG_SEPARATORS, NOT_AVAILABLE_TOKENS, parse_flags, parse_value
from tests.conftest import require_soffice, require_uno_python

MORE_DETAIL_HEADING = "\n## More detail\n"


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


def _rules_by_cell(ws) -> dict[str, list]:
    """Cell -> the data validations whose ranges cover it."""
    found: dict[str, list] = {}
    for dv in ws.data_validations.dataValidation:
        for cell_range in dv.sqref.ranges:
            for row in ws.iter_rows(min_row=cell_range.min_row, max_row=cell_range.max_row, min_col=cell_range.min_col, max_col=cell_range.max_col):
                for cell in row:
                    found.setdefault(cell.coordinate, []).append(dv)
    return found


def test_every_value_previous_and_flag_cell_has_one_rule_written_for_its_own_block(ref, workbook):
    ws = workbook[workbook_contract.DATA_SHEET]
    header = [c.value for c in ws[1]]
    letter = {name: get_column_letter(header.index(name) + 1) for name in (workbook_contract.COL_VALUE, workbook_contract.COL_PREVIOUS, workbook_contract.COL_FLAG)}
    rules = _rules_by_cell(ws)
    kinds = [ind.is_count for ind in ref.indicators for _ in ref.breakdowns_of(ind)]
    assert len(kinds) == ws.max_row - 1
    for row, is_count in enumerate(kinds, start=2):
        for name in (workbook_contract.COL_VALUE, workbook_contract.COL_PREVIOUS):
            (rule,) = rules[f"{letter[name]}{row}"]
            (block,) = rule.sqref.ranges  # one block of rows: the formula is written for its top-left cell
            assert rule.type == "custom" and rule.formula1 == value_rule(block.coord.split(":")[0], is_count), (name, row)
            assert all(kinds[r - 2] == is_count for r in range(block.min_row, block.max_row + 1))
        (flag_rule_of_row,) = rules[f"{letter[workbook_contract.COL_FLAG]}{row}"]
        assert flag_rule_of_row.formula1 == flag_rule(f"{letter[workbook_contract.COL_FLAG]}2")
    assert set(rules) == {f"{letter[name]}{row}" for name in letter for row in range(2, len(kinds) + 2)}, "no rule on any other cell"


def test_rules_warn_name_the_accepted_forms_and_keep_within_excels_limits(workbook):
    ws = workbook[workbook_contract.DATA_SHEET]
    for dv in ws.data_validations.dataValidation:
        assert dv.allow_blank and dv.showErrorMessage and dv.showInputMessage and dv.errorStyle == "warning"
        assert len(dv.formula1) <= 255 and len(dv.prompt) <= 255 and len(dv.error) <= 225 and len(dv.promptTitle) <= 32 and len(dv.errorTitle) <= 32
        if dv.promptTitle == "Flag":
            assert "bp" in dv.prompt and "p provisional" in dv.prompt and "N not for publication" in dv.prompt and "bp" in dv.error
        else:
            for form in (":", "n/a", "<5", "0 or more", "blank"):
                assert form in dv.prompt and form in dv.error, (dv.sqref, form)
    previous = [dv for dv in ws.data_validations.dataValidation if dv.promptTitle == "Previous year value"]
    assert previous and all("2024" in dv.prompt and "Comment column" in dv.prompt for dv in previous)


def test_the_lists_the_rules_read_come_from_validation_and_the_flags(ref, workbook):
    lists = workbook[workbook_contract.LISTS_SHEET]
    assert lists.sheet_state == "hidden"

    def named(name):
        sheet, cells = next(workbook.defined_names[name].destinations)
        return [c.value for row in workbook[sheet][cells] for c in row]

    assert named(FLAG_LIST) == [flag.word for flag in ref.flags]
    assert set(named(NOT_AVAILABLE_LIST)) == set(NOT_AVAILABLE_TOKENS) and named(NOT_AVAILABLE_LIST)[0] == ":"
    assert "".join(named(FLAG_CHARACTERS)) == "".join(flag.code for flag in ref.flags) + FLAG_SEPARATORS
    assert named(DIGITS) == list("0123456789")


def test_previous_year_column_right_of_value_with_a_note(workbook):
    ws = workbook[workbook_contract.DATA_SHEET]
    header = [c.value for c in ws[1]]
    assert header.index(workbook_contract.COL_PREVIOUS) == header.index(workbook_contract.COL_VALUE) + 1
    note = ws.cell(row=1, column=header.index(workbook_contract.COL_PREVIOUS) + 1).comment.text
    assert "2024" in note and "accepted last year" in note and "Comment column" in note and "<5" in note
    # Without --previous the column is empty.
    assert all(r[header.index(workbook_contract.COL_PREVIOUS)] is None for r in ws.iter_rows(min_row=2, values_only=True))


def _instruction_lines(workbook) -> list[str]:
    return [str(r[0]) for r in workbook[workbook_contract.INSTRUCTIONS_SHEET].iter_rows(values_only=True) if r[0]]


def test_instructions_hold_the_steps_and_accepted_forms_and_every_flag(ref, workbook):
    lines = _instruction_lines(workbook)
    assert lines[0] == "How to fill in the submission workbook for 2025" and "2024" in lines[1]
    for heading, section in instruction_sections(ref):
        assert heading in lines
        assert [f"• {line}" for line in section] == lines[lines.index(heading) + 1:lines.index(heading) + 1 + len(section)]
    text = "\n".join(lines)
    assert "0 is a real zero" in text and "<5" in text and all(form in text for form in NOT_AVAILABLE_TOKENS)
    assert "p  provisional" in text and "C  confidential" in text and "bp" in text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_the_guides_first_page_has_every_line_of_the_instructions_and_fits_a_page(ref):
    guide = (Path(__file__).resolve().parents[1] / "docs" / "focal-points-guide.md").read_text(encoding="utf-8")
    assert MORE_DETAIL_HEADING in guide, "the one-page part ends where the More detail section starts"
    first_page = guide[:guide.index(MORE_DETAIL_HEADING)]
    flat = _one_line(first_page)
    for heading, section in instruction_sections(ref):
        assert f"## {heading}" in first_page, heading
        for line in section:
            assert _one_line(line) in flat, line
    # Measured: 526 words print on one A4 page (11-point text, five headings), with a few lines to spare.
    assert len(first_page.split()) <= 550


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


# -- through LibreOffice: its own validation accepts what the pipeline accepts; the template prints -----
UNO_INVALID_CELLS = Path(__file__).with_name("uno_invalid_cells.py")
# Forms the Instructions accept in a count's Value or Previous year value cell, and forms they do not.
COUNT_FORMS_ACCEPTED = (0, 12, 1154, ":", "<5", "< 12", "n/a", "N/A", "Not Known", "  ", *sorted(NOT_AVAILABLE_TOKENS))
COUNT_FORMS_REFUSED = ("—", "nil", "none", "abc", -3, 1.5, "<", "<5x", "<-3", "5 kg")
QUANTITY_FORMS_ACCEPTED = (1.5, 0, ":", "<5")
QUANTITY_FORMS_REFUSED = (-0.5, "nil", "abc")
FLAGS_ACCEPTED = ("p", "bp", "C", "N", "provisional", "Break in series", "b, p", "b+p", "e;i")
FLAGS_REFUSED = ("x", "c", "pq", "bp!", "1")


def _fill(ws, letter: str, rows: list[int], forms) -> dict[str, object]:
    placed = {}
    for row, form in zip(rows, forms, strict=False):
        ws[f"{letter}{row}"] = form
        placed[f"{letter}{row}"] = form
    assert len(placed) == len(forms), "more forms than rows of that kind"
    return placed


def _invalid_in_libreoffice(path: Path, sheet: str, tmp_path: Path) -> set[str]:
    """The cells LibreOffice marks as invalid (Tools > Detective > Mark Invalid Data), through UNO."""
    soffice = require_soffice()
    python = require_uno_python(soffice)
    pipe = f"crimetrends_test_{os.getpid()}_{uuid.uuid4().hex}"
    office = subprocess.Popen([soffice, "--headless", "--invisible", "--nologo", "--norestore", "--nodefault", "--nolockcheck",
                               f"--accept=pipe,name={pipe};urp;", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        done = subprocess.run([python, "-I", str(UNO_INVALID_CELLS), "--pipe", pipe, str(path), sheet],
                              capture_output=True, text=True, timeout=180, env=env, check=False)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(office.pid, signal.SIGKILL)
        office.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


@pytest.mark.libreoffice
def test_libreoffice_applies_the_rules_accepting_what_the_pipeline_accepts(ref, tmp_path):
    wb = build_workbook(ref, "GEO", 2025)
    ws = wb[workbook_contract.DATA_SHEET]
    header = [c.value for c in ws[1]]
    value, previous, flag = (get_column_letter(header.index(name) + 1) for name in
                             (workbook_contract.COL_VALUE, workbook_contract.COL_PREVIOUS, workbook_contract.COL_FLAG))
    kinds = [ind.is_count for ind in ref.indicators for _ in ref.breakdowns_of(ind)]
    count_rows = [row for row, is_count in enumerate(kinds, start=2) if is_count]
    quantity_rows = [row for row, is_count in enumerate(kinds, start=2) if not is_count]
    count_forms = COUNT_FORMS_ACCEPTED + COUNT_FORMS_REFUSED
    quantity_forms = QUANTITY_FORMS_ACCEPTED + QUANTITY_FORMS_REFUSED
    placed = {
        **_fill(ws, value, count_rows, count_forms),
        **_fill(ws, previous, count_rows[::-1], count_forms),  # Previous year value: other rows, same forms
        **_fill(ws, value, quantity_rows, quantity_forms),
        **_fill(ws, previous, quantity_rows, quantity_forms),
    }
    flags = _fill(ws, flag, list(range(2, 2 + len(FLAGS_ACCEPTED + FLAGS_REFUSED))), FLAGS_ACCEPTED + FLAGS_REFUSED)
    path = tmp_path / "filled.xlsx"
    wb.save(path)

    invalid = _invalid_in_libreoffice(path, workbook_contract.DATA_SHEET, tmp_path)

    refused = {cell for cell, form in placed.items() if form in COUNT_FORMS_REFUSED + QUANTITY_FORMS_REFUSED
               and not (form == 1.5 and int(cell[1:]) in quantity_rows)}
    refused |= {cell for cell, form in flags.items() if form in FLAGS_REFUSED}
    assert invalid == refused
    # The pipeline reads the same forms the same way: what LibreOffice lets through, validation accepts.
    for cell, form in placed.items():
        is_count = kinds[int(cell[1:]) - 2]
        assert (parse_value(form, is_count).status == "invalid") == (cell in invalid), (cell, form)
    for cell, form in flags.items():
        assert (not parse_flags(form, ref)[1]) == (cell in invalid), (cell, form)


@pytest.mark.libreoffice
def test_a_printed_template_is_a_few_pages_with_the_cover_title_whole_and_the_data_header_on_every_page(ref, tmp_path):
    soffice = require_soffice()
    path = write_template(ref, "BGR", 2026, tmp_path)
    subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(path)], capture_output=True, timeout=180, check=False)
    printed = tmp_path / "BGR_2026.pdf"
    assert printed.is_file()
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext (poppler-utils) is required in CI: .ci/run installs it")
        pytest.skip("pdftotext (poppler-utils) is not installed")
    pages = subprocess.run(["pdftotext", "-enc", "UTF-8", str(printed), "-"], capture_output=True, text=True, check=True).stdout.split("\f")
    pages = [page for page in pages if page.strip()]
    # Measured: Cover 1 page, Data 4 (landscape, one page wide), Instructions 2; printed as it was
    # before, without page setup, the template took 15 pages.
    assert pdf.page_count(printed) == len(pages) <= 8
    assert "BSEC Annual Assessment of the Trends of Transnational Crime — submission workbook" in _one_line(pages[0])
    assert "Date submitted" in pages[0] and "TOTAL" not in pages[0]
    data_pages = [page for page in pages if "TOTAL" in page]
    assert 1 < len(data_pages) <= 5
    for page in data_pages:
        assert all(name in page for name in ("Code", "Breakdown", "Indicator", "Definition")), "header row on every page"
    assert sum("TOTAL" in page for page in pages[:1 + len(data_pages)]) == len(data_pages), "the Data pages follow the Cover"
    assert "How to fill in the submission workbook for 2026" in pages[1 + len(data_pages)]
