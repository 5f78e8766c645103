"""Changes since a release: which published figures differ from a frozen release, and why.

Input: two snapshots of the same reporting year, each a folder holding `data/*.csv` and
`manifest.json` as a run writes them: the release (`<outputs>/<year>/releases/<LABEL>/`) and the new
run (its staging folder or `<outputs>/<year>/`).
Output: one frame, `data/changes.csv` (`COLUMNS`): one row per published figure whose value, status or
flags differ — regional totals, n of N, rates and changes; national values, rates and changes;
coverage — with the old and new value, status and flags, and its causes with their evidence.

Causes come from provenance only, never from the size of a change: the observations behind the figure
(their `source_file`, `sheet`, `cell` and `origin`), the files of `submissions.csv` (sha256, Cover
date, superseded by which), `revisions.csv`, the population behind a rate (`country.csv`) with the
manifests' sha256 of `pipeline/reference/population.csv`, and the manifests' settings, version and
reference files. A figure that changed although nothing behind it did is attributed to what changed
in the manifests (settings, version, reference files); when nothing did either, its cause is `other`.

It must not write anything or import a later stage: the command line reads the release, writes the
frame and passes it to the report and the annex.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import output_files
from pipeline.provenance import MANIFEST_NAME

CHANGES_NAME = "changes.csv"
COLUMNS = ["level", "country_iso3", "indicator", "breakdown", "year", "measure", "old_value", "new_value", "difference",
           "old_status", "new_status", "old_flags", "new_flags", "cause", "evidence"]

# The causes, in the order the summaries list them, with what each means for a reader.
CAUSES: dict[str, str] = {
    "resubmission": "a submission replaced by a later one",
    "revision": "an earlier-year figure revised by a state",
    "new-file": "a new file",
    "removed-file": "a file removed",
    "population-update": "a population reference update",
    "history-import": "an imported history file",
    "settings-change": "a changed setting or threshold",
    "version-change": "a new crimetrends version",
    "reference-change": "a changed reference file",
    "other": "nothing behind the figure changed in the inputs, settings, version or reference files",
}

POPULATION_FILE = "pipeline/reference/population.csv"
HISTORY_STATUS = "history"  # submissions.csv: a file of published data under inputs/history/
TABLES = ("observations", "regional", "country", "coverage", "revisions", "submissions")
OBSERVATION_KEY = ["country_iso3", "indicator", "breakdown", "year"]

# (measure, value column, status column, flags column) of each level; a measure is listed when any differs.
REGIONAL_MEASURES = (
    ("total", "total", None, "flags"),
    ("n_reporting", "n_reporting", None, None),
    ("rate_per_100k", "rate_per_100k", None, "rate_flags"),
    ("change_pct", "change_pct", None, None),
    ("change_pct_same_reporters", "change_pct_same_reporters", None, None),
)
NATIONAL_MEASURES = (
    ("value", "value", "status", "flags"),
    ("rate_per_100k", "rate_per_100k", None, "rate_flags"),
    ("change_pct", "change_pct", None, None),
)
COVERAGE_MEASURES = (("coverage", None, "coverage", None),)
RATE_MEASURES = frozenset({"rate_per_100k"})
CHANGE_MEASURES = frozenset({"change_pct", "change_pct_same_reporters"})
CONFIDENTIALITY_FLAGS = frozenset({"C", "N"})
DECIMALS = 6  # the tables store rates and changes to 6 decimals


@dataclass(frozen=True)
class Snapshot:
    """The published tables of one year and the manifest of the run that made them."""

    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]


@dataclass(frozen=True)
class Comparison:
    """A run's figures compared with one release: what the report's changes annex and the data annex show."""

    label: str
    released: str  # the release's date, YYYY-MM-DD
    changes: pd.DataFrame  # COLUMNS
    old_key_findings: tuple[str, ...] = ()  # the key findings of the release's report


def read_snapshot(folder: Path) -> Snapshot:
    """The tables under `folder/data/` and `folder/manifest.json` (a release folder or a year folder)."""
    data_dir = folder / output_files.DATA_DIR
    tables = {name: _read_table(data_dir / f"{name}.csv") for name in TABLES}
    manifest_path = folder / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    return Snapshot(tables, manifest)


def _read_table(path: Path) -> pd.DataFrame:
    return output_files.read_csv(path) if path.is_file() else pd.DataFrame()


def empty_changes() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS)


# -- the comparison ------------------------------------------------------------------------------------
def compare(old: Snapshot, new: Snapshot) -> pd.DataFrame:
    """Every published figure that differs between `old` (the release) and `new`, with its causes."""
    context = _Provenance(old, new)
    rows = []
    for level, table, key, measures in (
        ("regional", "regional", ["indicator", "breakdown", "year"], REGIONAL_MEASURES),
        ("national", "country", ["country_iso3", "indicator", "breakdown", "year"], NATIONAL_MEASURES),
        ("coverage", "coverage", ["country_iso3", "indicator", "year"], COVERAGE_MEASURES),
    ):
        old_rows, new_rows = _by_key(old.tables[table], key), _by_key(new.tables[table], key)
        for figure_key in sorted(set(old_rows) | set(new_rows), key=_sort_key):
            before, after = old_rows.get(figure_key), new_rows.get(figure_key)
            where = dict(zip(key, figure_key, strict=True))
            for measure, value_col, status_col, flags_col in measures:
                pair = [_cells(row, value_col, status_col, flags_col) for row in (before, after)]
                if pair[0] == pair[1]:
                    continue
                causes = context.causes(level, measure, where, before, after)
                rows.append(_change_row(level, where, measure, pair, causes))
    frame = pd.DataFrame(rows, columns=COLUMNS) if rows else empty_changes()
    return frame


def _change_row(level: str, where: dict, measure: str, pair: list[tuple], causes: list[tuple[str, str]]) -> dict:
    (old_value, old_status, old_flags), (new_value, new_status, new_flags) = pair
    codes = list(dict.fromkeys(code for code, _ in causes))
    return {
        "level": level,
        "country_iso3": where.get("country_iso3", ""),
        "indicator": where["indicator"],
        "breakdown": where.get("breakdown", "TOTAL"),
        "year": int(where["year"]),
        "measure": measure,
        "old_value": old_value,
        "new_value": new_value,
        "difference": round(new_value - old_value, DECIMALS) if old_value is not None and new_value is not None else None,
        "old_status": old_status,
        "new_status": new_status,
        "old_flags": old_flags,
        "new_flags": new_flags,
        "cause": "; ".join(codes),
        "evidence": "; ".join(dict.fromkeys(text for _, text in causes if text)),
    }


def _by_key(frame: pd.DataFrame, key: list[str]) -> dict[tuple, Any]:
    if frame.empty or any(column not in frame.columns for column in key):
        return {}
    return {tuple(_key_part(getattr(row, c)) for c in key): row for row in frame.itertuples(index=False)}


def _key_part(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else ("" if _missing(value) else value)


def _sort_key(key: tuple) -> tuple:
    return tuple(str(part) for part in key)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value == ""


def _number(value: object) -> float | None:
    if _missing(value):
        return None
    try:
        return round(float(value), DECIMALS)
    except (TypeError, ValueError):
        return None


def _text(value: object) -> str:
    return "" if _missing(value) else str(value)


def _cells(row: Any, value_col: str | None, status_col: str | None, flags_col: str | None) -> tuple:
    """(value, status, flags) of one measure of a row (None: the figure is not in that table)."""
    if row is None:
        return (None, "", "")
    return (
        _number(getattr(row, value_col, None)) if value_col else None,
        _text(getattr(row, status_col, "")) if status_col else "",
        _text(getattr(row, flags_col, "")) if flags_col else "",
    )


# -- causes --------------------------------------------------------------------------------------------
class _Provenance:
    """What changed behind the figures: observations, files, revisions, populations, manifests."""

    def __init__(self, old: Snapshot, new: Snapshot) -> None:
        self.old_obs = _by_key(old.tables["observations"], OBSERVATION_KEY)
        self.new_obs = _by_key(new.tables["observations"], OBSERVATION_KEY)
        self.obs_by_figure: dict[tuple, set[str]] = {}
        for country, indicator, breakdown, year in set(self.old_obs) | set(self.new_obs):
            self.obs_by_figure.setdefault((indicator, breakdown, year), set()).add(country)
        self.old_files = _by_key(old.tables["submissions"], ["file"])
        self.new_files = _by_key(new.tables["submissions"], ["file"])
        self.old_revisions = _by_key(old.tables["revisions"], OBSERVATION_KEY)
        self.new_revisions = _by_key(new.tables["revisions"], OBSERVATION_KEY)
        self.old_country = _by_key(old.tables["country"], OBSERVATION_KEY)
        self.new_country = _by_key(new.tables["country"], OBSERVATION_KEY)
        self.population_changed = _reference_hash(old.manifest, POPULATION_FILE) != _reference_hash(new.manifest, POPULATION_FILE)
        self.global_causes = _manifest_causes(old.manifest, new.manifest)
        self._observation_causes: dict[tuple, list[tuple[str, str]]] = {}
        # The history files (inputs/history/) new, changed or removed since the release: a history
        # value names its published source, not the file it was imported into.
        history = [(key[0], row) for key, row in self.new_files.items() if _text(row.status) == HISTORY_STATUS]
        self.changed_history = [file for file, row in history if self._sha(file, new=False) != _text(row.sha256)] + [
            key[0] for key, row in self.old_files.items() if _text(row.status) == HISTORY_STATUS and key not in self.new_files]

    def causes(self, level: str, measure: str, where: dict, before: Any, after: Any) -> list[tuple[str, str]]:
        years = [int(where["year"])] + ([int(where["year"]) - 1] if measure in CHANGE_MEASURES else [])
        breakdown = where.get("breakdown", "TOTAL")
        countries = ([where["country_iso3"]] if level != "regional"
                     else sorted(set().union(*(self.obs_by_figure.get((where["indicator"], breakdown, y), set()) for y in years))))
        found = [cause for country in countries for y in years
                 for cause in self.observation_causes((country, where["indicator"], breakdown, y))]
        if measure in RATE_MEASURES and self.population_changed:
            found += [cause for country in countries for cause in self.population_cause((country, where["indicator"], breakdown, int(where["year"])))]
        if not found:
            found = self.global_causes or [("other", "")]
        return found

    def observation_causes(self, key: tuple) -> list[tuple[str, str]]:
        if key not in self._observation_causes:
            self._observation_causes[key] = self._why(key, self.old_obs.get(key), self.new_obs.get(key))
        return self._observation_causes[key]

    def _why(self, key: tuple, old: Any, new: Any) -> list[tuple[str, str]]:
        """Why the observation `key` differs between the release and the run ([] when it does not)."""
        if _observation(old) == _observation(new):
            return []
        country, indicator, breakdown, year = key
        figure = f"{country} {indicator}{'' if breakdown == 'TOTAL' else ' ' + breakdown} {year}"
        change = f"{_shown(old)} → {_shown(new)}"
        if _is_history(new) or (new is None and _is_history(old)):
            row = new if new is not None else old
            imported = f", imported in {', '.join(self.changed_history)}" if self.changed_history else ""
            return [("history-import", f"{figure}: {change}, {_at(row)} ({_text(row.source)}){imported}")]
        if new is not None and self._is_new_revision(key, new):
            return [("revision", f"{figure}: {change}, revised in {_at(new)} (Previous year value)")]
        if new is not None and (old is None or _text(old.source_file) != _text(new.source_file)):
            file, is_new_file = _text(new.source_file), _text(new.source_file) not in self.old_files
            if old is None or _is_history(old):
                if is_new_file:
                    return [("new-file", f"{figure}: {change}, {_at(new)} ({self._dated(file)}) is new")]
            elif is_new_file or _text(old.source_file) not in self.new_files or self._status(old.source_file) in ("superseded", "rejected"):
                return [("resubmission", f"{figure}: {change}, {_at(new)} ({self._dated(file)}) replaces "
                                         f"{_text(old.source_file)} ({self._dated(old.source_file, new=False)})")]
            if self._sha(file, new=False) != self._sha(file):
                return [("resubmission", f"{figure}: {change}, {_at(new)} ({self._dated(file)}) changed")]
            return self.global_causes or [("other", f"{figure}: {change}, {_at(new)}")]
        if new is not None:  # same file, another value: the file itself was replaced, or something around it
            if self._sha(new.source_file, new=False) != self._sha(new.source_file):
                return [("resubmission", f"{figure}: {change}, {_at(new)} replaced by a file of the same name "
                                         f"({self._dated(new.source_file, new=False)} → {self._dated(new.source_file)})")]
            return self.global_causes or [("other", f"{figure}: {change}, {_at(new)} unchanged")]
        file = _text(old.source_file)
        if file not in self.new_files:
            return [("removed-file", f"{figure}: {change}, {file} removed")]
        status = self._status(file)
        if status in ("superseded", "rejected") or self._sha(file, new=False) != self._sha(file):
            reason = _text(self.new_files[(file,)].reason)
            return [("resubmission", f"{figure}: {change}, {file} {status}{': ' + reason if reason else ''}")]
        return self.global_causes or [("other", f"{figure}: {change}")]

    def _is_new_revision(self, key: tuple, new: Any) -> bool:
        revision = self.new_revisions.get(key)
        if revision is None or _text(revision.file) != _text(new.source_file) or _text(revision.cell) != _text(new.cell):
            return False
        before = self.old_revisions.get(key)
        return before is None or _revision(before) != _revision(revision)

    def population_cause(self, key: tuple) -> list[tuple[str, str]]:
        old, new = self.old_country.get(key), self.new_country.get(key)
        if old is None or new is None or _number(old.population) == _number(new.population):
            return []
        country, _, _, year = key
        return [("population-update", f"{POPULATION_FILE}: {country} {_text(_key_part(new.population_year)) or year} "
                                      f"{_count(old.population)} → {_count(new.population)}")]

    def _status(self, file: object) -> str:
        row = self.new_files.get((_text(file),))
        return _text(row.status) if row is not None else ""

    def _sha(self, file: object, *, new: bool = True) -> str:
        row = (self.new_files if new else self.old_files).get((_text(file),))
        return _text(row.sha256) if row is not None else ""

    def _dated(self, file: object, *, new: bool = True) -> str:
        row = (self.new_files if new else self.old_files).get((_text(file),))
        date = _text(row.date_submitted) if row is not None else ""
        return f"Cover date {date}" if date else "no Cover date"


def _observation(row: Any) -> tuple | None:
    """What of an observation a published figure is made from: a value that moved to another file or
    cell unchanged changes no figure, so it is the cause of none."""
    if row is None:
        return None
    return (_number(row.value), _text(row.status), _text(row.flags))


def _revision(row: Any) -> tuple:
    return (_number(row.old_value), _number(row.new_value), _text(row.file), _text(row.cell))


def _is_history(row: Any) -> bool:
    return row is not None and _text(row.origin) == "history"


def _at(row: Any) -> str:
    """`file sheet!cell` of an observation."""
    sheet, cell = _text(row.sheet), _text(row.cell)
    return f"{_text(row.source_file)} {sheet}!{cell}" if sheet and cell else _text(row.source_file)


def _shown(row: Any) -> str:
    if row is None:
        return "none"
    if _text(row.status) == "confidential" or set(_text(row.flags)) & CONFIDENTIALITY_FLAGS:
        return "confidential"  # a confidential value is never shown for its state, not even here
    number = _number(row.value)
    return _count(number) if number is not None else _text(row.status)


def _count(value: object) -> str:
    number = _number(value)
    if number is None:
        return ""
    return f"{int(number):,}" if float(number).is_integer() else f"{number:,}"


def _reference_hash(manifest: dict, file: str) -> str:
    return next((entry.get("sha256", "") for entry in manifest.get("reference", []) if entry.get("file") == file), "")


def _manifest_causes(old: dict, new: dict) -> list[tuple[str, str]]:
    """What changed between two runs beside the inputs: settings, version, reference files other than population."""
    causes = []
    old_settings, new_settings = _flatten(old.get("settings", {})), _flatten(new.get("settings", {}))
    changed = [name for name in sorted(set(old_settings) | set(new_settings)) if old_settings.get(name) != new_settings.get(name)]
    if changed:
        causes.append(("settings-change", "settings: " + ", ".join(f"{name} {old_settings.get(name)!r} → {new_settings.get(name)!r}" for name in changed)))
    if old.get("crimetrends_version") != new.get("crimetrends_version"):
        causes.append(("version-change", f"crimetrends {old.get('crimetrends_version', '?')} → {new.get('crimetrends_version', '?')}"))
    old_refs = {e.get("file"): e.get("sha256") for e in old.get("reference", [])}
    new_refs = {e.get("file"): e.get("sha256") for e in new.get("reference", [])}
    files = [f for f in sorted(set(old_refs) | set(new_refs)) if f != POPULATION_FILE and old_refs.get(f) != new_refs.get(f)]
    if files:
        causes.append(("reference-change", "reference files changed: " + ", ".join(files)))
    return causes


# The settings that can change a published figure: the validation thresholds (which values are accepted,
# which flags they get). The others (title, status line, chart years, key-findings thresholds, outputs)
# change how the report reads, never a figure of data/*.csv.
FIGURE_SETTINGS = ("validation",)


def _flatten(settings: object, prefix: str = "") -> dict[str, object]:
    if not isinstance(settings, dict):
        return {prefix.rstrip("."): settings}
    flat: dict[str, object] = {}
    for name, value in settings.items():
        if not prefix and name not in FIGURE_SETTINGS:
            continue
        flat.update(_flatten(value, f"{prefix}{name}.") if isinstance(value, dict) else {f"{prefix}{name}": value})
    return flat


# -- summaries -----------------------------------------------------------------------------------------
def counts_by_cause(changes: pd.DataFrame) -> list[tuple[str, int]]:
    """(cause, number of changed figures it is a cause of), in the order of `CAUSES`, causes with none left out."""
    listed = [code.strip() for text in changes["cause"].fillna("") for code in str(text).split(";") if code.strip()] if len(changes) else []
    return [(code, listed.count(code)) for code in CAUSES if code in listed]


def relative_change(row: Any) -> float:
    """How large a change is, to rank them, in %: |new − old| / |old| × 100 for a figure, the difference in
    percentage points for a change on the previous year (already a %); 100 when a number appeared or went
    away, 0 for a change of status or flags only."""
    old, new = _number(row.old_value), _number(row.new_value)
    if old is None and new is None:
        return 0.0
    if old is None or new is None:
        return 100.0
    if row.measure in CHANGE_MEASURES:
        return abs(new - old)
    if old == 0:
        return 100.0 if new != 0 else 0.0
    return abs(new - old) / abs(old) * 100


def largest(changes: pd.DataFrame, count: int = 20) -> pd.DataFrame:
    """The `count` largest changes by `relative_change`, then by absolute difference."""
    if changes.empty:
        return changes
    ranked = changes.assign(_relative=[relative_change(r) for r in changes.itertuples(index=False)],
                            _absolute=changes["difference"].abs().fillna(0))
    return ranked.sort_values(["_relative", "_absolute"], ascending=False, kind="stable").head(count).drop(columns=["_relative", "_absolute"])


def cause_labels(codes: Iterable[str]) -> list[str]:
    return [CAUSES.get(code, code) for code in codes]
