"""Releases: the year's outputs as they were circulated (a draft, the final, a corrigendum), frozen.

Input: a finished run of a year (`<outputs>/<year>/`, its manifest) and the inputs folder it was made
from. Output: `<outputs>/<year>/releases/<LABEL>/` holding copies of the report (.docx, and .pdf when
there is one), the data annex, `data/*.csv`, the run's `manifest.json`, `status.csv` when there is
one, and `release.json`: the label, year, time (UTC), note, crimetrends version, the run manifest's
sha256 and every frozen file with its sha256.

A label is made once and never overwritten; its files and folders are read-only; a run or a report
moves `releases/` into the year's new folder untouched (`pipeline.atomic.KEPT_IN_YEAR_DIR`). A release
is refused when the inputs no longer are those of the run (a file changed, added or removed since):
the frozen report would not be what a run gives. Reading a release back (`load_release`) checks every
file against release.json, so an edited or damaged release is never taken for what was circulated.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from pipeline import __version__, annex, ingest, output_files, provenance, report
from pipeline.atomic import RELEASES_DIR, outputs_lock, restore_interrupted, staged_dir, write_atomically
from pipeline.errors import PipelineError

RELEASE_FILE = "release.json"
STATUS_FILE = "status.csv"
LABEL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
READ_ONLY = ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


class ReleaseError(PipelineError):
    """A release cannot be made or read: an unknown or taken label, a damaged release folder, no run
    of the year, inputs changed since the run. The user's to fix: exit code 2."""


@dataclass(frozen=True)
class Release:
    """One frozen release of a year, as its release.json says."""

    label: str
    year: int
    released_utc: str
    note: str
    folder: Path
    crimetrends_version: str


def releases_dir(outputs_dir: Path, year: int) -> Path:
    """`<outputs>/<year>/releases/`."""
    return Path(outputs_dir) / str(year) / RELEASES_DIR


def check_label(label: str) -> str:
    """`label` when it is a short safe folder name (letters, digits, `-`, `_`, `.`, not starting with
    a `.` or `-`, at most 64 characters: `draft`, `final`, `corrigendum-1`), else a ReleaseError."""
    if not LABEL_PATTERN.fullmatch(label or ""):
        raise ReleaseError(f"{label!r} is not a release label: use letters, digits, '-', '_' and '.' (at most 64, starting with a letter or digit), "
                           "for example draft, final or corrigendum-1")
    return label


# -- reading ---------------------------------------------------------------------------------------
def list_releases(outputs_dir: Path, year: int) -> list[Release]:
    """The releases of `year`, oldest first (by time, then label), as their release.json say (the
    files are not checked: `load_release` does). A release folder whose release.json is missing,
    unreadable or of another year is a ReleaseError naming it."""
    folder = releases_dir(outputs_dir, year)
    if not folder.is_dir():
        return []
    found = [_read_release(path, year) for path in sorted(folder.iterdir()) if path.is_dir() and not path.name.startswith(".")]
    return sorted(found, key=lambda r: (r.released_utc, r.label))


def latest_release(outputs_dir: Path, year: int) -> Release | None:
    """The newest release of `year`, checked as `load_release` checks it; None when there is none."""
    releases = list_releases(outputs_dir, year)
    return load_release(outputs_dir, year, releases[-1].label) if releases else None


