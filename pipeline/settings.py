"""Settings: the words on the cover, the collection deadline, the validation thresholds and the few
choices a coordinator may want to change, read from one TOML file.

Input: `crimetrends.toml` in the folder the command runs from, or the file given with `--settings`;
without either, the defaults below. Every key is optional. Output: a frozen `Settings` that the CLI
passes to the stages (`pipeline.charts`, `pipeline.report`, `pipeline.annex`, the validation
thresholds) and writes into manifest.json. Nothing here reads inputs or writes outputs.

The file has sections; each key of a section is one field of `Settings` (the field's metadata names
its section and key, and says what it does: README.md "Settings" and crimetrends.example.toml list the
same, and a test keeps the three in step)::

    [report]       title, organisation, working_group, coordinator, status_line, source_line, population_source
    [collection]   deadline
    [validation]   change_pct, change_abs_min, ... (overrides of pipeline/reference/rule_thresholds.csv)
    [charts]       trend_years, low_coverage_share
    [key_findings] regional, national, min_states, national_change_pct, national_change_min
    [outputs]      pdf, data_annex, feedback

A key or section the program does not know (a typo), a value of the wrong type or out of range is a
`SettingsError` naming the file, the section, the key and what is allowed: a misspelt key must never
be silently ignored, or the coordinator believes a setting took effect when it did not.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError

SETTINGS_FILENAME = "crimetrends.toml"


class SettingsError(PipelineError, ValueError):
    """The settings file cannot be read, or holds a key or value the program does not accept."""


def _setting(default: Any, section: str, key: str, doc: str, *, minimum: float | None = None, maximum: float | None = None, non_empty: bool = False) -> Any:
    return field(default=default, metadata={"section": section, "key": key, "doc": doc, "minimum": minimum, "maximum": maximum, "non_empty": non_empty})


@dataclass(frozen=True)
class Thresholds:
    """The thresholds of the time-series and revision rules (`pipeline.rules`).

    Their values come from `pipeline/reference/rule_thresholds.csv` (`rules.load_thresholds`); the
    settings' [validation] section overrides single ones. The defaults here are the CSV's.
    """

    change_pct: float = field(default=50.0, metadata={"doc": "T01: a change on the previous year above this % (without comment or flag b) is a warning", "minimum": 0})
    change_abs_min: float = field(default=10.0, metadata={"doc": "T01: ... and above this many units; T03: a fall to 0 warns only from above this", "minimum": 0})
    change_share_of_mean: float = field(default=0.05, metadata={"doc": "T01: ... and above this share of the mean of the 3 previous years", "minimum": 0})
    outlier_z: float = field(default=3.5, metadata={"doc": "T02: a robust z-score above this (on log(1 + x)) is an outlier warning", "minimum": 0})
    outlier_min_years: int = field(default=4, metadata={"doc": "T02: ... only with at least this many earlier years reported", "minimum": 1})
    outlier_min_spread: float = field(default=0.1, metadata={"doc": "T02: the spread of the earlier years is taken as at least this", "minimum": 0})
    revision_warn_pct: float = field(default=20.0, metadata={"doc": "R01: a previous-year figure revised by more than this % is a warning", "minimum": 0})


@dataclass(frozen=True)
class Settings:
    # [report]: the cover, the running header, the document properties and the source lines.
    report_title: str = _setting("Annual Assessment of the Trends of Transnational Crime in the BSEC Region", "report", "title", "Report title: cover, running header, document properties, data annex", non_empty=True)
    organisation: str = _setting("Organization of the Black Sea Economic Cooperation (BSEC)", "report", "organisation", "Organisation on the cover", non_empty=True)
    working_group: str = _setting("Working Group on Cooperation in Combating Crime, in particular in its Organized Forms", "report", "working_group", "Working Group on the cover")
    coordinator: str = _setting("", "report", "coordinator", "Coordinator (name, e-mail): the report's author property and the status header; empty: not named")
    status_line: str = _setting("Draft for the Working Group", "report", "status_line", "Status on the cover (\"Draft for the Working Group\", \"Final\")")
    # Printed under every chart and table of figures.
    source_line: str = _setting("Source: BSEC member-state submissions; population: World Bank", "report", "source_line", "Source line under every chart and in the data annex", non_empty=True)
    # Named in the methodology chapter (how rates are computed).
    population_source: str = _setting("World Bank, World Development Indicators, total population (SP.POP.TOTL)", "report", "population_source", "Population source named in the methodology chapter", non_empty=True)

    # [collection]: "MM-DD" is that day of the year after the reporting year (the file can stay the
    # same from year to year); a TOML date is used as it stands, whatever the year.
    deadline: str = _setting("02-15", "collection", "deadline", "Submission deadline: \"MM-DD\" in the year after the reporting year (\"02-15\": 15 February 2026 for 2025), or a date (2026-02-15)")

    # [validation]: overrides of pipeline/reference/rule_thresholds.csv, {name: value}; empty: the CSV.
    validation: dict[str, float] = field(default_factory=dict, metadata={"section": "validation", "key": None, "doc": "Thresholds of the time-series and revision rules"})

    # [charts]: below this share of member states reporting, a regional figure is marked as low
    # coverage (hollow marker in the trend chart, a caution in the key-figures sentence, the key findings).
    trend_years: int = _setting(10, "charts", "trend_years", "Years shown in the trend and profile charts (up to the reporting year)", minimum=2, maximum=50)
    low_coverage_share: float = _setting(0.5, "charts", "low_coverage_share", "Below this share of member states reporting, a regional figure is marked as low coverage", minimum=0, maximum=1)

    # [key_findings]: how many regional changes and national changes are quoted, and what counts.
    key_findings_regional: int = _setting(3, "key_findings", "regional", "Regional changes quoted in the key findings", minimum=0, maximum=20)
    key_findings_national: int = _setting(3, "key_findings", "national", "National changes quoted in the key findings", minimum=0, maximum=20)
    # A regional change is quoted only when at least this many states reported in both years.
    key_findings_min_states: int = _setting(3, "key_findings", "min_states", "A regional change is quoted only when at least this many states reported in both years", minimum=1)
    # A national change is notable above this many per cent AND this absolute difference.
    national_change_pct: float = _setting(50.0, "key_findings", "national_change_pct", "A national change is quoted above this % ...", minimum=0)
    national_change_min: float = _setting(10.0, "key_findings", "national_change_min", "... and above this absolute difference", minimum=0)

    # [outputs]: what `run` and `report` write besides the .docx and the data CSVs.
    pdf: bool = _setting(True, "outputs", "pdf", "Write the report as PDF (LibreOffice); --pdf / --no-pdf override it")
    data_annex: bool = _setting(True, "outputs", "data_annex", "Write the data annex workbook (<outputs>/<year>/..._data.xlsx)")
    feedback: bool = _setting(True, "outputs", "feedback", "Write the feedback workbooks in `run` (<outputs>/<year>/feedback/); `validate` always does")

    # Where these settings came from ("" = the defaults): recorded in manifest.json.
    file: str = field(default="", metadata={"section": None})

    def deadline_for(self, year: int) -> dt.date:
        """The submission deadline of the reporting year `year`."""
        if len(self.deadline) == 10:  # a full date
            return dt.date.fromisoformat(self.deadline)
        month, day = (int(part) for part in self.deadline.split("-"))
        return dt.date(year + 1, month, day)

    def thresholds(self, base: Thresholds) -> Thresholds:
        """`base` (the reference CSV's thresholds) with the [validation] overrides applied."""
        return replace(base, **self.validation)


DEFAULT_SETTINGS = Settings()

SECTIONS = ("report", "collection", "validation", "charts", "key_findings", "outputs")


def settings_keys() -> dict[str, list[str]]:
    """Every section with its keys, in file order: what the example file and README document."""
    keys: dict[str, list[str]] = {section: [] for section in SECTIONS}
    for f in fields(Settings):
        section = f.metadata.get("section")
        if section == "validation":
            keys[section] = [t.name for t in fields(Thresholds)]
        elif section:
            keys[section].append(f.metadata["key"])
    return keys


def find_settings_file(path: Path | None, cwd: Path) -> Path | None:
    """The file given, else `crimetrends.toml` in `cwd` when there is one, else None (the defaults)."""
    if path is not None:
        return path
    found = cwd / SETTINGS_FILENAME
    return found if found.is_file() else None


def load_settings(path: Path | None, cwd: Path) -> Settings:
    """The settings of `path` (given with --settings), or of `cwd`/crimetrends.toml, or the defaults.

    Raises `SettingsError` for a file that cannot be read or parsed, an unknown section or key, and a
    value of the wrong type or out of range; the message names the file, section and key.
    """
    source = find_settings_file(path, cwd)
    if source is None:
        return DEFAULT_SETTINGS
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as err:
        raise SettingsError(f"{source}: cannot read the settings file ({err.strerror or err})") from err
    except UnicodeDecodeError as err:
        raise SettingsError(f"{source}: not a UTF-8 text file") from err
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"{source}: not valid TOML: {err}") from err
    return settings_from_mapping(data, str(source))


