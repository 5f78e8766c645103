"""Changes since a release: which published figures changed, and why, from provenance only.

The story of the issue end to end through the command line: a draft of 2026 is released; then Armenia
sends a corrected workbook with a later date, Georgia revises its 2025 figure (the Previous year value
column), and the population reference is updated for Azerbaijan. The run lists exactly the figures
these touch, each with its cause and evidence, and nothing else; the report's Annex F says the same;
a run with no change lists nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import docx
import pandas as pd
import pytest
from click.testing import CliRunner
from docx.table import Table
from docx.text.paragraph import Paragraph

from pipeline import changes, cli, output_files, provenance
from pipeline.changes import Snapshot, compare
from pipeline.cli import main
from pipeline.reference import REFERENCE_DIR, load_reference
from pipeline.release import make_release
from tests.conftest import write_submission

VIC = ("TIP_VIC", "TOTAL")
REPORT = "BSEC_Annual_Assessment_2026.docx"


def _run(inputs: Path, outputs: Path, *extra: str):
    result = CliRunner().invoke(main, ["run", "--year", "2026", "--inputs", str(inputs), "--outputs", str(outputs), "--no-pdf", *extra])
    assert result.exit_code == 0, result.output
    return result


def _changes(outputs: Path) -> pd.DataFrame:
    return output_files.read_csv(outputs / "2026" / "data" / "changes.csv")


def _figures(frame: pd.DataFrame) -> dict[tuple, set[str]]:
    """(level, state, year, measure) -> its causes."""
    return {(r.level, r.country_iso3 if isinstance(r.country_iso3, str) else "", int(r.year), r.measure): {c.strip() for c in r.cause.split(";")}
            for r in frame.itertuples(index=False)}


def _population_updated(tmp_path: Path, iso3: str, year: int, population: int) -> Path:
    """A copy of the reference folder whose population.csv gives `iso3` another figure for `year`."""
    folder = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, folder)
    path = folder / "population.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert any(r["country_iso3"] == iso3 and int(r["year"]) == year for r in rows)
    for row in rows:
        if row["country_iso3"] == iso3 and int(row["year"]) == year:
            row["population"] = str(population)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def _annex_f(path: Path) -> list[str]:
    """Annex F of a report as lines: paragraphs, and table rows as 'a | b | c'."""
    document = docx.Document(str(path))
    lines, inside = [], False
    for element in document.element.body.iterchildren():
        if element.tag.endswith("}p"):
            paragraph = Paragraph(element, document)
            if paragraph.style.name == "Heading 1":
                inside = paragraph.text.startswith("Annex F.")
            if inside and paragraph.text.strip():
                lines.append(paragraph.text)
        elif element.tag.endswith("}tbl") and inside:
            lines += [" | ".join(cell.text for cell in row.cells) for row in Table(element, document).rows]
    return lines


@pytest.fixture
def draft(tmp_path, ref):
    """Three states' 2025 and 2026 workbooks, run and released as draft-1."""
    inputs, outputs = tmp_path / "inputs", tmp_path / "outputs"
    for iso3, (v2025, v2026) in {"GEO": (10, 12), "ARM": (20, 25), "AZE": (30, 33)}.items():
        write_submission(inputs / "2025", ref, iso3, 2025, {VIC: v2025})
        write_submission(inputs / "2026", ref, iso3, 2026, {VIC: v2026})
    _run(inputs, outputs)
    make_release(outputs, 2026, "draft-1", "sent to the Working Group", inputs)
    return inputs, outputs


def test_without_a_release_changes_csv_has_its_header_only_and_the_run_says_so(tmp_path, ref):
    inputs, outputs = tmp_path / "inputs", tmp_path / "outputs"
    write_submission(inputs / "2026", ref, "GEO", 2026, {VIC: 12})
    result = _run(inputs, outputs)
    assert "No release of 2026 to compare with" in result.output
    assert (outputs / "2026" / "data" / "changes.csv").read_text(encoding="utf-8").strip() == ",".join(changes.COLUMNS)
    assert not [line for line in _annex_f(outputs / "2026" / REPORT)], "no release: no Annex F"
    result = CliRunner().invoke(main, ["changes", "--year", "2026", "--outputs", str(outputs)])
    assert result.exit_code == 0 and "No release of 2026 to compare with" in result.output


