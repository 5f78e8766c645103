"""Content and time-series rules on typed observations (part of the validation stage).

Input: observations (`validate.OBSERVATION_COLUMNS`) of one submission, or of all submissions in use
for the time rules, and the `Reference`. Output: `Finding` records, and for errors the observations
to leave out. Thresholds come from `reference/rule_thresholds.csv` and the part <= whole pairs from
`reference/consistency_pairs.csv`, so a coordinator can tune them; the logic is here. The rule IDs
are those of the domain rule table.

- Units (S06): a Unit cell other than the catalogue unit is converted when
  `reference/unit_conversions.csv` knows the conversion (flag `e`, info); otherwise the value is left out.
- Breakdowns (V03/V04): a breakdown whose every part is reported sums to its total (error); a
  partly reported one stays at or below the total (error above it). The parts are left out, the
  total (the headline) is kept. A total is one finding, on its cell, listing every breakdown that
  disagrees with it, part by part with the sum.
- Several forms per victim (V05): forms of exploitation flagged `d` may add up to more than the
  victims (a victim counted under each form suffered): a warning, the parts are kept.
- Part and whole (V06, V08, V11): an "of which" figure above its total is an error (the part is left
  out); a later stage above an earlier one (traced above seized, confiscated above frozen) and more
  groups dismantled than members arrested are warnings, as the years' flows differ.
- Justice funnel (V07): convicted ≤ prosecuted ≤ suspected. A warning only: annual flows cover
  different people (a person convicted this year may have been prosecuted last year).
- Victims without offences (V10): victims reported while 0 offences are recorded: warning.
- Population (P01): no population figure for the country and year: rates cannot be computed (error
  on the rate only; the values are used).
- Cover metadata (M01): reporting agency or contact person blank: warning.
- Change (T01): more than `change_pct` % and more than max(`change_abs_min`, `change_share_of_mean`
  × the mean of the 3 previous years) on the previous year, with no comment and no flag `b`: warning.
- Outlier (T02): a robust z-score above `outlier_z` against at least `outlier_min_years` earlier years
  of the series, the spread taken as at least `outlier_min_spread`, with no comment and no flag `b`,
  and not on a cell T01 or T03 already warns on.
- Series dropped (T03): a value reported above 0 last year and not available this year, or above
  `change_abs_min` last year and 0 this year, with no comment: warning;
  a blank cell there is an "unexplained blank" (M02).
- Break (T04): flag `b` with no comment describing the break: info. The flag silences T01 and T02.
- Revision (R01): a Previous year value cell holding another number than the one accepted for that
  year (or a number where none was accepted): info, or a warning when it changes a reported figure
  by more than `revision_warn_pct` %. The revised figure replaces the accepted one
  (`validate.apply_revisions`, which also writes the revision log).
"""

from __future__ import annotations

import bisect
import csv
import itertools
import math
import operator
import statistics
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

import pandas as pd

from pipeline import workbook_contract
from pipeline.errors import ReferenceDataError
from pipeline.findings import Finding, make_finding, plain_number
from pipeline.reference import REFERENCE_DIR, TOTAL, Indicator, Reference, normalise_unit
from pipeline.settings import Thresholds  # configuration: the settings' [validation] section overrides the CSV

REPORTED = "reported"
NOT_AVAILABLE = "not_available"
# Stages of the justice funnel per crime area: each later stage should not exceed the earlier one.
FUNNEL_SUFFIXES = ("_SUS", "_PRO", "_CON")
# Breakdowns whose parts may count one person more than once when the state flags them `d`
# (GLOTIP "mixed" exploitation: a victim of sexual exploitation and forced labour is counted under both).
MULTIPLE_COUNT_DIMENSIONS = frozenset({"EXPL"})
# (victims, offences) of one crime (V10): the offence is recorded where its victims are identified,
# so victims with 0 offences usually means the offences are counted elsewhere or not at all.
VICTIMS_AND_OFFENCES = (("TIP_VIC", "TIP_OFF"), ("SOM_MIG", "SOM_OFF"))
# Consistency constants of the robust z-score: MAD / 0.6745 estimates the standard deviation of a
# normal distribution; mean absolute deviation × 1.2533 does when the MAD is 0 (Iglewicz & Hoaglin).
_MAD_SCALE = 0.6745
_MEAN_AD_SCALE = 1.253314


