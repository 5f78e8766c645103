"""Submission workbooks: one per member state and reporting year.

Input: the `Reference`, a (country, year) and optionally the observations accepted for the year
before (`<outputs>/<year-1>/data/observations.csv` of the previous run). Output: an .xlsx that follows
`pipeline.workbook_contract`: a Cover (country and year locked, agency/contact/e-mail/date to fill in), a Data
sheet (one row per indicator and breakdown; only Value, Previous year value, Flag and Comment
editable, the first three with an input rule that accepts what validation reads; the Check column
shows the live checks of `pipeline.live_checks`), Instructions, and hidden sheets with the template
version, the lists the input rules read and the live checks' helper cells. Every visible sheet prints
on A4 (Cover on one page, Data landscape one page wide with its header row on each page, Instructions
one page wide).
Writing is atomic (temporary file, then rename).

Previous year value (rule R01, revisions) is pre-filled with what was accepted for year - 1 from the
state's own submission: the number, or `:` when it was not available (or not applicable). It stays
blank where nothing was accepted (no submission, a value left out by validation) and where the
value was a confidential small count (`<5`): the number behind it was never sent. Figures imported
from published sources (history rows) are not the state's and are not pre-filled: R01 compares the
cell with the state's accepted submission only, so a published figure left in it would become the
state's own figure for year - 1 and raise a revision finding.

Only a real run pre-fills (`load_previous`): the run's manifest.json must say `is_demonstration:
false`. A demonstration run, or observations whose run cannot be told, leave the column blank, so
no demonstration figure reaches a real template.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.properties import PageSetupProperties

from pipeline import __version__, live_checks, workbook_contract, output_files
from pipeline.atomic import write_atomically
from pipeline.errors import PipelineError
from pipeline.reference import Reference
from pipeline.settings import Thresholds
from pipeline.validate import FLAG_SEPARATORS

HEADER_FILL = PatternFill(fill_type="solid", start_color="FF1F4E79", end_color="FF1F4E79")
INPUT_FILL = PatternFill(fill_type="solid", start_color="FFFFF2CC", end_color="FFFFF2CC")
TOTAL_FONT = Font(bold=True)
UNLOCKED = Protection(locked=False)
# Characters: the Instructions sheet's one column, its text wrapped to it. A single column is never
# scaled to fit the page (it cannot be split over two), so it must fit portrait A4 as it is: 75 does
# in LibreOffice with DejaVu Sans, whose characters are wider than Calibri's.
INSTRUCTIONS_WIDTH = 75
LINE_HEIGHT = 15  # points: one line of 11-point text

# Widths in characters, small enough that the Data sheet printed landscape and one page wide stays
# readable; the long texts (Indicator, Definition) wrap in their cells.
COLUMN_WIDTHS = {
    workbook_contract.COL_CODE: 13,
    workbook_contract.COL_BREAKDOWN: 13,
    workbook_contract.COL_INDICATOR: 50,
    workbook_contract.COL_UNIT: 9,
    workbook_contract.COL_VALUE: 12,
    workbook_contract.COL_PREVIOUS: 12,
    workbook_contract.COL_FLAG: 10,
    workbook_contract.COL_COMMENT: 30,
    workbook_contract.COL_CHECK: 30,
    workbook_contract.COL_DEFINITION: 60,
}
WRAPPED_COLUMNS = (workbook_contract.COL_INDICATOR, workbook_contract.COL_DEFINITION)


# What a previous run's observations.csv must hold for the pre-fill.
PREVIOUS_RUN_COLUMNS = ("country_iso3", "year", "indicator", "breakdown", "value", "status")
NOT_AVAILABLE_MARK = ":"  # what the pre-fill writes for a value accepted as not available


# -- What a focal point may type, and the steps they follow ------------------------------------------
# One source for the Instructions sheet, the input messages of the Data sheet and the one-page part of
# docs/focal-points-guide.md: tests/test_template.py checks that the guide holds every line. The
# spellings of "not available" are the ones validation reads (`workbook_contract.NOT_AVAILABLE_FORMS`, ":" first).
NOT_AVAILABLE_FORMS = workbook_contract.NOT_AVAILABLE_FORMS
FILL_STEPS = (
    "Cover: fill in the reporting agency, contact person, e-mail and the date you send the workbook (YYYY-MM-DD).",
    "Data: type each figure of the reporting year in the Value column. The Definition column says what to count, "
    "the Unit column in what unit.",
    "Previous year value shows last year's figure as accepted. If it was revised, type the new figure over it and say "
    "why in the Comment column.",
    "Breakdowns (sex, age, form of exploitation) add up to their total when every part is known: the unknown part goes "
    "in the UNK row. An \"of which\" figure cannot exceed its total.",
    "Comment: explain large changes, revised figures, breaks in series and definitions that differ from the BSEC one.",
    "Do not rename sheets, delete rows, or change the Code, Breakdown or header cells.",
)
VALUE_FORMS = (
    "A number, 0 or more: whole for counts (cases, persons, items), decimals allowed for kg and EUR. No thousands "
    "separators or units.",
    "0 is a real zero: there were none. Never type 0 for a figure that is not available.",
    f"Not available: leave the cell blank or type {NOT_AVAILABLE_MARK} (colon). "
    f"Also read as not available: {', '.join(NOT_AVAILABLE_FORMS[1:])} (any case).",
    "<5 (or <N for another small number): a small count that must stay confidential.",
)
CHECK_STEPS = (
    "The Check column says, as you type, when the parts of a breakdown do not add up to the total, when an \"of which\" "
    "figure is above its total, or when a figure is far from last year's without a comment. Blank means no problem found.",
    "The Cover counts the problems left to fix before sending. Correct the figure or, if it is right, explain it in the "
    "Comment column.",
)
SENDING_STEPS = (
    "Look at the Cover: no problem should be left unless explained. Where crimetrends is installed, crimetrends validate "
    "FILE checks the workbook as the Secretariat will; the Coordinator can do it for you.",
    "Save as .xlsx (.ods or .xls also accepted) and send it to the Country Coordinator by the deadline. A corrected "
    "workbook needs a later Date submitted: the latest is used.",
)
FEEDBACK_STEPS = (
    "The feedback workbook (GEO_2026_feedback.xlsx for GEO_2026.xlsx) is a copy of your workbook. Its first sheet, "
    "Findings, gives the file's status and one row per finding: its cell (a link), what was found, how to fix it.",
    "Red cell: an error, the value is not used until corrected. Amber cell: a warning, correct it or confirm it in the "
    "Comment column. Correct your own workbook, not the feedback copy, and send it again.",
)


def flag_forms(ref: Reference) -> str:
    """The line on flags, with every code and word of `reference/flags.csv`."""
    return ("Flag (optional): one or more codes (bp) or a flag's word: "
            + ", ".join(f"{flag.code} {flag.word}" for flag in ref.flags) + ".")


def instruction_sections(ref: Reference) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(heading, lines) of the Instructions sheet, in order; the guide's first page has the same lines."""
    return (
        ("Fill in", FILL_STEPS),
        ("What you may type in Value and Previous year value", (*VALUE_FORMS, flag_forms(ref))),
        ("Checks while you type", CHECK_STEPS),
        ("Before sending", SENDING_STEPS),
        ("Reading the feedback", FEEDBACK_STEPS),
    )


