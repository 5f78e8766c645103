"""Submission workbooks: one per member state and reporting year.

Input: the `Reference`, a (country, year) and optionally the observations accepted for the year
before (`<outputs>/<year-1>/data/observations.csv` of the previous run). Output: an .xlsx that follows
`pipeline.workbook_contract`: a Cover (country and year locked, agency/contact/e-mail/date to fill in), a Data
sheet (one row per indicator and breakdown; only Value, Previous year value, Flag and Comment
editable; the Check column shows the live checks of `pipeline.live_checks`), Instructions, and hidden
sheets with the template version, the flag drop-down list and the live checks' helper cells.
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
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from pipeline import __version__, live_checks, workbook_contract, output_files
from pipeline.atomic import write_atomically
from pipeline.errors import PipelineError
from pipeline.reference import Reference
from pipeline.settings import Thresholds

HEADER_FILL = PatternFill(fill_type="solid", start_color="FF1F4E79", end_color="FF1F4E79")
INPUT_FILL = PatternFill(fill_type="solid", start_color="FFFFF2CC", end_color="FFFFF2CC")
TOTAL_FONT = Font(bold=True)
UNLOCKED = Protection(locked=False)

COLUMN_WIDTHS = {
    workbook_contract.COL_CODE: 13,
    workbook_contract.COL_BREAKDOWN: 13,
    workbook_contract.COL_INDICATOR: 58,
    workbook_contract.COL_UNIT: 9,
    workbook_contract.COL_VALUE: 14,
    workbook_contract.COL_PREVIOUS: 16,
    workbook_contract.COL_FLAG: 18,
    workbook_contract.COL_COMMENT: 40,
    workbook_contract.COL_CHECK: 48,
    workbook_contract.COL_DEFINITION: 80,
}


# What a previous run's observations.csv must hold for the pre-fill.
PREVIOUS_RUN_COLUMNS = ("country_iso3", "year", "indicator", "breakdown", "value", "status")
NOT_AVAILABLE_MARK = ":"  # what the pre-fill writes for a value accepted as not available


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
    ws.protection.sheet = True


def _write_data(ws, ref: Reference, year: int, previous: Mapping[tuple[str, str], object]) -> None:
    ws.append(list(workbook_contract.DATA_COLUMNS))
    col = {name: i + 1 for i, name in enumerate(workbook_contract.DATA_COLUMNS)}
    for name, index in col.items():
        header = ws.cell(row=1, column=index)
        header.font = Font(bold=True, color="FFFFFFFF")
        header.fill = HEADER_FILL
        ws.column_dimensions[header.column_letter].width = COLUMN_WIDTHS[name]
    ws.cell(row=1, column=col[workbook_contract.COL_PREVIOUS]).comment = Comment(
        f"The {year - 1} figure as accepted last year, pre-filled by the Secretariat: a number, or : when it "
        "was not available. Blank when nothing was accepted, or when the figure was a confidential small "
        f"count (<5), which is not shown again. Correct it if the {year - 1} figure was revised, and explain "
        "the revision in the Comment column. Otherwise leave it as it is.",
        "BSEC Secretariat",
    )
    count_rows: list[str] = []
    quantity_rows: list[str] = []
    count_previous: list[str] = []
    quantity_previous: list[str] = []
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
            (count_rows if ind.is_count else quantity_rows).append(value_cell.coordinate)
            previous_cell = ws.cell(row=row, column=col[workbook_contract.COL_PREVIOUS])
            previous_cell.number_format = value_cell.number_format
            previous_cell.value = previous.get((ind.code, key))
            (count_previous if ind.is_count else quantity_previous).append(previous_cell.coordinate)
    last = row
    flag_letter = ws.cell(row=1, column=col[workbook_contract.COL_FLAG]).column_letter

    # errorStyle "warning": the submitter may still type ":" (not available) or "<5" after the warning;
    # ingest is the real gate, these only help at typing time.
    revise = f"The {year - 1} figure as accepted last year. Correct it only if it was revised, and explain why in the Comment column."
    for kind, cells, title, message in (
        ("whole", count_rows, "Value", "A whole number, 0 or more. 0 is a real zero; leave blank or type : when not available."),
        ("decimal", quantity_rows, "Value", "A number, 0 or more (decimals allowed). Leave blank or type : when not available."),
        ("whole", count_previous, "Previous year value", f"{revise} A whole number, 0 or more, or : when not available."),
        ("decimal", quantity_previous, "Previous year value", f"{revise} A number, 0 or more, or : when not available."),
    ):
        dv = DataValidation(
            type=kind,
            operator="greaterThanOrEqual",
            formula1="0",
            showErrorMessage=True,
            showInputMessage=True,
            errorStyle="warning",
            promptTitle=title,
            prompt=message,
            errorTitle="Not a valid value",
            error=message,
        )
        ws.add_data_validation(dv)
        for coordinate in cells:
            dv.add(coordinate)
    flag_dv = DataValidation(
        type="list",
        formula1="FlagList",
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        errorStyle="warning",
        promptTitle="Flag",
        prompt="Optional. Choose a flag, or type codes together (for example bp).",
        errorTitle="Unknown flag",
        error="Use a flag from the list, or combine codes such as bp.",
    )
    ws.add_data_validation(flag_dv)
    flag_dv.add(f"{flag_letter}2:{flag_letter}{last}")
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = f"A1:{ws.cell(row=1, column=len(workbook_contract.DATA_COLUMNS)).column_letter}{last}"
    ws.protection.sheet = True
    ws.protection.autoFilter = False
    ws.protection.sort = False


def _write_lists(wb: Workbook, ref: Reference) -> None:
    ws = wb.create_sheet(workbook_contract.LISTS_SHEET)
    for i, flag in enumerate(ref.flags, start=1):
        ws.cell(row=i, column=1, value=flag.word)
        ws.cell(row=i, column=2, value=flag.code)
    wb.defined_names["FlagList"] = DefinedName("FlagList", attr_text=f"'{workbook_contract.LISTS_SHEET}'!$A$1:$A${len(ref.flags)}")
    ws.sheet_state = "hidden"
    ws.protection.sheet = True


def _write_instructions(ws, ref: Reference, year: int) -> None:
    lines = [
        (f"How to fill in the submission workbook for {year}", "title"),
        ("", None),
        ("1. On the Cover, fill in the reporting agency, contact person, e-mail and the date you send the workbook.", None),
        (f"2. On the Data sheet, enter each figure for the calendar year {year} in the Value column, one row per indicator and breakdown.", None),
        ("   The Definition column (and the note on each indicator) says what to count.", None),
        (f"   The column Previous year value shows the {year - 1} figure as accepted last year. If a {year - 1} figure has been revised since,", None),
        ("   type the revised figure over it and explain the revision in the Comment column; otherwise leave it as it is.", None),
        ("   It is blank where no figure was accepted, or where it was a confidential small count (<5).", None),
        ("3. Values:", "bold"),
        ("   • A number, 0 or more. Counts (cases, persons, items, requests) are whole numbers; kg and EUR may have decimals.", None),
        ("   • 0 means a real zero: there were none.", None),
        ("   • Leave the cell blank, or type : (colon), when the figure is not available. Never type 0 for 'not available'.", None),
        ("   • <5 marks a small count that must stay confidential.", None),
        ("   • Type numbers as numbers, without thousands separators or units.", None),
        ("4. Flags (optional, column Flag): choose from the drop-down list or type the codes; codes can be combined (bp).", "bold"),
    ]
    lines += [(f"   {f.code}  {f.word}: {f.meaning}", None) for f in ref.flags]
    lines += [
        ("5. Comment: explain large changes on last year, revised previous-year figures, breaks in series and definitions that differ from ours.", None),
        ("6. Breakdowns (by sex, age, form of exploitation) should add up to the total when every part is known; use UNK for the unknown part.", None),
        ("7. Do not rename sheets, or change the Code, Breakdown or header cells: the workbook is read by these.", None),
        ("8. Send the workbook back to the BSEC Secretariat as .xlsx (an .ods or .xls file saved by LibreOffice is also accepted).", None),
    ]
    for row, (text, style) in enumerate(lines, start=1):
        cell = ws.cell(row=row, column=1, value=text)
        cell.alignment = Alignment(wrap_text=False)
        if style == "title":
            cell.font = Font(bold=True, size=14)
        elif style == "bold":
            cell.font = Font(bold=True)
    ws.column_dimensions["A"].width = 120
    ws.protection.sheet = True
