"""Report: aggregates, findings and chart paths -> the Word report, through a docxtpl template.

Inputs (pandas DataFrames; no other columns are assumed):
- `regional`: indicator, breakdown, year, total, n_reporting, n_expected, rate_per_100k, n_rate,
  change_pct, n_same_reporters, change_pct_same_reporters, flags, rate_flags, n_history, history_sources.
- `country`: country_iso3, indicator, breakdown, year, value, status, rate_per_100k, change_pct, flags,
  comment, origin, source (a value from published data is marked with its source).
- `coverage` (optional): country_iso3, year, indicator, coverage, origin, source (data/coverage.csv).
- `submissions`: country_iso3, year, status, reason, file, date_submitted, n_values, n_errors, n_warnings.
- `findings`: code, severity, country_iso3, year, file, sheet, cell, message.
- `chart_paths`: {"trend_<CATEGORY>" | "national_<CATEGORY>" | "profile_<ISO3>": PNG path} from
  `pipeline.charts.render_charts`.
- `revisions` (optional): data/revisions.csv.
The data-quality annex (Annex B) is computed from `submissions` and `findings` alone, so every number
in it can be recomputed from data/submissions.csv and data/findings.csv.
Outputs: `build_context()` -> a dict of display-ready strings, lists and chart paths (pure: no I/O),
whose keys are the template's variables (listed in README.md, "Customising the report template");
`render_report()` -> the .docx at `out_path` (written atomically), with the table of contents filled in.

The report: cover; contents (a Word TOC field); 1 key findings (`key_findings()`: sentences written
from the figures, each with its number and basis); 2 scope and methodology; 3 regional overview; one
chapter per crime area (international cooperation with requests received beside sent); Annexes A
flags and symbols, B data quality, C revisions, D indicator definitions, E one profile per member
state. Language stays neutral: states are listed by name, never ranked.

All formatting happens here, so the template holds only loops and ifs. The display rules keep
missing, zero, not applicable and confidential apart everywhere:
    ":"  not available (not reported, rejected in validation, or no submission)
    "–"  not applicable (the figure cannot exist; a rate for a unit that takes none)
    "C"  confidential: the number is never printed, nor a rate or change derived from it
    "0"  a real zero
Flags follow the figure they qualify ("1,234 p"), with their legend in Annex A.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePath
from typing import Any

import docx
import jinja2
import pandas as pd
from docx.document import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from jinja2 import meta

from pipeline import changes as changes_module
from pipeline import output_files
from pipeline.changes import Comparison
from pipeline.charts import ensure_columns, is_series_break, round_half_up, trend_chart_data, year_span
from pipeline.errors import ReportRenderError
from pipeline.ingest import HISTORY_DIR
from pipeline.reference import TOTAL, Category, Indicator, Reference
from pipeline.settings import DEFAULT_SETTINGS, Settings
from pipeline.status import moved_files

log = logging.getLogger(__name__)

REPORT_FILENAME = "BSEC_Annual_Assessment_{year}.docx"

# The columns read here (the input contract); others are ignored.
REGIONAL_COLUMNS = ("indicator", "breakdown", "year", "total", "n_reporting", "n_expected", "rate_per_100k", "n_rate",
                    "change_pct", "n_same_reporters", "change_pct_same_reporters", "flags", "rate_flags", "n_history",
                    "history_sources")
COUNTRY_COLUMNS = ("country_iso3", "indicator", "breakdown", "year", "value", "status", "rate_per_100k",
                   "change_pct", "flags", "comment", "origin", "source")
SUBMISSION_COLUMNS = ("file", "country_iso3", "year", "status", "reason", "date_submitted", "n_values", "n_errors",
                      "n_warnings")
FINDING_COLUMNS = ("code", "severity", "country_iso3", "year", "file", "sheet", "cell", "message")
COVERAGE_COLUMNS = ("country_iso3", "year", "indicator", "coverage", "origin", "source")
REVISION_COLUMNS = ("country_iso3", "indicator", "breakdown", "year", "old_value", "old_status", "new_value", "change_pct",
                    "comment", "file", "cell")
CHART_WIDTH_MM = 160  # A4 text width with 25 mm margins; the charts are drawn at this width

NOT_AVAILABLE = ":"
NOT_APPLICABLE = "–"  # en dash
CONFIDENTIAL = "C"
NBSP = "\u00a0"  # keeps "12.3 %" and "+" with its number on one line
MINUS = "\u2212"  # typographic minus for negative changes
CONFIDENTIALITY_FLAGS = frozenset({"C", "N"})

SUBMISSION_STATUS_WORDS = {
    "accepted": "accepted",
    "accepted-with-warnings": "accepted with warnings",
    "accepted-with-errors": "accepted with errors (values in error left out)",
    "rejected": "rejected",
    "superseded": "superseded",
    "ignored": "ignored",
}
# Which file speaks for a state when it sent several: the one in use, else the rejected one.
SUBMISSION_PRIORITY = {"accepted": 0, "accepted-with-warnings": 0, "accepted-with-errors": 0, "rejected": 1, "superseded": 2, "ignored": 3}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
USED_STATUSES = frozenset({"accepted", "accepted-with-warnings", "accepted-with-errors"})
MAIN_ISSUES_SHOWN = 3  # finding codes named per state in the data-quality table; the rest are counted
TIMES = f"{NBSP}×{NBSP}"  # "2 × breakdown-sum-mismatch", kept on one line
FINDINGS_CSV = "data/findings.csv"
COVERAGE_CSV = "data/coverage.csv"
REVISIONS_CSV = "data/revisions.csv"
FEEDBACK_NAME = "feedback/<ISO3>_{year}_feedback.xlsx"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fixed English names: strftime("%B") follows the locale

SYMBOLS_LEGEND = (
    {"symbol": NOT_AVAILABLE, "meaning": "Not available: not reported, not collected, rejected in validation, "
                                         "or no submission received."},
    {"symbol": NOT_APPLICABLE, "meaning": "Not applicable: the figure cannot exist; rates are given only for "
                                          "persons and cases."},
    {"symbol": CONFIDENTIAL, "meaning": "Confidential: the figure is suppressed and not published for the state; "
                                        "it is neither zero nor missing."},
    {"symbol": "0", "meaning": "A real zero: nothing was recorded."},
    {"symbol": "<0.1", "meaning": "More than zero but less than the last digit shown."},
)


# -- formatting (pure, one value in, one string out) -----------------------------------------------
def _is_number(value: object) -> bool:
    """A finite number, numpy scalars included (nullable Int64 columns yield numpy.int64); not NaN, NA or bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: object) -> str:
    """Text columns may hold NaN/None from pandas: show those as empty, never as "nan"/"None"."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip()


def _texts(column: pd.Series) -> pd.Series:
    """`_text` of each value (of its Python value: iterating a pandas column is several times dearer)."""
    return pd.Series([_text(value) for value in column.tolist()], index=column.index, dtype=object)


def _format_decimal(value: float, decimals: int) -> str:
    """Thousands separators, half-up rounding; a non-zero value that would print as zero prints "<0.1" (or "<1")."""
    rounded = round_half_up(abs(value), decimals)
    if value != 0 and rounded == 0:
        smallest = "1" if decimals == 0 else "0." + "0" * (decimals - 1) + "1"
        return ("<" if value > 0 else ">" + MINUS) + smallest
    text = f"{rounded:,.{decimals}f}"
    return MINUS + text if value < 0 else text


def decimals_for(indicator: Indicator) -> int:
    """Counts are whole numbers; kilograms get one decimal; euros none."""
    return 1 if indicator.unit == "kg" else 0


def format_count(value: object) -> str:
    """A whole number: "1,234"; ":" when not a number."""
    if not _is_number(value):
        return NOT_AVAILABLE
    return _format_decimal(float(value), 0)  # type: ignore[arg-type]


def format_figure(value: object, indicator: Indicator) -> str:
    """A count or quantity: "1,234", "0", "12.5" (kg); ":" when not a number."""
    if not _is_number(value):
        return NOT_AVAILABLE
    return _format_decimal(float(value), decimals_for(indicator))  # type: ignore[arg-type]


def format_rate(value: object) -> str:
    """A rate per 100,000, one decimal: "17.6"; ":" when not a number."""
    if not _is_number(value):
        return NOT_AVAILABLE
    return _format_decimal(float(value), 1)  # type: ignore[arg-type]


def format_change(pct: object) -> str:
    """A change in per cent: "+12.3 %", "−4.0 %", "0.0 %"; ":" when not computable."""
    if not _is_number(pct):
        return NOT_AVAILABLE
    rounded = round_half_up(abs(float(pct)), 1)  # type: ignore[arg-type]
    if rounded == 0:
        return f"0.0{NBSP}%"
    sign = "+" if float(pct) > 0 else MINUS  # type: ignore[arg-type]
    return f"{sign}{rounded:,.1f}{NBSP}%"


def format_share(share: float) -> str:
    """A share as a whole percentage: "50 %"."""
    return f"{share * 100:.0f}{NBSP}%"


def with_flags(figure: str, flags: str) -> str:
    """The figure followed by its flags: "1,234 p"."""
    return f"{figure} {flags}" if flags else figure


def format_date(day: dt.date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _count_states(n: int) -> str:
    return _plural(n, "state")


def _series_text(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


# -- look-ups on the input frames ------------------------------------------------------------------
# The key of a row of the regional and of the country table (`_rows_by_key`).
REGIONAL_KEY = ["indicator", "breakdown", "year"]
COUNTRY_KEY = ["country_iso3", "indicator", "breakdown", "year"]


def _rows_by_key(frame: pd.DataFrame, key_columns: list[str]) -> dict[tuple, Any]:
    """{(key values): row namedtuple (`DataFrame.itertuples`)}; the last row wins on (unexpected) duplicates."""
    return {tuple(getattr(row, column) for column in key_columns): row for row in frame.itertuples(index=False)}


def _regional_row(regional_rows: dict[tuple, Any], indicator: str, year: int) -> Any | None:
    return regional_rows.get((indicator, TOTAL, year))


def _is_confidential_total(row: Any) -> bool:
    return row is not None and not _is_number(row.total) and bool(CONFIDENTIALITY_FLAGS & set(_text(row.flags)))


# -- regional figures ------------------------------------------------------------------------------
def _regional_cells(row: Any | None, indicator: Indicator, n_expected: int, min_states: int = 1) -> dict[str, str]:
    """total, coverage, rate, change, basis of one indicator's regional TOTAL row, as printed. The change
    is given only over at least `min_states` states that reported in both years (settings
    [key_findings] min_states): over fewer it says more about who reported than about crime."""
    if row is None:
        return {
            "total": NOT_AVAILABLE,
            "coverage": f"0 of {n_expected}",
            "rate": NOT_AVAILABLE if indicator.takes_rate else NOT_APPLICABLE,
            "change": NOT_AVAILABLE,
            "basis": _count_states(0),
        }
    flags = _text(row.flags)
    expected = int(row.n_expected) if _is_number(row.n_expected) else n_expected
    reporting = int(row.n_reporting) if _is_number(row.n_reporting) else 0
    same = int(row.n_same_reporters) if _is_number(row.n_same_reporters) else 0
    if _is_confidential_total(row):
        total = CONFIDENTIAL
        rate = CONFIDENTIAL if indicator.takes_rate else NOT_APPLICABLE
    else:
        total = with_flags(format_figure(row.total, indicator), flags) if _is_number(row.total) else NOT_AVAILABLE
        rate = format_rate(row.rate_per_100k) if indicator.takes_rate else NOT_APPLICABLE
    return {
        "total": total,
        "coverage": f"{reporting} of {expected}",
        "rate": rate,
        "change": format_change(row.change_pct_same_reporters) if same >= min_states else NOT_AVAILABLE,
        "basis": _count_states(same),
    }


def _key_figures(row: Any | None, indicator: Indicator, year: int, n_expected: int, settings: Settings) -> str:
    """One paragraph with the headline figure, its coverage, rate and like-for-like change."""
    unit = indicator.unit
    previous = year - 1
    if row is None or (not _is_number(row.total) and not _is_confidential_total(row)):
        return f"{indicator.label}: no member state reported a figure for {year}."
    reporting = int(row.n_reporting) if _is_number(row.n_reporting) else 0
    expected = int(row.n_expected) if _is_number(row.n_expected) else n_expected
    if _is_confidential_total(row):
        return (
            f"{indicator.label} in {year}: the regional total is confidential ({CONFIDENTIAL}); "
            f"{reporting} of the {expected} member states reported."
        )
    flags = _text(row.flags)
    flag_note = f" (flags: {flags})" if flags else ""
    sentences = [
        f"{indicator.label} in {year}: {format_figure(row.total, indicator)} {unit}{flag_note}, "
        f"reported by {reporting} of the {expected} member states"
        + (
            f"; {format_rate(row.rate_per_100k)} per 100,000 inhabitants of the {_rate_basis(row, reporting)}."
            if indicator.takes_rate and _is_number(row.rate_per_100k)
            else "."
        )
    ]
    same = int(row.n_same_reporters) if _is_number(row.n_same_reporters) else 0
    if same == 0:
        sentences.append(f"No member state reported for both {previous} and {year}, so no change is given.")
    elif same < settings.key_findings_min_states:
        who = "one member state" if same == 1 else f"{same} member states"
        sentences.append(
            f"Only {who} reported for both {previous} and {year}, fewer than the "
            f"{settings.key_findings_min_states} a change needs, so no change is given."
        )
    elif _is_number(row.change_pct_same_reporters):
        who = "the state that" if same == 1 else f"the {same} states that"
        sentences.append(
            f"For {who} reported in both {previous} and {year}, the total changed by "
            f"{format_change(row.change_pct_same_reporters)} on {previous}."
        )
    else:
        sentences.append(
            f"No change on {previous} can be computed: the comparable total for {previous} is zero or not available."
        )
    if same >= settings.key_findings_min_states and same != reporting and _is_number(row.change_pct):
        # Coverage differs between the years: the raw total moves with who reported, so it is shown
        # beside the like-for-like change, never instead of it.
        sentences.append(
            f"The raw regional total, over {reporting} states in {year} and a different set in {previous}, changed by "
            f"{format_change(row.change_pct)}; it is not a like-for-like comparison."
        )
    n_history = int(row.n_history) if _is_number(row.n_history) else 0
    if n_history:
        sentences.append(
            f"The figures of {_count_states(n_history)} come from published data ({_text(row.history_sources).replace(';', '; ')}), "
            "not from a submission."
        )
    if indicator.takes_rate and _is_number(row.rate_per_100k) and "e" in _text(row.rate_flags):
        sentences.append(
            f"The population reference has no figure for {year} yet for some or all of the reporting states: their "
            "latest figure is used, so the rate is an estimate (flag e in data/regional.csv)."
        )
    if expected > 0 and reporting / expected < settings.low_coverage_share:
        sentences.append(
            f"Fewer than {format_share(settings.low_coverage_share)} of the member states reported: the total is "
            "the sum of the reporting states, not an estimate for the region."
        )
    return " ".join(sentences)


# -- national figures ------------------------------------------------------------------------------
def _rate_basis(row: Any, reporting: int) -> str:
    """Whose inhabitants the rate is per: all reporting states, or fewer when a population figure is missing."""
    n_rate = int(row.n_rate) if _is_number(row.n_rate) else reporting
    return "reporting states" if n_rate >= reporting else f"reporting states with a population figure ({n_rate} of {reporting})"


def _received_states(submissions: pd.DataFrame, year: int) -> dict[str, Any]:
    """{iso3: the submission row that speaks for the state in `year`}."""
    chosen: dict[str, Any] = {}
    rows = submissions[submissions["year"] == year]
    ordered = sorted(
        rows.itertuples(index=False),
        key=lambda r: (SUBMISSION_PRIORITY.get(_text(r.status), 9), _text(r.file)),
    )
    for row in ordered:
        chosen.setdefault(_text(row.country_iso3), row)
    return chosen


def _country_row(row: Any | None, indicator: Indicator, state_name: str, no_row_note: str) -> dict[str, str]:
    """state, value, rate, change, flags, comment of one state, as printed."""
    if row is None:
        return {"state": state_name, "value": NOT_AVAILABLE, "rate": NOT_AVAILABLE if indicator.takes_rate
                else NOT_APPLICABLE, "change": NOT_AVAILABLE, "flags": "", "comment": no_row_note}
    status = _text(row.status)
    flags = _text(row.flags)
    comment = _text(row.comment)
    if status == "reported" and _is_number(row.value):
        value = format_figure(row.value, indicator)
        rate = format_rate(row.rate_per_100k)
        change = format_change(row.change_pct)
    elif status == "not_applicable":
        value = rate = change = NOT_APPLICABLE
    elif status == "confidential":
        # Never the number, nor anything it could be recovered from.
        value = rate = change = CONFIDENTIAL
    else:  # not_available, rejected, or reported without a number
        value = rate = change = NOT_AVAILABLE
        if status == "rejected":
            comment = "Value rejected in validation (see Annex B)." + (f" {comment}" if comment else "")
    if not indicator.takes_rate:
        rate = NOT_APPLICABLE  # only persons and cases take a rate
    if _text(row.origin) == "history":
        comment = f"Published data: {_text(row.source)}." + (f" {comment}" if comment else "")
    return {"state": state_name, "value": value, "rate": rate, "change": change, "flags": flags, "comment": comment}


def _country_rows(
    country_rows: dict[tuple, Any], received: dict[str, Any], indicator: Indicator, year: int, ref: Reference
) -> list[dict[str, str]]:
    rows = []
    members = sorted(ref.members_in(year), key=lambda iso3: ref.state_by_iso3[iso3].name.casefold())
    for iso3 in members:
        submission = received.get(iso3)
        if submission is None:
            note = "No submission received."
        elif SUBMISSION_PRIORITY.get(_text(submission.status), 9) > 0:
            note = "Submission not used (see Table 1)."
        else:
            note = "Not reported."
        row = country_rows.get((iso3, indicator.code, TOTAL, year))
        rows.append(_country_row(row, indicator, ref.state_by_iso3[iso3].name, note))
    return rows


# -- submissions and findings ----------------------------------------------------------------------
def _went_elsewhere(submissions: pd.DataFrame, year: int, ref: Reference) -> dict[str, str]:
    """{ISO3: "2026/MKD_2026.xlsx counts for 2025, as its Cover says: accepted with warnings"} for a state
    whose file named or filed for `year` counts for another year or state: "not received" alone would
    contradict status.csv (whose note says the same in its own words)."""
    if not len(submissions) or not {"file", "status", "year", "country_iso3"} <= set(submissions.columns):
        return {}
    notes: dict[str, list[str]] = {}
    for row in moved_files(submissions, ref, year).itertuples(index=False):
        where = [ref.state_by_iso3[row.country_iso3].name] if row.country_iso3 != row.named_iso3 else []
        where += [str(row.year)] if row.year != year else []
        status = SUBMISSION_STATUS_WORDS.get(row.status, row.status)
        notes.setdefault(row.named_iso3, []).append(f"{row.file} counts for {' '.join(where)}, as its Cover says: {status}")
    return {iso3: "; ".join(texts) for iso3, texts in notes.items()}


def _submission_rows(submissions: pd.DataFrame, year: int, ref: Reference) -> list[dict[str, str]]:
    received = _received_states(submissions, year)
    went_elsewhere = _went_elsewhere(submissions, year, ref)
    in_year = submissions[submissions["year"] == year]
    rows = []
    members = sorted(ref.members_in(year), key=lambda iso3: ref.state_by_iso3[iso3].name.casefold())
    for iso3 in members:
        name = ref.state_by_iso3[iso3].name
        chosen = received.get(iso3)
        if chosen is None:
            elsewhere = went_elsewhere.get(iso3)
            rows.append({"state": name, "received": "no", "status": f"not received ({elsewhere})" if elsewhere else "not received", "n_values": NOT_APPLICABLE,
                         "findings": NOT_APPLICABLE})
            continue
        status_code = _text(chosen.status)
        status = SUBMISSION_STATUS_WORDS.get(status_code, status_code)
        reason = _text(chosen.reason)
        if status_code == "rejected" and reason:
            status = f"{status}: {reason}"
        n_superseded = int((in_year["country_iso3"].eq(iso3) & in_year["status"].eq("superseded")).sum())
        if n_superseded and status_code != "superseded":
            status += f" ({n_superseded} earlier file{'s' if n_superseded > 1 else ''} superseded)"
        values = format_count(chosen.n_values)
        errors = int(chosen.n_errors) if _is_number(chosen.n_errors) else 0
        warnings = int(chosen.n_warnings) if _is_number(chosen.n_warnings) else 0
        rows.append({"state": name, "received": "yes", "status": status, "n_values": values,
                     "findings": f"{errors} / {warnings}"})
    return rows


def _accepted_detail(with_warnings: int, with_errors: int) -> str:
    """'2 with warnings, 1 with errors' for the count of accepted submissions."""
    detail = f"{with_warnings} with warnings"
    return detail + (f", {with_errors} with errors" if with_errors else "")


def _submissions_summary(rows: list[dict[str, str]], year: int) -> str:
    n_members = len(rows)
    received = [r for r in rows if r["received"] == "yes"]
    accepted = [r for r in received if r["status"].startswith("accepted")]
    with_warnings = [r for r in accepted if r["status"].startswith("accepted with warnings")]
    with_errors = [r for r in accepted if r["status"].startswith("accepted with errors")]
    rejected = [r for r in received if r["status"].startswith("rejected")]
    missing = [r["state"] for r in rows if r["received"] == "no"]
    text = (
        f"{len(received)} of the {n_members} member states sent a submission for {year}: "
        f"{len(accepted)} accepted ({_accepted_detail(len(with_warnings), len(with_errors))}) and {len(rejected)} rejected."
    )
    if missing:
        text += f" Nothing was received from {_series_text(missing)}."
    return text


def _year_of(frame: pd.DataFrame) -> pd.Series:
    """The `year` column as numbers; NA (a file whose year could not be read) stays NaN."""
    return pd.to_numeric(frame["year"], errors="coerce")


def _findings_of_year(findings: pd.DataFrame, year: int) -> pd.DataFrame:
    """Findings of `year`, plus those that could not be tied to a year (an unreadable file has none)."""
    years = _year_of(findings)
    return findings[(years == year) | years.isna()]


def _finding_rows(findings: pd.DataFrame, year: int, submissions: pd.DataFrame | None = None) -> list[dict[str, str]]:
    """The errors and warnings of `year` (and of files without a year), one row each: those of the files
    in use first, then those of files replaced by a later submission, marked "(superseded)".

    Notes (info) are left out to keep the annex readable; they are all in data/findings.csv.
    """
    selected = _findings_of_year(findings, year)
    selected = selected[_texts(selected["severity"]).isin(["error", "warning"])]
    superseded: set[str] = set()
    if submissions is not None and len(submissions) and {"file", "status"} <= set(submissions.columns):
        superseded = set(_texts(submissions.loc[_texts(submissions["status"]) == "superseded", "file"]))
    rows = [
        {
            "code": _text(r.code),
            "severity": _text(r.severity),
            "state": _text(r.country_iso3) or NOT_APPLICABLE,
            "file": _text(r.file) + (" (superseded)" if _text(r.file) in superseded else ""),
            "sheet": _text(r.sheet),
            "cell": _text(r.cell),
            "message": _for_the_working_group(_text(r.message)),
        }
        for r in selected.itertuples(index=False)
    ]
    # Errors first; within a severity keep the validation's own order (cells in sheet order).
    rows.sort(key=lambda r: (r["file"].endswith(" (superseded)"), SEVERITY_ORDER.get(r["severity"], 9), r["state"], r["file"]))
    return rows


# The requests a finding's message makes of the focal point ("Please confirm or explain in a comment."):
# the feedback workbook makes them; the report speaks to the Working Group, which they do not address.
_REQUEST_TO_THE_STATE = re.compile(r"\s*Please [^.]*\.")


def _for_the_working_group(message: str) -> str:
    return _REQUEST_TO_THE_STATE.sub("", message).strip()


def _findings_summary(findings: pd.DataFrame, year: int) -> str:
    """Counts over every finding of `year` (notes included), and where the notes are."""
    selected = _findings_of_year(findings, year)
    if selected.empty:
        return f"The validation of the {year} submissions found nothing to report."
    severities = _texts(selected["severity"])
    counts = {severity: int((severities == severity).sum()) for severity in SEVERITY_ORDER}
    listed = ("The errors and warnings are listed below" if counts["error"] or counts["warning"]
              else "There are no errors or warnings to list")
    return (
        f"The validation of the {year} submissions gave {_plural(counts['error'], 'error')}, "
        f"{_plural(counts['warning'], 'warning')} and {_plural(counts['info'], 'note')}. "
        "Errors reject a file or drop a value; warnings and notes do not change the figures. "
        f"{listed}; the notes are in {FINDINGS_CSV}. Each member state received its own findings, with how to "
        "fix each, in a feedback workbook; the codes named in Table B1 are explained beneath it."
    )


# -- data-quality annex (Annex B): one row per member state ----------------------------------------
def values_expected(ref: Reference) -> int:
    """Values a complete submission holds: one per (indicator, breakdown) row of the Data sheet."""
    return sum(len(ref.breakdowns_of(indicator)) for indicator in ref.indicators)


def _format_submitted(value: object) -> str:
    """`date_submitted` ("2025-02-15", as in submissions.csv) as "15 February 2025"; ":" when absent."""
    if isinstance(value, dt.datetime):
        return format_date(value.date())
    if isinstance(value, dt.date):
        return format_date(value)
    text = _text(value)
    if not text:
        return NOT_AVAILABLE
    try:
        return format_date(dt.date.fromisoformat(text[:10]))
    except ValueError:
        return text  # shown as written rather than guessed


def _main_issues(state_findings: pd.DataFrame, ref: Reference) -> tuple[str, list[str]]:
    """("2 × breakdown-sum-mismatch, 1 × change-unexplained", [codes named]) over errors and warnings.

    Errors before warnings, then the most frequent first, then the order of the finding-code list;
    beyond `MAIN_ISSUES_SHOWN` codes the rest are only counted.
    """
    catalogue = list(ref.finding_codes)
    issues = state_findings[_texts(state_findings["severity"]).isin(["error", "warning"])]
    if issues.empty:
        return "none", []
    summary: dict[str, tuple[int, int]] = {}  # code -> (severity rank, count)
    for code, severity in zip(_texts(issues["code"]), _texts(issues["severity"]), strict=True):
        rank, count = summary.get(code, (9, 0))
        summary[code] = (min(rank, SEVERITY_ORDER.get(severity, 9)), count + 1)
    ordered = sorted(
        summary,
        key=lambda c: (summary[c][0], -summary[c][1], catalogue.index(c) if c in catalogue else len(catalogue), c),
    )
    shown = ordered[:MAIN_ISSUES_SHOWN]
    text = ", ".join(f"{summary[code][1]}{TIMES}{code}" for code in shown)
    rest = len(ordered) - len(shown)
    if rest:
        text += f" and {rest} other code{'s' if rest > 1 else ''}"
    return text, shown


def _quality_rows(
    submissions: pd.DataFrame, findings: pd.DataFrame, year: int, ref: Reference
) -> tuple[list[dict[str, str]], list[str]]:
    """One row per member state of `year`, in name order as in every other table (no ranking), and the codes named.

    Findings are those of `year` on the state's files, less the files superseded by a later one (their
    findings no longer concern the figures; they stay in data/findings.csv). Row keys: state, status,
    file, date_submitted, values_reported, n_errors, n_warnings, n_info, counts, main_issues.
    """
    expected = values_expected(ref)
    received = _received_states(submissions, year)
    in_year = submissions[_year_of(submissions) == year]
    year_findings = findings[_year_of(findings) == year]
    finding_states = _texts(year_findings["country_iso3"])
    finding_files = _texts(year_findings["file"])
    went_elsewhere = _went_elsewhere(submissions, year, ref)
    rows: list[dict[str, str]] = []
    codes_named: list[str] = []
    for iso3 in sorted(ref.members_in(year), key=lambda iso3: ref.state_by_iso3[iso3].name.casefold()):
        name = ref.state_by_iso3[iso3].name
        chosen = received.get(iso3)
        if chosen is None:
            rows.append({
                "state": name, "status": f"missing — not received ({went_elsewhere[iso3]})" if iso3 in went_elsewhere else "missing — not received",
                "file": NOT_APPLICABLE,
                "date_submitted": NOT_APPLICABLE, "values_reported": f"0 of {expected:,}",
                "n_errors": NOT_APPLICABLE, "n_warnings": NOT_APPLICABLE, "n_info": NOT_APPLICABLE,
                "counts": NOT_APPLICABLE, "main_issues": NOT_APPLICABLE,
            })
            continue
        files = in_year[_texts(in_year["country_iso3"]) == iso3]
        statuses = _texts(files["status"])
        superseded = set(_texts(files.loc[statuses == "superseded", "file"]))
        status_code = _text(chosen.status)
        status = SUBMISSION_STATUS_WORDS.get(status_code, status_code)
        if superseded and status_code != "superseded":
            status += f" ({len(superseded)} earlier file{'s' if len(superseded) > 1 else ''} superseded)"
        if status_code in USED_STATUSES:
            shown_files = [_text(chosen.file)]
        else:  # rejected: every file still in the running (several when their dates tie)
            shown_files = sorted(set(_texts(files.loc[~statuses.isin(["superseded", "ignored"]), "file"])))
        own = year_findings[(finding_states == iso3) & ~finding_files.isin(superseded)]
        severities = _texts(own["severity"])
        n_errors, n_warnings, n_info = (int((severities == s).sum()) for s in ("error", "warning", "info"))
        issues, named = _main_issues(own, ref)
        codes_named.extend(named)
        reported = format_count(chosen.n_values)
        rows.append({
            "state": name,
            "status": status,
            "file": ", ".join(shown_files) or NOT_AVAILABLE,
            "date_submitted": _format_submitted(chosen.date_submitted),
            "values_reported": f"{reported} of {expected:,}" if reported != NOT_AVAILABLE else NOT_AVAILABLE,
            "n_errors": str(n_errors),
            "n_warnings": str(n_warnings),
            "n_info": str(n_info),
            "counts": f"{n_errors} / {n_warnings} / {n_info}",
            "main_issues": issues,
        })
    return rows, codes_named


def _quality_codes(codes: list[str], ref: Reference) -> list[dict[str, str]]:
    """The meaning of each code named in the data-quality table, in the order of the finding-code list."""
    catalogue = list(ref.finding_codes)
    unique = sorted(set(codes), key=lambda c: (catalogue.index(c) if c in catalogue else len(catalogue), c))
    rows = []
    for code in unique:
        entry = ref.finding_codes.get(code)
        rows.append({
            "code": code,
            "severity": entry.severity if entry else NOT_AVAILABLE,
            "meaning": entry.meaning if entry else "Not in the finding-code list of this release.",
        })
    return rows


def _unattributed_files(
    submissions: pd.DataFrame, findings: pd.DataFrame, year: int, ref: Reference
) -> list[dict[str, str]]:
    """Submissions, or files that failed to be one, that cannot be put down to a member state in `year`:
    no readable year, or no member state. Published history (and its provenance files) and the inputs
    folder's README are not listed: they are not submissions.

    One row per file (name order) with the reason: the submission's reason, else its first error,
    else its first finding.
    """
    members = set(ref.members_in(year))
    # Published history and its provenance, and the folder's own README, are the coordinator's files,
    # not a state's: a PDF or a workbook that failed to be read is listed, since a state may have sent it.
    not_submissions = {
        file for file, status in zip(_texts(submissions.get("file", pd.Series(dtype=str))), _texts(submissions.get("status", pd.Series(dtype=str))), strict=True)
        if status == "history" or file.startswith(f"{HISTORY_DIR}/") or PurePath(file).name.casefold().startswith("readme")
    }

    def unattributed(frame: pd.DataFrame) -> pd.DataFrame:
        years = _year_of(frame)
        loose = years.isna() | ((years == year) & ~_texts(frame["country_iso3"]).isin(members))
        return frame[loose & ~_texts(frame["file"]).isin(not_submissions)]

    reasons: dict[str, str] = {}
    for row in unattributed(submissions).itertuples(index=False):
        reasons.setdefault(_text(row.file), _text(row.reason))
    loose = unattributed(findings)
    loose = loose.assign(_rank=loose["severity"].map(lambda s: SEVERITY_ORDER.get(_text(s), 9)))
    for row in loose.sort_values("_rank", kind="stable").itertuples(index=False):
        file = _text(row.file)
        if not reasons.get(file):
            reasons[file] = _text(row.message)
    return [{"file": file or NOT_AVAILABLE, "reason": reason or NOT_AVAILABLE}
            for file, reason in sorted(reasons.items())]


def _values_dropped(submissions: pd.DataFrame, findings: pd.DataFrame, year: int, ref: Reference) -> int:
    """Errors in the files in use for `year`: each left a value (or the parts of a breakdown) out.

    A file in use has no rejecting error (it would have been rejected), so its errors are the
    `drop-value` ones of reference/finding_codes.csv.
    """
    in_year = submissions[(_year_of(submissions) == year)
                          & _texts(submissions["country_iso3"]).isin(set(ref.members_in(year)))]
    used_files = set(_texts(in_year.loc[_texts(in_year["status"]).isin(USED_STATUSES), "file"]))
    year_findings = findings[_year_of(findings) == year]
    errors = year_findings[_texts(year_findings["severity"]).eq("error")
                           & _texts(year_findings["file"]).isin(used_files)]
    return sum(1 for code in _texts(errors["code"])
               if (ref.finding_codes[code].effect if code in ref.finding_codes else "drop-value") != "reject")


def _superseded_findings(submissions: pd.DataFrame, findings: pd.DataFrame, year: int) -> int:
    """Findings of `year` on superseded files: listed in the detail, not counted in the state rows."""
    in_year = submissions[_year_of(submissions) == year]
    superseded = set(_texts(in_year.loc[_texts(in_year["status"]) == "superseded", "file"]))
    year_findings = findings[_year_of(findings) == year]
    return int(_texts(year_findings["file"]).isin(superseded).sum())


def _quality_summary(
    rows: list[dict[str, str]], n_dropped: int, n_superseded_findings: int, year: int, ref: Reference
) -> str:
    """The lead paragraph of Annex B: who sent what, what errors cost, and where the full lists are."""
    n_members = len(rows)
    statuses = [r["status"] for r in rows]
    missing = sum(1 for s in statuses if s.startswith("missing"))
    accepted = sum(1 for s in statuses if s.startswith("accepted"))
    with_warnings = sum(1 for s in statuses if s.startswith("accepted with warnings"))
    with_errors = sum(1 for s in statuses if s.startswith("accepted with errors"))
    rejected = sum(1 for s in statuses if s.startswith("rejected"))
    sentences = [
        f"{n_members - missing} of the {n_members} member states sent a submission for {year}: {accepted} "
        f"accepted ({_accepted_detail(with_warnings, with_errors)}) and {rejected} rejected; {missing} sent none."
    ]
    if n_dropped:
        sentences.append(
            f"In the submissions used, {_plural(n_dropped, 'error')} left values out of the figures (one value "
            "each, or all the parts of a breakdown that does not add up); a rejected submission is left out whole."
        )
    else:
        sentences.append("No value of the submissions used was left out because of an error.")
    sentences.append(
        f"For each member state the table gives the file used, the values reported out of the "
        f"{values_expected(ref):,} the workbook asks for, the errors, warnings and notes (info) on the files in "
        "use, and the finding codes that occur most, errors first."
    )
    if n_superseded_findings:
        sentences.append(
            f"Findings on files replaced by a later submission (superseded; {n_superseded_findings} in all) are "
            "not counted in the table; their errors and warnings are listed at the end of this annex."
        )
    sentences.append(
        f"Every finding, notes included, is in {FINDINGS_CSV}, and each state's own findings, cell by cell, "
        f"are in its feedback workbook {FEEDBACK_NAME.format(year=year)}."
    )
    return " ".join(sentences)


# -- five-year series -------------------------------------------------------------------------------
SERIES_YEARS = 5  # the overview's series table: the last five years


def _series_years(years: list[int], year: int) -> list[int]:
    """The `SERIES_YEARS` consecutive years up to `year`, from the first year with any regional row
    on: a year without data keeps its column (shown as not available), so a table never jumps over a
    year and reads as a change between years that are not next to each other."""
    first = min((y for y in years if y <= year), default=year)
    return [y for y in range(year - SERIES_YEARS + 1, year + 1) if y >= first]


SERIES_BREAK_MARK = "b"  # the flag of a break in series (flags.csv), after a total not comparable with the year before


def _series_rows(regional_rows: dict[tuple, Any], series_years: list[int], ref: Reference) -> list[dict[str, str]]:
    """Per crime area: the headline regional total of each year, with its states reporting (n/N).

    A total that may not be compared with the year before's (`charts.is_series_break`: other states
    reported, or another source) carries the break-in-series mark, as the trend chart draws no line there."""
    rows = []
    for category in ref.categories:
        headline = ref.indicator_by_code[category.headline]
        row = {"indicator": f"{category.label}: {headline.label}"}
        for index in range(SERIES_YEARS):
            if index >= len(series_years):
                row[f"y{index}"] = ""
                continue
            year = series_years[index]
            this = _regional_row(regional_rows, headline.code, year)
            cells = _regional_cells(this, headline, len(ref.members_in(year)))
            reporting, _, expected = cells["coverage"].partition(" of ")
            before = _regional_row(regional_rows, headline.code, year - 1) if index > 0 else None
            flagged = SERIES_BREAK_MARK in cells["total"].split()[1:]  # a state's own flag b, carried by the total
            mark = f" {SERIES_BREAK_MARK}" if _is_break(before, this) and not flagged else ""
            row[f"y{index}"] = f"{cells['total']}{mark} ({reporting}/{expected})"
        rows.append(row)
    return rows


def _is_break(before: Any | None, after: Any | None) -> bool:
    """Two regional totals that both exist and may not be compared (`charts.is_series_break`)."""
    if before is None or after is None or not (_is_number(before.total) and _is_number(after.total)):
        return False
    return is_series_break(before, after)


def _series_note(series: list[dict[str, str]]) -> str:
    """The note under Table 4 when a total in it carries the break-in-series flag (computed or a state's
    own); else empty."""
    if not any(SERIES_BREAK_MARK in value.split(" (")[0].split()[1:] for row in series for value in row.values()):
        return ""
    return (
        f"{SERIES_BREAK_MARK}: break in series: the total cannot be compared with the year before's. A member state "
        "flagged a break in its own series, or fewer than half of the member states behind the total also reported "
        "the year before, or its figures come mostly from another source (published UNODC or Eurostat data instead "
        "of submissions); section 2.5."
    )


# -- coverage ---------------------------------------------------------------------------------------
def _coverage_rows(coverage: pd.DataFrame, year: int, ref: Reference) -> list[dict[str, str]]:
    """Per member state of `year`: what its figures are, from the coverage matrix (data/coverage.csv)."""
    in_year = coverage[_year_of(coverage) == year]
    by_state = {iso3: group for iso3, group in in_year.groupby("country_iso3", sort=False)}
    n_indicators = len(ref.indicators)
    rows = []
    for iso3 in sorted(ref.members_in(year), key=lambda c: ref.state_by_iso3[c].name.casefold()):
        group = by_state.get(iso3, in_year.iloc[0:0])
        status = _texts(group["coverage"])
        origin = _texts(group["origin"])
        with_figure = status.isin(["reported", "confidential"])
        reported_codes = set(_texts(group.loc[with_figure, "indicator"]))
        without = [c.label for c in ref.categories if not any(i.category == c.code and i.code in reported_codes for i in ref.indicators)]
        submitted = bool((origin == "submission").any())
        rows.append({
            "state": ref.state_by_iso3[iso3].name,
            "submission": "received" if submitted else "none",
            "reported": f"{int(with_figure.sum())} of {n_indicators}",
            "published": str(int((with_figure & (origin == "history")).sum())),
            "not_available": str(int(status.isin(["not_available", "not_applicable", "rejected"]).sum())),
            "areas_without": "all" if len(without) == len(ref.categories) else ", ".join(without) or "none",
        })
    return rows


def _coverage_summary(rows: list[dict[str, str]], year: int, ref: Reference) -> str:
    submitted = sum(1 for r in rows if r["submission"] == "received")
    complete = sum(1 for r in rows if r["areas_without"] == "none")
    return (
        f"{submitted} of the {len(rows)} member states sent a submission for {year}; {complete} gave at least one "
        f"figure in every crime area. For each state the table counts the {len(ref.indicators)} indicators of the "
        "catalogue (totals) with a figure (confidential ones included), those taken from published data (UNODC, "
        "Eurostat) where the state sent none, and those not available, not applicable or left out in validation. "
        f"The full matrix, state by indicator and year, is in {COVERAGE_CSV}."
    )


# -- revisions --------------------------------------------------------------------------------------
def _revision_rows(revisions: pd.DataFrame, ref: Reference) -> list[dict[str, str]]:
    """Each revised figure as printed: what was accepted before (or why there was no number), the
    revised figure, the change and the state's comment, in member-state order."""
    order = {iso3: i for i, iso3 in enumerate(s.iso3 for s in ref.member_states)}
    rows = []
    ordered = sorted(revisions.itertuples(index=False), key=lambda r: (order.get(_text(r.country_iso3), 99), _text(r.indicator), _text(r.breakdown), int(r.year)))
    for row in ordered:
        indicator = ref.indicator_by_code.get(_text(row.indicator))
        if indicator is None:
            continue
        state = ref.state_by_iso3.get(_text(row.country_iso3))
        breakdown = _text(row.breakdown)
        old_status = _text(row.old_status)
        if _is_number(row.old_value):
            old = format_figure(row.old_value, indicator)
        else:
            old = {"": "no figure", "confidential": CONFIDENTIAL}.get(old_status, NOT_AVAILABLE)
        confidential = old_status == "confidential"
        rows.append({
            "state": state.name if state else _text(row.country_iso3),
            "indicator": indicator.label + ("" if breakdown in ("", TOTAL) else f" ({breakdown})"),
            "year": str(int(row.year)),
            "old": CONFIDENTIAL if confidential else old,
            "new": CONFIDENTIAL if confidential else format_figure(row.new_value, indicator),
            "change": CONFIDENTIAL if confidential else format_change(row.change_pct),
            "comment": _text(row.comment),
            "cell": f"{_text(row.file)} {_text(row.cell)}".strip(),
        })
    return rows