# -- Input rules of the Data sheet --------------------------------------------------------------------
# Named ranges on the hidden lists sheet that the rules read: Excel lets a rule reach another sheet only
# through a defined name, and refuses array constants in a rule.
FLAG_LIST = "FlagList"  # the flag words
FLAG_CHARACTERS = "FlagCharacters"  # each flag code and each separator between codes, one a cell
NOT_AVAILABLE_LIST = "NotAvailable"  # NOT_AVAILABLE_FORMS
DIGITS = "Digits"  # 0 to 9, as text
SHORT_FORMS = f"{NOT_AVAILABLE_MARK} or n/a when not available, <5 for a confidential small count, or leave it blank"


def value_rule(cell: str, is_count: bool) -> str:
    """The custom validation formula of the Value or Previous year value cell `cell` (its top-left cell).

    True for what validation reads as a value without an error: a number 0 or more (whole for a
    count); a spelling of "not available" (any case: spreadsheets compare text so); text of spaces
    only; or `<` and digits, spaces allowed after `<` (a suppressed small count: the digits counted
    in what follows `<` are all of it once leading spaces are trimmed). Evaluating it never gives an
    error value, which Excel would take for "invalid" too, and it stays under the 255 characters a
    rule may have in Excel.
    """
    text = f"TRIM({cell})"
    after = f"MID({text},2,99)"
    number = f"INT(ABS({cell}))={cell}" if is_count else f"{cell}>=0"
    not_available = f"SUMPRODUCT(--({text}={NOT_AVAILABLE_LIST}))>0"
    suppressed = (f'AND(LEFT({text}&"<")="<",LEN({text})<>1,'
                  f'SUMPRODUCT(LEN({after})-LEN(SUBSTITUTE({after},{DIGITS},"")))=LEN(TRIM({after})))')
    return f"IF(ISNUMBER({cell}),{number},OR({not_available},{suppressed}))"


