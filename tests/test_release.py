"""Releases: a small run frozen as `draft`, then what may and may not happen to it, through the CLI
(`crimetrends release`) and the module's API (`load_release` checks every frozen file)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.release import Release, ReleaseError, latest_release, list_releases, load_release, make_release
from tests.conftest import write_submission

pytestmark = pytest.mark.slow

VALUES = {
    ("GEO", 2024): {("TIP_VIC", "TOTAL"): 12, ("TIP_OFF", "TOTAL"): 9},
    ("GEO", 2025): {("TIP_VIC", "TOTAL"): 15, ("TIP_OFF", "TOTAL"): 11},
    ("ARM", 2025): {("TIP_VIC", "TOTAL"): 40, ("TIP_OFF", "TOTAL"): 20},
}


@pytest.fixture(autouse=True)
def _outside_the_repository(tmp_path, monkeypatch):
    """The commands read crimetrends.toml from the current folder: none here."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def year_run(tmp_path, ref):
    """(inputs, outputs) after a run of 2025 without PDF."""
    inputs, outputs = tmp_path / "inputs", tmp_path / "outputs"
    for (iso3, year), values in VALUES.items():
        write_submission(inputs / str(year), ref, iso3, year, values, date=dt.date(year + 1, 2, 1))
    result = invoke("run", "--year", "2025", "--inputs", inputs, "--outputs", outputs, "--no-pdf")
    assert result.exit_code == 0, result.output
    return inputs, outputs


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def release(inputs, outputs, label, *more):
    return invoke("release", "--year", "2025", "--label", label, "--inputs", inputs, "--outputs", outputs, *more)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file and folder under `folder`: its bytes (files) and its permission bits."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else b"", stat.S_IMODE(p.stat().st_mode))
            for p in sorted([folder, *folder.rglob("*")])}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_release_freezes_the_years_outputs_read_only_with_their_hashes(year_run):
    inputs, outputs = year_run
    year_dir = outputs / "2025"
    result = release(inputs, outputs, "draft", "--note", "sent to the Working Group")
    assert result.exit_code == 0, result.output
    folder = year_dir / "releases" / "draft"
    frozen = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    tables = sorted(f"data/{p.name}" for p in (year_dir / "data").glob("*.csv"))
    assert "data/regional.csv" in tables
    assert frozen == sorted(["BSEC_Annual_Assessment_2025.docx", "BSEC_Annual_Assessment_2025_data.xlsx", "manifest.json",
                             "release.json", "status.csv", *tables])
    for name in frozen:
        if name != "release.json":
            assert (folder / name).read_bytes() == (year_dir / name).read_bytes(), name
    record = json.loads((folder / "release.json").read_text(encoding="utf-8"))
    assert record["label"] == "draft" and record["year"] == 2025 and record["note"] == "sent to the Working Group"
    assert dt.datetime.strptime(record["released_utc"], "%Y-%m-%dT%H:%M:%SZ")
    assert record["crimetrends_version"] == json.loads((year_dir / "manifest.json").read_text(encoding="utf-8"))["crimetrends_version"]
    assert record["run_manifest_sha256"] == sha256(year_dir / "manifest.json")
    assert record["files"] == [{"file": name, "sha256": sha256(folder / name)} for name in frozen if name != "release.json"]
    # Read-only: no write bit on any frozen file or folder (tests run as root, whom the bits do not stop).
    write_bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    assert [p.name for p in [folder, *folder.rglob("*")] if p.stat().st_mode & write_bits] == []
    assert (year_dir / "releases").stat().st_mode & stat.S_IWUSR, "releases/ itself takes the next label"
    assert sorted(p.name for p in (year_dir / "releases").iterdir()) == ["draft"], "no staging folder left"

    made = load_release(outputs, 2025, "draft")
    assert made == Release(label="draft", year=2025, released_utc=record["released_utc"], note="sent to the Working Group",
                           folder=folder, crimetrends_version=record["crimetrends_version"])
    assert latest_release(outputs, 2025) == made


def test_the_pdf_is_frozen_when_the_run_made_one(year_run):
    inputs, outputs = year_run
    (outputs / "2025" / "BSEC_Annual_Assessment_2025.pdf").write_bytes(b"%PDF-1.7 as LibreOffice made it")
    made = make_release(outputs, 2025, "draft", "", inputs)
    assert (made.folder / "BSEC_Annual_Assessment_2025.pdf").read_bytes() == b"%PDF-1.7 as LibreOffice made it"


def test_a_label_is_never_overwritten(year_run):
    inputs, outputs = year_run
    assert release(inputs, outputs, "draft").exit_code == 0
    releases = outputs / "2025" / "releases"
    before = snapshot(releases)
    result = release(inputs, outputs, "draft", "--note", "again")
    assert result.exit_code == 2, result.output
    assert "already has a release 'draft'" in result.stderr and "never replaced" in result.stderr
    assert snapshot(releases) == before


