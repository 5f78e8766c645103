"""End to end through the CLI: templates -> filled workbooks -> run -> CSVs and the report; then the
coordinator's desk: report re-rendering, doctor, --help, exit codes and run.log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import click
import docx
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline import atomic, output_files, workbook_contract
from pipeline.cli import _finding_lines, main
from pipeline.findings import make_finding
from pipeline.samples import fill_workbook, generate_sample_inputs
from pipeline.template import build_workbook
from tests.conftest import fail_the_staging_swap, require_soffice, write_submission

pytestmark = pytest.mark.slow
TEST_DATA = Path(__file__).parent / "data"

# What three focal points send back: 2024 and 2025, one value error, one not available, one confidential.
FILLED = {
    ("GEO", 2024): {("TIP_VIC", "TOTAL"): 12, ("TIP_OFF", "TOTAL"): 9, ("DRG_SZ_HER", "TOTAL"): 1.5},
    ("ROU", 2024): {("TIP_VIC", "TOTAL"): 640, ("TIP_OFF", "TOTAL"): 900, ("DRG_SZ_HER", "TOTAL"): 20.25},
    ("GEO", 2025): {("TIP_VIC", "TOTAL"): (15, "p", "Police & NGOs <draft>"), ("TIP_OFF", "TOTAL"): ":", ("DRG_SZ_HER", "TOTAL"): 2.5},
    ("ROU", 2025): {("TIP_VIC", "TOTAL"): 700, ("TIP_OFF", "TOTAL"): -3, ("DRG_SZ_HER", "TOTAL"): 30.0},
    ("BGR", 2025): {("TIP_VIC", "TOTAL"): 450, ("TIP_OFF", "TOTAL"): 170, ("DRG_SZ_HER", "TOTAL"): "<5"},
}


@pytest.fixture(scope="module", autouse=True)
def _outside_the_repository(tmp_path_factory):
    """The commands read crimetrends.toml from the current folder: the tests run where there is none,
    so a coordinator's settings in the repository root never change what they check."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("cwd"))
        yield


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, ref):
    root = tmp_path_factory.mktemp("e2e")
    runner = CliRunner()
    for year in (2024, 2025):
        result = runner.invoke(main, ["template", "--year", str(year), "--out", str(root / "templates" / str(year)), "--outputs", str(root / "no-outputs")])
        assert result.exit_code == 0, result.output
    inputs = root / "inputs"
    for (iso3, year), values in FILLED.items():
        wb = openpyxl.load_workbook(root / "templates" / str(year) / f"{iso3}_{year}.xlsx")
        fill_workbook(wb, values, cover={"agency": "Ministry of Internal Affairs", "date": dt.date(year + 1, 2, 1)}, demonstration=False)
        (inputs / str(year)).mkdir(parents=True, exist_ok=True)
        wb.save(inputs / str(year) / f"{iso3}_{year}.xlsx")
    (inputs / "covering letter.txt").write_text("Dear colleagues", encoding="utf-8")
    before = {p: p.read_bytes() for p in inputs.rglob("*") if p.is_file()}
    result = runner.invoke(main, ["run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(root / "outputs"), "--no-pdf"])
    assert result.exit_code == 1, result.output  # ROU's negative value is an error: written all the same, exit code 1
    assert {p: p.read_bytes() for p in inputs.rglob("*") if p.is_file()} == before, "inputs were modified"
    return root / "outputs" / "2025"


def _csv(run_dir, name):
    return pd.read_csv(run_dir / "data" / f"{name}.csv", keep_default_na=False, na_values=[""], dtype={"flags": str})


def test_template_writes_one_workbook_per_member_state(run_dir):
    names = sorted(p.name for p in (run_dir.parent.parent / "templates" / "2025").iterdir())
    assert names == sorted(f"{c}_2025.xlsx" for c in "ALB ARM AZE BGR GEO GRC MDA MKD ROU RUS SRB TUR UKR".split())


def _previous_year_values(path):
    ws = openpyxl.load_workbook(path)[workbook_contract.DATA_SHEET]
    column = [c.value for c in ws[1]].index(workbook_contract.COL_PREVIOUS)
    return {(r[0], r[1]): r[column] for r in ws.iter_rows(min_row=2, values_only=True)}


def test_next_years_templates_are_pre_filled_from_a_real_run(run_dir, tmp_path):
    assert json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["is_demonstration"] is False
    result = CliRunner().invoke(main, ["template", "--year", "2026", "--country", "GEO", "--outputs", str(run_dir.parent), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "left blank" not in result.stderr
    cells = _previous_year_values(tmp_path / "GEO_2026.xlsx")
    assert (cells[("TIP_VIC", "TOTAL")], cells[("TIP_OFF", "TOTAL")], cells[("DRG_SZ_HER", "TOTAL")]) == (15, ":", 2.5)


def test_no_demonstration_figure_reaches_next_years_templates(ref, tmp_path):
    inputs, outputs = tmp_path / "inputs", tmp_path / "outputs"
    generate_sample_inputs(inputs, ref, years=[2025], states=["GEO", "ARM", "TUR"])
    runner = CliRunner()
    result = runner.invoke(main, ["run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(outputs), "--no-pdf"])
    assert result.exit_code in (0, 1), result.output
    assert json.loads((outputs / "2025" / "manifest.json").read_text(encoding="utf-8"))["is_demonstration"] is True
    assert (outputs / "2025" / "data" / "observations.csv").is_file()
    result = runner.invoke(main, ["template", "--year", "2026", "--outputs", str(outputs)])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if "left blank" in line]
    assert len(notes) == 1 and "demonstration run" in notes[0], result.stderr
    written = sorted((outputs / "templates" / "2026").glob("*.xlsx"))
    assert [p.name for p in written] == sorted(f"{c}_2026.xlsx" for c in ref.members_in(2026))
    for path in written:
        assert all(v is None for v in _previous_year_values(path).values()), path.name


def test_demonstration_workbooks_beside_real_ones_stop_run_and_validate(ref, tmp_path):
    inputs, outputs = tmp_path / "inputs", tmp_path / "outputs"
    generate_sample_inputs(inputs, ref, years=[2024], states=["GEO", "ARM"])
    write_submission(inputs / "2025", ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 15})
    runner = CliRunner()
    for command in (["run", "--year", "2025", "--no-pdf"], ["validate", "--year", "2025"]):
        result = runner.invoke(main, [*command, "--inputs", str(inputs), "--outputs", str(outputs)])
        assert result.exit_code == 2, result.output
        assert "2 demonstration workbook(s) (2024/ARM_2024.xlsx, 2024/GEO_2024.xlsx;" in result.output and "Starting a real collection" in result.output
        assert "Traceback" not in result.output
    assert not (outputs / "2025" / "data").exists() and not (outputs / "2025" / "feedback").exists()


def test_regional_csv_matches_sums_and_rates_computed_here(run_dir, ref):
    regional = _csv(run_dir, "regional").set_index(["indicator", "breakdown", "year"])
    row = regional.loc[("TIP_VIC", "TOTAL", 2025)]
    population = sum(ref.population_for(c, 2025).population for c in ("BGR", "GEO", "ROU"))
    assert (row["total"], row["n_reporting"], row["n_expected"], row["reporting"]) == (15 + 700 + 450, 3, 13, "BGR;GEO;ROU")
    assert row["rate_per_100k"] == pytest.approx((15 + 700 + 450) / population * 100_000, rel=1e-6)
    assert row["flags"] == "p" and row["rate_flags"] == "e"  # GEO provisional; population of 2024 stands in
    assert row["change_pct"] == pytest.approx((1165 - 652) / 652 * 100, rel=1e-6)
    assert row["n_same_reporters"] == 2 and row["change_pct_same_reporters"] == pytest.approx((715 - 652) / 652 * 100, rel=1e-6)
    # TIP_OFF 2025: GEO not available, ROU negative (left out), BGR 170.
    off = regional.loc[("TIP_OFF", "TOTAL", 2025)]
    assert (off["total"], off["n_reporting"], off["reporting"]) == (170, 1, "BGR")
    heroin = regional.loc[("DRG_SZ_HER", "TOTAL", 2025)]
    assert heroin["total"] == pytest.approx(32.5) and pd.isna(heroin["rate_per_100k"])


def test_observations_keep_file_sheet_cell_and_status(run_dir):
    obs = _csv(run_dir, "observations").set_index(["country_iso3", "year", "indicator", "breakdown"])
    geo = obs.loc[("GEO", 2025, "TIP_VIC", "TOTAL")]
    assert (geo["value"], geo["flags"], geo["comment"], geo["source_file"], geo["sheet"]) == (15, "p", "Police & NGOs <draft>", "2025/GEO_2025.xlsx", "Data")
    assert geo["cell"].startswith("E")
    assert obs.loc[("GEO", 2025, "TIP_OFF", "TOTAL"), "status"] == "not_available"
    assert obs.loc[("ROU", 2025, "TIP_OFF", "TOTAL"), "status"] == "rejected"
    assert obs.loc[("BGR", 2025, "DRG_SZ_HER", "TOTAL"), "status"] == "confidential"


def test_every_input_file_is_in_submissions_and_findings_name_the_cell(run_dir):
    submissions = _csv(run_dir, "submissions").set_index("file")
    assert len(submissions) == len(FILLED) + 1
    assert submissions.loc["covering letter.txt", "status"] == "ignored"
    assert submissions.loc["2025/ROU_2025.xlsx", "status"] == "accepted-with-errors"  # its negative value is left out
    findings = _csv(run_dir, "findings")
    negative = findings[findings["code"] == "value-negative"].iloc[0]
    assert (negative["country_iso3"], negative["file"], negative["sheet"], negative["severity"]) == ("ROU", "2025/ROU_2025.xlsx", "Data", "error")
    ws = openpyxl.load_workbook(run_dir.parent.parent / "inputs" / "2025" / "ROU_2025.xlsx")[workbook_contract.DATA_SHEET]
    assert ws[negative["cell"]].value == -3


def test_report_opens_and_holds_the_headline_figures(run_dir):
    [report] = list(run_dir.glob("BSEC_Annual_Assessment_2025.docx"))
    document = docx.Document(str(report))
    text = "\n".join(p.text for p in document.paragraphs)
    cells = "\n".join(c.text for t in document.tables for r in t.rows for c in r.cells)
    everything = text + "\n" + cells
    assert "Annual Assessment of the Trends of Transnational Crime in the BSEC Region — 2025" in everything
    assert any(s in everything for s in ("1,165", "1 165", "1165"))  # regional TIP_VIC total
    assert "3 of 13" in everything
    assert "Police & NGOs <draft>" in everything or "value-negative" in everything
    assert "Demonstration data" not in everything
    assert "None" not in everything and "nan" not in everything.lower().split()
    section = document.sections[0]
    assert round(section.page_width.mm) == 210 and round(section.page_height.mm) == 297


def test_python_m_pipeline_and_help():
    result = subprocess.run([sys.executable, "-m", "pipeline", "--help"], capture_output=True, text=True, check=True)
    assert "template" in result.stdout and "run" in result.stdout


def test_missing_inputs_folder_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["run", "--year", "2025", "--inputs", str(tmp_path / "nowhere"), "--outputs", str(tmp_path)])
    assert result.exit_code == 2 and "is not a folder" in result.output


def test_strict_run_rejects_submissions_with_errors(run_dir, tmp_path):
    inputs = run_dir.parent.parent / "inputs"
    result = CliRunner().invoke(main, ["run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(tmp_path), "--strict", "--no-pdf"])
    assert result.exit_code == 1, result.output  # a rejected submission still has its error
    submissions = _csv(tmp_path / "2025", "submissions").set_index("file")
    assert submissions.loc["2025/ROU_2025.xlsx", "status"] == "rejected"
    assert submissions.loc["2025/GEO_2025.xlsx", "status"] == "accepted-with-warnings"  # a warning (TIP_OFF dropped to ":") never rejects


def test_run_writes_a_feedback_workbook_per_submission_of_the_year(run_dir):
    feedback_dir = run_dir / "feedback"
    assert sorted(p.name for p in feedback_dir.glob("*.xlsx")) == ["BGR_2025_feedback.xlsx", "GEO_2025_feedback.xlsx", "ROU_2025_feedback.xlsx"]
    listed = pd.read_csv(feedback_dir / "findings.csv", keep_default_na=False)
    assert set(listed["file"]) <= {"2025/BGR_2025.xlsx", "2025/GEO_2025.xlsx", "2025/ROU_2025.xlsx"}
    negative = listed[listed["code"] == "value-negative"].iloc[0]
    ws = openpyxl.load_workbook(feedback_dir / "ROU_2025_feedback.xlsx")[workbook_contract.DATA_SHEET]
    assert ws[negative["cell"]].fill.start_color.rgb == "FFFFC7CE"


def test_validate_a_file_before_sending_it(run_dir, tmp_path):
    inputs = run_dir.parent.parent / "inputs"
    runner = CliRunner()
    bad = runner.invoke(main, ["validate", str(inputs / "2025" / "ROU_2025.xlsx"), "--inputs", str(inputs), "--outputs", str(tmp_path)])
    assert bad.exit_code == 1, bad.output
    assert "value-negative" in bad.output and "ROU_2025.xlsx" in bad.output
    assert sorted(p.name for p in (tmp_path / "validation").iterdir()) == ["ROU_2025_feedback.xlsx", "findings.csv"]
    good = runner.invoke(main, ["validate", str(inputs / "2025" / "BGR_2025.xlsx"), "--outputs", str(tmp_path)])
    assert good.exit_code == 0, good.output


def _validation_findings(outputs: Path) -> pd.DataFrame:
    return pd.read_csv(outputs / "validation" / "findings.csv", dtype=str, keep_default_na=False)


def test_validating_one_file_keeps_the_feedback_of_the_others(ref, tmp_path):
    """validate A, then B: A's workbook and A's rows of findings.csv stay; validate A again: its rows
    are replaced, not doubled."""
    folder = tmp_path / "sent"
    a = write_submission(folder, ref, "GEO", 2026, {("TIP_OFF", "TOTAL"): -3, ("TIP_VIC", "TOTAL"): "1 154"})
    b = write_submission(folder, ref, "ARM", 2026, {("TIP_OFF", "TOTAL"): -4})
    outputs = tmp_path / "outputs"
    validate = ["validate", "--inputs", str(tmp_path / "none"), "--outputs", str(outputs)]
    runner = CliRunner()
    assert runner.invoke(main, [*validate, str(a)]).exit_code == 1
    a_rows = _validation_findings(outputs)
    assert set(a_rows["file"]) == {"GEO_2026.xlsx"} and "value-negative" in set(a_rows["code"])
    a_workbook = (outputs / "validation" / "GEO_2026_feedback.xlsx").read_bytes()

    assert runner.invoke(main, [*validate, str(b)]).exit_code == 1
    assert sorted(p.name for p in (outputs / "validation").iterdir()) == ["ARM_2026_feedback.xlsx", "GEO_2026_feedback.xlsx", "findings.csv"]
    assert (outputs / "validation" / "GEO_2026_feedback.xlsx").read_bytes() == a_workbook
    both = _validation_findings(outputs)
    assert set(both["file"]) == {"GEO_2026.xlsx", "ARM_2026.xlsx"}
    assert both[both["file"] == "GEO_2026.xlsx"].reset_index(drop=True).equals(a_rows)

    assert runner.invoke(main, [*validate, str(a)]).exit_code == 1
    again = _validation_findings(outputs)
    assert len(again) == len(both)
    assert sorted(again[again["file"] == "GEO_2026.xlsx"].itertuples(index=False)) == sorted(a_rows.itertuples(index=False))

    # A corrected A replaces its own rows and workbook: none of its old findings is left.
    write_submission(folder, ref, "GEO", 2026, {("TIP_OFF", "TOTAL"): 3})
    assert runner.invoke(main, [*validate, str(a)]).exit_code == 0
    corrected = _validation_findings(outputs)
    assert "value-negative" not in set(corrected.loc[corrected["file"] == "GEO_2026.xlsx", "code"])
    assert "value-negative" in set(corrected.loc[corrected["file"] == "ARM_2026.xlsx", "code"])
    assert sorted(p.name for p in (outputs / "validation").iterdir()) == ["ARM_2026_feedback.xlsx", "GEO_2026_feedback.xlsx", "findings.csv"]


def test_validate_a_year_writes_the_feedback_folder_and_fails_on_errors(run_dir, tmp_path):
    inputs = run_dir.parent.parent / "inputs"
    result = CliRunner().invoke(main, ["validate", "--year", "2025", "--inputs", str(inputs), "--outputs", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in (tmp_path / "2025" / "feedback").glob("*.xlsx")) == ["BGR_2025_feedback.xlsx", "GEO_2025_feedback.xlsx", "ROU_2025_feedback.xlsx"]
    assert not (tmp_path / "2025" / "data").exists(), "validate writes findings and feedback only"
    assert "No submission for 2025 from: Albania (ALB), Armenia (ARM), Azerbaijan (AZE)" in result.output
    clean = CliRunner().invoke(main, ["validate", "--year", "2024", "--inputs", str(inputs), "--outputs", str(tmp_path)])
    assert clean.exit_code == 0, clean.output


@pytest.mark.parametrize("args", [[], ["--year", "2025", "x.xlsx"]])
def test_validate_needs_files_or_a_year(tmp_path, args):
    (tmp_path / "x.xlsx").write_bytes(b"")
    result = CliRunner().invoke(main, ["validate", *[str(tmp_path / a) if a.endswith(".xlsx") else a for a in args]])
    assert result.exit_code == 2 and "either workbook FILES or --year" in result.output


def test_history_imported_from_published_files_joins_the_run(run_dir, tmp_path):
    inputs = tmp_path / "inputs"
    shutil.copytree(run_dir.parent.parent / "inputs", inputs)
    runner = CliRunner()
    for excerpt in ("data_glotip_excerpt.xlsx", "estat_crim_off_cat_excerpt.tsv"):
        result = runner.invoke(main, ["import", str(TEST_DATA / excerpt), "--inputs", str(inputs)])
        assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(tmp_path / "out"), "--no-pdf"])
    assert result.exit_code == 1, result.output
    year_dir = tmp_path / "out" / "2025"
    submissions = _csv(year_dir, "submissions").set_index("file")
    assert submissions.loc["history/unodc_glotip.csv", "status"] == "history"
    assert submissions.loc["history/unodc_glotip.json", "status"] == "ignored"
    assert not _csv(year_dir, "findings")["file"].str.startswith("history/").any(), "history files are not submissions"
    obs = _csv(year_dir, "observations").set_index(["country_iso3", "year", "indicator", "breakdown"])
    rou = obs.loc[("ROU", 2017, "TIP_VIC", "TOTAL")]
    assert (rou["value"], rou["origin"], rou["source_file"]) == (662, "history", "data_glotip_excerpt.xlsx")
    assert obs.loc[("ROU", 2025, "TIP_VIC", "TOTAL"), "origin"] == "submission"
    coverage = _csv(year_dir, "coverage").set_index(["country_iso3", "year", "indicator"])
    assert tuple(coverage.loc[("ROU", 2017, "TIP_VIC"), ["coverage", "origin"]]) == ("reported", "history")
    assert coverage.loc[("ARM", 2025, "TIP_VIC"), "coverage"] == "no_submission"


def test_manifest_names_every_input_with_its_sha256(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    inputs = run_dir.parent.parent / "inputs"
    listed = {entry["file"]: entry["sha256"] for entry in manifest["inputs"]}
    on_disk = {p.relative_to(inputs).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs.rglob("*") if p.is_file()}
    assert listed == on_disk
    assert manifest["reporting_year"] == 2025 and manifest["counts"]["files"] == len(on_disk)
    assert manifest["counts"]["findings_error"] == int((_csv(run_dir, "findings")["severity"] == "error").sum())



def test_no_pdf_without_libreoffice_is_one_line_not_an_error(run_dir, tmp_path, monkeypatch):
    from pipeline import pdf

    monkeypatch.setattr(pdf, "find_soffice", lambda: None)
    inputs = run_dir.parent.parent / "inputs"
    result = CliRunner().invoke(main, ["run", "--year", "2024", "--inputs", str(inputs), "--outputs", str(tmp_path)])
    assert result.exit_code == 0, result.output  # 2024's submissions have no error: exit code 0
    assert "PDF skipped: LibreOffice (soffice) is not installed" in result.output
    assert not list((tmp_path / "2024").glob("*.pdf")) and (tmp_path / "2024" / "BSEC_Annual_Assessment_2024.docx").exists()


@pytest.mark.libreoffice
def test_the_sample_report_as_pdf_holds_the_headline_figures_and_every_member_state(tmp_path, ref):
    require_soffice()
    # The demonstration set made afresh (the shipped inputs/ may have been cleared by a coordinator).
    inputs = tmp_path / "inputs"
    generate_sample_inputs(inputs, ref)
    result = CliRunner().invoke(main, ["run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(tmp_path)])
    assert result.exit_code == 0, result.output
    year_dir = tmp_path / "2025"
    pdf_path = year_dir / "BSEC_Annual_Assessment_2025.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf_path)], capture_output=True, text=True, check=True).stdout).group(1))
    assert 20 <= pages <= 150
    for iso3 in ref.members_in(2025):
        assert ref.state_by_iso3[iso3].name in text
    regional = _csv(year_dir, "regional").set_index(["indicator", "breakdown", "year"])
    headline = regional.loc[("TIP_VIC", "TOTAL", 2025), "total"]
    assert f"{int(headline):,}" in text
    assert "Demonstration data" in text and "None" not in text.split()


@pytest.mark.parametrize("kill_after", [0.5, 2.0])
def test_a_run_killed_half_way_leaves_the_previous_outputs_whole(run_dir, tmp_path, kill_after):
    inputs = run_dir.parent.parent / "inputs"
    outputs = tmp_path / "outputs"
    shutil.copytree(run_dir, outputs / "2025")
    before = {p.relative_to(outputs).as_posix(): p.read_bytes() for p in (outputs / "2025").rglob("*") if p.is_file()}
    run = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(outputs), "--no-pdf"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(kill_after)
    run.kill()  # SIGKILL: no clean-up code runs
    run.wait()
    after = {p.relative_to(outputs).as_posix(): p.read_bytes() for p in (outputs / "2025").rglob("*") if p.is_file()}
    if run.returncode != 0:  # killed: between the swap's two renames the old folder waits beside, put back
        atomic.restore_interrupted(outputs, 2025)
        after = {p.relative_to(outputs).as_posix(): p.read_bytes() for p in (outputs / "2025").rglob("*") if p.is_file()}
    # Whole: the complete set of files, each complete (the same inputs give the same CSVs, so a run that
    # reached the swap just before the kill leaves equal ones).
    assert after.keys() == before.keys()
    assert all(after[name] == before[name] for name in before if name.endswith(".csv"))
    # and a new run goes through: no stale lock, no half-written staging folder in the way
    result = CliRunner().invoke(main, ["run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(outputs), "--no-pdf"])
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in outputs.iterdir()) == [".2025.lock", "2025"], "a killed run's staging folder is cleared"


MIXED_TEXT = "Police & NGOs <draft> \"quoted\" — Полиция, Πολιτεία, საქართველო, Հայաստան, שלום, مرحبا 🚓"


@pytest.mark.libreoffice
def test_text_from_submissions_comes_out_intact_in_every_output(tmp_path, ref):
    require_soffice()
    inputs = tmp_path / "inputs"
    write_submission(inputs, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): (15, "p", MIXED_TEXT), ("TIP_OFF", "TOTAL"): (9, "", "@SUM(A1) not a formula")},
                     agency="Министерство внутренних дел")
    result = CliRunner().invoke(main, ["run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    year_dir = tmp_path / "out" / "2025"
    observations = output_files.read_csv(year_dir / "data" / "observations.csv").set_index(["indicator", "breakdown"])
    assert observations.loc[("TIP_VIC", "TOTAL"), "comment"] == MIXED_TEXT
    assert observations.loc[("TIP_OFF", "TOTAL"), "comment"] == "@SUM(A1) not a formula"
    assert "'@SUM(A1) not a formula" in (year_dir / "data" / "observations.csv").read_text(encoding="utf-8")  # inert (CWE-1236)
    document = docx.Document(str(year_dir / "BSEC_Annual_Assessment_2025.docx"))
    cells = "\n".join(c.text for t in document.tables for r in t.rows for c in r.cells)
    assert MIXED_TEXT in cells
    annex = openpyxl.load_workbook(year_dir / "BSEC_Annual_Assessment_2025_data.xlsx")
    texts = {c.value: c.data_type for row in annex["Observations"].iter_rows() for c in row if isinstance(c.value, str)}
    assert MIXED_TEXT in texts and texts["@SUM(A1) not a formula"] == "s"
    pdf_text = subprocess.run(["pdftotext", str(year_dir / "BSEC_Annual_Assessment_2025.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(pdf_text.split())
    for word in ("Police & NGOs <draft>", "Полиция", "Πολιτεία", "საქართველო", "Հայաստան"):
        assert word in flat, word


def test_two_runs_on_the_same_inputs_give_identical_csvs_and_document_parts(run_dir, tmp_path):
    inputs = run_dir.parent.parent / "inputs"
    result = CliRunner().invoke(main, ["run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(tmp_path), "--no-pdf"])
    assert result.exit_code == 1, result.output
    again = tmp_path / "2025"
    for csv in sorted((run_dir / "data").glob("*.csv")):
        assert csv.read_bytes() == (again / "data" / csv.name).read_bytes(), csv.name
    for png in sorted((run_dir / "charts").glob("*.png")):
        assert png.read_bytes() == (again / "charts" / png.name).read_bytes(), png.name
    first, second = (zipfile.ZipFile(d / "BSEC_Annual_Assessment_2025.docx") for d in (run_dir, again))
    assert first.namelist() == second.namelist()
    for name in first.namelist():
        assert first.read(name) == second.read(name), name
    for workbook in sorted((run_dir / "feedback").glob("*.xlsx")):
        assert workbook.read_bytes() == (again / "feedback" / workbook.name).read_bytes(), workbook.name


# -- the coordinator's desk: report again, doctor, help, exit codes, run.log ---------------------------------
def test_run_log_has_a_header_line_per_command(run_dir):
    lines = (run_dir / "run.log").read_text(encoding="utf-8").splitlines()
    inputs, outputs = run_dir.parent.parent / "inputs", run_dir.parent
    assert re.fullmatch(r"==== \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ crimetrends \S+: (.*) \(in .*\)", lines[0]).group(1) == f"crimetrends run --year 2025 --inputs {inputs} --outputs {outputs} --no-pdf"
    assert any(line.endswith(f"Report: {run_dir / 'BSEC_Annual_Assessment_2025.docx'}") for line in lines)


def test_report_renders_again_from_the_stored_data_with_new_settings(run_dir, tmp_path):
    outputs = tmp_path / "outputs"
    shutil.copytree(run_dir, outputs / "2025")
    before = {p.relative_to(outputs).as_posix(): p.read_bytes() for p in (outputs / "2025").rglob("*") if p.is_file()}
    settings = tmp_path / "final.toml"
    settings.write_text('[report]\nstatus_line = "Final version for circulation"\n', encoding="utf-8")
    # Global options also after the command name.
    result = CliRunner().invoke(main, ["report", "--year", "2025", "--outputs", str(outputs), "--no-pdf", "--settings", str(settings), "-q"])
    assert result.exit_code == 0, result.output
    assert result.output == "", "-q: nothing but warnings and errors"
    year_dir = outputs / "2025"
    text = "\n".join(p.text for p in docx.Document(str(year_dir / "BSEC_Annual_Assessment_2025.docx")).paragraphs)
    assert "Final version for circulation" in text and "Draft for the Working Group" not in text
    after = {p.relative_to(outputs).as_posix(): p.read_bytes() for p in year_dir.rglob("*") if p.is_file()}
    kept = [name for name in before if name.startswith(("2025/data/", "2025/feedback/")) or name == "2025/status.csv"]
    assert kept and all(after[name] == before[name] for name in kept), "data, feedback and status are not touched"
    assert {name for name in after if name.startswith("2025/charts/")} == {name for name in before if name.startswith("2025/charts/")}
    manifest = json.loads((year_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["status_line"] == "Final version for circulation" and manifest["settings"]["file"] == str(settings)
    assert manifest["inputs"] == json.loads(before["2025/manifest.json"])["inputs"]
    log = (year_dir / "run.log").read_text(encoding="utf-8")
    assert log.startswith(before["2025/run.log"].decode("utf-8")), "the log survives the swap of the year folder"
    assert f"crimetrends report --settings {settings} --year 2025 --outputs {outputs} --no-pdf" in log


def test_report_with_the_same_settings_gives_the_same_document(run_dir, tmp_path):
    outputs = tmp_path / "outputs"
    shutil.copytree(run_dir, outputs / "2025")
    result = CliRunner().invoke(main, ["report", "--year", "2025", "--outputs", str(outputs), "--no-pdf"])
    assert result.exit_code == 0, result.output
    first, second = (zipfile.ZipFile(d / "BSEC_Annual_Assessment_2025.docx") for d in (run_dir, outputs / "2025"))
    assert first.namelist() == second.namelist()
    for name in first.namelist():
        assert first.read(name) == second.read(name), name
    annex = "BSEC_Annual_Assessment_2025_data.xlsx"
    assert (run_dir / annex).read_bytes() == (outputs / "2025" / annex).read_bytes()


def test_report_draws_the_charts_again_and_puts_each_into_the_report(run_dir, tmp_path):
    outputs = tmp_path / "outputs"
    shutil.copytree(run_dir, outputs / "2025")
    shutil.rmtree(outputs / "2025" / "charts")
    result = CliRunner().invoke(main, ["report", "--year", "2025", "--outputs", str(outputs), "--no-pdf"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(outputs / "2025" / "BSEC_Annual_Assessment_2025.docx") as package:
        media = sorted(package.read(name) for name in package.namelist() if name.startswith("word/media/"))
    assert media == sorted(path.read_bytes() for path in (outputs / "2025" / "charts").glob("*.png"))


def test_report_without_stored_data_is_a_usage_error(run_dir, tmp_path):
    result = CliRunner().invoke(main, ["report", "--year", "2025", "--outputs", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"crimetrends: {tmp_path}{os.sep} has no stored data for 2025 (no {tmp_path / '2025' / 'data'}{os.sep}); it has no year's stored data: "
                                     "run `crimetrends run --year 2025` first, or check --year and --outputs")
    assert list(tmp_path.iterdir()) == []
    outputs = run_dir.parent
    before = sorted(p.name for p in outputs.iterdir())
    typo = CliRunner().invoke(main, ["report", "--year", "2062", "--outputs", str(outputs)])
    assert typo.exit_code == 2 and "has no stored data for 2062" in typo.stderr and "it has stored data for 2025:" in typo.stderr
    assert sorted(p.name for p in outputs.iterdir()) == before, "nothing written"
    damaged = tmp_path / "damaged"
    shutil.copytree(run_dir, damaged / "2025")
    (damaged / "2025" / "manifest.json").write_text("{ edited by hand", encoding="utf-8")
    unreadable = CliRunner().invoke(main, ["report", "--year", "2025", "--outputs", str(damaged)])
    assert unreadable.exit_code == 2 and unreadable.stderr.startswith(f"crimetrends: {damaged / '2025' / 'manifest.json'} cannot be read (")
    assert sorted(p.name for p in damaged.iterdir()) == ["2025"]
    shutil.rmtree(damaged)
    (tmp_path / "2025" / "data").mkdir(parents=True)
    (tmp_path / "2025" / "data" / "observations.csv").write_text("")
    part = CliRunner().invoke(main, ["report", "--year", "2025", "--outputs", str(tmp_path)])
    assert part.exit_code == 2
    assert part.stderr.strip() == f"crimetrends: {tmp_path / '2025'} holds no stored data (data/regional.csv, data/country.csv, data/coverage.csv, data/revisions.csv, data/findings.csv, data/submissions.csv missing): run `crimetrends run --year 2025` first"


# -- the coordinator's mistakes stop early, with one line and nothing written -----------------------
@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_year_with_no_submission_and_no_history_stops_before_writing(run_dir, tmp_path, command):
    inputs = run_dir.parent.parent / "inputs"
    result = CliRunner().invoke(main, [command, "--year", "2062", "--inputs", str(inputs), "--outputs", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"crimetrends: {inputs}{os.sep} has no submission for 2062 and no published history for it; it has submissions for 2024–2025: check --year and --inputs"
    assert not (tmp_path / "out").exists(), "no year folder, no run.log, no lock, no staging folder"


@pytest.mark.parametrize("command", ["run", "validate"])
def test_an_empty_inputs_folder_stops_before_writing(tmp_path, command):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    result = CliRunner().invoke(main, [command, "--year", "2026", "--inputs", str(inputs), "--outputs", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"crimetrends: {inputs}{os.sep} is empty: no submission for 2026 and no published history; put the returned workbooks in it, or give --inputs the folder that holds them"
    (inputs / "README.md").write_text("The returned workbooks go here.", encoding="utf-8")
    readme = CliRunner().invoke(main, [command, "--year", "2026", "--inputs", str(inputs), "--outputs", str(tmp_path / "out")])
    assert readme.exit_code == 2 and readme.stderr.strip().endswith("it has no workbook (only README.md): check --year and --inputs")
    assert not (tmp_path / "out").exists()


def test_a_year_is_there_by_its_cover_or_its_published_history(tmp_path, ref):
    inputs = tmp_path / "inputs"
    # Named and filed for 2024, but its Cover says 2025: the run goes by the Cover, and so does the check.
    write_submission(inputs / "2024", ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 15}, name="GEO_2024.xlsx")
    result = CliRunner().invoke(main, ["validate", "--year", "2025", "--inputs", str(inputs), "--outputs", str(tmp_path / "out")])
    assert result.exit_code in (0, 1), result.output
    assert (tmp_path / "out" / "2025" / "feedback" / "GEO_2025_feedback.xlsx").is_file()
    imported = CliRunner().invoke(main, ["import", str(TEST_DATA / "estat_crim_off_cat_excerpt.tsv"), "--inputs", str(inputs)])
    assert imported.exit_code == 0, imported.output
    history_years = sorted({int(y) for y in pd.read_csv(inputs / "history" / "eurostat_crim_off_cat.csv")["year"]})
    result = CliRunner().invoke(main, ["validate", "--year", str(history_years[0]), "--inputs", str(inputs), "--outputs", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output  # published history only: nothing to check, but the year is there
    typo = CliRunner().invoke(main, ["validate", "--year", "2062", "--inputs", str(inputs), "--outputs", str(tmp_path / "out")])
    assert typo.exit_code == 2 and "it has submissions for 2025 and published history for " in typo.stderr


@pytest.mark.parametrize("outputs", ["inputs", "inputs/out"])
def test_outputs_inside_the_inputs_folder_are_refused(run_dir, tmp_path, outputs):
    inputs = tmp_path / "inputs"
    shutil.copytree(run_dir.parent.parent / "inputs", inputs)
    before = sorted(p.relative_to(inputs).as_posix() for p in inputs.rglob("*"))
    for args in (["run", "--year", "2025", "--no-pdf"], ["validate", "--year", "2025"], ["status", "--year", "2025"]):
        result = CliRunner().invoke(main, [*args, "--inputs", str(inputs), "--outputs", str(tmp_path / outputs)])
        assert result.exit_code == 2 and "the next run would read the outputs as submissions" in result.output, (args, result.output)
    assert sorted(p.relative_to(inputs).as_posix() for p in inputs.rglob("*")) == before


def _no_staging_left(outputs: Path) -> bool:
    return not [p for p in outputs.rglob("*") if ".staging-" in p.name]


def test_an_output_folder_that_is_a_file_is_named_and_nothing_is_written(run_dir, tmp_path):
    inputs = run_dir.parent.parent / "inputs"
    outputs = tmp_path / "out"
    outputs.mkdir()
    (outputs / "2025").write_text("not a folder", encoding="utf-8")
    for args in (["run", "--year", "2025", "--no-pdf"], ["validate", "--year", "2025"], ["status", "--year", "2025"]):
        result = CliRunner().invoke(main, [*args, "--inputs", str(inputs), "--outputs", str(outputs)])
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.strip() == f"crimetrends: cannot write to {outputs / '2025'}: it is a file, not a folder; move the file away or choose another folder"
    assert sorted(p.name for p in outputs.iterdir()) == ["2025"] and (outputs / "2025").read_text(encoding="utf-8") == "not a folder"
    below = CliRunner().invoke(main, ["run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(outputs / "2025" / "out"), "--no-pdf"])
    assert below.exit_code == 2 and f"{outputs / '2025'} is a file, not a folder" in below.stderr


def test_a_read_only_outputs_folder_stops_the_run_before_it_starts(run_dir, tmp_path, monkeypatch):
    # The tests run as root, whom permission bits do not stop: os.access answers as for another user.
    inputs = run_dir.parent.parent / "inputs"
    outputs = tmp_path / "out"
    outputs.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: not (mode & os.W_OK and Path(path) == outputs) and real_access(path, mode, **kw))
    result = CliRunner().invoke(main, ["run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(outputs), "--no-pdf"])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"crimetrends: cannot write to {outputs}: permission denied ({outputs} is read-only for this user); make it writable or choose another folder"
    assert list(outputs.iterdir()) == []


@pytest.mark.parametrize("fails", ["staging folder", "swap"])
def test_an_output_folder_refused_during_the_run_leaves_no_staging_folder(run_dir, tmp_path, monkeypatch, fails):
    """What no check beforehand can see (a folder made read-only meanwhile, a file system that refuses
    root): the write that fails gives the same one line and exit code 2, and no staging folder."""
    inputs = run_dir.parent.parent / "inputs"
    outputs = tmp_path / "out"
    shutil.copytree(run_dir, outputs / "2025")
    before = {p.relative_to(outputs).as_posix(): p.read_bytes() for p in (outputs / "2025" / "data").rglob("*") if p.is_file()}
    if fails == "staging folder":
        real_mkdtemp = atomic.tempfile.mkdtemp

        def mkdtemp(*args, **kwargs):
            if Path(kwargs.get("dir") or "") == outputs:
                raise PermissionError(13, "Permission denied", str(outputs))
            return real_mkdtemp(*args, **kwargs)

        monkeypatch.setattr(atomic.tempfile, "mkdtemp", mkdtemp)
    else:
        fail_the_staging_swap(monkeypatch)
    result = CliRunner().invoke(main, ["run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(outputs), "--no-pdf"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1] == f"crimetrends: cannot write to {outputs}: permission denied ({outputs} is read-only for this user); make it writable or choose another folder"
    assert "Traceback" not in result.output
    assert _no_staging_left(outputs) and sorted(p.name for p in outputs.iterdir()) == [".2025.lock", "2025"]
    assert {p.relative_to(outputs).as_posix(): p.read_bytes() for p in (outputs / "2025" / "data").rglob("*") if p.is_file()} == before, "the previous outputs stay whole"


def test_an_internal_error_is_exit_code_3_with_the_log_path(run_dir, tmp_path, monkeypatch):
    from pipeline import aggregate

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(aggregate, "build_regional_table", broken)
    inputs = run_dir.parent.parent / "inputs"
    result = CliRunner().invoke(main, ["run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(tmp_path), "--no-pdf"])
    assert result.exit_code == 3
    log_path = tmp_path / "2025" / "run.log"
    assert result.stderr.strip().splitlines()[-1] == f"crimetrends: internal error: RuntimeError: boom (details in {log_path})"
    assert "Traceback" not in result.stderr, "the traceback goes to the log (and to stderr with -v)"
    log = log_path.read_text(encoding="utf-8")
    assert log.startswith("==== ") and "Traceback (most recent call last)" in log and "RuntimeError: boom" in log
    assert sorted(p.name for p in (tmp_path / "2025").iterdir()) == ["run.log"], "nothing half-written"
    verbose = CliRunner().invoke(main, ["-v", "run", "--year", "2025", "--inputs", str(inputs), "--outputs", str(tmp_path), "--no-pdf"])
    assert verbose.exit_code == 3 and "Traceback (most recent call last)" in verbose.stderr


def test_doctor_says_what_is_missing_and_what_is_optional(tmp_path, monkeypatch):
    from pipeline import pdf

    (tmp_path / "inputs").mkdir()
    monkeypatch.setattr(pdf, "find_soffice", lambda: None)
    result = CliRunner().invoke(main, ["doctor", "--inputs", str(tmp_path / "inputs"), "--outputs", str(tmp_path / "outputs")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith("OK") and "Python" in line for line in lines)
    assert any(line.startswith("OK") and "package pandas" in line for line in lines)
    assert any(line.startswith("WARNING") and "LibreOffice" in line and "libreoffice-writer-nogui" in line for line in lines)
    assert not (tmp_path / "outputs").exists(), "doctor writes nothing"
    missing = CliRunner().invoke(main, ["doctor", "--inputs", str(tmp_path / "nowhere"), "--outputs", str(tmp_path / "outputs")])
    assert missing.exit_code == 1
    assert any(line.startswith("MISSING") and "inputs folder" in line for line in missing.stdout.splitlines())


def _commands(group: click.Group):
    yield [], group
    for name, command in group.commands.items():
        yield [name], command


@pytest.mark.parametrize("path", [names for names, _ in _commands(main)], ids=lambda names: " ".join(names) or "crimetrends")
def test_every_command_has_help_with_an_example_and_every_option_a_help_text(path):
    command = main if not path else main.commands[path[0]]
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    for param in command.params:
        if isinstance(param, click.Option) and param.name not in ("help", "version"):
            assert param.help and "Example" in param.help, (path, param.name)


# -- reading: every file in order, then the checks across files (cli.read_and_validate, cli.read_and_check) ---
@pytest.fixture(scope="module")
def many_inputs(ref, tmp_path_factory):
    """Four states over three years, a truncated workbook, a text file named .xlsx and a note."""
    folder = tmp_path_factory.mktemp("many") / "inputs"
    made = generate_sample_inputs(folder, ref, years=[2023, 2024, 2025], states=["GEO", "ARM", "TUR", "MDA"])
    good = made[0].read_bytes()
    (folder / "broken").mkdir()
    (folder / "broken" / "truncated.xlsx").write_bytes(good[: len(good) // 2])
    (folder / "broken" / "text.xlsx").write_text("not a workbook", encoding="utf-8")
    (folder / "notes.txt").write_text("notes", encoding="utf-8")
    return folder


def test_every_file_is_read_and_validated_in_the_order_given(many_inputs, ref):
    from pipeline import ingest
    from pipeline.cli import read_and_validate

    files = ingest.discover_files(many_inputs)
    read = read_and_validate([(p, many_inputs) for p in files], ref, strict=False)
    assert [path for _, path in read] == files
    assert [sub.file for sub, _ in read] == [p.relative_to(many_inputs).as_posix() for p in files]
    by_file = {sub.file: sub for sub, _ in read}
    assert "file-unreadable" in {f.code for f in by_file["broken/truncated.xlsx"].findings}
    assert by_file["broken/text.xlsx"].status == "rejected" and by_file["broken/text.xlsx"].findings
    assert by_file["notes.txt"].status == "ignored"


_STATES = ["GEO", "ARM", "TUR", "MDA"]


@pytest.fixture(scope="module")
def across_inputs(ref, tmp_path_factory):
    """Four states, 2021-2025: in each, a jump with no comment in 2024 (T01) and a revised 2024
    figure in 2025 (R01); TUR sends 2024 twice (one supersedes the other), MDA sends 2023 twice on
    the same day (the name that comes last is used)."""
    folder = tmp_path_factory.mktemp("across") / "inputs"
    for k, iso3 in enumerate(_STATES):
        for year in range(2021, 2026):
            victims = {2024: 200 + k}.get(year, 20 + k + year % 3)
            values = {("TIP_VIC", "TOTAL"): victims, ("TIP_OFF", "TOTAL"): 5 + k}
            previous = {("TIP_VIC", "TOTAL"): 250 + k} if year == 2025 else None
            write_submission(folder / str(year), ref, iso3, year, values, previous=previous)
    write_submission(folder / "2024", ref, "TUR", 2024, {("TIP_VIC", "TOTAL"): 180}, name="TUR_2024_resent.xlsx", date=dt.date(2026, 3, 1))
    write_submission(folder / "2023", ref, "MDA", 2023, {("TIP_VIC", "TOTAL"): 24}, name="MDA_2023_again.xlsx")
    return folder


def test_the_checks_across_files_resolve_resubmissions_and_compare_years(across_inputs, ref):
    from pipeline import ingest
    from pipeline.cli import read_and_check

    files = ingest.discover_files(across_inputs)
    read, revisions = read_and_check([(p, across_inputs) for p in files], ref, strict=False)
    assert [path for _, path in read] == files
    by_file = {sub.file: sub for sub, _ in read}
    assert {"change-unexplained", "value-revised-large"} <= {f.code for sub, _ in read for f in sub.findings}
    assert by_file["2024/TUR_2024.xlsx"].status == "superseded" and by_file["2024/TUR_2024_resent.xlsx"].is_used
    assert "submission-superseded" in {f.code for f in by_file["2024/TUR_2024.xlsx"].findings}
    # The same date on both: the name that comes last is used, and both files say so.
    assert by_file["2023/MDA_2023.xlsx"].status == "superseded" and by_file["2023/MDA_2023_again.xlsx"].is_used
    assert "submission-date-conflict" in {f.code for f in by_file["2023/MDA_2023.xlsx"].findings}
    assert set(revisions["country_iso3"]) == set(_STATES)  # each state revised its 2024 figure in 2025
    keys = list(zip(revisions["year"], revisions["country_iso3"], revisions["file"], strict=True))
    assert keys == sorted(keys)


def test_files_that_contradict_themselves_are_findings_and_the_run_says_where_they_went(tmp_path, ref):
    """A 2025 workbook filed as 2026/MKD_2026.xlsx, two undated BGR files: the run names where the MKD
    file went, uses one BGR file and says which and why in both feedback workbooks."""
    inputs = tmp_path / "inputs"
    write_submission(inputs / "2026", ref, "GEO", 2026, {("TIP_VIC", "TOTAL"): 12}, date=dt.date(2027, 2, 1))
    write_submission(inputs / "2026", ref, "MKD", 2025, {("TIP_VIC", "TOTAL"): 30}, name="MKD_2026.xlsx")
    write_submission(inputs / "2026", ref, "BGR", 2026, {("TIP_VIC", "TOTAL"): 40}, date=None)
    write_submission(inputs / "2026", ref, "BGR", 2026, {("TIP_VIC", "TOTAL"): 41}, date=None, name="BGR_2026_v2.xlsx")
    result = CliRunner().invoke(main, ["run", "--year", "2026", "--inputs", str(inputs), "--outputs", str(tmp_path / "outputs"), "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert "2026/MKD_2026.xlsx → MKD 2025" in result.stderr

    year_dir = tmp_path / "outputs" / "2026"
    submissions = pd.read_csv(year_dir / "data" / "submissions.csv", keep_default_na=False).set_index("file")
    assert (submissions.loc["2026/MKD_2026.xlsx", "year"], submissions.loc["2026/MKD_2026.xlsx", "status"]) == (2025, "accepted-with-warnings")
    assert submissions.loc["2026/BGR_2026_v2.xlsx", "status"] == "accepted-with-warnings"
    assert submissions.loc["2026/BGR_2026.xlsx", "status"] == "superseded"
    findings = pd.read_csv(year_dir / "data" / "findings.csv", keep_default_na=False)
    assert [tuple(r) for r in findings.loc[findings["code"] == "cover-year-mismatch", ["file", "sheet", "cell"]].values] == [("2026/MKD_2026.xlsx", "Cover", "B6")]
    tracker = pd.read_csv(year_dir / "status.csv", keep_default_na=False).set_index("country_iso3")
    assert tracker.loc["MKD", "status"] == "missing" and "2026/MKD_2026.xlsx went to 2025" in tracker.loc["MKD", "note"]
    assert tracker.loc["BGR", "file"] == "2026/BGR_2026_v2.xlsx"

    listed = pd.read_csv(year_dir / "feedback" / "findings.csv", keep_default_na=False)
    for file, feedback_name in (("2026/BGR_2026_v2.xlsx", "BGR_2026_feedback.xlsx"), ("2026/BGR_2026.xlsx", "BGR_2026_feedback_on_BGR_2026.xlsx")):
        own = listed[listed["file"] == file]
        assert ("cover-date-missing", "Cover", "B10") in [tuple(r) for r in own[["code", "sheet", "cell"]].values]
        [conflict] = own.loc[own["code"] == "submission-date-conflict", "message"]
        assert "used: 2026/BGR_2026_v2.xlsx" in conflict
        texts = {str(c.value) for row in openpyxl.load_workbook(year_dir / "feedback" / feedback_name)["Findings"].iter_rows() for c in row if c.value}
        assert any("cover-date-missing" in t or "no date submitted" in t for t in texts)
    # The 2025 workbook sent as MKD's 2026 file gets its feedback in the 2026 run too, where it was sent.
    assert ("2026/MKD_2026.xlsx", "cover-year-mismatch", "B6") in [tuple(r) for r in listed[["file", "code", "cell"]].values]
    texts = {str(c.value) for row in openpyxl.load_workbook(year_dir / "feedback" / "MKD_2025_feedback.xlsx")["Findings"].iter_rows() for c in row if c.value}
    assert "cover-year-mismatch" in texts


# -- the first real year, from an empty workspace (issue 19, "Done when") ---------------------------
# A coordinator who ran the demonstration, then starts a real 2026 collection in a workspace of its own
# with the published history only: no demonstration figure reaches the templates or the report, the
# three files that come back give their findings, and a 2-of-13 year quotes no regional change. Nothing
# here reads the shipped inputs/20*: only inputs/history, the real published figures, is copied.
SHIPPED_HISTORY = Path(__file__).parent.parent / "inputs" / "history"


@pytest.fixture(scope="module")
def real_year(tmp_path_factory, ref):
    if not any(SHIPPED_HISTORY.glob("*.csv")):
        pytest.skip(f"no published history shipped in {SHIPPED_HISTORY}")
    demo, real = tmp_path_factory.mktemp("demo-workspace"), tmp_path_factory.mktemp("real-workspace")
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(demo)
        generate_sample_inputs(demo / "inputs", ref, years=[2025], states=["GEO", "ARM", "MKD"])
        demo_run = runner.invoke(main, ["run", "--year", "2025", "--no-pdf"])
        assert demo_run.exit_code in (0, 1), demo_run.output

        patch.chdir(real)
        shutil.copytree(SHIPPED_HISTORY, real / "inputs" / "history")
        previous = demo / "outputs" / "2025" / "data" / "observations.csv"
        templates = runner.invoke(main, ["template", "--year", "2026", "--previous", str(previous)])

        filed = real / "inputs" / "2026"
        write_submission(filed, ref, "GEO", 2026, {("TIP_VIC", "TOTAL"): 12, ("TIP_OFF", "TOTAL"): 7}, date=dt.date(2027, 2, 1))
        write_submission(filed, ref, "MKD", 2025, {("TIP_VIC", "TOTAL"): 30}, name="MKD_2026.xlsx", date=dt.date(2027, 2, 3))
        write_submission(filed, ref, "ARM", 2026, {("TIP_VIC", "TOTAL"): 9, ("TIP_OFF", "TOTAL"): 4}, date=None)
        run = runner.invoke(main, ["run", "--year", "2026", "--no-pdf"])
    return {"demo": demo, "real": real, "previous": previous, "templates": templates, "run": run}


def test_real_year_templates_carry_no_demonstration_figure_and_say_why(real_year, ref):
    demo_figures = pd.read_csv(real_year["previous"], keep_default_na=False, na_values=[""])
    assert {"GEO", "MKD"} <= set(demo_figures.loc[demo_figures["value"].notna(), "country_iso3"])  # there was something to leak
    result = real_year["templates"]
    assert result.exit_code == 0, result.output
    assert "demonstration run" in result.stderr and "left blank" in result.stderr
    written = sorted((real_year["real"] / "outputs" / "templates" / "2026").glob("*.xlsx"))
    assert [p.name for p in written] == sorted(f"{c}_2026.xlsx" for c in ref.members_in(2026))
    for path in written:
        assert all(v is None for v in _previous_year_values(path).values()), path.name


def test_real_year_files_that_contradict_themselves_give_their_findings(real_year):
    result = real_year["run"]
    assert result.exit_code == 0, result.output  # warnings only: a clean file, a misfiled one, an undated one
    assert "2026/MKD_2026.xlsx → MKD 2025" in result.stderr
    year_dir = real_year["real"] / "outputs" / "2026"
    findings = pd.read_csv(year_dir / "data" / "findings.csv", keep_default_na=False)
    cells = {(r.code, r.country_iso3, r.year, r.file, r.sheet, r.cell) for r in findings.itertuples()}
    assert ("cover-year-mismatch", "MKD", 2025, "2026/MKD_2026.xlsx", "Cover", "B6") in cells
    assert ("cover-date-missing", "ARM", 2026, "2026/ARM_2026.xlsx", "Cover", "B10") in cells
    assert not findings["file"].str.startswith("2026/GEO").any()
    submissions = pd.read_csv(year_dir / "data" / "submissions.csv", keep_default_na=False).set_index("file")
    assert (submissions.loc["2026/MKD_2026.xlsx", "year"], submissions.loc["2026/MKD_2026.xlsx", "status"]) == ("2025", "accepted-with-warnings")
    assert submissions.loc["2026/GEO_2026.xlsx", "status"] == "accepted"
    rows = list(openpyxl.load_workbook(year_dir / "feedback" / "ARM_2026_feedback.xlsx")["Findings"].iter_rows(values_only=True))
    header = rows.index(("Severity", "Code", "Sheet", "Cell", "Value", "What we found", "How to fix"))
    assert [r[1:4] for r in rows[header + 1:]] == [("cover-date-missing", "Cover", "B10")]


def _docx_text(path: Path) -> tuple[str, list[list[list[str]]]]:
    document = docx.Document(str(path))
    tables = [[[c.text for c in r.cells] for r in t.rows] for t in document.tables]
    parts = [p.text for p in document.paragraphs] + [c for t in tables for r in t for c in r]
    for section in document.sections:
        parts += [p.text for part in (section.header, section.footer, section.first_page_header, section.first_page_footer) for p in part.paragraphs]
    properties = document.core_properties
    parts += [properties.title or "", properties.subject or "", properties.keywords or "", properties.comments or ""]
    return "\n".join(parts), tables


def test_real_year_report_says_nothing_of_demonstration_and_quotes_no_change_from_too_few_states(real_year):
    text, tables = _docx_text(real_year["real"] / "outputs" / "2026" / "BSEC_Annual_Assessment_2026.docx")
    assert "demonstration" not in text.lower()
    # 2 of 13 states for 2026 (GEO, ARM) and 1 for 2025 (the misfiled MKD): fewer than [key_findings] min_states = 3.
    assert "No regional change on 2025 is quoted: no indicator was reported for both 2025 and 2026 by at least 3 member states" in text
    assert "No member state reported a headline figure for both 2025 and 2026, so no national change is given." in text
    [overview] = [t for t in tables if t[0][0] == "Crime area: headline indicator" and "Change on 2025 (same states)" in t[0]]
    change = overview[0].index("Change on 2025 (same states)")
    assert [row[change] for row in overview[1:]] == [":"] * (len(overview) - 1)
    assert not re.search(r"[+−-]\d[\d.,]* ?%", text), "a change in per cent is quoted"
    # Table 4: every year of its range has its column, the years without any figure included.
    [trend] = [t for t in tables if t[0][0] == "Crime area: headline indicator" and "2026" in t[0]]
    years = [int(y) for y in trend[0][1:]]
    assert years == list(range(years[0], 2027)) and years[0] <= 2022
    tip = next(row for row in trend if row[0].startswith("Trafficking in persons"))
    # 2025 is MKD alone, 2026 GEO and ARM: no state behind 2026 reported 2025, a break in series (b).
    assert tip[years.index(2025) + 1] == "30 (1/13)" and tip[years.index(2026) + 1] == "21 b (2/13)"
    assert "b: break in series: the total cannot be compared with the year before's." in text
    # North Macedonia's file arrived for 2026 but counts for 2025: the report says so where it says "not received".
    [submissions] = [t for t in tables if t[0][:3] == ["Member state", "Received", "Status"]]
    macedonia = next(row for row in submissions if row[0] == "North Macedonia")
    assert macedonia[2] == "not received (2026/MKD_2026.xlsx counts for 2025, as its Cover says: accepted with warnings)"


def test_real_year_reads_no_shipped_demonstration_input(real_year):
    """What the run read is its own workspace: the published history copied in and the three files."""
    manifest = json.loads((real_year["real"] / "outputs" / "2026" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["is_demonstration"] is False
    read = sorted(pd.read_csv(real_year["real"] / "outputs" / "2026" / "data" / "submissions.csv", keep_default_na=False)["file"])
    assert [f for f in read if not f.startswith("history/")] == ["2026/ARM_2026.xlsx", "2026/GEO_2026.xlsx", "2026/MKD_2026.xlsx"]


# -- the console: what `validate` prints for people ---------------------------------------------------
_FINDING_LINE = re.compile(r"^  (\S+)  (error|warning|info)  ([a-z0-9-]+): ")


def _natural(place: str) -> tuple:
    sheet, _, cell = place.partition("!")
    match = re.fullmatch(r"([A-Z]+)(\d+)", cell)
    return (sheet, int(match.group(2)), len(match.group(1)), match.group(1)) if match else (sheet, 0, 0, "")


@pytest.fixture(scope="module")
def three_submissions(ref, tmp_path_factory):
    """Three 2026 submissions: a clean one; one with errors, a warning and an info, on rows before and
    after row 10; one with an info only."""
    inputs = tmp_path_factory.mktemp("console") / "inputs"
    write_submission(inputs / "2026", ref, "ALB", 2026, {("TIP_VIC", "TOTAL"): 12, ("TIP_OFF", "TOTAL"): 3})
    write_submission(inputs / "2026", ref, "GEO", 2026, {
        ("TIP_OFF", "TOTAL"): -3,  # an error on row 2
        ("TIP_PRO", "TOTAL"): 10, ("TIP_CON", "TOTAL"): 14,  # a warning
        ("TIP_VIC", "TOTAL"): 20, ("TIP_VIC", "SEX=F"): 4, ("TIP_VIC", "SEX=M"): 6, ("TIP_VIC", "SEX=UNK"): 0,  # parts that do not add up, below row 10
        ("SOM_MIG", "TOTAL"): "1 154",  # an info
    })
    write_submission(inputs / "2026", ref, "MDA", 2026, {("TIP_VIC", "TOTAL"): "1 154"})
    return inputs


def _validate_year(inputs: Path, outputs: Path, *options: str):
    result = CliRunner().invoke(main, [*options, "validate", "--year", "2026", "--inputs", str(inputs), "--outputs", str(outputs)])
    findings = pd.read_csv(outputs / "2026" / "feedback" / "findings.csv", dtype=str, keep_default_na=False)
    return result, findings


def _printed(stdout: str) -> dict[str, list[tuple[str, str, str]]]:
    """(place, severity, code) of each finding line, under the status line of its file."""
    blocks: dict[str, list[tuple[str, str, str]]] = {}
    current = None
    for line in stdout.splitlines():
        match = _FINDING_LINE.match(line)
        if match:
            blocks[current].append(match.groups())
        elif line.strip():
            current = line.split(" — ")[0]
            blocks[current] = []
    return blocks


def test_validate_prints_per_file_a_status_line_and_its_errors_and_warnings_in_sheet_and_cell_order(three_submissions, tmp_path):
    result, findings = _validate_year(three_submissions, tmp_path)
    assert result.exit_code == 1, result.output  # GEO has errors
    assert {"error", "warning", "info"} <= set(findings["severity"]), "the inputs give every severity"
    printed = _printed(result.stdout)
    assert sorted(printed) == ["2026/ALB_2026.xlsx", "2026/GEO_2026.xlsx", "2026/MDA_2026.xlsx"]
    for file, lines in printed.items():
        expected = findings[(findings["file"] == file) & findings["severity"].isin(["error", "warning"])]
        assert sorted(lines) == sorted((f"{r.sheet}!{r.cell}" if r.cell else r.sheet, r.severity, r.code) for r in expected.itertuples()), file
        assert [place for place, _, _ in lines] == sorted((place for place, _, _ in lines), key=_natural), f"{file}: sheet, then cell in reading order"
    rows = {int(re.sub(r"\D", "", place.partition("!")[2]) or 0) for place, _, _ in printed["2026/GEO_2026.xlsx"]}
    assert min(rows) < 10 <= max(rows), "the inputs put findings on both sides of row 10"
    statuses = {line.split(" — ")[0]: line for line in result.stdout.splitlines() if " — " in line}
    assert statuses["2026/ALB_2026.xlsx"].endswith(": accepted")
    assert ": accepted-with-errors; " in statuses["2026/GEO_2026.xlsx"]
    assert ": accepted; 1 info" in statuses["2026/MDA_2026.xlsx"]


def test_validate_q_prints_one_line_per_file_and_v_adds_the_infos(three_submissions, tmp_path):
    quiet, _ = _validate_year(three_submissions, tmp_path / "quiet", "-q")
    assert quiet.exit_code == 1
    assert [line.split(" — ")[0] for line in quiet.stdout.splitlines()] == ["2026/ALB_2026.xlsx", "2026/GEO_2026.xlsx", "2026/MDA_2026.xlsx"]

    verbose, findings = _validate_year(three_submissions, tmp_path / "verbose", "-v")
    assert verbose.exit_code == 1
    printed = _printed(verbose.stdout)
    for file in printed:
        mine = findings[findings["file"] == file]
        assert sorted(printed[file]) == sorted((f"{r.sheet}!{r.cell}" if r.cell else r.sheet, r.severity, r.code) for r in mine.itertuples()), file
    assert any(severity == "info" for lines in printed.values() for _, severity, _ in lines)


def test_a_finding_wraps_to_the_terminal_width_with_a_hanging_indent(ref):
    finding = make_finding(ref, "value-negative", "TIP_OFF TOTAL is -3: a count cannot be negative. " * 4, file="GEO_2026.xlsx", sheet="Data", cell="E2")
    lines = _finding_lines(finding, 60)
    assert len(lines) > 1 and all(len(line) < 60 for line in lines)
    assert lines[0].startswith("  Data!E2  error  value-negative: ") and all(line.startswith("      ") for line in lines[1:])
    assert " ".join(line.strip() for line in lines) == _finding_lines(finding, None)[0].strip()


@pytest.mark.libreoffice
def test_validate_an_ods_gives_feedback_in_the_template_written_as_xlsx(ref, tmp_path):
    soffice = require_soffice()
    filled = write_submission(tmp_path / "filled", ref, "GEO", 2026, {("TIP_OFF", "TOTAL"): -3})
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "ods", "--outdir", str(tmp_path / "sent"), str(filled)],
                       check=True, capture_output=True, timeout=180)
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "sent" / "GEO_2026.ods"), "--inputs", str(tmp_path / "none"), "--outputs", str(tmp_path / "outputs")])
    assert result.exit_code == 1, result.output
    assert "GEO_2026.ods: its feedback copy is made in the 2026 template" in result.stderr
    copy = openpyxl.load_workbook(tmp_path / "outputs" / "validation" / "GEO_2026_feedback.xlsx")
    data, template = copy[workbook_contract.DATA_SHEET], build_workbook(ref, "GEO", 2026)[workbook_contract.DATA_SHEET]
    assert data.protection.sheet and len(data.data_validations.dataValidation) == len(template.data_validations.dataValidation) > 0
    assert {k: d.width for k, d in data.column_dimensions.items()} == {k: d.width for k, d in template.column_dimensions.items()}
    assert data["E2"].value == -3 and "(value-negative)" in data["E2"].comment.text