def flag_rule(cell: str) -> str:
    """The custom validation formula of the Flag cell `cell`: a flag's word (any case), or flag codes
    (case matters: C is not c) with separators, as `pipeline.validate.parse_flags` reads them."""
    return (f"OR(SUMPRODUCT(--(TRIM({cell})={FLAG_LIST}))>0,"
            f'SUMPRODUCT(LEN({cell})-LEN(SUBSTITUTE({cell},{FLAG_CHARACTERS},"")))=LEN({cell}))')


def template_filename(iso3: str, year: int) -> str:
    return f"{iso3}_{year}.xlsx"


def default_previous_path(outputs_dir: Path, year: int) -> Path:
    """Where the previous run wrote the observations the `year` workbooks are pre-filled from."""
    return outputs_dir / str(year - 1) / output_files.DATA_DIR / "observations.csv"


def read_previous_observations(path: Path) -> pd.DataFrame | None:
    """The observations of a previous run (`output_files.write_csv` format), or None when `path` does not exist.

    Raises `PipelineError` when the file exists but lacks a column the pre-fill needs.
    """
    if not path.is_file():
        return None
    frame = output_files.read_csv(path)
    missing = [c for c in PREVIOUS_RUN_COLUMNS if c not in frame.columns]
    if missing:
        raise PipelineError(f"{path} is not an observations.csv written by crimetrends run: no column {', '.join(missing)}")
    return frame


@dataclass(frozen=True)
class PreviousRun:
    """What `load_previous` found: the observations to pre-fill from, or None and why not (one line)."""

    observations: pd.DataFrame | None
    note: str = ""


def manifest_path_of(observations_path: Path) -> Path:
    """The manifest.json of the run that wrote `observations_path` (`<year folder>/data/observations.csv`)."""
    return observations_path.parent.parent / "manifest.json"


def is_demonstration_run(observations_path: Path) -> bool | None:
    """Whether the run that wrote `observations_path` used demonstration data, from its manifest.json.

    None when that cannot be told: no manifest.json beside the data folder, an unreadable one, or one
    without the `is_demonstration` key (a run of an older version).
    """
    manifest = manifest_path_of(observations_path)
    try:
        flag = json.loads(manifest.read_text(encoding="utf-8")).get("is_demonstration")
    except (OSError, ValueError, AttributeError):
        return None
    return flag if isinstance(flag, bool) else None


def load_previous(path: Path) -> PreviousRun:
    """The observations of a previous REAL run to pre-fill from, or None with the reason in one line.

    None when `path` does not exist, when its run used demonstration data, or when its manifest.json
    does not say (`is_demonstration_run`). Raises `PipelineError` when the file lacks a column.
    """
    observations = read_previous_observations(path)
    if observations is None:
        return PreviousRun(None, f"No {path}: the Previous year value column is left blank.")
    demonstration = is_demonstration_run(path)
    if demonstration is None:
        return PreviousRun(None, f"{manifest_path_of(path)} does not say whether {path} holds demonstration data: the Previous year value column is left blank.")
    if demonstration:
        return PreviousRun(None, f"{path} is from a demonstration run: no demonstration figure is pre-filled, the Previous year value column is left blank.")
    return PreviousRun(observations)