@pytest.mark.parametrize("label", ["", "../final", "final/1", ".hidden", "draft 2", "-x", "é", "a" * 65])
def test_a_label_that_is_not_a_plain_name_is_a_usage_error(year_run, label):
    inputs, outputs = year_run
    result = release(inputs, outputs, label)
    assert result.exit_code == 2, result.output
    assert "is not a release label" in result.stderr
    assert not (outputs / "2025" / "releases").exists()


def test_labels_with_dots_dashes_and_underscores_are_plain_names(year_run):
    inputs, outputs = year_run
    for label in ("corrigendum-1", "final_v2", "2026.02"):
        assert release(inputs, outputs, label).exit_code == 0
    assert sorted(r.label for r in list_releases(outputs, 2025)) == ["2026.02", "corrigendum-1", "final_v2"]


def test_a_year_without_a_run_has_no_release(tmp_path):
    result = invoke("release", "--year", "2025", "--label", "draft", "--inputs", tmp_path, "--outputs", tmp_path / "outputs")
    assert result.exit_code == 2, result.output
    assert "holds no run of 2025" in result.stderr and "crimetrends run --year 2025" in result.stderr
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("change", ["edited", "added", "removed", "history"])
def test_a_release_is_refused_when_the_inputs_changed_since_the_run(year_run, ref, change):
    inputs, outputs = year_run
    if change == "edited":
        write_submission(inputs / "2025", ref, "ARM", 2025, {("TIP_VIC", "TOTAL"): 41}, date=dt.date(2026, 2, 1))
        name, why = "2025/ARM_2025.xlsx", "changed"
    elif change == "added":
        write_submission(inputs / "2025", ref, "BGR", 2025, {("TIP_VIC", "TOTAL"): 5}, date=dt.date(2026, 2, 1))
        name, why = "2025/BGR_2025.xlsx", "is new"
    elif change == "removed":
        (inputs / "2024" / "GEO_2024.xlsx").unlink()
        name, why = "2024/GEO_2024.xlsx", "was removed"
    else:
        (inputs / "history").mkdir()
        (inputs / "history" / "glotip.csv").write_text("country_iso3,year\n", encoding="utf-8")
        name, why = "history/glotip.csv", "is new"
    result = release(inputs, outputs, "draft")
    assert result.exit_code == 2, result.output
    assert f"{name} {why}" in result.stderr and "run first" in result.stderr
    assert not (outputs / "2025" / "releases").exists()


def test_the_inputs_folder_given_must_exist(year_run, tmp_path):
    _, outputs = year_run
    with pytest.raises(ReleaseError, match="is not a folder"):
        make_release(outputs, 2025, "draft", "", tmp_path / "elsewhere")


def test_a_run_a_report_and_validate_leave_the_releases_byte_for_byte(year_run, ref):
    inputs, outputs = year_run
    assert release(inputs, outputs, "draft").exit_code == 0
    releases = outputs / "2025" / "releases"
    before = snapshot(releases)
    write_submission(inputs / "2025", ref, "ARM", 2025, {("TIP_VIC", "TOTAL"): 44, ("TIP_OFF", "TOTAL"): 20}, date=dt.date(2026, 3, 1))
    result = invoke("run", "--year", "2025", "--inputs", inputs, "--outputs", outputs, "--no-pdf")
    assert result.exit_code == 0, result.output
    assert snapshot(releases) == before
    assert (outputs / "2025" / "data" / "regional.csv").read_bytes() != (releases / "draft" / "data" / "regional.csv").read_bytes()
    result = invoke("report", "--year", "2025", "--outputs", outputs, "--no-pdf")
    assert result.exit_code == 0, result.output
    assert snapshot(releases) == before
    result = invoke("validate", "--year", "2025", "--inputs", inputs, "--outputs", outputs)
    assert result.exit_code == 0, result.output
    assert snapshot(releases) == before
    assert load_release(outputs, 2025, "draft").label == "draft"
    assert sorted(p.name for p in outputs.iterdir()) == [".2025.lock", "2025"], "nothing left beside the year folder"
    # and the new run can be released in turn
    assert release(inputs, outputs, "final").exit_code == 0
    assert [r.label for r in list_releases(outputs, 2025)] == ["draft", "final"]


def test_releases_left_aside_by_a_killed_swap_are_put_back(year_run):
    inputs, outputs = year_run
    assert release(inputs, outputs, "draft").exit_code == 0
    before = snapshot(outputs / "2025" / "releases")
    # killed between the two renames of the swap: the new folder in place, the releases still in the old one
    os.rename(outputs / "2025", outputs / ".2025.previous")
    (outputs / "2025").mkdir()
    result = invoke("run", "--year", "2025", "--inputs", inputs, "--outputs", outputs, "--no-pdf")
    assert result.exit_code == 0, result.output
    assert snapshot(outputs / "2025" / "releases") == before
    assert not (outputs / ".2025.previous").exists()


