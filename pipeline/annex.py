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
submissions that starts with `=` (or anything else) is stored as an inline string (CWE-1236).
The file is written with fixed times (`store.write_zip`), so the same data give the same bytes.

It must not compute anything: it lays out the frames it is given. No I/O but the one file.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline import __version__, store
from pipeline.layout import column_letter
from pipeline.reference import Reference
from pipeline.settings import DEFAULT_SETTINGS, Settings
from pipeline.validate import CONFIDENTIAL, NOT_APPLICABLE, NOT_AVAILABLE, REJECTED

if TYPE_CHECKING:
    from pipeline.cache import BlobCache

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
    cache: BlobCache | None = None,
) -> Path:
    """Write the data annex to `path` (atomically, same bytes for the same data) and return `path`.

    With a `cache` (`pipeline.cache.BlobCache`), an annex made before from exactly the same tables,
    reference data, settings and code is copied from it instead of being written again.
    """
    frames = dict(zip((s.name for s in SHEETS), (regional, country, observations, coverage, findings, revisions, submissions), strict=True))
    try:
        key = annex_key(frames, year, is_demonstration, settings) if cache is not None else None
    except TypeError:  # a setting of a kind a key cannot hold: no caching
        key = None
    if cache is not None and key is not None and cache.copy_to(key, path):
        return path
    _write_annex(path, frames, year, ref, is_demonstration, settings)
    if cache is not None and key is not None:
        cache.put(key, path.read_bytes())
    return path


def annex_key(frames: dict[str, pd.DataFrame], year: int, is_demonstration: bool, settings: Settings) -> str:
    """The cache key of an annex: every value of every table, and all else it is made from."""
    from dataclasses import asdict

    from pipeline.cache import canonical, digest, frame_digest, reference_hash, source_hash

    context = [__version__, source_hash("annex", "store"), store.DEFLATER, reference_hash(), year, is_demonstration, canonical(asdict(settings))]
    return digest("annex", context, {name: frame_digest(frame) for name, frame in frames.items()})


def _write_annex(path: Path, frames: dict[str, pd.DataFrame], year: int, ref: Reference, is_demonstration: bool, settings: Settings) -> Path:
    tables = {spec.name: _with_labels(frames[spec.name], ref) if spec.with_labels else frames[spec.name] for spec in SHEETS}
    sheets = [_readme_sheet(year, tables, ref, is_demonstration, settings.report_title, _source_line(frames["Observations"], settings))]
    sheets.extend(_table_sheet(spec.name, tables[spec.name]) for spec in SHEETS)
    title = f"{settings.report_title} — {year}: data annex"
    stamp = dt.datetime(year + 1, 1, 1)
    return store.write_zip(_package(sheets, title, stamp), path, stamp, compresslevel=ANNEX_COMPRESSLEVEL)


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


