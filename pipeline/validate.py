"""Validate: `RawSubmission` -> `Submission` (typed observations, findings, a status).

Input: what `pipeline.ingest` read, and the `Reference`. Output: per file a `Submission` with the
observations in long form (one row per indicator and breakdown, keeping file, sheet and cell) and
the findings. Bad data is never an exception: it is a finding whose code, severity and effect come
from `reference/finding_codes.csv`. A finding whose effect is `reject` keeps the whole submission out;
`drop-value` leaves that value out (status `rejected`) and keeps the rest.

Value conventions (UN-CTS, Eurostat and ARQ practice): blank, `:`, `..`, `-`, `--`, `n/a`, `NA` and
`not known` mean *not available*, never 0; `<5` is a suppressed small count (confidential); a number
typed as text is read with an info finding unless its meaning is ambiguous. A Unit cell other than the
catalogue unit is converted when `reference/unit_conversions.csv` knows how (flag `e`); otherwise the
value is left out. The content and time rules themselves are in `pipeline.rules`. The accepted forms
are `workbook_contract.NOT_AVAILABLE_FORMS` and `SUPPRESSED_FORM`; a message about a form that is not
accepted lists them (`workbook_contract.ACCEPTED_FORMS_TEXT`).

Findings speak to the focal point: each names its row by the indicator's label with the code and
breakdown in brackets (`rules.row_name`) and says what the cell holds. Data rows are matched to the
catalogue by Code and Breakdown, never by position; a template row missing from the sheet, in it twice
or out of the template's order is a finding naming the indicator.

Revisions (rule R01): the Previous year value cell of each row is read under the same conventions
(in the catalogue unit, whatever the Unit cell says: the template pre-fills it in that unit) and
kept on the `Submission`; `apply_revisions`, run across the submissions in use, compares it with
the value accepted for the year before, replaces that value when a different number was typed, and
returns the revision log (`REVISION_COLUMNS`).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import operator
import re
from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import NamedTuple

import numpy as np
import pandas as pd

from pipeline import workbook_contract, rules
from pipeline.findings import Finding, findings_table, make_finding, plain_number
from pipeline.ingest import CellError, RawSubmission
from pipeline.reference import TOTAL, Reference

OBSERVATION_COLUMNS = [
    "country_iso3", "year", "indicator", "breakdown", "value", "status", "flags", "comment",
    "source_file", "sheet", "cell",
]
OBSERVATION_DTYPES = {"value": "float64", "year": "int64"}  # the other columns as pandas infers them
# A Previous year value cell once read: what the state says the value of the year before is.
PREVIOUS_COLUMNS = ["indicator", "breakdown", "value", "status", "comment", "sheet", "cell"]
PREVIOUS_DTYPES = {"value": "float64"}
# Positions in an observation row (a tuple in OBSERVATION_COLUMNS order).
_INDICATOR, _BREAKDOWN, _VALUE, _STATUS, _FLAGS, _COMMENT, _SOURCE_FILE, _CELL = (
    OBSERVATION_COLUMNS.index(name) for name in ("indicator", "breakdown", "value", "status", "flags", "comment", "source_file", "cell"))
# Observation statuses: what a value *is*, kept apart from the number itself.
REPORTED = "reported"
NOT_AVAILABLE = "not_available"
NOT_APPLICABLE = "not_applicable"
CONFIDENTIAL = "confidential"
REJECTED = "rejected"

NOT_AVAILABLE_TOKENS = frozenset(workbook_contract.NOT_AVAILABLE_FORMS)
# Between flag codes typed together ("b, p", "b+p"); any other whitespace separates them too.
FLAG_SEPARATORS = ",;+/ "
_FLAG_SPLIT = re.compile(f"[{re.escape(FLAG_SEPARATORS)}\\s]+")
# Spaces people and spreadsheets put inside numbers: ordinary, no-break, narrow no-break, thin.
_NUMBER_SPACES = re.compile(r"[ \u00a0\u202f\u2009\u2007']")
_SUPPRESSED = re.compile(r"^<\s*(\d+)$")
_PLAIN = re.compile(r"^-?\d+(\.\d+)?$")
_THOUSANDS_COMMA = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_THOUSANDS_DOT = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")
# Error values as spreadsheets show them (Excel) and as LibreOffice writes them into .ods/.xls.
_ERROR_TEXT = re.compile(r"^(#DIV/0!|#N/A|#VALUE!|#REF!|#NAME\?|#NUM!|#NULL!|#SPILL!|#CALC!|Err:\d{3})$")
MIN_YEAR = 2000
MAX_YEAR = 2100


class ParsedValue(NamedTuple):
    """A Value cell read under the conventions: a number with its status, or why it is not one.

    A named tuple, not a frozen dataclass: one is made for every cell read, and a frozen dataclass
    costs more than twice as much to make (0.7 against 0.3 us)."""

    number: float | None
    status: str  # reported | not_available | confidential | invalid
    finding_code: str = ""  # "" when nothing to say; else a code from finding_codes.csv
    note: str = ""


def parse_value(raw: object, is_count: bool) -> ParsedValue:
    """Read one Value cell. Never raises; `status == "invalid"` carries the finding code."""
    if raw.__class__ is float and raw == raw or raw.__class__ is int:  # a plain number (not NaN), the usual case
        return _checked(float(raw), is_count, raw)  # type: ignore[arg-type]
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return _NOT_AVAILABLE
    if isinstance(raw, CellError) or (isinstance(raw, str) and _ERROR_TEXT.match(raw.strip())):
        return ParsedValue(None, "invalid", "value-error-cell", f"the cell holds {raw!s}, not a value")
    if isinstance(raw, bool):
        return ParsedValue(None, "invalid", "value-not-numeric", f"the cell holds {raw}, which is not a number. {_ACCEPTED}")
    if isinstance(raw, int | float):
        return _checked(float(raw), is_count, raw)
    if isinstance(raw, dt.date | dt.datetime | dt.time | pd.Timestamp):
        return ParsedValue(None, "invalid", "value-not-numeric", f"the cell holds a date ({raw}), which is not a number. {_ACCEPTED}")
    text = str(raw).strip()
    if not text or text.casefold() in NOT_AVAILABLE_TOKENS:
        return ParsedValue(None, NOT_AVAILABLE)
    suppressed = _SUPPRESSED.match(text)
    if suppressed:
        return ParsedValue(None, CONFIDENTIAL, "value-confidential", f"the cell holds '{text}', a suppressed small count, kept as confidential")
    compact = _NUMBER_SPACES.sub("", text)
    number, ambiguous = _number_from_text(compact, is_count)
    if ambiguous:
        return ParsedValue(None, "invalid", "value-ambiguous", f"the cell holds '{text}', which could be read in more than one way; type the number without separators")
    if number is None:
        return ParsedValue(None, "invalid", "value-not-numeric", f"the cell holds '{text}', which is neither a number nor a form the workbook accepts. {_ACCEPTED}")
    checked = _checked(number, is_count, text)
    if checked.status == "invalid":
        return checked
    return ParsedValue(checked.number, REPORTED, "value-text-number", f"the cell holds '{text}', typed as text and read as {plain_number(number)}")


_NOT_AVAILABLE = ParsedValue(None, NOT_AVAILABLE)


class _Held(str):
    """What a cell holds, worded for a note as it is (not quoted as typed text is)."""

_ACCEPTED = f"Accepted: {workbook_contract.ACCEPTED_FORMS_TEXT}"


def _number_from_text(text: str, is_count: bool) -> tuple[float | None, bool]:
    """(number, ambiguous). A dot or comma followed by exactly three digits is ambiguous unless the
    kind of value settles it: in a count `1,154` can only be a thousands separator, in a quantity
    `1.154` only a decimal point."""
    if _PLAIN.match(text):
        if is_count and _THOUSANDS_DOT.match(text):
            return None, True  # 1.154 in a count: 1154, or a mistaken 1.154?
        return float(text), False
    if _THOUSANDS_COMMA.match(text):
        if not is_count and "." not in text:
            return None, True  # 1,154 kg: 1154 kg, or 1.154 kg written with a decimal comma?
        return float(text.replace(",", "")), False
    if _THOUSANDS_DOT.match(text):
        return float(text.replace(".", "").replace(",", ".")), False
    if _DECIMAL_COMMA.match(text):
        return float(text.replace(",", ".")), False
    return None, False


def _checked(number: float, is_count: bool, held: object) -> ParsedValue:
    """`number` judged as a value; the note of one that is not says what the cell holds (`held`:
    the cell's text, quoted in the note, or its number; a `_Held` is shown as it is)."""
    if 0 <= number < math.inf and (not is_count or number.is_integer()):  # the usual case: one test
        return ParsedValue(number, REPORTED)
    shown = held if isinstance(held, _Held) else f"'{held}'" if isinstance(held, str) else plain_number(held) if math.isfinite(held) else str(held)
    if math.isnan(number) or math.isinf(number):
        return ParsedValue(None, "invalid", "value-not-numeric", f"the cell holds {shown}, which is not a finite number")
    if number < 0:
        return ParsedValue(None, "invalid", "value-negative", f"the cell holds {shown}, which is negative")
    if is_count and number != int(number):
        return ParsedValue(None, "invalid", "value-not-whole", f"the cell holds {shown}, which is not a whole number")
    return ParsedValue(number, REPORTED)


def parse_flags(raw: object, ref: Reference) -> tuple[str, bool]:
    """Flag codes in the order entered (`"bp"`), from codes or drop-down words; (codes, is_valid)."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return "", True
    text = str(raw).strip()
    if not text:
        return "", True
    word = ref.flag_by_word.get(text.casefold())
    if word:
        return word, True
    codes: list[str] = []
    for token in _FLAG_SPLIT.split(text):
        if not token:
            continue
        if token.casefold() in ref.flag_by_word:
            codes.append(ref.flag_by_word[token.casefold()])
        elif all(ch in ref.flag_codes for ch in token):
            codes.extend(token)
        else:
            return text, False
    return "".join(dict.fromkeys(codes)), True


_EMPTY_FRAMES: dict[tuple, pd.DataFrame] = {}


def _empty(columns: list[str]) -> pd.DataFrame:
    """A frame with `columns` and no rows: a copy of one made once (building one costs ten times more)."""
    key = tuple(columns)
    if key not in _EMPTY_FRAMES:
        _EMPTY_FRAMES[key] = pd.DataFrame(columns=columns)
    return _EMPTY_FRAMES[key].copy()


class _Table:
    """A frame of a `Submission` (`OBSERVATION_COLUMNS` or `PREVIOUS_COLUMNS`), kept as the rows
    validation made until a frame is asked for: building three frames a workbook cost validation as
    much as everything else it does (~0.55 of 1.3 ms), and the checks across files read rows.

    The rows are tuples in column order, each value as the frame's column gives it back (floats for
    a float64 column, NaN for none; ints for int64), so the frame built from them (`_frame`) is the
    one validation used to build, and rows read back from a frame (`Submission.rows`) are the rows.
    Assigning rows (a list) or a frame replaces what is held; a frame once asked for is what is held
    from then on (the caller may change it). Never assigned: an empty frame of object columns, as
    the dataclass default used to be.
    """

    def __init__(self, columns: list[str], dtypes: dict[str, str]) -> None:
        self.columns, self.dtypes = columns, dtypes

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, sub: Submission | None, owner: type | None = None) -> pd.DataFrame | None:
        if sub is None:
            return None  # the field's default, as dataclasses ask for it
        held = sub.__dict__.get(self.slot)
        if not isinstance(held, pd.DataFrame):
            held = _empty(self.columns) if held is None else _frame(held, self.columns, self.dtypes)
            sub.__dict__[self.slot] = held
        return held

    def __set__(self, sub: Submission, value: pd.DataFrame | list[tuple] | None) -> None:
        sub.__dict__[self.slot] = value

    def rows(self, sub: Submission) -> list[tuple]:
        held = sub.__dict__.get(self.slot)
        if held is None:
            return []
        if isinstance(held, pd.DataFrame):
            return list(zip(*(held[name].tolist() for name in self.columns), strict=True))
        return held


# The statuses of a file whose values are used (each value in error left out).
IN_USE = ("accepted", "accepted-with-warnings", "accepted-with-errors")

@dataclass
class Submission:
    """One input file after validation. `status` is what submissions.csv reports.

    `observations`, `previous` and `carried` are frames to whoever reads them; validation and the
    checks across files work on their rows (`rows`), and a frame is built only when asked for.
    """

    file: str
    sha256: str
    country_iso3: str = ""
    year: int | None = None
    date_submitted: dt.date | None = None
    is_demonstration: bool = False
    status: str = "rejected"  # accepted | accepted-with-warnings | accepted-with-errors | rejected | superseded | ignored
    reason: str = ""
    observations: pd.DataFrame = _Table(OBSERVATION_COLUMNS, OBSERVATION_DTYPES)  # type: ignore[assignment]
    findings: list[Finding] = field(default_factory=list)
    # Previous year value cells holding something (`PREVIOUS_COLUMNS`), for `apply_revisions`.
    previous: pd.DataFrame = _Table(PREVIOUS_COLUMNS, PREVIOUS_DTYPES)  # type: ignore[assignment]
    # Observations of year - 1 this submission carries: revised figures of a year with no submission in use.
    carried: pd.DataFrame = _Table(OBSERVATION_COLUMNS, OBSERVATION_DTYPES)  # type: ignore[assignment]
    blank_keys: set[tuple[str, str]] = field(default_factory=set)  # (indicator, breakdown) left empty, not ":"
    strict: bool = False  # reject on any error, not only on structural ones

    @property
    def is_used(self) -> bool:
        return self.status in IN_USE

    @property
    def n_values(self) -> int:
        return sum(1 for row in self.rows("observations") if row[_STATUS] in (REPORTED, CONFIDENTIAL))

    def rows(self, table: str) -> list[tuple]:
        """The rows of `observations`, `previous` or `carried`: tuples in column order, the values as the frame gives them."""
        return type(self).__dict__[table].rows(self)

    def held(self, table: str) -> list[tuple] | pd.DataFrame | None:
        """What `table` holds now: its rows, its frame, or None when never assigned (an empty frame)."""
        return self.__dict__.get(f"_{table}")

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)


def validate_submission(raw: RawSubmission, ref: Reference, *, strict: bool = False) -> Submission:
    """Structure, Cover, then every Data row; the status follows from the findings' effects.

    With `strict`, any error rejects the whole submission (not only the value it concerns).
    """
    sub = Submission(file=raw.file, sha256=raw.sha256, findings=list(raw.findings), strict=strict)
    if raw.kind != "workbook":
        sub.status, sub.reason = "ignored", sub.findings[0].message if sub.findings else "not a workbook"
        return sub
    if raw.readable:
        _check_cover(raw, sub, ref)
        _check_template_version(raw, sub, ref)
        cover_sheet = raw.cover_sheet or workbook_contract.COVER_SHEET
        if raw.cover_sheet:
            sub.findings.extend(rules.check_cover_metadata(raw.cover, ref, file=raw.file, sheet=cover_sheet))
        if sub.country_iso3 and sub.year is not None:
            year_cell = raw.cover[workbook_contract.COVER_YEAR].cell if workbook_contract.COVER_YEAR in raw.cover else ""
            sub.findings.extend(rules.check_population(ref, sub.country_iso3, sub.year, file=raw.file, sheet=cover_sheet, cell=year_cell))
        sub.is_demonstration = raw.meta.get(workbook_contract.META_DEMONSTRATION_KEY, "").casefold() in ("yes", "true", "1")
        if sub.country_iso3 and sub.year is not None and raw.data_sheet:
            sub.observations, sub.previous = _observations(raw, sub, ref)
            _check_content(sub, ref)
    sub.findings = [_with_context(f, sub) for f in sub.findings]
    _set_status(sub, ref)
    return sub


def _check_content(sub: Submission, ref: Reference) -> None:
    """The rules within one submission; the values they find wrong (errors) are left out at the end.

    Breakdown sums and "of which" parts (errors: the parts are left out, the totals kept), forms of
    exploitation counted more than once, later stages above earlier ones, the justice funnel and
    victims without offences (warnings), breaks in series without a description (info).
    """
    rows = sub.rows("observations")
    lookup = rules.ObservationLookup(_columns_of(rows))
    found, dropped = rules.check_breakdowns(lookup, ref, sub.file)
    sub.findings.extend(found)
    found, dropped_parts = rules.check_consistency_pairs(lookup, ref, sub.file)
    sub.findings.extend(found)
    dropped |= dropped_parts
    sub.findings.extend(rules.check_funnel(lookup, ref, sub.file))
    sub.findings.extend(rules.check_victims_without_offences(lookup, ref, sub.file))
    sub.findings.extend(rules.check_breaks(lookup, ref, sub.file))
    if dropped:  # the value left out: no number, status rejected (value and status are neighbours in a row)
        sub.observations = [
            (*row[:_VALUE], _NAN, REJECTED, *row[_STATUS + 1:]) if (row[_INDICATOR], row[_BREAKDOWN]) in dropped else row for row in rows
        ]


def _columns_of(rows: list[tuple]) -> dict[str, tuple]:
    """Observation rows as their columns, column name -> values: what the rules take instead of a frame."""
    return dict(zip(OBSERVATION_COLUMNS, list(zip(*rows, strict=True)) or [()] * len(OBSERVATION_COLUMNS), strict=True))


def apply_time_rules(subs: list[Submission], ref: Reference, thresholds: rules.Thresholds | None = None) -> None:
    """Changes on the previous year, outliers, dropped series and unexplained blanks, across the submissions in use.

    Run after `resolve_resubmissions`: each finding goes to the submission of its year, whose status
    is then brought up to date.
    """
    used = [s for s in subs if s.is_used]
    blank_cells = {(s.country_iso3, s.year, ind, bd) for s in used for ind, bd in s.blank_keys}
    found = rules.check_time_series(_columns_of(_rows_in_use(used)), ref, thresholds or rules.load_thresholds(), blank_cells)
    by_file = {s.file: s for s in used}
    for finding in found:
        by_file[finding.file].findings.append(finding)
    changed = {finding.file for finding in found}
    for sub in used:
        if sub.file in changed:  # the others' findings, hence their status, are as they were
            _set_status(sub, ref)


def _with_context(finding: Finding, sub: Submission) -> Finding:
    if finding.country_iso3 or not sub.country_iso3:
        return finding
    return Finding(**{**finding.as_row(), "country_iso3": sub.country_iso3, "year": sub.year})


def _set_status(sub: Submission, ref: Reference) -> None:
    # Strict rejects for errors in the data sent; an error with no effect on it (no population figure in
    # our reference for the rate) is not the state's to fix, so it never rejects.
    rejecting = [
        f for f in sub.findings
        if ref.finding_codes[f.code].effect == "reject" or (sub.strict and f.severity == "error" and ref.finding_codes[f.code].effect != "none")
    ]
    if rejecting:
        sub.status = "rejected"
        sub.reason = "; ".join(dict.fromkeys(f.message for f in rejecting))
        sub.observations = sub.observations.iloc[0:0]
    elif sub.count("error") or sub.count("warning"):
        # An error whose effect is "none" (no population for the rate) leaves no value out.
        dropped = sum(1 for f in sub.findings if f.severity == "error" and ref.finding_codes[f.code].effect == "drop-value")
        # The same words for the same file everywhere (submissions.csv, status.csv, the report, the
        # feedback): "with errors" whenever it has an error, so no table shows "with warnings" beside errors.
        sub.status = "accepted-with-errors" if sub.count("error") else "accepted-with-warnings"
        sub.reason = f"{dropped} value(s) left out because of errors" if dropped else "accepted; see the findings"
    else:
        sub.status = "accepted"
        sub.reason = ""


def _check_cover(raw: RawSubmission, sub: Submission, ref: Reference) -> None:
    sheet = raw.cover_sheet or workbook_contract.COVER_SHEET
    year_field = raw.cover.get(workbook_contract.COVER_YEAR)
    year = _as_year(year_field.value if year_field else None)
    if year is None:
        shown = "" if year_field is None or year_field.value is None else year_field.value
        sub.findings.append(make_finding(ref, "cover-year-missing", f"The Cover gives no reporting year that can be read as a year ('{shown}').", file=raw.file, sheet=sheet, cell=year_field.cell if year_field else "", value=shown))
    elif not MIN_YEAR <= year <= MAX_YEAR:
        sub.findings.append(make_finding(ref, "cover-year-invalid", f"The reporting year {year} on the Cover is outside {MIN_YEAR}–{MAX_YEAR}.", file=raw.file, sheet=sheet, cell=year_field.cell, value=year))
    else:
        sub.year = year

    country_field = raw.cover.get(workbook_contract.COVER_COUNTRY)
    iso3 = str(country_field.value).strip().upper() if country_field and country_field.value is not None else ""
    if not iso3:
        sub.findings.append(make_finding(ref, "cover-country-missing", "The Cover does not give the country (ISO3 code).", file=raw.file, sheet=sheet, cell=country_field.cell if country_field else ""))
    elif iso3 not in ref.state_by_iso3:
        sub.findings.append(make_finding(ref, "cover-country-unknown", f"'{iso3}' on the Cover is not the ISO3 code of a BSEC member state.", file=raw.file, sheet=sheet, cell=country_field.cell, value=iso3))
    elif sub.year is not None and ref.state_by_iso3[iso3].member_from > sub.year:
        state = ref.state_by_iso3[iso3]
        sub.findings.append(make_finding(ref, "cover-country-unknown", f"{state.name} was not a BSEC member state in {sub.year} (member from {state.member_from}).", file=raw.file, sheet=sheet, cell=country_field.cell, value=iso3))
    else:
        sub.country_iso3 = iso3

    _check_date(raw, sub, ref, sheet)
    _check_name(raw, sub, ref, sheet)


# A date typed as text with the day and the month both written as numbers: 02/10/2027, 2-10-2027.
# Dots (02.10.2027) are left out: month-first dates are written with slashes or dashes, never dots.
_DAY_MONTH_TEXT = re.compile(r"\s*(\d{1,2})([/-])(\d{1,2})\2(\d{4})\s*")


def _check_date(raw: RawSubmission, sub: Submission, ref: Reference, sheet: str) -> None:
    """The date submitted: missing, unreadable or ambiguous, each a warning on its Cover cell.

    The focal point fills it in, so the finding goes into their feedback, not only the coordinator's
    tracker. Text such as '02/10/2027' is read day first (2 October 2027), as the member states
    write dates; when the month-first reading (10 February 2027) is a date too, a warning names both,
    since the date decides which of two files sent for one year is used.
    """
    date_field = raw.cover.get(workbook_contract.COVER_DATE)
    where = {"file": raw.file, "sheet": sheet, "cell": date_field.cell if date_field else ""}
    typed = "Type it as a date, or as YYYY-MM-DD (for example 2026-02-15)"
    if date_field is None or date_field.value is None or (isinstance(date_field.value, str) and not date_field.value.strip()):
        sub.findings.append(make_finding(ref, "cover-date-missing", f"The Cover gives no date submitted. Please enter the day the workbook is sent: it says which file is current when the workbook is sent again. {typed}.", **where))
        return
    value = date_field.value
    sub.date_submitted = _as_date(value)
    if sub.date_submitted is None:
        sub.findings.append(make_finding(ref, "cover-date-invalid", f"The date submitted holds '{value}', which cannot be read as a date. {typed}.", value=value, **where))
        return
    day_month = _DAY_MONTH_TEXT.fullmatch(value) if isinstance(value, str) else None
    if day_month is None:
        return
    first, _, second, year = day_month.groups()
    try:
        month_first = dt.date(int(year), int(first), int(second))
    except ValueError:
        return  # only the day-first reading is a date: nothing to choose
    if month_first == sub.date_submitted:
        return
    read, other = _long_date(sub.date_submitted), _long_date(month_first)
    sub.findings.append(make_finding(
        ref, "cover-date-ambiguous",
        f"The date submitted holds '{value.strip()}', typed as text: it could be {read} (day first) or {other} (month first). It is read as {read}, "
        f"and that date decides which file is used if the workbook is sent again. Please type it as a date, or as {sub.date_submitted.isoformat()} (YYYY-MM-DD), so it cannot be misread.",
        value=value, **where))


def _long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B} {day.year}"


def _check_name(raw: RawSubmission, sub: Submission, ref: Reference, sheet: str) -> None:
    """The file name and its year folder against the Cover: a disagreement is a warning on the Cover
    cell, and the Cover decides (it is what the focal point filled in, in the workbook made for them)."""
    claims = workbook_contract.name_claims(raw.file, ref.state_by_iso3)
    name = PurePosixPath(raw.file).name
    if sub.year is not None:
        said = []
        if claims.folder_year is not None and claims.folder_year != sub.year:
            said.append(f"the folder {PurePosixPath(raw.file).parent.as_posix()}/ says {claims.folder_year}")
        if claims.name_year is not None and claims.name_year != sub.year:
            said.append(f"the file name {name} says {claims.name_year}")
        if said:
            year_cell = raw.cover[workbook_contract.COVER_YEAR].cell
            sub.findings.append(make_finding(
                ref, "cover-year-mismatch",
                f"The Cover gives the reporting year {sub.year}, but {' and '.join(said)}. The Cover decides: the file is counted for {sub.year}.",
                file=raw.file, sheet=sheet, cell=year_cell, value=sub.year))
    if sub.country_iso3 and claims.iso3 and claims.iso3 != sub.country_iso3:
        named, covered = ref.state_by_iso3[claims.iso3].name, ref.state_by_iso3[sub.country_iso3].name
        sub.findings.append(make_finding(
            ref, "cover-country-mismatch",
            f"The Cover gives the country {sub.country_iso3} ({covered}), but the file name {name} says {claims.iso3} ({named}). The Cover decides: the file is counted for {covered}.",
            file=raw.file, sheet=sheet, cell=raw.cover[workbook_contract.COVER_COUNTRY].cell, value=sub.country_iso3))


def _check_template_version(raw: RawSubmission, sub: Submission, ref: Reference) -> None:
    version = raw.meta.get(workbook_contract.META_VERSION_KEY)
    if version is None:
        sub.findings.append(make_finding(ref, "template-version-missing", "The workbook has no template version: it may not be this year's template.", file=raw.file, sheet=workbook_contract.META_SHEET))
    elif version not in workbook_contract.KNOWN_TEMPLATE_VERSIONS:
        sub.findings.append(make_finding(ref, "template-version-unknown", f"Template version '{version}' is not one this release knows ({', '.join(sorted(workbook_contract.KNOWN_TEMPLATE_VERSIONS))}).", file=raw.file, sheet=workbook_contract.META_SHEET, value=version))


def _as_year(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)) and float(value).is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}(\.0)?\s*", value):
        return int(float(value))
    return None


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%Y/%m/%d", "%d-%m-%Y"):
            try:
                return dt.datetime.strptime(value.strip(), fmt).date()
            except ValueError:
                continue
    return None


def _observations(raw: RawSubmission, sub: Submission, ref: Reference) -> tuple[list[tuple], list[tuple]]:
    """One observation per Data row, and the Previous year value cells read: rows of `OBSERVATION_COLUMNS`
    and `PREVIOUS_COLUMNS` as `Submission` keeps them (a value is a float, NaN for none).

    Rows are matched to the catalogue by Code and Breakdown, never by position. Rows that cannot be
    placed give findings and neither; so do template rows missing from the sheet, or in it twice, and
    rows out of template order (`_check_rows`).
    """
    sheet = raw.data_sheet
    rows = raw.data_rows()
    keys = [(row["code"].strip().upper(), _normalise_breakdown(row["breakdown"])) for row in rows]
    rows_of: dict[tuple[str, str], list[int]] = {}
    for row, key in zip(rows, keys, strict=True):
        rows_of.setdefault(key, []).append(row["row"])
    observed = []  # tuples in OBSERVATION_COLUMNS order
    previous = []
    placed = []  # (template position, row) of each row read, in sheet order
    order = template_order(ref)
    positions = {key: i for i, key in enumerate(order)}
    where = {"file": raw.file, "sheet": sheet}
    # Plain dicts, not iterrows(): a Series per row costs more than everything done with it.
    for row, (code, breakdown) in zip(rows, keys, strict=True):
        indicator = ref.indicator_by_code.get(code)
        if indicator is None:
            sub.findings.append(make_finding(ref, "code-unknown", f"Row {row['row']}: the Code cell holds '{row['code']}', which is not an indicator code of the catalogue; the row is not used.", cell=row["code_cell"], value=row["code"], **where))
            continue
        if breakdown not in ref.breakdowns_of(indicator):
            sub.findings.append(make_finding(ref, "breakdown-unknown", f"Row {row['row']}: {rules.row_name(ref, code)} does not take the breakdown '{row['breakdown']}'; the row is not used.", cell=row["code_cell"], value=row["breakdown"], **where))
            continue
        name = rules.row_name(ref, code, breakdown)
        copies = rows_of[(code, breakdown)]
        if len(copies) > 1:
            sub.findings.append(make_finding(ref, "row-duplicate", f"{name} is in {len(copies)} rows ({_and(copies)}); none of them is used. Please keep one row and delete the others.", cell=row["code_cell"], value=f"{code} {breakdown}", **where))
            continue
        placed.append((positions[(code, breakdown)], row))

        if row["value"] is None or (isinstance(row["value"], float) and math.isnan(row["value"])):
            sub.blank_keys.add((code, breakdown))
        factor = rules.unit_factor(ref, indicator, row["unit"])
        # A count in another unit (thousand items) may have decimals before it is converted.
        parsed = parse_value(row["value"], indicator.is_count and factor == 1.0)
        flags, flags_ok = parse_flags(row["flag"], ref)
        status = parsed.status
        number = parsed.number
        if parsed.finding_code:
            sub.findings.append(make_finding(ref, parsed.finding_code, f"{name}: {parsed.note}.", cell=row["value_cell"], value=row["value"], **where))
        if not flags_ok:
            sub.findings.append(make_finding(ref, "flag-unknown", f"{name}: the Flag cell holds '{flags}', which is not a flag; the value is not used. {_flags_accepted(ref)}", cell=row["flag_cell"], value=flags, **where))
            status, number = "invalid", None
        elif number is not None and factor != 1.0:
            status, number, flags = _converted(sub, ref, row, indicator, breakdown, factor, number, status, flags, where)
        if status == "invalid":
            status, number = REJECTED, None
        elif status == REPORTED and any(c in flags for c in "CN"):
            status = CONFIDENTIAL
        elif status == NOT_AVAILABLE and "m" in flags:
            status = NOT_APPLICABLE
        read = _previous_value(sub, ref, row, indicator, breakdown, where)
        if read is not None:
            previous.append(read)
        observed.append((sub.country_iso3, sub.year, code, breakdown, _NAN if number is None else float(number), status, flags, row["comment"], raw.file, sheet, row["value_cell"]))
    if not any(f.code == "header-missing" for f in raw.findings):  # else no row could be read: that finding says why
        code_column = rows[0]["code_cell"].rstrip("0123456789") if rows else ""
        _check_rows(sub, ref, order, placed, rows_of, code_column, where)
    return observed, previous


def template_order(ref: Reference) -> list[tuple[str, str]]:
    """The (code, breakdown) of each Data row of the template, in its order (`pipeline.template` writes them so)."""
    return [(indicator.code, breakdown) for indicator in ref.indicators for breakdown in ref.breakdowns_of(indicator)]


def _check_rows(sub: Submission, ref: Reference, order: list[tuple[str, str]], placed: list[tuple[int, dict]], rows_of: dict[tuple[str, str], list[int]], code_column: str, where: dict) -> None:
    """Template rows missing from the Data sheet (`row-missing`) and rows out of template order (`row-moved`).

    A missing row's indicator would silently read as not available: one warning per gap, on the Code
    cell just below the row of the template row before it that the sheet has (the first row of the
    table when there is none), naming every row missing there. Rows are read by Code and Breakdown
    wherever they are, so a moved row only gets an info: the rows kept in place are the longest run
    in template order, every other row is moved. `rows_of`: the sheet's rows of each key read.
    """
    first_row = min((min(rows) for rows in rows_of.values()), default=None)
    gaps: dict[str, list[str]] = {}  # the cell a gap is shown on -> the names of the rows missing there
    places: dict[str, str] = {}
    before = None  # the row of the nearest template row before this one that the sheet has
    for key in order:
        if key in rows_of:
            before = rows_of[key][0]
            continue
        if before is not None:
            cell, place = f"{code_column}{before + 1}", f"below row {before}"
        elif first_row is not None:
            cell, place = f"{code_column}{first_row}", f"at the top of the table, row {first_row}"
        else:
            cell, place = "", "in the Data sheet"
        gaps.setdefault(cell, []).append(rules.row_name(ref, *key))
        places[cell] = place
    for cell, names in gaps.items():
        one = len(names) == 1
        rows = "row" if one else "rows"
        sub.findings.append(make_finding(
            ref, "row-missing",
            f"The {rows} of {_and(names)} {'is' if one else 'are'} missing from the Data sheet (the template has {'it' if one else 'them'} {places[cell]}), so {'its value is' if one else 'their values are'} read as not available. "
            f"Please copy the {rows} back from the template.",
            cell=cell, **where))

    kept = _longest_run([position for position, _ in placed])
    for i, (position, row) in enumerate(placed):
        if i in kept:
            continue
        expected = f"after {rules.row_name(ref, *order[position - 1])}" if position else "at the top of the table"
        sub.findings.append(make_finding(
            ref, "row-moved",
            f"{rules.row_name(ref, *order[position])} is in row {row['row']}, not where the template has it ({expected}). Rows are read by their Code and Breakdown, so its value is read all the same.",
            cell=row["code_cell"], value=row["code"], **where))


def _longest_run(positions: list[int]) -> set[int]:
    """The indexes of a longest increasing subsequence of `positions` (the rows still in template order).

    Quadratic, on at most one row per catalogue key (a hundred or so)."""
    if all(a < b for a, b in zip(positions, positions[1:], strict=False)):  # the usual case: the template's order kept
        return set(range(len(positions)))
    length, before = [1] * len(positions), [-1] * len(positions)
    for i, position in enumerate(positions):
        for j in range(i):
            if positions[j] < position and length[j] + 1 > length[i]:
                length[i], before[i] = length[j] + 1, j
    i = max(range(len(positions)), key=lambda k: (length[k], -k))
    kept = set()
    while i != -1:
        kept.add(i)
        i = before[i]
    return kept


def _and(items: list) -> str:
    """"a", "a and b", "a, b and c"."""
    texts = [str(item) for item in items]
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} and {texts[-1]}"


def _flags_accepted(ref: Reference) -> str:
    """The flags a Flag cell may hold, from `flags.csv`."""
    return f"Flags: {', '.join(f'{flag.code} ({flag.word})' for flag in ref.flags)}; several may be combined, such as bp."


_NAN = float("nan")


_NUMPY_TYPES = {"float64": np.float64, "int64": np.int64}


def _frame(records: list[tuple], columns: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    """`pd.DataFrame(records, columns=columns)` with `dtypes` (float64 or int64), built from column
    lists and typed arrays: records of dicts, then casting, cost several times more. `records`:
    tuples in the order of `columns`."""
    if not records:
        key = (*columns, "|", *dtypes.items())
        if key not in _EMPTY_FRAMES:
            _EMPTY_FRAMES[key] = pd.DataFrame(columns=columns).astype(dtypes)
        return _EMPTY_FRAMES[key].copy()
    data = {}
    for c, values in zip(columns, zip(*records, strict=True), strict=True):
        data[c] = np.array(values, dtype=_NUMPY_TYPES[dtypes[c]]) if c in dtypes else list(values)
    return pd.DataFrame(data, columns=columns)


_PreviousRow = namedtuple("_PreviousRow", PREVIOUS_COLUMNS)



def _previous_value(sub: Submission, ref: Reference, row, indicator, breakdown: str, where: dict) -> tuple | None:
    """The row's Previous year value cell read like a Value cell (findings on that cell); None when blank or invalid."""
    raw_value = row.get("previous_value")
    if raw_value is None or (isinstance(raw_value, float) and math.isnan(raw_value)):
        return None
    if isinstance(raw_value, str) and not raw_value.strip():
        return None
    parsed = parse_value(raw_value, indicator.is_count)
    if parsed.finding_code:
        message = f"{rules.row_name(ref, indicator.code, breakdown)}, previous year value ({sub.year - 1}): {parsed.note}."
        if parsed.status == "invalid":
            message += " The revision is not used."
        sub.findings.append(make_finding(ref, parsed.finding_code, message, cell=row["previous_cell"], value=raw_value, **where))
    if parsed.status == "invalid":
        return None
    number = _NAN if parsed.number is None else float(parsed.number)
    return (indicator.code, breakdown, number, parsed.status, row["comment"], where["sheet"], row["previous_cell"])  # PREVIOUS_COLUMNS


