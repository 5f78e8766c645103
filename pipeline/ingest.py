"""Ingest: every file under the inputs folder -> `RawSubmission` records, nothing interpreted yet.

Input: a folder. Output: one `RawSubmission` per file (workbook or not), holding the Cover fields,
the Data rows (raw cell contents with their sheet and cell), the hidden template metadata and any
finding that stopped the file from being read. Workbooks are read with python-calamine (xlsx,
xlsm, xls, ods), each cell converted as `pandas.read_excel(engine="calamine", header=None,
dtype=object)` gives it (`_cell`); sheets are found by name or, when renamed, by their content, and
columns by their header, so re-ordered rows, columns and extra columns still read. A header that still
names its column with a year or a note added ("Value (2026)") is read as that column, with an info
(`header-renamed`) on its cell. Calamine reads
error cells (#DIV/0!, Err:502) as blanks, so they are looked for in the Data sheet: in the sheet XML
for xlsx/xlsm (by the inspection's scan) and ods (streamed, DTDs refused), with xlrd for legacy .xls.

Hostile and broken files (issue 6). Every workbook is inspected before any parser reads it
(`inspect_workbook`), because calamine trusts what a file says: two cells at A1 and XFD1048576 make
it ask for a 550 GB grid and abort the whole process, a sharedStrings `uniqueCount` of 4e9 does the
same, and a million-row sheet costs 17 s and 1.3 GB. So, in this order, each refusal one finding:

* the file on disk above `MAX_FILE_BYTES` (`file-too-large`; not even read into memory);
* for zip workbooks (xlsx, xlsm, ods), from the zip directory alone (`zipfile.ZipFile.infolist()`):
  more than `MAX_ZIP_ENTRIES` parts, more than `MAX_UNPACKED_BYTES` unpacked, a part above
  `MAX_PART_BYTES` or one inflating more than `MAX_COMPRESSION_RATIO` times (`file-too-large`). Both
  zip readers stop at the sizes the directory declares (Python's zipfile, and the Rust zip crate
  calamine uses: "File is larger than its declared uncompressed size"), so these bound what any
  later step inflates;
* any DTD in any XML part (`file-unsafe-xml`): spreadsheet programs never write one (OPC forbids
  them). Calamine does not expand entities (it stops at the first unknown one), and our own scans
  parse with expat with every DTD handler refusing, so nothing expands or fetches; the check turns
  "cannot be read" into the real cause. A part no scan reads whole is read up to its root element;
* the extent calamine would allocate: each sheet's rows and columns up to its last cell with content,
  computed by streaming the sheet XML through expat (xlsx), content.xml (ods, following the repeat
  attributes) or with xlrd (.xls), above `MAX_SHEET_ROWS`, `MAX_SHEET_COLUMNS` or `MAX_CELLS` in all
  (`sheet-too-large`, naming the sheet and the far cell).

What calamine still fails on is one finding: its exceptions, and also its panics (pyo3's
PanicException is a BaseException; a date cell holding -1e15 raises one), become `file-unreadable`.

Macros (`vbaProject.bin`, ods `Basic/`, the xls `_VBA_PROJECT_CUR` storage) are never run: nothing
here executes anything from a file, calamine reads cell values only. They give an info finding
(`file-has-macros`). Hidden sheets and hidden rows are read like any other (a value in a hidden row
is a submitted value). A merged range covering cells that ingest reads in the Data rows gives a
warning (`cells-merged`): a spreadsheet keeps only the top-left cell's value, so the other rows read
as blank. File names are only ever used as paths, never passed to a program.

A stage that opens an input file itself must not open one that ingest refused (`REFUSAL_CODES`).

Ingest never raises on a bad file (an unreadable file is one finding) and never writes to inputs.
It does not judge values: parsing and rules are `pipeline.validate`'s.
"""

from __future__ import annotations

import io
import math
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from xml.parsers import expat

import pandas as pd
import python_calamine
import xlrd
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from pipeline import workbook_contract
from pipeline.findings import Finding, make_finding
from pipeline.provenance import file_sha256
from pipeline.reference import Reference

HEADER_SEARCH_ROWS = 30  # the header row may sit below a title block; look this far down for it
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, and also every encrypted OOXML file
ZIP_MAGIC = b"PK\x03\x04"

# -- Limits: what a workbook may hold, checked before any parser reads it (see the module docstring).
# The real template is 20 KB on disk, 0.12 MB unpacked in 16 parts (largest 0.05 MB), 5 sheets and
# about 1,100 cells; its Data sheet is 86 rows x 9 columns. Each limit is 100x or more above that (a
# state's workbook with extra columns, comments, a logo or a sheet of national tables stays far
# below; a sheet of 20,000 rows is no table of aggregates), and low enough that the worst file let
# through is read and validated in a few seconds and under ~300 MB (measured for issue 6: a
# 1,000,000-cell sheet, sparse or dense). A million-row x 8-column sheet written by openpyxl is 30.7 MB
# zipped and 419 MB of sheet XML: refused from its size on disk, unread.
MB = 1_000_000
MAX_FILE_BYTES = 10 * MB  # on disk, any workbook (.xls is not compressed: 10 MB is ~1M cells)
MAX_ZIP_ENTRIES = 1_000  # parts of an xlsx/xlsm/ods (template: 16)
MAX_UNPACKED_BYTES = 20 * MB  # all parts, as the zip directory declares them (template: 0.12 MB)
MAX_PART_BYTES = 10 * MB  # one part, such as one sheet's XML (template's largest: 0.05 MB)
# Sheet XML as spreadsheet programs write it packs 5-20:1; a zip bomb's parts pack 400-1000:1. Parts
# under RATIO_CHECKED_FROM_BYTES may pack better without harm: the size limits bound them anyway.
MAX_COMPRESSION_RATIO = 100
RATIO_CHECKED_FROM_BYTES = 1 * MB
MAX_SHEETS = 100  # template: 5
# Calamine holds every cell from A1 to the last one with content, empty or not (~50 bytes each once
# pandas has it): the extent, not the file size, is what costs memory; the rows are what validation
# goes through one by one.
MAX_SHEET_ROWS = 20_000
MAX_SHEET_COLUMNS = 1_000
MAX_CELLS = 1_000_000  # rows x columns up to the last cell with content, summed over the sheets
_MAX_MERGES_KEPT = 100_000  # merged ranges remembered per sheet (more only cost memory)
_CHUNK = 1 << 16  # bytes fed to expat at a time

# The codes of a file ingest refused before any parser read it. A later stage that would open the
# file itself (the feedback copy of the workbook) must not open these either: they are exactly the
# files that make parsers abort, inflate or hang.
REFUSAL_CODES = frozenset({"file-unreadable", "file-password-protected", "file-too-large", "sheet-too-large", "file-unsafe-xml"})

# Raw Data-sheet columns kept per row, and the Cover fields looked up by label.
# `previous_value`/`previous_cell`: the optional Previous year value column (None and "" without it).
RAW_COLUMNS = ["row", "code", "breakdown", "value", "flag", "comment", "unit", "value_cell", "flag_cell", "code_cell", "unit_cell", "previous_value", "previous_cell"]
# The Data columns ingest reads: a merge covering one of their cells hides what the rows below hold.
_READ_COLUMNS = (workbook_contract.COL_CODE, workbook_contract.COL_BREAKDOWN, workbook_contract.COL_UNIT, workbook_contract.COL_VALUE, workbook_contract.COL_PREVIOUS, workbook_contract.COL_FLAG, workbook_contract.COL_COMMENT)


class CellError(str):
    """A cell that holds a spreadsheet error (`#DIV/0!`) or a formula with no cached result.

    pandas reads both as empty, which would turn them into "not available": ingest finds them in the
    sheet XML and puts this marker in their place so validation can name the cell.
    """