def settings_from_mapping(data: Mapping[str, Any], name: str) -> Settings:
    """`Settings` from the parsed TOML `data`; `name` (the file) starts every error message."""
    by_key = {(f.metadata["section"], f.metadata["key"]): f for f in fields(Settings) if f.metadata.get("section") not in (None, "validation")}
    allowed = settings_keys()
    values: dict[str, Any] = {}
    for section, content in data.items():
        if section not in allowed:
            home = [s for s, keys in allowed.items() if section in keys]
            if home:
                raise SettingsError(f"{name}: '{section}' must be inside a section: put it under [{home[0]}]")
            raise SettingsError(f"{name}: unknown section [{section}]{_did_you_mean(section, allowed)}; sections: {', '.join(f'[{s}]' for s in allowed)}")
        if not isinstance(content, dict):
            raise SettingsError(f"{name}: [{section}] must be a section (a line [{section}] followed by key = value lines)")
        for key, value in content.items():
            if key not in allowed[section]:
                raise SettingsError(f"{name}: [{section}] unknown key '{key}'{_did_you_mean(key, allowed[section])}; keys of [{section}]: {', '.join(allowed[section])}")
            where = f"{name}: [{section}] {key}"
            if section == "validation":
                values.setdefault("validation", {})[key] = _checked_threshold(where, key, value)
            else:
                f = by_key[(section, key)]
                values[f.name] = _checked(where, f, value)
    return replace(DEFAULT_SETTINGS, **values, file=name)


