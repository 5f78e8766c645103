"""Validation: one spec per finding code — a tiny workbook in, (code, sheet, cell) out."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from pipeline import ingest, layout, validate
from pipeline.validate import parse_flags, parse_value
from tests.conftest import write_submission


def _validate(path, ref):
    return validate.validate_submission(ingest.read_submission(path, path.parent, ref), ref)


def _flat(sub, severity=None):
    return [(f.code, f.sheet, f.cell) for f in sub.findings if severity is None or f.severity == severity]


def _row_of(path, code, breakdown="TOTAL"):
    ws = openpyxl.load_workbook(path)[layout.DATA_SHEET]
    return next(r[0].row for r in ws.iter_rows(min_row=2) if (r[0].value, r[1].value) == (code, breakdown))


# -- the value conventions -------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [None, "", "  ", ":", "..", "-", "--", "n/a", "N/A", "NA", "not known", " Not Known "])
def test_not_available_is_never_zero(raw):
    assert parse_value(raw, is_count=True) == validate.ParsedValue(None, "not_available")


@pytest.mark.parametrize(
    ("raw", "is_count", "number", "code"),
    [
        (0, True, 0.0, ""),
        (12, True, 12.0, ""),
        (12.5, False, 12.5, ""),
        ("1,154", True, 1154.0, "value-text-number"),
        ("1 154", True, 1154.0, "value-text-number"),
        ("1\u00a0154", True, 1154.0, "value-text-number"),
        ("1\u2009154", True, 1154.0, "value-text-number"),
        ("1154.0", True, 1154.0, "value-text-number"),
        ("1.154", False, 1.154, "value-text-number"),
        ("1.154", True, None, "value-ambiguous"),
        ("1,154", False, None, "value-ambiguous"),
        (-1, True, None, "value-negative"),
        (2.5, True, None, "value-not-whole"),
        ("about 40", True, None, "value-not-numeric"),
        (dt.datetime(2025, 1, 1), True, None, "value-not-numeric"),
        ("#DIV/0!", True, None, "value-error-cell"),
        ("<5", True, None, "value-confidential"),
    ],
)
def test_value_parser(raw, is_count, number, code):
    parsed = parse_value(raw, is_count)
    assert (parsed.number, parsed.finding_code) == (number, code)


@pytest.mark.parametrize(
    ("raw", "codes", "ok"),
    [(None, "", True), ("p", "p", True), ("bp", "bp", True), ("provisional", "p", True), ("Estimated", "e", True),
     ("b, p", "bp", True), ("C", "C", True), ("zz", "zz", False), ("P", "P", False)],
)
def test_flag_parser(ref, raw, codes, ok):
    assert parse_flags(raw, ref) == (codes, ok)


# -- findings on cells -----------------------------------------------------------------------------
def test_clean_submission_is_accepted_with_typed_observations(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): (12, "p", "x"), ("TIP_OFF", "TOTAL"): 0, ("TER_OFF", "TOTAL"): (None, "m", "")})
    sub = _validate(path, ref)
    assert (sub.status, sub.country_iso3, sub.year, sub.date_submitted) == ("accepted", "GEO", 2025, dt.date(2026, 2, 1))
    obs = sub.observations.set_index(["indicator", "breakdown"])
    assert obs.loc[("TIP_VIC", "TOTAL"), ["value", "status", "flags"]].tolist() == [12.0, "reported", "p"]
    assert obs.loc[("TIP_OFF", "TOTAL"), ["value", "status"]].tolist() == [0.0, "reported"]
    assert obs.loc[("TER_OFF", "TOTAL"), "status"] == "not_applicable"
    assert obs.loc[("CYB_OFF", "TOTAL"), "status"] == "not_available"
    assert len(sub.observations) == sum(len(ref.breakdowns_of(i)) for i in ref.indicators)


def test_value_errors_name_the_cell_and_drop_only_that_value(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): -4, ("TIP_OFF", "TOTAL"): 2.5, ("TIP_SUS", "TOTAL"): "many", ("TIP_PRO", "TOTAL"): (3, "zz", None), ("TIP_CON", "TOTAL"): 2})
    sub = _validate(path, ref)
    rows = {code: _row_of(path, code) for code in ("TIP_VIC", "TIP_OFF", "TIP_SUS", "TIP_PRO")}
    assert _flat(sub) == [
        ("value-not-whole", "Data", f"E{rows['TIP_OFF']}"),
        ("value-not-numeric", "Data", f"E{rows['TIP_SUS']}"),
        ("flag-unknown", "Data", f"F{rows['TIP_PRO']}"),
        ("value-negative", "Data", f"E{rows['TIP_VIC']}"),
    ]
    assert sub.status == "accepted-with-warnings" and "4 value(s) left out" in sub.reason
    obs = sub.observations.set_index(["indicator", "breakdown"])
    assert obs.loc[("TIP_VIC", "TOTAL"), "status"] == "rejected" and obs.loc[("TIP_CON", "TOTAL"), "value"] == 2


def test_text_number_is_read_with_info(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): "1 154"})
    sub = _validate(path, ref)
    assert _flat(sub) == [("value-text-number", "Data", f"E{_row_of(path, 'TIP_VIC')}")]
    assert sub.status == "accepted"


def test_error_cell_is_an_error_naming_the_cell(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_OFF", "TOTAL"): "=1/0"})
    assert _flat(_validate(path, ref)) == [("value-error-cell", "Data", f"E{_row_of(path, 'TIP_OFF')}")]


def _edit(path, edit):
    wb = openpyxl.load_workbook(path)
    edit(wb)
    wb.save(path)
    return path


def test_unknown_code_unknown_breakdown_and_duplicate_rows(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 5})

    def edit(wb):
        ws = wb[layout.DATA_SHEET]
        ws["A2"], ws["E2"] = "TIP_XXX", 3  # unknown code
        ws["B4"] = "SEX=Q"  # row 4 is TIP_SUS SEX=F: TIP_SUS takes SEX, but not Q
        ws["A8"], ws["B8"] = "TIP_SUS", "TOTAL"  # row 8 (TIP_PRO SEX=F) becomes a second TIP_SUS TOTAL

    sub = _validate(_edit(path, edit), ref)
    assert _flat(sub) == [("code-unknown", "Data", "A2"), ("row-duplicate", "Data", "A3"), ("breakdown-unknown", "Data", "A4"), ("row-duplicate", "Data", "A8")]
    assert sub.status == "accepted-with-warnings"


@pytest.mark.parametrize(
    ("cell", "value", "code"),
    [("B4", "XYZ", "cover-country-unknown"), ("B4", None, "cover-country-missing"), ("B6", "last year", "cover-year-missing"), ("B6", 1890, "cover-year-invalid")],
)
def test_cover_errors_reject_the_submission(ref, tmp_path, cell, value, code):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 5})
    sub = _validate(_edit(path, lambda wb: wb[layout.COVER_SHEET].__setitem__(cell, value)), ref)
    assert (code, "Cover", cell) in _flat(sub, "error")
    assert sub.status == "rejected" and sub.observations.empty and sub.reason


def test_state_not_yet_a_member_is_rejected(ref, tmp_path):
    path = write_submission(tmp_path, ref, "MKD", 2020, {})
    sub = _validate(_edit(path, lambda wb: wb[layout.COVER_SHEET].__setitem__("B6", 2019)), ref)
    assert _flat(sub, "error") == [("cover-country-unknown", "Cover", "B4")]


def test_bad_date_and_missing_template_version_are_warnings(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {}, date="soon")

    def edit(wb):
        del wb[layout.META_SHEET]

    sub = _validate(_edit(path, edit), ref)
    assert _flat(sub) == [("cover-date-invalid", "Cover", "B10"), ("template-version-missing", "_meta", "")]
    assert sub.status == "accepted-with-warnings"


def test_structural_error_rejects(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {})
    sub = _validate(_edit(path, lambda wb: wb[layout.DATA_SHEET].__setitem__("E1", "Amount")), ref)
    assert _flat(sub) == [("header-missing", "Data", "A1")] and sub.status == "rejected"


# -- resubmissions ---------------------------------------------------------------------------------
def _subs(folder, ref):
    subs = [validate.validate_submission(ingest.read_submission(p, folder, ref), ref) for p in ingest.discover_files(folder)]
    validate.resolve_resubmissions(subs, ref)
    return {s.file: s for s in subs}


def test_latest_date_submitted_wins(ref, tmp_path):
    write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 5}, date=dt.date(2026, 2, 1))
    write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 6}, date=dt.date(2026, 2, 20), name="GEO_2025_v2.xlsx")
    subs = _subs(tmp_path, ref)
    assert subs["GEO_2025.xlsx"].status == "superseded" and "GEO_2025_v2.xlsx" in subs["GEO_2025.xlsx"].reason
    assert [f.code for f in subs["GEO_2025.xlsx"].findings] == ["submission-superseded"]
    assert subs["GEO_2025_v2.xlsx"].status == "accepted"
    obs = validate.observations_frame(list(subs.values()))
    assert obs.query("indicator == 'TIP_VIC' and breakdown == 'TOTAL'")["value"].tolist() == [6.0]


def test_equal_dates_are_an_error_naming_both_files(ref, tmp_path):
    write_submission(tmp_path, ref, "GEO", 2025, {}, date=dt.date(2026, 2, 1))
    write_submission(tmp_path, ref, "GEO", 2025, {}, date=dt.date(2026, 2, 1), name="GEO_2025_again.xlsx")
    subs = _subs(tmp_path, ref)
    for sub in subs.values():
        assert sub.status == "rejected"
        [finding] = [f for f in sub.findings if f.code == "submission-date-conflict"]
        assert "GEO_2025.xlsx" in finding.message and "GEO_2025_again.xlsx" in finding.message


def test_every_file_is_accounted_for(ref, tmp_path):
    write_submission(tmp_path, ref, "GEO", 2025, {})
    (tmp_path / "notes.txt").write_text("call Tbilisi")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04garbage")
    table = validate.submissions_frame(list(_subs(tmp_path, ref).values()))
    assert dict(zip(table["file"], table["status"], strict=True)) == {"GEO_2025.xlsx": "accepted", "broken.xlsx": "rejected", "notes.txt": "ignored"}


def test_strict_rejects_a_submission_with_any_error(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): -4, ("TIP_OFF", "TOTAL"): 3})
    raw = ingest.read_submission(path, tmp_path, ref)
    assert validate.validate_submission(raw, ref).status == "accepted-with-warnings"
    strict = validate.validate_submission(raw, ref, strict=True)
    assert strict.status == "rejected" and "negative" in strict.reason and strict.observations.empty
