"""Feedback workbooks: the state's own workbook with each finding on its cell, and a Findings sheet."""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
from pathlib import Path

import openpyxl
import pytest

from pipeline import feedback, ingest, layout, validate
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
    assert openpyxl.load_workbook(twice).sheetnames.count(feedback.FINDINGS_SHEET) == 1


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
    assert wb[layout.DATA_SHEET][negative].value == -3
    assert wb[layout.DATA_SHEET][negative].fill.start_color.rgb == RED
    assert [r[1] for r in _findings_rows(wb[feedback.FINDINGS_SHEET])] == ["value-negative", "funnel-inverted", "value-text-number"]
    assert any("rebuilt from the values" in str(c.value) for row in wb[feedback.FINDINGS_SHEET].iter_rows() for c in row)