NO_CACHED_RESULT = CellError("formula without a calculated value")
_ODS_TABLE_NS = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODS_TEXT_NS = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_ODS_CALCEXT_NS = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}"
_ODS_TABLE = f"{_ODS_TABLE_NS}table"
_ODS_ROW = f"{_ODS_TABLE_NS}table-row"
_ODS_CELLS = (f"{_ODS_TABLE_NS}table-cell", f"{_ODS_TABLE_NS}covered-table-cell")
# What LibreOffice shows in a cell whose formula failed; older files lack calcext:value-type="error".
_ODS_ERROR_TEXT = re.compile(r"^(#DIV/0!|#N/A|#VALUE!|#REF!|#NAME\?|#NUM!|#NULL!|Err:\d{3})$")
# An error cell inside a repeated row/column block stands for every copy; past this many copies
# per direction the block is far outside any Data sheet, and expanding it would only cost time.
_MAX_REPEAT_EXPANSION = 1000
# What a damaged workbook part raises while scanned for error cells (the calamine read already passed).
_SCAN_FAILURES = (KeyError, zipfile.BadZipFile, SafeElementTree.ParseError, DefusedXmlException, expat.ExpatError, OSError, EOFError, zlib.error, StopIteration)
# Names of the storages that hold macros and of the stream that holds an encrypted OOXML package,
# as they appear (UTF-16) in an OLE2 compound file's directory.
_OLE2_VBA = "_VBA_PROJECT_CUR".encode("utf-16-le")
_OLE2_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_PASSWORD_MESSAGE = "the workbook is protected with a password. Remove the password and send it again."


@dataclass(frozen=True)
class CoverField:
    value: object
    cell: str


class _FrameOfRows:
    """`RawSubmission.data`: the Data rows as a frame (`RAW_COLUMNS`), built from `RawSubmission.rows`
    when first asked for (again when other rows are assigned). Assigning a frame replaces the rows
    (validation then reads the frame)."""

    def __get__(self, raw: RawSubmission | None, owner: type | None = None) -> pd.DataFrame | None:
        if raw is None:
            return None  # the field's default, as dataclasses ask for it
        state = raw.__dict__
        frame, rows = state.get("_data"), state.get("rows")
        if frame is None or state.get("_data_of") is not rows:
            frame = pd.DataFrame(rows, columns=RAW_COLUMNS) if rows else pd.DataFrame(columns=RAW_COLUMNS)
            state["_data"], state["_data_of"] = frame, rows
        return frame

    def __set__(self, raw: RawSubmission, frame: pd.DataFrame | None) -> None:
        raw.__dict__.update(_data=frame, _data_of=None, rows=None)


@dataclass
class RawSubmission:
    """What one input file holds, before any judgement. `file` is relative to the inputs folder.

    The Data rows are kept as ingest read them, `rows`: one tuple per row in `RAW_COLUMNS` order,
    each value as its cell holds it. `data` is the same rows as a frame, built when first used: its
    column types are pandas' guess (a column of whole numbers and blanks becomes floats, one of dates
    and blanks datetimes with NaT for the blanks), so validation reads `rows` (`data_rows`), which
    also spares the frame (~0.3 ms a workbook) when nothing else asks for it.
    """

    file: str
    sha256: str
    kind: str  # "workbook", "lock-file" or "other"
    readable: bool = False
    cover_sheet: str = ""
    data_sheet: str = ""
    cover: dict[str, CoverField] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    data: pd.DataFrame = _FrameOfRows()  # type: ignore[assignment]
    findings: list[Finding] = field(default_factory=list)
    rows: list[tuple] | None = field(default=None, repr=False, compare=False)

    def data_rows(self) -> list[dict[str, object]]:
        """The Data rows as dicts, column name -> value: from `rows`, else from the frame `data`."""
        if self.rows is not None:
            return [dict(zip(RAW_COLUMNS, row, strict=True)) for row in self.rows]
        return self.data.to_dict("records")


@dataclass
class WorkbookShape:
    """What `inspect_workbook` learnt of a workbook before any parser read it.

    `extents`: sheet name -> (rows, columns) from A1 to the last cell with content, as calamine will
    hold it. `merged`: sheet name -> merged ranges as 0-based (first row, first column, last row, last
    column), for xlsx and ods (for .xls calamine gives them). `parts`: xlsx sheet name -> its XML part.
    `errors`: xlsx sheet name -> its error cells, 0-based (row, column) -> `CellError` (`_SheetScan`).
    """

    kind: str  # "xlsx" (also xlsm), "ods" or "xls": what the content is, whatever the file is called
    extents: dict[str, tuple[int, int]] = field(default_factory=dict)
    merged: dict[str, list[tuple[int, int, int, int]]] = field(default_factory=dict)
    parts: dict[str, str] = field(default_factory=dict)
    macros: str = ""  # where the macros are ("" when none)
    errors: dict[str, dict[tuple[int, int], CellError]] = field(default_factory=dict)


