"""Data annex: the tables behind the report as one workbook, `BSEC_Annual_Assessment_<year>_data.xlsx`.

Input: the frames the run writes to `data/*.csv` (regional, country, observations, coverage,
findings, revisions, submissions), the `Reference` and whether the year's data are a demonstration.
Output: one .xlsx beside the report, for readers who work in a spreadsheet:

* `README` first: title, year, what each sheet holds, what each column means, the flags, the
  symbols convention (an empty value and the status column saying why), the source line, and that
  the same data are in `data/*.csv`;
* one sheet per CSV (`Regional`, `National`, `Observations`, `Coverage`, `Findings`, `Revisions`,
  `Submissions`) with the CSV's columns, same names, same order; Regional, National and
  Observations also get `indicator_label` and `unit` next to `indicator`. Bold frozen header row and
  an auto-filter over the data.

Cells: numbers are numbers (years as integers), an empty cell is "no number" (never 0, never
"nan"), flags and all text are text. Rates and changes show 1 decimal and counts a thousands
separator, by number format only: the cell keeps the full value. No formulas anywhere: text from
submissions that starts with `=` (or anything else) is stored as a string (`store.set_cell`, CWE-1236).
The file is written with fixed times (`store.write_workbook`), so the same data give the same bytes.

It must not compute anything: it lays out the frames it is given. No I/O but the one file.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl.cell.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook import Workbook
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from pipeline import __version__, store
from pipeline.reference import Reference
from pipeline.settings import DEFAULT_SETTINGS, Settings
from pipeline.validate import CONFIDENTIAL, NOT_APPLICABLE, NOT_AVAILABLE, REJECTED

ANNEX_FILENAME = "BSEC_Annual_Assessment_{year}_data.xlsx"
README_SHEET = "README"
DEMONSTRATION_NOTICE = "Demonstration data — not official figures"


@dataclass(frozen=True)
class SheetSpec:
    name: str
    csv: str  # the file in data/ holding the same table
    holds: str
    with_labels: bool = False  # indicator_label and unit after indicator


SHEETS = (
    SheetSpec("Regional", "regional.csv", "Regional totals per indicator, breakdown and year, with the states reporting (n of N), the rate per 100,000 and the change on the previous year.", True),
    SheetSpec("National", "country.csv", "Each member state's published value per indicator, breakdown and year, with its rate, change, flags and comment. Confidential values are empty.", True),
    SheetSpec("Observations", "observations.csv", "Every value read, one row per state, year, indicator and breakdown (long format), with its status, flags, comment and where it came from (file, sheet, cell, or the published source).", True),
    SheetSpec("Coverage", "coverage.csv", "The coverage matrix: for every year, member state and indicator (total), whether there is a figure, and why not."),
    SheetSpec("Findings", "findings.csv", "Every finding of validation: code, severity, where (file, sheet, cell), the value as submitted and the message."),
    SheetSpec("Revisions", "revisions.csv", "Every figure of an earlier year a state revised: old and new value, change and the state's comment."),
    SheetSpec("Submissions", "submissions.csv", "Every input file and what became of it (accepted, rejected, superseded, history...), with counts of values, errors and warnings."),
)

# What each column holds; (sheet, column) overrides the general meaning where a name means something else there.
COLUMN_MEANINGS = {
    "indicator": "Indicator code of the BSEC catalogue.",
    "indicator_label": "Indicator name (added for readers; not in the CSV).",
    "unit": "Unit of the indicator's values (added for readers; not in the CSV).",
    "breakdown": "TOTAL, or DIMENSION=VALUE such as SEX=F, AGE=CHILD.",
    "year": "Reference year of the figure.",
    "country_iso3": "Member state, ISO 3166 alpha-3 code.",
    "total": "Sum over the states that reported a number; empty when none did or when it would disclose a confidential value (flag C).",
    "n_reporting": "States in the total (n of 'n of N').",
    "n_expected": "Member states that year (N of 'n of N').",
    "reporting": "ISO3 codes of the states in the total, separated by ';'.",
    "population": "Population the rate is computed on (World Bank SP.POP.TOTL).",
    "rate_per_100k": "Rate per 100,000 inhabitants (persons and cases only); shown with 1 decimal, full value in the cell.",
    "n_rate": "States in the rate (those with a population figure).",
    "change_pct": "Change on the previous year, in %; shown with 1 decimal.",
    "n_same_reporters": "States that reported in both years.",
    "change_pct_same_reporters": "Change on the previous year over the states that reported in both years, in %: the basis to quote.",
    "flags": "Flags of the value (see Flags below), kept as given, e.g. 'bp'. An aggregate carries the flags of its values.",
    "rate_flags": "Flags of the rate: 'e' when the population is of an earlier year.",
    "n_history": "States in the total whose figure comes from published data.",
    "history_sources": "Published sources of those figures.",
    "value": "The figure; empty when there is no number (status says why).",
    "status": "What the value is: reported, not_available, not_applicable, confidential or rejected (see Symbols).",
    "population_year": "Year of the population figure used.",
    "comment": "The state's comment, as written.",
    "origin": "submission (a member state's workbook) or history (published data).",
    "source": "The published source of a history value; empty for submissions.",
    "source_file": "The file the value was read from.",
    "sheet": "Sheet of that file.",
    "cell": "Cell of that sheet.",
    "coverage": "reported, confidential, not_available, not_applicable, rejected or no_submission.",
    "code": "Finding code (meaning and how to fix: pipeline/reference/finding_codes.csv).",
    "severity": "error, warning or info.",
    "file": "Input file, relative to the inputs folder.",
    "message": "What was found.",
    "old_value": "The figure accepted before the revision; empty when there was none.",
    "old_status": "Status of the figure before the revision.",
    "new_value": "The revised figure, now in use.",
    "old_file": "File the old figure came from.",
    "old_cell": "Cell of the old figure.",
    "reason": "Why the file was not used as it stands, if so.",
    "date_submitted": "Date on the Cover sheet (YYYY-MM-DD).",
    "n_values": "Values used from the file.",
    "n_errors": "Errors found.",
    "n_warnings": "Warnings found.",
    "sha256": "SHA-256 of the file as read.",
}
SHEET_COLUMN_MEANINGS = {
    ("Findings", "value"): "The cell's content as submitted (text).",
    ("Findings", "file"): "File the finding is about.",
    ("Revisions", "file"): "File holding the revised figure.",
    ("Revisions", "cell"): "Cell of the revised figure (Previous year value).",
    ("Revisions", "change_pct"): "Revision as a % of the old figure; shown with 1 decimal.",
    ("Submissions", "status"): "accepted, accepted-with-warnings, rejected, superseded, ignored or history.",
    ("Submissions", "year"): "Reporting year of the file; empty when it could not be read.",
    ("Coverage", "year"): "Reference year.",
}
STATUS_MEANINGS = (
    (NOT_AVAILABLE, "Not available: not reported or not collected (a blank, ':', '..', 'n/a'...), or no submission."),
    (NOT_APPLICABLE, "Not applicable: the figure cannot exist (flag m)."),
    (CONFIDENTIAL, "Confidential (flag C or N, or a suppressed small count '<5'): not shown for the state; used in a regional total only when that cannot disclose it."),
    (REJECTED, "Rejected in validation (see the Findings sheet): not used."),
)

# Number formats: the cell keeps the full value, the format only rounds what is shown.
RATE_FORMAT = "0.0"
COUNT_FORMAT = "#,##0"
DECIMAL_FORMAT = "#,##0.0##"  # a quantity with decimals (kg, thousand EUR)
RATE_COLUMNS = frozenset({"rate_per_100k", "change_pct", "change_pct_same_reporters"})
VALUE_COLUMNS = frozenset({"value", "total", "old_value", "new_value"})  # whole numbers as counts, others with decimals
COUNT_COLUMNS = frozenset({"population", "n_reporting", "n_expected", "n_rate", "n_same_reporters", "n_history", "n_values", "n_errors", "n_warnings"})
INTEGER_COLUMNS = frozenset({"year", "population_year"}) | COUNT_COLUMNS  # written as int, never 2025.0

MIN_WIDTH, MAX_WIDTH, NUMBER_WIDTH = 8, 60, 12
HEADER_FONT = Font(bold=True)


def annex_path(year_dir: Path, year: int) -> Path:
    """Where the annex goes: beside the report in `<outputs>/<year>/`."""
    return year_dir / ANNEX_FILENAME.format(year=year)


def write_data_annex(
    path: Path,
    *,
    year: int,
    regional: pd.DataFrame,
    country: pd.DataFrame,
    observations: pd.DataFrame,
    coverage: pd.DataFrame,
    findings: pd.DataFrame,
    revisions: pd.DataFrame,
    submissions: pd.DataFrame,
    ref: Reference,
    is_demonstration: bool,
    settings: Settings = DEFAULT_SETTINGS,
) -> Path:
    """Write the data annex to `path` (atomically, same bytes for the same data) and return `path`."""
    frames = dict(zip((s.name for s in SHEETS), (regional, country, observations, coverage, findings, revisions, submissions), strict=True))
    tables = {spec.name: _with_labels(frames[spec.name], ref) if spec.with_labels else frames[spec.name] for spec in SHEETS}
    wb = Workbook(write_only=True)
    wb.properties.creator = f"crimetrends {__version__}"
    wb.properties.title = f"{settings.report_title} — {year}: data annex"
    _write_readme(wb.create_sheet(README_SHEET), year, tables, ref, is_demonstration, settings.report_title, _source_line(observations, settings))
    for spec in SHEETS:
        _write_table(wb.create_sheet(spec.name), spec.name, tables[spec.name])
    return store.write_workbook(wb, path, dt.datetime(year + 1, 1, 1))


def _with_labels(frame: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    """`frame` with `indicator_label` and `unit` right after `indicator` (empty for a code not in the catalogue)."""
    if "indicator" not in frame.columns:
        return frame
    out = frame.copy()
    at = list(out.columns).index("indicator") + 1
    found = [ref.indicator_by_code.get(code) if isinstance(code, str) else None for code in out["indicator"]]
    out.insert(at, "indicator_label", pd.Series([ind.label if ind else "" for ind in found], index=out.index, dtype=object))
    out.insert(at + 1, "unit", pd.Series([ind.unit if ind else "" for ind in found], index=out.index, dtype=object))
    return out


def _source_line(observations: pd.DataFrame, settings: Settings) -> str:
    """The report's source line, with the published sources the figures draw on."""
    sources = sorted({s for s in observations.get("source", pd.Series(dtype=object)) if isinstance(s, str) and s})
    return settings.source_line + (f"; published data: {'; '.join(sources)}" if sources else "") + "."