def _revisions_summary(rows: list[dict[str, str]], year: int) -> str:
    if not rows:
        return (
            f"No member state revised a figure of an earlier year in its {year} submission. Revisions are typed in the "
            "Previous year value column of the submission workbook and listed here and in "
            f"{REVISIONS_CSV}."
        )
    states = len({r["state"] for r in rows})
    return (
        f"{_plural(len(rows), 'figure')} of earlier years {'was' if len(rows) == 1 else 'were'} revised by "
        f"{_count_states(states)} in the {year} submissions, in the Previous year value column of the workbook. "
        "Each revised figure replaces the one accepted before in every table and chart of this report; the table "
        f"gives both, with the state's comment. The same list is in {REVISIONS_CSV}."
    )


# -- changes since a release -------------------------------------------------------------------------
CHANGES_CSV = "data/changes.csv"
CHANGES_ANNEX = "F"
CHANGE_DECIMALS, MAX_CHANGE_DECIMALS = 3, 6  # a changed figure the report's precision would print unchanged (a rate 0.294 → 0.288)
KEY_FINDINGS_HEADING = "Key findings"  # the heading of chapter 1 in the template, after its number
KEY_FINDING_STYLE = "List Bullet"
MEASURE_WORDS = {
    "total": "regional total",
    "n_reporting": "states reporting (n)",
    "rate_per_100k": "rate per 100,000",
    "change_pct": "change on the previous year",
    "change_pct_same_reporters": "change on the previous year (same states)",
    "value": "value",
    "coverage": "coverage",
}
LEVEL_WORDS = {"regional": "BSEC region", "national": "", "coverage": ""}