class _Refused(Exception):
    """A workbook no parser may read: `code` (a file-... finding code) and a message for the state."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SheetTooLarge(Exception):
    """A sheet whose extent is above the limits (`sheet-too-large`): `sheet` names it, `cell` the far cell."""

    def __init__(self, sheet: str, message: str, cell: str = "") -> None:
        super().__init__(message)
        self.sheet, self.cell = sheet, cell


class _UnsafeXml(Exception):
    """An XML part declares a DTD."""


class _RootReached(Exception):
    """The prolog of an XML part is read: what follows cannot declare a DTD."""


HISTORY_DIR = "history"  # <inputs>/history/: figures imported from published sources, read by pipeline.history


def discover_files(inputs_dir: Path) -> list[Path]:
    """Every file under `inputs_dir`, recursively, in a stable order (hidden folders and history/ skipped)."""
    found = []
    for path in inputs_dir.rglob("*"):
        relative = path.relative_to(inputs_dir)
        if any(part.startswith(".") and not part.startswith(".~lock") for part in relative.parts[:-1]):
            continue
        if len(relative.parts) > 1 and relative.parts[0] == HISTORY_DIR:
            continue
        # Links and special files (a FIFO would block a reader) are listed too, never followed or read:
        # every entry of the folder is accounted for in submissions.csv.
        if path.is_symlink() or not path.is_dir():
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(inputs_dir).as_posix())


def classify(path: Path) -> str:
    name = path.name
    if name.startswith("~$") or name.startswith(".~lock."):
        return "lock-file"
    if path.suffix.lower() in workbook_contract.WORKBOOK_SUFFIXES:
        return "workbook"
    return "other"


def read_submission(path: Path, inputs_dir: Path, ref: Reference) -> RawSubmission:
    """Read one file; every problem that stops it being read becomes a finding on the result."""
    relative = path.relative_to(inputs_dir).as_posix()
    if path.is_symlink() or not path.is_file():
        raw = RawSubmission(file=relative, sha256="", kind="other")
        what = "a link" if path.is_symlink() else "not a regular file"
        raw.findings.append(make_finding(ref, "file-not-a-workbook", f"{relative} is {what}; it is listed and not followed or read.", file=relative))
        return raw
    try:
        sha256, size = file_sha256(path), path.stat().st_size
    except OSError as err:  # no permission to read it, or gone since the folder was listed
        raw = RawSubmission(file=relative, sha256="", kind=classify(path))
        raw.findings.append(make_finding(ref, "file-unreadable", f"{relative} cannot be opened on this computer ({err.strerror or err}); it is listed and not read: make it readable, then run again.", file=relative))
        return raw
    raw = RawSubmission(file=relative, sha256=sha256, kind=classify(path), rows=[])
    if raw.kind == "lock-file":
        raw.findings.append(make_finding(ref, "file-lock-file", f"{relative} is a lock file left by a spreadsheet program; it is not read.", file=relative))
        return raw
    if raw.kind == "other":
        raw.findings.append(make_finding(ref, "file-not-a-workbook", f"{relative} is not a workbook (.xlsx, .xlsm, .xls or .ods); it is listed and not read.", file=relative))
        return raw

    try:
        if size > MAX_FILE_BYTES:
            raise _Refused("file-too-large", f"the file is {_megabytes(size)}, more than the {_megabytes(MAX_FILE_BYTES)} a workbook may be (the template is about 20 KB); it was not opened.")
        content = path.read_bytes()
        _check_signature(path, content)
        shape = inspect_workbook(path, content)
        sheets = _read_sheets(content)
    except _Refused as refused:
        raw.findings.append(make_finding(ref, refused.code, f"{relative}: {refused}", file=relative, value=size if refused.code == "file-too-large" else ""))
        return raw
    except SheetTooLarge as too_large:
        raw.findings.append(make_finding(ref, "sheet-too-large", f"{relative}: {too_large}", file=relative, sheet=too_large.sheet, cell=too_large.cell))
        return raw

    raw.readable = True
    if shape.macros:
        raw.findings.append(make_finding(ref, "file-has-macros", f"{relative} contains macros ({shape.macros}); only cell values are read, the macros are never run.", file=relative, value=shape.macros))
    cover_name = _find_cover_sheet(sheets)
    data_name, header_row = _find_data_sheet(sheets)
    if cover_name is None:
        raw.findings.append(make_finding(ref, "sheet-missing", f"No Cover sheet: no sheet is named '{workbook_contract.COVER_SHEET}' or holds the labels '{workbook_contract.COVER_COUNTRY}' and '{workbook_contract.COVER_YEAR}'.", file=relative, sheet=workbook_contract.COVER_SHEET))
    else:
        raw.cover_sheet = cover_name
        raw.cover = _read_cover(sheets[cover_name])
    if data_name is None:
        raw.findings.append(make_finding(ref, "sheet-missing", f"No Data sheet: no sheet is named '{workbook_contract.DATA_SHEET}' or has a header row with the columns {', '.join(workbook_contract.REQUIRED_DATA_COLUMNS)}.", file=relative, sheet=workbook_contract.DATA_SHEET))
    else:
        raw.data_sheet = data_name
        grid = sheets[data_name]
        positions, read_as = _data_columns(grid, header_row)
        for name, j, text in read_as:
            raw.findings.append(make_finding(ref, "header-renamed", f"The header of {cell_ref(header_row, j)} holds '{text}', which is read as the {name} column.", file=relative, sheet=data_name, cell=cell_ref(header_row, j), value=text))
        wanted = {positions.get(workbook_contract.normalise_label(name)) for name in (workbook_contract.COL_VALUE, workbook_contract.COL_PREVIOUS)} - {None}
        error_cells = _error_cells(content, shape, data_name, wanted)
        raw.rows, missing = _read_data(grid, header_row, error_cells)
        for column in missing:
            raw.findings.append(make_finding(ref, "header-missing", f"The Data sheet has no '{column}' column in its header row (row {header_row + 1}).", file=relative, sheet=data_name, cell=f"{workbook_contract.column_letter(0)}{header_row + 1}"))
        read_columns = {positions[workbook_contract.normalise_label(name)] for name in _READ_COLUMNS if workbook_contract.normalise_label(name) in positions}
        for merged, top_left in _merges_over_data(_merged_ranges(content, shape, data_name), header_row, len(grid), read_columns):
            raw.findings.append(make_finding(ref, "cells-merged", f"Cells {merged} of the Data sheet are merged: a spreadsheet keeps only the value of {top_left}, so the other cells of the range read as blank (their rows as not available, or not read without a Code). Unmerge the cells and fill in each row.", file=relative, sheet=data_name, cell=merged))
    raw.meta = _read_meta(sheets)
    return raw


def _megabytes(size: int) -> str:
    return f"{size / MB:,.1f} MB"


def _check_signature(path: Path, content: bytes) -> None:
    """Refuse what is plainly not a workbook of its kind, from its first bytes."""
    if not content:
        raise _Refused("file-unreadable", "the file is empty (0 bytes).")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".ods") and content.startswith(OLE2_MAGIC):
        # An OOXML workbook saved with a password is wrapped in an OLE2 container.
        raise _Refused("file-password-protected", _PASSWORD_MESSAGE)
    if suffix in (".xlsx", ".xlsm", ".ods") and not content.startswith(ZIP_MAGIC):
        raise _Refused("file-unreadable", f"the file is not a {suffix} workbook (its content is of another kind; was it renamed?).")
    if content.startswith(OLE2_MAGIC) and _OLE2_ENCRYPTED_PACKAGE in content:
        raise _Refused("file-password-protected", _PASSWORD_MESSAGE)


def _read_sheets(content: bytes) -> dict[str, list[list]]:
    """Every worksheet in workbook order but the template's helper sheets, name -> grid (row i, column j = cell (i+1, j+1)); the
    workbook was inspected first.

    Read with python-calamine, each cell converted by `_cell` to what `pandas.read_excel(
    engine="calamine", header=None, dtype=object)` gives for it (tests/test_ingest.py checks the two
    agree). Should calamine give a sheet that is not a rectangle, or text opening with a byte-order
    mark in a sheet's first cell (which pandas' parser treats as the start of a file), pandas reads
    the workbook itself. nrows: a second bound behind the inspection (calamine still holds the whole sheet).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content)) as book:
                names = [sheet.name for sheet in book.sheets_metadata
                         if sheet.typ == python_calamine.SheetTypeEnum.WorkSheet and sheet.name not in workbook_contract.HELPER_SHEETS]
                sheets = {name: book.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=MAX_SHEET_ROWS + 1) for name in names}
    except Exception as err:  # noqa: BLE001 - any parser failure is a finding about this file, never a crash
        raise _unreadable(err) from err
    except BaseException as err:
        raise _panic(err) from err
    if all(_plain_rectangle(rows) for rows in sheets.values()):
        sheets = {name: [[_cell(value) for value in row] for row in rows] for name, rows in sheets.items()}
    else:
        sheets = _read_sheets_with_pandas(content)
    for name, rows in sheets.items():
        if len(rows) > MAX_SHEET_ROWS or (rows and len(rows[0]) > MAX_SHEET_COLUMNS):
            raise SheetTooLarge(name, f"the sheet '{name}' spans more than {MAX_SHEET_ROWS:,} rows or {MAX_SHEET_COLUMNS:,} columns; it was not read.")
    return sheets


def _plain_rectangle(rows: list[list]) -> bool:
    """Rows of one width, at least one cell wide, and no byte-order mark opening the first cell."""
    if not rows:
        return True
    if not rows[0] or len({len(row) for row in rows}) > 1:
        return False
    return not (isinstance(rows[0][0], str) and rows[0][0].startswith("\ufeff"))