# -- cells ---------------------------------------------------------------------------------------
def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _converter(ws: WriteOnlyWorksheet, column: str, text: Callable[[str], object]) -> Callable[[object], object]:
    """How the values of `column` become cells: text as text (`text`), numbers as numbers with the column's format."""
    as_integer = column in INTEGER_COLUMNS
    fixed_format = RATE_FORMAT if column in RATE_COLUMNS else COUNT_FORMAT if column in COUNT_COLUMNS else None

    def number(value: float | int, fmt: str):
        cell = WriteOnlyCell(ws, value)
        cell.number_format = fmt
        return cell

    def convert(value: object) -> object:
        if _is_missing(value):
            return None
        if isinstance(value, str):
            return text(value)
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if not isinstance(value, numbers.Real):  # dates and anything else: as the CSV shows them
            return text(str(value))
        value = int(value) if isinstance(value, numbers.Integral) else float(value)  # numpy scalars too
        if as_integer and float(value).is_integer():
            value = int(value)
        if fixed_format is not None:
            return number(value, fixed_format)
        if column in VALUE_COLUMNS:
            return number(value, COUNT_FORMAT if float(value).is_integer() else DECIMAL_FORMAT)
        return value  # years and other numbers: General

    return convert


def _rows(ws: WriteOnlyWorksheet, frame: pd.DataFrame) -> Iterator[list[object]]:
    """The frame's rows as cells, made one row at a time (50,000 rows of cells at once would be ~100 MB)."""
    text = store.text_for_append(ws)
    converters = [_converter(ws, str(name), text) for name in frame.columns]
    for values in zip(*(frame[name].tolist() for name in frame.columns), strict=True):
        yield [convert(v) for convert, v in zip(converters, values, strict=True)]