def load_thresholds(path: Path = REFERENCE_DIR / "rule_thresholds.csv") -> Thresholds:
    """The thresholds in `path`, each read as the type of its default (a count of years is an int).

    These are the defaults; `Settings.thresholds` applies the settings file's [validation] overrides.
    """

    kinds = {f.name: type(f.default) for f in fields(Thresholds)}
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    unknown = [r["name"] for r in rows if r["name"] not in kinds]
    if unknown:
        raise ReferenceDataError(f"{path.name}: unknown threshold(s) {', '.join(unknown)}; known: {', '.join(kinds)}")
    return Thresholds(**{r["name"]: kinds[r["name"]](float(r["value"])) for r in rows})


class ObservationLookup:
    """One submission's observations by (indicator, breakdown): the reported numbers, and the cell,
    status and flags of every row; `sheet`, the sheet they are on.

    Each content rule takes the observations frame or this; `validate` builds it once for all of
    them (each rule building its own dicts cost as much as the rule), from the frame or from its
    columns as lists (column name -> values; `validate` keeps rows, not frames). The keys of one
    submission's observations are unique (validation leaves duplicated rows out)."""

    _COLUMNS = ("indicator", "breakdown", "value", "status", "flags", "comment", "cell", "sheet")

    def __init__(self, obs: pd.DataFrame | Mapping[str, list]) -> None:
        # Lists, not Series: iterating a Series boxes every item (the same Python values, much slower).
        columns = [obs[name] for name in self._COLUMNS] if isinstance(obs, Mapping) else [obs[name].tolist() for name in self._COLUMNS]
        indicators, breakdowns, values, statuses, flags, comments, cells, sheets = columns
        keys = list(zip(indicators, breakdowns, strict=True))
        self.number: dict[tuple[str, str], float] = {key: value for key, value, status in zip(keys, values, statuses, strict=True) if status == REPORTED}
        self.cell: dict[tuple[str, str], str] = dict(zip(keys, cells, strict=True))
        self.status: dict[tuple[str, str], str] = dict(zip(keys, statuses, strict=True))
        self.flags: dict[tuple[str, str], str] = dict(zip(keys, flags, strict=True))
        self.comment: dict[tuple[str, str], str] = dict(zip(keys, comments, strict=True))
        self.sheet: str = sheets[0] if sheets else ""


def _lookup(obs: pd.DataFrame | ObservationLookup) -> ObservationLookup:
    return obs if isinstance(obs, ObservationLookup) else ObservationLookup(obs)


def row_name(ref: Reference, code: str, breakdown: str = TOTAL) -> str:
    """How a finding names a Data row: its label as the template's Indicator column gives it, the
    code and breakdown in brackets ("Smuggled migrants detected: Children (under 18) (SOM_MIG AGE=CHILD)")."""
    key = code if breakdown == TOTAL else f"{code} {breakdown}"
    indicator = ref.indicator_by_code.get(code)
    if indicator is None:
        return key
    label = indicator.label if breakdown == TOTAL else f"{indicator.label}: {ref.breakdown_label(breakdown)}"
    return f"{label} ({key})"


# -- one submission --------------------------------------------------------------------------------
def unit_factor(ref: Reference, indicator: Indicator, unit: str) -> float | None:
    """What a value in `unit` is multiplied by to be in the catalogue unit (S06).

    1.0 for a blank Unit cell or the catalogue unit itself; None when no conversion is known.
    """
    if not unit or unit == indicator.unit:  # blank, or as the template pre-fills it: the usual cases
        return 1.0
    given, target = normalise_unit(unit), normalise_unit(indicator.unit)
    if not given or given == target:
        return 1.0
    return ref.unit_conversions.get((given, target))