def _read_sheets_with_pandas(content: bytes) -> dict[str, list[list]]:
    """Every worksheet but the helper sheets through `pandas.read_excel` itself (see `_read_sheets`)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pd.ExcelFile(io.BytesIO(content), engine="calamine") as book:
                names = [name for name in book.sheet_names if name not in workbook_contract.HELPER_SHEETS]
                frames = pd.read_excel(book, sheet_name=names, header=None, dtype=object, nrows=MAX_SHEET_ROWS + 1)
    except Exception as err:  # noqa: BLE001 - as in _read_sheets
        raise _unreadable(err) from err
    except BaseException as err:
        raise _panic(err) from err
    return {name: frame.to_numpy(dtype=object).tolist() for name, frame in frames.items()}


# Text pandas reads as missing by default (`na_values` in the documentation of pandas.read_excel).
_MISSING_TEXT = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
    "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})


def _cell(value: object) -> object:
    """One cell, as calamine gives it, converted as `pandas.read_excel(engine="calamine", header=None,
    dtype=object)` converts it: the values validation (`pipeline.validate.parse_value`) and every
    figure downstream were written against.

    * a number: an int when it is whole (a spreadsheet stores every number as a float: 12 typed in a
      cell reads 12, not 12.0, so counts stay ints and print without ".0"), else the float (2.5);
    * a date: a datetime at midnight (as openpyxl reads dates); a datetime, a time (datetime.time),
      a duration (timedelta), a bool and text as they are, surrounding spaces kept;
    * a blank cell (calamine gives ""), and text pandas reads as missing ("NA", "N/A", "n/a", "#N/A",
      "null", "None", "nan", ...): NaN, so such a cell reads as not available, as a blank one does;
    * an error cell (#DIV/0!) or a formula without a cached result: calamine gives "", hence NaN;
      `_error_cells` finds them in the file and puts a `CellError` in their place.
    """
    if value.__class__ is str:
        return math.nan if value in _MISSING_TEXT else value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


def _unreadable(err: Exception) -> _Refused:
    text = str(err)
    if "password" in text.lower():
        return _Refused("file-password-protected", _PASSWORD_MESSAGE)
    return _Refused("file-unreadable", f"the workbook cannot be read ({type(err).__name__}: {text[:200]}).")


def _panic(err: BaseException) -> _Refused:
    # A panic inside the Rust reader reaches Python as pyo3's PanicException, a BaseException.
    if type(err).__name__ != "PanicException":
        raise err
    hint = ": a cell formatted as a date or time holds a number no date can be; clear it or give it a number format" if "TimeDelta" in str(err) else ""
    return _Refused("file-unreadable", f"the workbook cannot be read (the reader failed: {str(err)[:200]}){hint}.")


# -- Inspection: limits checked before any parser reads the workbook -------------------------------
def inspect_workbook(path: Path, content: bytes) -> WorkbookShape:
    """The shape of a workbook from its zip directory and a scan of its XML (xlrd for .xls).

    Raises `_Refused` (a file-... code) or `SheetTooLarge`; see the module docstring for the limits.
    The content, not the file name, decides the kind, as calamine (which sniffs the content) does.
    """
    if content.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as zf:
                shape = _inspect_zip(zf, path.suffix.lower())
        except (_Refused, SheetTooLarge):
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, expat.ExpatError, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError, ValueError, KeyError) as err:
            raise _Refused("file-unreadable", f"the workbook is damaged or truncated ({type(err).__name__}: {str(err)[:200]}).") from err
    else:
        shape = _inspect_xls(content)
    _check_extents(shape.extents)
    return shape


def _check_zip_directory(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The zip's parts, refused on their number, declared sizes and compression ratio."""
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise _Refused("file-too-large", f"the workbook holds {len(infos):,} parts, more than the {MAX_ZIP_ENTRIES:,} read (a workbook has about 20); it was not opened.")
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise _Refused("file-unreadable", "the workbook is damaged: two of its parts have the same name.")
    if any(info.flag_bits & 0x1 for info in infos):
        raise _Refused("file-password-protected", _PASSWORD_MESSAGE)
    total = sum(info.file_size for info in infos)
    if total > MAX_UNPACKED_BYTES:
        raise _Refused("file-too-large", f"the workbook unpacks to {_megabytes(total)}, more than the {_megabytes(MAX_UNPACKED_BYTES)} read (a submission workbook unpacks to well under 1 MB); it was not opened.")
    for info in infos:
        if info.file_size > MAX_PART_BYTES:
            raise _Refused("file-too-large", f"its part {info.filename} unpacks to {_megabytes(info.file_size)}, more than the {_megabytes(MAX_PART_BYTES)} read; it was not opened.")
        if info.file_size >= RATIO_CHECKED_FROM_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise _Refused("file-too-large", f"its part {info.filename} inflates {ratio:,.0f} times ({info.compress_size:,} bytes to {_megabytes(info.file_size)}), as a compressed 'zip bomb' does; it was not opened.")
    return infos


def _inspect_zip(zf: zipfile.ZipFile, suffix: str) -> WorkbookShape:
    """An xlsx/xlsm or ods: directory limits, then every XML part for DTDs and every sheet for its extent."""
    infos = _check_zip_directory(zf)
    names = {info.filename for info in infos}
    lower = {name.lower(): name for name in names}
    is_xlsx, is_ods = "xl/workbook.xml" in lower, "content.xml" in names
    if not is_xlsx and not is_ods:
        raise _Refused("file-unreadable", f"the file is a zip archive but not a {suffix} workbook (no xl/workbook.xml nor content.xml).")
    shape = WorkbookShape(kind="ods" if is_ods and (suffix == ".ods" or not is_xlsx) else "xlsx")
    scanned: set[str] = set()
    if is_ods:
        _check_ods_manifest(zf, names, scanned)
        extents, merged = _scan_ods_extents(zf)
        scanned.add("content.xml")
        if shape.kind == "ods":
            shape.extents, shape.merged = extents, merged
        else:
            _check_extents(extents)  # the reader that fails on one kind may try the other: both are bounded
        if any(name.startswith(("Basic/", "Scripts/")) and not name.endswith("/") for name in names):
            shape.macros = "Basic/ or Scripts/ folder"
    if is_xlsx:
        extents, merged, parts, errors = _scan_xlsx_sheets(zf, lower, scanned)
        if shape.kind == "xlsx":
            shape.extents, shape.merged, shape.parts, shape.errors = extents, merged, parts, errors
        else:
            _check_extents(extents)
        macros = sorted(name for name in names if name.lower().rsplit("/", 1)[-1] == "vbaproject.bin")
        if macros:
            shape.macros = macros[0]
    for name in sorted(names - scanned):
        if name.lower().endswith((".xml", ".rels")):
            _check_prolog(zf, name, root=_check_shared_strings if name.lower().endswith("sharedstrings.xml") else None)
    return shape


def _safe_parser() -> expat.XMLParserType:
    """An expat parser that refuses any DTD, hence any entity declaration or external entity.

    What defusedxml guards against, and stricter (no DTD at all, as OPC requires), on bare expat: a
    30 MB sheet streams in 1.6 s here against 5.5 s through defusedxml.sax and 11 s through its iterparse.
    """
    parser = expat.ParserCreate()

    def refuse(*_args: object) -> None:
        raise _UnsafeXml

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def _parse_part(zf: zipfile.ZipFile, name: str, parser: expat.XMLParserType) -> None:
    """Stream one part through `parser`, `_CHUNK` bytes at a time; a DTD anywhere in it refuses the workbook."""
    try:
        with zf.open(name) as stream:
            while chunk := stream.read(_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _UnsafeXml as err:
        raise _Refused("file-unsafe-xml", f"its part {name} declares a DTD (XML entities), which spreadsheet programs never write and entity-expansion attacks use; it was not opened.") from err


def _check_prolog(zf: zipfile.ZipFile, name: str, root=None) -> None:
    """Read a part up to its root element (where a DTD would have to be), then stop.

    Only a DTD refuses the workbook here: a part that is not well-formed is the reader's to judge.
    `root(name, attributes)` may check the root element.
    """
    parser = _safe_parser()

    def start(tag: str, attributes: dict[str, str]) -> None:
        if root is not None:
            root(name, attributes)
        raise _RootReached

    parser.StartElementHandler = start
    try:
        _parse_part(zf, name, parser)
    except _RootReached:
        return
    except expat.ExpatError:
        return


def _check_shared_strings(name: str, attributes: dict[str, str]) -> None:
    """Calamine reserves room for `uniqueCount` strings up front: 4e9 aborts the process."""
    for attribute in ("count", "uniqueCount"):
        declared = attributes.get(attribute, "0")
        if not declared.isdigit() or len(declared) > 12 or int(declared) > MAX_CELLS:
            raise _Refused("file-too-large", f"its part {name} declares {attribute}={declared[:20]} strings, more than the {MAX_CELLS:,} cells read; it was not opened.")


def _xlsx_part(target: str) -> str:
    """The zip member of a workbook relationship target, resolved as calamine resolves it."""
    if target.startswith("/xl/"):
        return target[1:]
    if target.startswith("xl/"):
        return target
    return f"xl/{target}"


def _scan_xlsx_sheets(zf: zipfile.ZipFile, lower: dict[str, str], scanned: set[str]):
    """Each sheet of workbook.xml, its extent, merged ranges, part and error cells (every sheet part is scanned)."""
    sheets: list[tuple[str, str]] = []  # (name, relationship id)
    relationships: dict[str, str] = {}

    def workbook_start(tag: str, attributes: dict[str, str]) -> None:
        if tag.rpartition(":")[2] == "sheet":
            rel_id = next((v for k, v in attributes.items() if k.rpartition(":")[2] == "id" and ":" in k), "")
            sheets.append((attributes.get("name", ""), rel_id))
            if len(sheets) > MAX_SHEETS:
                raise _Refused("file-too-large", f"the workbook has more than {MAX_SHEETS} sheets (a workbook has 5); it was not opened.")

    def rels_start(tag: str, attributes: dict[str, str]) -> None:
        if tag.rpartition(":")[2] == "Relationship":
            relationships[attributes.get("Id", "")] = attributes.get("Target", "")

    workbook_part = lower["xl/workbook.xml"]
    parser = _safe_parser()
    parser.StartElementHandler = workbook_start
    _parse_part(zf, workbook_part, parser)
    scanned.add(workbook_part)
    rels_part = lower.get("xl/_rels/workbook.xml.rels")
    if rels_part is not None:
        parser = _safe_parser()
        parser.StartElementHandler = rels_start
        _parse_part(zf, rels_part, parser)
        scanned.add(rels_part)

    extents: dict[str, tuple[int, int]] = {}
    merged: dict[str, list[tuple[int, int, int, int]]] = {}
    parts: dict[str, str] = {}
    errors: dict[str, dict[tuple[int, int], CellError]] = {}
    by_part: dict[str, _SheetScan] = {}
    for name, rel_id in sheets:
        if rel_id not in relationships:
            continue  # calamine refuses a sheet without its relationship
        if name in workbook_contract.HELPER_SHEETS:
            continue  # never read (`_read_sheets`); its part still has its prolog checked with the other parts
        wanted = _xlsx_part(relationships[rel_id])
        part = lower.get(wanted.lower()) or lower.get(wanted.replace("//", "/").lower())
        if part is None:
            raise _Refused("file-unreadable", f"the workbook is damaged: its sheet '{name}' points to a part that is not in the file ({wanted[:100]}).")
        if part not in by_part:
            by_part[part] = _measure_sheet(zf, part, name)
            scanned.add(part)
        scan = by_part[part]
        if name in extents:
            name = f"{name} ({len(extents) + 1})"  # a name given twice: both sheets count
        extents[name], merged[name], parts[name], errors[name] = (scan.rows, scan.columns), scan.merged, part, scan.errors
    return extents, merged, parts, errors


def _measure_sheet(zf: zipfile.ZipFile, part: str, sheet: str) -> _SheetScan:
    """One xlsx sheet part streamed through `_SheetScan`: its extent, merged ranges and error cells."""
    scan = _SheetScan(sheet)
    parser = _safe_parser()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = scan.start, scan.end, scan.characters
    parser.buffer_text = True
    _parse_part(zf, part, parser)
    return scan


_CELL_REF = re.compile(r"([A-Za-z]{1,7})(\d{1,12})")
_FAR = 10**12  # a position past every limit, for references too long to be real


def _split_ref(ref: str | None) -> tuple[int, int] | None:
    """0-based (row, column) of a cell reference such as 'E10' (any case); None when it is not one."""
    if not ref:
        return None
    match = _CELL_REF.fullmatch(ref)
    if match is None:
        letters = re.fullmatch(r"([A-Za-z]+)(\d+)", ref)
        return (_FAR, _FAR) if letters else None
    column = 0
    for letter in match.group(1).upper():
        column = column * 26 + ord(letter) - 64
    return int(match.group(2)) - 1, column - 1


def _split_range(ref: str | None) -> tuple[int, int, int, int] | None:
    first, _, last = (ref or "").partition(":")
    start, end = _split_ref(first), _split_ref(last or first)
    if start is None or end is None:
        return None
    return min(start[0], end[0]), min(start[1], end[1]), max(start[0], end[0]), max(start[1], end[1])


# Element names that occur inside a worksheet's rows and cells. Any other element starts outside
# them (mergeCells, conditional formats, extLst at the end of the sheet), so a contentless cell is
# not credited with a formula <xm:f> of a data validation that follows it.
_CELL_VOCABULARY = frozenset({
    "sheetData", "row", "c", "f", "v", "is", "t", "r", "rPr", "rFont", "charset", "family", "b", "i",
    "strike", "outline", "shadow", "condense", "extend", "color", "sz", "u", "vertAlign", "scheme",
    "rPh", "phoneticPr", "extLst", "ext",
})


class _SheetScan:
    """expat handlers reading one xlsx sheet: its extent, merged ranges and error cells, in one pass.

    Extent: the last row and column holding a cell with content. Positions follow calamine: a cell's
    `r` when it has one, else the row's and one column right of the cell before it; a row's `r`, else
    one below the row before. Where a file leaves room for doubt (a cell whose `r` names another row
    than its row's) the larger position is taken. A cell counts when it has a value, inline string or
    formula (styled empty cells, which calamine skips, do not). Names are matched without their
    namespace prefix.

    Error cells (`errors`, 0-based (row, column) of the cell's `r` -> `CellError`): a cell typed `e`
    (its value is the error text, such as #DIV/0!) and a formula without a cached value, which
    calamine both reads as empty.
    """

    def __init__(self, sheet: str) -> None:
        self.sheet = sheet
        self.rows = self.columns = 0  # extent, 1-based
        self.merged: list[tuple[int, int, int, int]] = []
        self.errors: dict[tuple[int, int], CellError] = {}
        self._row = -1  # index of the current row element
        self._row_elements = 0
        self._cell: tuple[int, int] | None = None  # the open cell, until it shows content
        self._last: tuple[int, int] | None = None  # the previous cell in the row
        self._cells_in_row = 0
        # The open c element, until it closes: its `r` as a position (None without one), its type,
        # whether it holds a formula, and the text of its value (None without a v element).
        self._open: list | None = None
        self._text: list[str] | None = None  # the text of the open v element

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        local = tag.rpartition(":")[2]
        if local == "c":
            declared = position = _split_ref(attributes.get("r"))
            if position is None:
                row = max(self._row, self._last[0] if self._last else 0)
                position = (row, max(self._last[1] + 1 if self._last else 0, self._cells_in_row))
            self._cell = self._last = position
            self._cells_in_row += 1
            self._open, self._text = [declared, attributes.get("t"), False, None], None
        elif local == "v" or local == "is" or local == "f":
            if self._cell is not None:
                self._content(*self._cell)
                self._cell = None
            if self._open is not None and local == "f":
                self._open[2] = True
            elif self._open is not None and local == "v":
                self._text = []
        elif local == "row":
            declared = attributes.get("r", "")
            if declared.isdigit() and len(declared) <= 12:
                self._row = int(declared) - 1
            else:
                self._row = max(self._row + 1, self._row_elements)
            self._row_elements += 1
            self._cell = self._last = None
            self._cells_in_row = 0
        elif local not in _CELL_VOCABULARY:
            self._cell = None
            if local == "mergeCell" and len(self.merged) < _MAX_MERGES_KEPT:
                found = _split_range(attributes.get("ref"))
                if found is not None:
                    self.merged.append(found)

    def characters(self, text: str) -> None:
        if self._text is not None:
            self._text.append(text)

    def end(self, tag: str) -> None:
        if self._open is None:
            return
        local = tag.rpartition(":")[2]
        if local == "v" and self._text is not None:
            self._open[3], self._text = "".join(self._text), None
        elif local == "c":
            declared, kind, formula, value = self._open
            if declared is not None and kind == "e":
                self.errors[declared] = CellError(value or "#ERROR")
            elif declared is not None and formula and not value:
                self.errors[declared] = NO_CACHED_RESULT
            self._open = None

    def _content(self, row: int, column: int) -> None:
        if row >= self.rows:
            self.rows = row + 1
        if column >= self.columns:
            self.columns = column + 1
        if self.rows > MAX_SHEET_ROWS or self.columns > MAX_SHEET_COLUMNS:
            where = cell_ref(row, column) if max(row, column) < _FAR else ""
            raise SheetTooLarge(self.sheet, _too_far_message(self.sheet, where, row, column), where)


def _too_far_message(sheet: str, where: str, row: int, column: int) -> str:
    beyond = f"{where}, row {row + 1:,}" if row >= MAX_SHEET_ROWS else f"{where}, column {column + 1:,}"
    if max(row, column) >= _FAR:
        beyond = "a position no spreadsheet has"
    return (
        f"the sheet '{sheet}' has content at {beyond}, beyond the {MAX_SHEET_ROWS:,} rows and "
        f"{MAX_SHEET_COLUMNS:,} columns a sheet may span; it was not opened. Delete what lies there (or the sheet) and send the workbook again."
    )


def _check_extents(extents: dict[str, tuple[int, int]]) -> None:
    """Each sheet within the rows and columns, all of them within `MAX_CELLS`."""
    for name, (rows, columns) in extents.items():
        if rows > MAX_SHEET_ROWS or columns > MAX_SHEET_COLUMNS:
            where = cell_ref(rows - 1, columns - 1) if max(rows, columns) < _FAR else ""
            raise SheetTooLarge(name, _too_far_message(name, where, rows - 1, columns - 1), where)
    total = sum(rows * columns for rows, columns in extents.values())
    if total > MAX_CELLS:
        name, (rows, columns) = max(extents.items(), key=lambda item: item[1][0] * item[1][1])
        raise SheetTooLarge(name, f"its sheets span {total:,} cells from A1 to their last cell with content, more than the {MAX_CELLS:,} read (the largest, '{name}', {rows:,} rows x {columns:,} columns); it was not opened. Delete extra sheets or what lies far below or right of the data, and send the workbook again.")


def _ods_int(attributes: dict[str, str], name: str) -> int:
    """A repeat or span attribute (any namespace prefix); absurd values become far, never an error."""
    for key, value in attributes.items():
        if key.rpartition(":")[2] == name:
            if value.isdigit():
                return max(1, int(value)) if len(value) <= 12 else _FAR
            return 1
    return 1


def _check_ods_manifest(zf: zipfile.ZipFile, names: set[str], scanned: set[str]) -> None:
    """An ods saved with a password lists `encryption-data` for its parts in the manifest."""
    if "META-INF/manifest.xml" not in names:
        return

    def start(tag: str, attributes: dict[str, str]) -> None:
        if tag.rpartition(":")[2] == "encryption-data":
            raise _Refused("file-password-protected", _PASSWORD_MESSAGE)

    parser = _safe_parser()
    parser.StartElementHandler = start
    try:
        _parse_part(zf, "META-INF/manifest.xml", parser)
    except expat.ExpatError:
        pass  # a damaged manifest is the reader's to judge
    scanned.add("META-INF/manifest.xml")


class _OdsExtent:
    """expat handlers measuring every table of an ods content.xml, following the repeat attributes.

    Element names are matched without their prefix, as a lenient reader would; a cell counts when it
    has a value type or any child (text, annotation), and then every repeated copy of it counts.
    """

    def __init__(self) -> None:
        self.extents: dict[str, tuple[int, int]] = {}
        self.merged: dict[str, list[tuple[int, int, int, int]]] = {}
        self._depth = 0  # nested tables (inside a cell) are not rows of the sheet
        self._sheet = ""
        self._row = 0  # first row of the current row element
        self._rows_repeated = 1
        self._column = 0
        self._cell: tuple[int, int, bool] | None = None  # (first column, copies, has content)
        self._cell_depth = 0

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        local = tag.rpartition(":")[2]
        if self._cell is not None and self._depth == 1:
            self._cell = (self._cell[0], self._cell[1], True)  # a child: text, annotation or a frame
        if local == "table":
            self._depth += 1
            if self._depth == 1:
                self._sheet = next((v for k, v in attributes.items() if k.rpartition(":")[2] == "name"), f"Sheet{len(self.extents) + 1}")
                if self._sheet in self.extents:
                    self._sheet = f"{self._sheet} ({len(self.extents) + 1})"  # a name given twice: both tables count
                self.extents[self._sheet] = (0, 0)
                self.merged[self._sheet] = []
                self._row = 0
                if len(self.extents) > MAX_SHEETS:
                    raise _Refused("file-too-large", f"the workbook has more than {MAX_SHEETS} sheets (a workbook has 5); it was not opened.")
        elif self._depth != 1 or self._cell is not None:
            return
        elif local == "table-row":
            self._rows_repeated, self._column = _ods_int(attributes, "number-rows-repeated"), 0
        elif local in ("table-cell", "covered-table-cell"):
            copies = _ods_int(attributes, "number-columns-repeated")
            has_value = any(k.rpartition(":")[2] == "value-type" for k in attributes)
            self._cell = (self._column, copies, has_value)
            spanned_columns, spanned_rows = _ods_int(attributes, "number-columns-spanned"), _ods_int(attributes, "number-rows-spanned")
            if (spanned_columns > 1 or spanned_rows > 1) and len(self.merged[self._sheet]) < _MAX_MERGES_KEPT:
                self.merged[self._sheet].append((self._row, self._column, self._row + spanned_rows - 1, self._column + spanned_columns - 1))

    def end(self, tag: str) -> None:
        local = tag.rpartition(":")[2]
        if local == "table":
            self._depth -= 1
        elif self._depth != 1:
            return
        elif local in ("table-cell", "covered-table-cell") and self._cell is not None:
            first, copies, has_content = self._cell
            self._cell = None
            if has_content:
                last_row, last_column = self._row + self._rows_repeated - 1, first + copies - 1
                rows, columns = self.extents[self._sheet]
                rows, columns = max(rows, last_row + 1), max(columns, last_column + 1)
                self.extents[self._sheet] = (rows, columns)
                if rows > MAX_SHEET_ROWS or columns > MAX_SHEET_COLUMNS:
                    where = cell_ref(last_row, last_column) if max(last_row, last_column) < _FAR else ""
                    raise SheetTooLarge(self._sheet, _too_far_message(self._sheet, where, last_row, last_column), where)
            self._column = first + copies
        elif local == "table-row":
            self._row += self._rows_repeated


def _scan_ods_extents(zf: zipfile.ZipFile):
    scan = _OdsExtent()
    parser = _safe_parser()
    parser.StartElementHandler, parser.EndElementHandler = scan.start, scan.end
    _parse_part(zf, "content.xml", parser)
    return scan.extents, scan.merged


def _inspect_xls(content: bytes) -> WorkbookShape:
    """A legacy .xls (BIFF), measured with xlrd: calamine fills a dense grid up to 65,536 x 256 cells."""
    try:
        # xlrd writes its warnings to stdout unless given a log file of its own; ragged rows keep
        # it from padding every row to the widest.
        book = xlrd.open_workbook(file_contents=content, on_demand=True, ragged_rows=True, logfile=io.StringIO())
    except Exception as err:  # noqa: BLE001 - xlrd raises many kinds on a damaged file (XLRDError, CompDocError, struct.error, IndexError)
        if "encrypt" in str(err).lower():
            raise _Refused("file-password-protected", _PASSWORD_MESSAGE) from err
        raise _Refused("file-unreadable", f"the workbook cannot be read ({type(err).__name__}: {str(err)[:200]}).") from err
    shape = WorkbookShape(kind="xls", macros="_VBA_PROJECT_CUR storage" if _OLE2_VBA in content else "")
    try:
        if book.nsheets > MAX_SHEETS:
            raise _Refused("file-too-large", f"the workbook has {book.nsheets} sheets, more than the {MAX_SHEETS} read; it was not opened.")
        for i in range(book.nsheets):
            sheet = book.sheet_by_index(i)
            shape.extents[sheet.name] = (sheet.nrows, sheet.ncols)
            book.unload_sheet(i)
    except (_Refused, SheetTooLarge):
        raise
    except Exception as err:  # noqa: BLE001 - as above
        raise _Refused("file-unreadable", f"the workbook cannot be read ({type(err).__name__}: {str(err)[:200]}).") from err
    finally:
        book.release_resources()
    return shape


def _cells(grid: list[list]):
    """(row index, column index, value) of every non-empty cell."""
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if not _is_blank(value):
                yield i, j, value


def _is_blank(value: object) -> bool:
    if value.__class__ is str:  # the usual case first
        return not value.strip()
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _find_cover_sheet(sheets: dict[str, list[list]]) -> str | None:
    for name in sheets:
        if workbook_contract.normalise_label(name) == workbook_contract.normalise_label(workbook_contract.COVER_SHEET):
            return name
    wanted = {workbook_contract.normalise_label(workbook_contract.COVER_COUNTRY), workbook_contract.normalise_label(workbook_contract.COVER_YEAR)}
    for name, grid in sheets.items():
        labels = {workbook_contract.normalise_label(v) for _, _, v in _cells(grid[:50]) if isinstance(v, str)}
        if wanted <= labels:
            return name
    return None


def _header_row(grid: list[list]) -> int | None:
    required = {workbook_contract.normalise_label(c) for c in workbook_contract.REQUIRED_DATA_COLUMNS}
    for i, row in enumerate(grid[:HEADER_SEARCH_ROWS]):
        labels = {_loose_label(v) for v in row if isinstance(v, str)}
        if required <= labels:
            return i
    return None


def _find_data_sheet(sheets: dict[str, list[list]]) -> tuple[str | None, int]:
    """The Data sheet by name, else the first sheet with a header row holding Code and Value."""
    named = [n for n in sheets if workbook_contract.normalise_label(n) == workbook_contract.normalise_label(workbook_contract.DATA_SHEET)]
    for name in named:
        row = _header_row(sheets[name])
        return name, (row if row is not None else 0)
    for name, grid in sheets.items():
        row = _header_row(grid)
        if row is not None:
            return name, row
    return None, 0


def cell_ref(row_index: int, column_index: int) -> str:
    """Spreadsheet reference of a 0-based grid position: (0, 0) -> 'A1'."""
    return f"{workbook_contract.column_letter(column_index)}{row_index + 1}"


# What a focal point adds to a header that still names its column: a year or a note in brackets
# ("Value (2026)", "Previous year value 2025", "Comment [optional]").
_HEADER_ADDITIONS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|(?<!\d)(?:19|20)\d\d(?!\d)")
_HEADER_SEPARATORS = " -\u2013\u2014:,;/"


def _loose_label(text: str) -> str:
    """A header label as matched when no header is its column's name: brackets and years left out."""
    return workbook_contract.normalise_label(_HEADER_ADDITIONS.sub(" ", text)).strip(_HEADER_SEPARATORS)


def _header_positions(grid: list[list], header_row: int) -> dict[str, int]:
    """Normalised header label -> 0-based column, the first column holding it; a Data column no
    header names exactly is found by its `_loose_label` ("Value (2026)" is the Value column)."""
    return _data_columns(grid, header_row)[0]


def _data_columns(grid: list[list], header_row: int) -> tuple[dict[str, int], list[tuple[str, int, str]]]:
    """`_header_positions`, and (column name, 0-based column, header text) of each column ingest
    reads whose header is not written as the template writes it ("Flag:", "Value (2026)")."""
    header = grid[header_row] if len(grid) > header_row else []
    positions: dict[str, int] = {}
    for j, label in enumerate(header):
        if isinstance(label, str):
            positions.setdefault(workbook_contract.normalise_label(label), j)
    keys = [workbook_contract.normalise_label(name) for name in workbook_contract.DATA_COLUMNS]
    claimed = {positions[key] for key in keys if key in positions}  # columns whose header is a column's name
    for key in keys:
        if key not in positions:
            loose = next((j for j, label in enumerate(header) if isinstance(label, str) and j not in claimed and _loose_label(label) == key), None)
            if loose is not None:
                positions[key] = loose
                claimed.add(loose)
    read_as = []
    for name in _READ_COLUMNS:
        j = positions.get(workbook_contract.normalise_label(name))
        if j is not None and header[j].strip() != name:
            read_as.append((name, j, header[j]))
    return positions, read_as


def _merged_ranges(content: bytes, shape: WorkbookShape, sheet_name: str) -> list[tuple[int, int, int, int]]:
    """Merged ranges of one sheet: from the inspection (xlsx, ods) or from calamine (.xls)."""
    if shape.kind != "xls":
        return shape.merged.get(sheet_name, [])
    try:
        with python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content)) as book:
            ranges = book.get_sheet_by_name(sheet_name).merged_cell_ranges or []
        return [(r1, c1, r2, c2) for (r1, c1), (r2, c2) in ranges]
    except Exception:  # noqa: BLE001 - the sheet was read already; without its merges nothing is lost but the warning
        return []


