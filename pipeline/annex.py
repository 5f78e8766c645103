"""Data annex: the tables behind the report as one workbook, `BSEC_Annual_Assessment_<year>_data.xlsx`.

Input: the frames the run writes to `data/*.csv` (regional, country, observations, coverage,
findings, revisions, submissions, changes), the `Reference` and whether the year's data are a demonstration.
Output: one .xlsx beside the report, for readers who work in a spreadsheet:

* `README` first: title, year, what each sheet holds, what each column means, the flags, the
  symbols convention (an empty value and the status column saying why), the source line, and that
  the same data are in `data/*.csv`;
* one sheet per CSV (`Regional`, `National`, `Observations`, `Coverage`, `Findings`, `Revisions`,
  `Submissions`, `Changes`) with the CSV's columns, same names, same order; Regional, National,
  Observations and Changes also get `indicator_label` and `unit` next to `indicator`. Bold frozen header row and
  an auto-filter over the data.

Cells: numbers are numbers (years as integers), an empty cell is "no number" (never 0, never
"nan"), flags and all text are text. Rates and changes show 1 decimal and counts a thousands
separator, by number format only: the cell keeps the full value. No formulas anywhere: text from
submissions that starts with `=` (or anything else) is written with XlsxWriter's `write_string`, so
it stays text (CWE-1236). The document date is fixed (1 January of the next year) and XlsxWriter dates
the zip entries itself, so the same data give the same bytes.

It must not compute anything: it lays out the frames it is given. No I/O but the one file.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from pipeline import __version__
from pipeline.atomic import write_atomically
from pipeline.changes import empty_changes
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
    SheetSpec("Changes", "changes.csv", "Every published figure that changed since the release the run was compared with (none without a release): old and new value, status and flags, the cause(s) and the evidence.", True),
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
    "level": "regional (a regional figure), national (a member state's) or coverage (the coverage matrix).",
    "measure": "Which figure of the row changed: total, n_reporting, rate_per_100k, change_pct, change_pct_same_reporters, value or coverage.",
    "difference": "New value minus old value, when both are numbers.",
    "new_status": "Status of the figure now (coverage for the coverage level).",
    "old_flags": "Flags of the figure in the release.",
    "new_flags": "Flags of the figure now.",
    "cause": "Why it changed, one or more cause codes separated by ';' (see docs/outputs.md): resubmission, revision, new-file, removed-file, population-update, history-import, settings-change, version-change, reference-change, other.",
    "evidence": "What shows each cause: the state, indicator and year behind the figure, the old and new value, and the file, sheet!cell (or reference file, setting) it comes from.",
}
SHEET_COLUMN_MEANINGS = {
    ("Findings", "value"): "The cell's content as submitted (text).",
    ("Findings", "file"): "File the finding is about.",
    ("Revisions", "file"): "File holding the revised figure.",
    ("Revisions", "cell"): "Cell of the revised figure (Previous year value).",
    ("Revisions", "change_pct"): "Revision as a % of the old figure; shown with 1 decimal.",
    ("Submissions", "status"): "accepted, accepted-with-warnings, accepted-with-errors (values in error left out), rejected, superseded, ignored or history.",
    ("Submissions", "year"): "Reporting year of the file; empty when it could not be read.",
    ("Coverage", "year"): "Reference year.",
    ("Changes", "old_value"): "The figure in the release compared with; empty when there was no number.",
    ("Changes", "new_value"): "The figure now; empty when there is no number.",
    ("Changes", "old_status"): "Status of the figure in the release (coverage for the coverage level).",
    ("Changes", "country_iso3"): "Member state; empty for a regional figure.",
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
VALUE_COLUMNS = frozenset({"value", "total", "old_value", "new_value", "difference"})  # whole numbers as counts, others with decimals
COUNT_COLUMNS = frozenset({"population", "n_reporting", "n_expected", "n_rate", "n_same_reporters", "n_history", "n_values", "n_errors", "n_warnings"})
INTEGER_COLUMNS = frozenset({"year", "population_year"}) | COUNT_COLUMNS  # written as int, never 2025.0

MIN_WIDTH, MAX_WIDTH, NUMBER_WIDTH = 8, 60, 12


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
    changes: pd.DataFrame | None = None,
) -> Path:
    """Write the data annex to `path` (atomically, same bytes for the same data) and return `path`.

    `changes`: data/changes.csv (None: no release to compare with, the sheet has its header only)."""
    changes = empty_changes() if changes is None else changes
    frames = dict(zip((s.name for s in SHEETS), (regional, country, observations, coverage, findings, revisions, submissions, changes), strict=True))
    tables = {spec.name: _with_labels(frames[spec.name], ref) if spec.with_labels else frames[spec.name] for spec in SHEETS}
    buffer = io.BytesIO()
    # constant_memory: each row goes to a temporary file once written (the annex has ~350,000 cells),
    # and texts are written inline rather than in a shared-strings part.
    workbook = xlsxwriter.Workbook(buffer, {"constant_memory": True})
    workbook.set_properties({
        "title": f"{settings.report_title} — {year}: data annex",
        "author": f"crimetrends {__version__}",
        "created": dt.datetime(year + 1, 1, 1),  # fixed, so that the same data give the same bytes
    })
    formats = _Formats(workbook)
    _write_readme(workbook.add_worksheet(README_SHEET), formats, year, tables, ref, is_demonstration, settings.report_title,
                  _source_line(frames["Observations"], settings))
    for spec in SHEETS:
        _write_table(workbook.add_worksheet(spec.name), formats, tables[spec.name])
    workbook.close()
    return write_atomically(path, buffer.getvalue())


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


# -- the sheets -------------------------------------------------------------------------------------
# What XML 1.0 cannot carry (C0 controls but tab, LF, CR; lone surrogates; U+FFFE/U+FFFF): dropped,
# as `output_files.set_cell` drops them from openpyxl cells.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class _Formats:
    """The workbook's cell formats (XlsxWriter makes each once per workbook)."""

    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self.title = workbook.add_format({"bold": True, "font_size": 14})
        self.notice = workbook.add_format({"bold": True, "font_size": 14, "font_color": "#C00000"})
        self.bold = workbook.add_format({"bold": True})
        self.wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        self.count = workbook.add_format({"num_format": COUNT_FORMAT})
        self.rate = workbook.add_format({"num_format": RATE_FORMAT})
        self.decimal = workbook.add_format({"num_format": DECIMAL_FORMAT})