def _converted(sub: Submission, ref: Reference, row, indicator, breakdown: str, factor: float | None, number: float, status: str, flags: str, where: dict) -> tuple[str, float | None, str]:
    """A value whose Unit cell is not the catalogue unit (S06): converted and flagged `e`, or left out."""
    name = rules.row_name(ref, indicator.code, breakdown)
    if factor is None:
        sub.findings.append(make_finding(ref, "unit-unknown", f"{name}: the Unit cell holds '{row['unit']}', which is not {indicator.unit} and has no known conversion; the value is not used.", cell=row["unit_cell"], value=row["unit"], **where))
        return REJECTED, None, flags
    # Rounded so that 1154 g is 1.154 kg, not 1.1540000000000001 kg.
    converted = round(number * factor, 9)
    checked = _checked(converted, indicator.is_count, _Held(f"{plain_number(number)} {row['unit']}, that is {plain_number(converted)} {indicator.unit},"))
    if checked.status == "invalid":
        sub.findings.append(make_finding(ref, checked.finding_code, f"{name}: {checked.note}.", cell=row["value_cell"], value=row["value"], **where))
        return REJECTED, None, flags
    sub.findings.append(make_finding(ref, "unit-converted", f"{name}: {plain_number(number)} {row['unit']} converted to {plain_number(checked.number)} {indicator.unit} (cell {row['value_cell']}) and flagged e.", cell=row["unit_cell"], value=row["unit"], **where))
    return status, checked.number, flags if "e" in flags else flags + "e"