def read_key_findings(path: Path) -> tuple[str, ...]:
    """The key-findings sentences of a rendered report: the bullets under its "1. Key findings" heading
    (() when the file is missing or has no such chapter)."""
    if not path.is_file():
        return ()
    found, inside = [], False
    for paragraph in docx.Document(str(path)).paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        if style.startswith("Heading 1"):
            inside = paragraph.text.strip().rstrip(".").endswith(KEY_FINDINGS_HEADING)
        elif inside and style == KEY_FINDING_STYLE and paragraph.text.strip():
            found.append(paragraph.text.strip())
    return tuple(found)


def changes_context(comparison: Comparison | None, key_findings_now: list[str], ref: Reference) -> dict[str, Any]:
    """The annex "Changes since LABEL of DATE": absent (changes_annex false) without a release to compare with."""
    if comparison is None:
        return {"changes_annex": False, "changes_heading": "", "changes_summary": "", "changes_causes": [], "changes_groups": [],
                "changes_findings_summary": "", "changes_findings": []}
    released = _release_date(comparison.released)
    since = f"{comparison.label} of {released}"
    frame = comparison.changes
    counts = changes_module.counts_by_cause(frame)
    old_only = [s for s in comparison.old_key_findings if s not in key_findings_now]
    new_only = [s for s in key_findings_now if s not in comparison.old_key_findings]
    pairs = [{"old": old_only[i] if i < len(old_only) else "(none)", "new": new_only[i] if i < len(new_only) else "(none)"}
             for i in range(max(len(old_only), len(new_only)))]
    if frame.empty:
        summary = f"No published figure changed since {since}."
    else:
        summary = (
            f"{_plural(len(frame), 'published figure')} changed since {since}. Table {CHANGES_ANNEX}1 counts them by cause "
            f"(a figure with several causes counts under each); Table {CHANGES_ANNEX}2 lists them by crime area and cause, "
            f"with the figure in {comparison.label} and now, and the evidence: the file, sheet and cell behind each change. "
            f"The same list is in {CHANGES_CSV} and in the Changes sheet of the data annex."
        )
    if frame.empty and not pairs:
        findings_summary = ""
    elif not comparison.old_key_findings:
        findings_summary = f"The report of {comparison.label} has no key findings to compare with."
    elif pairs:
        findings_summary = f"Key findings that read differently since {comparison.label}, the earlier wording beside the present one:"
    else:
        findings_summary = f"The key findings read as they did in {comparison.label}."
    return {
        "changes_annex": True,
        "changes_heading": f"Annex {CHANGES_ANNEX}. Changes since {since}",
        "changes_summary": summary,
        "changes_causes": [{"cause": code, "meaning": changes_module.CAUSES[code], "figures": format_count(n)} for code, n in counts],
        "changes_groups": _changes_groups(frame, ref, comparison.label),
        "changes_findings_summary": findings_summary,
        "changes_findings": pairs,
    }