def check_breakdowns(obs: pd.DataFrame | ObservationLookup, ref: Reference, file: str) -> tuple[list[Finding], set[tuple[str, str]]]:
    """Breakdown sums against totals; returns the findings and the (indicator, breakdown) parts to leave out.

    A total that its breakdowns disagree with is one finding on the total's cell, listing each
    breakdown that disagrees with its sum (`breakdown-sum-mismatch` when one of them is complete,
    else `breakdown-exceeds-total`); forms of exploitation counted more than once (flag d) are a
    warning of their own, as their parts are kept.
    """
    lookup = _lookup(obs)
    values, cells, statuses, flags, sheet = lookup.number, lookup.cell, lookup.status, lookup.flags, lookup.sheet
    findings: list[Finding] = []
    dropped: set[tuple[str, str]] = set()
    for indicator in ref.indicators:
        total = values.get((indicator.code, TOTAL))
        if total is None:
            continue
        disagreeing: list[str] = []
        complete_any = False
        where = {"file": file, "sheet": sheet, "cell": cells[(indicator.code, TOTAL)], "value": plain_number(total)}
        for dim, parts in ref.breakdown_parts(indicator):
            reported = {p: values[p] for p in parts if p in values}
            if not reported:
                continue
            complete = all(statuses.get(p) == REPORTED for p in parts)
            part_sum = sum(reported.values())
            multiple = dim in MULTIPLE_COUNT_DIMENSIONS and any("d" in flags.get(p, "") for p in reported)
            if multiple and part_sum > total:
                findings.append(make_finding(ref, "breakdown-multiple-forms", f"{row_name(ref, indicator.code)} holds {plain_number(total)}; {_sum_text(ref, reported, part_sum)}, more than the total, as flag d says a person may be counted under several of them; the parts are kept.", **where))
            elif complete and part_sum != total:
                # With flag d the parts may exceed the total but never fall short of it: every person
                # has at least one part (the unknown part included).
                disagreeing.append(_sum_text(ref, reported, part_sum))
                complete_any = True
                dropped.update(reported)
            elif not complete and part_sum > total:
                missing = [ref.breakdown_label(part[1]) for part in parts if part not in reported]
                disagreeing.append(f"{_sum_text(ref, reported, part_sum)} ({', '.join(missing)} not given), more than the total")
                dropped.update(reported)
        if disagreeing:
            these = "this breakdown are" if len(disagreeing) == 1 else "these breakdowns are"
            message = (f"{row_name(ref, indicator.code)} holds {plain_number(total)}, but its parts add up to another figure: {'; '.join(disagreeing)}. "
                       f"The parts of {these} not used, the total is. Please correct the parts or the total.")
            if complete_any:
                findings.append(make_finding(ref, "breakdown-sum-mismatch", message, **where))
            else:
                findings.append(make_finding(ref, "breakdown-exceeds-total", message, **where))
    return findings, dropped


def _sum_text(ref: Reference, parts: Mapping[tuple[str, str], float], part_sum: float) -> str:
    """"Female 300 + Male 239 + Sex unknown 0 = 539": each part by its label, and their sum."""
    return f"{' + '.join(f'{ref.breakdown_label(key)} {plain_number(value)}' for (_, key), value in parts.items())} = {plain_number(part_sum)}"


