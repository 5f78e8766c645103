"""Ingest: every file under the inputs folder -> `RawSubmission` records, nothing interpreted yet.

Input: a folder. Output: one `RawSubmission` per file (workbook or not), holding the Cover fields,
the Data rows (raw cell contents with their sheet and cell), the hidden template metadata and any
finding that stopped the file from being read. Workbooks are read with pandas' calamine engine
(xlsx, xlsm, xls, ods); sheets are found by name or, when renamed, by their content, and columns by
their header, so re-ordered rows, columns and extra columns still read. Calamine reads error cells
(#DIV/0!, Err:502) as blanks, so the Data sheet is scanned once more for them: the sheet XML for
xlsx/xlsm and ods (streamed with defusedxml), xlrd for legacy .xls.

Ingest never raises on a bad file (an unreadable file is one finding) and never writes to inputs.
It does not judge values: parsing and rules are `pipeline.validate`'s.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xlrd
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from pipeline import layout
from pipeline.findings import Finding, make_finding
from pipeline.reference import Reference

HEADER_SEARCH_ROWS = 30  # the header row may sit below a title block; look this far down for it
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, and also every encrypted OOXML file
ZIP_MAGIC = b"PK\x03\x04"

# Raw Data-sheet columns kept per row, and the Cover fields looked up by label.
# `previous_value`/`previous_cell`: the optional Previous year value column (None and "" without it).
RAW_COLUMNS = ["row", "code", "breakdown", "value", "flag", "comment", "unit", "value_cell", "flag_cell", "code_cell", "unit_cell", "previous_value", "previous_cell"]
_OPTIONAL_COLUMNS = {
    layout.COL_FLAG: "flag",
    layout.COL_COMMENT: "comment",
    layout.COL_PREVIOUS: "previous_value",
}


class CellError(str):
    """A cell that holds a spreadsheet error (`#DIV/0!`) or a formula with no cached result.

    pandas reads both as empty, which would turn them into "not available": ingest finds them in the
    sheet XML and puts this marker in their place so validation can name the cell.
    """


NO_CACHED_RESULT = CellError("formula without a calculated value")
_XLSX_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
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
# What a damaged or hostile workbook part raises while scanned (the calamine read already passed).
_SCAN_FAILURES = (KeyError, zipfile.BadZipFile, SafeElementTree.ParseError, DefusedXmlException, OSError, StopIteration)


@dataclass(frozen=True)
class CoverField:
    value: object
    cell: str


@dataclass
class RawSubmission:
    """What one input file holds, before any judgement. `file` is relative to the inputs folder."""

    file: str
    sha256: str
    kind: str  # "workbook", "lock-file" or "other"
    readable: bool = False
    cover_sheet: str = ""
    data_sheet: str = ""
    cover: dict[str, CoverField] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    data: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RAW_COLUMNS))
    findings: list[Finding] = field(default_factory=list)


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
        if path.is_file() and not path.is_symlink():
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(inputs_dir).as_posix())


def classify(path: Path) -> str:
    name = path.name
    if name.startswith("~$") or name.startswith(".~lock."):
        return "lock-file"
    if path.suffix.lower() in layout.WORKBOOK_SUFFIXES:
        return "workbook"
    return "other"


def read_submission(path: Path, inputs_dir: Path, ref: Reference) -> RawSubmission:
    """Read one file; every problem that stops it being read becomes a finding on the result."""
    relative = path.relative_to(inputs_dir).as_posix()
    content = path.read_bytes()
    raw = RawSubmission(file=relative, sha256=hashlib.sha256(content).hexdigest(), kind=classify(path))
    if raw.kind == "lock-file":
        raw.findings.append(make_finding(ref, "file-lock-file", f"{relative} is a lock file left by a spreadsheet program; it is not read.", file=relative))
        return raw
    if raw.kind == "other":
        raw.findings.append(make_finding(ref, "file-not-a-workbook", f"{relative} is not a workbook (.xlsx, .xlsm, .xls or .ods); it is listed and not read.", file=relative))
        return raw

    sheets, problem = _read_sheets(path, content)
    if problem is not None:
        code, message = problem
        raw.findings.append(make_finding(ref, code, f"{relative}: {message}", file=relative))
        return raw

    raw.readable = True
    cover_name = _find_cover_sheet(sheets)
    data_name, header_row = _find_data_sheet(sheets)
    if cover_name is None:
        raw.findings.append(make_finding(ref, "sheet-missing", f"No Cover sheet: no sheet is named '{layout.COVER_SHEET}' or holds the labels '{layout.COVER_COUNTRY}' and '{layout.COVER_YEAR}'.", file=relative, sheet=layout.COVER_SHEET))
    else:
        raw.cover_sheet = cover_name
        raw.cover = _read_cover(sheets[cover_name])
    if data_name is None:
        raw.findings.append(make_finding(ref, "sheet-missing", f"No Data sheet: no sheet is named '{layout.DATA_SHEET}' or has a header row with the columns {', '.join(layout.REQUIRED_DATA_COLUMNS)}.", file=relative, sheet=layout.DATA_SHEET))
    else:
        raw.data_sheet = data_name
        error_cells = _error_cells(path, data_name)
        raw.data, missing = _read_data(sheets[data_name], header_row, error_cells)
        for column in missing:
            raw.findings.append(make_finding(ref, "header-missing", f"The Data sheet has no '{column}' column in its header row (row {header_row + 1}).", file=relative, sheet=data_name, cell=f"{_column_letter(0)}{header_row + 1}"))
    raw.meta = _read_meta(sheets)
    return raw


def _read_sheets(path: Path, content: bytes) -> tuple[dict[str, pd.DataFrame], tuple[str, str] | None]:
    """All sheets as object grids (row i, column j = cell (i+1, j+1)), or the reason they cannot be."""
    if not content:
        return {}, ("file-unreadable", "the file is empty (0 bytes).")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".ods") and content.startswith(OLE2_MAGIC):
        # An OOXML workbook saved with a password is wrapped in an OLE2 container.
        return {}, ("file-password-protected", "the workbook is protected with a password. Remove the password and send it again.")
    if suffix in (".xlsx", ".xlsm", ".ods") and not content.startswith(ZIP_MAGIC):
        return {}, ("file-unreadable", f"the file is not a {suffix} workbook (its content is of another kind; was it renamed?).")
    if suffix in (".xlsx", ".xlsm", ".ods"):
        try:
            with zipfile.ZipFile(path) as zf:
                zf.infolist()
        except (zipfile.BadZipFile, OSError) as err:
            return {}, ("file-unreadable", f"the workbook is damaged or truncated ({err}).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sheets = pd.read_excel(path, sheet_name=None, header=None, engine="calamine", dtype=object)
    except Exception as err:  # noqa: BLE001 - any parser failure is a finding about this file, never a crash
        text = str(err)
        if "password" in text.lower():
            return {}, ("file-password-protected", "the workbook is protected with a password. Remove the password and send it again.")
        return {}, ("file-unreadable", f"the workbook cannot be read ({type(err).__name__}: {text[:200]}).")
    return sheets, None


def _cells(frame: pd.DataFrame):
    """(row index, column index, value) of every non-empty cell."""
    values = frame.to_numpy(dtype=object)
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            if not _is_blank(value):
                yield i, j, value


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _find_cover_sheet(sheets: dict[str, pd.DataFrame]) -> str | None:
    for name in sheets:
        if layout.normalise_label(name) == layout.normalise_label(layout.COVER_SHEET):
            return name
    wanted = {layout.normalise_label(layout.COVER_COUNTRY), layout.normalise_label(layout.COVER_YEAR)}
    for name, frame in sheets.items():
        labels = {layout.normalise_label(v) for _, _, v in _cells(frame.head(50)) if isinstance(v, str)}
        if wanted <= labels:
            return name
    return None


def _header_row(frame: pd.DataFrame) -> int | None:
    required = {layout.normalise_label(c) for c in layout.REQUIRED_DATA_COLUMNS}
    for i, row in enumerate(frame.head(HEADER_SEARCH_ROWS).to_numpy(dtype=object)):
        labels = {layout.normalise_label(v) for v in row if isinstance(v, str)}
        if required <= labels:
            return i
    return None


def _find_data_sheet(sheets: dict[str, pd.DataFrame]) -> tuple[str | None, int]:
    """The Data sheet by name, else the first sheet with a header row holding Code and Value."""
    named = [n for n in sheets if layout.normalise_label(n) == layout.normalise_label(layout.DATA_SHEET)]
    for name in named:
        row = _header_row(sheets[name])
        return name, (row if row is not None else 0)
    for name, frame in sheets.items():
        row = _header_row(frame)
        if row is not None:
            return name, row
    return None, 0


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def cell_ref(row_index: int, column_index: int) -> str:
    """Spreadsheet reference of a 0-based grid position: (0, 0) -> 'A1'."""
    return f"{_column_letter(column_index)}{row_index + 1}"


def _error_cells(path: Path, sheet_name: str) -> dict[str, CellError]:
    """Cells of one sheet holding a spreadsheet error (or, in xlsx, a formula without a cached result).

    {} when the kind has no scanner or the scan fails: the calamine read already succeeded, and
    without the scan error cells read as blanks, as before.
    """
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_error_cells(path, sheet_name)
    if suffix == ".ods":
        return _ods_error_cells(path, sheet_name)
    if suffix == ".xls":
        return _xls_error_cells(path, sheet_name)
    return {}


def _xlsx_error_cells(path: Path, sheet_name: str) -> dict[str, CellError]:
    """Cells of one xlsx sheet holding an error value or a formula without a cached result."""
    try:
        with zipfile.ZipFile(path) as zf:
            workbook = SafeElementTree.fromstring(zf.read("xl/workbook.xml"))
            rels = SafeElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
            targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL_NS}Relationship")}
            rel_id = next((s.get(f"{_REL_NS}id") for s in workbook.iter(f"{_XLSX_MAIN_NS}sheet") if s.get("name") == sheet_name), None)
            target = targets.get(rel_id, "")
            member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            found: dict[str, CellError] = {}
            with zf.open(member) as stream:
                for _, element in SafeElementTree.iterparse(stream):
                    if element.tag != f"{_XLSX_MAIN_NS}c":
                        continue
                    value = element.find(f"{_XLSX_MAIN_NS}v")
                    if element.get("t") == "e":
                        found[element.get("r", "")] = CellError(value.text if value is not None and value.text else "#ERROR")
                    elif element.find(f"{_XLSX_MAIN_NS}f") is not None and (value is None or value.text is None):
                        found[element.get("r", "")] = NO_CACHED_RESULT
                    element.clear()
            return found
    except _SCAN_FAILURES:
        return {}  # the calamine read already succeeded; without the XML scan errors read as blanks


def _ods_error_cells(path: Path, sheet_name: str) -> dict[str, CellError]:
    """Cells of one ods sheet holding an error, from the workbook's content.xml."""
    try:
        with zipfile.ZipFile(path) as zf, zf.open("content.xml") as stream:
            return scan_ods_content(stream, sheet_name)
    except _SCAN_FAILURES:
        return {}  # the calamine read already succeeded; without the XML scan errors read as blanks


