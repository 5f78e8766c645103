"""Content and time-series rules on typed observations (part of the validation stage).

Input: observations (`validate.OBSERVATION_COLUMNS`) of one submission, or of all submissions in use
for the time rules, and the `Reference`. Output: `Finding` records, and for errors the observations
to leave out. Thresholds come from `reference/rule_thresholds.csv` so a coordinator can tune them;
the logic is here.

- Breakdowns (V03/V04): a breakdown whose every part is reported sums to its total (error); a
  partly reported one stays at or below the total (error above it). The parts are left out, the
  total (the headline) is kept.
- Justice funnel (V07): convicted ≤ prosecuted ≤ suspected. A warning only: annual flows cover
  different people (a person convicted this year may have been prosecuted last year).
- Change (T01): more than `change_pct` % and more than max(`change_abs_min`, `change_share_of_mean`
  × the mean of the 3 previous years) on the previous year, with no comment and no flag `b`: warning.
- Series dropped (T03): a value reported above 0 last year and not available this year, or above
  `change_abs_min` last year and 0 this year, with no comment: warning;
  a blank cell there is an "unexplained blank" (M02).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.findings import Finding, make_finding
from pipeline.reference import REFERENCE_DIR, TOTAL, Reference

REPORTED = "reported"
NOT_AVAILABLE = "not_available"
# Stages of the justice funnel per crime area: each later stage should not exceed the earlier one.
FUNNEL_SUFFIXES = ("_SUS", "_PRO", "_CON")


@dataclass(frozen=True)
class Thresholds:
    change_pct: float = 50.0
    change_abs_min: float = 10.0
    change_share_of_mean: float = 0.05


def load_thresholds(path: Path = REFERENCE_DIR / "rule_thresholds.csv") -> Thresholds:
    with path.open(encoding="utf-8", newline="") as f:
        values = {row["name"]: float(row["value"]) for row in csv.DictReader(f)}
    return Thresholds(**values)


def _number(obs: pd.DataFrame) -> dict[tuple[str, str], float]:
    reported = obs[obs["status"] == REPORTED]
    return dict(zip(zip(reported["indicator"], reported["breakdown"], strict=True), reported["value"], strict=True))


def check_breakdowns(obs: pd.DataFrame, ref: Reference, file: str) -> tuple[list[Finding], set[tuple[str, str]]]:
    """Breakdown sums against totals; returns the findings and the (indicator, breakdown) parts to leave out."""
    values = _number(obs)
    cells = dict(zip(zip(obs["indicator"], obs["breakdown"], strict=True), obs["cell"], strict=True))
    statuses = dict(zip(zip(obs["indicator"], obs["breakdown"], strict=True), obs["status"], strict=True))
    sheet = obs["sheet"].iloc[0] if len(obs) else ""
    findings: list[Finding] = []
    dropped: set[tuple[str, str]] = set()
    for indicator in ref.indicators:
        total = values.get((indicator.code, TOTAL))
        if total is None:
            continue
        for dim in indicator.dimensions:
            parts = [(indicator.code, f"{dim}={v}") for v, _ in ref.breakdown_values[dim]]
            reported = {p: values[p] for p in parts if p in values}
            if not reported:
                continue
            complete = all(statuses.get(p) == REPORTED for p in parts)
            part_sum = sum(reported.values())
            where = {"file": file, "sheet": sheet, "cell": cells[(indicator.code, TOTAL)], "value": _plain(part_sum)}
            if complete and part_sum != total:
                findings.append(make_finding(ref, "breakdown-sum-mismatch", f"{indicator.code} by {dim}: the parts add up to {_plain(part_sum)}, the total is {_plain(total)}; the parts are not used.", **where))
                dropped.update(reported)
            elif not complete and part_sum > total:
                findings.append(make_finding(ref, "breakdown-exceeds-total", f"{indicator.code} by {dim}: the reported parts add up to {_plain(part_sum)}, more than the total {_plain(total)}; the parts are not used.", **where))
                dropped.update(reported)
    return findings, dropped


def check_funnel(obs: pd.DataFrame, ref: Reference, file: str) -> list[Finding]:
    """Convicted ≤ prosecuted ≤ suspected, for each crime area that has the stages (warning)."""
    values = _number(obs)
    cells = dict(zip(zip(obs["indicator"], obs["breakdown"], strict=True), obs["cell"], strict=True))
    sheet = obs["sheet"].iloc[0] if len(obs) else ""
    findings = []
    for category in ref.categories:
        stages = [f"{category.code}{s}" for s in FUNNEL_SUFFIXES if f"{category.code}{s}" in ref.indicator_by_code]
        present = [(code, values[(code, TOTAL)]) for code in stages if (code, TOTAL) in values]
        for (earlier, before), (later, after) in zip(present, present[1:], strict=False):
            if after > before:
                findings.append(make_finding(ref, "funnel-inverted", f"{later} ({_plain(after)}) is above {earlier} ({_plain(before)}): later stages of the justice process usually count fewer persons. Please confirm or explain in a comment.", file=file, sheet=sheet, cell=cells[(later, TOTAL)], value=_plain(after)))
    return findings


def check_time_series(observations: pd.DataFrame, ref: Reference, thresholds: Thresholds, blank_cells: set[tuple[str, int, str, str]]) -> list[Finding]:
    """T01 large unexplained changes, T03 dropped series and M02 unexplained blanks, on all years.

    `observations` holds every submission in use; `blank_cells` the (country, year, indicator,
    breakdown) whose Value cell was left empty (not `:`), which makes a dropped series an unexplained blank.
    """
    if observations.empty:
        return []
    keys = ["country_iso3", "indicator", "breakdown"]
    frame = observations.sort_values([*keys, "year"], kind="stable")
    by_key = {key: group for key, group in frame.groupby(keys, sort=False)}
    findings = []
    for (iso3, indicator, breakdown), group in by_key.items():
        series = dict(zip(group["year"], zip(group["value"], group["status"], group["flags"], group["comment"], group["cell"], group["source_file"], group["sheet"], strict=True), strict=True))
        for year, (value, status, flags, comment, cell, file, sheet) in series.items():
            last = series.get(year - 1)
            if last is None or last[1] != REPORTED:
                continue
            where = {"file": file, "sheet": sheet, "cell": cell, "country_iso3": iso3, "year": int(year)}
            last_value = last[0]
            # A fall to 0 from a small count (1 to 0 victims in a breakdown) is ordinary; only a fall
            # from more than `change_abs_min` warns, as for changes. A fall to "not available" always does.
            dropped = last_value > 0 and (status == NOT_AVAILABLE or (status == REPORTED and value == 0 and last_value > thresholds.change_abs_min))
            if dropped and (iso3, int(year), indicator, breakdown) in blank_cells:
                findings.append(make_finding(ref, "value-blank-unexplained", f"{indicator} {breakdown} is blank although {_plain(last_value)} was reported for {year - 1}. Enter the value, 0 for a real zero, or : if it is not available.", **where))
            elif dropped and not comment.strip():
                now = "0" if status == REPORTED else "not available"
                findings.append(make_finding(ref, "series-dropped", f"{indicator} {breakdown} is {now} although {_plain(last_value)} was reported for {year - 1}. Please confirm or explain in a comment.", value=now, **where))
            elif not dropped and status == REPORTED and "b" not in flags and not comment.strip():
                window = [series[y][0] for y in range(year - 3, year) if y in series and series[y][1] == REPORTED]
                mean = sum(window) / len(window)
                change = value - last_value
                if last_value and abs(change) / last_value * 100 > thresholds.change_pct and abs(change) > max(thresholds.change_abs_min, thresholds.change_share_of_mean * mean):
                    findings.append(make_finding(ref, "change-unexplained", f"{indicator} {breakdown}: {_plain(value)} against {_plain(last_value)} in {year - 1} ({change / last_value * 100:+.0f} %) with no comment. Please confirm and explain the change in the Comment column.", value=_plain(value), **where))
    return findings


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:.12g}"
