"""Tests for pipeline.charts: files, determinism, gaps stay gaps, missing is never a zero bar.

The frames are hand-made (4 states, 3 indicators, 3 years); charts are checked through what the
Figure holds (its Axes' lines, bars, titles, labels, tick labels, legend and texts), never pixels.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import pandas as pd
import pytest
from matplotlib.text import Text
from PIL import Image

from pipeline import charts
from pipeline.charts import (
    draw_national_chart,
    draw_profile_chart,
    draw_trend_chart,
    national_chart_data,
    profile_chart_data,
    render_charts,
    trend_chart_data,
)
from pipeline.reference import load_reference

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAN = math.nan
YEAR = 2024


@pytest.fixture(scope="module")
def ref():
    return load_reference()


def regional_row(indicator, year, total, n_reporting, flags=""):
    """One regional TOTAL row; columns the charts do not read get plausible filler."""
    return {
        "indicator": indicator, "breakdown": "TOTAL", "year": year, "total": total,
        "n_reporting": n_reporting, "n_expected": 13, "reporting": "", "population": NAN,
        "rate_per_100k": NAN, "change_pct": NAN, "n_same_reporters": 0,
        "change_pct_same_reporters": NAN, "flags": flags,
    }


@pytest.fixture
def regional():
    return pd.DataFrame([
        # TIP headline: 2023 has no regional total (nobody reported) -> a gap, not a zero.
        regional_row("TIP_VIC", 2022, 1100.0, 3),
        regional_row("TIP_VIC", 2023, NAN, 0),
        regional_row("TIP_VIC", 2024, 1234.0, 2, "p"),
        # A breakdown row must not leak into the TOTAL line.
        {**regional_row("TIP_VIC", 2023, 999.0, 2), "breakdown": "SEX=F"},
        # FA headline: no row at all for 2023 -> also a gap; 2024 is a real zero.
        regional_row("FA_SZ", 2022, 50.0, 4),
        regional_row("FA_SZ", 2024, 0.0, 4),
        # DRG headline present but never with a figure -> no chart.
        regional_row("DRG_OFF", 2022, NAN, 0),
        regional_row("DRG_OFF", 2023, NAN, 0),
        regional_row("DRG_OFF", 2024, NAN, 0),
    ])


def country_row(iso3, indicator, value, status, rate=NAN, flags=""):
    return {
        "country_iso3": iso3, "indicator": indicator, "breakdown": "TOTAL", "year": YEAR, "value": value,
        "status": status, "rate_per_100k": rate, "change_pct": NAN, "flags": flags, "comment": "",
    }


@pytest.fixture
def country():
    return pd.DataFrame([
        country_row("ARM", "TIP_VIC", 1000.0, "reported", rate=1000 / 3_000_000 * 100_000),
        country_row("GEO", "TIP_VIC", 234.0, "reported", rate=234 / 4_000_000 * 100_000, flags="p"),
        country_row("MDA", "TIP_VIC", 3.0, "confidential", rate=3 / 2_500_000 * 100_000, flags="C"),
        country_row("UKR", "TIP_VIC", NAN, "not_available"),
        country_row("ARM", "FA_SZ", 0.0, "reported"),  # a real zero
        country_row("GEO", "FA_SZ", NAN, "not_applicable"),
        country_row("MDA", "FA_SZ", NAN, "rejected"),
        country_row("UKR", "FA_SZ", 17.0, "reported"),
        # DRG: only a not-available row -> no national chart.
        country_row("ARM", "DRG_OFF", NAN, "not_available"),
    ])


def category(ref, code):
    return ref.category_by_code[code]


def by_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def the_line(ax, gid="values"):
    line, = by_gid(ax.get_lines(), gid)
    return line


def texts(ax, *gids):
    """The annotations of an Axes with these gids (point labels, notes, bar labels, reasons), in order."""
    return [t.get_text() for t in ax.texts if t.get_gid() in gids]


def tick_labels(labels):
    return [t.get_text() for t in labels]


def drawn_ticks(axis):
    """The tick labels an axis shows: those of its ticks inside the view limits (the locator may give more)."""
    low, high = sorted(axis.get_view_interval())
    slack = (high - low) * 1e-9
    return [label for loc, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=True)
            if low - slack <= loc <= high + slack]


def png_bytes(paths):
    return {key: path.read_bytes() for key, path in paths.items()}


# -- files -----------------------------------------------------------------------------------------
def test_render_charts_writes_pngs_only_for_categories_with_data(tmp_path, ref, regional, country):
    paths = render_charts(regional, country, ref, YEAR, tmp_path)

    # Profiles: the states with a figure to draw (ARM 1,000 and a real 0, GEO 234, UKR 17); MDA has
    # only a confidential and a rejected value, the other states nothing.
    assert set(paths) == {"trend_TIP", "national_TIP", "trend_FA", "national_FA",
                          "profile_ARM", "profile_GEO", "profile_UKR"}
    for key, path in paths.items():
        assert path == tmp_path / f"{key}.png"
        assert path.read_bytes()[:8] == PNG_MAGIC
    # Nothing else left behind (no temp files, no empty charts for DRG/SOM/...).
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{k}.png" for k in paths)


def test_charts_are_a4_text_width_at_200_dpi(tmp_path, ref, regional, country):
    paths = render_charts(regional, country, ref, YEAR, tmp_path)
    with Image.open(paths["trend_TIP"]) as image:
        # 160 mm at 200 dpi = 1259.8 px; Agg truncates to whole pixels.
        assert abs(image.size[0] - 160 / 25.4 * 200) < 1
        assert image.info["dpi"][0] == pytest.approx(200, abs=0.5)
        assert "Software" not in image.info  # no metadata that changes with the library


def test_each_chart_is_drawn_at_its_height_and_a_national_chart_grows_with_its_bars(tmp_path, ref, regional, country):
    jobs = charts.chart_jobs(regional, country, ref, YEAR, tmp_path)
    paths = charts.start_charts(regional, country, ref, YEAR, tmp_path).wait()
    assert {path.stem.split("_")[0] for path in paths.values()} == {"trend", "national", "profile"}
    for key, path in paths.items():
        with Image.open(path) as image:
            assert abs(image.size[1] - jobs[key].height_mm / 25.4 * 200) < 1, path.name
    national = next(job for job in jobs.values() if job.kind == "national")
    one_more = dataclasses.replace(national.data, bars=(*national.data.bars, national.data.bars[0]))
    assert charts.ChartJob("national", one_more, Path()).height_mm > national.height_mm


def test_two_renders_give_identical_bytes(tmp_path, ref, regional, country):
    first = render_charts(regional, country, ref, YEAR, tmp_path / "a")
    second = render_charts(regional, country, ref, YEAR, tmp_path / "b")
    assert first.keys() == second.keys()
    for key in first:
        assert first[key].read_bytes() == second[key].read_bytes(), key


def test_process_pool_gives_the_same_files_as_serial(tmp_path, ref, regional, country, monkeypatch):
    serial = render_charts(regional, country, ref, YEAR, tmp_path / "serial")
    monkeypatch.setattr(charts, "PARALLEL_CHART_THRESHOLD", 0)
    pooled = render_charts(regional, country, ref, YEAR, tmp_path / "pooled")
    assert png_bytes(serial) == png_bytes(pooled)


def test_drawing_leaves_global_rcparams_alone_and_ignores_them(tmp_path, ref, regional, country):
    plain = render_charts(regional, country, ref, YEAR, tmp_path / "plain")
    before = dict(matplotlib.rcParams)
    with matplotlib.rc_context({"font.size": 20, "lines.linewidth": 5, "axes.facecolor": "red"}):
        styled = render_charts(regional, country, ref, YEAR, tmp_path / "styled")
    assert dict(matplotlib.rcParams) == before
    assert png_bytes(plain) == png_bytes(styled)


# -- trend: gaps stay gaps ------------------------------------------------------------------------
def test_nan_total_is_a_gap_in_the_line(ref, regional):
    fig = draw_trend_chart(trend_chart_data(regional, ref, category(ref, "TIP")))
    ax, = fig.axes
    line = the_line(ax)
    assert list(line.get_xdata()) == [2022, 2023, 2024]
    y = list(line.get_ydata())
    assert y[0] == 1100.0 and y[2] == 1234.0
    assert math.isnan(y[1])  # not interpolated, not zero, and not the SEX=F 999


def test_year_without_a_row_is_a_gap_and_zero_is_zero(ref, regional):
    fig = draw_trend_chart(trend_chart_data(regional, ref, category(ref, "FA")))
    ax, = fig.axes
    y = list(the_line(ax).get_ydata())
    assert math.isnan(y[1])
    assert y[2] == 0.0  # a real zero is plotted as zero
    assert texts(ax, "note") == ["no data\n0/13"]  # no row: every member state of the year expected


def test_years_no_state_reported_at_all_are_gaps_with_their_ticks(ref):
    """Published history up to 2021 and submissions from 2024: 2022 and 2023 have no regional row for
    any indicator, and the line must not be drawn straight from 2021 to 2024."""
    regional = pd.DataFrame([regional_row("TIP_VIC", 2020, 900.0, 6), {**regional_row("TIP_VIC", 2021, 950.0, 6), "n_same_reporters": 6},
                             regional_row("TIP_VIC", 2024, 80.0, 3), {**regional_row("TIP_VIC", 2025, 90.0, 3), "n_same_reporters": 3}])
    data = trend_chart_data(regional, ref, category(ref, "TIP"), year=2025)
    assert data.years == (2020, 2021, 2022, 2023, 2024, 2025)
    fig = draw_trend_chart(data)
    ax, = fig.axes
    y = list(the_line(ax).get_ydata())
    assert y[:2] == [900.0, 950.0] and y[4:] == [80.0, 90.0]
    assert math.isnan(y[2]) and math.isnan(y[3])
    assert tick_labels(drawn_ticks(ax.xaxis)) == ["2020", "2021", "2022", "2023", "2024", "2025"]
    assert texts(ax, "note") == ["no data\n0/13", "no data\n0/13"]


def test_a_change_of_states_or_of_source_between_two_years_is_a_break_not_a_line(ref):
    """2020-2021: the same six states from published data (joined); 2022: three states that submitted,
    only one of them among 2021's six (a break); 2023: the same three (joined); 2024: the same three,
    but most of them now from published data again (a break)."""
    rows = [
        {**regional_row("DRG_OFF", 2020, 40000.0, 6), "n_same_reporters": 6, "n_history": 6},
        {**regional_row("DRG_OFF", 2021, 41000.0, 6), "n_same_reporters": 6, "n_history": 6},
        {**regional_row("DRG_OFF", 2022, 1100.0, 3), "n_same_reporters": 1, "n_history": 0},
        {**regional_row("DRG_OFF", 2023, 1200.0, 3), "n_same_reporters": 3, "n_history": 0},
        {**regional_row("DRG_OFF", 2024, 1300.0, 3), "n_same_reporters": 3, "n_history": 2},
    ]
    data = trend_chart_data(pd.DataFrame(rows), ref, category(ref, "DRG"), year=2024)
    assert data.breaks == (False, False, True, False, True)
    ax, = draw_trend_chart(data).axes
    line = the_line(ax)
    assert list(line.get_xdata()) == [2020, 2021, 2021.5, 2022, 2023, 2023.5, 2024]
    assert [math.isnan(y) for y in line.get_ydata()] == [False, False, True, False, False, True, False]
    assert [artist.get_xdata()[0] for artist in ax.get_lines() if artist.get_gid() == "break"] == [2021.5, 2023.5]
    assert "break in series: other states or another source" in tick_labels(ax.get_legend().get_texts())


def test_without_the_reporters_columns_nothing_is_called_a_break():
    assert not charts.is_series_break(SimpleNamespace(n_reporting=6), SimpleNamespace(n_reporting=3))


def test_trend_chart_titles_labels_and_legend(ref, regional):
    fig = draw_trend_chart(trend_chart_data(regional, ref, category(ref, "TIP")))
    ax, = fig.axes
    assert texts(ax, "label") == ["3/13", "2/13 p"]
    assert texts(ax, "note") == ["no data\n0/13"]
    # 3/13 and 2/13 are below the coverage threshold: hollow markers, named in the legend.
    hollow = the_line(ax, "low_coverage")
    assert list(hollow.get_xdata()) == [2022, 2024] and list(hollow.get_ydata()) == [1100.0, 1234.0]
    assert hollow.get_markerfacecolor() == "white"
    assert tick_labels(ax.get_legend().get_texts()) == ["fewer than 50% of member states reported"]
    assert tick_labels(drawn_ticks(ax.xaxis)) == ["2022", "2023", "2024"]
    assert tick_labels(drawn_ticks(ax.yaxis)) == ["0", "400", "800", "1,200", "1,600"]
    assert ax.get_ylabel() == "Persons"
    assert ax.get_xlabel() == "Year (labels: member states reporting / member states)"
    assert ax.get_title(loc="left") == "Identified victims of trafficking in persons: regional total, 2022–2024"
    assert [t.get_text() for t in fig.texts] == ["Source: BSEC member-state submissions; population: World Bank"]


def test_a_confidential_regional_total_is_named_at_its_gap(ref):
    regional = pd.DataFrame([regional_row("TIP_VIC", 2022, 1100.0, 12), regional_row("TIP_VIC", 2023, NAN, 12, "C"),
                             regional_row("TIP_VIC", 2024, 1234.0, 13)])
    ax, = draw_trend_chart(trend_chart_data(regional, ref, category(ref, "TIP"))).axes
    assert texts(ax, "note") == ["confidential\n12/13"]
    assert by_gid(ax.get_lines(), "low_coverage") == [] and ax.get_legend() is None  # good coverage: no legend


def test_trend_shows_the_last_ten_years_from_the_first_with_data_and_names_history(ref):
    rows = [regional_row("TIP_VIC", y, float(100 + y - 2003), 3) for y in range(2003, 2026)]
    rows += [regional_row("FA_SZ", y, NAN, 0) for y in range(2016, 2019)] + [regional_row("FA_SZ", y, 5.0, 1) for y in range(2019, 2026)]
    rows[5] = {**rows[5], "history_sources": "UNODC GLOTIP (data_glotip.xlsx, 30/05/2023)"}  # 2008: outside the window
    rows[20] = {**rows[20], "history_sources": "Eurostat crim_off_cat"}  # 2023
    regional = pd.DataFrame(rows)
    tip = trend_chart_data(regional, ref, category(ref, "TIP"), year=2025)
    assert tip.years == tuple(range(2016, 2026))
    assert tip.source_line.endswith("; published data: Eurostat crim_off_cat")
    assert "2016–2025" in tip.title
    assert trend_chart_data(regional, ref, category(ref, "FA"), year=2025).years == tuple(range(2019, 2026))
    assert trend_chart_data(regional, ref, category(ref, "TIP"), year=2010).years == tuple(range(2003, 2011))


def test_category_without_any_total_has_no_trend_data(ref, regional):
    assert trend_chart_data(regional, ref, category(ref, "DRG")) is None
    assert trend_chart_data(regional, ref, category(ref, "SOM")) is None


# -- national: missing is named, never a zero bar ----------------------------------------------
def test_national_chart_draws_bars_only_for_figures(ref, country):
    fig = draw_national_chart(national_chart_data(country, ref, category(ref, "TIP"), YEAR))
    ax, = fig.axes
    names = tick_labels(drawn_ticks(ax.yaxis))

    # Rates, largest first: Armenia 33.3, Georgia 5.85.
    assert [patch.get_width() for patch in ax.patches] == pytest.approx([1000 / 30, 234 / 40])
    assert [patch.get_y() + patch.get_height() / 2 for patch in ax.patches] == [0, 1]  # the first two rows
    assert names[:2] == ["Armenia", "Georgia"]
    assert len(names) == 13  # every member state is listed
    assert texts(ax, "value") == ["33.3", "5.9 p"]
    # The confidential number (3, or its rate 0.1) is nowhere.
    assert sorted(texts(ax, "reason")) == sorted(["confidential (C)"] + ["not available"] * 10)
    assert ax.get_xlabel() == "Rate per 100,000 inhabitants"
    assert tick_labels(drawn_ticks(ax.xaxis)) == ["0", "8", "16", "24", "32"]
    assert ax.get_ylabel() == ""  # the state names label the rows
    assert ax.get_title(loc="left") == "Identified victims of trafficking in persons, rate per 100,000 inhabitants, 2024"


def test_national_chart_shows_real_zero_as_a_bar_and_unit_without_rate(ref, country):
    ax, = draw_national_chart(national_chart_data(country, ref, category(ref, "FA"), YEAR)).axes
    assert sorted(patch.get_width() for patch in ax.patches) == [0.0, 17.0]
    assert sorted(texts(ax, "value")) == ["0", "17"]
    assert "not applicable" in texts(ax, "reason")
    assert "not available (value rejected)" in texts(ax, "reason")
    assert ax.get_xlabel() == "Items"


def test_category_with_only_missing_values_has_no_national_data(ref, country):
    assert national_chart_data(country, ref, category(ref, "DRG"), YEAR) is None
    assert national_chart_data(country, ref, category(ref, "SOM"), YEAR) is None


def test_empty_inputs_give_no_charts(tmp_path, ref, regional, country):
    assert render_charts(regional.iloc[0:0], country.iloc[0:0], ref, YEAR, tmp_path) == {}
    assert render_charts(pd.DataFrame(), pd.DataFrame(), ref, YEAR, tmp_path) == {}
    assert list(Path(tmp_path).iterdir()) == []


# -- member-state profiles: one panel per crime area, gaps stay gaps ------------------------------------
def profile_row(iso3, indicator, year, value, status="reported", flags="", origin="submission", source=""):
    return {**country_row(iso3, indicator, value, status, flags=flags), "year": year, "origin": origin, "source": source}


@pytest.fixture
def profile_country():
    return pd.DataFrame([
        # Georgia: TIP_VIC from published data in 2021, nothing in 2022 (a gap), its own figures after;
        # DRG_OFF confidential in 2023; everything else missing.
        profile_row("GEO", "TIP_VIC", 2021, 90.0, origin="history", source="UNODC GLOTIP (data_glotip.xlsx, 30/05/2023)"),
        profile_row("GEO", "TIP_VIC", 2023, 120.0),
        profile_row("GEO", "TIP_VIC", 2024, 0.0),  # a real zero
        profile_row("GEO", "DRG_OFF", 2023, 3.0, status="confidential", flags="C"),
        profile_row("GEO", "DRG_OFF", 2024, 2500.0),
        {**profile_row("GEO", "TIP_VIC", 2024, 60.0), "breakdown": "SEX=F"},  # not the total
        # North Macedonia is a member from 2020: its 2019 figure is not drawn.
        profile_row("MKD", "TIP_VIC", 2019, 5.0),
        profile_row("MKD", "TIP_VIC", 2021, 6.0),
        profile_row("MKD", "TIP_VIC", 2024, 7.0),
    ])


def test_profile_data_has_every_crime_area_with_gaps_and_published_figures_marked(ref, profile_country):
    data = profile_chart_data(profile_country, ref, "GEO", YEAR)
    assert data.years == (2021, 2022, 2023, 2024)  # from the first year with a figure
    assert [panel.title for panel in data.panels] == [c.label for c in ref.categories]
    tip, drg = data.panels[0], data.panels[2]
    assert tip.axis_label == "persons" and drg.axis_label == "cases"
    assert tip.values[0] == 90.0 and math.isnan(tip.values[1]) and tip.values[2:] == (120.0, 0.0)
    assert tip.published == (True, False, False, False)
    # the confidential 3 is never carried, only the fact
    assert math.isnan(drg.values[2]) and drg.confidential == (False, False, True, False)
    assert all(math.isnan(v) for v in data.panels[1].values)  # no smuggling figure at all
    assert data.source_line.endswith("; published data: UNODC GLOTIP")
    assert data.title == "Georgia: headline indicator of each crime area, 2021–2024"


def test_profile_starts_at_membership_and_needs_a_figure(ref, profile_country):
    mkd = profile_chart_data(profile_country, ref, "MKD", YEAR)
    assert mkd.years == (2021, 2022, 2023, 2024)  # not 2019: a member from 2020; from its first figure
    assert mkd.panels[0].values[0] == 6.0
    assert profile_chart_data(profile_country, ref, "ALB", YEAR) is None
    only_confidential = profile_country[profile_country["indicator"] == "DRG_OFF"].iloc[:1]
    assert profile_chart_data(only_confidential, ref, "GEO", YEAR) is None


def test_profile_chart_draws_one_panel_per_area_with_units_gaps_and_markers(ref, profile_country):
    fig = draw_profile_chart(profile_chart_data(profile_country, ref, "GEO", YEAR))
    assert [ax.get_title(loc="left") for ax in fig.axes] == [c.label for c in ref.categories]
    tip, som, drg = fig.axes[:3]
    y = list(the_line(tip).get_ydata())
    assert list(the_line(tip).get_xdata()) == [2021, 2022, 2023, 2024]
    assert y[0] == 90.0 and math.isnan(y[1]) and y[3] == 0.0  # a gap, and a zero drawn as zero
    assert list(the_line(tip, "published").get_xdata()) == [2021]  # the hollow marker: published data
    assert tip.get_ylabel() == "persons" and drg.get_ylabel() == "cases"
    assert texts(drg, "note") == ["C"]  # confidential year of drug trafficking
    assert math.isnan(the_line(drg).get_ydata()[2])  # and no figure drawn for it
    assert texts(som, "note") == ["no figure"]
    assert tick_labels(drawn_ticks(som.yaxis)) == []  # no scale without a figure
    assert tick_labels(drawn_ticks(drg.xaxis)) == ["2021", "2024"]
    assert tick_labels(drawn_ticks(drg.yaxis)) == ["0", "1,000", "2,000"]
    assert fig.get_suptitle() == "Georgia: headline indicator of each crime area, 2021–2024"
    assert [t.get_text() for t in fig.texts if t.get_gid() == "source"] == [
        "Source: BSEC member-state submissions; population: World Bank; published data: UNODC GLOTIP"]
    legend, = fig.legends
    assert tick_labels(legend.get_texts()) == ["from published data"]


def test_profile_without_published_figures_has_no_legend(ref, profile_country):
    fig = draw_profile_chart(profile_chart_data(profile_country, ref, "MKD", YEAR))
    assert fig.legends == []
    assert all(by_gid(ax.get_lines(), "published") == [] for ax in fig.axes)


def test_profile_ticks_are_compact(ref):
    country = pd.DataFrame([profile_row("GEO", "EXC_CIG", YEAR, 16_500_000.0), profile_row("GEO", "TIP_VIC", YEAR, 52_000.0)])
    data = profile_chart_data(country, ref, "GEO", YEAR)
    fig = draw_profile_chart(data)
    labels = {ax.get_title(loc="left"): tick_labels(drawn_ticks(ax.yaxis)) for ax in fig.axes}
    assert labels["Trafficking in persons"] == ["0", "20k", "40k"]
    assert labels[ref.category_by_code["EXC"].label] == ["0", "8M", "16M"]


def test_profile_charts_are_written_deterministically_and_in_the_pool(tmp_path, ref, regional, profile_country,
                                                                      monkeypatch):
    serial = render_charts(regional, profile_country, ref, YEAR, tmp_path / "serial")
    assert {"profile_GEO", "profile_MKD"} <= set(serial) and "profile_ALB" not in serial
    with Image.open(serial["profile_GEO"]) as image:
        assert abs(image.size[0] - 160 / 25.4 * 200) < 1
    monkeypatch.setattr(charts, "PARALLEL_CHART_THRESHOLD", 0)
    pooled = render_charts(regional, profile_country, ref, YEAR, tmp_path / "pooled")
    assert png_bytes(serial) == png_bytes(pooled)


# -- nothing clipped or overlapping -------------------------------------------------------------
def all_charts(ref, regional, country, profile_country):
    figs = []
    for code in ("TIP", "FA"):
        figs.append(draw_trend_chart(trend_chart_data(regional, ref, category(ref, code))))
        figs.append(draw_national_chart(national_chart_data(country, ref, category(ref, code), YEAR)))
    for iso3 in ("GEO", "MKD"):
        figs.append(draw_profile_chart(profile_chart_data(profile_country, ref, iso3, YEAR)))
    # A title too long to start above the axes, and one too long for a line.
    national = national_chart_data(country, ref, category(ref, "TIP"), YEAR)
    for title in (LONG_TITLE, VERY_LONG_TITLE):
        figs.append(draw_national_chart(dataclasses.replace(national, title=title)))
    return figs


LONG_TITLE = "Offences of participation in an organised criminal group, rate per 100,000 inhabitants, 2025"
VERY_LONG_TITLE = "A very long indicator name " * 6


def visible_texts(fig):
    """Every text drawn, with its extent: the figure's and its Axes' (tick labels only of the ticks shown)."""
    fig.canvas.draw()
    tick_labels_, shown = set(), set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            tick_labels_ |= {id(label) for tick in axis.get_major_ticks() for label in (tick.label1, tick.label2)}
            shown |= {id(label) for label in drawn_ticks(axis)}
    return [(t.get_text(), t.get_window_extent()) for t in fig.findobj(Text)
            if t.get_visible() and t.get_text() and (id(t) not in tick_labels_ or id(t) in shown)]


def test_every_text_is_inside_the_chart_and_no_two_overlap(ref, regional, country, profile_country):
    for fig in all_charts(ref, regional, country, profile_country):
        width, height = fig.bbox.width, fig.bbox.height
        found = visible_texts(fig)
        for text, box in found:
            assert 0 <= box.x0 and box.x1 <= width and 0 <= box.y0 and box.y1 <= height, text
        for i, (text, box) in enumerate(found):
            for other, other_box in found[i + 1:]:
                assert not box.overlaps(other_box), (text, other)


def test_a_long_title_is_kept_whole_and_a_very_long_one_wrapped(ref, country):
    national = national_chart_data(country, ref, category(ref, "TIP"), YEAR)
    short = draw_national_chart(national)
    long = draw_national_chart(dataclasses.replace(national, title=LONG_TITLE))
    very_long = draw_national_chart(dataclasses.replace(national, title=VERY_LONG_TITLE))
    assert short.axes[0].get_title(loc="left") == national.title
    assert long.axes[0].get_title(loc="left") == LONG_TITLE
    lines = very_long.axes[0].get_title(loc="left").split("\n")
    assert len(lines) == 2 and " ".join(lines) == VERY_LONG_TITLE.strip()


# -- start_charts: drawing while the caller does other work ----------------------------------------
@pytest.mark.parametrize("pooled", [False, True], ids=["serial", "pool"])
def test_start_charts_gives_what_render_charts_gives(tmp_path, ref, regional, profile_country, monkeypatch, pooled):
    rendered = render_charts(regional, profile_country, ref, YEAR, tmp_path / "rendered")
    if pooled:
        monkeypatch.setattr(charts, "PARALLEL_CHART_THRESHOLD", 0)
    pending = charts.start_charts(regional, profile_country, ref, YEAR, tmp_path / "started")
    assert pending.paths == {key: tmp_path / "started" / path.name for key, path in rendered.items()}
    paths = pending.wait()
    assert paths == pending.paths
    assert png_bytes(paths) == png_bytes(rendered)
    assert pending.wait() == paths  # a second wait draws nothing again
    assert multiprocessing.active_children() == []  # the pool is shut down


def test_a_few_charts_are_drawn_by_wait_in_this_process(tmp_path, ref, regional, country, monkeypatch):
    drawn = []
    draw = charts._draw_and_save
    monkeypatch.setattr(charts, "_draw_and_save", lambda job: drawn.append(job.path.name) or draw(job))
    monkeypatch.setattr(charts, "ProcessPoolExecutor", lambda *a, **k: pytest.fail("no pool for a few charts"))
    pending = charts.start_charts(regional, country, ref, YEAR, tmp_path)
    assert drawn == [] and list(tmp_path.iterdir()) == []  # start_charts returns at once
    paths = pending.wait()
    assert sorted(drawn) == sorted(p.name for p in paths.values())
    assert all(p.is_file() for p in paths.values())


class FakePool:
    """Stands in for ProcessPoolExecutor: runs nothing, records what is submitted, in order."""

    submitted: list = []

    def __init__(self, *args, **kwargs):
        assert kwargs["mp_context"].get_start_method() in ("spawn", "forkserver")  # never a plain fork

    def submit(self, fn, job):
        FakePool.submitted.append(job)
        future = Future()
        future.set_result(job.path)
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        pass


def test_the_pool_gets_the_dearest_charts_first_and_returns_paths_in_order(tmp_path, ref, regional, country, monkeypatch):
    jobs = charts.chart_jobs(regional, country, ref, YEAR, tmp_path)
    monkeypatch.setattr(FakePool, "submitted", [])
    monkeypatch.setattr(charts, "ProcessPoolExecutor", FakePool)
    monkeypatch.setattr(charts, "PARALLEL_CHART_THRESHOLD", 0)
    assert charts.start_charts(regional, country, ref, YEAR, tmp_path).wait() == {k: j.path for k, j in jobs.items()}
    seen = [job.kind for job in FakePool.submitted]
    assert sorted(job.path for job in FakePool.submitted) == sorted(j.path for j in jobs.values())
    assert seen[: seen.count("profile")] == ["profile"] * seen.count("profile")


class BrokenPool(FakePool):
    """A pool whose workers die (killed, out of memory) before drawing anything."""

    def submit(self, fn, job):
        future = Future()
        future.set_exception(BrokenProcessPool("a child process terminated abruptly"))
        return future


def _refuse(*args, **kwargs):
    raise OSError(11, "Resource temporarily unavailable")


@pytest.mark.parametrize(("pool", "warning"), [
    (BrokenPool, "ended unexpectedly"),  # a worker died: its charts are drawn here
    (_refuse, "no worker process could be started"),
], ids=["worker-died", "no-process"])
def test_charts_without_a_worker_are_drawn_in_this_process(tmp_path, ref, regional, country, monkeypatch, caplog, pool, warning):
    serial = render_charts(regional, country, ref, YEAR, tmp_path / "serial")
    monkeypatch.setattr(charts, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(charts, "PARALLEL_CHART_THRESHOLD", 0)
    paths = charts.start_charts(regional, country, ref, YEAR, tmp_path / "here").wait()
    assert png_bytes(paths) == png_bytes(serial)
    assert warning in caplog.text


def broken_jobs(regional, country, ref, year, out_dir, settings=None):
    """chart_jobs with one chart whose drawing fails (no years: IndexError) among good ones."""
    jobs = dict(real_chart_jobs(regional, country, ref, year, out_dir))
    good = jobs["trend_TIP"].data
    broken = dataclasses.replace(good, years=(), totals=(), n_reporting=(), n_expected=(), flags=(), is_confidential=(), breaks=())
    jobs["trend_TIP"] = charts.ChartJob("trend", broken, out_dir / "trend_TIP.png")
    return jobs


real_chart_jobs = charts.chart_jobs


@pytest.mark.parametrize("pooled", [False, True], ids=["serial", "pool"])
def test_a_chart_that_fails_to_draw_raises_its_exception_from_wait(tmp_path, ref, regional, country, monkeypatch,
                                                                      pooled):
    monkeypatch.setattr(charts, "chart_jobs", broken_jobs)
    if pooled:
        monkeypatch.setattr(charts, "PARALLEL_CHART_THRESHOLD", 0)
    pending = charts.start_charts(regional, country, ref, YEAR, tmp_path)
    with pytest.raises(IndexError, match="list index out of range"):
        pending.wait()
    assert multiprocessing.active_children() == []  # the pool is shut down
    assert not (tmp_path / "trend_TIP.png").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_leaving_the_block_with_an_error_cancels_the_charts(tmp_path, ref, regional, country, monkeypatch):
    monkeypatch.setattr(charts, "PARALLEL_CHART_THRESHOLD", 0)
    with pytest.raises(KeyboardInterrupt):
        with charts.start_charts(regional, country, ref, YEAR, tmp_path):
            raise KeyboardInterrupt  # the caller's other work fails
    assert multiprocessing.active_children() == []
    with charts.start_charts(regional, country, ref, YEAR, tmp_path / "ok") as pending:
        pass  # leaving normally waits
    assert all(p.is_file() for p in pending.wait().values())