def load_release(outputs_dir: Path, year: int, label: str) -> Release:
    """The release `label` of `year`, after checking every file in it against its release.json.

    A ReleaseError (never a modification) for an unknown label (naming those that exist), a
    release.json missing, unreadable or of another year, a file whose sha256 differs, a file missing
    or a file added since the release was made.
    """
    folder = releases_dir(outputs_dir, year) / label
    if not LABEL_PATTERN.fullmatch(label or "") or not folder.is_dir():
        labels = [r.label for r in list_releases(outputs_dir, year)]
        known = f"its releases are {', '.join(labels)}" if labels else "it has no release"
        raise ReleaseError(f"{year} has no release {label!r} in {releases_dir(outputs_dir, year)}: {known}")
    release = _read_release(folder, year)
    recorded = {entry["file"]: entry["sha256"] for entry in _release_json(folder, year)["files"]}
    present = set(_frozen_files(folder))
    for name in sorted(set(recorded) | present):
        if name not in present:
            raise ReleaseError(f"release {label} of {year} is damaged: {folder / name} is missing (release.json lists it)")
        if name not in recorded:
            raise ReleaseError(f"release {label} of {year} is damaged: {folder / name} was added (release.json does not list it)")
        if provenance.file_sha256(folder / name) != recorded[name]:
            raise ReleaseError(f"release {label} of {year} is damaged: {folder / name} no longer matches its sha256 in release.json (edited since the release)")
    return release


def _release_json(folder: Path, year: int) -> dict:
    path = folder / RELEASE_FILE
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReleaseError(f"{folder} is not a release: it has no {RELEASE_FILE}") from None
    except (OSError, ValueError) as err:
        raise ReleaseError(f"{path} cannot be read ({err}): the release is damaged") from err
    fields = ("label", "year", "released_utc", "note", "crimetrends_version", "files")
    if not isinstance(content, dict) or any(f not in content for f in fields) or not isinstance(content["files"], list) \
            or not all(isinstance(e, dict) and {"file", "sha256"} <= set(e) for e in content["files"]):
        raise ReleaseError(f"{path} cannot be read (it lacks {', '.join(fields)} or a file's sha256): the release is damaged")
    if content["year"] != year:
        raise ReleaseError(f"{path} is a release of {content['year']}, not of {year}: it does not belong in {folder.parent}")
    if content["label"] != folder.name:
        raise ReleaseError(f"{path} is labelled {content['label']!r}, not {folder.name!r}: the release folder was renamed")
    return content


def _read_release(folder: Path, year: int) -> Release:
    content = _release_json(folder, year)
    return Release(label=content["label"], year=content["year"], released_utc=content["released_utc"], note=content["note"],
                   folder=folder, crimetrends_version=content["crimetrends_version"])