def _write_text(ws: Worksheet, row: int, col: int, value: str, fmt: Format | None = None) -> None:
    """Text as a string cell, never a formula; no cell when nothing is left of it."""
    clean = _NOT_XML.sub("", value)
    if clean:
        ws.write_string(row, col, clean, fmt)


def _write_value(ws: Worksheet, row: int, col: int, column: str, value: object, formats: _Formats) -> None:
    """One cell of a table: text as text, a number as a number in its column's format (years and counts
    as integers, whole numbers in a value column as counts, other values with decimals), booleans as
    booleans, no cell for a missing or non-finite value; anything else as the CSV shows it."""
    if isinstance(value, str):
        _write_text(ws, row, col, value)
        return
    if _is_missing(value):
        return
    if isinstance(value, bool | np.bool_):
        ws.write_boolean(row, col, bool(value))
        return
    if not isinstance(value, numbers.Real):  # dates and anything else
        _write_text(ws, row, col, str(value))
        return
    number = int(value) if isinstance(value, numbers.Integral) else float(value)  # numpy scalars too
    if isinstance(number, float) and not math.isfinite(number):
        return
    whole = float(number).is_integer()
    if column in INTEGER_COLUMNS and whole:
        number = int(number)
    if column in RATE_COLUMNS:
        fmt = formats.rate
    elif column in COUNT_COLUMNS:
        fmt = formats.count
    elif column in VALUE_COLUMNS:
        fmt = formats.count if whole else formats.decimal
    else:
        fmt = None  # years and other numbers: General
    ws.write_number(row, col, number, fmt)


def _width(name: str, series: pd.Series) -> float:
    """A column width that fits the header and most values (text capped at MAX_WIDTH)."""
    header = len(name) + 3  # bold, and room for the filter button
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return max(header, NUMBER_WIDTH)
    distinct = {v for v in series.tolist() if isinstance(v, str)}
    longest = max((len(line) for v in distinct for line in v.splitlines()), default=0)
    return float(min(MAX_WIDTH, max(MIN_WIDTH, header, longest + 2)))