def check_consistency_pairs(obs: pd.DataFrame | ObservationLookup, ref: Reference, file: str) -> tuple[list[Finding], set[tuple[str, str]]]:
    """Each pair of `consistency_pairs.csv`: part <= whole, breakdown by breakdown where both have it.

    Returns the findings and the parts to leave out: those whose finding code has the effect
    `drop-value` (V06 "of which" errors), so the effect is tuned in `finding_codes.csv`, not here.
    """
    lookup = _lookup(obs)
    values, cells, sheet = lookup.number, lookup.cell, lookup.sheet
    findings: list[Finding] = []
    dropped: set[tuple[str, str]] = set()
    for pair in ref.consistency_pairs:
        whole_keys = set(ref.breakdowns_of(ref.indicator_by_code[pair.whole]))
        for key in ref.breakdowns_of(ref.indicator_by_code[pair.part]):
            part, whole = values.get((pair.part, key)), values.get((pair.whole, key))
            if key not in whole_keys or part is None or whole is None or part <= whole:
                continue
            drops = ref.finding_codes[pair.code].effect == "drop-value"
            ask = f"{pair.part} is not used." if drops else "Please confirm or explain in a comment."
            findings.append(make_finding(ref, pair.code, f"{row_name(ref, pair.part, key)} holds {plain_number(part)}, more than {row_name(ref, pair.whole, key)}, which holds {plain_number(whole)}. {pair.note} {ask}", file=file, sheet=sheet, cell=cells[(pair.part, key)], value=plain_number(part)))
            if drops:
                dropped.add((pair.part, key))
    return findings, dropped


def check_funnel(obs: pd.DataFrame | ObservationLookup, ref: Reference, file: str) -> list[Finding]:
    """Convicted ≤ prosecuted ≤ suspected, for each crime area that has the stages (warning)."""
    lookup = _lookup(obs)
    values, cells, sheet = lookup.number, lookup.cell, lookup.sheet
    findings = []
    for category in ref.categories:
        stages = [f"{category.code}{s}" for s in FUNNEL_SUFFIXES if f"{category.code}{s}" in ref.indicator_by_code]
        present = [(code, values[(code, TOTAL)]) for code in stages if (code, TOTAL) in values]
        for (earlier, before), (later, after) in zip(present, present[1:], strict=False):
            if after > before:
                findings.append(make_finding(ref, "funnel-inverted", f"{row_name(ref, later)} holds {plain_number(after)}, more than {row_name(ref, earlier)}, which holds {plain_number(before)}: later stages of the justice process usually count fewer persons. Please confirm or explain in a comment.", file=file, sheet=sheet, cell=cells[(later, TOTAL)], value=plain_number(after)))
    return findings


def check_victims_without_offences(obs: pd.DataFrame | ObservationLookup, ref: Reference, file: str) -> list[Finding]:
    """Victims reported above 0 while the crime's offences are reported as 0 (V10, warning).

    "Not available" offences say nothing, so only a reported 0 warns; the finding is on the 0.
    """
    lookup = _lookup(obs)
    values, cells = lookup.number, lookup.cell
    findings = []
    for victims, offences in VICTIMS_AND_OFFENCES:
        people, recorded = values.get((victims, TOTAL)), values.get((offences, TOTAL))
        if people is not None and recorded is not None and people > 0 and recorded == 0:
            findings.append(make_finding(ref, "victims-without-offences", f"{row_name(ref, offences)} holds 0, but {row_name(ref, victims)} is {plain_number(people)}: victims were identified while no offence was recorded. Please confirm or explain in a comment.", file=file, sheet=lookup.sheet, cell=cells[(offences, TOTAL)], value="0"))
    return findings


def check_breaks(obs: pd.DataFrame | ObservationLookup, ref: Reference, file: str) -> list[Finding]:
    """Flag `b` (break in series) with an empty Comment (T04, info): users need to know what broke."""
    if isinstance(obs, ObservationLookup):
        return [
            make_finding(ref, "break-undescribed", f"{row_name(ref, indicator, breakdown)} is flagged b (break in series) but the Comment does not say what changed.", file=file, sheet=obs.sheet, cell=obs.cell[(indicator, breakdown)], value=flags)
            for (indicator, breakdown), flags in obs.flags.items()
            if "b" in flags and obs.comment[(indicator, breakdown)].strip() == ""
        ]
    columns = ("indicator", "breakdown", "flags", "comment", "sheet", "cell")
    return [
        make_finding(ref, "break-undescribed", f"{row_name(ref, indicator, breakdown)} is flagged b (break in series) but the Comment does not say what changed.", file=file, sheet=sheet, cell=cell, value=flags)
        for indicator, breakdown, flags, comment, sheet, cell in zip(*(obs[name].tolist() for name in columns), strict=True)
        if "b" in flags and comment.strip() == ""
    ]