# -- a damaged release is named, never repaired ------------------------------------------------------
@pytest.fixture
def draft(year_run):
    inputs, outputs = year_run
    return outputs, make_release(outputs, 2025, "draft", "for the Working Group", inputs)


def _writable(path: Path) -> None:
    os.chmod(path, stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)


def test_an_edited_frozen_file_is_named(draft):
    outputs, made = draft
    target = made.folder / "data" / "regional.csv"
    _writable(target)
    target.write_text(target.read_text(encoding="utf-8").replace("15", "16"), encoding="utf-8")
    before = snapshot(made.folder)
    with pytest.raises(ReleaseError, match=r"regional\.csv no longer matches its sha256"):
        load_release(outputs, 2025, "draft")
    assert snapshot(made.folder) == before, "a damaged release is named, never repaired"
    with pytest.raises(ReleaseError, match=r"regional\.csv no longer matches"):
        latest_release(outputs, 2025)


def test_a_missing_or_added_file_is_named(draft):
    outputs, made = draft
    _writable(made.folder)
    (made.folder / "notes.txt").write_text("added by hand", encoding="utf-8")
    with pytest.raises(ReleaseError, match=r"notes\.txt was added"):
        load_release(outputs, 2025, "draft")
    (made.folder / "notes.txt").unlink()
    (made.folder / "status.csv").unlink()
    with pytest.raises(ReleaseError, match=r"status\.csv is missing"):
        load_release(outputs, 2025, "draft")


def test_an_unknown_label_names_the_labels_there_are(draft):
    outputs, _ = draft
    with pytest.raises(ReleaseError, match=r"no release 'final'.*its releases are draft"):
        load_release(outputs, 2025, "final")
    with pytest.raises(ReleaseError, match=r"no release 'draft'.*it has no release"):
        load_release(outputs, 2024, "draft")


@pytest.mark.parametrize("damage", ["missing", "unreadable", "other year"])
def test_a_release_json_missing_unreadable_or_of_another_year_is_named(draft, damage):
    outputs, made = draft
    record = made.folder / "release.json"
    _writable(made.folder)
    _writable(record)
    if damage == "missing":
        record.unlink()
        expected = "has no release.json"
    elif damage == "unreadable":
        record.write_text("{not json", encoding="utf-8")
        expected = "cannot be read"
    else:
        record.write_text(record.read_text(encoding="utf-8").replace('"year": 2025', '"year": 2024'), encoding="utf-8")
        expected = "is a release of 2024, not of 2025"
    with pytest.raises(ReleaseError, match=expected):
        load_release(outputs, 2025, "draft")
    result = invoke("release", "--year", "2025", "--list", "--outputs", outputs)
    assert result.exit_code == 2 and expected in result.stderr, result.output


# -- listing -----------------------------------------------------------------------------------------
def test_list_prints_label_date_and_note_oldest_first(year_run):
    inputs, outputs = year_run
    result = invoke("release", "--year", "2025", "--list", "--outputs", outputs)
    assert result.exit_code == 0, result.output
    assert result.stdout == "2025 has no release yet (make one with: crimetrends release --year 2025 --label draft)\n"
    assert release(inputs, outputs, "draft", "--note", "sent to the\nWorking Group").exit_code == 0
    assert release(inputs, outputs, "final-1").exit_code == 0
    releases = list_releases(outputs, 2025)
    assert releases[0].note == "sent to the\nWorking Group"
    result = invoke("release", "--year", "2025", "--list", "--outputs", outputs)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"draft    {releases[0].released_utc}  sent to the Working Group", f"final-1  {releases[1].released_utc}"]


def test_releases_sort_by_time_then_label(year_run):
    inputs, outputs = year_run
    for label in ("b", "a", "c"):
        make_release(outputs, 2025, label, "", inputs)
    # the same second for all three would order them by label; make the times differ by hand
    for label, when in (("b", "2026-02-01T10:00:00Z"), ("a", "2026-02-03T10:00:00Z"), ("c", "2026-02-02T10:00:00Z")):
        record = outputs / "2025" / "releases" / label / "release.json"
        os.chmod(record, 0o644)
        content = json.loads(record.read_text(encoding="utf-8"))
        record.write_text(json.dumps({**content, "released_utc": when}), encoding="utf-8")
    assert [r.label for r in list_releases(outputs, 2025)] == ["b", "c", "a"]
    assert list_releases(outputs, 2024) == []
    assert latest_release(outputs, 2024) is None


def test_label_or_list_is_needed_and_not_both(year_run):
    _, outputs = year_run
    assert invoke("release", "--year", "2025", "--outputs", outputs).exit_code == 2
    assert invoke("release", "--year", "2025", "--list", "--label", "draft", "--outputs", outputs).exit_code == 2
