"""Tests for pipeline.charts: files, determinism, gaps stay gaps, missing is never a zero bar.

The frames are hand-made (4 states, 3 indicators, 3 years); charts are checked through the data
matplotlib holds (line arrays, bar widths, texts), not pixels (but for one check that the memoised
text drawing gives matplotlib's own pixels).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
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


def parts(fig, *gids):
    """The artists of a trend or national chart with one of these gids, in the order drawn."""
    return [a for a in fig.artists if a.get_gid() in gids]


def texts_of(fig):
    """The annotations of a trend or national chart: point labels, notes at gaps, bar labels and reasons."""
    return [t.get_text() for t in parts(fig, "label", "note", "value", "reason")]


def state_names(fig):
    """The state names of a national chart, top to bottom (texts where y tick labels would be)."""
    return [t.get_text() for t in parts(fig, "state")]


def the_text(fig, gid):
    text, = parts(fig, gid)
    return text.get_text()


def panel_parts(fig, index, part):
    """The artists of one part ("values", "published", "title", "ylabel", "note", ...) of profile panel `index`."""
    return [a for a in fig.artists if a.get_gid() == f"panel{index}:{part}"]


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


def test_each_chart_is_the_size_in_pixels_known_before_it_is_drawn(tmp_path, ref, regional, country):
    pending = charts.start_charts(regional, country, ref, YEAR, tmp_path)
    assert pending.drawing
    foreseen = pending.pixel_sizes
    paths = pending.wait()
    assert not pending.drawing
    assert {path.stem.split("_")[0] for path in paths.values()} == {"trend", "national", "profile"}
    assert set(foreseen) == set(paths.values())
    for path in paths.values():
        with Image.open(path) as image:
            assert image.size == foreseen[path], path.name
    jobs = charts.chart_jobs(regional, country, ref, YEAR, tmp_path)
    national = next(job for job in jobs.values() if job.kind == "national")
    one_more = dataclasses.replace(national.data, bars=(*national.data.bars, national.data.bars[0]))
    assert charts.ChartJob("national", one_more, Path()).pixel_size[1] > national.pixel_size[1]  # taller with each bar


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
    assert {k: p.read_bytes() for k, p in serial.items()} == {k: p.read_bytes() for k, p in pooled.items()}


def test_drawing_leaves_global_rcparams_alone(tmp_path, ref, regional, country):
    before = dict(matplotlib.rcParams)
    render_charts(regional, country, ref, YEAR, tmp_path)
    assert dict(matplotlib.rcParams) == before


# -- trend: gaps stay gaps ------------------------------------------------------------------------
def test_nan_total_is_a_gap_in_the_line(ref, regional):
    data = trend_chart_data(regional, ref, category(ref, "TIP"))
    fig = draw_trend_chart(data)
    assert fig.axes == []  # drawn from plain lines and texts, tagged by gid
    line, = parts(fig, "values")

    assert list(line.get_xdata()) == [2022, 2023, 2024]
    y = list(line.get_ydata())
    assert y[0] == 1100.0 and y[2] == 1234.0
    assert math.isnan(y[1])  # not interpolated, not zero, and not the SEX=F 999


def test_year_without_a_row_is_a_gap_and_zero_is_zero(ref, regional):
    data = trend_chart_data(regional, ref, category(ref, "FA"))
    fig = draw_trend_chart(data)
    line, = parts(fig, "values")
    y = list(line.get_ydata())

    assert math.isnan(y[1])
    assert y[2] == 0.0  # a real zero is plotted as zero
    assert any(text.startswith("no data") for text in texts_of(fig))


def test_points_are_labelled_n_of_n_with_flags(ref, regional):
    fig = draw_trend_chart(trend_chart_data(regional, ref, category(ref, "TIP")))
    labels = texts_of(fig)
    assert "3/13" in labels
    assert "2/13 p" in labels
    assert "no data\n0/13" in labels
    # 3/13 and 2/13 are below the coverage threshold: hollow markers, named in the legend.
    hollow, = parts(fig, "low_coverage")
    assert list(hollow.get_xdata()) == [2022, 2024] and list(hollow.get_ydata()) == [1100.0, 1234.0]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["fewer than 50% of member states reported"]
    assert [t.get_text() for t in parts(fig, "xtick")] == ["2022", "2023", "2024"]
    assert [t.get_text() for t in parts(fig, "ytick")] == ["0", "400", "800", "1,200", "1,600"]
    assert the_text(fig, "ylabel") == "Persons"
    assert the_text(fig, "title") == "Identified victims of trafficking in persons: regional total, 2022–2024"


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
    data = national_chart_data(country, ref, category(ref, "TIP"), YEAR)
    fig = draw_national_chart(data)
    assert fig.axes == []
    bar_widths = [patch.get_width() for patch in parts(fig, "bar")]
    labels = state_names(fig)
    texts = texts_of(fig)

    # Rates, largest first: Armenia 33.3, Georgia 5.85.
    assert bar_widths == pytest.approx([1000 / 30, 234 / 40])
    assert labels[:2] == ["Armenia", "Georgia"]
    assert len(labels) == 13  # every member state is listed
    assert "confidential (C)" in texts and "not available" in texts
    # The confidential number (3, or its rate 0.1) is nowhere.
    assert sorted(texts) == sorted(["33.3", "5.9 p", "confidential (C)"] + ["not available"] * 10)
    assert the_text(fig, "xlabel") == "Rate per 100,000 inhabitants"
    assert [t.get_text() for t in parts(fig, "xtick")] == ["0", "8", "16", "24", "32"]
    assert parts(fig, "ylabel") == [] and parts(fig, "ytick") == []  # the state names label the rows


def test_national_chart_shows_real_zero_as_a_bar_and_unit_without_rate(ref, country):
    fig = draw_national_chart(national_chart_data(country, ref, category(ref, "FA"), YEAR))
    texts = texts_of(fig)

    assert sorted(patch.get_width() for patch in parts(fig, "bar")) == [0.0, 17.0]
    assert "0" in texts and "17" in texts
    assert "not applicable" in texts
    assert "not available (value rejected)" in texts
    assert the_text(fig, "xlabel") == "Items"


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
    assert fig.axes == []  # panels are drawn from plain lines and texts, tagged by gid
    assert [t.get_text() for i in range(len(ref.categories)) for t in panel_parts(fig, i, "title")] == \
        [c.label for c in ref.categories]
    assert panel_parts(fig, len(ref.categories), "title") == []
    tip_line, = panel_parts(fig, 0, "values")
    y = list(tip_line.get_ydata())
    assert y[0] == 90.0 and math.isnan(y[1]) and y[3] == 0.0  # a gap, and a zero drawn as zero
    hollow, = panel_parts(fig, 0, "published")
    assert list(hollow.get_xdata()) == [2021]  # the hollow marker: published data
    assert [t.get_text() for t in panel_parts(fig, 0, "ylabel")] == ["persons"]
    assert [t.get_text() for t in panel_parts(fig, 2, "note")] == ["C"]  # confidential year of drug trafficking
    assert [t.get_text() for t in panel_parts(fig, 1, "note")] == ["no figure"]
    assert panel_parts(fig, 1, "ytick") == [] and panel_parts(fig, 1, "grid") == []  # no scale without a figure
    assert [t.get_text() for t in panel_parts(fig, 2, "xtick")] == ["2021", "2024"]
    assert [t.get_text() for t in panel_parts(fig, 2, "ytick")] == ["0", "1,000", "2,000"]
    assert any(t.get_text().startswith("Source: ") for t in fig.texts)
    assert fig.legends and fig.legends[0].get_texts()[0].get_text() == "from published data"


def test_profile_charts_are_written_deterministically_and_in_the_pool(tmp_path, ref, regional, profile_country,
                                                                      monkeypatch):
    serial = render_charts(regional, profile_country, ref, YEAR, tmp_path / "serial")
    assert {"profile_GEO", "profile_MKD"} <= set(serial) and "profile_ALB" not in serial
    with Image.open(serial["profile_GEO"]) as image:
        assert abs(image.size[0] - 160 / 25.4 * 200) < 1
    monkeypatch.setattr(charts, "PARALLEL_CHART_THRESHOLD", 0)
    pooled = render_charts(regional, profile_country, ref, YEAR, tmp_path / "pooled")
    assert {k: p.read_bytes() for k, p in serial.items()} == {k: p.read_bytes() for k, p in pooled.items()}


def test_importing_charts_does_not_import_matplotlib():
    import subprocess
    import sys

    # Nor pandas: a pool worker imports this module to draw, and needs neither to start.
    code = "import sys, pipeline.charts; print('matplotlib' in sys.modules, 'pandas' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == \
        "False False"


class FakePool:
    """Stands in for ProcessPoolExecutor: runs nothing, records what is submitted, in order."""

    submitted: list = []
    shut_down = 0

    def __init__(self, *args, **kwargs):
        pass

    def submit(self, fn, *args):
        from concurrent.futures import Future

        future = Future()
        if fn is charts._draw_and_save:
            FakePool.submitted.append(args[0])
            future.set_result(args[0].path)
        else:  # the no-op that starts a worker
            future.set_result(fn(*args))
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        FakePool.shut_down += 1


def test_the_pool_gets_the_dearest_charts_first_and_returns_paths_in_order(tmp_path, ref, regional, country, monkeypatch):
    jobs = charts.chart_jobs(regional, country, ref, YEAR, tmp_path)
    monkeypatch.setattr(FakePool, "submitted", [])
    monkeypatch.setattr(charts, "ProcessPoolExecutor", FakePool)
    monkeypatch.setattr(charts, "PARALLEL_CHART_THRESHOLD", 0)
    assert charts.start_charts(regional, country, ref, YEAR, tmp_path).wait() == {k: j.path for k, j in jobs.items()}
    seen = [job.kind for job in FakePool.submitted]
    assert sorted(job.path for job in FakePool.submitted) == sorted(j.path for j in jobs.values())
    assert seen[: seen.count("profile")] == ["profile"] * seen.count("profile")


# -- start_charts: drawing while the caller does other work ----------------------------------------
@pytest.mark.parametrize("pooled", [False, True], ids=["serial", "pool"])
def test_start_charts_gives_what_render_charts_gives(tmp_path, ref, regional, profile_country, monkeypatch, pooled):
    rendered = render_charts(regional, profile_country, ref, YEAR, tmp_path / "rendered")
    if pooled:
        monkeypatch.setattr(charts, "PARALLEL_CHART_THRESHOLD", 0)
    pending = charts.start_charts(regional, profile_country, ref, YEAR, tmp_path / "started")
    paths = pending.wait()
    assert paths == {key: tmp_path / "started" / path.name for key, path in rendered.items()}
    assert {k: p.read_bytes() for k, p in paths.items()} == {k: p.read_bytes() for k, p in rendered.items()}
    assert pending.wait() == paths  # a second wait draws nothing again
    assert multiprocessing.active_children() == []  # the pool is shut down


def test_workers_started_ahead_draw_even_a_few_charts_and_are_shut_down(tmp_path, ref, regional, country):
    serial = render_charts(regional, country, ref, YEAR, tmp_path / "serial")
    assert 0 < len(serial) <= charts.PARALLEL_CHART_THRESHOLD
    workers = charts.ChartWorkers()  # started before the data is known, as a first run does
    workers.started()
    assert len(multiprocessing.active_children()) >= 1
    paths = charts.start_charts(regional, country, ref, YEAR, tmp_path / "pooled", workers=workers).wait()
    assert {k: p.read_bytes() for k, p in paths.items()} == {k: p.read_bytes() for k, p in serial.items()}
    assert multiprocessing.active_children() == []
    with pytest.raises(RuntimeError):
        workers.take()  # handed on: owned by the charts now
    workers.shutdown()  # and a shutdown after that is harmless


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (an orphan's zombie waits for whoever adopted it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_worker_reads_no_glyph_through_its_parents_fonts():
    """Fonts opened before a fork share the file offset with the parent: two processes reading glyphs
    through them at once read each other's bytes (FT_Load_Glyph "invalid outline", seen in a pool
    forked from the fork server). A child keeps the measurements, not the fonts."""
    charts.warm_up()
    memos = charts._mpl().memos
    assert memos["layouts"] and memos["bitmaps"] and memos["metrics"]  # the warm-up filled them
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only
        os._exit(0 if not memos["layouts"] and not memos["bitmaps"] and memos["metrics"] else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert memos["layouts"] and memos["bitmaps"]  # the parent's are untouched


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_end_when_the_process_that_started_them_is_killed():
    import signal
    import subprocess
    import sys
    import time

    script = ("import multiprocessing, multiprocessing.forkserver, time\nfrom pipeline import charts\n"
              "workers = charts.ChartWorkers()\nworkers.started()\nserver = multiprocessing.forkserver._forkserver._forkserver_pid\n"
              "print(' '.join(str(pid) for pid in [p.pid for p in multiprocessing.active_children()] + ([server] if server else [])), flush=True)\n"
              "time.sleep(120)\n")
    run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    try:
        pids = [int(pid) for pid in run.stdout.readline().split()]
        assert pids and all(_alive(pid) for pid in pids)
    finally:
        run.send_signal(signal.SIGKILL)  # no clean-up code runs in the parent
        run.wait()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids), "a chart worker (or their fork server) outlived the run that started it"


class BrokenPool(FakePool):
    """A pool whose workers die (killed, out of memory) before drawing anything."""

    def submit(self, fn, *args):
        from concurrent.futures import Future
        from concurrent.futures.process import BrokenProcessPool

        future = Future()
        future.set_exception(BrokenProcessPool("a child process terminated abruptly"))
        return future


class UnstartablePool(FakePool):
    """A pool whose processes cannot be started: the fork server died (EOF on its socket)."""

    def submit(self, fn, *args):
        raise EOFError("unexpected EOF")


def _refuse(*args, **kwargs):
    raise OSError(11, "Resource temporarily unavailable")


@pytest.mark.parametrize(("pool", "warning"), [
    (BrokenPool, "ended unexpectedly"),  # a worker died: its charts are drawn here
    (_refuse, "no worker process could be started"),
    (UnstartablePool, "no worker process could be started"),
], ids=["worker-died", "no-process", "fork-server-gone"])
def test_charts_without_a_worker_are_drawn_in_this_process(tmp_path, ref, regional, country, monkeypatch, caplog, pool, warning):
    serial = render_charts(regional, country, ref, YEAR, tmp_path / "serial")
    monkeypatch.setattr(charts, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(charts, "PARALLEL_CHART_THRESHOLD", 0)
    paths = charts.start_charts(regional, country, ref, YEAR, tmp_path / "here").wait()
    assert {k: p.read_bytes() for k, p in paths.items()} == {k: p.read_bytes() for k, p in serial.items()}
    assert warning in caplog.text


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


def broken_jobs(regional, country, ref, year, out_dir, settings=None):
    """chart_jobs with one chart whose drawing fails (no years: IndexError) among good ones."""
    jobs = dict(real_chart_jobs(regional, country, ref, year, out_dir))
    good = jobs["trend_TIP"].data
    broken = charts.TrendChartData(**{**good.__dict__, "years": (), "totals": (), "n_reporting": (),
                                      "n_expected": (), "flags": (), "is_confidential": ()})
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


# -- the fixed layout: same pixels as matplotlib, nothing clipped or overlapping -----------------------------
def all_charts(ref, regional, country, profile_country):
    figs = []
    for code in ("TIP", "FA"):
        figs.append(draw_trend_chart(trend_chart_data(regional, ref, category(ref, code))))
        figs.append(draw_national_chart(national_chart_data(country, ref, category(ref, code), YEAR)))
    for iso3 in ("GEO", "MKD"):
        figs.append(draw_profile_chart(profile_chart_data(profile_country, ref, iso3, YEAR)))
    # A title too long to start above the axes, and one too long for a line.
    national = national_chart_data(country, ref, category(ref, "TIP"), YEAR)
    for title in ("Offences of participation in an organised criminal group, rate per 100,000 inhabitants, 2025",
                  "A very long indicator name " * 6):
        figs.append(draw_national_chart(dataclasses.replace(national, title=title)))
    return figs


def test_memoised_text_drawing_gives_matplotlibs_pixels(ref, regional, country, profile_country):
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    for fig in all_charts(ref, regional, country, profile_country) * 2:  # the second time from the memos
        with charts._chart_style():
            fig.canvas.draw()
            ours = np.array(fig.canvas.buffer_rgba())
            FigureCanvasAgg(fig).draw()
            theirs = np.array(fig.canvas.buffer_rgba())
        assert (ours == theirs).all()


def visible_texts(fig):
    from matplotlib.text import Text

    texts = [a for a in fig.findobj(Text) if a.get_visible() and a.get_text()]
    with charts._chart_style():
        fig.canvas.draw()
        return [(t.get_text(), t.get_window_extent()) for t in texts]


def test_every_text_is_inside_the_chart_and_no_two_overlap(ref, regional, country, profile_country):
    for fig in all_charts(ref, regional, country, profile_country):
        width, height = fig.bbox.width, fig.bbox.height
        texts = visible_texts(fig)
        for text, box in texts:
            assert 0 <= box.x0 and box.x1 <= width and 0 <= box.y0 and box.y1 <= height, text
        for i, (text, box) in enumerate(texts):
            for other, other_box in texts[i + 1:]:
                assert not box.overlaps(other_box), (text, other)


# Where the Axes-based drawing (matplotlib's own layout of an Axes, before the trend and national charts
# were drawn from plain artists) put things, in pixels (x0, y0, x1, y1), measured on the test data: the
# plotting area, and the extents of some texts.
AXES_LAYOUT = {
    "trend_FA": {
        "area": (87.111, 137.179, 1251.509, 546.551),
        "Firearms seized: regional total, 2022–2024": (87.111, 557.212, 617.767, 582.218),
        "Items": (8.333, 311.365, 30.556, 372.365),
        "60": (41.667, 463.051, 67.667, 483.884),
        "2023": (643.31, 96.901, 695.31, 117.734),
        "Year (labels: member states reporting / member states)": (363.029, 63.451, 975.591, 85.79),
        "fewer than 50% of member states reported": (159.056, 509.607, 576.634, 529.051),
        "no data\n0/13": (635.31, 145.366, 703.31, 188.989),
        "Source: BSEC member-state submissions; population: World Bank": (12.598, 7.087, 597.677, 25.424),
    },
    "national_TIP": {
        "area": (230.118, 137.179, 1251.509, 692.22),
        "Identified victims of trafficking in persons, rate per 100,000 inhabitants, 2024":
            (230.118, 702.881, 1205.118, 727.887),
        "Republic of Moldova": (8.333, 358.999, 220.396, 380.004),
        "33.3": (1104.037, 661.845, 1143.037, 679.9),
        "confidential (C)": (238.451, 362.835, 376.451, 381.173),
        "0": (223.618, 96.901, 236.618, 117.734),
        "32": (1048.08, 96.901, 1074.08, 117.734),
        "Rate per 100,000 inhabitants": (579.556, 63.451, 902.071, 85.79),
    },
    "long_title": {  # starts at the figure's left edge
        "area": (230.118, 137.179, 1251.509, 692.22),
        "Offences of participation in an organised criminal group, rate per 100,000 inhabitants, 2025":
            (12.598, 702.881, 1165.614, 727.887),
    },
    "wrapped_title": {
        "area": (230.118, 137.179, 1251.509, 659.707),
        "A very long indicator name A very long indicator name A very long indicator name A very long\n"
        "indicator name A very long indicator name A very long indicator name": (12.598, 667.866, 1192.598, 727.887),
        "Ukraine": (139.396, 144.271, 220.396, 165.276),
        "5.9 p": (390.362, 590.388, 435.362, 608.443),
    },
}


def test_trend_and_national_layout_is_the_axes_layout(ref, regional, country):
    national = national_chart_data(country, ref, category(ref, "TIP"), YEAR)
    figs = {
        "trend_FA": draw_trend_chart(trend_chart_data(regional, ref, category(ref, "FA"))),
        "national_TIP": draw_national_chart(national),
        "long_title": draw_national_chart(dataclasses.replace(national, title=(
            "Offences of participation in an organised criminal group, rate per 100,000 inhabitants, 2025"))),
        "wrapped_title": draw_national_chart(dataclasses.replace(national, title="A very long indicator name " * 6)),
    }
    for name, fig in figs.items():
        expected = AXES_LAYOUT[name]
        left, bottom = parts(fig, "spine")
        area = (left.get_xdata()[0], left.get_ydata()[0], bottom.get_xdata()[1], left.get_ydata()[1])
        assert area == pytest.approx(expected["area"], abs=0.5), name
        found = {}
        for text, box in visible_texts(fig):
            found.setdefault(text, []).append(tuple(box.extents))
        for text, box in expected.items():
            if text != "area":
                assert any(b == pytest.approx(box, abs=0.5) for b in found.get(text, [])), (name, text, found.get(text))