def check_population(ref: Reference, iso3: str, year: int, *, file: str, sheet: str, cell: str) -> list[Finding]:
    """No population figure for the country in or before the year (P01): its rates cannot be computed."""
    if ref.population_for(iso3, year) is not None:
        return []
    return [make_finding(ref, "population-missing", f"The population reference has no figure for {iso3} in or before {year}: its values are used, but no rate per 100,000 can be computed.", file=file, sheet=sheet, cell=cell, value=iso3)]


def check_cover_metadata(cover: Mapping[str, object], ref: Reference, *, file: str, sheet: str) -> list[Finding]:
    """Reporting agency and contact person filled in on the Cover (M01): one warning per blank field.

    `cover` maps a Cover label to an object with `value` and `cell` (`ingest.CoverField`).
    """
    findings = []
    for label in (workbook_contract.COVER_AGENCY, workbook_contract.COVER_CONTACT):
        field = cover.get(label)
        value = getattr(field, "value", None)
        if value is None or not str(value).strip():
            findings.append(make_finding(ref, "cover-metadata-missing", f"The Cover does not give the {label.lower()}.", file=file, sheet=sheet, cell=getattr(field, "cell", "")))
    return findings


# -- across years ----------------------------------------------------------------------------------
def check_time_series(observations: pd.DataFrame | Mapping[str, list], ref: Reference, thresholds: Thresholds,
                      blank_cells: set[tuple[str, int, str, str]]) -> list[Finding]:
    """T01 large unexplained changes, T02 outliers, T03 dropped series and M02 unexplained blanks, on all years.

    `observations` holds every submission in use, as a frame or as its columns (column name -> list
    of values; `validate` keeps rows, not frames); `blank_cells` the (country, year, indicator,
    breakdown) whose Value cell was left empty (not `:`), which makes a dropped series an unexplained blank.
    """
    if isinstance(observations, Mapping):
        columns = [observations[name] for name in _SERIES_COLUMNS]
    elif observations.empty:
        return []
    else:
        columns = [observations[name].tolist() for name in _SERIES_COLUMNS]
    # Rows with a missing key are left out, as groupby leaves them out; the others in the order of
    # a stable sort by key and year (what sort_values(kind="stable") gave, sorting plain tuples).
    rows = [row for row in zip(*columns, strict=True) if not (_is_missing_key(row[0]) or _is_missing_key(row[1]) or _is_missing_key(row[2]))]
    rows.sort(key=_SERIES_ORDER)
    findings = []
    min_years = thresholds.outlier_min_years
    # The runs of equal keys of the sorted rows are the series (a pandas group per series cost ~0.3 ms; thousands of series).
    for (iso3, indicator, breakdown), group in itertools.groupby(rows, key=_SERIES_KEY):
        series = {row[3]: row[4:] for row in group}
        # The years in order, walked once: the T02 history of each year (the reported values of the
        # earlier years since the latest break) is kept up to date on the way, not gathered again.
        since_break: list[float] = []  # in ascending order (bisect.insort): T02 takes medians of it
        for year in sorted(series):
            value, status, flags, comment, cell, file, sheet = series[year]
            year = int(year)
            place = (file, sheet, cell, iso3, year)  # where a finding would point: made into a dict only for one
            found = _change_or_drop(series, year, indicator, breakdown, thresholds, blank_cells, iso3, place, ref)
            # T02 needs `outlier_min_years` of history: tested before the call, which costs more than the test.
            if found is None and status == REPORTED and len(since_break) >= min_years and "b" not in flags and not comment.strip():
                found = _outlier(value, since_break, indicator, breakdown, thresholds, iso3, place, ref)
            if found is not None:
                findings.append(found)
            if "b" in flags:
                since_break = []  # the year flagged b opens the comparable series
            if status == REPORTED:
                bisect.insort(since_break, value)
    return findings