def test_the_changes_since_a_draft_are_exactly_the_figures_a_resubmission_a_revision_and_a_population_update_touch(draft, ref, tmp_path, monkeypatch):
    inputs, outputs = draft
    write_submission(inputs / "2026", ref, "ARM", 2026, {VIC: 27}, name="ARM_2026_v2.xlsx", date=dt.date(2026, 3, 1))
    write_submission(inputs / "2026", ref, "GEO", 2026, {VIC: 12}, name="GEO_2026_rev.xlsx", date=dt.date(2026, 3, 5), previous={VIC: 11})
    updated = _population_updated(tmp_path, "AZE", 2024, 10_500_000)
    monkeypatch.setattr(cli, "load_reference", lambda: load_reference(updated))
    monkeypatch.setattr(provenance, "REFERENCE_DIR", updated)
    result = _run(inputs, outputs)
    assert "Compared with release draft-1" in result.output

    found = _changes(outputs)
    resubmission, revision, population = {"resubmission"}, {"revision"}, {"population-update"}
    assert _figures(found) == {
        ("regional", "", 2025, "total"): revision,
        ("regional", "", 2025, "rate_per_100k"): revision | population,
        ("regional", "", 2026, "total"): resubmission,
        ("regional", "", 2026, "rate_per_100k"): resubmission | population,
        ("regional", "", 2026, "change_pct"): resubmission | revision,
        ("regional", "", 2026, "change_pct_same_reporters"): resubmission | revision,
        ("national", "ARM", 2026, "value"): resubmission,
        ("national", "ARM", 2026, "rate_per_100k"): resubmission,
        ("national", "ARM", 2026, "change_pct"): resubmission,
        ("national", "GEO", 2025, "value"): revision,
        ("national", "GEO", 2025, "rate_per_100k"): revision,
        ("national", "GEO", 2026, "change_pct"): revision,
        ("national", "AZE", 2025, "rate_per_100k"): population,
        ("national", "AZE", 2026, "rate_per_100k"): population,
    }
    observations = output_files.read_csv(outputs / "2026" / "data" / "observations.csv").set_index(["country_iso3", "year", "indicator", "breakdown"])
    arm_cell, geo_cell = observations.loc[("ARM", 2026, *VIC), "cell"], observations.loc[("GEO", 2025, *VIC), "cell"]
    assert observations.loc[("GEO", 2025, *VIC), "source_file"] == "2026/GEO_2026_rev.xlsx"
    row = found.fillna({"country_iso3": ""}).set_index(["level", "country_iso3", "year", "measure"])
    arm = row.loc[("national", "ARM", 2026, "value")]
    assert (arm.old_value, arm.new_value, arm.old_status, arm.new_status) == (25, 27, "reported", "reported")
    assert (f"2026/ARM_2026_v2.xlsx Data!{arm_cell} (Cover date 2026-03-01) replaces 2026/ARM_2026.xlsx (Cover date 2026-02-01)"
            in arm.evidence)
    geo = row.loc[("national", "GEO", 2025, "value")]
    assert (geo.old_value, geo.new_value) == (10, 11) and f"revised in 2026/GEO_2026_rev.xlsx Data!{geo_cell}" in geo.evidence
    aze = row.loc[("national", "AZE", 2026, "rate_per_100k")]
    assert "pipeline/reference/population.csv: AZE 2024" in aze.evidence and "→ 10,500,000" in aze.evidence
    assert aze.new_value == pytest.approx(33 / 10_500_000 * 100_000, abs=1e-6)
    regional_change = row.loc[("regional", "", 2026, "change_pct_same_reporters")].evidence
    assert "ARM TIP_VIC 2026: 25 → 27" in regional_change and "GEO TIP_VIC 2025: 10 → 11" in regional_change, "the national figures behind it"

    annex = _annex_f(outputs / "2026" / REPORT)
    released = dt.date.today()
    assert annex[0] == f"Annex F. Changes since draft-1 of {released.day} {released:%B} {released.year}"
    assert annex[1].startswith("14 published figures changed since draft-1")
    assert annex[4:7] == ["resubmission | a submission replaced by a later one | 7", "revision | an earlier-year figure revised by a state | 7",
                          "population-update | a population reference update | 4"]
    figure_rows = [line for line in annex if line.startswith(("BSEC region:", "Armenia:", "Georgia:", "Azerbaijan:"))]
    assert len(figure_rows) == len(found)
    assert "Armenia: Identified victims of trafficking in persons, 2026 | value | 25 | 27 | " in "\n".join(annex)
    assert "Trafficking in persons: a submission replaced by a later one and an earlier-year figure revised by a state" in annex
    # The data annex holds the same table.
    sheet = pd.read_excel(outputs / "2026" / "BSEC_Annual_Assessment_2026_data.xlsx", sheet_name="Changes", engine="calamine")
    assert len(sheet) == len(found) and set(sheet["cause"]) == set(found["cause"])

    # At the desk: the same comparison, printed, nothing written.
    before = {p: p.read_bytes() for p in (outputs / "2026").rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, ["changes", "--year", "2026", "--outputs", str(outputs)])
    assert result.exit_code == 0, result.output
    assert "14 published figure(s) of 2026 changed since release draft-1" in result.output
    assert {p: p.read_bytes() for p in (outputs / "2026").rglob("*") if p.is_file()} == before