def _write_table(ws: Worksheet, formats: _Formats, frame: pd.DataFrame) -> None:
    """Header row (bold, frozen, with the auto-filter) and one row per frame row."""
    columns = [str(c) for c in frame.columns]
    for col, (column, key) in enumerate(zip(columns, frame.columns, strict=True)):
        ws.set_column(col, col, _width(column, frame[key]))
    ws.freeze_panes(1, 0)
    if columns:
        ws.autofilter(0, 0, len(frame), len(columns) - 1)
    for col, column in enumerate(columns):
        _write_text(ws, 0, col, column, formats.bold)
    values = [frame[key].tolist() for key in frame.columns]
    for row, cells in enumerate(zip(*values), start=1):
        for col, (column, value) in enumerate(zip(columns, cells, strict=True)):
            _write_value(ws, row, col, column, value, formats)


def _write_readme(ws: Worksheet, formats: _Formats, year: int, tables: dict[str, pd.DataFrame], ref: Reference, is_demonstration: bool,
                  title: str, source_line: str) -> None:
    """Title, what each sheet holds, the columns, the flags and symbols, the source: text only."""
    for col, width in enumerate((18, 30, 110)):
        ws.set_column(col, col, width)
    row = 0

    def line(*values: str, fmt: Format | None = None, wrapped: bool = False) -> None:
        nonlocal row
        shown = formats.wrap if wrapped and fmt is None else fmt
        for col, value in enumerate(values):
            if value:
                _write_text(ws, row, col, value, shown)
        row += 1

    line(f"{title} — {year}", fmt=formats.title)
    line(f"Data annex: the figures behind the report BSEC_Annual_Assessment_{year}.docx, reporting year {year}.")
    if is_demonstration:
        line(DEMONSTRATION_NOTICE, fmt=formats.notice)
    line(source_line)
    line(f"The same data are in data/*.csv beside this workbook (UTF-8, one file per sheet, same column names and order; {README_SHEET} and the indicator_label and unit columns are only here).")
    line("No cell holds a formula: text from submissions is shown as it was typed, even when it starts with = + - or @.")
    line()
    line("Sheets", fmt=formats.bold)
    line("Sheet", "CSV file", "What it holds", fmt=formats.bold)
    for spec in SHEETS:
        line(spec.name, f"data/{spec.csv}", f"{spec.holds} {len(tables[spec.name]):,} row(s).", wrapped=True)
    line()
    line("Empty cells and status", fmt=formats.bold)
    line("An empty cell is not a zero: there is no number, and the status column (coverage in Coverage) says why. A real zero is written 0.")
    line("Status", "", "Meaning", fmt=formats.bold)
    for status, meaning in STATUS_MEANINGS:
        line(status, "value empty", meaning, wrapped=True)
    line()
    line("Flags", fmt=formats.bold)
    line("Flags are letters kept as text next to a value (Eurostat codes); they combine, e.g. 'bp' is a provisional value after a break in series.")
    line("Code", "Word", "Meaning", fmt=formats.bold)
    for flag in ref.flags:
        line(flag.code, flag.word, flag.meaning, wrapped=True)
    line()
    line("Number formats", fmt=formats.bold)
    line("Rates and changes are shown with 1 decimal and counts with a thousands separator; the cell holds the full value (the CSV keeps 6 decimals).")
    line()
    line("Columns", fmt=formats.bold)
    line("Sheet", "Column", "Meaning", fmt=formats.bold)
    for spec in SHEETS:
        for column in tables[spec.name].columns:
            line(spec.name, str(column), column_meaning(spec.name, str(column)), wrapped=True)


# -- cells ---------------------------------------------------------------------------------------
def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def column_meaning(sheet: str, column: str) -> str:
    """What `column` of `sheet` holds, for the README ('' for a column nobody described)."""
    return SHEET_COLUMN_MEANINGS.get((sheet, column), COLUMN_MEANINGS.get(column, ""))