_SERIES_COLUMNS = ("country_iso3", "indicator", "breakdown", "year", "value", "status", "flags", "comment", "cell", "source_file", "sheet")
_SERIES_ORDER = operator.itemgetter(0, 1, 2, 3)
_SERIES_KEY = operator.itemgetter(0, 1, 2)


def _where(place: tuple[str, str, str, str, int]) -> dict[str, object]:
    file, sheet, cell, iso3, year = place
    return {"file": file, "sheet": sheet, "cell": cell, "country_iso3": iso3, "year": year}


def _is_missing_key(value: object) -> bool:
    if value.__class__ is str:  # the usual case first
        return False
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _median(values: list[float], ordered: bool = False) -> float:
    """`statistics.median`, the same arithmetic (the middle value, or the mean of the middle two)
    without its checks: called for every value of every series. `ordered`: `values` are sorted already."""
    ordered = values if ordered else sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _change_or_drop(series, year, indicator, breakdown, thresholds, blank_cells, iso3, place, ref) -> Finding | None:
    """T03/M02 (a series dropped, or left blank) or T01 (a large change) on the previous year."""
    value, status, flags, comment = series[year][:4]
    last = series.get(year - 1)
    if last is None or last[1] != REPORTED:
        return None
    last_value = last[0]
    # A fall to 0 from a small count (1 to 0 victims in a breakdown) is ordinary; only a fall
    # from more than `change_abs_min` warns, as for changes. A fall to "not available" always does.
    dropped = last_value > 0 and (status == NOT_AVAILABLE or (status == REPORTED and value == 0 and last_value > thresholds.change_abs_min))
    if dropped and (iso3, year, indicator, breakdown) in blank_cells:
        return make_finding(ref, "value-blank-unexplained", f"{row_name(ref, indicator, breakdown)}: the cell is blank although {plain_number(last_value)} was reported for {year - 1}. A blank reads as not available: enter the figure, or say that it is not available. Accepted: {workbook_contract.ACCEPTED_FORMS_TEXT}.", **_where(place))
    if dropped and not comment.strip():
        now = "0" if status == REPORTED else "not available"
        return make_finding(ref, "series-dropped", f"{row_name(ref, indicator, breakdown)} is {now} although {plain_number(last_value)} was reported for {year - 1}. Please confirm or explain in a comment.", value=now, **_where(place))
    if not dropped and status == REPORTED and "b" not in flags and not comment.strip():
        change = value - last_value
        # The tests that need no mean first (they end most calls); then the change against the mean of
        # the last three reported years, which holds year - 1, so never empty.
        if not last_value or abs(change) / last_value * 100 <= thresholds.change_pct or abs(change) <= thresholds.change_abs_min:
            return None
        window = [series[y][0] for y in range(year - 3, year) if y in series and series[y][1] == REPORTED]
        mean = sum(window) / len(window)
        if abs(change) > max(thresholds.change_abs_min, thresholds.change_share_of_mean * mean):
            return make_finding(ref, "change-unexplained", f"{row_name(ref, indicator, breakdown)}: the cell holds {plain_number(value)}, against {plain_number(last_value)} in {year - 1} ({change / last_value * 100:+.0f} %) with no comment. Please confirm and explain the change in the Comment column.", value=plain_number(value), **_where(place))
    return None