@functools.lru_cache(maxsize=4096)  # a few dozen breakdowns, in every workbook
def _normalise_breakdown(text: str) -> str:
    if not text or text.strip().upper() in (TOTAL, "T"):
        return TOTAL
    dim, _, value = text.partition("=")
    return f"{dim.strip().upper()}={value.strip().upper()}"


def resolve_resubmissions(subs: list[Submission], ref: Reference) -> None:
    """Several usable files for one country and year: one is used, the others are `superseded`.

    The latest date submitted on the Cover wins; a file with a date wins over one without. When the
    dates cannot decide (the latest date is shared, or no file has one), the file whose name comes
    last in natural order is used (`resubmission_order`: GEO_2025_v2 after GEO_2025, v10 after v9),
    and each of those files gets a `submission-date-conflict` warning naming them all and the one
    used: a state is never left without data because its files carry no date. Every file not used
    is listed, never silently dropped.
    """
    groups: dict[tuple[str, int], list[Submission]] = {}
    for sub in subs:
        if sub.is_used:
            groups.setdefault((sub.country_iso3, sub.year), []).append(sub)
    for (iso3, year), group in sorted(groups.items()):
        if len(group) < 2:
            continue
        ordered = sorted(group, key=lambda s: (s.date_submitted is not None, s.date_submitted or dt.date.min, resubmission_order(s.file)), reverse=True)
        latest = ordered[0]
        tied = [s for s in ordered if s.date_submitted == latest.date_submitted]
        if len(tied) > 1:
            names = ", ".join(s.file for s in sorted(tied, key=lambda s: resubmission_order(s.file)))
            dates = f"the same date submitted ({latest.date_submitted.isoformat()})" if latest.date_submitted else "no date submitted"
            for sub in tied:
                sub.findings.append(make_finding(
                    ref, "submission-date-conflict",
                    f"{len(tied)} files for {iso3} {year} have {dates}: {names}. When the dates cannot decide, the file whose name comes last in natural order is used: "
                    f"{latest.file}{' (this file)' if sub is latest else '; this file is not used'}. Check that it is the current one, or give each file its date submitted.",
                    file=sub.file, sheet=workbook_contract.COVER_SHEET, country_iso3=iso3, year=year, value=sub.date_submitted or ""))
            _set_status(latest, ref)
        for sub in ordered[1:]:
            if sub not in tied:
                sub.findings.append(make_finding(ref, "submission-superseded", f"{sub.file} (submitted {sub.date_submitted or 'no date'}) is replaced by {latest.file} (submitted {latest.date_submitted}).", file=sub.file, sheet=workbook_contract.COVER_SHEET, country_iso3=iso3, year=year, value=sub.date_submitted or ""))
                sub.status, sub.reason = "superseded", f"replaced by {latest.file}"
            else:
                sub.status, sub.reason = "superseded", f"replaced by {latest.file} (same or no date submitted: the name that comes last is used)"