def _width(name: str, series: pd.Series) -> float:
    """A column width that fits the header and most values (text capped at MAX_WIDTH)."""
    header = len(name) + 3  # bold, and room for the filter button
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return max(header, NUMBER_WIDTH)
    longest = max((len(line) for v in series.tolist() if isinstance(v, str) for line in v.splitlines()), default=0)
    return float(min(MAX_WIDTH, max(MIN_WIDTH, header, longest + 2)))


def _write_table(ws: WriteOnlyWorksheet, name: str, frame: pd.DataFrame) -> None:
    """Header row (bold, frozen, with the auto-filter) and one row per frame row."""
    columns = list(frame.columns)
    for i, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = _width(column, frame[column])
    ws.freeze_panes = "A2"  # write-only: views and widths must be set before the first row
    header = [store.set_cell(WriteOnlyCell(ws), str(column)) for column in columns]
    for cell in header:
        cell.font = HEADER_FONT
    ws.append(header)
    for row in _rows(ws, frame):
        ws.append(row)
    if columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(frame) + 1}"


# -- README --------------------------------------------------------------------------------------
def _write_readme(ws: WriteOnlyWorksheet, year: int, tables: dict[str, pd.DataFrame], ref: Reference, is_demonstration: bool, title: str, source_line: str) -> None:
    """Title, what each sheet holds, the columns, the flags and symbols, the source: text only."""
    for letter, width in zip("ABC", (18, 30, 110), strict=True):
        ws.column_dimensions[letter].width = width
    title_font, section_font = Font(bold=True, size=14), Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")

    def line(*values: str, font: Font | None = None, wrapped: bool = False) -> None:
        cells = []
        for value in values:
            cell = store.set_cell(WriteOnlyCell(ws), value) if value else None
            if cell is not None and font is not None:
                cell.font = font
            if cell is not None and wrapped:
                cell.alignment = wrap
            cells.append(cell)
        ws.append(cells)

    line(f"{title} — {year}", font=title_font)
    line(f"Data annex: the figures behind the report BSEC_Annual_Assessment_{year}.docx, reporting year {year}.")
    if is_demonstration:
        line(DEMONSTRATION_NOTICE, font=Font(bold=True, size=14, color="FFC00000"))
    line(source_line)
    line(f"The same data are in data/*.csv beside this workbook (UTF-8, one file per sheet, same column names and order; {README_SHEET} and the indicator_label and unit columns are only here).")
    line("No cell holds a formula: text from submissions is shown as it was typed, even when it starts with = + - or @.")
    line()
    line("Sheets", font=section_font)
    line("Sheet", "CSV file", "What it holds", font=section_font)
    for spec in SHEETS:
        line(spec.name, f"data/{spec.csv}", f"{spec.holds} {len(tables[spec.name]):,} row(s).", wrapped=True)
    line()
    line("Empty cells and status", font=section_font)
    line("An empty cell is not a zero: there is no number, and the status column (coverage in Coverage) says why. A real zero is written 0.")
    line("Status", "", "Meaning", font=section_font)
    for status, meaning in STATUS_MEANINGS:
        line(status, "value empty", meaning, wrapped=True)
    line()
    line("Flags", font=section_font)
    line("Flags are letters kept as text next to a value (Eurostat codes); they combine, e.g. 'bp' is a provisional value after a break in series.")
    line("Code", "Word", "Meaning", font=section_font)
    for flag in ref.flags:
        line(flag.code, flag.word, flag.meaning, wrapped=True)
    line()
    line("Number formats", font=section_font)
    line("Rates and changes are shown with 1 decimal and counts with a thousands separator; the cell holds the full value (the CSV keeps 6 decimals).")
    line()
    line("Columns", font=section_font)
    line("Sheet", "Column", "Meaning", font=section_font)
    for spec in SHEETS:
        for column in tables[spec.name].columns:
            line(spec.name, str(column), column_meaning(spec.name, str(column)), wrapped=True)


def column_meaning(sheet: str, column: str) -> str:
    """What `column` of `sheet` holds, for the README ('' for a column nobody described)."""
    return SHEET_COLUMN_MEANINGS.get((sheet, column), COLUMN_MEANINGS.get(column, ""))