def _merges_over_data(ranges: list[tuple[int, int, int, int]], header_row: int, n_rows: int, columns: set[int]):
    """(range, its top-left cell) of each merge hiding a cell ingest reads in the Data rows."""
    for r1, c1, r2, c2 in ranges:
        first_row, last_row = max(r1, header_row + 1), min(r2, n_rows - 1)
        read = sum(1 for j in columns if c1 <= j <= c2)
        if first_row > last_row or not read:
            continue
        covered = (last_row - first_row + 1) * read
        if r1 >= first_row and c1 in columns:
            covered -= 1  # the top-left cell keeps its value
        if covered > 0:
            yield f"{cell_ref(r1, c1)}:{cell_ref(r2, c2)}", cell_ref(r1, c1)


def _error_cells(content: bytes, shape: WorkbookShape, sheet_name: str, columns: set[int]) -> dict[str, CellError]:
    """Cells of one sheet, in the given 0-based columns, holding a spreadsheet error (or, in xlsx, a
    formula without a cached result), by cell reference.

    xlsx: found by the inspection's scan of the sheet. {} when the kind has no scanner or the scan
    fails: the calamine read already succeeded, and without the scan error cells read as blanks.
    """
    if not columns:
        return {}
    if shape.kind == "xlsx":
        return {cell_ref(row, column): error for (row, column), error in shape.errors.get(sheet_name, {}).items() if column in columns}
    try:
        if shape.kind == "ods":
            with zipfile.ZipFile(io.BytesIO(content)) as zf, zf.open("content.xml") as stream:
                return scan_ods_content(stream, sheet_name, columns)
        return _xls_error_cells(content, sheet_name, columns)
    except _SCAN_FAILURES + (_Refused,):
        return {}  # the calamine read already succeeded; without the XML scan errors read as blanks


