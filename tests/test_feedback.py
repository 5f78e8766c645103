"""Feedback workbooks: the state's own workbook with each finding on its cell, and a Findings sheet."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.comments import Comment
from openpyxl.workbook.defined_name import DefinedName

from pipeline import feedback, ingest, workbook_contract, validate
from pipeline.cli import main
from pipeline.findings import Finding
from pipeline.samples import generate_sample_inputs
from pipeline.template import INPUT_FILL, build_workbook
from tests.conftest import require_soffice, write_submission

RED, AMBER = "FFFFC7CE", "FFFFEB9C"


def _checked(paths: list[Path], ref) -> list[tuple[validate.Submission, Path]]:
    read = [(validate.validate_submission(ingest.read_submission(p, p.parent, ref), ref), p) for p in paths]
    validate.resolve_resubmissions([s for s, _ in read], ref)
    validate.apply_time_rules([s for s, _ in read], ref)
    return read


def _findings_rows(ws) -> list[tuple]:
    """(severity, code, sheet, cell) of every finding row under the header of the Findings sheet."""
    rows = list(ws.iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r[:4] == feedback.FINDING_HEADER[:4])
    return [tuple(r[:4]) for r in rows[header + 1:] if r[1]]


def _cell_of(path: Path, code: str, column: str = workbook_contract.COL_VALUE, breakdown: str = "TOTAL") -> str:
    ws = openpyxl.load_workbook(path)[workbook_contract.DATA_SHEET]
    header = {c.value: c.column_letter for c in ws[1]}
    row = next(r[0].row for r in ws.iter_rows(min_row=2) if (r[0].value, r[1].value) == (code, breakdown))
    return f"{header[column]}{row}"


@pytest.fixture
def geo(ref, tmp_path):
    """A GEO 2025 submission with one error, one warning and one info, each on its own cell."""
    values = {
        ("TIP_OFF", "TOTAL"): -3,  # value-negative (error)
        ("TIP_PRO", "TOTAL"): 10,
        ("TIP_CON", "TOTAL"): 14,  # funnel-inverted (warning)
        ("TIP_VIC", "TOTAL"): "1 154",  # value-text-number (info)
    }
    return write_submission(tmp_path / "in", ref, "GEO", 2025, values)


def test_each_finding_is_on_its_cell_and_in_the_findings_sheet(ref, tmp_path, geo):
    before = geo.read_bytes()
    [(sub, source)] = _checked([geo], ref)
    [path] = feedback.write_feedback_workbooks([(sub, source)], tmp_path / "out", ref)

    assert path.name == "GEO_2025_feedback.xlsx"
    assert geo.read_bytes() == before, "the original workbook was modified"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == feedback.FINDINGS_SHEET and wb.active.title == feedback.FINDINGS_SHEET
    negative, inverted, text_number = (_cell_of(geo, c) for c in ("TIP_OFF", "TIP_CON", "TIP_VIC"))
    assert _findings_rows(wb[feedback.FINDINGS_SHEET]) == [
        ("Error", "value-negative", "Data", negative),
        ("Warning", "funnel-inverted", "Data", inverted),
        ("Info", "value-text-number", "Data", text_number),
    ]
    data = wb[workbook_contract.DATA_SHEET]
    assert data[negative].fill.start_color.rgb == RED
    assert data[inverted].fill.start_color.rgb == AMBER
    original_fill = openpyxl.load_workbook(geo)[workbook_contract.DATA_SHEET][text_number].fill.start_color.rgb
    assert data[text_number].fill.start_color.rgb == original_fill, "infos ask for nothing: comment only"
    assert "is negative" in data[negative].comment.text and data[negative].comment.author == feedback.COMMENT_AUTHOR
    assert "TIP_CON" in data[inverted].comment.text
    assert "read as 1154" in data[text_number].comment.text


def test_the_copy_keeps_the_states_workbook_and_links_each_finding(ref, tmp_path, geo):
    [(sub, source)] = _checked([geo], ref)
    [path] = feedback.write_feedback_workbooks([(sub, source)], tmp_path / "out", ref)
    original, copy = openpyxl.load_workbook(geo), openpyxl.load_workbook(path)
    assert copy.sheetnames[1:] == original.sheetnames
    assert copy[workbook_contract.META_SHEET].sheet_state == "hidden"
    assert copy[workbook_contract.DATA_SHEET].protection.sheet, "the Data sheet stays protected"
    for name in original.sheetnames:
        assert [[c.value for c in row] for row in copy[name].iter_rows()] == [[c.value for c in row] for row in original[name].iter_rows()]
    ws = copy[feedback.FINDINGS_SHEET]
    links = [c.hyperlink.location or c.hyperlink.target for row in ws.iter_rows() for c in row if c.hyperlink]
    assert f"'Data'!{_cell_of(geo, 'TIP_OFF')}" in links[0]
    texts = [str(c.value) for row in ws.iter_rows() for c in row if c.value]
    assert "Georgia (GEO)" in texts
    assert any(t.startswith("Accepted, except the values concerned by the 1 error(s)") for t in texts)
    assert ref.finding_codes["value-negative"].how_to_fix in texts


def test_a_link_into_a_sheet_whose_name_has_an_apostrophe_doubles_it(ref):
    from pipeline.findings import make_finding

    finding = make_finding(ref, "value-negative", "negative", file="x.xlsx", sheet="Bob's data", cell="E5", value=-1)
    assert feedback._link(finding, {("Bob's data", "E5")}) == "'Bob''s data'!E5"
    assert feedback._link(finding, set()) == ""  # a cell that is not marked gets no link


def test_a_cell_with_two_findings_gets_the_worst_colour_and_both_messages(ref, tmp_path):
    # The total flagged b with no comment (an info) and its sexes adding up to 9 (an error), both on the total's cell.
    values = {("TIP_VIC", "TOTAL"): (20, "b", None), ("TIP_VIC", "SEX=F"): 5, ("TIP_VIC", "SEX=M"): 4, ("TIP_VIC", "SEX=UNK"): 0}
    path = write_submission(tmp_path / "in", ref, "GEO", 2025, values)
    [(sub, source)] = _checked([path], ref)
    [out] = feedback.write_feedback_workbooks([(sub, source)], tmp_path / "out", ref)
    cell = openpyxl.load_workbook(out)[workbook_contract.DATA_SHEET][_cell_of(path, "TIP_VIC")]
    assert cell.fill.start_color.rgb == RED
    assert "(breakdown-sum-mismatch)" in cell.comment.text and "(break-undescribed)" in cell.comment.text


def test_text_from_submissions_is_written_as_text_never_as_a_formula(ref, tmp_path):
    path = write_submission(tmp_path / "in", ref, "GEO", 2025, {})
    wb = openpyxl.load_workbook(path)
    cell = wb[workbook_contract.DATA_SHEET][_cell_of(path, "TIP_OFF")]
    cell.value = '=HYPERLINK("http://x")'
    cell.data_type = "s"  # typed as text, as a spreadsheet stores "'=..." (not a formula in the submission)
    wb.save(path)
    [(sub, source)] = _checked([path], ref)
    [out] = feedback.write_feedback_workbooks([(sub, source)], tmp_path / "out", ref)
    ws = openpyxl.load_workbook(out)[feedback.FINDINGS_SHEET]
    value_cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert value_cells and all(c.data_type == "s" for c in value_cells)


def test_superseded_and_unreadable_files_get_their_own_feedback(ref, tmp_path):
    folder = tmp_path / "in"
    first = write_submission(folder, ref, "GEO", 2025, {("TIP_OFF", "TOTAL"): 3}, date=dt.date(2026, 2, 1))
    second = write_submission(folder, ref, "GEO", 2025, {("TIP_OFF", "TOTAL"): 4}, name="GEO_2025_v2.xlsx", date=dt.date(2026, 2, 20))
    broken = folder / "ARM 2025 (final).xlsx"
    broken.write_bytes(b"PK\x03\x04 truncated")
    note = folder / "letter.txt"
    note.write_text("Dear colleagues", encoding="utf-8")
    read = _checked([first, second, broken, note], ref)
    paths = feedback.write_feedback_workbooks(read, tmp_path / "out", ref)

    assert sorted(p.name for p in paths) == [
        "GEO_2025_feedback.xlsx", "GEO_2025_feedback_on_GEO_2025.xlsx", "unidentified_ARM_2025_final_feedback.xlsx",
    ]
    superseded = openpyxl.load_workbook(tmp_path / "out" / "GEO_2025_feedback_on_GEO_2025.xlsx")[feedback.FINDINGS_SHEET]
    assert [r[1] for r in _findings_rows(superseded)] == ["submission-superseded"]
    unreadable = openpyxl.load_workbook(tmp_path / "out" / "unidentified_ARM_2025_final_feedback.xlsx")
    assert unreadable.sheetnames == [feedback.FINDINGS_SHEET]
    assert [r[1] for r in _findings_rows(unreadable[feedback.FINDINGS_SHEET])] == ["file-unreadable"]


def test_same_inputs_give_the_same_bytes(ref, tmp_path, geo):
    read = _checked([geo], ref)
    [a] = feedback.write_feedback_workbooks(read, tmp_path / "a", ref)
    [b] = feedback.write_feedback_workbooks(read, tmp_path / "b", ref)
    assert a.read_bytes() == b.read_bytes()


def test_a_feedback_copy_sent_back_reads_as_the_same_submission(ref, tmp_path, geo):
    [(sub, source)] = _checked([geo], ref)
    [out] = feedback.write_feedback_workbooks([(sub, source)], tmp_path / "out", ref)
    [(again, again_source)] = _checked([out], ref)
    assert again.country_iso3 == "GEO" and again.year == 2025
    columns = ["indicator", "breakdown", "value", "status", "flags", "cell"]
    assert again.observations[columns].equals(sub.observations[columns])
    # Feedback on the feedback copy replaces the old Findings sheet instead of adding a second one.
    [twice] = feedback.write_feedback_workbooks([(again, again_source)], tmp_path / "twice", ref)
    again_wb = openpyxl.load_workbook(twice)
    assert again_wb.sheetnames.count(feedback.FINDINGS_SHEET) == 1 and again_wb.sheetnames[0] == feedback.FINDINGS_SHEET
    assert [r[1] for r in _findings_rows(again_wb[feedback.FINDINGS_SHEET])] == [f.code for f in sorted(again.findings, key=feedback._finding_order)]


@pytest.mark.libreoffice
@pytest.mark.parametrize("fmt", ["ods", "xls"])
def test_ods_and_xls_are_rebuilt_with_every_value_at_its_cell(ref, tmp_path, geo, fmt):
    soffice = require_soffice()
    out_dir = tmp_path / fmt
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", fmt, "--outdir", str(out_dir), str(geo)],
                       check=True, capture_output=True, timeout=180)
    converted = out_dir / f"GEO_2025.{fmt}"
    assert converted.exists(), "LibreOffice did not convert the workbook"
    [(sub, source)] = _checked([converted], ref)
    [path] = feedback.write_feedback_workbooks([(sub, source)], tmp_path / "out", ref)
    wb = openpyxl.load_workbook(path)
    negative = _cell_of(geo, "TIP_OFF")
    assert wb[workbook_contract.DATA_SHEET][negative].value == -3
    assert wb[workbook_contract.DATA_SHEET][negative].fill.start_color.rgb == RED
    assert [r[1] for r in _findings_rows(wb[feedback.FINDINGS_SHEET])] == ["value-negative", "funnel-inverted", "value-text-number"]
    assert any("rebuilt from the values" in str(c.value) for row in wb[feedback.FINDINGS_SHEET].iter_rows() for c in row)


def _template_for(ref):
    return lambda iso3, year: build_workbook(ref, iso3, year)


def _note_of(wb) -> str:
    return next(str(row[1]) for row in wb[feedback.FINDINGS_SHEET].iter_rows(values_only=True) if row[0] == "Note")


def _assert_looks_like_the_template(copy, template) -> None:
    """The template's sheets after the Findings sheet, each with the template's widths, drop-downs,
    protection and visibility, and its yellow input cells (where no finding coloured them)."""
    assert copy.sheetnames == [feedback.FINDINGS_SHEET, *template.sheetnames]
    yellow = 0
    for name in template.sheetnames:
        a, b = template[name], copy[name]
        assert _widths(b) == _widths(a), name
        assert _validations(b) == _validations(a), name
        assert (b.protection.sheet, b.sheet_state, b.freeze_panes) == (a.protection.sheet, a.sheet_state, a.freeze_panes), name
        inputs = [c.coordinate for row in a.iter_rows() for c in row if c.fill.start_color.rgb == INPUT_FILL.start_color.rgb]
        kept = [cell for cell in inputs if b[cell].fill.start_color.rgb not in (RED, AMBER)]
        assert all(b[cell].fill.start_color.rgb == INPUT_FILL.start_color.rgb and not b[cell].protection.locked for cell in kept), name
        yellow += len(kept)
    assert yellow > 0, "the template has yellow input cells"


@pytest.mark.libreoffice
@pytest.mark.parametrize("fmt", ["ods", "xls"])
def test_an_ods_or_xls_copy_is_made_in_the_template_with_every_value_and_finding_on_its_cell(ref, tmp_path, geo, fmt):
    soffice = require_soffice()
    _libreoffice(soffice, [geo], tmp_path / fmt, fmt)
    converted = tmp_path / fmt / f"GEO_2025.{fmt}"
    [(sub, source)] = _checked([converted], ref)
    [path] = feedback.write_feedback_workbooks([(sub, source)], tmp_path / "out", ref, _template_for(ref))
    assert path.name == "GEO_2025_feedback.xlsx"
    copy, original = openpyxl.load_workbook(path), openpyxl.load_workbook(geo)
    _assert_looks_like_the_template(copy, build_workbook(ref, "GEO", 2025))
    for name in (workbook_contract.COVER_SHEET, workbook_contract.DATA_SHEET):
        assert _values(copy[name]) == _values(original[name]), name
    assert {f.code for f in sub.findings} >= {"value-negative", "funnel-inverted", "value-text-number"}
    _assert_marked(path, sub.findings)
    assert [r[1] for r in _findings_rows(copy[feedback.FINDINGS_SHEET])] == [f.code for f in sorted(sub.findings, key=feedback._finding_order)]
    assert f"Your .{fmt} file was copied into the submission template" in _note_of(copy) and "saved as .xlsx" in _note_of(copy)


def _unreadable_by_openpyxl(monkeypatch) -> None:
    """openpyxl cannot open the state's file (as an .ods), so the copy is made from calamine's values."""
    def fail(*args, **kwargs):
        raise KeyError("There is no item named 'xl/styles.xml' in the archive")

    monkeypatch.setattr(openpyxl, "load_workbook", fail)


def test_rows_moved_in_the_states_file_go_back_to_their_template_rows_with_their_findings(ref, tmp_path, geo, monkeypatch):
    wb = openpyxl.load_workbook(geo)
    ws = wb[workbook_contract.DATA_SHEET]
    last = ws.max_row
    for column in range(1, ws.max_column + 1):  # TIP_OFF TOTAL (row 2) and the last row change places
        ws.cell(row=2, column=column).value, ws.cell(row=last, column=column).value = ws.cell(row=last, column=column).value, ws.cell(row=2, column=column).value
    moved = tmp_path / "moved" / "GEO_2025.xlsx"
    moved.parent.mkdir()
    wb.save(moved)
    [(sub, source)] = _checked([moved], ref)
    negative = next(f for f in sub.findings if f.code == "value-negative")
    assert negative.cell == f"E{last}"
    _unreadable_by_openpyxl(monkeypatch)
    path = feedback.write_feedback(sub, source, tmp_path / "out.xlsx", ref, _template_for(ref))
    monkeypatch.undo()
    copy = openpyxl.load_workbook(path)
    data = copy[workbook_contract.DATA_SHEET]
    assert (data["A2"].value, data["E2"].value) == ("TIP_OFF", -3)
    assert data["E2"].fill.start_color.rgb == RED and "(value-negative)" in data["E2"].comment.text
    assert data[f"E{last}"].comment is None
    assert ("Error", "value-negative", workbook_contract.DATA_SHEET, "E2") in _findings_rows(copy[feedback.FINDINGS_SHEET])
    assert "the cells named here are this copy's" in _note_of(copy)


@pytest.mark.parametrize(("deleted_code", "deleted_breakdown"), [("TIP_SUS", "TOTAL"), ("TIP_OFF", "TOTAL")])
def test_a_row_deleted_in_the_states_file_is_marked_on_that_row_of_the_template_copy(ref, tmp_path, geo, monkeypatch, deleted_code, deleted_breakdown):
    """TIP_SUS TOTAL (in the middle) or TIP_OFF TOTAL (the first row) deleted: the copy has the template's row
    back, and the row-missing comment sits on its Code cell, not on the row that took its place."""
    wb = openpyxl.load_workbook(geo)
    ws = wb[workbook_contract.DATA_SHEET]
    row = next(r[0].row for r in ws.iter_rows(min_row=2) if (r[0].value, r[1].value) == (deleted_code, deleted_breakdown))
    ws.delete_rows(row)
    gap = tmp_path / "gap" / "GEO_2025.xlsx"
    gap.parent.mkdir()
    wb.save(gap)
    [(sub, source)] = _checked([gap], ref)
    assert [f.cell for f in sub.findings if f.code == "row-missing"] == [f"A{row}"]
    _unreadable_by_openpyxl(monkeypatch)
    path = feedback.write_feedback(sub, source, tmp_path / "out.xlsx", ref, _template_for(ref))
    monkeypatch.undo()
    data = openpyxl.load_workbook(path)[workbook_contract.DATA_SHEET]
    template_row = next(r[0].row for r in data.iter_rows(min_row=2) if (r[0].value, r[1].value) == (deleted_code, deleted_breakdown))
    assert "(row-missing)" in data[f"A{template_row}"].comment.text
    assert all(data[f"A{r}"].comment is None for r in range(2, data.max_row + 1) if r != template_row)


def test_content_the_template_has_no_place_for_keeps_the_copy_of_values(ref, tmp_path, geo, monkeypatch):
    wb = openpyxl.load_workbook(geo)
    ws = wb[workbook_contract.DATA_SHEET]
    ws.cell(row=ws.max_row + 1, column=1, value="MY_OWN")
    ws.cell(row=ws.max_row, column=5, value=7)
    extra = tmp_path / "extra" / "GEO_2025.xlsx"
    extra.parent.mkdir()
    wb.save(extra)
    [(sub, source)] = _checked([extra], ref)
    _unreadable_by_openpyxl(monkeypatch)
    path = feedback.write_feedback(sub, source, tmp_path / "out.xlsx", ref, _template_for(ref))
    monkeypatch.undo()
    copy = openpyxl.load_workbook(path)
    assert copy[workbook_contract.DATA_SHEET][f"A{ws.max_row}"].value == "MY_OWN"
    assert "rebuilt from the values of your .xlsx file" in _note_of(copy)


# -- what a focal point sees in the copy of their own workbook ----------------------------------------------
def _validations(ws) -> list[tuple]:
    return sorted((str(v.sqref), v.type, v.formula1, v.formula2, v.showErrorMessage, v.error) for v in ws.data_validations.dataValidation)


def _values(ws) -> dict[str, object]:
    return {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}


def _widths(ws) -> dict[str, float]:
    return {key: dim.width for key, dim in ws.column_dimensions.items() if dim.width}


def _assert_keeps_the_states_sheets(original_path: Path, copy_path: Path) -> None:
    """Every sheet of the state's workbook is in the copy, after the Findings sheet, as the state left it
    but for the marks: values, visibility, protection, drop-downs, widths, heights, merged cells."""
    original, copy = openpyxl.load_workbook(original_path), openpyxl.load_workbook(copy_path)
    assert copy.sheetnames == [feedback.FINDINGS_SHEET, *original.sheetnames]
    for name in original.sheetnames:
        a, b = original[name], copy[name]
        assert _values(b) == _values(a), name
        assert b.sheet_state == a.sheet_state, name
        assert (b.protection.sheet, b.protection.password, b.protection.formatCells) == (a.protection.sheet, a.protection.password, a.protection.formatCells), name
        assert _validations(b) == _validations(a), name
        assert _widths(b) == _widths(a), name
        assert {r: d.height for r, d in b.row_dimensions.items() if d.height} == {r: d.height for r, d in a.row_dimensions.items() if d.height}, name
        assert {str(r) for r in b.merged_cells.ranges} == {str(r) for r in a.merged_cells.ranges}, name
        assert b.freeze_panes == a.freeze_panes, name


def _assert_marked(path: Path, findings: list[Finding]) -> None:
    """Each finding on a cell of a sheet of the workbook: its cell carries a comment by us quoting it,
    and the cell is red or amber when the worst finding on it is an error or a warning."""
    wb = openpyxl.load_workbook(path)
    worst: dict[tuple[str, str], str] = {}
    for f in findings:
        if f.sheet in wb.sheetnames and f.sheet != feedback.FINDINGS_SHEET and f.cell:
            key = (f.sheet, f.cell)
            worst[key] = min(worst.get(key, "info"), f.severity, key=feedback.SEVERITY_ORDER.get)
            comment = wb[f.sheet][f.cell].comment
            assert comment is not None and comment.author == feedback.COMMENT_AUTHOR and f"({f.code}): " in comment.text, (path.name, key)
    colours = {"error": RED, "warning": AMBER}
    for (sheet, cell), severity in worst.items():
        if severity in colours:
            assert wb[sheet][cell].fill.start_color.rgb == colours[severity], (path.name, sheet, cell)


def test_the_demonstration_samples_keep_what_the_focal_point_sees(ref, tmp_path):
    # The demonstration set of 2025 made afresh (not the shipped inputs/, which a coordinator may clear).
    samples = generate_sample_inputs(tmp_path / "inputs", ref, years=[2025])
    read = _checked(samples, ref)
    assert len(read) == 13
    paths = feedback.write_feedback_workbooks(read, tmp_path / "out", ref)
    assert any(f.cell for sub, _ in read for f in sub.findings), "the samples mark cells"
    for (sub, source), path in zip(read, paths, strict=True):
        _assert_keeps_the_states_sheets(source, path)
        _assert_marked(path, sub.findings)
        copy = openpyxl.load_workbook(path)
        assert copy.active.title == feedback.FINDINGS_SHEET
        assert [bool(ws.sheet_view.tabSelected) for ws in copy.worksheets] == [True] + [False] * (len(copy.sheetnames) - 1), "opens on the Findings sheet alone"
        assert _findings_rows(copy[feedback.FINDINGS_SHEET]) == [
            (feedback.SEVERITY_WORDS[f.severity], f.code, f.sheet or None, f.cell or None) for f in sorted(sub.findings, key=feedback._finding_order)
        ]


def test_the_findings_sheet_opens_first_and_prints_on_a_landscape_page(ref, tmp_path, geo):
    [(sub, source)] = _checked([geo], ref)
    [path] = feedback.write_feedback_workbooks([(sub, source)], tmp_path / "out", ref)
    ws = openpyxl.load_workbook(path)[feedback.FINDINGS_SHEET]
    header = next(c.row for c in ws["A"] if c.value == feedback.FINDING_HEADER[0])
    assert [c.value for c in ws[header]] == list(feedback.FINDING_HEADER) and all(c.font.b for c in ws[header])
    assert (ws["A1"].value, ws["A1"].font.b, ws["A1"].font.sz) == (feedback.TITLE, True, 14)
    assert [ws.column_dimensions[workbook_contract.column_letter(i)].width for i in range(len(feedback.FINDING_WIDTHS))] == list(feedback.FINDING_WIDTHS)
    facts = {ws.cell(row=r, column=1).value: ws.cell(row=r, column=2) for r in range(3, header - 1)}
    assert facts["Country"].value == "Georgia (GEO)" and facts["Status"].alignment.wrap_text
    assert {f"B{c.row}:G{c.row}" for c in facts.values()} <= {str(r) for r in ws.merged_cells.ranges}, "each fact spans the table"
    rows = range(header + 1, header + 4)
    assert [ws[f"A{r}"].fill.start_color.rgb for r in rows][:2] == [RED, AMBER]
    assert ws[f"A{header + 3}"].fill.fill_type is None, "an info asks for nothing: no colour"
    assert all(ws[f"F{r}"].alignment.wrap_text and ws[f"G{r}"].alignment.wrap_text and ws.row_dimensions[r].height >= 15 for r in rows)
    link = ws[f"D{header + 1}"]
    assert link.hyperlink.location == f"'Data'!{_cell_of(geo, 'TIP_OFF')}"
    assert (link.font.color.rgb, link.font.u) == (feedback.LINK_COLOUR, "single")
    assert ws.freeze_panes == f"A{header + 1}" and ws.print_title_rows == f"${header}:${header}"
    assert ws.auto_filter.ref == f"A{header}:G{header + 3}"
    assert (ws.page_setup.orientation, ws.page_setup.paperSize, ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == ("landscape", 9, 1, 0)
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True


def test_a_submission_without_findings_is_thanked(ref, tmp_path):
    path = write_submission(tmp_path / "in", ref, "GEO", 2025, {})
    [(sub, source)] = _checked([path], ref)
    sub.findings.clear()
    out = feedback.write_feedback(sub, source, tmp_path / "out.xlsx", ref)
    ws = openpyxl.load_workbook(out)[feedback.FINDINGS_SHEET]
    assert "No findings: thank you." in [c.value for c in ws["A"]] and ws.auto_filter.ref is None


@pytest.fixture
def marked_geo(ref, tmp_path):
    """The GEO submission with extra findings on awkward cells: empty, beyond the last row or column, on
    hidden sheets, with a comment by someone else or by an earlier feedback, and two on one cell; the
    workbook has a print area and a named cell of its own."""
    path = write_submission(tmp_path / "in", ref, "GEO", 2025, {("TIP_OFF", "TOTAL"): -3, ("TIP_PRO", "TOTAL"): 10, ("TIP_CON", "TOTAL"): 14})
    wb = openpyxl.load_workbook(path)
    wb[workbook_contract.META_SHEET]["A9"] = "kept"  # rows 4-8 of the hidden sheet are empty
    wb[workbook_contract.DATA_SHEET]["D3"].comment = Comment("Error (old): from an earlier feedback", feedback.COMMENT_AUTHOR)
    wb[workbook_contract.DATA_SHEET].print_area = "A1:H20"
    wb.defined_names["Total"] = DefinedName("Total", attr_text=f"'{workbook_contract.DATA_SHEET}'!$E$2")
    wb.save(path)
    [(sub, source)] = _checked([path], ref)
    extra = [
        ("error", workbook_contract.DATA_SHEET, "G2"),  # an empty cell
        ("warning", workbook_contract.DATA_SHEET, "J5"),  # right of the last cell of its row
        ("error", workbook_contract.DATA_SHEET, "E120"),  # below the last row
        ("error", workbook_contract.META_SHEET, "B6"),  # a hidden sheet, in an empty row
        ("warning", workbook_contract.META_SHEET, "A1"),  # a hidden sheet, a cell with text
        ("error", workbook_contract.COVER_SHEET, "B3"),
        ("warning", workbook_contract.DATA_SHEET, "C2"),  # the Secretariat's comment on it is kept
        ("warning", workbook_contract.DATA_SHEET, "D3"),  # an earlier feedback's comment is replaced
        ("error", workbook_contract.DATA_SHEET, "E2"),
        ("warning", workbook_contract.DATA_SHEET, "E2"),  # two findings on one cell
        ("info", workbook_contract.DATA_SHEET, "H4"),  # an info: the comment only
        ("error", "No such sheet", "A1"),  # listed, not marked
    ]
    for severity, sheet, cell in extra:
        sub.findings.append(Finding("change-unexplained", severity, "GEO", 2025, sub.file, sheet, cell, "=1+1\x07", f"Checked {sheet}!{cell}: see\x07\nthe note."))
    return sub, source, {(sheet, cell) for _, sheet, cell in extra if sheet != "No such sheet"}


def test_awkward_cells_are_marked_and_the_rest_of_the_workbook_kept(ref, tmp_path, marked_geo):
    sub, source, marked = marked_geo
    out = feedback.write_feedback(sub, source, tmp_path / "out.xlsx", ref)
    _assert_keeps_the_states_sheets(source, out)
    _assert_marked(out, [f for f in sub.findings if (f.sheet, f.cell) in marked])
    wb = openpyxl.load_workbook(out)
    data = wb[workbook_contract.DATA_SHEET]
    assert data["E2"].fill.start_color.rgb == RED and "Error (change-unexplained)" in data["E2"].comment.text and "Warning (change-unexplained)" in data["E2"].comment.text
    assert data["E2"].number_format == "#,##0" and data["E2"].protection.locked is False, "the filled input cell keeps its format and stays unlocked"
    assert data["C2"].comment.text.startswith("Warning (change-unexplained)") and "\n\n— Offences of trafficking" in data["C2"].comment.text
    assert "earlier feedback" not in data["D3"].comment.text
    assert "Checked Data!G2: see\nthe note." in data["G2"].comment.text, "a control character quoted in a message is dropped"
    assert data["H4"].fill.start_color.rgb == openpyxl.load_workbook(source)[workbook_contract.DATA_SHEET]["H4"].fill.start_color.rgb
    assert wb[workbook_contract.META_SHEET]["B6"].fill.start_color.rgb == RED and wb[workbook_contract.META_SHEET]["A9"].value == "kept"
    assert data.print_area == f"'{workbook_contract.DATA_SHEET}'!$A$1:$H$20", "a print area still names its sheet with a sheet before it"
    assert wb.defined_names["Total"].attr_text == f"'{workbook_contract.DATA_SHEET}'!$E$2"
    findings = wb[feedback.FINDINGS_SHEET]
    assert all(c.data_type == "s" for row in findings.iter_rows() for c in row if c.value and str(c.value).startswith("=1+1"))
    assert "=1+1" in [c.value for row in findings.iter_rows() for c in row], "text stays text, the control character dropped"
    links = {c.hyperlink.location for row in findings.iter_rows() for c in row if c.hyperlink}
    assert {f"'{sheet}'!{cell}" for sheet, cell in marked} <= links, "every marked cell is linked"
    assert "'No such sheet'!A1" not in links, "a cell on a sheet the workbook does not have is listed, not linked"


def test_text_formatted_within_a_cell_keeps_its_formatting(ref, tmp_path, geo):
    wb = openpyxl.load_workbook(geo)
    wb[workbook_contract.COVER_SHEET]["D1"] = CellRichText(["Sent by ", TextBlock(InlineFont(b=True), "Nino")])
    wb.save(geo)
    [(sub, source)] = _checked([geo], ref)
    out = feedback.write_feedback(sub, source, tmp_path / "out.xlsx", ref)
    cell = openpyxl.load_workbook(out, rich_text=True)[workbook_contract.COVER_SHEET]["D1"]
    assert isinstance(cell.value, CellRichText) and str(cell.value) == "Sent by Nino"
    assert [block.font.b for block in cell.value if isinstance(block, TextBlock)] == [True]


def test_an_xlsm_is_copied_without_its_macros(ref, tmp_path, geo):
    [(sub, _)] = _checked([geo], ref)
    macro = tmp_path / "GEO_2025.xlsm"
    macro.write_bytes(geo.read_bytes())
    out = feedback.write_feedback(sub, macro, tmp_path / "macro.xlsx", ref)
    wb = openpyxl.load_workbook(out)
    assert any(c.value == "Macros are not kept in this copy." for row in wb[feedback.FINDINGS_SHEET].iter_rows() for c in row)
    assert wb[workbook_contract.DATA_SHEET][_cell_of(geo, "TIP_OFF")].fill.start_color.rgb == RED
    assert not any(name.startswith("xl/vbaProject") for name in zipfile.ZipFile(out).namelist())


def test_an_xlsx_openpyxl_cannot_open_is_rebuilt_from_its_values(ref, tmp_path, geo, monkeypatch):
    [(sub, _)] = _checked([geo], ref)

    def fail(*args, **kwargs):
        raise KeyError("There is no item named 'xl/styles.xml' in the archive")

    monkeypatch.setattr(openpyxl, "load_workbook", fail)
    out = feedback.write_feedback(sub, geo, tmp_path / "out.xlsx", ref)
    monkeypatch.undo()
    wb = openpyxl.load_workbook(out)
    negative = wb[workbook_contract.DATA_SHEET][_cell_of(geo, "TIP_OFF")]
    assert negative.value == -3 and negative.fill.start_color.rgb == RED and "is negative" in negative.comment.text
    assert any("rebuilt from the values of your .xlsx file" in str(c.value) for row in wb[feedback.FINDINGS_SHEET].iter_rows() for c in row)


# -- workbooks written in other ways than our template's ---------------------------------------------------
MAIN_NS = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_THREADED_COMMENTS = "http://schemas.microsoft.com/office/2017/10/relationships/threadedComment"


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rezip(source: Path, target: Path, change) -> Path:
    """A copy of workbook `source` whose parts went through `change(parts)`."""
    parts = _parts(source)
    change(parts)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    target.write_bytes(buffer.getvalue())
    return target


def _strict(parts: dict[str, bytes]) -> None:
    for name, data in parts.items():
        parts[name] = data.replace(MAIN_NS, b"http://purl.oclc.org/ooxml/spreadsheetml/main")


def _without_core_properties(parts: dict[str, bytes]) -> None:
    del parts["docProps/core.xml"]
    parts["_rels/.rels"] = re.sub(rb'<Relationship [^>]*core-properties[^>]*/>', b"", parts["_rels/.rels"])


def _threaded_comments(parts: dict[str, bytes]) -> None:
    rel = f'<Relationship Type="{REL_THREADED_COMMENTS}" Target="/xl/threadedComments/threadedComment1.xml" Id="rIdT"/>'
    parts["xl/worksheets/_rels/sheet2.xml.rels"] = parts["xl/worksheets/_rels/sheet2.xml.rels"].replace(b"</Relationships>", rel.encode() + b"</Relationships>")


@pytest.mark.parametrize("change", [_strict, _without_core_properties, _threaded_comments])
def test_workbooks_written_other_ways_get_their_findings_on_their_cells(ref, tmp_path, geo, change):
    [(sub, _)] = _checked([geo], ref)
    source = _rezip(geo, tmp_path / "GEO_2025.xlsx", change)
    out = feedback.write_feedback(sub, source, tmp_path / "out.xlsx", ref)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == feedback.FINDINGS_SHEET and wb.active.title == feedback.FINDINGS_SHEET
    assert [r[1] for r in _findings_rows(wb[feedback.FINDINGS_SHEET])] == ["value-negative", "funnel-inverted", "value-text-number"]
    assert wb[workbook_contract.DATA_SHEET][_cell_of(geo, "TIP_OFF")].fill.start_color.rgb == RED


# -- LibreOffice ------------------------------------------------------------------------------------------------
def _libreoffice(soffice: str, paths: list[Path], out_dir: Path, to: str) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", to, "--outdir", str(out_dir), *map(str, paths)],
                       check=True, capture_output=True, timeout=180)


@pytest.mark.libreoffice
def test_libreoffice_opens_feedback_copies_with_their_marks(ref, tmp_path, marked_geo):
    """LibreOffice reads the copy (fills, notes, links, the Findings sheet first), also when the state's
    workbook was itself saved by LibreOffice."""
    soffice = require_soffice()
    sub, source, marked = marked_geo
    _libreoffice(soffice, [source], tmp_path / "by_lo", "xlsx:Calc MS Excel 2007 XML")
    by_lo = tmp_path / "by_lo" / source.name
    (tmp_path / "copies").mkdir()
    copies = [feedback.write_feedback(sub, source, tmp_path / "copies" / "a.xlsx", ref), feedback.write_feedback(sub, by_lo, tmp_path / "copies" / "b.xlsx", ref)]
    _libreoffice(soffice, copies, tmp_path / "resaved", "xlsx:Calc MS Excel 2007 XML")
    for name in ("a.xlsx", "b.xlsx"):
        wb = openpyxl.load_workbook(tmp_path / "resaved" / name)
        assert wb.sheetnames[0] == feedback.FINDINGS_SHEET and wb.active.title == feedback.FINDINGS_SHEET, name
        assert wb[feedback.FINDINGS_SHEET]["A1"].value == feedback.TITLE
        for sheet, cell in marked:
            assert wb[sheet][cell].comment is not None and "change-unexplained" in wb[sheet][cell].comment.text, (name, sheet, cell)
        assert wb[workbook_contract.DATA_SHEET]["E2"].fill.start_color.rgb == RED and wb[workbook_contract.META_SHEET]["B6"].fill.start_color.rgb == RED
        assert wb[workbook_contract.DATA_SHEET].protection.sheet and _validations(wb[workbook_contract.DATA_SHEET]), name
        links = [c.hyperlink.location for row in wb[feedback.FINDINGS_SHEET].iter_rows() for c in row if c.hyperlink]
        assert f"'{workbook_contract.DATA_SHEET}'!E2" in links
    _libreoffice(soffice, [copies[0]], tmp_path / "csv", "csv")
    assert feedback.TITLE in (tmp_path / "csv" / "a.csv").read_text(encoding="utf-8", errors="replace"), "the Findings sheet is the one LibreOffice opens on"


# -- a folder holding the feedback of files checked one by one (crimetrends validate FILE) ---------------
def _listed(folder: Path) -> list[tuple[str, str]]:
    frame = pd.read_csv(folder / feedback.FINDINGS_CSV, dtype=str, keep_default_na=False)
    return sorted(zip(frame["file"], frame["code"], strict=True))


def test_feedback_added_to_a_folder_keeps_the_other_files_and_replaces_its_own(ref, tmp_path, geo):
    out = tmp_path / "validation"
    first = _checked([geo], ref)
    feedback.add_feedback(first, out, ref)
    second_file = write_submission(tmp_path / "v2", ref, "GEO", 2025, {("TIP_OFF", "TOTAL"): -5}, name="GEO_2025_v2.xlsx")
    second = _checked([second_file], ref)
    feedback.add_feedback(second, out, ref)
    # The same state and year from another file: a name of its own, the first file's feedback kept.
    assert sorted(p.name for p in out.iterdir()) == ["GEO_2025_feedback.xlsx", "GEO_2025_feedback_on_GEO_2025_v2.xlsx", "findings.csv"]
    assert feedback.feedback_owners(out) == {"GEO_2025_feedback.xlsx": "GEO_2025.xlsx", "GEO_2025_feedback_on_GEO_2025_v2.xlsx": "GEO_2025_v2.xlsx"}
    both = _listed(out)
    assert sorted({file for file, _ in both}) == ["GEO_2025.xlsx", "GEO_2025_v2.xlsx"]
    # Checked again, the first file's rows are replaced, not doubled.
    feedback.add_feedback(_checked([geo], ref), out, ref)
    assert _listed(out) == both
    # Its Cover now says 2026: its 2025 feedback goes, the other file's stays.
    write_submission(geo.parent, ref, "GEO", 2026, {("TIP_OFF", "TOTAL"): 1}, name=geo.name)
    feedback.add_feedback(_checked([geo], ref), out, ref)
    assert sorted(p.name for p in out.iterdir()) == ["GEO_2025_feedback_on_GEO_2025_v2.xlsx", "GEO_2026_feedback.xlsx", "findings.csv"]
    assert {file for file, _ in _listed(out)} <= {"GEO_2025.xlsx", "GEO_2025_v2.xlsx"}
    assert [code for file, code in _listed(out) if file == "GEO_2025.xlsx"] == sorted(f.code for sub, _ in _checked([geo], ref) for f in sub.findings)


def _code_row(ws, code: str, breakdown: str = "TOTAL") -> int:
    return next(r[0].row for r in ws.iter_rows(min_row=2) if (r[0].value, r[1].value) == (code, breakdown))


def test_validate_file_puts_each_finding_a_focal_point_needs_on_its_cell_in_their_words(ref, tmp_path):
    """`crimetrends validate FILE` on the usual slips: each finding is a comment on its cell, naming
    the indicator by its label and what the cell holds."""
    values = {
        ("TIP_VIC", "TOTAL"): 549, ("TIP_VIC", "SEX=F"): 300, ("TIP_VIC", "SEX=M"): 239, ("TIP_VIC", "SEX=UNK"): 0,
        ("SOM_MIG", "AGE=CHILD"): "—",
    }
    path = write_submission(tmp_path / "in", ref, "GEO", 2025, values, date=None)
    wb = openpyxl.load_workbook(path)
    ws = wb[workbook_contract.DATA_SHEET]
    deleted = _code_row(ws, "TIP_SUS")
    ws.delete_rows(deleted)
    ws["E1"] = "Value (2025)"
    wb.save(path)
    dated = write_submission(tmp_path / "in", ref, "ARM", 2025, {}, date="02/10/2026")
    (tmp_path / "empty").mkdir()

    result = CliRunner().invoke(main, ["validate", str(path), str(dated), "--inputs", str(tmp_path / "empty"), "--outputs", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output  # the breakdown and the dash are errors

    geo = openpyxl.load_workbook(tmp_path / "out" / "validation" / "GEO_2025_feedback.xlsx")
    data = geo[workbook_contract.DATA_SHEET]
    expected = {
        ("Cover", "B10"): ["(cover-date-missing)", "no date submitted"],
        ("Data", f"E{_code_row(data, 'TIP_VIC')}"): ["(breakdown-sum-mismatch)", "Identified victims of trafficking in persons (TIP_VIC) holds 549", "Female 300 + Male 239 + Sex unknown 0 = 539"],
        ("Data", f"E{_code_row(data, 'SOM_MIG', 'AGE=CHILD')}"): ["(value-not-numeric)", "Smuggled migrants detected: Children (under 18) (SOM_MIG AGE=CHILD): the cell holds '—'", "'n/a'"],
        ("Data", f"A{deleted}"): ["(row-missing)", "Persons suspected or arrested for trafficking in persons (TIP_SUS)"],
        ("Data", "E1"): ["(header-renamed)", "'Value (2025)'"],
    }
    for (sheet, cell), said in expected.items():
        comment = geo[sheet][cell].comment
        assert comment is not None, (sheet, cell)
        for text in said:
            assert text in comment.text, (sheet, cell, text)
    arm = openpyxl.load_workbook(tmp_path / "out" / "validation" / "ARM_2025_feedback.xlsx")
    comment = arm[workbook_contract.COVER_SHEET]["B10"].comment
    assert "(cover-date-ambiguous)" in comment.text and "2 October 2026 (day first) or 10 February 2026 (month first)" in comment.text
