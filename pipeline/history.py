"""History: published data files -> history observations beside the submissions.

Input: a file published by UNODC or Eurostat, recognised by its content (not its name):

* UNODC GLOTIP (`data_glotip.xlsx` from dataunodc.un.org): a sheet whose header row, below a short
  title block, holds Iso3_code, Indicator, Dimension, Category, Sex, Age, Year and txtVALUE;
* Eurostat `crim_off_cat` (TSV as downloaded, optionally gzipped): first header cell
  `freq,iccs,unit,geo\\TIME_PERIOD`, one column per year.

Output: `import_published` gives a `HistoryImport` (observations in the observation columns plus
`source`, and every source row that was not imported counted under its reason); `write_history`
writes it to `<inputs>/history/<source_id>.csv` with `<source_id>.json` (provenance: file name,
sha256, rows imported and skipped, crimetrends version). `read_history` reads those files back for a
run and checks them: a malformed file or row is a finding (`history-file-invalid`,
`history-row-invalid`), never a traceback; each row keeps the `history_file` it came from, and
`history_files_frame` lists every file of the history folder for submissions.csv. `merge_history`
puts history under the submissions: a state's own submission wins for the same state, indicator,
breakdown and year.

What this module must not do: guess. Only the 13 BSEC member states, in the years they are members,
and only the indicators and breakdowns of our catalogue whose definition matches are imported; a
value whose definition differs carries the flag `d` and says how in its comment. `<5` stays
confidential (no number), `:` is never 0, and each value keeps the file, sheet and cell it came from.
An unrecognised file is a usage error (`UnrecognisedFileError`), not a finding.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline import __version__, output_files
from pipeline.workbook_contract import column_letter
from pipeline.atomic import write_atomically
from pipeline.findings import Finding, make_finding, plain_number
from pipeline.errors import PipelineError
from pipeline.ingest import HISTORY_DIR
from pipeline.reference import TOTAL, Reference
from pipeline.validate import (
    CONFIDENTIAL,
    MAX_YEAR,
    MIN_YEAR,
    NOT_APPLICABLE,
    NOT_AVAILABLE,
    OBSERVATION_COLUMNS,
    REPORTED,
    SUBMISSION_COLUMNS,
    parse_value,
)

HISTORY_COLUMNS = [*OBSERVATION_COLUMNS, "source"]
KEY_COLUMNS = ["country_iso3", "year", "indicator", "breakdown"]
HISTORY_STATUSES = frozenset({REPORTED, CONFIDENTIAL, NOT_AVAILABLE, NOT_APPLICABLE})
ORIGIN_SUBMISSION = "submission"
ORIGIN_HISTORY = "history"
STATUS_HISTORY = "history"  # status in submissions.csv of a history CSV whose values were read

GLOTIP_ID = "unodc_glotip"
EUROSTAT_ID = "eurostat_crim_off_cat"
GLOTIP_HEADER = ("Iso3_code", "Indicator", "Dimension", "Category", "Sex", "Age", "Year", "txtVALUE")
HEADER_SEARCH_ROWS = 20
EUROSTAT_KEYS = ("freq", "iccs", "unit", "geo")

# -- mapping: published labels -> our catalogue ------------------------------------------------------
GLOTIP_INDICATORS = {
    "Detected trafficking victims": "TIP_VIC",
    "Persons prosecuted": "TIP_PRO",
    "Persons convicted": "TIP_CON",
    "Persons brought into formal contact": "TIP_SUS",
    "Offences of trafficking in persons": "TIP_OFF",
}
GLOTIP_SEX = {"Female": "SEX=F", "Male": "SEX=M"}  # "Other" and "Unknown" have no match in ours
GLOTIP_AGE = {"0 to 17 years": "AGE=CHILD", "18 years or over": "AGE=ADULT"}
GLOTIP_FORMS = {
    "Sexual exploitation": "EXPL=SEX",
    "Forced labour": "EXPL=LAB",
    "Other forms of exploitation": "EXPL=OTH",
}
# GLOTIP publishes no "forced criminality": it is inside "other forms", so that form is wider than ours.
# Several sub-forms also share the "other" label (repeated rows): they are added up.
SUMMED_BREAKDOWNS = frozenset({"EXPL=OTH"})
DEFINITION_NOTES = {
    (GLOTIP_ID, "EXPL=OTH"): "GLOTIP 'Other forms of exploitation' includes forced criminality, which the BSEC breakdown counts apart (EXPL=CRIM).",
    (EUROSTAT_ID, "DRG_OFF"): "Eurostat ICCS0601 counts all offences involving controlled drugs, possession for personal use included; the BSEC indicator counts trafficking only.",
}

EUROSTAT_INDICATORS = {
    "ICCS0703": "COR_OFF",
    "ICCS07031": "COR_BRB",
    "ICCS07041": "ML_OFF",
    "ICCS0903": "CYB_OFF",
    "ICCS09051": "OCG_OFF",
    "ICCS05021": "VEH_THF",
    "ICCS0601": "DRG_OFF",
}
# Eurostat geo codes that are not the ISO 3166 alpha-2 code (Greece is EL, not GR).
EUROSTAT_GEO = {"EL": "GRC"}
EUROSTAT_COUNT_UNIT = "NR"
EUROSTAT_RATE_UNIT = "P_HTHAB"
# Eurostat flags -> ours; `c` (confidential) and `z` (not applicable) also set the status.
EUROSTAT_FLAGS = {"p": "p", "e": "e", "s": "e", "b": "b", "d": "d", "u": "u", "n": "n", "c": "C", "z": "m"}
_EUROSTAT_CELL = re.compile(r"^(?P<number>[^\sa-z:]+)?\s*(?P<colon>:)?\s*(?P<flags>[a-z]*)$")

# -- reasons a source row is not imported (the import summary counts each) ----------------------------
SKIP_NOT_BSEC = "not a BSEC member state"
SKIP_NOT_MEMBER_YET = "year before the state joined BSEC"
SKIP_YEAR = "year is not a year"
SKIP_INDICATOR = "indicator not in the catalogue"
SKIP_DIMENSION = "breakdown dimension not in the catalogue (citizenship, country of repatriation)"
SKIP_SEX_AGE = "sex or age 'Other'/'Unknown' (no matching breakdown)"
SKIP_CROSSED = "crossed breakdown (sex by age, or form by sex or age)"
SKIP_NOT_TAKEN = "breakdown the indicator does not take"
SKIP_UNKNOWN_LABEL = "category label not mapped"
SKIP_NOT_AVAILABLE = "not available (:)"
SKIP_NOT_NUMBER = "value not a number"
SKIP_REPEATED = "repeated key with different values (none used)"
SKIP_REPEATED_SAME = "repeated identical row (one used)"
SKIP_RATE = "rate per 100,000 (P_HTHAB): kept for checks, not imported"
SKIP_UNIT = "unit not imported"
SKIP_FREQUENCY = "not annual"
SKIP_BLANK = "blank row"


class UnrecognisedFileError(PipelineError, ValueError):
    """The file given to `crimetrends import` is not a published file this module knows."""


@dataclass
class HistoryImport:
    """One published file, imported: the observations and the account of every source row.

    `source_rows` = `rows_used` + sum(`skipped`): each row (GLOTIP) or year cell (Eurostat) of the
    source is either behind an observation or counted under the reason it was left out.
    `published_rates` holds Eurostat's rates per 100,000 (country_iso3, year, indicator, rate, cell)
    for checking our rates; they are not observations.
    """

    source_id: str
    source: str
    file_name: str
    sha256: str
    observations: pd.DataFrame
    skipped: Counter = field(default_factory=Counter)
    source_rows: int = 0
    rows_used: int = 0
    published_rates: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["country_iso3", "year", "indicator", "rate", "cell"]))

    @property
    def imported_by_indicator(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in sorted(self.observations["indicator"].value_counts().items())}

    def summary(self) -> str:
        """One line: rows imported per indicator, rows skipped per reason."""
        imported = ", ".join(f"{k} {v}" for k, v in self.imported_by_indicator.items()) or "none"
        skipped = ", ".join(f"{reason} {n}" for reason, n in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"
        return f"{self.source}: {len(self.observations)} value(s) imported ({imported}); {sum(self.skipped.values())} source row(s) skipped ({skipped})"


@dataclass
class _Part:
    """One source row that maps to an observation key, before repeated keys are combined."""

    key: tuple[str, int, str, str]
    number: float | None
    status: str  # reported | confidential | not_applicable | invalid
    flags: str
    comment: str
    sheet: str
    cell: str


# -- import ------------------------------------------------------------------------------------------
def import_published(path: Path, ref: Reference) -> HistoryImport:
    """Recognise `path` by its content and import it; `UnrecognisedFileError` when it is neither kind."""
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as err:
        raise UnrecognisedFileError(f"{path.name}: cannot be read ({err.strerror or err}).") from err
    sha256 = hashlib.sha256(content).hexdigest()
    if content.startswith(b"\x1f\x8b"):
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError) as err:
            raise UnrecognisedFileError(f"{path.name}: a damaged gzip file ({err}).") from err
    if content.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
        return _import_glotip(path, content, sha256, ref)
    lines = _text_lines(content)
    if lines and _eurostat_keys(lines[0]) is not None:
        return _import_eurostat(path, lines, sha256, ref)
    raise UnrecognisedFileError(_expected(path.name))


def _expected(name: str) -> str:
    return (
        f"{name} is not a published file crimetrends can import: expected the UNODC GLOTIP workbook "
        f"(data_glotip.xlsx: a header row with {', '.join(GLOTIP_HEADER)}) or the Eurostat crim_off_cat TSV "
        f"(first header cell {','.join(EUROSTAT_KEYS)}\\TIME_PERIOD)."
    )


def _text_lines(content: bytes) -> list[str]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return []
    return text.splitlines()


def _membership_reason(ref: Reference, iso3: str, year: int) -> str | None:
    state = ref.state_by_iso3.get(iso3)
    if state is None:
        return SKIP_NOT_BSEC
    if year < state.member_from:
        return SKIP_NOT_MEMBER_YET
    return None


def _as_year(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and not math.isnan(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}\s*", value):
        return int(value)
    return None


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


# GLOTIP -------------------------------------------------------------------------------------------------
def _import_glotip(path: Path, content: bytes, sha256: str, ref: Reference) -> HistoryImport:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sheets = pd.read_excel(io.BytesIO(content), sheet_name=None, engine="calamine", dtype=object, header=None)
    except Exception as err:  # noqa: BLE001 - whatever the parser raises, the file is not one we can import
        raise UnrecognisedFileError(f"{_expected(path.name)} The workbook cannot be read ({type(err).__name__}).") from err
    for sheet, frame in sheets.items():
        found = _glotip_header(frame)
        if found is not None:
            return _glotip_rows(path, sha256, str(sheet), frame, *found, ref)
    raise UnrecognisedFileError(_expected(path.name))


def _glotip_header(frame: pd.DataFrame) -> tuple[int, dict[str, int]] | None:
    """(header row index, column index by header name) when a row of the first rows holds the GLOTIP header."""
    for i, row in enumerate(frame.head(HEADER_SEARCH_ROWS).to_numpy(dtype=object)):
        columns = {_text(v).casefold(): j for j, v in enumerate(row) if _text(v)}
        if all(name.casefold() in columns for name in GLOTIP_HEADER):
            return i, {name: columns[name.casefold()] for name in GLOTIP_HEADER}
    return None


def _glotip_date(frame: pd.DataFrame, header_row: int) -> str:
    """The dd/mm/yyyy date of the title block above the header ("30/05/2023"), or ""."""
    for row in frame.head(header_row).to_numpy(dtype=object):
        for value in row:
            if isinstance(value, pd.Timestamp):
                return value.strftime("%d/%m/%Y")
            match = re.fullmatch(r"\s*(\d{1,2}/\d{1,2}/\d{4})\s*", _text(value))
            if match:
                return match.group(1)
    return ""


def _glotip_breakdown(dimension: str, category: str, sex: str, age: str) -> tuple[str | None, str]:
    """(our breakdown key, "") or (None, reason)."""
    if dimension == "Total":
        if sex == "Total" and age == "Total":
            return TOTAL, ""
        if age == "Total" and sex in GLOTIP_SEX:
            return GLOTIP_SEX[sex], ""
        if sex == "Total" and age in GLOTIP_AGE:
            return GLOTIP_AGE[age], ""
        if sex in GLOTIP_SEX and age in GLOTIP_AGE:
            return None, SKIP_CROSSED
        return None, SKIP_SEX_AGE
    if dimension == "by form of exploitation":
        if sex != "Total" or age != "Total":
            return None, SKIP_CROSSED
        if category in GLOTIP_FORMS:
            return GLOTIP_FORMS[category], ""
        return None, SKIP_UNKNOWN_LABEL
    return None, SKIP_DIMENSION


def _glotip_rows(path: Path, sha256: str, sheet: str, frame: pd.DataFrame, header_row: int, columns: dict[str, int], ref: Reference) -> HistoryImport:
    date = _glotip_date(frame, header_row)
    source = f"UNODC GLOTIP ({path.name}, {date})" if date else f"UNODC GLOTIP ({path.name})"
    value_letter = column_letter(columns["txtVALUE"])
    skipped: Counter = Counter()
    parts: list[_Part] = []
    values = frame.to_numpy(dtype=object)
    source_rows = 0
    for i in range(header_row + 1, len(values)):
        row = values[i]
        cell = {name: row[j] if j < len(row) else None for name, j in columns.items()}
        if all(not _text(v) for v in cell.values()):
            continue  # rows below the table: not part of it
        source_rows += 1
        reason, part = _glotip_part(cell, ref, sheet, f"{value_letter}{i + 1}")
        if part is None:
            skipped[reason] += 1
        else:
            parts.append(part)
    observations, used = _combine(parts, skipped, GLOTIP_ID, source, path.name)
    return HistoryImport(GLOTIP_ID, source, path.name, sha256, observations, skipped, source_rows, used)


def _glotip_part(cell: dict[str, object], ref: Reference, sheet: str, where: str) -> tuple[str, _Part | None]:
    iso3 = _text(cell["Iso3_code"]).upper()
    year = _as_year(cell["Year"])
    if iso3 not in ref.state_by_iso3:
        return SKIP_NOT_BSEC, None
    if year is None:
        return SKIP_YEAR, None
    if (reason := _membership_reason(ref, iso3, year)) is not None:
        return reason, None
    code = GLOTIP_INDICATORS.get(_text(cell["Indicator"]))
    if code is None or code not in ref.indicator_by_code:
        return SKIP_INDICATOR, None
    breakdown, reason = _glotip_breakdown(_text(cell["Dimension"]), _text(cell["Category"]), _text(cell["Sex"]), _text(cell["Age"]))
    if breakdown is None:
        return reason, None
    indicator = ref.indicator_by_code[code]
    if breakdown not in ref.breakdowns_of(indicator):
        return SKIP_NOT_TAKEN, None
    parsed = parse_value(cell["txtVALUE"], indicator.is_count)
    if parsed.status == NOT_AVAILABLE:
        return SKIP_NOT_AVAILABLE, None
    status = parsed.status if parsed.status in (REPORTED, CONFIDENTIAL) else "invalid"
    return "", _Part((iso3, year, code, breakdown), parsed.number, status, "", "", sheet, where)


# Eurostat -----------------------------------------------------------------------------------------------
def _eurostat_keys(header: str) -> list[str] | None:
    """The key columns of a Eurostat TSV header (`freq,iccs,unit,geo\\TIME_PERIOD`), or None."""
    first = header.split("\t", 1)[0].strip()
    keys, backslash, time = first.partition("\\")
    if not backslash or time.strip().casefold() not in ("time_period", "time"):
        return None
    names = [k.strip().casefold() for k in keys.split(",")]
    return names if tuple(names) == EUROSTAT_KEYS else None


def _import_eurostat(path: Path, lines: list[str], sha256: str, ref: Reference) -> HistoryImport:
    source = "Eurostat crim_off_cat"
    header = lines[0].split("\t")
    years = [_as_year(h.strip()) for h in header[1:]]
    if not years or any(y is None for y in years):
        raise UnrecognisedFileError(f"{_expected(path.name)} Its period columns are not years (only annual data can be imported).")
    geo_to_iso3 = {ms.iso2: ms.iso3 for ms in ref.member_states} | EUROSTAT_GEO
    skipped: Counter = Counter()
    parts: list[_Part] = []
    rates = []
    source_rows = 0
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        keys = dict(zip(EUROSTAT_KEYS, (k.strip() for k in fields[0].split(",")), strict=False))
        for year, raw in zip(years, fields[1:] + [""] * (len(years) - len(fields) + 1), strict=False):
            source_rows += 1
            where = f"line {number}, {year}"
            reason, part = _eurostat_part(keys, year, raw, geo_to_iso3, ref, where)
            if part is not None:
                parts.append(part)
                continue
            skipped[reason] += 1
            if reason == SKIP_RATE:
                rate = _eurostat_rate(keys, year, raw, geo_to_iso3)
                if rate is not None:
                    rates.append({**rate, "cell": where})
    observations, used = _combine(parts, skipped, EUROSTAT_ID, source, path.name)
    rate_frame = pd.DataFrame(rates, columns=["country_iso3", "year", "indicator", "rate", "cell"])
    return HistoryImport(EUROSTAT_ID, source, path.name, sha256, observations, skipped, source_rows, used, rate_frame)


def _eurostat_part(keys: dict[str, str], year: int, raw: str, geo_to_iso3: dict[str, str], ref: Reference, where: str) -> tuple[str, _Part | None]:
    iso3 = geo_to_iso3.get(keys.get("geo", "").upper(), "")
    if not iso3:
        return SKIP_NOT_BSEC, None
    if (reason := _membership_reason(ref, iso3, year)) is not None:
        return reason, None
    if keys.get("freq", "").upper() != "A":
        return SKIP_FREQUENCY, None
    code = EUROSTAT_INDICATORS.get(keys.get("iccs", "").upper())
    if code is None or code not in ref.indicator_by_code:
        return SKIP_INDICATOR, None
    unit = keys.get("unit", "").upper()
    if unit == EUROSTAT_RATE_UNIT:
        return SKIP_RATE, None
    if unit != EUROSTAT_COUNT_UNIT:
        return SKIP_UNIT, None
    number, status, flags, note = _eurostat_value(raw, ref.indicator_by_code[code].is_count)
    if status == NOT_AVAILABLE:
        return SKIP_NOT_AVAILABLE, None
    return "", _Part((iso3, year, code, TOTAL), number, status, flags, note, "", where)


def _eurostat_value(raw: str, is_count: bool) -> tuple[float | None, str, str, str]:
    """A TSV cell (`123 `, `123 p`, `: `, `: c`) -> (number, status, our flags, note for the comment)."""
    match = _EUROSTAT_CELL.match(raw.strip())
    if match is None or (match.group("number") and match.group("colon")):
        return None, "invalid", "", ""
    letters = match.group("flags")
    unknown = "".join(ch for ch in letters if ch not in EUROSTAT_FLAGS)
    flags = "".join(dict.fromkeys(EUROSTAT_FLAGS[ch] for ch in letters if ch in EUROSTAT_FLAGS))
    note = f"Eurostat flag(s) '{unknown}' have no BSEC equivalent." if unknown else ""
    if match.group("colon") or not match.group("number"):
        if "C" in flags:
            return None, CONFIDENTIAL, flags, note
        if "m" in flags:
            return None, NOT_APPLICABLE, flags, note
        return None, NOT_AVAILABLE, flags, note
    parsed = parse_value(match.group("number"), is_count)
    if parsed.status != REPORTED:
        return None, "invalid", flags, note
    return parsed.number, CONFIDENTIAL if "C" in flags else REPORTED, flags, note


def _eurostat_rate(keys: dict[str, str], year: int, raw: str, geo_to_iso3: dict[str, str]) -> dict[str, object] | None:
    match = _EUROSTAT_CELL.match(raw.strip())
    if match is None or not match.group("number") or match.group("colon"):
        return None
    try:
        rate = float(match.group("number"))
    except ValueError:
        return None
    code = EUROSTAT_INDICATORS[keys["iccs"].upper()]
    return {"country_iso3": geo_to_iso3[keys["geo"].upper()], "year": year, "indicator": code, "rate": rate}


# Repeated keys -> one observation each ------------------------------------------------------------------
def _combine(parts: list[_Part], skipped: Counter, source_id: str, source: str, file_name: str) -> tuple[pd.DataFrame, int]:
    """One observation per key; returns (observations, source rows used).

    A key given by several rows is summed when its breakdown is made of sub-forms sharing a label
    (`SUMMED_BREAKDOWNS`: a part `<5` makes the sum confidential); otherwise identical repeats count
    once and differing ones are all left out. A row whose value is not a number is left out, and so
    is a sum with such a part.
    """
    groups: dict[tuple[str, int, str, str], list[_Part]] = {}
    for part in parts:
        groups.setdefault(part.key, []).append(part)
    records = []
    used = 0
    for key, group in groups.items():
        iso3, year, code, breakdown = key
        if any(p.status == "invalid" for p in group):
            skipped[SKIP_NOT_NUMBER] += len(group)
            continue
        first = group[0]
        number, status, flags, cell = first.number, first.status, first.flags, first.cell
        comments = [first.comment] if first.comment else []
        if len(group) > 1 and breakdown in SUMMED_BREAKDOWNS:
            cell = "+".join(p.cell for p in group)
            if all(p.status == REPORTED for p in group):
                number = float(sum(p.number for p in group))
                comments.append(f"Sum of {len(group)} source rows sharing this label ({', '.join(_part_text(p) for p in group)}).")
            else:
                number, status = None, CONFIDENTIAL
                comments.append(f"Sum of {len(group)} source rows sharing this label, at least one suppressed (<5): confidential ({', '.join(_part_text(p) for p in group)}).")
            flags = "".join(dict.fromkeys("".join(p.flags for p in group)))
        elif len(group) > 1:
            if len({(p.number, p.status, p.flags) for p in group}) > 1:
                skipped[SKIP_REPEATED] += len(group)
                continue
            skipped[SKIP_REPEATED_SAME] += len(group) - 1
        note = DEFINITION_NOTES.get((source_id, breakdown)) or DEFINITION_NOTES.get((source_id, code))
        if note:
            flags = flags if "d" in flags else flags + "d"
            comments.insert(0, note)
        used += len(group) if breakdown in SUMMED_BREAKDOWNS else 1
        records.append(
            {
                "country_iso3": iso3,
                "year": year,
                "indicator": code,
                "breakdown": breakdown,
                "value": number,
                "status": status,
                "flags": flags,
                "comment": " ".join(comments),
                "source_file": file_name,
                "sheet": first.sheet,
                "cell": cell,
                "source": source,
            }
        )
    return _sorted_frame(pd.DataFrame(records, columns=HISTORY_COLUMNS)), used


def _part_text(part: _Part) -> str:
    shown = "<5" if part.number is None else plain_number(part.number)
    return f"{part.cell}: {shown}"


def _sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype({"value": "float64", "year": "int64"})
    return frame.sort_values([*KEY_COLUMNS, "source"], kind="stable").reset_index(drop=True)


# -- write and read ----------------------------------------------------------------------------------------
def write_history(imp: HistoryImport, inputs_dir: Path) -> Path:
    """Write `<inputs>/history/<source_id>.csv` and its `.json` provenance atomically; returns the CSV path.

    Importing the same source again replaces both. Nothing in either file depends on the time of the
    import, so the same published file gives the same bytes.
    """
    folder = Path(inputs_dir) / HISTORY_DIR
    target = output_files.write_csv(_sorted_frame(imp.observations[HISTORY_COLUMNS]), folder / f"{imp.source_id}.csv")
    provenance = {
        "source_id": imp.source_id,
        "source": imp.source,
        "file": imp.file_name,
        "sha256": imp.sha256,
        "source_rows": imp.source_rows,
        "source_rows_used": imp.rows_used,
        "rows_imported": len(imp.observations),
        "rows_imported_by_indicator": imp.imported_by_indicator,
        "rows_skipped": dict(sorted(imp.skipped.items())),
        "published_rates": len(imp.published_rates),
        "crimetrends_version": __version__,
    }
    _write_text(folder / f"{imp.source_id}.json", json.dumps(provenance, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    return target


def _write_text(path: Path, text: str) -> None:
    write_atomically(path, text.encode("utf-8"))


def read_history(inputs_dir: Path, ref: Reference) -> tuple[pd.DataFrame, list[Finding]]:
    """Every `<inputs>/history/*.csv`, checked: (observations with `source`, findings).

    A file that cannot be read or lacks a column is left out (`history-file-invalid`); a row whose
    country, year, indicator, breakdown, status, value or flags do not fit the catalogue, or whose key
    another history row also gives, is left out (`history-row-invalid`). Extra columns are ignored.
    """
    folder = Path(inputs_dir) / HISTORY_DIR
    frames: list[pd.DataFrame] = []
    findings: list[Finding] = []
    paths = sorted(p for p in folder.glob("*.csv") if not p.name.startswith(".")) if folder.is_dir() else []
    for path in paths:
        name = path.relative_to(inputs_dir).as_posix()
        frame, found = _read_history_file(path, name, ref)
        findings.extend(found)
        if frame is not None:
            frames.append(frame)
    if not frames:
        return _sorted_frame(pd.DataFrame(columns=[*HISTORY_COLUMNS, "history_file"])), findings
    history = pd.concat(frames, ignore_index=True)
    repeated = history.duplicated(KEY_COLUMNS, keep=False)
    for (iso3, year, code, breakdown), group in history[repeated].groupby(KEY_COLUMNS, sort=True):
        where = ", ".join(f"{f} {line}" for f, line in zip(group["_file"], group["_line"], strict=True))
        message = f"{iso3} {year} {code} {breakdown} is given by more than one history row ({where}); none of them is used."
        findings.extend(
            make_finding(ref, "history-row-invalid", message, file=f, cell=line, value=f"{code} {breakdown}", country_iso3=iso3, year=int(year))
            for f, line in zip(group["_file"], group["_line"], strict=True)
        )
    # `history_file` (which history CSV a row came from) lets the run account for each file.
    return _sorted_frame(history[~repeated].rename(columns={"_file": "history_file"})[[*HISTORY_COLUMNS, "history_file"]]), findings


def _read_history_file(path: Path, name: str, ref: Reference) -> tuple[pd.DataFrame | None, list[Finding]]:
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        message = f"{name} cannot be read as a history CSV ({type(err).__name__}: {str(err)[:200]}); none of it is used."
        return None, [make_finding(ref, "history-file-invalid", message, file=name)]
    raw = output_files.restore_text_columns(raw)  # write_csv quoted text that a spreadsheet would run (CWE-1236)
    missing = [c for c in HISTORY_COLUMNS if c not in raw.columns]
    if missing:
        message = f"{name} lacks the column(s) {', '.join(missing)}; none of it is used. Import the published file again with `crimetrends import`."
        return None, [make_finding(ref, "history-file-invalid", message, file=name, value=", ".join(missing))]
    findings = []
    kept = []
    for line, row in enumerate(raw[HISTORY_COLUMNS].to_dict("records"), start=2):  # all text: read with dtype=str
        record, problem = _checked_row(row, ref)
        if problem:
            iso3 = row["country_iso3"].strip() if row["country_iso3"].strip() in ref.state_by_iso3 else ""
            findings.append(
                make_finding(ref, "history-row-invalid", f"{name} line {line}: {problem}; the row is not used.", file=name, cell=f"line {line}", value=" ".join(str(row[c]) for c in KEY_COLUMNS), country_iso3=iso3, year=_as_year(row["year"]))
            )
            continue
        kept.append({**record, "_file": name, "_line": f"line {line}"})
    frame = pd.DataFrame(kept, columns=[*HISTORY_COLUMNS, "_file", "_line"])
    return frame.astype({"value": "float64", "year": "int64"}), findings


def _checked_row(row: dict[str, str], ref: Reference) -> tuple[dict[str, object], str]:
    """(typed row, "") or ({}, what is wrong)."""
    iso3 = row["country_iso3"].strip()
    year = _as_year(row["year"])
    code = row["indicator"].strip()
    breakdown = row["breakdown"].strip()
    status = row["status"].strip()
    flags = row["flags"].strip()
    state = ref.state_by_iso3.get(iso3)
    if state is None:
        return {}, f"'{iso3}' is not the ISO3 code of a BSEC member state"
    if year is None or not MIN_YEAR <= year <= MAX_YEAR:
        return {}, f"the year '{row['year']}' is not a year in {MIN_YEAR}–{MAX_YEAR}"
    if year < state.member_from:
        return {}, f"{state.name} was not a BSEC member state in {year} (member from {state.member_from})"
    indicator = ref.indicator_by_code.get(code)
    if indicator is None:
        return {}, f"'{code}' is not an indicator code of the catalogue"
    if breakdown not in ref.breakdowns_of(indicator):
        return {}, f"{code} does not take the breakdown '{breakdown}'"
    if status not in HISTORY_STATUSES:
        return {}, f"the status '{status}' is not one of {', '.join(sorted(HISTORY_STATUSES))}"
    if any(ch not in ref.flag_codes for ch in flags):
        return {}, f"'{flags}' holds a flag that is not one of {''.join(sorted(ref.flag_codes))}"
    if not row["source"].strip():
        return {}, "the source is blank"
    text = row["value"].strip()
    number = None
    if text:
        try:
            number = float(text)
        except ValueError:
            return {}, f"the value '{text}' is not a number"
        if math.isnan(number) or math.isinf(number) or number < 0 or (indicator.is_count and not number.is_integer()):
            return {}, f"the value '{text}' is not a {'whole number' if indicator.is_count else 'number'} of 0 or more"
    if status == REPORTED and number is None:
        return {}, "a reported value has no number"
    if status in (NOT_AVAILABLE, NOT_APPLICABLE) and number is not None:
        return {}, f"a value that is {status.replace('_', ' ')} has a number"
    return {**row, "country_iso3": iso3, "year": year, "indicator": code, "breakdown": breakdown, "status": status, "flags": flags, "value": number}, ""


def history_files_frame(inputs_dir: Path, history: pd.DataFrame, findings: list[Finding]) -> pd.DataFrame:
    """One row per file under `<inputs>/history/` in the submissions table's columns, so none goes unlisted.

    A history CSV is `history` (its values were read) or `rejected` (`history-file-invalid`); its
    provenance JSON and any other file there are listed as `ignored`.
    """
    folder = Path(inputs_dir) / HISTORY_DIR
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) if folder.is_dir() else []
    used = history[history["status"].isin([REPORTED, CONFIDENTIAL])]
    rows = []
    for path in paths:
        name = path.relative_to(inputs_dir).as_posix()
        own = [f for f in findings if f.file == name]
        rejected = [f for f in own if f.code == "history-file-invalid"]
        n_values = int((used["history_file"] == name).sum())
        if path.suffix.lower() == ".csv":
            status, reason = ("rejected", rejected[0].message) if rejected else (STATUS_HISTORY, f"{n_values} value(s) from a published source")
        else:
            status, reason = "ignored", "provenance of an import" if path.suffix.lower() == ".json" else "not a history file (.csv)"
        rows.append(
            {
                "file": name, "country_iso3": "", "year": pd.NA, "status": status, "reason": reason, "date_submitted": "",
                "n_values": n_values, "n_errors": sum(f.severity == "error" for f in own), "n_warnings": sum(f.severity == "warning" for f in own),
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
        )
    frame = pd.DataFrame(rows, columns=SUBMISSION_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    return frame


# -- precedence --------------------------------------------------------------------------------------------
def merge_history(observations: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Submissions and history in one frame, with `origin` ("submission" or "history") and `source`.

    A state's own submission wins: a history row is used only when no submission row has the same
    state, year, indicator and breakdown, whatever that row's status (a value the state reported
    as not available, or that validation rejected, is not replaced by a published figure).
    """
    own = observations.reindex(columns=OBSERVATION_COLUMNS).assign(source="", origin=ORIGIN_SUBMISSION)
    hist = history.reindex(columns=HISTORY_COLUMNS).assign(origin=ORIGIN_HISTORY)
    taken = set(zip(*(own[c] for c in KEY_COLUMNS), strict=True))
    hist = hist[[key not in taken for key in zip(*(hist[c] for c in KEY_COLUMNS), strict=True)]]
    frames = [f for f in (own, hist) if len(f)]
    merged = pd.concat(frames, ignore_index=True) if frames else own
    merged = merged.astype({"value": "float64", "year": "int64"})
    return merged.sort_values([*KEY_COLUMNS, "origin"], kind="stable").reset_index(drop=True)