def _release_date(released: str) -> str:
    try:
        return format_date(dt.date.fromisoformat(released[:10]))
    except ValueError:
        return released


def _changes_groups(frame: pd.DataFrame, ref: Reference, label: str) -> list[dict[str, Any]]:
    """The changed figures by crime area (in the catalogue's order) and cause, as printed."""
    if frame.empty:
        return []
    area_order = {category.code: i for i, category in enumerate(ref.categories)}
    cause_order = {code: i for i, code in enumerate(changes_module.CAUSES)}
    groups: dict[tuple, list[dict[str, str]]] = {}
    for row in frame.itertuples(index=False):
        indicator = ref.indicator_by_code.get(_text(row.indicator))
        area = ref.category_by_code.get(indicator.category) if indicator is not None else None
        codes = tuple(code.strip() for code in _text(row.cause).split(";") if code.strip())
        group_key = (area_order.get(area.code, len(area_order)) if area else len(area_order), area.label if area else "Other indicators",
                     tuple(cause_order.get(code, len(cause_order)) for code in codes), codes)
        groups.setdefault(group_key, []).append(_change_row_text(row, indicator, ref))
    return [{"heading": f"{area}: {' and '.join(changes_module.cause_labels(codes))}", "rows": rows}
            for (_, area, _, codes), rows in sorted(groups.items(), key=lambda item: item[0][:3])]


def _change_row_text(row: Any, indicator: Indicator | None, ref: Reference) -> dict[str, str]:
    iso3 = _text(row.country_iso3)
    state = ref.state_by_iso3.get(iso3)
    where = LEVEL_WORDS.get(_text(row.level)) or (state.name if state else iso3)
    breakdown = _text(row.breakdown)
    label = (indicator.label if indicator else _text(row.indicator)) + ("" if breakdown in ("", TOTAL) else f" ({breakdown})")
    measure = _text(row.measure)
    flags_changed = _text(row.old_flags) != _text(row.new_flags)
    old = _changed_cell(row.old_value, _text(row.old_status), _text(row.old_flags), measure, indicator, flags_changed)
    new = _changed_cell(row.new_value, _text(row.new_status), _text(row.new_flags), measure, indicator, flags_changed)
    decimals = CHANGE_DECIMALS
    while old == new and decimals <= MAX_CHANGE_DECIMALS and _is_number(row.old_value) and _is_number(row.new_value):  # finer than the report prints
        old, new = (_changed_cell(value, "", flags, measure, indicator, flags_changed, decimals)
                    for value, flags in ((row.old_value, _text(row.old_flags)), (row.new_value, _text(row.new_flags))))
        decimals += 1
    return {
        "figure": f"{where}: {label}, {int(row.year)}",
        "measure": MEASURE_WORDS.get(measure, measure),
        "old": old,
        "new": new,
        "evidence": _text(row.evidence),
    }