def _repeat(element, attribute: str) -> int:
    try:
        return max(1, int(element.get(f"{_ODS_TABLE_NS}{attribute}", "1")))
    except ValueError:
        return 1


def scan_ods_content(stream, sheet_name: str, columns: set[int] | None = None) -> dict[str, CellError]:
    """Error cells of the table `sheet_name` in an ods content.xml stream, by cell reference.

    Streams the XML and drops every element once read, so memory stays flat whatever the size.
    Positions follow the repeat attributes arithmetically: LibreOffice pads each sheet with an empty
    row repeated about a million times, which must cost one step, not a million. With `columns`
    (0-based), only cells in those columns are kept.
    """
    found: dict[str, CellError] = {}
    stack = []  # open elements, to detach each one from its parent once read
    table_depth = 0  # nested tables (a table inside a cell) are not rows of the sheet
    in_sheet = False
    row = column = 0
    rows_repeated = 1
    for event, element in SafeElementTree.iterparse(stream, events=("start", "end")):
        if event == "start":
            stack.append(element)
            if element.tag == _ODS_TABLE:
                table_depth += 1
                if table_depth == 1:
                    in_sheet = element.get(f"{_ODS_TABLE_NS}name") == sheet_name
            elif in_sheet and table_depth == 1 and element.tag == _ODS_ROW:
                rows_repeated, column = _repeat(element, "number-rows-repeated"), 0
            continue

        stack.pop()
        if in_sheet and table_depth == 1 and element.tag in _ODS_CELLS and len(stack) >= 1 and stack[-1].tag == _ODS_ROW:
            columns_repeated = _repeat(element, "number-columns-repeated")
            error = _ods_cell_error(element)
            if error is not None:
                for i in range(row, row + min(rows_repeated, _MAX_REPEAT_EXPANSION)):
                    for j in range(column, column + min(columns_repeated, _MAX_REPEAT_EXPANSION)):
                        if columns is None or j in columns:
                            found[cell_ref(i, j)] = error
            column += columns_repeated
        elif in_sheet and table_depth == 1 and element.tag == _ODS_ROW:
            row += rows_repeated
        elif element.tag == _ODS_TABLE:
            table_depth -= 1
            if in_sheet and table_depth == 0:
                break  # the sheet is read; the rest of the workbook does not matter
        if any(open_element.tag in _ODS_CELLS for open_element in stack):
            continue  # inside a cell: its paragraphs are read when the cell closes
        element.clear()
        if stack:
            stack[-1].remove(element)  # the only child left, so this is one step
    return found


