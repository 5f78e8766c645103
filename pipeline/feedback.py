"""Feedback: each submission's findings, written onto a copy of the state's own workbook.

Input: validated `Submission`s (their findings name file, sheet and cell), the folder the files were
read from, and the `Reference`. Output: one workbook per submission, `<ISO3>_<year>_feedback.xlsx`,
that a focal point opens where they work:

* a `Findings` sheet, first and active: the status of the submission and every finding with its
  severity, code, a link to the cell, the value, the message and how to fix it;
* on the state's own sheets, each cell with a finding filled red (error) or amber (warning) and a
  comment holding the message; infos get the comment only, since they ask for nothing.

The original file is only read (its bytes, once). Every copy is made with openpyxl. An .xlsx or
.xlsm is loaded, marked and saved: values, formats, column widths and row heights, hidden sheets,
protection, drop-downs (data validations), conditional formats, merged cells, print settings, defined
names and the comments others left are kept. A load and save through openpyxl loses what openpyxl
does not model, which our templates do not use but a state's own workbook might:

* Excel's extensions (`extLst`): drop-downs whose list is on another sheet written the Excel 2010
  way (x14 data validations), x14 conditional formats, sparklines, slicers;
* shapes, text boxes, form controls and charts' finer formatting; the sizes of existing comment boxes;
* macros (an .xlsm's copy is .xlsx, and its Findings sheet says so) and links to other workbooks;
* threaded comments, which become the plain comment Excel writes beside each of them.

An .ods or .xls, or an .xlsx openpyxl cannot open, is copied into the template of its state and year
(`template_for`, the caller's: see below): each value is written into the template's cell of the same
Data row (Code and Breakdown) and column (header), each Cover field beside its label, so the copy has
the template's widths, yellow input cells, input rules and protection; the findings' cells are moved
with their values. It is written as .xlsx (the format the marks are written in) and the Findings sheet
says why. When some of its content has no place in the template (a row whose Code and Breakdown the
template does not have, or has twice; a value in a column the template does not have), or no
template is given, the file is rebuilt from its cell values at the same addresses instead, so every
finding's cell still points at the right place; formatting is then not kept, and the Findings sheet
says so. A file that could not be read at all gets a workbook with the Findings sheet only.

The template workbook comes from the caller (`template_for(iso3, year)`; the CLI passes
`pipeline.template.build_workbook`): the template is a tool of the last layer (tests/test_design.py),
which also reads a previous run's outputs to pre-fill itself, so this module does not import it.

`write_feedback_workbooks` writes a whole folder's feedback (the caller stages the folder);
`add_feedback` adds or replaces the feedback of some files in a folder that holds other files'
feedback too (`crimetrends validate FILE`), their workbooks and their rows of findings.csv.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import re
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import openpyxl
import python_calamine
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import quote_sheetname
from openpyxl.workbook import Workbook
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

import pandas as pd

from pipeline import __version__, ingest, workbook_contract, output_files
from pipeline.findings import FINDING_COLUMNS, Finding, findings_table
from pipeline.reference import Reference
from pipeline.validate import Submission

log = logging.getLogger(__name__)

# The blank template workbook of a state and year (None when there is none to give).
TemplateFor = Callable[[str, int], Workbook | None]

FINDINGS_SHEET = "Findings"
TITLE = "Feedback on your submission"
COMMENT_AUTHOR = "crimetrends"
# Excel's own "Bad" and "Neutral" cell-style colours: familiar to anyone who has used conditional formatting.
FILL_COLOURS = {"error": "FFFFC7CE", "warning": "FFFFEB9C"}
LINK_COLOUR = "FF0563C1"
NOTE_WIDTH = 360  # pixels: a note box wide enough for a message in a few lines
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
SEVERITY_WORDS = {"error": "Error", "warning": "Warning", "info": "Info"}
_CELL = re.compile(r"^\$?([A-Z]{1,3})\$?(\d{1,7})$")
FINDING_HEADER = ("Severity", "Code", "Sheet", "Cell", "Value", "What we found", "How to fix")
FINDING_WIDTHS = (15, 26, 12, 8, 16, 70, 60)
FACT_CHARS_PER_LINE = 180  # about what fits in the merged width of columns B to G
FILE_FACT = "File"  # the Findings sheet's first fact: the file the feedback is on
FINDINGS_CSV = "findings.csv"  # every finding of the folder's files, beside their workbooks


def feedback_names(subs: Iterable[Submission], taken: Iterable[str] = ()) -> dict[str, str]:
    """File name of each submission's feedback workbook, keyed by the submission's file.

    The file in use for a country and year gets `<ISO3>_<year>_feedback.xlsx`; another file for the
    same country and year (superseded, or tied on its date) gets its own name appended, so no
    feedback overwrites another. A file not attributable to a country and year is named after itself.
    `taken`: names already used by other files' feedback, which are not given again.
    """
    ordered = sorted(subs, key=lambda s: (not s.is_used, s.file))
    names: dict[str, str] = {}
    taken = set(taken)
    for sub in ordered:
        stem = _safe(Path(sub.file).stem)
        if sub.country_iso3 and sub.year is not None:
            name = f"{sub.country_iso3}_{sub.year}_feedback.xlsx"
            if name in taken:
                name = f"{sub.country_iso3}_{sub.year}_feedback_on_{stem}.xlsx"
        else:
            name = f"unidentified_{stem}_feedback.xlsx"
        while name in taken:  # two files with one stem in different sub-folders
            name = name.replace("_feedback", "_feedback_", 1).replace("__", "_x_", 1)
        taken.add(name)
        names[sub.file] = name
    return names


def _safe(text: str) -> str:
    """A file-name part that is safe on every system: letters (any script), digits, '-' and '_'."""
    cleaned = re.sub(r"[^\w\-]+", "_", text, flags=re.UNICODE).strip("_")
    return cleaned or "file"


def write_feedback_workbooks(submissions: Iterable[tuple[Submission, Path]], out_dir: Path, ref: Reference,
                             template_for: TemplateFor | None = None, *, taken: Iterable[str] = ()) -> list[Path]:
    """One feedback workbook per (submission, the file it was read from) into `out_dir`.

    Files that are not workbooks (a note, a lock file) are skipped: they are not submissions, and
    submissions.csv lists them. `template_for`: the blank template of a state and year, into which an
    .ods or .xls is copied (module docstring). `taken`: names of other files' feedback in `out_dir`.
    """
    selected = [(sub, source) for sub, source in submissions if sub.status != "ignored"]
    names = feedback_names([sub for sub, _ in selected], taken)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_feedback(sub, source, out_dir / names[sub.file], ref, template_for) for sub, source in selected]


def add_feedback(submissions: list[tuple[Submission, Path]], folder: Path, ref: Reference, template_for: TemplateFor | None = None) -> list[Path]:
    """Add or replace the feedback of these submissions in `folder`, keeping every other file's.

    Each submission's workbook is written (atomically) under a name no other file's feedback in
    `folder` holds (`feedback_owners`); a workbook of the same file under another name (its Cover
    now says another year) is removed. findings.csv keeps the rows of the other files and gets these
    files' rows in place of their old ones. Files are told apart by their name as the findings give it.
    """
    owners = feedback_owners(folder)
    files = {sub.file for sub, _ in submissions}
    paths = write_feedback_workbooks(submissions, folder, ref, template_for, taken=[name for name, file in owners.items() if file not in files])
    kept = [f for f in _read_findings(folder / FINDINGS_CSV) if f.file not in files]
    output_files.write_csv(findings_table(kept + [f for sub, _ in submissions for f in sub.findings]), folder / FINDINGS_CSV)
    written = {path.name for path in paths}
    for name, file in owners.items():
        if file in files and name not in written:
            (folder / name).unlink(missing_ok=True)
    return paths


def feedback_owners(folder: Path) -> dict[str, str]:
    """The feedback workbooks in `folder`, each with the file it is on (its Findings sheet's File).

    Workbooks that are not feedback (no Findings sheet saying which file) are not listed.
    """
    owners: dict[str, str] = {}
    for path in sorted(folder.glob("*.xlsx")) if folder.is_dir() else []:
        try:
            wb = openpyxl.load_workbook(path, read_only=True)
        except Exception:  # noqa: BLE001 - not a workbook we can read: not ours to replace
            continue
        try:
            if FINDINGS_SHEET in wb.sheetnames:
                ws = wb[FINDINGS_SHEET]
                if ws["A1"].value == TITLE:
                    owners.update({path.name: str(value) for label, value in ws.iter_rows(min_row=3, max_row=4, max_col=2, values_only=True) if label == FILE_FACT})
        finally:
            wb.close()
    return owners


def _read_findings(path: Path) -> list[Finding]:
    """The findings a findings.csv holds (none when there is none, or it cannot be read: said in the log)."""
    if not path.is_file():
        return []
    try:
        frame = output_files.restore_text_columns(pd.read_csv(path, dtype=str, keep_default_na=False))
    except (ValueError, OSError, UnicodeDecodeError) as err:
        log.warning("%s cannot be read (%s): written again with the findings of the files just checked only", path, err)
        return []
    if list(frame.columns) != FINDING_COLUMNS:
        log.warning("%s has other columns than %s: written again with the findings of the files just checked only", path, ", ".join(FINDING_COLUMNS))
        return []
    rows = frame.to_dict("records")
    return [Finding(**{**row, "year": int(row["year"]) if row["year"].strip() else None}) for row in rows]


def write_feedback(sub: Submission, source: Path, target: Path, ref: Reference, template_for: TemplateFor | None = None) -> Path:
    """Write the feedback workbook of one submission to `target` (atomically); `source` is only read.

    A file ingest refused (a bomb, a huge or unsafe workbook) is never opened again here: its feedback
    holds the findings only. `template_for`: as for `write_feedback_workbooks`.
    """
    findings = sorted(sub.findings, key=_finding_order)
    if any(f.code in ingest.REFUSAL_CODES for f in sub.findings):
        wb, copy_note = _findings_only()
    else:
        def blank_template() -> Workbook | None:
            if template_for is None or not sub.country_iso3 or sub.year is None:
                return None
            return template_for(sub.country_iso3, sub.year)

        wb, copy_note, moved = _copy_of(_read_bytes(source), source.suffix.lower(), blank_template)
        if moved:
            findings = [_moved(f, moved) for f in findings]
            log.info("%s: its feedback copy is made in the %s template, to keep the template's look, and written as .xlsx: %s", sub.file, sub.year, target.name)
    on_cells = _annotate(wb, findings)
    _write_findings_sheet(wb, sub, findings, on_cells, copy_note, ref)
    return output_files.write_workbook(wb, target, _stamp(sub))


ROW_MISSING = "row-missing"  # on the cell just below the row before the gap: the template copy has the row itself


def _moved(finding: Finding, moved: dict[tuple[str, str], tuple[str, str]]) -> Finding:
    """The finding on the cell its value went to in the template copy (itself when not moved).

    A missing row's finding sits in the state's file just below the row before the gap, which holds
    another row (or nothing); in the copy the template has the missing row itself, just below where
    the row before went."""
    match = _CELL.match(finding.cell or "")
    if match and finding.code == ROW_MISSING:
        above = moved.get((finding.sheet, f"{match.group(1)}{int(match.group(2)) - 1}"))
        above_match = _CELL.match(above[1]) if above else None
        if above_match:
            return dataclasses.replace(finding, sheet=above[0], cell=f"{above_match.group(1)}{int(above_match.group(2)) + 1}")
    place = moved.get((finding.sheet, f"{match.group(1)}{match.group(2)}")) if match else None
    return dataclasses.replace(finding, sheet=place[0], cell=place[1]) if place else finding


def _read_bytes(source: Path) -> bytes:
    try:
        return source.read_bytes()
    except OSError:
        return b""


def _copy_of(content: bytes, suffix: str, blank_template: Callable[[], Workbook | None]) -> tuple[Workbook, str, dict[tuple[str, str], tuple[str, str]]]:
    """The workbook to annotate, a note for the Findings sheet when it is not a faithful copy, and
    where a copy into the template moved each cell ((sheet, cell) -> (sheet, cell); empty otherwise)."""
    if suffix in (".xlsx", ".xlsm"):
        try:
            with warnings.catch_warnings():
                # "Data Validation extension is not supported and will be removed", and the like: the
                # Excel extensions the module docstring lists are dropped from the copy.
                warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
                # rich_text: text formatted within a cell (a bold word) stays as the state wrote it.
                wb = openpyxl.load_workbook(io.BytesIO(content), keep_vba=False, keep_links=False, rich_text=True)
            _drop_previous_feedback(wb)
            note = "Macros are not kept in this copy." if suffix == ".xlsm" else ""
            return wb, note, {}
        except Exception:  # noqa: BLE001 - any failure falls back to the copies below
            pass
    template = blank_template() if content else None
    if template is not None:
        try:
            moved = _template_copy(content, template)
            return template, _template_note(suffix, moved), moved
        except Exception:  # noqa: BLE001 - content the template has no place for: the value copy keeps it all
            pass
    try:
        return _value_copy(content), (
            f"This copy was rebuilt from the values of your {suffix} file: the cells are at the same "
            "places, but formatting, input rules and protection are not kept. Correct your own file."
        ), {}
    except Exception:  # noqa: BLE001 - the file could not be read at all: the findings say why
        return *_findings_only(), {}


def _template_note(suffix: str, moved: dict[tuple[str, str], tuple[str, str]]) -> str:
    note = (f"Your {suffix} file was copied into the submission template, each value in its cell, so this copy has the "
            "template's column widths, yellow input cells, input rules and protection. It is saved as .xlsx, the format "
            "the marks (colours and comments) are written in: correct this copy and send it back, or correct your own file.")
    if any((sheet, cell) != place for (sheet, cell), place in moved.items()):
        note += " Some of your rows or columns were elsewhere than in the template: the cells named here are this copy's."
    return note


def _findings_only() -> tuple[Workbook, str]:
    wb = Workbook()
    wb.remove(wb.active)
    return wb, "Your file could not be read, so this workbook holds the findings only."


# -- a copy into the template ------------------------------------------------------------------------
class _NoPlace(ValueError):
    """Content of the submission that the template has no cell for: the value copy keeps it instead."""


def _template_copy(content: bytes, template: Workbook) -> dict[tuple[str, str], tuple[str, str]]:
    """Write the submission's values (`content`, read by calamine) into `template`: Data values by
    Code, Breakdown and header, Cover fields by label, the demonstration mark of `_meta`; sheets the
    template does not have are added with their values. Returns where each cell went.
    Raises `_NoPlace` for content the template has no cell for."""
    source = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    grids = {meta.name: source.get_sheet_by_name(meta.name).to_python(skip_empty_area=False) for meta in source.sheets_metadata}
    hidden = {meta.name for meta in source.sheets_metadata if str(meta.visible).lower().endswith("hidden")}
    ours = {workbook_contract.normalise_label(name): name for name in template.sheetnames}
    moved: dict[tuple[str, str], tuple[str, str]] = {}
    data_found = False
    for name, grid in grids.items():
        own = ours.get(workbook_contract.normalise_label(name))
        if own == workbook_contract.DATA_SHEET:
            moved |= _place_data(grid, name, template[own])
            data_found = True
        elif own == workbook_contract.COVER_SHEET:
            moved |= _place_cover(grid, name, template[own])
        elif own == workbook_contract.META_SHEET:
            _place_meta(grid, template[own])
        elif own is None and any(_filled(value) for row in grid for value in row):
            ws = template.create_sheet(_sheet_title(name, template))
            ws.sheet_state = "hidden" if name in hidden else "visible"
            for r, row in enumerate(grid, start=1):
                for c, value in enumerate(row, start=1):
                    if _filled(value):
                        output_files.set_cell(ws.cell(row=r, column=c), value)
                        moved[(name, f"{workbook_contract.column_letter(c - 1)}{r}")] = (ws.title, f"{workbook_contract.column_letter(c - 1)}{r}")
    if not data_found:
        raise _NoPlace("no Data sheet")
    return moved


def _filled(value: object) -> bool:
    return value is not None and value != ""


def _as_typed(value: object) -> object:
    # Calamine reads every number of an .ods as a float: 1154.0 goes back in as the 1154 typed.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _template_columns(ws: Worksheet) -> dict[str, int]:
    return {workbook_contract.normalise_label(c.value): c.column for c in ws[1] if c.value is not None}


def _column_of(label: object, columns: dict[str, int]) -> int | None:
    """The template column a header names: the same label, else a label it starts with ("Value (2026)")."""
    if not isinstance(label, str):
        return None
    text = workbook_contract.normalise_label(label)
    if text in columns:
        return columns[text]
    prefixes = [known for known in columns if re.match(rf"{re.escape(known)}\b", text)]
    return columns[max(prefixes, key=len)] if prefixes else None


def _place_data(grid: list[list[object]], name: str, ws: Worksheet) -> dict[tuple[str, str], tuple[str, str]]:
    columns = _template_columns(ws)
    code_label, breakdown_label = (workbook_contract.normalise_label(label) for label in (workbook_contract.COL_CODE, workbook_contract.COL_BREAKDOWN))
    header_row = next((i for i, row in enumerate(grid[:30]) if {code_label, breakdown_label} <= {workbook_contract.normalise_label(v) for v in row if isinstance(v, str)}), None)
    if header_row is None or any(_filled(v) for row in grid[:header_row] for v in row):
        raise _NoPlace("no header row at the top of the Data sheet")
    placed: dict[int, int] = {}
    for j, label in enumerate(grid[header_row]):
        column = _column_of(label, columns)
        if column is not None and column not in placed.values():
            placed[j] = column
    by_label = columns
    code_j = next(j for j, c in placed.items() if c == by_label[code_label])
    breakdown_j = next(j for j, c in placed.items() if c == by_label[breakdown_label])
    editable = {by_label[workbook_contract.normalise_label(label)] for label in workbook_contract.EDITABLE_DATA_COLUMNS if workbook_contract.normalise_label(label) in by_label}
    code_column, breakdown_column = by_label[code_label], by_label[breakdown_label]
    rows = {(str(ws.cell(row=r, column=code_column).value).strip(), str(ws.cell(row=r, column=breakdown_column).value or "").strip()): r
            for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=code_column).value is not None}
    moved = {(name, f"{workbook_contract.column_letter(j)}{header_row + 1}"): (ws.title, f"{workbook_contract.column_letter(c - 1)}1") for j, c in placed.items()}
    used: set[int] = set()
    for i in range(header_row + 1, len(grid)):
        row = grid[i]
        if not any(_filled(v) for v in row):
            continue
        key = tuple(str(row[j]).strip() if j < len(row) and _filled(row[j]) else "" for j in (code_j, breakdown_j))
        target = rows.get(key)
        if target is None or target in used:
            raise _NoPlace(f"row {i + 1}: {key} has no row of its own in the template")
        used.add(target)
        for j, value in enumerate(row):
            if _filled(value) and j not in placed:
                raise _NoPlace(f"row {i + 1}: a value in a column the template does not have")
            if j in placed:
                if placed[j] in editable and _filled(value):
                    output_files.set_cell(ws.cell(row=target, column=placed[j]), _as_typed(value))
                moved[(name, f"{workbook_contract.column_letter(j)}{i + 1}")] = (ws.title, f"{workbook_contract.column_letter(placed[j] - 1)}{target}")
    return moved


def _place_cover(grid: list[list[object]], name: str, ws: Worksheet) -> dict[tuple[str, str], tuple[str, str]]:
    rows = {workbook_contract.normalise_label(c.value): c.row for c in ws["A"] if isinstance(c.value, str)}
    fill = {workbook_contract.normalise_label(label) for label in workbook_contract.COVER_FILL_FIELDS}
    moved = {}
    for i, row in enumerate(grid):
        label = workbook_contract.normalise_label(row[0]) if row and isinstance(row[0], str) and row[0].strip() else None
        target = rows.get(label) if label else None
        if target is None:
            continue
        moved[(name, f"A{i + 1}")] = (ws.title, f"A{target}")
        moved[(name, f"B{i + 1}")] = (ws.title, f"B{target}")
        if label in fill and len(row) > 1 and _filled(row[1]):
            output_files.set_cell(ws.cell(row=target, column=2), _as_typed(row[1]))
    return moved


def _place_meta(grid: list[list[object]], ws: Worksheet) -> None:
    """The demonstration mark as the submission has it (the template's version stays: the copy is the template)."""
    submitted = {str(row[0]).strip(): row[1] for row in grid if len(row) > 1 and _filled(row[0])}
    if workbook_contract.META_DEMONSTRATION_KEY in submitted:
        for cell in ws["A"]:
            if cell.value == workbook_contract.META_DEMONSTRATION_KEY:
                output_files.set_cell(ws.cell(row=cell.row, column=2), submitted[workbook_contract.META_DEMONSTRATION_KEY])


def _value_copy(content: bytes) -> Workbook:
    """Every sheet's values at their own addresses (sheets hidden in the original stay hidden)."""
    if not content:
        raise ValueError("empty file")
    source = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    wb = Workbook()
    wb.remove(wb.active)
    for meta in source.sheets_metadata:
        ws = wb.create_sheet(_sheet_title(meta.name, wb))
        if str(meta.visible).lower().endswith("hidden"):
            ws.sheet_state = "hidden"
        rows = source.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value != "" and value is not None:
                    output_files.set_cell(ws.cell(row=r, column=c), value)
    return wb


def _sheet_title(name: str, wb: Workbook) -> str:
    # Excel limits sheet names to 31 characters without []:*?/\ ; keep names unique after trimming.
    title = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "Sheet"
    return title if title not in wb.sheetnames else f"{title[:28]}_{len(wb.sheetnames)}"


def _drop_previous_feedback(wb: Workbook) -> None:
    """A feedback copy sent back as a resubmission: its old Findings sheet is replaced, not doubled."""
    if FINDINGS_SHEET in wb.sheetnames and wb[FINDINGS_SHEET]["A1"].value == TITLE:
        wb.remove(wb[FINDINGS_SHEET])


def _finding_order(finding: Finding) -> tuple:
    return (SEVERITY_ORDER.get(finding.severity, 3), finding.sheet, *cell_position(finding.cell), finding.code)


def cell_position(cell: str) -> tuple[int, int, str]:
    """A cell's place in reading order: row, then column with B before AA, so B10 comes after B9
    ((0, 0, '') for no cell: before the others)."""
    match = _CELL.match(cell or "")
    return (int(match.group(2)), len(match.group(1)), match.group(1)) if match else (0, 0, "")


# The sheets in the order the template has them; a sheet of the state's own comes after them.
_SHEET_ORDER = {name: i for i, name in enumerate((workbook_contract.COVER_SHEET, workbook_contract.DATA_SHEET, workbook_contract.INSTRUCTIONS_SHEET,
                                                   workbook_contract.META_SHEET, workbook_contract.LISTS_SHEET))}


def reading_order(finding: Finding) -> tuple:
    """Sort key of a finding as the state reads its workbook: the whole file first, then by sheet
    (the template's order) and cell in reading order; on one cell, errors first."""
    sheet_rank = -1 if not finding.sheet else _SHEET_ORDER.get(finding.sheet, len(_SHEET_ORDER))
    return (sheet_rank, finding.sheet, *cell_position(finding.cell), SEVERITY_ORDER.get(finding.severity, 3), finding.code)


# -- the marks on the state's cells and the Findings sheet ----------------------------------------------
def _cells_to_mark(findings: list[Finding], sheet_names: Iterable[str]) -> dict[tuple[str, str], list[Finding]]:
    """The findings of each (sheet, cell) of the workbook they point at, in `findings`' order."""
    names = set(sheet_names)
    by_cell: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in findings:
        match = _CELL.match(finding.cell or "")
        if finding.sheet in names and match:
            by_cell[(finding.sheet, f"{match.group(1)}{match.group(2)}")].append(finding)
    return by_cell


def _worst(cell_findings: list[Finding]) -> str:
    return min(cell_findings, key=lambda f: SEVERITY_ORDER.get(f.severity, 3)).severity


def _note(cell_findings: list[Finding], kept: str) -> tuple[str, int]:
    """A marked cell's comment (a comment someone else had left on it kept at the end) and its height in pixels.

    A message may quote a submitted text holding a control character (Excel writes one as _x0007_):
    dropped, as `output_files.set_cell` drops it from cells, since XML cannot carry it.
    """
    text = "\n\n".join(f"{SEVERITY_WORDS.get(f.severity, f.severity)} ({f.code}): {f.message}" for f in cell_findings)
    full = ILLEGAL_CHARACTERS_RE.sub("", f"{text}\n\n— {kept}" if kept else text)
    lines = sum(1 + len(line) // 48 for line in full.splitlines())
    return full, min(600, 20 + 15 * lines)


def _facts(sub: Submission, findings: list[Finding], copy_note: str, ref: Reference) -> list[tuple[str, object]]:
    state = ref.state_by_iso3.get(sub.country_iso3)
    counts = {severity: sum(1 for f in findings if f.severity == severity) for severity in SEVERITY_ORDER}
    facts = [
        (FILE_FACT, sub.file),
        ("Country", f"{state.name} ({state.iso3})" if state else sub.country_iso3 or "not identified"),
        ("Reporting year", sub.year if sub.year is not None else "not identified"),
        ("Status", status_text(sub)),
        ("Findings", f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info"),
        ("How to read", "Errors (red cells): the value is not used until corrected. Warnings (amber cells): "
                        "please confirm the value or explain it in the Comment column. Info: nothing to do. "
                        "Each marked cell has a comment; the Cell column below links to it."),
        ("Checked by", f"crimetrends {__version__}"),
    ]
    if copy_note:
        facts.append(("Note", copy_note))
    return facts


def _fact_height(value: object) -> int:
    # Each fact spans the table's width and wraps, so long reasons stay readable on screen and on paper.
    return 15 * (1 + len(str(value)) // FACT_CHARS_PER_LINE)


def _finding_values(finding: Finding, ref: Reference) -> tuple:
    code = ref.finding_codes.get(finding.code)
    return (
        SEVERITY_WORDS.get(finding.severity, finding.severity),
        finding.code,
        finding.sheet,
        finding.cell,
        finding.value,
        finding.message,
        code.how_to_fix if code else "",
    )


def _finding_height(values: tuple) -> int:
    # Spreadsheet writers cannot measure text: size the row for the longest wrapped cell, or lines overlap.
    return 15 * max(1 + len(str(value)) // int(width) for value, width in zip(values, FINDING_WIDTHS, strict=True))


def _link(finding: Finding, on_cells: set[tuple[str, str]]) -> str:
    """Where the finding's Cell links to in the workbook ('' when its cell is not marked)."""
    match = _CELL.match(finding.cell or "")
    if match and (finding.sheet, f"{match.group(1)}{match.group(2)}") in on_cells:
        return f"{quote_sheetname(finding.sheet)}!{match.group(1)}{match.group(2)}"  # Bob's -> 'Bob''s'!A1
    return ""


def _annotate(wb: Workbook, findings: list[Finding]) -> set[tuple[str, str]]:
    """Fill and comment every cell that has findings; returns the (sheet, cell) pairs marked."""
    by_cell = _cells_to_mark(findings, wb.sheetnames)
    for (sheet, address), cell_findings in by_cell.items():
        cell = wb[sheet][address]
        worst = _worst(cell_findings)
        if worst in FILL_COLOURS:
            cell.fill = _fill(worst)
        kept = cell.comment.text if cell.comment is not None and cell.comment.author != COMMENT_AUTHOR else ""
        full, height = _note(cell_findings, kept)
        cell.comment = Comment(full, COMMENT_AUTHOR, width=NOTE_WIDTH, height=height)
    return set(by_cell)


def _fill(severity: str) -> PatternFill:
    return PatternFill(fill_type="solid", start_color=FILL_COLOURS[severity], end_color=FILL_COLOURS[severity])


def _write_findings_sheet(
    wb: Workbook, sub: Submission, findings: list[Finding], on_cells: set[tuple[str, str]], copy_note: str, ref: Reference
) -> Worksheet:
    ws = wb.create_sheet(FINDINGS_SHEET, 0)
    ws["A1"] = TITLE
    ws["A1"].font = Font(bold=True, size=14)
    facts = _facts(sub, findings, copy_note, ref)
    for row, (label, value) in enumerate(facts, start=3):
        label_cell = ws.cell(row=row, column=1, value=label)
        label_cell.font, label_cell.alignment = Font(bold=True), Alignment(vertical="top")
        output_files.set_cell(ws.cell(row=row, column=2), str(value)).alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=len(FINDING_HEADER))
        ws.row_dimensions[row].height = _fact_height(value)
    header_row = 3 + len(facts) + 1
    for col, (label, width) in enumerate(zip(FINDING_HEADER, FINDING_WIDTHS, strict=True), start=1):
        ws.cell(row=header_row, column=col, value=label).font = Font(bold=True)
        ws.column_dimensions[workbook_contract.column_letter(col - 1)].width = width
    for row, finding in enumerate(findings, start=header_row + 1):
        values = _finding_values(finding, ref)
        for col, value in enumerate(values, start=1):
            cell = output_files.set_cell(ws.cell(row=row, column=col), value)
            cell.alignment = Alignment(wrap_text=col >= 6, vertical="top")
        ws.row_dimensions[row].height = _finding_height(values)
        severity_cell = ws.cell(row=row, column=1)
        if finding.severity in FILL_COLOURS:
            severity_cell.fill = _fill(finding.severity)
        location = _link(finding, on_cells)
        if location:
            link = ws.cell(row=row, column=4)
            # A link within the workbook (a location, not a "#..." target): Excel and LibreOffice both follow it.
            link.hyperlink = Hyperlink(ref=link.coordinate, location=location)
            link.font = Font(color=LINK_COLOUR, underline="single")
    if not findings:
        ws.cell(row=header_row + 1, column=1, value="No findings: thank you.")
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    # Printed, the list fits the width of a landscape page (focal points print it and tick it off).
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.print_title_rows = f"{header_row}:{header_row}"
    if findings:
        ws.auto_filter.ref = f"A{header_row}:G{header_row + len(findings)}"
    # Open on this sheet: deselect the others, or Excel opens them grouped.
    for sheet in wb.worksheets:
        sheet.sheet_view.tabSelected = False
    ws.sheet_view.tabSelected = True
    wb.active = 0
    return ws


def status_text(sub: Submission) -> str:
    """What became of the submission, in the words a focal point needs."""
    n_errors, n_warnings = sub.count("error"), sub.count("warning")
    if sub.status == "rejected":
        return f"Rejected: nothing from this file is used ({sub.reason}). Correct the errors and send the workbook again."
    if sub.status == "superseded":
        return f"Not used: {sub.reason}."
    if sub.status == "accepted":
        return "Accepted: nothing to correct. Thank you."
    text = "Accepted."
    if n_errors:
        # One error can leave out several values (the parts of a breakdown): name the errors, not a count of values.
        text = f"Accepted, except the values concerned by the {n_errors} error(s) below: they are left out until corrected."
    if n_warnings:
        text += f" Please confirm or explain the {n_warnings} warning(s)."
    return text


def _stamp(sub: Submission) -> dt.datetime:
    """Document time of the copy: fixed by the submission, so the same inputs give the same bytes."""
    day = sub.date_submitted or dt.date(2000, 1, 1)
    return dt.datetime(day.year, day.month, day.day)
