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

An .ods or .xls, or an .xlsx openpyxl cannot open, is rebuilt from its cell values (calamine) at the
same addresses, so every finding's cell still points at the right place; formatting is not kept and
the Findings sheet says so. A file that could not be read at all gets a workbook with the Findings
sheet only.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable
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

from pipeline import __version__, ingest, workbook_contract, output_files
from pipeline.findings import Finding
from pipeline.reference import Reference
from pipeline.validate import Submission

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


def feedback_names(subs: Iterable[Submission]) -> dict[str, str]:
    """File name of each submission's feedback workbook, keyed by the submission's file.

    The file in use for a country and year gets `<ISO3>_<year>_feedback.xlsx`; another file for the
    same country and year (superseded, or tied on its date) gets its own name appended, so no
    feedback overwrites another. A file not attributable to a country and year is named after itself.
    """
    ordered = sorted(subs, key=lambda s: (not s.is_used, s.file))
    names: dict[str, str] = {}
    taken: set[str] = set()
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


def write_feedback_workbooks(submissions: Iterable[tuple[Submission, Path]], out_dir: Path, ref: Reference) -> list[Path]:
    """One feedback workbook per (submission, the file it was read from) into `out_dir`.

    Files that are not workbooks (a note, a lock file) are skipped: they are not submissions, and
    submissions.csv lists them.
    """
    selected = [(sub, source) for sub, source in submissions if sub.status != "ignored"]
    names = feedback_names([sub for sub, _ in selected])
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_feedback(sub, source, out_dir / names[sub.file], ref) for sub, source in selected]


def write_feedback(sub: Submission, source: Path, target: Path, ref: Reference) -> Path:
    """Write the feedback workbook of one submission to `target` (atomically); `source` is only read.

    A file ingest refused (a bomb, a huge or unsafe workbook) is never opened again here: its feedback
    holds the findings only.
    """
    findings = sorted(sub.findings, key=_finding_order)
    if any(f.code in ingest.REFUSAL_CODES for f in sub.findings):
        wb, copy_note = _findings_only()
    else:
        wb, copy_note = _copy_of(_read_bytes(source), source.suffix.lower())
    on_cells = _annotate(wb, findings)
    _write_findings_sheet(wb, sub, findings, on_cells, copy_note, ref)
    return output_files.write_workbook(wb, target, _stamp(sub))


def _read_bytes(source: Path) -> bytes:
    try:
        return source.read_bytes()
    except OSError:
        return b""


def _copy_of(content: bytes, suffix: str) -> tuple[Workbook, str]:
    """The workbook to annotate, and a note for the Findings sheet when it is not a faithful copy."""
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
            return wb, note
        except Exception:  # noqa: BLE001 - any failure falls back to the value copy below
            pass
    try:
        return _value_copy(content), (
            f"This copy was rebuilt from the values of your {suffix} file: the cells are at the same "
            "places, but formatting, drop-downs and protection are not kept. Correct your own file."
        )
    except Exception:  # noqa: BLE001 - the file could not be read at all: the findings say why
        return _findings_only()


def _findings_only() -> tuple[Workbook, str]:
    wb = Workbook()
    wb.remove(wb.active)
    return wb, "Your file could not be read, so this workbook holds the findings only."


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
    match = _CELL.match(finding.cell or "")
    # Row, then column with "B" before "AA": reading order on the sheet.
    position = (int(match.group(2)), len(match.group(1)), match.group(1)) if match else (0, 0, "")
    return (SEVERITY_ORDER.get(finding.severity, 3), finding.sheet, *position, finding.code)


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
        ("File", sub.file),
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
