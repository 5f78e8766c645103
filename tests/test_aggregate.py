"""Aggregation: regional totals over reporters with n of N, rates Σ/Σ, changes, flags, confidentiality."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.aggregate import build_country_table, build_coverage, build_regional_table
from pipeline.validate import OBSERVATION_COLUMNS

STATES = ["ALB", "ARM", "BGR", "GEO", "GRC", "ROU"]


def obs(rows):
    """Observations from (country, year, indicator, value[, status[, flags]]) tuples; breakdown TOTAL."""
    records = []
    for row in rows:
        country, year, indicator, value, *rest = row
        status = rest[0] if rest else ("reported" if value is not None else "not_available")
        flags = rest[1] if len(rest) > 1 else ""
        records.append(dict(zip(OBSERVATION_COLUMNS, [country, year, indicator, "TOTAL", value, status, flags, "", f"{country}.xlsx", "Data", "E2"], strict=True)))
    frame = pd.DataFrame(records, columns=OBSERVATION_COLUMNS)
    frame["value"] = frame["value"].astype("float64")
    return frame


def one(regional, indicator, year):
    return regional.query("indicator == @indicator and year == @year").iloc[0]


def test_regional_total_counts_only_reporters_with_n_of_n(ref):
    regional = build_regional_table(obs([("GEO", 2024, "TIP_VIC", 10), ("ROU", 2024, "TIP_VIC", 600), ("ALB", 2024, "TIP_VIC", None)]), ref)
    row = one(regional, "TIP_VIC", 2024)
    assert (row.total, row.n_reporting, row.n_expected, row.reporting) == (610, 2, 13, "GEO;ROU")


def test_membership_sets_n(ref):
    regional = build_regional_table(obs([("GEO", 2019, "TIP_VIC", 1), ("GEO", 2020, "TIP_VIC", 1)]), ref)
    assert one(regional, "TIP_VIC", 2019).n_expected == 12 and one(regional, "TIP_VIC", 2020).n_expected == 13


def test_rate_is_sum_of_values_over_sum_of_population_never_mean_of_rates(ref):
    regional = build_regional_table(obs([("GEO", 2020, "TIP_VIC", 10), ("ROU", 2020, "TIP_VIC", 600)]), ref)
    population = ref.population[("GEO", 2020)] + ref.population[("ROU", 2020)]
    row = one(regional, "TIP_VIC", 2020)
    assert row.population == population
    assert row.rate_per_100k == pytest.approx(610 / population * 100_000)
    mean_of_rates = (10 / ref.population[("GEO", 2020)] + 600 / ref.population[("ROU", 2020)]) / 2 * 100_000
    assert row.rate_per_100k != pytest.approx(mean_of_rates)


def test_a_state_without_population_is_in_the_total_but_not_in_the_rate(ref):
    # P01: no population figure for GEO at all (as for a year before the reference series starts).
    without_geo = dataclasses.replace(ref, population={k: v for k, v in ref.population.items() if k[0] != "GEO"})
    regional = build_regional_table(obs([("GEO", 2020, "TIP_VIC", 10), ("ROU", 2020, "TIP_VIC", 600)]), without_geo)
    row = one(regional, "TIP_VIC", 2020)
    assert (row.total, row.n_reporting, row.n_rate) == (610, 2, 1)
    assert row.rate_per_100k == pytest.approx(600 / ref.population[("ROU", 2020)] * 100_000)


def test_no_rate_for_kg_items_or_eur(ref):
    regional = build_regional_table(obs([("GEO", 2020, "DRG_SZ_HER", 12.5), ("GEO", 2020, "FA_SZ", 40), ("GEO", 2020, "ML_FRZ", 1e6)]), ref)
    assert regional["rate_per_100k"].isna().all() and regional["population"].isna().all()


def test_population_of_a_later_year_falls_back_to_latest_and_is_flagged(ref):
    latest = max(y for (c, y) in ref.population if c == "GEO")
    regional = build_regional_table(obs([("GEO", latest + 1, "TIP_VIC", 10)]), ref)
    row = one(regional, "TIP_VIC", latest + 1)
    assert row.rate_flags == "e" and row.population == ref.population[("GEO", latest)]
    country = build_country_table(obs([("GEO", latest + 1, "TIP_VIC", 10)]), ref)
    assert country.iloc[0].rate_flags == "e" and country.iloc[0].population_year == latest


def test_change_on_previous_year_raw_and_same_reporters(ref):
    regional = build_regional_table(
        obs([("GEO", 2023, "TIP_VIC", 10), ("ROU", 2023, "TIP_VIC", 100), ("GEO", 2024, "TIP_VIC", 20), ("ROU", 2024, "TIP_VIC", 100), ("BGR", 2024, "TIP_VIC", 300)]),
        ref,
    )
    row = one(regional, "TIP_VIC", 2024)
    assert row.change_pct == pytest.approx((420 - 110) / 110 * 100)  # coverage grew: raw change misleads
    assert row.n_same_reporters == 2
    assert row.change_pct_same_reporters == pytest.approx((120 - 110) / 110 * 100)


def test_flags_carry_over_to_the_aggregate(ref):
    regional = build_regional_table(obs([("GEO", 2024, "TIP_VIC", 10, "reported", "p"), ("ROU", 2024, "TIP_VIC", 20, "reported", "be"), ("BGR", 2024, "TIP_VIC", 5)]), ref)
    assert one(regional, "TIP_VIC", 2024)["flags"] == "peb"


def test_confidential_value_hidden_for_its_country_and_total_suppressed_without_two_others(ref):
    few = obs([("GEO", 2024, "TIP_VIC", 3, "confidential", "C"), ("ROU", 2024, "TIP_VIC", 600)])
    row = one(build_regional_table(few, ref), "TIP_VIC", 2024)
    assert math.isnan(row.total) and "C" in row["flags"]
    country = build_country_table(few, ref).set_index("country_iso3")
    assert math.isnan(country.loc["GEO", "value"]) and country.loc["GEO", "status"] == "confidential"

    enough = obs([("GEO", 2024, "TIP_VIC", 3, "confidential", "C"), ("ROU", 2024, "TIP_VIC", 600), ("BGR", 2024, "TIP_VIC", 400)])
    assert one(build_regional_table(enough, ref), "TIP_VIC", 2024).total == 1003


def test_suppressed_small_count_is_in_no_total(ref):
    regional = build_regional_table(obs([("GEO", 2024, "TIP_VIC", None, "confidential"), ("ROU", 2024, "TIP_VIC", 600)]), ref)
    row = one(regional, "TIP_VIC", 2024)
    assert (row.total, row.n_reporting) == (600, 1)


def test_country_rate_and_change(ref):
    country = build_country_table(obs([("GEO", 2023, "TIP_VIC", 10), ("GEO", 2024, "TIP_VIC", 15), ("GEO", 2024, "TIP_OFF", 0)]), ref).set_index(["indicator", "year"])
    assert country.loc[("TIP_VIC", 2024), "rate_per_100k"] == pytest.approx(15 / ref.population[("GEO", 2024)] * 100_000)
    assert country.loc[("TIP_VIC", 2024), "change_pct"] == pytest.approx(50.0)
    assert country.loc[("TIP_OFF", 2024), "value"] == 0 and country.loc[("TIP_OFF", 2024), "rate_per_100k"] == 0


def test_history_values_count_and_keep_their_source(ref):
    frame = obs([("GEO", 2020, "TIP_VIC", 10), ("ROU", 2020, "TIP_VIC", 600), ("BGR", 2020, "TIP_VIC", 90)])
    frame["origin"] = ["submission", "history", "history"]
    frame["source"] = ["", "UNODC GLOTIP", "Eurostat crim_off_cat"]
    row = one(build_regional_table(frame, ref), "TIP_VIC", 2020)
    assert (row.total, row.n_reporting, row.n_history, row.history_sources) == (700, 3, 2, "Eurostat crim_off_cat;UNODC GLOTIP")
    country = build_country_table(frame, ref).set_index("country_iso3")
    assert (country.loc["ROU", "origin"], country.loc["ROU", "source"]) == ("history", "UNODC GLOTIP")
    assert (country.loc["GEO", "origin"], country.loc["GEO", "source"]) == ("submission", "")


def test_coverage_matrix_names_every_member_state_and_indicator(ref):
    frame = obs([("GEO", 2020, "TIP_VIC", 10), ("GEO", 2020, "TIP_OFF", None), ("GEO", 2020, "TIP_PRO", None, "confidential", "C"),
                 ("ROU", 2020, "TIP_VIC", 600)])
    frame["origin"] = ["submission", "submission", "submission", "history"]
    frame["source"] = ["", "", "", "UNODC GLOTIP"]
    coverage = build_coverage(frame, ref, [2019, 2020]).set_index(["country_iso3", "year", "indicator"])
    assert len(coverage) == (12 + 13) * len(ref.indicators)  # MKD is a member from 2020
    assert coverage.loc[("GEO", 2020, "TIP_VIC"), "coverage"] == "reported"
    assert coverage.loc[("GEO", 2020, "TIP_OFF"), "coverage"] == "not_available"
    assert coverage.loc[("GEO", 2020, "TIP_PRO"), "coverage"] == "confidential"
    assert coverage.loc[("GEO", 2020, "CYB_OFF"), "coverage"] == "not_available"  # submitted, no row
    assert tuple(coverage.loc[("ROU", 2020, "TIP_VIC")]) == ("reported", "history", "UNODC GLOTIP")
    assert coverage.loc[("ROU", 2020, "TIP_OFF"), "coverage"] == "no_submission"  # history is not a submission
    assert coverage.loc[("ALB", 2019, "TIP_VIC"), "coverage"] == "no_submission"


# -- properties ------------------------------------------------------------------------------------
values = st.one_of(st.none(), st.integers(min_value=0, max_value=100_000))
submissions = st.dictionaries(st.sampled_from(STATES), st.tuples(values, values), min_size=1)


def _frame(data):
    return obs([(c, 2020 + i, "TIP_VIC", v) for c, pair in data.items() for i, v in enumerate(pair)])


@settings(max_examples=60, deadline=None)
@given(submissions)
def test_total_is_the_sum_of_reporters_and_rate_is_sum_over_population(ref, data):
    regional = build_regional_table(_frame(data), ref)
    for i, year in enumerate((2020, 2021)):
        reporters = {c: pair[i] for c, pair in data.items() if pair[i] is not None}
        row = one(regional, "TIP_VIC", year)
        assert row.n_reporting == len(reporters)
        if reporters:
            assert row.total == sum(reporters.values())
            population = sum(ref.population[(c, year)] for c in reporters)
            assert row.rate_per_100k == pytest.approx(sum(reporters.values()) / population * 100_000)
        else:
            assert math.isnan(row.total)


@settings(max_examples=40, deadline=None)
@given(submissions, st.randoms(use_true_random=False))
def test_row_order_never_matters(ref, data, rnd):
    frame = _frame(data)
    shuffled = frame.sample(frac=1, random_state=rnd.randint(0, 10_000)).reset_index(drop=True)
    pd.testing.assert_frame_equal(build_regional_table(frame, ref), build_regional_table(shuffled, ref))
    pd.testing.assert_frame_equal(build_country_table(frame, ref), build_country_table(shuffled, ref))


@settings(max_examples=40, deadline=None)
@given(submissions, st.sampled_from(STATES))
def test_a_state_that_reported_nothing_changes_nothing(ref, data, silent):
    data = {c: pair for c, pair in data.items() if c != silent}
    if not data:
        return
    with_silent = {**data, silent: (None, None)}
    before = build_regional_table(_frame(data), ref)
    after = build_regional_table(_frame(with_silent), ref)
    pd.testing.assert_frame_equal(before, after)