def previous_values(observations: pd.DataFrame | None, ref: Reference, iso3: str, year: int) -> dict[tuple[str, str], object]:
    """(code, breakdown) -> what the Previous year value cell of the `year` workbook shows.

    From the rows of `observations` for `iso3` and `year - 1`: a reported number (or a confidential
    one whose number is known) as the number, a value not available or not applicable as ":".
    Left out (the cell stays blank): rejected values, confidential small counts without a number,
    history rows (column `origin` == "history") and rows the catalogue does not have.
    """
    if observations is None or observations.empty:
        return {}
    rows = observations[(observations["country_iso3"] == iso3) & (observations["year"].astype("int64") == year - 1)]
    if "origin" in rows.columns:
        rows = rows[rows["origin"].fillna("").astype(str) != "history"]
    found: dict[tuple[str, str], object] = {}
    for code, breakdown, value, status in zip(rows["indicator"], rows["breakdown"], rows["value"], rows["status"], strict=True):
        indicator = ref.indicator_by_code.get(code)
        if indicator is None or breakdown not in ref.breakdowns_of(indicator):
            continue
        has_number = value is not None and not (isinstance(value, float) and math.isnan(value))
        if status in ("reported", "confidential") and has_number:
            number = float(value)
            found[(code, breakdown)] = int(number) if indicator.is_count and number.is_integer() else number
        elif status in ("not_available", "not_applicable"):
            found[(code, breakdown)] = NOT_AVAILABLE_MARK
    return found


def build_workbook(ref: Reference, iso3: str, year: int, previous: Mapping[tuple[str, str], object] | None = None,
                   thresholds: Thresholds | None = None) -> Workbook:
    """The submission workbook for one state and year, in memory.

    `previous` maps (code, breakdown) to what its Previous year value cell shows (`previous_values`);
    rows it does not name stay blank. `thresholds`: those the validation uses (the settings'), for
    the live checks; default the reference's `rule_thresholds.csv`.
    """
    state = ref.state_by_iso3[iso3]
    wb = Workbook()
    cover = wb.active
    cover.title = workbook_contract.COVER_SHEET
    _write_cover(cover, state.iso3, state.name, year)
    _write_data(wb.create_sheet(workbook_contract.DATA_SHEET), ref, year, previous or {})
    _write_instructions(wb.create_sheet(workbook_contract.INSTRUCTIONS_SHEET), ref, year)
    _write_lists(wb, ref)
    live_checks.add_live_checks(wb, ref, thresholds)
    meta = wb.create_sheet(workbook_contract.META_SHEET)
    meta.append([workbook_contract.META_VERSION_KEY, workbook_contract.TEMPLATE_VERSION])
    meta.append([workbook_contract.META_DEMONSTRATION_KEY, "no"])
    meta.append(["generated_by", f"crimetrends {__version__}"])
    meta.sheet_state = "hidden"
    meta.protection.sheet = True
    wb.active = wb.worksheets.index(wb[workbook_contract.DATA_SHEET])
    return wb


