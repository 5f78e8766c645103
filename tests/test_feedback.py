"""Feedback workbooks: the state's own workbook with each finding on its cell, and a Findings sheet."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.comments import Comment

from pipeline import feedback, ingest, layout, validate, xlsxpatch
from pipeline.findings import Finding
from tests.conftest import require_soffice, write_submission

RED, AMBER = "FFFFC7CE", "FFFFEB9C"
FALLBACK = "copied with openpyxl:"  # what the log says when a workbook is not edited as a package
SAMPLES = Path(__file__).resolve().parents[1] / "inputs" / "2025"


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


def _cell_of(path: Path, code: str, column: str = layout.COL_VALUE, breakdown: str = "TOTAL") -> str:
    ws = openpyxl.load_workbook(path)[layout.DATA_SHEET]
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
    data = wb[layout.DATA_SHEET]
    assert data[negative].fill.start_color.rgb == RED
    assert data[inverted].fill.start_color.rgb == AMBER
    original_fill = openpyxl.load_workbook(geo)[layout.DATA_SHEET][text_number].fill.start_color.rgb
    assert data[text_number].fill.start_color.rgb == original_fill, "infos ask for nothing: comment only"
    assert "is negative" in data[negative].comment.text and data[negative].comment.author == feedback.COMMENT_AUTHOR
    assert "TIP_CON" in data[inverted].comment.text
    assert "read as 1154" in data[text_number].comment.text


def test_the_copy_keeps_the_states_workbook_and_links_each_finding(ref, tmp_path, geo):
    [(sub, source)] = _checked([geo], ref)
    [path] = feedback.write_feedback_workbooks([(sub, source)], tmp_path / "out", ref)
    original, copy = openpyxl.load_workbook(geo), openpyxl.load_workbook(path)
    assert copy.sheetnames[1:] == original.sheetnames
    assert copy[layout.META_SHEET].sheet_state == "hidden"
    assert copy[layout.DATA_SHEET].protection.sheet, "the Data sheet stays protected"
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
    values = {("TIP_VIC", "TOTAL"): 20, ("TIP_VIC", "SEX=F"): 5, ("TIP_VIC", "SEX=M"): 4, ("TIP_VIC", "SEX=UNK"): 0,
              ("TIP_VIC", "AGE=ADULT"): 5, ("TIP_VIC", "AGE=CHILD"): 4, ("TIP_VIC", "AGE=UNK"): 0}
    path = write_submission(tmp_path / "in", ref, "GEO", 2025, values)
    [(sub, source)] = _checked([path], ref)
    [out] = feedback.write_feedback_workbooks([(sub, source)], tmp_path / "out", ref)
    cell = openpyxl.load_workbook(out)[layout.DATA_SHEET][_cell_of(path, "TIP_VIC")]
    assert cell.fill.start_color.rgb == RED
    assert "by SEX" in cell.comment.text and "by AGE" in cell.comment.text


def test_text_from_submissions_is_written_as_text_never_as_a_formula(ref, tmp_path):
    path = write_submission(tmp_path / "in", ref, "GEO", 2025, {})
    wb = openpyxl.load_workbook(path)
    cell = wb[layout.DATA_SHEET][_cell_of(path, "TIP_OFF")]
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


def test_same_inputs_give_the_same_bytes(ref, tmp_path, geo, caplog):
    caplog.set_level(logging.DEBUG, logger="pipeline.feedback")
    read = _checked([geo], ref)
    [a] = feedback.write_feedback_workbooks(read, tmp_path / "a", ref)
    [b] = feedback.write_feedback_workbooks(read, tmp_path / "b", ref)
    assert a.read_bytes() == b.read_bytes()
    assert FALLBACK not in caplog.text, "made as a package edit"


def test_a_feedback_copy_sent_back_reads_as_the_same_submission(ref, tmp_path, geo, caplog):
    caplog.set_level(logging.DEBUG, logger="pipeline.feedback")
    [(sub, source)] = _checked([geo], ref)
    [out] = feedback.write_feedback_workbooks([(sub, source)], tmp_path / "out", ref)
    assert FALLBACK not in caplog.text, "made as a package edit"
    [(again, again_source)] = _checked([out], ref)
    assert again.country_iso3 == "GEO" and again.year == 2025
    columns = ["indicator", "breakdown", "value", "status", "flags", "cell"]
    assert again.observations[columns].equals(sub.observations[columns])
    # Feedback on the feedback copy replaces the old Findings sheet instead of adding a second one.
    [twice] = feedback.write_feedback_workbooks([(again, again_source)], tmp_path / "twice", ref)
    assert openpyxl.load_workbook(twice).sheetnames.count(feedback.FINDINGS_SHEET) == 1
    assert f"{FALLBACK} the workbook has a sheet named Findings" in caplog.text


@pytest.mark.libreoffice
@pytest.mark.parametrize("fmt", ["ods", "xls"])
def test_ods_and_xls_are_rebuilt_with_every_value_at_its_cell(ref, tmp_path, geo, fmt, caplog):
    caplog.set_level(logging.DEBUG, logger="pipeline.feedback")
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
    assert wb[layout.DATA_SHEET][negative].value == -3
    assert wb[layout.DATA_SHEET][negative].fill.start_color.rgb == RED
    assert [r[1] for r in _findings_rows(wb[feedback.FINDINGS_SHEET])] == ["value-negative", "funnel-inverted", "value-text-number"]
    assert any("rebuilt from the values" in str(c.value) for row in wb[feedback.FINDINGS_SHEET].iter_rows() for c in row)
    assert f"{FALLBACK} a .{fmt} file is not edited as a package" in caplog.text


# -- the package edit (pipeline.xlsxpatch) against the openpyxl copy ------------------------------------------


def _both(sub, source: Path, out: Path, ref, monkeypatch, caplog) -> tuple[Path, Path]:
    """The feedback workbook as a package edit, and as the openpyxl copy."""
    caplog.set_level(logging.DEBUG, logger="pipeline.feedback")
    fast = feedback.write_feedback(sub, source, out / "fast.xlsx", ref)
    assert FALLBACK not in caplog.text, "the package edit fell back"
    with monkeypatch.context() as patch:
        patch.setattr(feedback, "_edited_copy", lambda *args: None)
        slow = feedback.write_feedback(sub, source, out / "slow.xlsx", ref)
    return fast, slow


def _font(cell) -> tuple:
    font = cell.font
    colour = (font.color.rgb, font.color.theme) if font.color is not None else None
    return bool(font.b), font.sz, font.u, colour


def _look(cell) -> tuple:
    return cell.value, _font(cell), cell.fill.fill_type, cell.fill.start_color.rgb, bool(cell.alignment.wrap_text), cell.alignment.vertical


def _assert_same_feedback(fast: Path, slow: Path, marked: set[tuple[str, str]]) -> None:
    """What a focal point sees in the two workbooks is the same."""
    a, b = openpyxl.load_workbook(fast), openpyxl.load_workbook(slow)
    assert a.sheetnames == b.sheetnames and a.sheetnames[0] == feedback.FINDINGS_SHEET
    assert a.active.title == b.active.title == feedback.FINDINGS_SHEET
    assert [bool(ws.sheet_view.tabSelected) for ws in a.worksheets] == [True] + [False] * (len(a.sheetnames) - 1)
    for name in a.sheetnames:
        assert a[name].sheet_state == b[name].sheet_state, name
        assert [[c.value for c in row] for row in a[name].iter_rows()] == [[c.value for c in row] for row in b[name].iter_rows()], name
    for sheet, address in marked:
        x, y = a[sheet][address], b[sheet][address]
        assert (x.fill.fill_type, x.fill.start_color.rgb) == (y.fill.fill_type, y.fill.start_color.rgb), (sheet, address)
        assert (x.comment.text, x.comment.author) == (y.comment.text, y.comment.author), (sheet, address)
        assert (x.number_format, x.protection.locked, x.border.left.style, x.font.b) == (y.number_format, y.protection.locked, y.border.left.style, y.font.b)
    x, y = a[feedback.FINDINGS_SHEET], b[feedback.FINDINGS_SHEET]
    assert x.max_row == y.max_row and x.max_column == y.max_column
    for row_x, row_y in zip(x.iter_rows(), y.iter_rows(), strict=True):
        assert [_look(c) for c in row_x] == [_look(c) for c in row_y]
    assert [x.row_dimensions[r].height for r in range(1, x.max_row + 1)] == [y.row_dimensions[r].height for r in range(1, y.max_row + 1)]
    assert [x.column_dimensions[c].width for c in "ABCDEFG"] == [y.column_dimensions[c].width for c in "ABCDEFG"]
    assert {str(r) for r in x.merged_cells.ranges} == {str(r) for r in y.merged_cells.ranges}
    links = [{c.coordinate: c.hyperlink.location or c.hyperlink.target.removeprefix("#") for row in ws.iter_rows() for c in row if c.hyperlink} for ws in (x, y)]
    assert links[0] == links[1]
    assert (x.freeze_panes, x.print_title_rows, x.auto_filter.ref) == (y.freeze_panes, y.print_title_rows, y.auto_filter.ref)
    setups = [(ws.page_setup.orientation, ws.page_setup.paperSize, ws.page_setup.fitToWidth, ws.page_setup.fitToHeight, ws.sheet_properties.pageSetUpPr.fitToPage) for ws in (x, y)]
    assert setups[0] == setups[1] and setups[0][0] == "landscape" and setups[0][4] is True


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_the_package_edit_shows_the_shipped_samples_as_openpyxl_does(ref, tmp_path, monkeypatch, caplog):
    read = _checked(sorted(SAMPLES.glob("*.xlsx")), ref)
    assert len(read) == 13
    for sub, source in read:
        fast, slow = _both(sub, source, tmp_path / source.stem, ref, monkeypatch, caplog)
        marked = {(f.sheet, f.cell) for f in sub.findings if f.sheet and f.cell}
        _assert_same_feedback(fast, slow, marked)
        original, copy = _parts(source), _parts(fast)
        changed = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml", "docProps/core.xml"}
        if marked:
            changed |= {"xl/worksheets/sheet2.xml", "xl/comments/comment1.xml", "xl/drawings/commentsDrawing1.vml"}
        assert {name: copy[name] for name in original if name not in changed} == {name: data for name, data in original.items() if name not in changed}, source.name
        assert set(copy) - set(original) == {"xl/worksheets/sheet6.xml"}


@pytest.fixture
def marked_geo(ref, tmp_path):
    """The GEO submission with extra findings on awkward cells: empty, missing, in missing rows, on hidden
    sheets, with a comment by someone else or by an earlier feedback, and two on one cell."""
    path = write_submission(tmp_path / "in", ref, "GEO", 2025, {("TIP_OFF", "TOTAL"): -3, ("TIP_PRO", "TOTAL"): 10, ("TIP_CON", "TOTAL"): 14})
    wb = openpyxl.load_workbook(path)
    wb[layout.META_SHEET]["A9"] = "kept"  # rows 4-8 of the hidden sheet have no <row>
    wb[layout.DATA_SHEET]["D3"].comment = Comment("Error (old): from an earlier feedback", feedback.COMMENT_AUTHOR)
    wb.save(path)
    [(sub, source)] = _checked([path], ref)
    extra = [
        ("error", layout.DATA_SHEET, "G2"),  # empty cell, present in the sheet
        ("warning", layout.DATA_SHEET, "J5"),  # no <c>: right of the last cell of its row
        ("error", layout.DATA_SHEET, "E120"),  # no <row>: below the last row
        ("error", layout.META_SHEET, "B6"),  # hidden sheet, no <row>: between rows 3 and 9
        ("warning", layout.META_SHEET, "A1"),  # hidden sheet, a cell with text
        ("error", layout.COVER_SHEET, "B3"),  # a <row> without cells
        ("warning", layout.DATA_SHEET, "C2"),  # the Secretariat's comment on it is kept
        ("warning", layout.DATA_SHEET, "D3"),  # an earlier feedback's comment is replaced
        ("error", layout.DATA_SHEET, "E2"),
        ("warning", layout.DATA_SHEET, "E2"),  # two findings on one cell
        ("info", layout.DATA_SHEET, "H4"),  # an info: the comment only
        ("error", "No such sheet", "A1"),  # listed, not marked
    ]
    for severity, sheet, cell in extra:
        sub.findings.append(Finding("change-unexplained", severity, "GEO", 2025, sub.file, sheet, cell, "=1+1\x07", f"Checked {sheet}!{cell}: see\x07\nthe note."))
    return sub, source, {(sheet, cell) for _, sheet, cell in extra if sheet != "No such sheet"}


def test_the_package_edit_marks_awkward_cells_as_openpyxl_does(ref, tmp_path, marked_geo, monkeypatch, caplog):
    sub, source, marked = marked_geo
    fast, slow = _both(sub, source, tmp_path, ref, monkeypatch, caplog)
    _assert_same_feedback(fast, slow, marked)
    data = openpyxl.load_workbook(fast)[layout.DATA_SHEET]
    assert data["E2"].fill.start_color.rgb == RED and "Error (change-unexplained)" in data["E2"].comment.text and "Warning (change-unexplained)" in data["E2"].comment.text
    assert data["E2"].number_format == "#,##0" and data["E2"].protection.locked is False, "the filled input cell keeps its format and stays unlocked"
    assert data["C2"].comment.text.startswith("Warning (change-unexplained)") and "\n\n— Offences of trafficking" in data["C2"].comment.text
    assert "earlier feedback" not in data["D3"].comment.text
    assert "Checked Data!G2: see\nthe note." in data["G2"].comment.text, "a control character quoted in a message is dropped"
    assert data["H4"].fill.start_color.rgb == openpyxl.load_workbook(source)[layout.DATA_SHEET]["H4"].fill.start_color.rgb
    findings = openpyxl.load_workbook(fast)[feedback.FINDINGS_SHEET]
    assert all(c.data_type == "s" for row in findings.iter_rows() for c in row if c.value and str(c.value).startswith("=1+1"))
    assert "=1+1" in [c.value for row in findings.iter_rows() for c in row], "text stays text, the control character dropped"

    original, copy = _parts(source), _parts(fast)
    for name in ("xl/theme/theme1.xml", "xl/worksheets/sheet3.xml", "docProps/app.xml", "_rels/.rels"):
        assert copy[name] == original[name], f"{name} is not marked: kept byte for byte"
    validations = re.search(rb"<dataValidations.*</dataValidations>", original["xl/worksheets/sheet2.xml"]).group()
    assert validations in copy["xl/worksheets/sheet2.xml"], "the Data sheet's drop-downs are kept as they were"
    rows = [int(r) for r in re.findall(rb'<row r="(\d+)"', copy["xl/worksheets/sheet5.xml"])]
    assert rows == sorted(rows) and 6 in rows, "the missing row is added in order"


@pytest.mark.libreoffice
def test_libreoffice_opens_the_package_edit_of_its_own_and_of_openpyxl_workbooks(ref, tmp_path, marked_geo, monkeypatch, caplog):
    """LibreOffice reads the edited copy (fills, notes, links, the Findings sheet), also when the state's
    workbook was itself saved by LibreOffice (shared strings, its own VML, a selected tab)."""
    soffice = require_soffice()
    sub, source, marked = marked_geo

    def resave(paths: list[Path], out_dir: Path) -> None:
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out_dir), *map(str, paths)],
                           check=True, capture_output=True, timeout=180)

    resave([source], tmp_path / "by_lo")
    by_lo = tmp_path / "by_lo" / source.name
    assert b"tabSelected" in _parts(by_lo)["xl/worksheets/sheet2.xml"]
    fast, slow = _both(sub, by_lo, tmp_path / "lo_input", ref, monkeypatch, caplog)
    _assert_same_feedback(fast, slow, marked)
    from_openpyxl, _ = _both(sub, source, tmp_path / "openpyxl_input", ref, monkeypatch, caplog)
    (tmp_path / "edited").mkdir()
    copies = [from_openpyxl.rename(tmp_path / "edited" / "a.xlsx"), fast.rename(tmp_path / "edited" / "b.xlsx")]
    resave(copies, tmp_path / "resaved")
    for name in ("a.xlsx", "b.xlsx"):
        wb = openpyxl.load_workbook(tmp_path / "resaved" / name)
        assert wb.sheetnames[0] == feedback.FINDINGS_SHEET and wb.active.title == feedback.FINDINGS_SHEET, name
        assert wb[feedback.FINDINGS_SHEET]["A1"].value == feedback.TITLE
        for sheet, cell in marked:
            assert wb[sheet][cell].comment is not None and "change-unexplained" in wb[sheet][cell].comment.text, (name, sheet, cell)
        assert wb[layout.DATA_SHEET]["E2"].fill.start_color.rgb == RED and wb[layout.META_SHEET]["B6"].fill.start_color.rgb == RED
        links = [c.hyperlink.location for row in wb[feedback.FINDINGS_SHEET].iter_rows() for c in row if c.hyperlink]
        assert f"'{layout.DATA_SHEET}'!E2" in links


# -- what the package edit leaves to openpyxl ------------------------------------------------------------------
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
        parts[name] = data.replace(xlsxpatch.MAIN_NS.encode(), b"http://purl.oclc.org/ooxml/spreadsheetml/main")


def _without_core_properties(parts: dict[str, bytes]) -> None:
    del parts["docProps/core.xml"]
    parts["_rels/.rels"] = re.sub(rb'<Relationship [^>]*core-properties[^>]*/>', b"", parts["_rels/.rels"])


def _threaded_comments(parts: dict[str, bytes]) -> None:
    rel = f'<Relationship Type="{xlsxpatch.REL_THREADED_COMMENTS}" Target="/xl/threadedComments/threadedComment1.xml" Id="rIdT"/>'
    parts["xl/worksheets/_rels/sheet2.xml.rels"] = parts["xl/worksheets/_rels/sheet2.xml.rels"].replace(b"</Relationships>", rel.encode() + b"</Relationships>")


@pytest.mark.parametrize(("change", "reason"), [
    (_strict, "the workbook's root is {http://purl.oclc.org/ooxml/spreadsheetml/main}workbook"),
    (_without_core_properties, "not one document properties part"),
    (_threaded_comments, "threaded comments"),
])
def test_what_the_package_edit_does_not_handle_is_copied_with_openpyxl(ref, tmp_path, geo, change, reason, caplog):
    caplog.set_level(logging.DEBUG, logger="pipeline.feedback")
    [(sub, _)] = _checked([geo], ref)
    source = _rezip(geo, tmp_path / "GEO_2025.xlsx", change)
    out = feedback.write_feedback(sub, source, tmp_path / "out.xlsx", ref)
    assert f"{FALLBACK} {reason}" in caplog.text
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == feedback.FINDINGS_SHEET and wb.active.title == feedback.FINDINGS_SHEET
    assert [r[1] for r in _findings_rows(wb[feedback.FINDINGS_SHEET])] == ["value-negative", "funnel-inverted", "value-text-number"]
    assert wb[layout.DATA_SHEET][_cell_of(geo, "TIP_OFF")].fill.start_color.rgb == RED


def test_an_xlsm_and_any_failure_of_the_package_edit_go_to_openpyxl(ref, tmp_path, geo, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="pipeline.feedback")
    [(sub, _)] = _checked([geo], ref)
    macro = tmp_path / "GEO_2025.xlsm"
    macro.write_bytes(geo.read_bytes())
    out = feedback.write_feedback(sub, macro, tmp_path / "macro.xlsx", ref)
    assert f"{FALLBACK} a .xlsm file is not edited as a package" in caplog.text
    assert any(c.value == "Macros are not kept in this copy." for row in openpyxl.load_workbook(out)[feedback.FINDINGS_SHEET].iter_rows() for c in row)

    def fail(*args):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(xlsxpatch.Worksheet, "set_notes", fail)
    out = feedback.write_feedback(sub, geo, tmp_path / "failed.xlsx", ref)
    assert f"{FALLBACK} RuntimeError: unexpected" in caplog.text
    negative = openpyxl.load_workbook(out)[layout.DATA_SHEET][_cell_of(geo, "TIP_OFF")]
    assert negative.fill.start_color.rgb == RED and "is negative" in negative.comment.text