def _did_you_mean(word: str, choices: list[str] | dict[str, Any]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


_MONTH_DAY = re.compile(r"(\d{2})-(\d{2})")


def _checked(where: str, f, value: Any) -> Any:
    """`value` as the type of the field's default, within its limits; else a SettingsError."""
    meta = f.metadata
    if f.name == "deadline":
        return _checked_deadline(where, value)
    kind = type(f.default)
    if kind is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{where} must be true or false, not {_shown(value)}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise SettingsError(f"{where} must be text in quotes, not {_shown(value)}")
        if meta["non_empty"] and not value.strip():
            raise SettingsError(f"{where} must not be empty")
        return value
    return _checked_number(where, kind, value, meta["minimum"], meta["maximum"])


def _checked_threshold(where: str, key: str, value: Any) -> float | int:
    f = next(t for t in fields(Thresholds) if t.name == key)
    return _checked_number(where, type(f.default), value, f.metadata.get("minimum"), None)


def _checked_number(where: str, kind: type, value: Any, minimum: float | None, maximum: float | None) -> float | int:
    # bool is an int in Python: `trend_years = true` must not read as 1.
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SettingsError(f"{where} must be a whole number, not {_shown(value)}")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(f"{where} must be a number, not {_shown(value)}")
        value = float(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        limits = f"from {minimum:g} to {maximum:g}" if maximum is not None else f"at least {minimum:g}"
        raise SettingsError(f"{where} must be {limits}, not {value:g}")
    return value


def _checked_deadline(where: str, value: Any) -> str:
    allowed = 'a month and day "MM-DD" (e.g. "02-15": that day in the year after the reporting year) or a date (e.g. 2026-02-15)'
    if isinstance(value, dt.datetime) or isinstance(value, dt.time):
        raise SettingsError(f"{where} must be {allowed}, without a time; not {_shown(value)}")
    if isinstance(value, dt.date):
        return value.isoformat()
    match = _MONTH_DAY.fullmatch(value) if isinstance(value, str) else None
    if match:
        month, day = int(match.group(1)), int(match.group(2))
        try:
            dt.date(2001, month, day)  # 29 February is not a day of every year
        except ValueError:
            match = None
        else:
            return value
    raise SettingsError(f"{where} must be {allowed}, not {_shown(value)}")


def _shown(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
