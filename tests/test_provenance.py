"""Provenance: the manifest lists every input and reference file with its sha256, the code and the counts."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from pipeline import __version__, provenance
from pipeline.settings import DEFAULT_SETTINGS


def test_manifest_lists_inputs_reference_files_settings_and_counts(tmp_path):
    (tmp_path / "GEO_2025.xlsx").write_bytes(b"not really a workbook")
    digest = hashlib.sha256(b"not really a workbook").hexdigest()
    manifest = provenance.build_manifest(
        year=2025, inputs_dir=tmp_path, input_hashes={"GEO_2025.xlsx": digest}, settings=DEFAULT_SETTINGS,
        counts={"files": 1}, options={"strict": True}, now=dt.datetime(2026, 2, 20, 9, 30, tzinfo=dt.UTC),
    )
    assert manifest["crimetrends_version"] == __version__
    assert manifest["created_utc"] == "2026-02-20T09:30:00Z"
    assert manifest["inputs"] == [{"file": "GEO_2025.xlsx", "sha256": digest}]
    assert manifest["settings"]["status_line"] == DEFAULT_SETTINGS.status_line
    assert manifest["counts"] == {"files": 1} and manifest["options"] == {"strict": True}
    reference = {r["file"]: r["sha256"] for r in manifest["reference"]}
    assert "pipeline/reference/indicators.csv" in reference and "pipeline/reference/population.csv" in reference
    path = provenance.REFERENCE_DIR / "indicators.csv"
    assert reference["pipeline/reference/indicators.csv"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_git_commit_is_a_commit_or_empty(tmp_path):
    commit = provenance.git_commit()
    assert commit == "" or re.fullmatch(r"[0-9a-f]{40}(\+modified)?", commit)
    assert provenance.git_commit(tmp_path) == ""  # not a checkout