def _repeat(element, attribute: str) -> int:
    try:
        return max(1, int(element.get(f"{_ODS_TABLE_NS}{attribute}", "1")))
    except ValueError:
        return 1


def scan_ods_content(stream, sheet_name: str) -> dict[str, CellError]:
    """Error cells of the table `sheet_name` in an ods content.xml stream, by cell reference.

    Streams the XML and drops every element once read, so memory stays flat whatever the size.
    Positions follow the repeat attributes arithmetically: LibreOffice pads each sheet with an empty
    row repeated about a million times, which must cost one step, not a million.
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


def _xls_error_cells(path: Path, sheet_name: str) -> dict[str, CellError]:
    """Cells of one legacy .xls (BIFF) sheet holding an error value, read with xlrd."""
    try:
        # xlrd writes its warnings to stdout unless given a log file of its own.
        book = xlrd.open_workbook(file_contents=path.read_bytes(), on_demand=True, logfile=io.StringIO())
        try:
            sheet = book.sheet_by_name(sheet_name)
            found: dict[str, CellError] = {}
            for i in range(sheet.nrows):
                for j, ctype in enumerate(sheet.row_types(i)):
                    if ctype == xlrd.XL_CELL_ERROR:
                        found[cell_ref(i, j)] = CellError(xlrd.error_text_from_code.get(sheet.cell_value(i, j), "#ERROR"))
            return found
        finally:
            book.release_resources()
    except Exception:  # noqa: BLE001 - xlrd raises many kinds on a damaged file (XLRDError, CompDocError, struct.error, IndexError); the calamine read already succeeded
        return {}


def _read_data(frame: pd.DataFrame, header_row: int, error_cells: dict[str, CellError]) -> tuple[pd.DataFrame, list[str]]:
    """Data rows keyed by Code and Breakdown, with the raw Value/Previous year value/Flag/Comment and their cells."""
    header = frame.iloc[header_row].tolist() if len(frame) > header_row else []
    positions: dict[str, int] = {}
    for j, label in enumerate(header):
        if isinstance(label, str):
            positions.setdefault(layout.normalise_label(label), j)
    wanted = {name: positions.get(layout.normalise_label(name)) for name in layout.DATA_COLUMNS}
    missing = [name for name in layout.REQUIRED_DATA_COLUMNS if wanted[name] is None]
    if missing:
        return pd.DataFrame(columns=RAW_COLUMNS), missing

    code_j, breakdown_j, value_j = wanted[layout.COL_CODE], wanted[layout.COL_BREAKDOWN], wanted[layout.COL_VALUE]
    flag_j, comment_j, unit_j = wanted[layout.COL_FLAG], wanted[layout.COL_COMMENT], wanted[layout.COL_UNIT]
    previous_j = wanted[layout.COL_PREVIOUS]  # None in workbooks of template version 2026.1
    records = []
    grid = frame.to_numpy(dtype=object)
    for i in range(header_row + 1, len(grid)):
        row = grid[i]
        code = row[code_j]
        if _is_blank(code):
            continue
        records.append(
            {
                "row": i + 1,
                "code": str(code).strip(),
                "breakdown": "" if _is_blank(row[breakdown_j]) else str(row[breakdown_j]).strip(),
                "value": error_cells.get(cell_ref(i, value_j)) or (None if _is_blank(row[value_j]) else row[value_j]),
                "flag": None if flag_j is None or _is_blank(row[flag_j]) else row[flag_j],
                "comment": "" if comment_j is None or _is_blank(row[comment_j]) else str(row[comment_j]),
                # A blank Unit cell (or no Unit column) means the catalogue unit; validation compares them.
                "unit": "" if unit_j is None or _is_blank(row[unit_j]) else str(row[unit_j]).strip(),
                "value_cell": cell_ref(i, value_j),
                "flag_cell": cell_ref(i, flag_j) if flag_j is not None else "",
                "code_cell": cell_ref(i, code_j),
                "unit_cell": cell_ref(i, unit_j) if unit_j is not None else "",
                "previous_value": None if previous_j is None else (error_cells.get(cell_ref(i, previous_j)) or (None if _is_blank(row[previous_j]) else row[previous_j])),
                "previous_cell": cell_ref(i, previous_j) if previous_j is not None else "",
            }
        )
    return pd.DataFrame(records, columns=RAW_COLUMNS), []


def _read_cover(frame: pd.DataFrame) -> dict[str, CoverField]:
    """Cover fields found by their label; the value is the next non-empty cell to the right."""
    labels = {layout.normalise_label(label): label for label in (*layout.COVER_LOCKED_FIELDS, *layout.COVER_FILL_FIELDS)}
    grid = frame.to_numpy(dtype=object)
    found: dict[str, CoverField] = {}
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if not isinstance(value, str):
                continue
            label = labels.get(layout.normalise_label(value))
            if label is None or label in found:
                continue
            answer_j = next((k for k in range(j + 1, len(row)) if not _is_blank(row[k])), None)
            if answer_j is None:
                found[label] = CoverField(None, cell_ref(i, j + 1))
            else:
                found[label] = CoverField(row[answer_j], cell_ref(i, answer_j))
    return found


def _read_meta(sheets: dict[str, pd.DataFrame]) -> dict[str, str]:
    frame = sheets.get(layout.META_SHEET)
    if frame is None or frame.shape[1] < 2:
        return {}
    meta = {}
    for key, value in frame.iloc[:, :2].to_numpy(dtype=object):
        if isinstance(key, str) and not _is_blank(value):
            meta[key.strip()] = str(value).strip()
    return meta