def _ods_cell_error(cell) -> CellError | None:
    """The error a cell shows, from LibreOffice's value type or, for formulas, from its text."""
    text = "\n".join("".join(p.itertext()) for p in cell.findall(f"{_ODS_TEXT_NS}p")).strip()
    if cell.get(f"{_ODS_CALCEXT_NS}value-type") == "error":
        return CellError(text or "#ERROR")
    if cell.get(f"{_ODS_TABLE_NS}formula") is not None and _ODS_ERROR_TEXT.match(text):
        return CellError(text)
    return None


def _xls_error_cells(content: bytes, sheet_name: str, columns: set[int]) -> dict[str, CellError]:
    """Cells of one legacy .xls (BIFF) sheet, in the given columns, holding an error value, read with xlrd."""
    try:
        book = xlrd.open_workbook(file_contents=content, on_demand=True, ragged_rows=True, logfile=io.StringIO())
        try:
            sheet = book.sheet_by_name(sheet_name)
            found: dict[str, CellError] = {}
            for i in range(sheet.nrows):
                for j, ctype in enumerate(sheet.row_types(i)):
                    if ctype == xlrd.XL_CELL_ERROR and j in columns:
                        found[cell_ref(i, j)] = CellError(xlrd.error_text_from_code.get(sheet.cell_value(i, j), "#ERROR"))
            return found
        finally:
            book.release_resources()
    except Exception:  # noqa: BLE001 - xlrd raises many kinds on a damaged file (XLRDError, CompDocError, struct.error, IndexError); the calamine read already succeeded
        return {}