def write_template(ref: Reference, iso3: str, year: int, out_dir: Path, previous: pd.DataFrame | None = None,
                   thresholds: Thresholds | None = None) -> Path:
    """Write `<out_dir>/<ISO3>_<year>.xlsx` atomically and return its path.

    `previous`: observations of a previous run (`read_previous_observations`); the state's accepted
    values of `year - 1` pre-fill the Previous year value column. None: the column stays blank.
    `thresholds`: as for `build_workbook`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / template_filename(iso3, year)
    save_atomically(build_workbook(ref, iso3, year, previous_values(previous, ref, iso3, year), thresholds), target)
    return target


def save_atomically(wb: Workbook, target: Path) -> None:
    """`wb` saved by openpyxl into `target`, which a reader never sees half-written."""
    buffer = io.BytesIO()
    wb.save(buffer)
    write_atomically(target, buffer.getvalue())


def _write_cover(ws, iso3: str, name: str, year: int) -> None:
    ws["A1"] = "BSEC Annual Assessment of the Trends of Transnational Crime — submission workbook"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = "Fill in the yellow cells. Country and reporting year are set by the Secretariat."
    rows = [
        (workbook_contract.COVER_COUNTRY, iso3),
        (workbook_contract.COVER_COUNTRY_NAME, name),
        (workbook_contract.COVER_YEAR, year),
        (workbook_contract.COVER_AGENCY, None),
        (workbook_contract.COVER_CONTACT, None),
        (workbook_contract.COVER_EMAIL, None),
        (workbook_contract.COVER_DATE, None),
    ]
    for offset, (label, value) in enumerate(rows):
        row = 4 + offset
        ws.cell(row=row, column=1, value=label).font = Font(bold=True)
        cell = ws.cell(row=row, column=2, value=value)
        if label in workbook_contract.COVER_FILL_FIELDS:
            cell.protection = UNLOCKED
            cell.fill = INPUT_FILL
        if label == workbook_contract.COVER_DATE:
            cell.number_format = "yyyy-mm-dd"
            dv = DataValidation(
                type="date",
                operator="greaterThan",
                formula1="36526",  # 2000-01-01 as a spreadsheet serial date
                showErrorMessage=True,
                showInputMessage=True,
                errorStyle="warning",
                promptTitle="Date submitted",
                prompt="The date you send this workbook (YYYY-MM-DD). A resubmission needs a later date.",
                errorTitle="Not a date",
                error="Enter the date as YYYY-MM-DD.",
            )
            ws.add_data_validation(dv)
            dv.add(cell.coordinate)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 48
    # One page: the title runs on past column B (cells are never merged: a merged cell cannot take a
    # value or a feedback comment), and fitting the sheet to one page keeps the title whole.
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_PORTRAIT
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1
    ws.protection.sheet = True


def _write_data(ws, ref: Reference, year: int, previous: Mapping[tuple[str, str], object]) -> None:
    ws.append(list(workbook_contract.DATA_COLUMNS))
    col = {name: i + 1 for i, name in enumerate(workbook_contract.DATA_COLUMNS)}
    for name, index in col.items():
        header = ws.cell(row=1, column=index)
        header.font = Font(bold=True, color="FFFFFFFF")
        header.fill = HEADER_FILL
        header.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[header.column_letter].width = COLUMN_WIDTHS[name]
    ws.row_dimensions[1].height = max(_wrapped_height(name, COLUMN_WIDTHS[name], LINE_HEIGHT) for name in col)
    ws.cell(row=1, column=col[workbook_contract.COL_PREVIOUS]).comment = Comment(
        f"The {year - 1} figure as accepted last year, pre-filled by the Secretariat: a number, or : when it "
        "was not available. Blank when nothing was accepted, or when the figure was a confidential small "
        f"count (<5), which is not shown again. Correct it if the {year - 1} figure was revised, and explain "
        "the revision in the Comment column. Otherwise leave it as it is.",
        "BSEC Secretariat",
    )
    kinds: list[bool] = []  # is_count of each Data row, from row 2
    row = 1
    for ind in ref.indicators:
        for key in ref.breakdowns_of(ind):
            row += 1
            label = ind.label if key == "TOTAL" else f"{ind.label}: {ref.breakdown_label(key)}"
            ws.cell(row=row, column=col[workbook_contract.COL_CODE], value=ind.code)
            ws.cell(row=row, column=col[workbook_contract.COL_BREAKDOWN], value=key)
            ws.cell(row=row, column=col[workbook_contract.COL_INDICATOR], value=label)
            ws.cell(row=row, column=col[workbook_contract.COL_UNIT], value=ind.unit)
            ws.cell(row=row, column=col[workbook_contract.COL_DEFINITION], value=ind.definition)
            for name, index in col.items():
                ws.cell(row=row, column=index).alignment = Alignment(wrap_text=name in WRAPPED_COLUMNS, vertical="top")
            ws.row_dimensions[row].height = max(_wrapped_height(str(ws.cell(row=row, column=col[name]).value), COLUMN_WIDTHS[name], LINE_HEIGHT)
                                                for name in WRAPPED_COLUMNS)
            if key == "TOTAL":
                for name in (workbook_contract.COL_CODE, workbook_contract.COL_INDICATOR):
                    ws.cell(row=row, column=col[name]).font = TOTAL_FONT
                ws.cell(row=row, column=col[workbook_contract.COL_INDICATOR]).comment = Comment(ind.definition, "BSEC Secretariat")
            for name in workbook_contract.EDITABLE_DATA_COLUMNS:
                cell = ws.cell(row=row, column=col[name])
                cell.protection = UNLOCKED
                cell.fill = INPUT_FILL
            value_cell = ws.cell(row=row, column=col[workbook_contract.COL_VALUE])
            value_cell.number_format = "#,##0" if ind.is_count else "#,##0.###"
            previous_cell = ws.cell(row=row, column=col[workbook_contract.COL_PREVIOUS])
            previous_cell.number_format = value_cell.number_format
            previous_cell.value = previous.get((ind.code, key))
            kinds.append(ind.is_count)
    last = row
    _add_input_rules(ws, col, kinds, year, ref)
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = f"A1:{ws.cell(row=1, column=len(workbook_contract.DATA_COLUMNS)).column_letter}{last}"
    # Landscape, one page wide, the header row on every page.
    _fit_to_width(ws, landscape=True, title_rows="1:1")
    ws.protection.sheet = True
    ws.protection.autoFilter = False
    ws.protection.sort = False


def _add_input_rules(ws, col: Mapping[str, int], kinds: list[bool], year: int, ref: Reference) -> None:
    """The custom validations of the Value, Previous year value and Flag cells of Data rows 2 onwards
    (`kinds`: is_count of each row).

    A rule is written for the top-left cell of its range and moves with each cell, so every range is
    one block of rows of one kind (Excel and LibreOffice agree on which cell a rule is written for only
    when its range is one block). Error style "warning": the focal point may keep a value after the
    message. Validation is the real gate, and it reads a few forms a rule cannot tell from mistakes
    (a number typed as text, '1 154'); a value pasted in is never checked by the rule anyway.
    """
    revise = f"The {year - 1} figure as accepted last year: correct it only if it was revised, and say why in the Comment column."
    messages = {  # (column, is_count) -> (prompt title, prompt, error)
        (workbook_contract.COL_VALUE, True): ("Value", f"A whole number, 0 or more (0 is a real zero); {SHORT_FORMS}."),
        (workbook_contract.COL_VALUE, False): ("Value", f"A number, 0 or more, decimals allowed (0 is a real zero); {SHORT_FORMS}."),
        (workbook_contract.COL_PREVIOUS, True): ("Previous year value", f"{revise} A whole number 0 or more; {SHORT_FORMS}."),
        (workbook_contract.COL_PREVIOUS, False): ("Previous year value", f"{revise} A number 0 or more; {SHORT_FORMS}."),
    }
    first_row = 2
    blocks: list[tuple[int, int, bool]] = []  # (first row, last row, is_count)
    for offset, is_count in enumerate(kinds):
        row = first_row + offset
        if blocks and blocks[-1][2] == is_count:
            blocks[-1] = (blocks[-1][0], row, is_count)
        else:
            blocks.append((row, row, is_count))
    for name in (workbook_contract.COL_VALUE, workbook_contract.COL_PREVIOUS):
        letter = get_column_letter(col[name])
        for top, bottom, is_count in blocks:
            title, prompt = messages[(name, is_count)]
            kind = "a whole number 0 or more" if is_count else "a number 0 or more"
            _add_rule(ws, f"{letter}{top}:{letter}{bottom}", value_rule(f"{letter}{top}", is_count), title, prompt,
                      f"Not accepted here. Type {kind}, {SHORT_FORMS}. Other spellings of not available: Instructions sheet.")
    flag_letter = get_column_letter(col[workbook_contract.COL_FLAG])
    last_row = first_row + len(kinds) - 1
    _add_rule(ws, f"{flag_letter}{first_row}:{flag_letter}{last_row}", flag_rule(f"{flag_letter}{first_row}"), "Flag",
              "Optional. A code, several together (bp), or the word: " + ", ".join(f"{flag.code} {flag.word}" for flag in ref.flags) + ".",
              "Not a flag. Type one or more codes, together such as bp, or a flag's word: see the Instructions sheet.")


def _add_rule(ws, cells: str, formula: str, title: str, prompt: str, error: str) -> None:
    rule = DataValidation(
        type="custom",
        formula1=formula,
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        errorStyle="warning",
        promptTitle=title,
        prompt=prompt,
        errorTitle="Not an accepted value",
        error=error,
    )
    ws.add_data_validation(rule)
    rule.add(cells)


def _write_lists(wb: Workbook, ref: Reference) -> None:
    """The hidden sheet of lists the Data sheet's rules read, one a column, each behind a defined name."""
    ws = wb.create_sheet(workbook_contract.LISTS_SHEET)
    columns = (
        (FLAG_LIST, [flag.word for flag in ref.flags]),
        (None, [flag.code for flag in ref.flags]),  # each word's code beside it, for a reader of the sheet
        (FLAG_CHARACTERS, list(dict.fromkeys("".join(flag.code for flag in ref.flags) + FLAG_SEPARATORS))),
        (NOT_AVAILABLE_LIST, list(NOT_AVAILABLE_FORMS)),
        (DIGITS, list("0123456789")),
    )
    for column, (name, values) in enumerate(columns, start=1):
        for row, value in enumerate(values, start=1):
            ws.cell(row=row, column=column, value=value)
        if name is not None:
            letter = get_column_letter(column)
            wb.defined_names[name] = DefinedName(name, attr_text=f"{quote_sheetname(workbook_contract.LISTS_SHEET)}!${letter}$1:${letter}${len(values)}")
    ws.sheet_state = "hidden"
    ws.protection.sheet = True