def resubmission_order(file: str) -> tuple:
    """Sort key of a file among resubmissions whose dates cannot decide: its name without the suffix in
    natural order (digits as numbers, case ignored), then the whole path. `GEO_2025` < `GEO_2025 (1)` <
    `GEO_2025_v2` < `GEO_2025_v10`: the copy or version a spreadsheet or a person makes comes last."""
    path = PurePosixPath(file)
    return (_natural(path.stem), _natural(path.name), _natural(file))


def _natural(text: str) -> tuple:
    return tuple((0, int(run), "") if run[0] in "0123456789" else (1, 0, run.casefold()) for run in re.findall(r"[0-9]+|[^0-9]+", text))


def observations_frame(subs: list[Submission]) -> pd.DataFrame:
    """The observations of the submissions in use (with the revised figures they carry), in a stable order."""
    rows = _rows_in_use(subs)
    if not rows:
        return pd.DataFrame(columns=OBSERVATION_COLUMNS).astype({"value": "float64"})
    rows.sort(key=_ORDER)  # stable, as the frame's sort_values(kind="stable") was
    return _frame(rows, OBSERVATION_COLUMNS, OBSERVATION_DTYPES)


def _rows_in_use(subs: list[Submission]) -> list[tuple]:
    """The observation rows of the submissions in use, with the revised figures they carry."""
    return [row for s in subs if s.is_used for table in ("observations", "carried") for row in s.rows(table)]