def _read_data(grid: list[list], header_row: int, error_cells: dict[str, CellError]) -> tuple[list[tuple], list[str]]:
    """Data rows keyed by Code and Breakdown, with the raw Value/Previous year value/Flag/Comment and
    their cells: a tuple per row in `RAW_COLUMNS` order."""
    positions = _header_positions(grid, header_row)
    wanted = {name: positions.get(workbook_contract.normalise_label(name)) for name in workbook_contract.DATA_COLUMNS}
    missing = [name for name in workbook_contract.REQUIRED_DATA_COLUMNS if wanted[name] is None]
    if missing:
        return [], missing

    code_j, breakdown_j, value_j = wanted[workbook_contract.COL_CODE], wanted[workbook_contract.COL_BREAKDOWN], wanted[workbook_contract.COL_VALUE]
    flag_j, comment_j, unit_j = wanted[workbook_contract.COL_FLAG], wanted[workbook_contract.COL_COMMENT], wanted[workbook_contract.COL_UNIT]
    previous_j = wanted[workbook_contract.COL_PREVIOUS]  # None in workbooks of template version 2026.1
    # Column letters once, not per row: a cell reference is then letters + row number.
    value_col, code_col = workbook_contract.column_letter(value_j), workbook_contract.column_letter(code_j)
    flag_col = workbook_contract.column_letter(flag_j) if flag_j is not None else None
    unit_col = workbook_contract.column_letter(unit_j) if unit_j is not None else None
    previous_col = workbook_contract.column_letter(previous_j) if previous_j is not None else None
    blank, errors = _is_blank, error_cells.get
    rows = []  # one tuple per row, in RAW_COLUMNS order
    for i in range(header_row + 1, len(grid)):
        row = grid[i]
        code = row[code_j]
        if blank(code):
            continue
        number = i + 1
        value_cell = f"{value_col}{number}"
        value, breakdown = row[value_j], row[breakdown_j]
        if previous_col is None:
            previous_value, previous_cell = None, ""
        else:
            previous_cell = f"{previous_col}{number}"
            previous_value = errors(previous_cell) or (None if blank(row[previous_j]) else row[previous_j])
        rows.append((
            number,  # row
            str(code).strip(),  # code
            "" if blank(breakdown) else str(breakdown).strip(),  # breakdown
            errors(value_cell) or (None if blank(value) else value),  # value
            None if flag_j is None or blank(row[flag_j]) else row[flag_j],  # flag
            "" if comment_j is None or blank(row[comment_j]) else str(row[comment_j]),  # comment
            # A blank Unit cell (or no Unit column) means the catalogue unit; validation compares them.
            "" if unit_j is None or blank(row[unit_j]) else str(row[unit_j]).strip(),  # unit
            value_cell,
            f"{flag_col}{number}" if flag_col is not None else "",  # flag_cell
            f"{code_col}{number}",  # code_cell
            f"{unit_col}{number}" if unit_col is not None else "",  # unit_cell
            previous_value,
            previous_cell,
        ))
    return rows, []


def _read_cover(grid: list[list]) -> dict[str, CoverField]:
    """Cover fields found by their label; the value is the next non-empty cell to the right."""
    labels = {workbook_contract.normalise_label(label): label for label in (*workbook_contract.COVER_LOCKED_FIELDS, *workbook_contract.COVER_FILL_FIELDS)}
    found: dict[str, CoverField] = {}
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if not isinstance(value, str):
                continue
            label = labels.get(workbook_contract.normalise_label(value))
            if label is None or label in found:
                continue
            answer_j = next((k for k in range(j + 1, len(row)) if not _is_blank(row[k])), None)
            if answer_j is None:
                found[label] = CoverField(None, cell_ref(i, j + 1))
            else:
                found[label] = CoverField(row[answer_j], cell_ref(i, answer_j))
    return found


def _read_meta(sheets: dict[str, list[list]]) -> dict[str, str]:
    grid = sheets.get(workbook_contract.META_SHEET)
    if not grid or len(grid[0]) < 2:
        return {}
    meta = {}
    for key, value, *_ in grid:
        if isinstance(key, str) and not _is_blank(value):
            meta[key.strip()] = str(value).strip()
    return meta
