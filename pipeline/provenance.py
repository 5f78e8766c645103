"""Provenance: what a run was made from, for `<outputs>/<year>/manifest.json`.

Input: the facts of one run (the files read with their sha256, the settings, counts per stage).
Output: a JSON-ready dict. Anyone holding the manifest can check that a report was made from given
inputs, reference data and code: every input file and every reference file is listed with its sha256,
with the crimetrends version and, when the code runs from a git checkout, the commit.

The manifest is the one output that records when it was made (UTC time); the CSVs and the report's
XML parts stay identical between two runs on the same inputs, which tests check.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path

from pipeline import __version__
from pipeline.reference import REFERENCE_DIR

MANIFEST_NAME = "manifest.json"
PACKAGE_DIR = Path(__file__).resolve().parent


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in chunks: a large file costs time, never memory."""
    hasher = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def git_commit(folder: Path = PACKAGE_DIR) -> str:
    """The commit of the checkout the code runs from ('' when it is not one, or git is missing)."""
    try:
        result = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    commit = result.stdout.strip()
    if result.returncode != 0 or len(commit) != 40:
        return ""
    dirty = subprocess.run(
        ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no", "--", str(PACKAGE_DIR)],
        capture_output=True, text=True, timeout=10, check=False,
    )
    # Uncommitted changes to the pipeline itself mean the commit alone does not say what ran.
    return commit + ("+modified" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def reference_files() -> list[Path]:
    return sorted(p for p in REFERENCE_DIR.iterdir() if p.is_file() and not p.name.startswith("."))


def build_manifest(
    *,
    year: int,
    inputs_dir: Path,
    input_hashes: Mapping[str, str],
    settings: object,
    counts: Mapping[str, int],
    options: Mapping[str, object],
    now: dt.datetime | None = None,
) -> dict[str, object]:
    """The manifest of one run. `input_hashes` maps each input file (relative to `inputs_dir`) to its
    sha256, as read by the run; `counts` are per stage (files read, observations, findings...)."""
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    return {
        "crimetrends_version": __version__,
        "git_commit": git_commit(),
        "created_utc": when.isoformat().replace("+00:00", "Z"),
        "reporting_year": year,
        "inputs_folder": str(inputs_dir),
        "options": dict(options),
        "settings": asdict(settings) if is_dataclass(settings) else dict(settings),  # type: ignore[arg-type]
        "inputs": [{"file": name, "sha256": digest} for name, digest in sorted(input_hashes.items())],
        "reference": [{"file": f"pipeline/reference/{p.name}", "sha256": file_sha256(p)} for p in reference_files()],
        "counts": dict(counts),
    }