_ORDER = operator.itemgetter(*(OBSERVATION_COLUMNS.index(name) for name in ("year", "country_iso3", "indicator", "breakdown")))


REVISION_COLUMNS = [
    "country_iso3", "indicator", "breakdown", "year", "old_value", "old_status", "new_value", "change_pct",
    "comment", "file", "cell", "old_file", "old_cell",
]


def empty_revision_log() -> pd.DataFrame:
    """A revision log with no rows, with the dtypes `apply_revisions` gives."""
    return pd.DataFrame(columns=REVISION_COLUMNS).astype({"year": "int64", "old_value": "float64", "new_value": "float64", "change_pct": "float64"})


@functools.cache
def _revision_dtypes() -> dict:
    """The dtype of each column of `empty_revision_log`, found once (a frame built for it cost ~2 ms)."""
    return empty_revision_log().dtypes.to_dict()


def apply_revisions(subs: list[Submission], ref: Reference, thresholds: rules.Thresholds | None = None) -> pd.DataFrame:
    """Rule R01: revised previous-year figures replace the accepted ones; returns the revision log.

    Run once, after `resolve_resubmissions` and before `apply_time_rules` (so the time rules see
    the revised figures). For each submission in use, of year Y, and each Previous year value cell
    holding a number (blank, `:` and `<5` revise nothing): the number is compared with the value
    accepted for Y-1 from the Y-1 submission in use. When it differs, or Y-1 has no number there
    (not available, left out, confidential without a number, or no Y-1 submission in use):

    - a finding on the Previous year value cell: `value-revised` (info), or `value-revised-large`
      (warning) when the change is above `revision_warn_pct` % of a reported figure. A missing
      comment does not raise the severity; the message asks for one;
    - the revised number replaces the Y-1 observation: same flags (when Y-1 had a number) and
      status (confidential stays confidential), the row's comment (else the Y-1 one), and the
      source file and cell of the Previous year value cell. With no Y-1 observation, it becomes one,
      carried by the Y submission (`Submission.carried`), so keys stay unique in `observations_frame`;
    - a row of the log (`REVISION_COLUMNS`; `old_value` empty when Y-1 had no number, `old_status`,
      `old_file` and `old_cell` empty when Y-1 had no observation; `change_pct` empty without an old number or
      when it was 0).
    """
    thresholds = thresholds or rules.load_thresholds()
    used = sorted((s for s in subs if s.is_used), key=lambda s: (s.year, s.country_iso3, s.file))
    by_year = {(s.country_iso3, s.year): s for s in used}
    log = []
    for sub in used:
        previous = sub.rows("previous")
        if not previous or sub.year is None:
            continue
        found_before = len(sub.findings)
        year = sub.year - 1
        target = by_year.get((sub.country_iso3, year))
        # The rows of year - 1 in use, replaced here as they are revised and handed back at the end.
        accepted = list(target.rows("observations")) if target is not None else []
        positions = {(row[_INDICATOR], row[_BREAKDOWN]): i for i, row in enumerate(accepted)}
        carried, revised_any = [], False
        for prev in map(_PreviousRow._make, previous):
            if prev.status != REPORTED:
                continue
            i = positions.get((prev.indicator, prev.breakdown))
            old = None if i is None else accepted[i]
            old_value = float("nan") if old is None else float(old[_VALUE])
            if not rules.is_revision(old_value, prev.value):
                continue
            old_status = "" if old is None else old[_STATUS]
            where = {"file": sub.file, "sheet": prev.sheet, "cell": prev.cell, "country_iso3": sub.country_iso3, "year": sub.year}
            finding, change_pct = rules.check_revision(ref, thresholds, prev.indicator, prev.breakdown, year, old_value, old_status, prev.value, prev.comment, "" if old is None else f"{old[_SOURCE_FILE]} {old[_CELL]}".strip(), where)
            sub.findings.append(finding)
            has_number = old_status in (REPORTED, CONFIDENTIAL)
            revised = {
                "country_iso3": sub.country_iso3,
                "year": year,
                "indicator": prev.indicator,
                "breakdown": prev.breakdown,
                "value": float(prev.value),
                "status": CONFIDENTIAL if old_status == CONFIDENTIAL else REPORTED,
                "flags": old[_FLAGS] if has_number else "",
                "comment": prev.comment or ("" if old is None else old[_COMMENT]),
                "source_file": sub.file,
                "sheet": prev.sheet,
                "cell": prev.cell,
            }
            if old is None:
                carried.append(revised)
            else:
                accepted[i] = tuple(revised[name] for name in OBSERVATION_COLUMNS)
                revised_any = True
            log.append({
                "country_iso3": sub.country_iso3, "indicator": prev.indicator, "breakdown": prev.breakdown, "year": year,
                "old_value": old_value, "old_status": old_status, "new_value": float(prev.value), "change_pct": change_pct,
                "comment": prev.comment, "file": sub.file, "cell": prev.cell,
                "old_file": "" if old is None else old[_SOURCE_FILE], "old_cell": "" if old is None else old[_CELL],
            })
        if revised_any:
            target.observations = accepted
        if carried:
            sub.carried = pd.DataFrame(carried, columns=OBSERVATION_COLUMNS).astype({"value": "float64", "year": "int64"})
        if len(sub.findings) != found_before:  # else its findings, hence its status, are as they were
            _set_status(sub, ref)
    if not log:
        return empty_revision_log()
    return pd.DataFrame(log, columns=REVISION_COLUMNS).astype(_revision_dtypes())


SUBMISSION_COLUMNS = ["file", "country_iso3", "year", "status", "reason", "date_submitted", "n_values", "n_errors", "n_warnings", "sha256"]


def submissions_frame(subs: list[Submission]) -> pd.DataFrame:
    """One row per input file, whatever became of it: nothing is left unaccounted for."""
    rows = [
        {
            "file": s.file,
            "country_iso3": s.country_iso3,
            "year": s.year if s.year is not None else pd.NA,
            "status": s.status,
            "reason": s.reason,
            "date_submitted": s.date_submitted.isoformat() if s.date_submitted else "",
            "n_values": s.n_values if s.is_used else 0,
            "n_errors": s.count("error"),
            "n_warnings": s.count("warning"),
            "sha256": s.sha256,
        }
        for s in subs
    ]
    frame = pd.DataFrame(rows, columns=SUBMISSION_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    return frame


def findings_frame(subs: list[Submission]) -> pd.DataFrame:
    """Every finding of every file: errors first, then warnings and infos, each by file in row order."""
    return findings_table(f for s in subs for f in s.findings)