def _changed_cell(value: object, status: str, flags: str, measure: str, indicator: Indicator | None, flags_changed: bool,
                  decimals: int | None = None) -> str:
    """A figure of the changes annex as the report prints figures; a rate's flag (e) only when it changed,
    as the report's tables leave it to data/*.csv. With `decimals`, the number with that many decimals."""
    if measure == "rate_per_100k" and not flags_changed:
        flags = ""
    if decimals is not None and _is_number(value):
        return with_flags(_format_decimal(float(value), decimals), flags)  # type: ignore[arg-type]
    if measure == "coverage":
        return status.replace("_", " ") or NOT_AVAILABLE
    if not _is_number(value):
        shown = {"confidential": CONFIDENTIAL, "not_applicable": NOT_APPLICABLE}.get(status, NOT_AVAILABLE)
    elif measure in ("change_pct", "change_pct_same_reporters"):
        shown = format_change(value)
    elif measure == "rate_per_100k":
        shown = format_rate(value)
    elif measure == "n_reporting" or indicator is None:
        shown = format_count(value)
    else:
        shown = format_figure(value, indicator)
    return with_flags(shown, flags)


# -- flag footnotes ---------------------------------------------------------------------------------
_SUBMITTER_NOTE = re.compile(r"\s*\(say [^)]*\)")  # "(say why in the comment)": meant for the workbook


def flags_note(flag_texts: Iterable[str], ref: Reference) -> str:
    """The footnote under a table: each flag that occurs in `flag_texts`, in the order of the flag list,
    with its meaning ("Flags: p — Provisional value: it may be revised next year."); "" when none occurs.

    Flags combine ("bp"), so each character counts on its own. A code outside the list (validation
    rejects those) is named with a pointer to Annex A rather than left unexplained.
    """
    present = {character for text in flag_texts for character in _text(text) if not character.isspace()}
    if not present:
        return ""
    known = [flag for flag in ref.flags if flag.code in present]
    parts = [f"{flag.code} — {_SUBMITTER_NOTE.sub('', flag.meaning).rstrip('.')}." for flag in known]
    parts += [f"{code} — see Annex A." for code in sorted(present - {flag.code for flag in known})]
    return "Flags: " + " ".join(parts)