def _write_instructions(ws, ref: Reference, year: int) -> None:
    """The steps and accepted forms (`instruction_sections`), then the flags with their meaning."""
    ws.column_dimensions["A"].width = INSTRUCTIONS_WIDTH
    rows: list[tuple[str, Font | None]] = [
        (f"How to fill in the submission workbook for {year}", Font(bold=True, size=14)),
        (f"Reporting year {year}: type the {year} figures in Value. Previous year value holds the {year - 1} figures.", None),
    ]
    for heading, lines in instruction_sections(ref):
        rows.append(("", None))
        rows.append((heading, Font(bold=True)))
        rows += [(f"• {line}", None) for line in lines]
    rows += [("", None), ("Flags", Font(bold=True))]
    rows += [(f"{flag.code}  {flag.word}: {flag.meaning}", None) for flag in ref.flags]
    for row, (text, font) in enumerate(rows, start=1):
        cell = ws.cell(row=row, column=1, value=text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if font is not None:
            cell.font = font
        ws.row_dimensions[row].height = _wrapped_height(text, INSTRUCTIONS_WIDTH, 18 if row == 1 else LINE_HEIGHT)
    _fit_to_width(ws, landscape=False)
    ws.protection.sheet = True


def _wrapped_height(text: str, width: float, line_height: float) -> float:
    """Row height in points for `text` wrapped in a column `width` characters wide.

    Spreadsheet programs keep a row's stored height on opening, so a wrapped text needs its height
    written. A column `width` characters wide holds about 1.2 `width` characters of running text
    (measured with DejaVu Sans, what LibreOffice uses without Calibri, whose characters are wider).
    """
    return line_height * max(1, math.ceil(len(text) / (width * 1.2)))


def _fit_to_width(ws, *, landscape: bool, title_rows: str | None = None) -> None:
    """Print `ws` on A4 scaled to one page wide, as many pages long as it takes."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE if landscape else ws.ORIENTATION_PORTRAIT
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # 0: as many pages as needed
    ws.page_margins.left = ws.page_margins.right = 0.4  # inches
    if title_rows:
        ws.print_title_rows = title_rows