# -- the workbook as XML ---------------------------------------------------------------------------
# The annex is written as SpreadsheetML directly (ECMA-376 part 1, §18): a few fixed parts and one
# XML part per sheet whose cells are built from the frames' columns. openpyxl's writer took ~20 µs a
# cell (3 s for the sample year's 350,000 cells); this takes ~1 µs. Every text is an inline string
# (t="inlineStr"): no cell can hold a formula or an error value, whatever the text is. Characters
# XML cannot carry are dropped, as `store.set_cell` does; a carriage return is kept as &#13;.
ANNEX_COMPRESSLEVEL = 2  # zlib's scale: with zlib-ng the annex in 26 ms, 1.35 MB (its 1: as fast, 1.88 MB; its default 6: 99 ms, 1.17 MB)

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# Cell styles (index into cellXfs of `_STYLES_XML`).
STYLE_DEFAULT, STYLE_TITLE, STYLE_NOTICE, STYLE_BOLD, STYLE_WRAP, STYLE_COUNT, STYLE_RATE, STYLE_DECIMAL = range(8)
_NUMBER_STYLES = {COUNT_FORMAT: STYLE_COUNT, RATE_FORMAT: STYLE_RATE, DECIMAL_FORMAT: STYLE_DECIMAL}
_STYLES_XML = (
    f'<styleSheet xmlns="{_NS_MAIN}">'
    f'<numFmts count="2"><numFmt numFmtId="164" formatCode="{RATE_FORMAT}"/><numFmt numFmtId="165" formatCode="{DECIMAL_FORMAT}"/></numFmts>'
    '<fonts count="4">'
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b val="1"/><sz val="14"/></font>'
    '<font><b val="1"/><color rgb="FFC00000"/><sz val="14"/></font>'
    '<font><b val="1"/></font>'
    '</fonts>'
    '<fills count="2"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="8">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" applyFont="1" xfId="0"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" applyFont="1" xfId="0"/>'
    '<xf numFmtId="0" fontId="3" fillId="0" borderId="0" applyFont="1" xfId="0"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" applyAlignment="1" xfId="0"><alignment vertical="top" wrapText="1"/></xf>'
    '<xf numFmtId="3" fontId="0" fillId="0" borderId="0" applyNumberFormat="1" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" applyNumberFormat="1" xfId="0"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" applyNumberFormat="1" xfId="0"/>'
    '</cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>'
)
# What XML 1.0 cannot carry (C0 controls but tab, LF, CR; lone surrogates; U+FFFE/U+FFFF): dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass
class _Sheet:
    name: str
    widths: list[float]  # column 1, 2, ...
    rows: list[str]  # <row> elements
    frozen_header: bool = False
    auto_filter: str = ""  # "A1:S677", or "" for none


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _xml_attribute(text: str) -> str:
    return _xml_text(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


class _Texts:
    """The `<is>` element of each distinct text (most texts of a table repeat: codes, labels, statuses)."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        known = self._known.get(value)
        if known is None:
            clean = _NOT_XML.sub("", value)
            space = ' xml:space="preserve"' if clean != clean.strip() else ""
            known = f"<is><t{space}>{_xml_text(clean)}</t></is>" if clean else ""
            self._known[value] = known
        return known


def _number_text(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    text = repr(value)  # the shortest text that reads back as the same float
    return text[:-2] if text.endswith(".0") else text


def _fixed_style(column: str) -> str | None:
    """The style attribute of a column whose numbers all take one format (rates, counts), else None."""
    fixed_format = RATE_FORMAT if column in RATE_COLUMNS else COUNT_FORMAT if column in COUNT_COLUMNS else None
    return None if fixed_format is None else f' s="{_NUMBER_STYLES[fixed_format]}"'


def _cell_maker(column: str, texts: _Texts) -> Callable[[str, object], str]:
    """How the values of `column` become <c> elements: text as inline text, numbers as numbers with the
    column's format (whole numbers in a value column as counts), missing as no cell at all."""
    as_integer = column in INTEGER_COLUMNS
    fixed_style = _fixed_style(column)
    is_value = column in VALUE_COLUMNS
    count_style, decimal_style = f' s="{STYLE_COUNT}"', f' s="{STYLE_DECIMAL}"'

    def text_cell(where: str, value: str) -> str:
        inner = texts(value)
        return f'<c r="{where}" t="inlineStr">{inner}</c>' if inner else ""

    def make(where: str, value: object) -> str:
        if isinstance(value, str):
            return text_cell(where, value)
        if _is_missing(value):
            return ""
        if isinstance(value, bool | np.bool_):
            return f'<c r="{where}" t="b"><v>{1 if value else 0}</v></c>'
        if not isinstance(value, numbers.Real):  # dates and anything else: as the CSV shows them
            return text_cell(where, str(value))
        value = int(value) if isinstance(value, numbers.Integral) else float(value)  # numpy scalars too
        if isinstance(value, float) and not math.isfinite(value):
            return ""
        if as_integer and float(value).is_integer():
            value = int(value)
        if fixed_style is not None:
            style = fixed_style
        elif is_value:
            style = count_style if float(value).is_integer() else decimal_style
        else:
            style = ""  # years and other numbers: General
        return f'<c r="{where}"{style} t="n"><v>{_number_text(value)}</v></c>'

    return make


def _other_cells(letter: str, column: str, values: list[object], texts: _Texts) -> list[str]:
    """The cells of any other column: texts straight to inline strings, NaN (a text column's missing
    value) to no cell and plain ints (an Int64 column's) to numbers, the rest through `_cell_maker`:
    the same cells, without its checks for the ~100,000 of them in an annex."""
    make = _cell_maker(column, texts)
    fixed_style = _fixed_style(column)
    int_style = fixed_style if fixed_style is not None else f' s="{STYLE_COUNT}"' if column in VALUE_COLUMNS else ""
    out = []
    for r, value in enumerate(values, start=2):
        kind = type(value)
        if kind is str:
            inner = texts(value)
            out.append(f'<c r="{letter}{r}" t="inlineStr">{inner}</c>' if inner else "")
        elif kind is float and math.isnan(value):
            out.append("")
        elif kind is int:
            out.append(f'<c r="{letter}{r}"{int_style} t="n"><v>{value}</v></c>')
        else:
            out.append(make(f"{letter}{r}", value))
    return out


def _float_cells(letter: str, column: str, values: list[float]) -> list[str]:
    """The cells of a float64 column: what `_cell_maker` makes of each value, without its checks per value."""
    as_integer = column in INTEGER_COLUMNS
    fixed_style = _fixed_style(column)
    is_value = column in VALUE_COLUMNS
    count_style, decimal_style = f' s="{STYLE_COUNT}"', f' s="{STYLE_DECIMAL}"'
    out = []
    for r, value in enumerate(values, start=2):
        if not math.isfinite(value):  # NaN: no number; +-inf: none either
            out.append("")
            continue
        whole = value.is_integer()
        text = str(int(value)) if as_integer and whole else _number_text(value)
        style = fixed_style if fixed_style is not None else (count_style if whole else decimal_style) if is_value else ""
        out.append(f'<c r="{letter}{r}"{style} t="n"><v>{text}</v></c>')
    return out


def _width(name: str, series: pd.Series) -> float:
    """A column width that fits the header and most values (text capped at MAX_WIDTH)."""
    header = len(name) + 3  # bold, and room for the filter button
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return max(header, NUMBER_WIDTH)
    distinct = {v for v in series.tolist() if isinstance(v, str)}
    longest = max((len(line) for v in distinct for line in v.splitlines()), default=0)
    return float(min(MAX_WIDTH, max(MIN_WIDTH, header, longest + 2)))


def _table_sheet(name: str, frame: pd.DataFrame) -> _Sheet:
    """Header row (bold, frozen, with the auto-filter) and one row per frame row, built column by column."""
    columns = [str(c) for c in frame.columns]
    letters = [column_letter(i) for i in range(len(columns))]
    texts = _Texts()
    header = "".join(f'<c r="{letter}1" s="{STYLE_BOLD}" t="inlineStr">{texts(column)}</c>' for letter, column in zip(letters, columns, strict=True))
    rows = [f'<row r="1">{header}</row>']
    n = len(frame)
    numbers_ = range(2, n + 2)
    cells = []
    for letter, column, key in zip(letters, columns, frame.columns, strict=True):
        series = frame[key]
        values = series.tolist()
        if pd.api.types.is_float_dtype(series.dtype) and isinstance(series.dtype, np.dtype):
            cells.append(_float_cells(letter, column, values))
        else:
            cells.append(_other_cells(letter, column, values, texts))
    rows.extend(f'<row r="{r}">{"".join(row)}</row>' for r, row in zip(numbers_, zip(*cells), strict=True) if cells)
    if not cells:
        rows.extend(f'<row r="{r}"/>' for r in numbers_)
    widths = [_width(column, frame[key]) for column, key in zip(columns, frame.columns, strict=True)]
    return _Sheet(name, widths, rows, frozen_header=True, auto_filter=f"A1:{letters[-1]}{n + 1}" if columns else "")


def _readme_sheet(year: int, tables: dict[str, pd.DataFrame], ref: Reference, is_demonstration: bool, title: str, source_line: str) -> _Sheet:
    """Title, what each sheet holds, the columns, the flags and symbols, the source: text only."""
    rows: list[str] = []
    texts = _Texts()
    letters = "ABC"

    def line(*values: str, style: int = STYLE_DEFAULT, wrapped: bool = False) -> None:
        r = len(rows) + 1
        s = STYLE_WRAP if wrapped and style == STYLE_DEFAULT else style
        shown = f' s="{s}"' if s else ""
        cells = "".join(
            f'<c r="{letter}{r}"{shown} t="inlineStr">{texts(value)}</c>'
            for letter, value in zip(letters, values, strict=False) if value and texts(value)
        )
        rows.append(f'<row r="{r}">{cells}</row>' if cells else f'<row r="{r}"/>')

    line(f"{title} — {year}", style=STYLE_TITLE)
    line(f"Data annex: the figures behind the report BSEC_Annual_Assessment_{year}.docx, reporting year {year}.")
    if is_demonstration:
        line(DEMONSTRATION_NOTICE, style=STYLE_NOTICE)
    line(source_line)
    line(f"The same data are in data/*.csv beside this workbook (UTF-8, one file per sheet, same column names and order; {README_SHEET} and the indicator_label and unit columns are only here).")
    line("No cell holds a formula: text from submissions is shown as it was typed, even when it starts with = + - or @.")
    line()
    line("Sheets", style=STYLE_BOLD)
    line("Sheet", "CSV file", "What it holds", style=STYLE_BOLD)
    for spec in SHEETS:
        line(spec.name, f"data/{spec.csv}", f"{spec.holds} {len(tables[spec.name]):,} row(s).", wrapped=True)
    line()
    line("Empty cells and status", style=STYLE_BOLD)
    line("An empty cell is not a zero: there is no number, and the status column (coverage in Coverage) says why. A real zero is written 0.")
    line("Status", "", "Meaning", style=STYLE_BOLD)
    for status, meaning in STATUS_MEANINGS:
        line(status, "value empty", meaning, wrapped=True)
    line()
    line("Flags", style=STYLE_BOLD)
    line("Flags are letters kept as text next to a value (Eurostat codes); they combine, e.g. 'bp' is a provisional value after a break in series.")
    line("Code", "Word", "Meaning", style=STYLE_BOLD)
    for flag in ref.flags:
        line(flag.code, flag.word, flag.meaning, wrapped=True)
    line()
    line("Number formats", style=STYLE_BOLD)
    line("Rates and changes are shown with 1 decimal and counts with a thousands separator; the cell holds the full value (the CSV keeps 6 decimals).")
    line()
    line("Columns", style=STYLE_BOLD)
    line("Sheet", "Column", "Meaning", style=STYLE_BOLD)
    for spec in SHEETS:
        for column in tables[spec.name].columns:
            line(spec.name, str(column), column_meaning(spec.name, str(column)), wrapped=True)
    return _Sheet(README_SHEET, [18, 30, 110], rows)


def _width_text(width: float) -> str:
    return str(int(width)) if float(width).is_integer() else repr(float(width))


def _sheet_xml(sheet: _Sheet) -> bytes:
    if sheet.frozen_header:
        view = '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A1" sqref="A1"/>'
    else:
        view = '<selection activeCell="A1" sqref="A1"/>'
    cols = "".join(f'<col min="{i}" max="{i}" width="{_width_text(w)}" customWidth="1"/>' for i, w in enumerate(sheet.widths, start=1))
    parts = [
        _XML_DECLARATION,
        f'<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">',
        '<sheetPr><outlinePr summaryBelow="1" summaryRight="1"/><pageSetUpPr/></sheetPr>',
        f'<sheetViews><sheetView workbookViewId="0">{view}</sheetView></sheetViews>',
        '<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/>',
        f"<cols>{cols}</cols>" if cols else "",
        "<sheetData>", *sheet.rows, "</sheetData>",
        f'<autoFilter ref="{sheet.auto_filter}"/>' if sheet.auto_filter else "",
        '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>',
        "</worksheet>",
    ]
    return "".join(parts).encode("utf-8")


def _package(sheets: list[_Sheet], title: str, stamp: dt.datetime) -> list[tuple[str, bytes]]:
    """Every part of the .xlsx, in a fixed order: content types, relationships, properties, workbook, styles, sheets."""
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    sheet_types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    content_types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        f"{sheet_types}</Types>"
    )
    root_rels = (
        f'<Relationships xmlns="{_NS_PKG_REL}">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>'
        "</Relationships>"
    )
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:creator>crimetrends {_xml_text(__version__)}</dc:creator>"
        f"<dc:title>{_xml_text(_NOT_XML.sub('', title))}</dc:title>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified>'
        "</cp:coreProperties>"
    )
    app = (
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        f"<Application>crimetrends {_xml_text(__version__)}</Application></Properties>"
    )
    entries = "".join(
        f'<sheet name="{_xml_attribute(sheet.name)}" sheetId="{i}" r:id="rId{i}"/>' for i, sheet in enumerate(sheets, start=1)
    )
    # Excel keeps the range of each sheet's auto-filter in a hidden defined name; it expects it there.
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        f"{_xml_text(_quoted_range(sheet.name, sheet.auto_filter))}</definedName>"
        for i, sheet in enumerate(sheets) if sheet.auto_filter
    )
    workbook = (
        f'<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}"><workbookPr/>'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{entries}</sheets>"
        + (f"<definedNames>{filters}</definedNames>" if filters else "")
        + '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
    )
    sheet_rels = "".join(
        f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    workbook_rels = (
        f'<Relationships xmlns="{_NS_PKG_REL}">{sheet_rels}'
        f'<Relationship Id="rId{len(sheets) + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        "</Relationships>"
    )

    def xml(text: str) -> bytes:
        return (_XML_DECLARATION + text).encode("utf-8")

    parts = [
        ("[Content_Types].xml", xml(content_types)),
        ("_rels/.rels", xml(root_rels)),
        ("docProps/core.xml", xml(core)),
        ("docProps/app.xml", xml(app)),
        ("xl/workbook.xml", xml(workbook)),
        ("xl/_rels/workbook.xml.rels", xml(workbook_rels)),
        ("xl/styles.xml", xml(_STYLES_XML)),
    ]
    parts.extend((f"xl/worksheets/sheet{i}.xml", _sheet_xml(sheet)) for i, sheet in enumerate(sheets, start=1))
    return parts


def _quoted_range(sheet: str, cells: str) -> str:
    """'Sheet'!$A$1:$S$677 as a defined name holds a range."""
    first, _, last = cells.partition(":")
    absolute = ":".join(re.sub(r"^([A-Z]+)(\d+)$", r"$\1$\2", part) for part in (first, last or first))
    return "'" + sheet.replace("'", "''") + "'!" + absolute


# -- cells ---------------------------------------------------------------------------------------
def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def column_meaning(sheet: str, column: str) -> str:
    """What `column` of `sheet` holds, for the README ('' for a column nobody described)."""
    return SHEET_COLUMN_MEANINGS.get((sheet, column), COLUMN_MEANINGS.get(column, ""))
