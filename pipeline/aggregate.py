"""Aggregate: observations -> the regional and the national tables.

Input: the observations of the submissions in use (`pipeline.validate.OBSERVATION_COLUMNS`), with
the history from published sources merged under them (`origin`, `source`: see `pipeline.history`),
and the `Reference`. Output: three DataFrames: regional (`REGIONAL_COLUMNS`), national
(`COUNTRY_COLUMNS`) and the coverage matrix (`COVERAGE_COLUMNS`). Pure functions: no I/O.

Conventions (Eurostat and UNODC practice):
- A regional total is the sum over the states that reported a number, always with n of N, where N
  is the number of member states in that year. Nothing is imputed: a gap stays a gap.
- A rate per 100,000 exists only for persons and cases: Σ values / Σ population of the reporting
  states × 100,000, never a mean of national rates. When the population reference has no figure for
  the year, the latest earlier one is used and the rate is flagged `e` (`rate_flags`). A state with no
  population figure at all (finding `population-missing`) is in the total but not in the rate:
  `n_rate` says how many states the rate covers.
- The change on the previous year is given twice: on the raw regional totals (`change_pct`), and over
  the states that reported in both years (`change_pct_same_reporters`), the basis to quote.
- Flags carry over: an aggregate including a provisional value is flagged `p`, an estimated one `e`, etc.
- History values count like submitted ones and keep their source: `n_history` and `history_sources`
  say how many states in a total come from a published source, and which.
- Confidential values (flag C or N) are never shown for their country. A regional total that
  includes one is published only when at least two other states contribute; otherwise it is suppressed
  (total empty, flag `C`). Suppressed small counts (`<5`) have no number and are not in any total.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipeline.reference import TOTAL, PopulationFigure, Reference
from pipeline.validate import CONFIDENTIAL, NOT_AVAILABLE, REPORTED

REGIONAL_COLUMNS = [
    "indicator", "breakdown", "year", "total", "n_reporting", "n_expected", "reporting", "population",
    "rate_per_100k", "n_rate", "change_pct", "n_same_reporters", "change_pct_same_reporters", "flags", "rate_flags",
    "n_history", "history_sources",
]
COUNTRY_COLUMNS = [
    "country_iso3", "indicator", "breakdown", "year", "value", "status", "rate_per_100k", "change_pct",
    "flags", "rate_flags", "population", "population_year", "comment", "origin", "source",
]
COVERAGE_COLUMNS = ["country_iso3", "year", "indicator", "coverage", "origin", "source"]
# What the coverage matrix says of a (state, year, indicator): the observation statuses, or no submission.
NO_SUBMISSION = "no_submission"
ORIGIN_SUBMISSION = "submission"
CONFIDENTIALITY_FLAGS = "CN"
OBSERVATION_FLAG_ORDER = "pebdunmi"
MIN_OTHER_CONTRIBUTORS = 2  # a total with a confidential value needs this many other contributors


def _merge_flags(flag_strings) -> str:
    """Observation flags of the contributors, each once, in a fixed order (confidentiality dropped)."""
    seen = "".join(flag_strings)
    return "".join(code for code in OBSERVATION_FLAG_ORDER if code in seen)


def _population_columns(frame: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    """population, population_year, population_estimated for each (country_iso3, year) row."""
    iso3s, years = frame["country_iso3"].tolist(), frame["year"].tolist()
    known: dict[tuple[str, int], PopulationFigure | None] = {}  # a figure per country and year, not per row
    figures = [known[key] if key in known else known.setdefault(key, ref.population_for(*key)) for key in zip(iso3s, map(int, years), strict=True)]
    return pd.DataFrame(
        {
            "population": [f.population if f else math.nan for f in figures],
            "population_year": [f.year if f else pd.NA for f in figures],
            "population_estimated": [bool(f and f.is_estimated) for f in figures],
        },
        index=frame.index,
    )


def _with_origin(observations: pd.DataFrame) -> pd.DataFrame:
    """Observations with `origin` and `source` (submissions alone have neither: origin submission, no source)."""
    obs = observations.copy()
    if "origin" not in obs:
        obs["origin"] = ORIGIN_SUBMISSION
    if "source" not in obs:
        obs["source"] = ""
    obs["source"] = obs["source"].fillna("")
    return obs


def _takes_rate(indicators: pd.Series, ref: Reference) -> pd.Series:
    codes = indicators.tolist()
    takes_rate = {code: ref.indicator_by_code[code].takes_rate for code in set(codes)}  # an unknown code raises KeyError
    return pd.Series([takes_rate[code] for code in codes], index=indicators.index, dtype=bool)


def build_country_table(observations: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    """One row per observation: the published value, rate and change, flags, status."""
    if observations.empty:
        return pd.DataFrame(columns=COUNTRY_COLUMNS)
    obs = _with_origin(observations)
    obs = pd.concat([obs, _population_columns(obs, ref)], axis=1)
    published = obs["status"] == REPORTED
    obs["value"] = obs["value"].where(published)  # confidential numbers never leave as a country value
    takes_rate = _takes_rate(obs["indicator"], ref)
    obs["rate_per_100k"] = (obs["value"] / obs["population"] * 100_000).where(published & takes_rate)
    obs["rate_flags"] = ["e" if est and has_rate else "" for est, has_rate in zip(obs["population_estimated"].tolist(), obs["rate_per_100k"].notna().tolist(), strict=True)]
    obs.loc[obs["rate_per_100k"].isna(), ["population", "population_year"]] = [math.nan, pd.NA]

    previous = obs[["country_iso3", "indicator", "breakdown", "year", "value"]].copy()
    previous["year"] = previous["year"] + 1
    previous = previous.rename(columns={"value": "previous_value"})
    obs = obs.merge(previous, on=["country_iso3", "indicator", "breakdown", "year"], how="left")
    obs["change_pct"] = _change_pct(obs["value"], obs["previous_value"])
    obs["population_year"] = obs["population_year"].astype("Int64")
    return obs[COUNTRY_COLUMNS].sort_values(["indicator", "breakdown", "year", "country_iso3"], kind="stable").reset_index(drop=True)


def _change_pct(current: pd.Series, previous: pd.Series) -> pd.Series:
    """Percentage change; empty when either side is missing or the previous value is 0."""
    valid = current.notna() & previous.notna() & (previous != 0)
    return ((current - previous) / previous * 100).where(valid)


def build_regional_table(observations: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    """One row per (indicator, breakdown, year) found in the observations."""
    if observations.empty:
        return pd.DataFrame(columns=REGIONAL_COLUMNS)
    obs = _with_origin(observations)
    obs = pd.concat([obs, _population_columns(obs, ref)], axis=1)
    # Contributors: reported numbers, and confidential values that carry a number (flag C/N);
    # suppressed small counts (<5) have no number and contribute nothing.
    obs["contributes"] = obs["status"].isin([REPORTED, CONFIDENTIAL]) & obs["value"].notna()
    obs["is_confidential"] = obs["contributes"] & (obs["status"] == CONFIDENTIAL)

    rows = []
    contributions: dict[tuple[str, str, int], dict[str, float]] = {}
    # The groups of groupby(sort=True), each in its original row order, walked over numpy arrays: a
    # pandas frame per group cost ~1 ms each. Sums are numpy sums of the same values in the same
    # order as Series.sum(), so every figure is the same to the last bit.
    codes = obs.groupby(["indicator", "breakdown", "year"], sort=True).ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    starts = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist(), len(codes)]
    column = {name: obs[name].to_numpy()[order] for name in ("indicator", "breakdown", "year", "country_iso3", "flags", "origin", "source")}
    contributes = obs["contributes"].to_numpy(dtype=bool)[order]
    is_confidential = obs["is_confidential"].to_numpy(dtype=bool)[order]
    value = obs["value"].to_numpy(dtype="float64")[order]
    population_of = obs["population"].to_numpy(dtype="float64")[order]
    estimated = obs["population_estimated"].to_numpy(dtype=bool)[order]
    for a, b in zip(starts[:-1], starts[1:], strict=True):
        if a == b:
            continue
        indicator, breakdown, year = column["indicator"][a], column["breakdown"][a], int(column["year"][a])
        takes_rate = ref.indicator_by_code[indicator].takes_rate
        contrib = a + np.flatnonzero(contributes[a:b])
        contrib_values = value[contrib]
        values = dict(zip(column["country_iso3"][contrib].tolist(), contrib_values.tolist(), strict=True))
        contributions[(indicator, breakdown, year)] = values
        n = len(contrib)
        suppressed = bool(is_confidential[contrib].any()) and n - 1 < MIN_OTHER_CONTRIBUTORS
        total = math.nan if n == 0 or suppressed else float(contrib_values.sum())
        population = rate = math.nan
        rate_flags = ""
        with_population = contrib[~np.isnan(population_of[contrib])]
        if takes_rate and not math.isnan(total) and len(with_population):
            population = float(population_of[with_population].sum())
            rate = float(value[with_population].sum()) / population * 100_000
            rate_flags = "e" if estimated[with_population].any() else ""
        flags = _merge_flags(column["flags"][contrib].tolist()) + ("C" if suppressed else "")
        from_history = contrib[column["origin"][contrib] != ORIGIN_SUBMISSION]
        rows.append(
            {
                "indicator": indicator,
                "breakdown": breakdown,
                "year": year,
                "total": total,
                "n_reporting": n,
                "n_expected": len(ref.members_in(year)),
                "reporting": ";".join(sorted(values)),
                "population": population,
                "rate_per_100k": rate,
                "n_rate": len(with_population) if not math.isnan(rate) else 0,
                "flags": flags,
                "rate_flags": rate_flags,
                "n_history": len(from_history),
                "history_sources": ";".join(sorted(set(column["source"][from_history].tolist()))),
            }
        )
    regional = pd.DataFrame(rows)
    regional_rows = list(regional.itertuples(index=False))
    totals = {(r.indicator, r.breakdown, r.year): r.total for r in regional_rows}
    changes = [_changes(contributions, totals, row) for row in regional_rows]
    regional["change_pct"] = [c[0] for c in changes]
    regional["n_same_reporters"] = [c[1] for c in changes]
    regional["change_pct_same_reporters"] = [c[2] for c in changes]
    return regional[REGIONAL_COLUMNS].reset_index(drop=True)


def build_coverage(observations: pd.DataFrame, ref: Reference, years: list[int]) -> pd.DataFrame:
    """Who reported what: one row per (member state of the year, year, indicator) for each of `years`.

    `coverage` is the status of the state's total for the indicator (reported, confidential,
    not_available, not_applicable, rejected), or `no_submission` when the state sent nothing for that
    year (and no published figure stands in); `origin` says whether the figure is the state's own
    submission or history, and `source` names the published source. A state that submitted but has
    no row for the indicator (an older template) is not_available.
    """
    obs = _with_origin(observations)
    totals = obs[obs["breakdown"] == TOTAL]
    by_key = {
        (row.country_iso3, int(row.year), row.indicator): (row.status, row.origin, row.source)
        for row in totals[["country_iso3", "year", "indicator", "status", "origin", "source"]].itertuples(index=False)
    }
    submitted = set(zip(obs.loc[obs["origin"] == ORIGIN_SUBMISSION, "country_iso3"], obs.loc[obs["origin"] == ORIGIN_SUBMISSION, "year"].astype(int), strict=True))
    rows = []
    for year in sorted(years):
        for iso3 in ref.members_in(year):
            for indicator in ref.indicators:
                status, origin, source = by_key.get((iso3, year, indicator.code), (None, "", ""))
                if status is None:
                    status = NOT_AVAILABLE if (iso3, year) in submitted else NO_SUBMISSION
                    origin = ORIGIN_SUBMISSION if (iso3, year) in submitted else ""
                rows.append({"country_iso3": iso3, "year": year, "indicator": indicator.code, "coverage": status, "origin": origin, "source": source})
    frame = pd.DataFrame(rows, columns=COVERAGE_COLUMNS)
    frame["year"] = frame["year"].astype("int64")
    return frame


def _changes(contributions, totals, row) -> tuple[float, int, float]:
    """(raw change %, number of states in both years, change % over those states).

    Nothing is computed against a suppressed (or empty) total, so a change never discloses it.
    """
    key_before = (row.indicator, row.breakdown, row.year - 1)
    previous_total = totals.get(key_before, math.nan)
    if math.isnan(row.total) or math.isnan(previous_total):
        return math.nan, 0, math.nan
    previous = contributions[key_before]
    current = contributions[(row.indicator, row.breakdown, row.year)]
    raw = (row.total - previous_total) / previous_total * 100 if previous_total else math.nan
    same = sorted(set(current) & set(previous))
    before = sum(previous[c] for c in same)
    after = sum(current[c] for c in same)
    same_change = (after - before) / before * 100 if same and before else math.nan
    return raw, len(same), same_change