def _outlier(value, history, indicator, breakdown, thresholds, iso3, place, ref) -> Finding | None:
    """T02: robust z-score of log(1 + value) against `history`, the series' earlier reported values
    in ascending order (the medians, sums and spans below do not depend on the years' order).

    The history starts at the latest earlier break (flag `b`): years before it are not comparable.
    log(1 + x) makes a doubling count the same at any level; the median and MAD are not pulled by
    the outlier itself. Four or five years of a steady series can have a MAD near 0, which would make
    an ordinary 10 % change an "outlier": the spread is taken as at least `outlier_min_spread` (in
    log units, 0.1 ≈ 10 %). As for T01 and T03, a difference of no more than `change_abs_min` units
    from the median never warns, so small counts (2, 3, 0 victims) stay quiet.
    """
    if len(history) < thresholds.outlier_min_years:
        return None
    typical = _median(history, ordered=True)
    if abs(value - typical) <= thresholds.change_abs_min:
        return None  # the test that ends most calls, so first: it needs no z-score
    logs = [math.log1p(v) for v in history]
    centre = _median(logs)
    deviations = [abs(x - centre) for x in logs]
    mad = _median(deviations)
    spread = mad / _MAD_SCALE if mad > 0 else _MEAN_AD_SCALE * statistics.fmean(deviations)
    spread = max(spread, thresholds.outlier_min_spread)
    if spread == 0:
        return None  # a constant history and no floor: no spread to measure against; T01 covers a jump
    z = (math.log1p(value) - centre) / spread
    if abs(z) <= thresholds.outlier_z:
        return None
    span = f"{plain_number(history[0])} to {plain_number(history[-1])}"
    return make_finding(ref, "value-outlier", f"{row_name(ref, indicator, breakdown)}: the cell holds {plain_number(value)}, which lies outside {iso3}'s {len(history)} earlier years ({span}, median {plain_number(typical)}; robust z {z:+.1f}) with no comment. Please confirm and explain it in the Comment column.", value=plain_number(value), **_where(place))


# -- revisions -------------------------------------------------------------------------------------
def is_revision(old_value: float, new_value: float) -> bool:
    """A previous-year number revises the accepted figure: no number was accepted (NaN), or another one.

    Equal up to the 6 decimals the outputs keep (the template pre-fills from observations.csv).
    """
    return math.isnan(old_value) or not math.isclose(old_value, new_value, rel_tol=1e-9, abs_tol=1e-6)


def check_revision(ref: Reference, thresholds: Thresholds, indicator: str, breakdown: str, year: int, old_value: float, old_status: str, new_value: float, comment: str, old_where: str, where: Mapping[str, object]) -> tuple[Finding, float]:
    """R01: the finding for one revised figure of `year`, and its change in % (NaN without an old number or from 0).

    `value-revised-large` (warning) when the change on a figure with a number is above
    `revision_warn_pct` % (any change from 0 is), else `value-revised` (info). `old_where`: the file
    and cell of the accepted figure, "" when there is none.
    """
    shown = row_name(ref, indicator, breakdown)
    if math.isnan(old_value):
        before = {"": "no value was accepted", NOT_AVAILABLE: "it was not available", "not_applicable": "it was not applicable", "confidential": "it was a confidential small count"}.get(old_status, "its value was left out")
        change_pct, large = float("nan"), False
        what = f"{shown}: the previous year value holds {plain_number(new_value)} for {year}, where {before}"
    else:
        change_pct = (new_value - old_value) / old_value * 100 if old_value else float("nan")
        large = old_value == 0 or abs(change_pct) > thresholds.revision_warn_pct
        change = f" ({change_pct:+.1f} %)" if old_value else ""
        what = f"{shown}: the previous year value holds {plain_number(new_value)}, which revises the {year} figure from {plain_number(old_value)} to {plain_number(new_value)}{change}"
    replaces = f"; it replaces the figure accepted from {old_where}" if old_where else f"; it becomes the {year} figure"
    ask = "" if comment.strip() else " Please give the reason for the revision in the Comment column."
    message = f"{what}{replaces}.{ask}"
    if large:
        return make_finding(ref, "value-revised-large", message, value=plain_number(new_value), **where), change_pct
    return make_finding(ref, "value-revised", message, value=plain_number(new_value), **where), change_pct