def test_a_run_with_no_change_since_the_release_lists_nothing_and_the_annex_says_so_in_one_sentence(draft):
    inputs, outputs = draft
    _run(inputs, outputs)
    assert _changes(outputs).empty
    today = dt.date.today()
    assert _annex_f(outputs / "2026" / REPORT) == [
        f"Annex F. Changes since draft-1 of {today.day} {today:%B} {today.year}",
        f"No published figure changed since draft-1 of {today.day} {today:%B} {today.year}.",
    ]
    result = CliRunner().invoke(main, ["changes", "--year", "2026", "--outputs", str(outputs)])
    assert result.exit_code == 0 and "No published figure of 2026 changed since release draft-1" in result.output


def test_report_compares_the_stored_data_with_the_latest_release_or_the_one_named(draft, ref):
    inputs, outputs = draft
    write_submission(inputs / "2026", ref, "ARM", 2026, {VIC: 27}, name="ARM_2026_v2.xlsx", date=dt.date(2026, 3, 1))
    _run(inputs, outputs)
    make_release(outputs, 2026, "final", "", inputs)
    result = CliRunner().invoke(main, ["report", "--year", "2026", "--outputs", str(outputs), "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert _changes(outputs).empty, "the latest release, final, holds these very figures"
    result = CliRunner().invoke(main, ["report", "--year", "2026", "--outputs", str(outputs), "--no-pdf", "--against", "draft-1"])
    assert result.exit_code == 0, result.output
    assert set(_changes(outputs)["cause"]) == {"resubmission"}
    assert _annex_f(outputs / "2026" / REPORT)[0].startswith("Annex F. Changes since draft-1 of ")


@pytest.mark.parametrize("command", ["run", "report", "changes"])
def test_an_unknown_label_is_a_usage_error_naming_the_releases_there_are(draft, command):
    inputs, outputs = draft
    args = {"run": ["--inputs", str(inputs), "--no-pdf"], "report": ["--no-pdf"], "changes": []}[command]
    before = {p: p.read_bytes() for p in (outputs / "2026").rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, [command, "--year", "2026", "--outputs", str(outputs), "--against", "draft-9", *args])
    assert result.exit_code == 2, result.output
    assert "'draft-9'" in result.output and "draft-1" in result.output and "Traceback" not in result.output
    assert {p: p.read_bytes() for p in (outputs / "2026").rglob("*") if p.is_file()} == before


def test_an_edited_release_is_named_and_never_modified(draft):
    _, outputs = draft
    frozen = outputs / "2026" / "releases" / "draft-1" / "data" / "regional.csv"
    frozen.chmod(0o644)
    frozen.write_text(frozen.read_text(encoding="utf-8").replace("TIP_VIC", "TIP_VIX"), encoding="utf-8")
    edited = frozen.read_bytes()
    result = CliRunner().invoke(main, ["changes", "--year", "2026", "--outputs", str(outputs)])
    assert result.exit_code == 2 and "damaged" in result.output and "regional.csv" in result.output
    assert frozen.read_bytes() == edited


# -- the comparison on hand-made tables ---------------------------------------------------------------
def _snapshot(observations: list[dict], country: list[dict], submissions: list[dict], manifest: dict | None = None,
              coverage: list[dict] | None = None) -> Snapshot:
    return Snapshot({"observations": pd.DataFrame(observations), "regional": pd.DataFrame(), "country": pd.DataFrame(country),
                     "coverage": pd.DataFrame(coverage or []), "revisions": pd.DataFrame(), "submissions": pd.DataFrame(submissions)}, manifest or {})


def _obs(iso3: str, value: float | None, *, status: str = "reported", flags: str = "", file: str = "2026/GEO_2026.xlsx", sheet: str = "Data",
         cell: str = "E15", origin: str = "submission", source: str = "") -> dict:
    return {"country_iso3": iso3, "year": 2026, "indicator": "TIP_VIC", "breakdown": "TOTAL", "value": value, "status": status, "flags": flags,
            "source_file": file, "sheet": sheet, "cell": cell, "origin": origin, "source": source}


def _national(iso3: str, value: float | None, *, status: str = "reported", flags: str = "") -> dict:
    return {"country_iso3": iso3, "indicator": "TIP_VIC", "breakdown": "TOTAL", "year": 2026, "value": value, "status": status,
            "rate_per_100k": None, "change_pct": None, "flags": flags, "rate_flags": "", "population": None}


def _file(name: str, sha: str = "a" * 64, status: str = "accepted", date: str = "2026-02-01") -> dict:
    return {"file": name, "status": status, "reason": "", "date_submitted": date, "sha256": sha}


def test_an_imported_history_file_is_the_cause_of_the_figure_it_brings():
    old = _snapshot([], [], [])
    # A history value names the published file it was read from; the evidence adds the file it was imported into.
    new = _snapshot([_obs("GEO", 9.0, file="data_glotip.xlsx", sheet="data_glotip_1", cell="L218", origin="history", source="UNODC GLOTIP")],
                    [_national("GEO", 9.0)], [_file("history/unodc_glotip.csv", status="history")])
    found = compare(old, new)
    assert found[["measure", "cause"]].values.tolist() == [["value", "history-import"]]
    assert found["evidence"][0] == "GEO TIP_VIC 2026: none → 9, data_glotip.xlsx data_glotip_1!L218 (UNODC GLOTIP), imported in history/unodc_glotip.csv"


def test_a_late_submission_is_a_new_file_behind_the_value_and_the_coverage_it_brings():
    coverage = {"country_iso3": "AZE", "indicator": "TIP_VIC", "year": 2026, "origin": ""}
    old = _snapshot([], [_national("AZE", None, status="not_available")], [], coverage=[{**coverage, "coverage": "no_submission"}])
    new = _snapshot([_obs("AZE", 33.0, file="2026/AZE_2026.xlsx")], [_national("AZE", 33.0)], [_file("2026/AZE_2026.xlsx", date="2026-03-10")],
                    coverage=[{**coverage, "coverage": "reported", "origin": "submission"}])
    found = compare(old, new)
    assert found[["level", "measure", "old_status", "new_status", "cause"]].values.tolist() == [
        ["national", "value", "not_available", "reported", "new-file"], ["coverage", "coverage", "no_submission", "reported", "new-file"]]
    assert found["evidence"][1] == "AZE TIP_VIC 2026: none → 33, 2026/AZE_2026.xlsx Data!E15 (Cover date 2026-03-10) is new"


def test_a_removed_file_is_the_cause_of_the_figures_that_went_with_it():
    old = _snapshot([_obs("GEO", 12.0)], [_national("GEO", 12.0)], [_file("2026/GEO_2026.xlsx")])
    new = _snapshot([], [_national("GEO", None, status="not_available")], [])
    found = compare(old, new)
    assert found[["old_value", "new_status", "cause"]].values.tolist() == [[12.0, "not_available", "removed-file"]]
    assert "2026/GEO_2026.xlsx removed" in found["evidence"][0]


def test_a_figure_whose_inputs_did_not_change_is_put_down_to_the_changed_setting_version_or_reference_file():
    manifest = {"crimetrends_version": "1.0", "settings": {"status_line": "Draft", "validation": {"max_change": 50}},
                "reference": [{"file": "pipeline/reference/flags.csv", "sha256": "1"}]}
    changed = {"crimetrends_version": "1.1", "settings": {"status_line": "Final", "validation": {"max_change": 80}},
               "reference": [{"file": "pipeline/reference/flags.csv", "sha256": "2"}]}
    files = [_file("2026/GEO_2026.xlsx")]
    old = _snapshot([_obs("GEO", 12.0)], [_national("GEO", 12.0, flags="")], files, manifest)
    new = _snapshot([_obs("GEO", 12.0)], [_national("GEO", 12.0, flags="u")], files, changed)
    found = compare(old, new)
    assert found["cause"].tolist() == ["settings-change; version-change; reference-change"]
    assert "validation.max_change 50 → 80" in found["evidence"][0] and "status_line" not in found["evidence"][0], "how the report reads changes no figure"
    assert "crimetrends 1.0 → 1.1" in found["evidence"][0] and "pipeline/reference/flags.csv" in found["evidence"][0]
    assert compare(old, _snapshot([_obs("GEO", 12.0)], [_national("GEO", 12.0, flags="u")], files, manifest))["cause"].tolist() == ["other"]


def test_a_confidential_value_is_never_shown_in_the_evidence():
    files = [_file("2026/GEO_2026.xlsx", sha="a" * 64), _file("2026/GEO_2026_v2.xlsx", sha="b" * 64, date="2026-03-01")]
    old = _snapshot([_obs("GEO", 3.0, status="confidential", flags="C")], [_national("GEO", None, status="confidential", flags="C")], files[:1])
    new = _snapshot([_obs("GEO", 12.0, file="2026/GEO_2026_v2.xlsx")], [_national("GEO", 12.0)], files)
    found = compare(old, new)
    assert found["cause"].tolist() == ["resubmission"]
    assert found["evidence"][0].startswith("GEO TIP_VIC 2026: confidential → 12, 2026/GEO_2026_v2.xlsx Data!E15")


def test_the_largest_changes_rank_by_the_change_as_a_percentage_of_the_old_figure():
    frame = pd.DataFrame([
        {"measure": "value", "old_value": 1000.0, "new_value": 1100.0, "difference": 100.0},
        {"measure": "value", "old_value": 10.0, "new_value": 15.0, "difference": 5.0},
        {"measure": "change_pct", "old_value": 5.0, "new_value": 25.0, "difference": 20.0},
        {"measure": "value", "old_value": None, "new_value": 7.0, "difference": None},
    ])
    assert changes.largest(frame, 3)["new_value"].tolist() == [7.0, 15.0, 25.0]