def _frozen_files(folder: Path) -> list[str]:
    """Every file in a release folder but release.json, relative, with / separators."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir() and p != folder / RELEASE_FILE)


# -- making ----------------------------------------------------------------------------------------
def make_release(outputs_dir: Path, year: int, label: str, note: str, inputs_dir: Path) -> Release:
    """Freeze the year's current outputs as release `label` (see the module's docstring) and return it.

    ReleaseError when the label is not a safe name or is taken, when `<outputs>/<year>` holds no run
    (no manifest.json or no report), or when a file in `inputs_dir` changed, appeared or went since
    the run (run first). Holds the year's outputs lock: never while a run writes the year.
    """
    check_label(label)
    outputs_dir = Path(outputs_dir)
    year_dir = outputs_dir / str(year)
    manifest_path = year_dir / provenance.MANIFEST_NAME
    if not manifest_path.is_file():
        raise ReleaseError(f"{year_dir} holds no run of {year} (no {provenance.MANIFEST_NAME}): run `crimetrends run --year {year}` first")
    with outputs_lock(outputs_dir, year):
        restore_interrupted(outputs_dir, year)
        target = releases_dir(outputs_dir, year) / label
        if target.exists():
            labels = [r.label for r in list_releases(outputs_dir, year)]
            raise ReleaseError(f"{year} already has a release {label!r} ({target}); a release is never replaced: choose another label "
                               f"(releases of {year}: {', '.join(labels) or label})")
        manifest_bytes = manifest_path.read_bytes()
        try:
            manifest = json.loads(manifest_bytes)
        except ValueError as err:
            raise ReleaseError(f"{manifest_path} cannot be read ({err}): run `crimetrends run --year {year}` again") from err
        _require_same_inputs(manifest, Path(inputs_dir), year)
        files = _files_to_freeze(year_dir, year)
        released = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        with staged_dir(target) as staging:
            for name in files:
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(year_dir / name, staging / name)
            content = {
                "label": label,
                "year": year,
                "released_utc": released,
                "note": note,
                "crimetrends_version": __version__,
                "run_manifest_sha256": provenance.file_sha256(staging / provenance.MANIFEST_NAME),
                "files": [{"file": name, "sha256": provenance.file_sha256(staging / name)} for name in files],
            }
            write_atomically(staging / RELEASE_FILE, (json.dumps(content, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
            _make_read_only(staging)
    return Release(label=label, year=year, released_utc=released, note=note, folder=target, crimetrends_version=__version__)


def _files_to_freeze(year_dir: Path, year: int) -> list[str]:
    """What a release holds, relative to the year folder: the report (and its PDF), the data annex,
    data/*.csv, manifest.json and status.csv, those that exist; the report is required."""
    report_name = report.REPORT_FILENAME.format(year=year)
    if not (year_dir / report_name).is_file():
        raise ReleaseError(f"{year_dir} has no report ({report_name}): run `crimetrends run --year {year}` first")
    names = [report_name, Path(report_name).with_suffix(".pdf").name, annex.annex_path(Path("."), year).name, provenance.MANIFEST_NAME, STATUS_FILE]
    names += [f"{output_files.DATA_DIR}/{p.name}" for p in sorted((year_dir / output_files.DATA_DIR).glob("*.csv"))]
    return sorted(name for name in names if (year_dir / name).is_file())


def _make_read_only(folder: Path) -> None:
    """Take every write permission off the files and folders under `folder`, the folder last."""
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        os.chmod(path, stat.S_IMODE(path.stat().st_mode) & READ_ONLY)
    os.chmod(folder, stat.S_IMODE(folder.stat().st_mode) & READ_ONLY)


def _require_same_inputs(manifest: dict, inputs_dir: Path, year: int) -> None:
    """A ReleaseError naming the first input file (in name order) that changed, is new or was removed
    since the run whose manifest this is: its inputs as the run hashes them (every file `ingest`
    discovers, and the published history under `<inputs>/history/`)."""
    if not inputs_dir.is_dir():
        raise ReleaseError(f"{inputs_dir} is not a folder: give --inputs the folder the run of {year} read")
    then = {entry["file"]: entry["sha256"] for entry in manifest.get("inputs", [])}
    now = current_inputs(inputs_dir)
    for name in sorted(set(then) | set(now)):
        if name not in now:
            why = f"{name} was removed from {inputs_dir}"
        elif name not in then:
            why = f"{name} is new in {inputs_dir}"
        elif now[name] != then[name]:
            why = f"{name} changed in {inputs_dir}"
        else:
            continue
        made = manifest.get("created_utc", "")
        raise ReleaseError(f"the inputs of {year} changed since its run{f' of {made}' if made else ''}: {why}; "
                           f"run first (`crimetrends run --year {year}`), then make the release")


def current_inputs(inputs_dir: Path) -> dict[str, str]:
    """Every file the run would hash, relative to `inputs_dir`, with its sha256 as the manifest records
    it ('' for a link, a special file or a file that cannot be read)."""
    found = {}
    for path in ingest.discover_files(inputs_dir):
        found[path.relative_to(inputs_dir).as_posix()] = _sha256_or_blank(path)
    history = inputs_dir / ingest.HISTORY_DIR
    if history.is_dir():
        for path in history.rglob("*"):
            if path.is_file() and not path.is_symlink():
                found[path.relative_to(inputs_dir).as_posix()] = _sha256_or_blank(path)
    return found


def _sha256_or_blank(path: Path) -> str:
    if path.is_symlink() or not path.is_file():
        return ""
    try:
        return provenance.file_sha256(path)
    except OSError:
        return ""