# -- key findings -----------------------------------------------------------------------------------
def _lower_first(label: str) -> str:
    """"Identified victims" -> "identified victims"; an acronym ("ATS ...", "FIU") keeps its capitals."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


def _counted(figure: str, indicator: Indicator) -> str:
    """"2,517 cybercrime offences", "12.5 kg of heroin seized": a figure with what it counts.

    A label names what is counted ("Thefts of motor vehicles recorded" -> "thefts of motor
    vehicles"); quantities keep their unit ("kg of ...", "EUR of ...").
    """
    label = _lower_first(indicator.label)
    if label.endswith(" recorded"):
        label = label[: -len(" recorded")]
    if indicator.kind == "quantity":
        return f"{figure} {indicator.unit} of {label}"
    return f"{figure} {label}"


def _format_pct_size(pct: float) -> str:
    """The size of a change without its sign: "12.2 %"."""
    return f"{round_half_up(abs(pct), 1):,.1f}{NBSP}%"


def _direction(pct: float) -> int:
    """+1, −1 or 0 as the change is printed (to one decimal): "0.0 %" counts as unchanged."""
    rounded = round_half_up(abs(pct), 1)
    if rounded == 0:
        return 0
    return 1 if pct > 0 else -1


def _share_text(share: float) -> str:
    return f"{share * 100:.0f}{NBSP}%"


def _is_confidential_value(row: Any) -> bool:
    return _text(row.status) == "confidential" or bool(CONFIDENTIALITY_FLAGS & set(_text(row.flags)))


def _reported_number(row: Any | None) -> float | None:
    """A state's figure that may be printed: reported, a number, not confidential."""
    if row is None or _text(row.status) != "reported" or _is_confidential_value(row) or not _is_number(row.value):
        return None
    return float(row.value)


def _coverage_finding(year: int, country: pd.DataFrame, received: dict[str, Any], ref: Reference) -> str:
    members = ref.members_in(year)
    n_members = len(members)
    sent = sum(1 for iso3 in members if iso3 in received)
    in_year = country[(_year_of(country) == year) & (_texts(country["breakdown"]) == TOTAL)]
    with_figure = in_year[_texts(in_year["status"]).isin(["reported", "confidential"])
                          & _texts(in_year["country_iso3"]).isin(members)]
    states = set(_texts(with_figure["country_iso3"]))
    own = set(_texts(with_figure.loc[_texts(with_figure["origin"]) != "history", "country_iso3"]))
    published_only = len(states - own)
    text = (
        f"{sent} of the {n_members} member states sent a submission for {year}; {len(states)} of the {n_members} "
        f"have at least one figure for {year}"
    )
    if published_only:
        text += f", {published_only} of them only from published data (UNODC, Eurostat)"
    return text + "."


def _headline_coverage_finding(year: int, regional_rows: dict[tuple, Any], ref: Reference, settings: Settings) -> str:
    n_members = len(ref.members_in(year))
    counts = []
    for category in ref.categories:
        row = _regional_row(regional_rows, category.headline, year)
        n = int(row.n_reporting) if row is not None and _is_number(row.n_reporting) else 0
        counts.append((category, n))
    low, high = min(n for _, n in counts), max(n for _, n in counts)
    span = f"{low}" if low == high else f"{low} to {high}"
    share = _share_text(settings.low_coverage_share)
    below = [(c, n) for c, n in counts if n_members and n / n_members < settings.low_coverage_share]
    if not below:
        return (
            f"The headline indicator of every crime area was reported by at least {share} of the member states "
            f"for {year} ({span} of {n_members})."
        )
    if len(below) == len(counts) and low == high:
        return (
            f"The headline indicator of every crime area was reported by {low} of the {n_members} member states for "
            f"{year}, fewer than {share}: the regional totals cover only the states that reported."
        )
    listed = _series_text([f"{c.label.lower()} ({n} of {n_members})" for c, n in below])
    return (
        f"The headline indicators of the {len(counts)} crime areas were reported by {span} of the {n_members} "
        f"member states for {year}; coverage is below {share} for {listed}, whose regional totals cover only "
        "the states that reported."
    )


def _directions_finding(year: int, regional_rows: dict[tuple, Any], ref: Reference, min_states: int) -> str:
    """How many headline indicators rose, fell or held on the year before (same reporters, over at
    least `min_states` states); "" when none can be compared."""
    previous = year - 1
    ups = downs = flats = none = 0
    bases: list[int] = []
    for category in ref.categories:
        row = _regional_row(regional_rows, category.headline, year)
        same = int(row.n_same_reporters) if row is not None and _is_number(row.n_same_reporters) else 0
        if row is None or _is_confidential_total(row) or same < min_states or not _is_number(row.change_pct_same_reporters):
            none += 1
            continue
        bases.append(same)
        direction = _direction(float(row.change_pct_same_reporters))
        ups += direction > 0
        downs += direction < 0
        flats += direction == 0
    n = len(ref.categories)
    if not bases:
        return ""  # no headline indicator can be compared: `_key_findings` says so once
    parts = [f"{ups} of the {n} headline indicators increased on {previous}", f"{downs} decreased"]
    if flats:
        parts.append(f"{flats} did not change")
    text = "On a same-reporters basis, " + _series_text(parts)
    span = f"{min(bases)}" if min(bases) == max(bases) else f"{min(bases)} to {max(bases)}"
    text += f" (each compared over the {span} member states that reported it in both years)"
    if none:
        text += f"; for {none} no change can be computed"
    return text + "."


def _regional_change_findings(
    year: int, regional_rows: dict[tuple, Any], ref: Reference, settings: Settings
) -> list[str]:
    """The largest same-reporters changes, at most one per crime area, largest first; none when no
    indicator changed over at least [key_findings] min_states states."""
    previous = year - 1
    n_members = len(ref.members_in(year))
    order = {indicator.code: index for index, indicator in enumerate(ref.indicators)}
    best: dict[str, tuple[float, Indicator, Any]] = {}
    for indicator in ref.indicators:
        if indicator.label.lower().startswith("of which"):
            continue  # a part of another indicator: its total's change is the one to quote
        row = _regional_row(regional_rows, indicator.code, year)
        if row is None or _is_confidential_total(row) or not _is_number(row.total):
            continue
        same = int(row.n_same_reporters) if _is_number(row.n_same_reporters) else 0
        if same < settings.key_findings_min_states or not _is_number(row.change_pct_same_reporters):
            continue
        change = float(row.change_pct_same_reporters)
        if _direction(change) == 0:
            continue
        current = best.get(indicator.category)
        if current is None or abs(change) > abs(current[0]):
            best[indicator.category] = (change, indicator, row)
    chosen = sorted(best.values(), key=lambda item: (-abs(item[0]), order[item[1].code]))
    sentences = []
    for change, indicator, row in chosen[: settings.key_findings_regional]:
        verb = "increased" if change > 0 else "decreased"
        reporting = int(row.n_reporting) if _is_number(row.n_reporting) else 0
        flags = _text(row.flags)
        flag_text = f"; flags: {flags}" if flags else ""
        sentences.append(
            f"{indicator.label} {verb} by {_format_pct_size(change)} on {previous} among the "
            f"{int(row.n_same_reporters)} member states that reported in both years; the {year} regional total is "
            f"{format_figure(row.total, indicator)} {indicator.unit} ({reporting} of {n_members} states "
            f"reporting{flag_text})."
        )
    return sentences


def _national_change_findings(
    year: int, country_rows: dict[tuple, Any], ref: Reference, settings: Settings, first_chapter: int
) -> list[str]:
    """Large changes in a state's headline figure, with the state's own comment. The largest are chosen,
    then printed in the order of the crime areas and of the state names: a list, not a ranking."""
    previous = year - 1
    threshold = settings.national_change_pct
    names = {iso3: ref.state_by_iso3[iso3].name for iso3 in ref.members_in(year)}
    notable = []
    compared = 0
    for area_index, category in enumerate(ref.categories):
        indicator = ref.indicator_by_code[category.headline]
        for iso3, name in names.items():
            row = country_rows.get((iso3, indicator.code, TOTAL, year))
            current = _reported_number(row)
            before = _reported_number(country_rows.get((iso3, indicator.code, TOTAL, previous)))
            if current is None or before is None or before == 0 or not _is_number(row.change_pct):
                continue
            compared += 1
            change = float(row.change_pct)
            if abs(change) < threshold or abs(current - before) < settings.national_change_min:
                continue
            notable.append((change, area_index, name, indicator, row, before))
    notable.sort(key=lambda item: (-abs(item[0]), item[1], item[2].casefold()))
    shown = sorted(notable[: settings.key_findings_national], key=lambda item: (item[1], item[2].casefold()))
    size = f"{threshold:g}{NBSP}%"
    if not compared:
        return [f"No member state reported a headline figure for both {previous} and {year}, so no national change is given."]
    if not shown:
        return [
            f"No member state's headline figure changed by {size} or more (and by at least "
            f"{settings.national_change_min:g}) between {previous} and {year}."
        ]
    sentences = []
    for change, _, name, indicator, row, before in shown:
        text = (
            f"{name} recorded {_counted(format_figure(row.value, indicator), indicator)} in {year} "
            f"({format_change(change)} on {previous}, when it recorded {format_figure(before, indicator)})"
        )
        flags = _text(row.flags)
        if flags:
            text += f", flagged {flags}"
        if _text(row.origin) == "history":
            text += f" (published data: {_text(row.source)})"
        comment = _text(row.comment)
        text += f"; the state's comment: “{comment.rstrip('.')}”." if comment else "."
        sentences.append(text)
    rest = len(notable) - len(shown)
    if rest:
        last_chapter = first_chapter + len(ref.categories) - 1
        sentences.append(
            f"{rest} further change{'s' if rest > 1 else ''} of {size} or more in a state's headline figure "
            f"{'are' if rest > 1 else 'is'} in the country tables of chapters {first_chapter} to {last_chapter}."
        )
    return sentences


def key_findings(
    year: int,
    regional: pd.DataFrame,
    country: pd.DataFrame,
    submissions: pd.DataFrame,
    ref: Reference,
    settings: Settings = DEFAULT_SETTINGS,
    first_chapter: int = 4,
) -> list[str]:
    """5–10 sentences written from the figures, each with its number and its basis, in a fixed order:
    who reported; the coverage of the headline indicators; how many went up or down on a
    same-reporters basis; the largest regional changes (same reporters, at least
    `settings.key_findings_min_states` states, one per crime area); large changes in a state's
    headline figure (at least `settings.national_change_pct` % and `settings.national_change_min`),
    with the state's comment. States are never ranked: national changes are listed by crime area and name.
    """
    regional = ensure_columns(regional, REGIONAL_COLUMNS)
    country = ensure_columns(country, COUNTRY_COLUMNS)
    submissions = ensure_columns(submissions, SUBMISSION_COLUMNS)
    return _key_findings(year, _rows_by_key(regional, REGIONAL_KEY), _rows_by_key(country, COUNTRY_KEY), country,
                         _received_states(submissions, year), ref, settings, first_chapter)


def _key_findings(year: int, regional_rows: dict[tuple, Any], country_rows: dict[tuple, Any], country: pd.DataFrame,
                  received: dict[str, Any], ref: Reference, settings: Settings, first_chapter: int) -> list[str]:
    """`key_findings` from the look-ups `build_context` has made already."""
    previous, min_states = year - 1, settings.key_findings_min_states
    directions = _directions_finding(year, regional_rows, ref, min_states)
    regional = _regional_change_findings(year, regional_rows, ref, settings)
    if directions or regional:
        changes = [directions or (
            f"No headline indicator can be compared with {previous} on a same-reporters basis: none was reported "
            f"for both {previous} and {year} by at least {_plural(min_states, 'member state')}."
        ), *regional]
    else:
        changes = [
            f"No regional change on {previous} is quoted: no indicator was reported for both {previous} and {year} "
            f"by at least {_plural(min_states, 'member state')}, and over fewer a change says more about who reported than about crime."
        ]
    return [
        _coverage_finding(year, country, received, ref),
        _headline_coverage_finding(year, regional_rows, ref, settings),
        *changes,
        *_national_change_findings(year, country_rows, ref, settings, first_chapter),
    ]


# -- scope and methodology --------------------------------------------------------------------------
def _history_sources(regional: pd.DataFrame, years: list[int]) -> list[str]:
    """Published sources of the figures shown (the report year and the charts' years), short names."""
    sources: set[str] = set()
    in_years = regional[_year_of(regional).isin(years)]
    for text in _texts(in_years["history_sources"]):
        sources.update(s.strip().split(" (")[0] for s in text.split(";") if s.strip())
    return sorted(sources)


def _methodology(
    year: int,
    regional: pd.DataFrame,
    country: pd.DataFrame,
    ref: Reference,
    settings: Settings,
    chart_years: list[int],
) -> list[dict[str, Any]]:
    """Sections 2.2 onwards of the scope and methodology chapter: {heading, paragraphs}."""
    previous = year - 1
    n_members = len(ref.members_in(year))
    share = _share_text(settings.low_coverage_share)
    with_iccs = sum(1 for i in ref.indicators if i.iccs)
    units = _series_text(sorted({i.unit for i in ref.indicators}))
    in_year = country[(_year_of(country) == year) & (_texts(country["breakdown"]) == TOTAL)]
    present = set("".join(_texts(in_year["flags"])))
    flags_used = [f.code for f in ref.flags if f.code in present]
    pop_years = sorted({y for (_, y) in ref.population})
    last_pop = pop_years[-1] if pop_years else None
    sources = _history_sources(regional, chart_years)
    if last_pop is None:
        population_year = "No population figures are loaded, so no rate can be computed."
    elif year > last_pop:
        population_year = (
            f"The series ends in {last_pop}: for {year} the {last_pop} figure of each state is used, so the {year} "
            "rates are estimates. They carry the flag e (estimated) in data/regional.csv and data/country.csv; the "
            "tables do not repeat it beside every rate."
        )
    else:
        population_year = f"The series covers {pop_years[0]}–{last_pop}, so the {year} rates use {year} figures."
    comparability = [
        "National definitions, recording stages and counting rules differ: one state counts offences when they "
        "are reported to the police, another when an investigation is opened or a case is sent to court, and "
        "some count persons where others count cases. Figures are therefore more comparable over time within "
        "a state than across states, and a rate is not a measure of how much crime a state has: recorded crime "
        "reflects law-enforcement activity and reporting as much as crime itself.",
        "Flags and comments submitted with the values say where a figure departs from the definition (flag d), "
        "breaks its series (flag b) or is provisional (flag p); the country tables print them beside the figure.",
    ]
    if sources:
        comparability.append(
            f"For years without a submission, figures published by {_series_text(sources)} are used where they exist "
            "(the country tables name the source). Their definitions may differ from the BSEC ones; where they "
            "are known to, the figure is flagged d. A state's own submission always takes precedence over published "
            "data for the same indicator and year."
        )
    comparability.append(
        "Figures of earlier years revised by a state in its latest submission replace the figures accepted before, "
        "in every table and chart; Annex C lists them."
    )
    return [
        {
            "heading": "2.2 Indicators and definitions",
            "paragraphs": [
                f"The assessment covers {len(ref.indicators)} indicators in {len(ref.categories)} crime areas. Their "
                "definitions follow the United Nations Survey of Crime Trends and Operations of Criminal Justice "
                f"Systems (UN-CTS) and, for {with_iccs} of them, the International Classification of Crime for "
                "Statistical Purposes (ICCS). Each indicator is counted in one unit: "
                f"{units}. Annex D gives the code, unit, ICCS code and definition of every indicator.",
                "Each crime area has a headline indicator, the one shown in the overview, the charts and the member-state "
                "profiles; the other indicators of the area are in its chapter.",
            ],
        },
        {
            "heading": "2.3 Missing figures, confidentiality and flags",
            "paragraphs": [
                "Missing, zero, not applicable and confidential are kept apart throughout: “:” means not available "
                "(not reported, rejected in validation, or no submission), “–” not applicable, “C” confidential (the "
                "figure is never printed, nor a rate or change derived from it) and “0” a real zero.",
                "Flags follow the figure they qualify (“1,234 p”) and are listed under each table that uses them; "
                "Annex A explains every symbol and flag."
                + (
                    f" In the {year} figures the flag{'s' if len(flags_used) > 1 else ''} {_series_text(flags_used)} "
                    f"occur{'' if len(flags_used) > 1 else 's'}."
                    if flags_used else ""
                ),
            ],
        },
        {
            "heading": "2.4 Population",
            "paragraphs": [
                f"Rates per 100,000 inhabitants use the resident population from the {settings.population_source}. "
                + population_year
                + " Eurostat and UNODC use other population figures, so their published national rates can differ "
                "from these by a few per cent.",
            ],
        },
        {
            "heading": "2.5 Regional totals, rates and changes",
            "paragraphs": [
                "A regional total is the sum of the figures of the member states that reported; nothing is estimated "
                f"for the others. Every total is given with “n of N”: how many of the {n_members} member states in "
                f"{year} reported. Totals from different numbers of states are not comparable.",
                "A regional rate is the sum of the values divided by the sum of the population of the same reporting "
                "states, times 100,000 (Σ values / Σ population × 100,000), never an average of national rates. Rates "
                "are given for persons and cases only.",
                f"The change on {previous} compares only the states that reported in both years (same-reporters "
                "basis), so a state that starts or stops reporting does not appear as a rise or a fall; “Basis” gives "
                "how many states that is. Where the set of states differs, the raw change of the totals is given "
                "beside it, never instead of it. No regional change is given over fewer than "
                f"{settings.key_findings_min_states} such states: over so few, a change says more about who reported "
                "than about crime (shown “:”).",
                f"A regional total that would let a confidential figure be worked out (fewer than two other states in "
                "it) is suppressed (C). In the charts a hollow marker shows a year in which fewer than "
                f"{share} of the member states reported, and a gap a year without a regional total; missing figures "
                "are never drawn as zero. A dotted rule marks a break in series, where the line is not drawn: fewer "
                "than half of the states behind a total also reported the year before, or the figures of most states "
                "come from published data (UNODC, Eurostat) on one side and from the submissions on the other, so "
                "that the difference is one of coverage or source, not of crime. Table 4 marks such a total with b, "
                "the flag of a break in series.",
                settings.source_line + ".",
            ],
        },
        {"heading": "2.6 Comparability", "paragraphs": comparability},
    ]


# -- international cooperation ----------------------------------------------------------------------
# (label, received, sent): each pair is shown side by side in the chapter of its crime area.
COOPERATION_FLOWS = (
    ("Mutual legal assistance requests", "IC_MLA_IN", "IC_MLA_OUT"),
    ("Extradition requests", "IC_EXT_IN", "IC_EXT_OUT"),
)


def _flows_of(category: Category, ref: Reference) -> list[tuple[str, Indicator, Indicator]]:
    flows = []
    for label, received, sent in COOPERATION_FLOWS:
        inbound, outbound = ref.indicator_by_code.get(received), ref.indicator_by_code.get(sent)
        if inbound and outbound and inbound.category == category.code == outbound.category:
            flows.append((label, inbound, outbound))
    return flows


def _cooperation_rows(
    flows: list[tuple[str, Indicator, Indicator]], regional_rows: dict[tuple, Any], year: int, n_expected: int, min_states: int
) -> list[dict[str, str]]:
    rows = []
    for label, inbound, outbound in flows:
        received = _regional_cells(_regional_row(regional_rows, inbound.code, year), inbound, n_expected, min_states)
        sent = _regional_cells(_regional_row(regional_rows, outbound.code, year), outbound, n_expected, min_states)
        rows.append({
            "flow": label,
            "received": received["total"],
            "received_coverage": received["coverage"],
            "received_change": received["change"],
            "sent": sent["total"],
            "sent_coverage": sent["coverage"],
            "sent_change": sent["change"],
        })
    return rows


def _cooperation_state_rows(
    flows: list[tuple[str, Indicator, Indicator]], country_rows: dict[tuple, Any], year: int, ref: Reference
) -> tuple[list[dict[str, str]], list[str]]:
    """Per member state (name order): received and sent of the first two flows, with their flags."""
    rows, flags = [], []
    members = sorted(ref.members_in(year), key=lambda iso3: ref.state_by_iso3[iso3].name.casefold())
    keys = (("in1", "out1"), ("in2", "out2"))
    for iso3 in members:
        name = ref.state_by_iso3[iso3].name
        row = {"state": name, "in1": NOT_APPLICABLE, "out1": NOT_APPLICABLE, "in2": NOT_APPLICABLE,
               "out2": NOT_APPLICABLE}
        for (in_key, out_key), (_, inbound, outbound) in zip(keys, flows, strict=False):
            for key, indicator in ((in_key, inbound), (out_key, outbound)):
                cells = _country_row(country_rows.get((iso3, indicator.code, TOTAL, year)), indicator, name, "")
                row[key] = with_flags(cells["value"], cells["flags"] if cells["value"] != CONFIDENTIAL else "")
                flags.append(cells["flags"])
        rows.append(row)
    return rows, flags


# -- comments ---------------------------------------------------------------------------------------
def _commented_rows(country: pd.DataFrame, year: int, ref: Reference) -> list[Any]:
    """The rows of the country table for `year` and a member state that carry a comment (for
    `_comment_rows`, which picks those of each area)."""
    members = set(ref.members_in(year))
    rows = country[(_year_of(country) == year) & _texts(country["country_iso3"]).isin(members)]
    return [row for row in rows.itertuples(index=False) if _text(row.comment)]


def _comment_rows(category: Category, commented: list[Any], ref: Reference) -> list[dict[str, str]]:
    """The comments states wrote next to the other indicators of the area (the headline's are in the
    country table), in catalogue order, then by state name; breakdown rows included. `commented`: the
    year's rows with a comment (`_commented_rows`)."""
    codes = [i.code for i in ref.indicators if i.category == category.code and i.code != category.headline]
    out = []
    for row in commented:
        if _text(row.indicator) not in codes:
            continue
        comment = _text(row.comment)
        indicator = ref.indicator_by_code[_text(row.indicator)]
        breakdown = _text(row.breakdown)
        out.append({
            "state": ref.state_by_iso3[_text(row.country_iso3)].name,
            "indicator": indicator.label + ("" if breakdown in ("", TOTAL) else f" ({ref.breakdown_label(breakdown)})"),
            "comment": comment,
            "_order": (codes.index(indicator.code), ref.state_by_iso3[_text(row.country_iso3)].name.casefold(), breakdown),
        })
    out.sort(key=lambda r: r["_order"])
    for row in out:
        del row["_order"]
    return out


# -- annex D: indicator definitions ------------------------------------------------------------------
def _definition_rows(ref: Reference) -> list[dict[str, str]]:
    """Every indicator of the catalogue, in its order: code, label, crime area, unit, ICCS code, definition."""
    return [
        {
            "code": indicator.code,
            "label": indicator.label,
            "area": ref.category_by_code[indicator.category].label,
            "unit": indicator.unit,
            "iccs": indicator.iccs or NOT_APPLICABLE,
            "definition": indicator.definition or NOT_AVAILABLE,
        }
        for indicator in ref.indicators
    ]


# -- annex E: member-state profiles ------------------------------------------------------------------
def _profiles(
    year: int,
    country_rows: dict[tuple, Any],
    received: dict[str, Any],
    coverage_rows: list[dict[str, str]],
    ref: Reference,
    chart_paths: Mapping[str, Path],
    went_elsewhere: Mapping[str, str] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """One profile per member state of `year`, in name order (no ranking): its headline figures, its
    submission and coverage, and its chart `profile_<ISO3>` (None when it has no figure to draw).

    A state with no headline figure for `year` gets no page of “:” but one line among the states
    without figures (the second list: heading and summary), which says what was received."""
    went_elsewhere = went_elsewhere or {}
    coverage_by_state = {row["state"]: row for row in coverage_rows}
    members = sorted(ref.members_in(year), key=lambda iso3: ref.state_by_iso3[iso3].name.casefold())
    profiles, without_figures = [], []
    for iso3 in members:
        name = ref.state_by_iso3[iso3].name
        submission = received.get(iso3)
        if submission is None:
            sent = f"No submission for {year} was received" + (f" ({went_elsewhere[iso3]})." if iso3 in went_elsewhere else ".")
            note = "No submission received."
        else:
            status_code = _text(submission.status)
            status = SUBMISSION_STATUS_WORDS.get(status_code, status_code)
            submitted = _format_submitted(submission.date_submitted)
            sent = f"Submission for {year}: {status} ({_text(submission.file)}"
            sent += f", submitted {submitted})." if submitted != NOT_AVAILABLE else ")."
            note = "Not reported." if status_code in USED_STATUSES else "Submission not used."
        cover = coverage_by_state.get(name)
        has_any_figure = cover is not None and not cover["reported"].startswith("0 of")
        if cover is not None:
            areas = cover["areas_without"]
            coverage_sentence = (
                f" Indicators (totals) with a figure for {year}: {cover['reported']}"
                + (f", {cover['published']} of them from published data" if cover["published"] not in ("", "0") else "")
                + f"; crime areas without a figure: {areas}."
            )
        else:
            coverage_sentence = ""
        rows, flags = [], []
        for category in ref.categories:
            indicator = ref.indicator_by_code[category.headline]
            cells = _country_row(country_rows.get((iso3, indicator.code, TOTAL, year)), indicator, name, note)
            flags.append(cells["flags"])
            rows.append({
                "indicator": indicator.label,
                "unit": indicator.unit,
                "value": cells["value"],
                "rate": cells["rate"],
                "change": cells["change"],
                "flags": cells["flags"],
            })
        chart = chart_paths.get(f"profile_{iso3}")
        if all(row["value"] in (NOT_AVAILABLE, NOT_APPLICABLE) for row in rows):
            # Earlier years' figures stay in the regional charts and in data/country.csv. "0 of 44 with a
            # figure" would only repeat the list's heading.
            without_figures.append({"heading": name, "summary": sent + (coverage_sentence if has_any_figure else "")})
            continue
        number = len(profiles) + 1
        profiles.append({
            "heading": name,
            "summary": sent + coverage_sentence,
            "table_caption": f"Table E{number}. {name}: headline indicator of each crime area, {year}",
            "rows": rows,
            "flags_note": flags_note(flags, ref),
            "chart": chart,
            "chart_caption": (
                f"Figure E{number}. {name}: headline indicator of each crime area up to {year}, in the order and units of "
                "the table above, each panel on its own scale (hollow markers: published data; a gap: no figure; "
                "C: confidential)."
                if chart else f"{name} has no figure to chart for the years up to {year}."
            ),
        })
    return profiles, without_figures


# -- the context -----------------------------------------------------------------------------------
FIRST_AREA_CHAPTER = 4  # 1 key findings, 2 scope and methodology, 3 regional overview, then the crime areas


def _category_context(
    category: Category,
    number: int,
    figure_numbers: list[int],
    table_numbers: list[int],
    year: int,
    trend_years: tuple[int, ...],
    regional_rows: dict[tuple, Any],
    country_rows: dict[tuple, Any],
    commented: list[Any],
    received: dict[str, Any],
    ref: Reference,
    chart_paths: Mapping[str, Path],
    settings: Settings,
) -> dict[str, Any]:
    """`figure_numbers`/`table_numbers` hold the last number used and are advanced here, in the order
    the tables and figures appear in the chapter. `trend_years`: the years the trend chart shows;
    `commented`: the year's rows of the country table with a comment (`_commented_rows`)."""
    headline = ref.indicator_by_code[category.headline]
    n_expected = len(ref.members_in(year))
    unit = headline.unit

    def next_number(counter: list[int]) -> int:
        counter[0] += 1
        return counter[0]

    trend_chart = chart_paths.get(f"trend_{category.code}")
    national_chart = chart_paths.get(f"national_{category.code}")
    span = year_span(trend_years) if trend_years else str(year)
    trend_caption = (
        f"Figure {next_number(figure_numbers)}. {headline.label}: regional total ({unit}), {span}. Labels: member "
        "states reporting / member states; hollow markers: low coverage; a gap: no regional total; a dotted rule: a "
        "break in series (other states or another source)."
        if trend_chart else ""
    )
    measure = "rate per 100,000 inhabitants" if headline.takes_rate else unit
    national_caption = (
        f"Figure {next_number(figure_numbers)}. {headline.label} by member state, {year} ({measure})."
        if national_chart else ""
    )
    indicator_rows = []
    indicator_flags = []
    for indicator in (i for i in ref.indicators if i.category == category.code):
        row = _regional_row(regional_rows, indicator.code, year)
        cells = _regional_cells(row, indicator, n_expected, settings.key_findings_min_states)
        if row is not None and cells["total"] not in (NOT_AVAILABLE, CONFIDENTIAL):
            indicator_flags.append(_text(row.flags))
        change = cells["change"] if cells["change"] == NOT_AVAILABLE else f"{cells['change']} ({cells['basis']})"
        indicator_rows.append({
            "indicator": indicator.label,
            "unit": indicator.unit,
            "total": cells["total"],
            "coverage": cells["coverage"],
            "rate": cells["rate"],
            "change": change,
        })
    indicators_caption = f"Table {next_number(table_numbers)}. {category.label}: indicators at regional level, {year}"
    countries_caption = f"Table {next_number(table_numbers)}. {headline.label} by member state, {year}"
    countries = _country_rows(country_rows, received, headline, year, ref)
    flows = _flows_of(category, ref)
    cooperation_states, cooperation_flags = _cooperation_state_rows(flows, country_rows, year, ref) if flows else ([], [])
    return {
        "code": category.code,
        "heading": f"{number}. {category.label}",
        "key_figures": _key_figures(
            _regional_row(regional_rows, headline.code, year), headline, year, n_expected, settings
        ),
        "trend_chart": trend_chart,
        "trend_caption": trend_caption,
        "national_chart": national_chart,
        "national_caption": national_caption,
        "indicators_caption": indicators_caption,
        "indicators": indicator_rows,
        "indicators_flags_note": flags_note(indicator_flags, ref),
        "countries_heading": f"{headline.label} by member state",
        "countries_caption": countries_caption,
        "value_heading": f"Value ({unit})",
        "countries": countries,
        "countries_flags_note": flags_note([row["flags"] for row in countries], ref),
        "comments": _comment_rows(category, commented, ref),
        "cooperation_note": (
            "Each state reports the requests it received and those it sent, to and from any state: a request "
            "between two member states is counted once by each, and requests to or from states outside the "
            "region are included, so the totals received and sent are not expected to match. Change: on "
            f"{year - 1}, among the states that reported in both years."
            if flows else ""
        ),
        "cooperation_caption": (
            f"Table {next_number(table_numbers)}. Requests received and sent at regional level, {year}" if flows else ""
        ),
        "cooperation": _cooperation_rows(flows, regional_rows, year, n_expected, settings.key_findings_min_states) if flows else [],
        "cooperation_states_caption": (
            f"Table {next_number(table_numbers)}. Requests received and sent by member state, {year}" if flows else ""
        ),
        # Column headings of the state table: received and sent of the first two flows.
        "cooperation_headings": [
            f"{label}: {way}" for label, _, _ in flows[:2] for way in ("received", "sent")
        ] + [""] * (4 - 2 * len(flows[:2])),
        "cooperation_states": cooperation_states,
        "cooperation_flags_note": flags_note(cooperation_flags, ref),
    }


def build_context(
    year: int,
    regional: pd.DataFrame,
    country: pd.DataFrame,
    submissions: pd.DataFrame,
    findings: pd.DataFrame,
    ref: Reference,
    chart_paths: Mapping[str, Path],
    settings: Settings = DEFAULT_SETTINGS,
    is_demonstration: bool = False,
    *,
    coverage: pd.DataFrame | None = None,
    revisions: pd.DataFrame | None = None,
    generated_on: dt.date | None = None,
    comparison: Comparison | None = None,
) -> dict[str, Any]:
    """Everything the template prints, formatted; chart paths stay `Path`s (or None when absent).

    `generated_on` defaults to today; pass a date for a reproducible report.
    The keys are the template's variables, documented in README.md ("Customising the report template").
    """
    # An empty `pd.DataFrame()` (no findings, no submissions yet) stands for "no rows".
    regional = ensure_columns(regional, REGIONAL_COLUMNS)
    country = ensure_columns(country, COUNTRY_COLUMNS)
    submissions = ensure_columns(submissions, SUBMISSION_COLUMNS)
    findings = ensure_columns(findings, FINDING_COLUMNS)
    coverage = ensure_columns(pd.DataFrame() if coverage is None else coverage, COVERAGE_COLUMNS)
    revisions = ensure_columns(pd.DataFrame() if revisions is None else revisions, REVISION_COLUMNS)
    revision_rows = _revision_rows(revisions[_year_of(revisions) == year - 1], ref)
    n_expected = len(ref.members_in(year))
    regional_rows = _rows_by_key(regional, REGIONAL_KEY)
    country_rows = _rows_by_key(country, COUNTRY_KEY)
    received = _received_states(submissions, year)
    years = sorted(int(y) for y in regional["year"].dropna().unique()) if len(regional) else []
    table_numbers = [4]  # Tables 1 to 4: submissions, coverage, the overview and its five-year series
    figure_numbers = [0]

    submission_rows = _submission_rows(submissions, year, ref)
    series_years = _series_years(years, year)
    series_rows = _series_rows(regional_rows, series_years, ref)
    coverage_rows = _coverage_rows(coverage, year, ref)
    overview_rows = []
    overview_flags = []
    for category in ref.categories:
        headline = ref.indicator_by_code[category.headline]
        row = _regional_row(regional_rows, headline.code, year)
        cells = _regional_cells(row, headline, n_expected, settings.key_findings_min_states)
        if row is not None and cells["total"] not in (NOT_AVAILABLE, CONFIDENTIAL):
            overview_flags.append(_text(row.flags))
        overview_rows.append({"indicator": f"{category.label}: {headline.label}", **cells})
    categories = []
    commented = _commented_rows(country, year, ref)
    for index, category in enumerate(ref.categories):
        # The caption names the years the chart shows (the same selection as pipeline.charts).
        trend = trend_chart_data(regional, ref, category, settings, year) if f"trend_{category.code}" in chart_paths else None
        categories.append(_category_context(
            category, FIRST_AREA_CHAPTER + index, figure_numbers, table_numbers, year, trend.years if trend else (),
            regional_rows, country_rows, commented, received, ref, chart_paths, settings,
        ))
    last_area_chapter = FIRST_AREA_CHAPTER + len(ref.categories) - 1
    quality_rows, codes_named = _quality_rows(submissions, findings, year, ref)
    previous = year - 1
    chart_years = [y for y in years if year - settings.trend_years < y <= year]
    key_findings_now = _key_findings(year, regional_rows, country_rows, country, received, ref, settings, FIRST_AREA_CHAPTER)
    profiles, without_figures = _profiles(year, country_rows, received, coverage_rows if len(coverage) else [], ref, chart_paths,
                                          _went_elsewhere(submissions, year, ref))
    return {
        "title": settings.report_title,
        "year": str(year),
        "organisation": settings.organisation,
        "working_group": settings.working_group,
        "status_line": settings.status_line,
        "coordinator": settings.coordinator,  # not on the shipped template's pages: the document's author (render_report)
        "generated_on": format_date(generated_on or dt.date.today()),
        "is_demonstration": bool(is_demonstration),
        "key_findings_intro": (
            f"The findings below are worked out from the figures in this report, as the member states submitted them "
            f"for {year}. Each gives its number and its basis: how many member states it covers and which years it "
            "compares. Changes compare the same states in both years. Recorded figures reflect the activity of "
            "law-enforcement and judicial authorities and how they record it, as well as crime itself, so they "
            "describe what was recorded, not how much crime there is."
        ),
        "key_findings": key_findings_now,
        "scope_summary": (
            f"This assessment covers the {n_expected} member states of BSEC in {year} and "
            f"{len(ref.categories)} crime areas, with the figures the states submitted for {year} and earlier years "
            "and, for years without a submission, figures published by UNODC and Eurostat. This chapter says who "
            "reported, how the indicators are defined, how missing and confidential figures are shown, and how "
            "regional totals, rates and changes are worked out."
        ),
        "submissions_summary": _submissions_summary(submission_rows, year),
        "submissions_caption": f"Table 1. Submissions for {year} by member state",
        "submissions": submission_rows,
        "coverage_summary": _coverage_summary(coverage_rows, year, ref),
        "coverage_caption": f"Table 2. Coverage by member state, {year}: indicators (totals) with a figure",
        "coverage": coverage_rows,
        "methodology": _methodology(year, regional, country, ref, settings, chart_years),
        "overview_summary": (
            f"The table gives, for each crime area, the regional figure of its headline indicator in {year}: the "
            "total, how many member states it covers, the rate per 100,000 inhabitants and the change on "
            f"{previous} among the states that reported in both years. Each crime area has its own chapter "
            f"({FIRST_AREA_CHAPTER} to {last_area_chapter})."
        ),
        "overview_caption": f"Table 3. Headline indicators at regional level, {year}",
        "overview": overview_rows,
        "overview_flags_note": flags_note(overview_flags, ref),
        "series_caption": (
            f"Table 4. Headline indicators at regional level, {year_span(series_years)}: regional total "
            "(member states reporting / member states)" if series_years else "Table 4. Headline indicators at regional level"
        ),
        "series_years": [str(y) for y in series_years] + [""] * (SERIES_YEARS - len(series_years)),
        "series": series_rows,
        "series_note": _series_note(series_rows),
        "change_heading": f"Change on {previous} (same states)",
        "change_heading_short": f"Change on {previous}",
        "categories": categories,
        "symbols_legend": [dict(row) for row in SYMBOLS_LEGEND],
        "flags_legend": [{"code": f.code, "word": f.word, "meaning": f.meaning} for f in ref.flags],
        "quality_summary": _quality_summary(
            quality_rows,
            _values_dropped(submissions, findings, year, ref),
            _superseded_findings(submissions, findings, year),
            year,
            ref,
        ),
        "quality_caption": f"Table B1. Data quality by member state, {year}",
        "quality": quality_rows,
        "quality_codes": _quality_codes(codes_named, ref),
        "unattributed_files": _unattributed_files(submissions, findings, year, ref),
        "revisions_summary": _revisions_summary(revision_rows, year),
        "revisions_caption": f"Table C1. Figures revised in the {year} submissions",
        "revisions": revision_rows,
        "findings_summary": _findings_summary(findings, year),
        "findings": _finding_rows(findings, year, submissions),
        "definitions_summary": (
            f"The {len(ref.indicators)} indicators of the catalogue, by crime area, as defined in the submission "
            "workbook (its Definition column). The ICCS code is that of the International Classification of Crime "
            "for Statistical Purposes (UNODC, 2015); “–” means the indicator is not an offence category."
        ),
        "definitions_caption": "Table D1. Indicator definitions",
        "definitions": _definition_rows(ref),
        "profiles_summary": (
            f"One page per member state of {year} with figures, in alphabetical order: its submission, how many "
            "indicators it gave figures for, its headline figure in each crime area with the rate and the change on "
            f"{previous}, and a chart of those figures over the years. Figures are the state's own, as submitted "
            "(or as published by UNODC or Eurostat where marked); they are not compared with other states."
            + (f" The {_count_states(len(without_figures))} without any figure are listed together at the end."
               if without_figures else "")
        ),
        # Without a coverage matrix the profiles say nothing about coverage rather than "0 of 44".
        "profiles": profiles,
        "profiles_without_figures_heading": f"Member states without figures for {year}",
        "profiles_without_figures": without_figures,
        **changes_context(comparison, key_findings_now, ref),
    }


# -- rendering -------------------------------------------------------------------------------------
def make_jinja_env(provided: Iterable[str] | None = None) -> jinja2.Environment:
    """The one environment for rendering and for checking the template's variables.

    autoescape: names and comments may contain & and <, which would corrupt the XML;
    StrictUndefined: a missing variable is an error, not an empty string in the report.
    With `provided` (the context's names), compiling a template part that uses any other variable
    raises `MissingVariables` naming them all, even those of a branch the context would not take.
    """
    if provided is None:
        return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return _CheckingEnvironment(set(provided), autoescape=True, undefined=jinja2.StrictUndefined)


class _CheckingEnvironment(jinja2.Environment):
    """Checks each template part's variables on the syntax tree it is compiled from, instead of
    parsing the whole template a second time for docxtpl's `get_undeclared_template_variables`."""

    def __init__(self, provided: set[str], **options: Any) -> None:
        super().__init__(**options)
        self.provided = provided

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):  # noqa: ANN001, ANN201 - jinja's signature
        if isinstance(source, str):
            source = self.parse(source, name, filename)
        missing = meta.find_undeclared_variables(source) - self.provided
        if missing:
            raise MissingVariables(sorted(missing))
        return super().compile(source, name, filename, raw, defer_init)


class MissingVariables(Exception):
    """Raised by a checking environment (`make_jinja_env(provided=...)`): the names a template part uses
    that the context does not supply."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


def _with_images(value: Any, tpl: DocxTemplate) -> Any:
    """A copy of the context with every path turned into an InlineImage of the text width."""
    if isinstance(value, PurePath):
        path = Path(value)
        if not path.is_file():
            raise ReportRenderError(f"chart image {path} does not exist")
        return InlineImage(tpl, str(path), width=Mm(CHART_WIDTH_MM))
    if isinstance(value, Mapping):
        return {key: _with_images(item, tpl) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_with_images(item, tpl) for item in value]
    return value


TOC_LEVELS = {"Heading 1": 1, "Heading 2": 2, "Heading 3": 3}  # the levels the TOC field collects ("1-3")


def fill_toc(document: Document) -> int:
    """Put the rendered headings into the result of the table-of-contents field; returns how many.

    The template's field is marked dirty and its settings.xml asks Word to update fields on opening,
    so Word rebuilds it with page numbers; LibreOffice rebuilds it when its indexes are updated (the
    PDF export). Until then, or in a plain `soffice --convert-to`, the reader sees the headings
    (without page numbers) instead of a placeholder. One paragraph per heading, styled `toc 1`/`toc 2`/`toc 3`.

    python-docx has no API for fields, so this edits the body's XML with its `OxmlElement` and `qn`:
    the field is the paragraph whose runs hold `fldChar` begin, `instrText` "TOC ...", `fldChar`
    separate, the current result, `fldChar` end (ECMA-376 part 1, 17.16); the result runs are
    replaced by one run per heading, each in a paragraph of its own, the end run after the last.
    """
    body = document.element.body
    instruction = next((el for el in body.iter(qn("w:instrText")) if (el.text or "").strip().startswith("TOC ")), None)
    if instruction is None:
        return 0
    field_paragraph = instruction.getparent().getparent()
    runs = list(field_paragraph.iter(qn("w:r")))
    kinds = [next((c.get(qn("w:fldCharType")) for c in run.iter(qn("w:fldChar"))), None) for run in runs]
    if "separate" not in kinds or "end" not in kinds:
        return 0
    separate, end = kinds.index("separate"), kinds.index("end")
    # Each paragraph's style name (an absent or unknown style id is the default paragraph style).
    names = {style.style_id: style.name for style in document.styles if style.type == WD_STYLE_TYPE.PARAGRAPH}
    default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    default_name = default.name if default is not None else ""
    entries = []
    seen_field = False
    for paragraph in body.iterchildren(qn("w:p")):  # the body's paragraphs, as `document.paragraphs`
        if paragraph is field_paragraph:
            seen_field = True
            continue
        level = TOC_LEVELS.get(names.get(paragraph.style, default_name))
        if seen_field and level and paragraph.text.strip():
            entries.append((level, paragraph.text.strip()))
    if not entries:
        return 0
    for run in runs[separate + 1:end]:
        run.getparent().remove(run)
    end_run = runs[end]
    end_run.getparent().remove(end_run)

    def entry_paragraph(paragraph, level: int, text: str):
        paragraph.style = f"TOC{level}"
        run = OxmlElement("w:r")
        t = OxmlElement("w:t")
        t.text = text
        t.set(qn("xml:space"), "preserve")
        run.append(t)
        paragraph.append(run)
        return paragraph

    (first_level, first_text), rest = entries[0], entries[1:]
    previous = entry_paragraph(field_paragraph, first_level, first_text)
    for level, text in rest:
        paragraph = entry_paragraph(OxmlElement("w:p"), level, text)
        previous.addnext(paragraph)
        previous = paragraph
    previous.append(end_run)
    return len(entries)


def render_report(template_path: Path, context: dict[str, Any], out_path: Path) -> Path:
    """Render `context` into the template and write the .docx to `out_path` atomically.

    Raises `ReportRenderError` when the template uses variables the context lacks (their names are
    in the message), when a chart file is missing, or when Jinja fails.
    """
    template_path = Path(template_path)
    out_path = Path(out_path)
    if not template_path.is_file():
        raise ReportRenderError(f"report template {template_path} does not exist")
    tpl, day = _render_document(template_path, context)
    saved = io.BytesIO()
    tpl.save(saved)
    # python-docx dates the zip entries with the current time: the day's date instead, so that the
    # same inputs on one day give the same bytes.
    return output_files.write_package(saved.getvalue(), out_path, day.replace(tzinfo=None))


def _document_day() -> dt.datetime:
    # The day, not the second: the report says "generated on <date>", and two runs on the same inputs
    # on one day give identical document parts.
    return dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(), tzinfo=dt.UTC)


def _render_document(template_path: Path, context: dict[str, Any]) -> tuple[DocxTemplate, dt.datetime]:
    """The rendered template, its contents filled in, and the day it is dated."""
    # A fresh template object per render: docxtpl keeps rendering state on the object.
    tpl = DocxTemplate(str(template_path))
    env = make_jinja_env(provided=context)
    rendered_context = _with_images(context, tpl)
    try:
        tpl.render(rendered_context, jinja_env=env)
    except MissingVariables as err:
        raise ReportRenderError(f"the template {template_path.name} uses variables the context does not supply: {err}") from None
    except jinja2.TemplateError as err:
        raise ReportRenderError(f"cannot render {template_path.name}: {err}") from err
    fill_toc(tpl.docx)
    day = _document_day()
    tpl.docx.core_properties.created = day
    tpl.docx.core_properties.modified = day
    if context.get("coordinator"):  # settings [report] coordinator: Word shows it as the author
        tpl.docx.core_properties.author = context["coordinator"]
    return tpl, day
