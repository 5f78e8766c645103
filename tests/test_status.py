"""The submission tracker: one row per member state expected, with its status, date and days late."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline import workbook_contract
from pipeline.cli import main
from pipeline.status import STATUS_COLUMNS, build_status, moved_files, status_counts
from pipeline.validate import SUBMISSION_COLUMNS
from tests.conftest import write_submission

DEADLINE = dt.date(2026, 2, 15)


def submission(file, iso3, year, status, date="", n_errors=0, n_warnings=0, reason=""):
    return {"file": file, "country_iso3": iso3, "year": year, "status": status, "reason": reason, "date_submitted": date,
            "n_values": 3, "n_errors": n_errors, "n_warnings": n_warnings, "sha256": "0" * 64}


SUBMISSIONS = pd.DataFrame([
    submission("2025/GEO_2025.xlsx", "GEO", 2025, "accepted", "2026-02-10"),
    submission("2025/BGR_2025.xlsx", "BGR", 2025, "accepted-with-warnings", "2026-02-15", n_warnings=2, reason="accepted; see the findings"),
    submission("2025/ROU_2025.xlsx", "ROU", 2025, "accepted-with-errors", "2026-02-20", n_errors=1, reason="1 value(s) left out because of errors"),
    submission("2025/ARM_2025.xlsx", "ARM", 2025, "rejected", "2026-03-01", n_errors=1, reason="The Data sheet has no Value column"),
    submission("2025/GRC_2025_v2.xlsx", "GRC", 2025, "accepted", "2026-02-01"),
    submission("2025/GRC_2025.xlsx", "GRC", 2025, "superseded", "2026-01-10", reason="replaced by 2025/GRC_2025_v2.xlsx"),
    submission("2025/TUR_2025.xlsx", "TUR", 2025, "accepted"),
    submission("2024/ALB_2024.xlsx", "ALB", 2024, "accepted", "2025-02-01"),  # another year: ALB is missing for 2025
    submission("history/unodc_glotip.csv", "", None, "history"),
    submission("README.md", "", None, "ignored"),
    submission("scan.xlsx", "", None, "rejected", n_errors=2, reason="The Cover does not give the country (ISO3 code)."),
], columns=SUBMISSION_COLUMNS).astype({"year": "Int64"})


def row(iso3, state, status, file="", date="", late=None, n_errors=None, n_warnings=None, note=""):
    return {"country_iso3": iso3, "state": state, "status": status, "file": file, "date_submitted": date, "days_late": late,
            "n_errors": n_errors, "n_warnings": n_warnings, "note": note}


def records(frame: pd.DataFrame) -> list[dict]:
    return [{k: (None if v is pd.NA else v) for k, v in r.items()} for r in frame.to_dict("records")]


def test_one_row_per_member_state_then_the_files_no_state_could_be_given(ref):
    tracker = build_status(SUBMISSIONS, ref, 2025, DEADLINE, today=dt.date(2026, 3, 5))
    assert list(tracker.columns) == STATUS_COLUMNS
    assert records(tracker) == [
        row("ALB", "Albania", "missing", late=18),
        row("ARM", "Armenia", "rejected", "2025/ARM_2025.xlsx", "2026-03-01", 14, 1, 0, "The Data sheet has no Value column"),
        row("AZE", "Azerbaijan", "missing", late=18),
        row("BGR", "Bulgaria", "with-warnings", "2025/BGR_2025.xlsx", "2026-02-15", 0, 0, 2),
        row("GEO", "Georgia", "valid", "2025/GEO_2025.xlsx", "2026-02-10", 0, 0, 0),
        row("GRC", "Greece", "valid", "2025/GRC_2025_v2.xlsx", "2026-02-01", 0, 0, 0, "also received: 2025/GRC_2025.xlsx (superseded)"),
        row("MDA", "Republic of Moldova", "missing", late=18),
        row("MKD", "North Macedonia", "missing", late=18),
        row("ROU", "Romania", "with-errors", "2025/ROU_2025.xlsx", "2026-02-20", 5, 1, 0, "1 value(s) left out because of errors"),
        row("RUS", "Russian Federation", "missing", late=18),
        row("SRB", "Serbia", "missing", late=18),
        row("TUR", "Türkiye", "valid", "2025/TUR_2025.xlsx", "", None, 0, 0, "no date submitted on the Cover"),
        row("UKR", "Ukraine", "missing", late=18),
        row("", "", "rejected", "scan.xlsx", "", None, 2, 0, "member state not identified; The Cover does not give the country (ISO3 code); no date submitted on the Cover"),
    ]
    assert status_counts(tracker) == {"valid": 3, "with-warnings": 1, "with-errors": 1, "rejected": 2, "missing": 7}


def test_before_the_deadline_a_missing_state_is_not_late(ref):
    tracker = build_status(SUBMISSIONS, ref, 2025, DEADLINE, today=DEADLINE).set_index("country_iso3")
    assert tracker.loc["ALB", "status"] == "missing" and tracker.loc["ALB", "days_late"] is pd.NA


def test_the_members_are_those_of_the_year(ref):
    tracker = build_status(SUBMISSIONS.iloc[0:0], ref, 2003, dt.date(2004, 2, 15), today=dt.date(2004, 2, 16))
    assert "SRB" not in set(tracker["country_iso3"]) and "MKD" not in set(tracker["country_iso3"])  # members from 2004 and 2020
    assert set(tracker["status"]) == {"missing"} and set(tracker["days_late"]) == {1}


MOVED = pd.DataFrame([
    submission("2026/MKD_2026.xlsx", "MKD", 2025, "accepted-with-warnings", "2026-02-01", n_warnings=1),  # a 2025 workbook filed for 2026
    submission("2026/GEO_2026.xlsx", "TUR", 2026, "accepted-with-warnings", "2026-02-03", n_warnings=1),  # Türkiye's Cover in Georgia's file
    submission("2026/ALB_2026.xlsx", "ALB", 2026, "accepted", "2026-02-02"),
    submission("2025/ARM_2025.xlsx", "ARM", 2025, "accepted", "2025-02-02"),  # another year, as its name and folder say
], columns=SUBMISSION_COLUMNS).astype({"year": "Int64"})


def test_files_named_or_filed_for_the_year_that_went_elsewhere_are_listed(ref):
    moved = moved_files(MOVED, ref, 2026)
    assert moved[["file", "named_iso3", "country_iso3", "year"]].values.tolist() == [
        ["2026/MKD_2026.xlsx", "MKD", "MKD", 2025],
        ["2026/GEO_2026.xlsx", "GEO", "TUR", 2026],
    ]
    assert moved["note"].tolist() == [
        "2026/MKD_2026.xlsx went to 2025, as its Cover says (accepted-with-warnings)",
        "2026/GEO_2026.xlsx went to TUR, as its Cover says (accepted-with-warnings)",
    ]
    assert moved_files(MOVED, ref, 2025).empty  # a 2025 file in its own year's tracker is simply there


def test_the_state_a_file_was_named_for_says_where_it_went(ref):
    tracker = build_status(MOVED, ref, 2026, dt.date(2027, 2, 15), today=dt.date(2027, 2, 1)).set_index("country_iso3")
    assert tracker.loc["MKD", "status"] == "missing"
    assert tracker.loc["MKD", "note"] == "2026/MKD_2026.xlsx went to 2025, as its Cover says (accepted-with-warnings)"
    assert tracker.loc["GEO", "status"] == "missing" and "2026/GEO_2026.xlsx went to TUR" in tracker.loc["GEO", "note"]
    assert tracker.loc["TUR", "status"] == "with-warnings" and tracker.loc["TUR", "file"] == "2026/GEO_2026.xlsx"
    assert build_status(MOVED, ref, 2025, DEADLINE, today=DEADLINE).set_index("country_iso3").loc["MKD", "file"] == "2026/MKD_2026.xlsx"


@pytest.mark.slow
def test_status_command_says_where_a_file_filed_for_the_year_went(ref, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_submission(tmp_path / "inputs" / "2026", ref, "MKD", 2025, {("TIP_VIC", "TOTAL"): 12}, name="MKD_2026.xlsx")
    write_submission(tmp_path / "inputs" / "2026", ref, "GEO", 2026, {("TIP_VIC", "TOTAL"): 3})
    result = CliRunner().invoke(main, ["status", "--year", "2026", "--inputs", "inputs", "--outputs", "outputs"])
    assert result.exit_code == 0, result.output
    assert "Named or filed for 2026 but counted as their Cover says: 2026/MKD_2026.xlsx → MKD 2025" in result.stderr
    written = pd.read_csv(tmp_path / "outputs" / "2026" / "status.csv", dtype=str, keep_default_na=False).set_index("country_iso3")
    assert written.loc["MKD", "status"] == "missing" and "2026/MKD_2026.xlsx went to 2025" in written.loc["MKD", "note"]
    result = CliRunner().invoke(main, ["status", "--year", "2025", "--inputs", "inputs", "--outputs", "outputs"])
    written = pd.read_csv(tmp_path / "outputs" / "2025" / "status.csv", dtype=str, keep_default_na=False).set_index("country_iso3")
    assert written.loc["MKD", "file"] == "2026/MKD_2026.xlsx" and written.loc["MKD", "status"] == "with-warnings"


@pytest.mark.slow
def test_status_command_prints_the_tracker_and_writes_status_csv(ref, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no crimetrends.toml of the repository's
    inputs = tmp_path / "inputs" / "2025"
    write_submission(inputs, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 12}, date=dt.date(2026, 2, 1))
    write_submission(inputs, ref, "BGR", 2025, {("TIP_VIC", "TOTAL"): 40}, date=dt.date(2026, 2, 10), contact=None)  # a warning
    write_submission(inputs, ref, "MDA", 2025, {("TIP_VIC", "TOTAL"): 7}, date=dt.date(2026, 3, 1))  # late
    rejected = write_submission(inputs, ref, "ROU", 2025, {("TIP_VIC", "TOTAL"): 700}, date=dt.date(2026, 2, 12))
    wb = openpyxl.load_workbook(rejected)
    wb[workbook_contract.DATA_SHEET]["E1"] = "Amount"  # no Value column: a structural error
    wb.save(rejected)
    outputs = tmp_path / "outputs"
    (outputs / "2025" / "data").mkdir(parents=True)
    (outputs / "2025" / "data" / "regional.csv").write_text("kept\n", encoding="utf-8")
    (tmp_path / "deadline.toml").write_text("[collection]\ndeadline = 2026-02-15\n", encoding="utf-8")

    result = CliRunner().invoke(main, ["--settings", "deadline.toml", "status", "--year", "2025", "--inputs", "inputs", "--outputs", "outputs"])
    assert result.exit_code == 0, result.output
    assert "Submissions for 2025 — deadline 15 February 2026" in result.stdout and "with-warnings" in result.stdout
    assert "13 member state(s) expected for 2025: 2 valid, 1 with-warnings, 1 rejected, 9 missing" in result.stderr

    written = pd.read_csv(outputs / "2025" / "status.csv", dtype=str, keep_default_na=False).set_index("country_iso3")
    today = dt.date.today()
    missing_late = str((today - DEADLINE).days) if today > DEADLINE else ""
    assert list(written.loc["GEO"]) == ["Georgia", "valid", "2025/GEO_2025.xlsx", "2026-02-01", "0", "0", "0", ""]
    assert list(written.loc["BGR"]) == ["Bulgaria", "with-warnings", "2025/BGR_2025.xlsx", "2026-02-10", "0", "0", "1", ""]
    assert list(written.loc["MDA"]) == ["Republic of Moldova", "valid", "2025/MDA_2025.xlsx", "2026-03-01", "14", "0", "0", ""]
    assert list(written.loc["ROU"][:7]) == ["Romania", "rejected", "2025/ROU_2025.xlsx", "2026-02-12", "0", "1", "0"]
    assert "Value" in written.loc["ROU", "note"]
    assert list(written.loc["ALB"]) == ["Albania", "missing", "", "", missing_late, "", "", ""]
    assert len(written) == 13
    assert (outputs / "2025" / "data" / "regional.csv").read_text(encoding="utf-8") == "kept\n", "the rest of the year folder is left alone"
    log = (outputs / "2025" / "run.log").read_text(encoding="utf-8")
    assert "crimetrends status --settings deadline.toml --year 2025 --inputs inputs --outputs outputs" in log.splitlines()[0]
