"""Charts: a regional trend chart and a national chart per crime category, and a profile chart per
member state, as PNG files.

Inputs (pandas DataFrames, the aggregate stage's contract; no other columns are assumed):
- `regional`: indicator, breakdown, year, total, n_reporting, n_expected, flags (+ others unused here).
- `country`: country_iso3, indicator, breakdown, year, value, status, rate_per_100k, flags, origin,
  source (+ others unused).
Output: `render_charts()` writes `trend_<CATEGORY>.png`, `national_<CATEGORY>.png` and
`profile_<ISO3>.png` into `out_dir` and returns `{"trend_<CATEGORY>": path, "national_<CATEGORY>": path,
"profile_<ISO3>": path, ...}` for the charts it wrote. `start_charts()` does the same in the
background: it returns at once, and `.wait()` on its result returns what `render_charts()` does.

A chart with no data at all is skipped, not drawn empty. Missing is never drawn as zero: a year
without a regional total is a gap in the line, and a state without a value gets the words
"not available" (or "not applicable", "confidential") instead of a bar; a real 0 is a zero bar.

A profile chart is a small multiple: one panel per crime area with the state's headline figure
over the last years, each panel in its own unit; a figure from published data (UNODC, Eurostat) is
a hollow marker, a confidential year a "C" at the foot of the panel.

One style for all: the Okabe-Ito colour-blind-safe palette, DejaVu Sans, drawn at the A4 text width
at 200 dpi, units on the axes and a source line under each chart.

Drawing is split from data selection: `*_chart_data()` turns frames into small frozen dataclasses of
plain tuples, `draw_*_chart()` turns those into a `matplotlib.figure.Figure` with Axes (never pyplot,
so no global figure state): one laid out by tight layout for a trend or national chart, a grid
of panels with margins measured from their texts for a profile. `_draw_and_save()` is module-level so
a process pool can run it. Nothing here reads inputs or knows about the report. The PNG bytes depend
only on the chart's data (and the library versions): the same in every run, serially or in the pool.
"""

from __future__ import annotations

import io
import logging
import math
import multiprocessing
import numbers
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.style
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator

from pipeline.atomic import write_atomically
from pipeline.reference import TOTAL
from pipeline.settings import DEFAULT_SETTINGS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from pipeline.reference import Category, Indicator, Reference
    from pipeline.settings import Settings

log = logging.getLogger(__name__)

# A4 text width (210 mm - 2 x 25 mm margins); the report inserts the PNG at exactly this width,
# so 8 pt text in the chart is 8 pt on the page.
CHART_WIDTH_MM = 160.0
TREND_HEIGHT_MM = 75.0
NATIONAL_BASE_HEIGHT_MM = 22.0
NATIONAL_ROW_HEIGHT_MM = 5.5
SOURCE_LINE_HEIGHT_MM = 7.0
PROFILE_HEIGHT_MM = 100.0
PROFILE_COLUMNS = 3
DPI = 200
MM_PER_INCH = 25.4

# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies and in greyscale.
COLOUR_MAIN = "#0072B2"  # blue
COLOUR_LOW_COVERAGE = "#D55E00"  # vermillion
COLOUR_TEXT_MUTED = "#555555"
GRID_COLOUR = "#dddddd"
NOTE_SIZE = 6.5
# Space kept free at the figure's edge and around each Axes' decorations (3 pt).
LAYOUT_PAD_INCH = 3 / 72

# Above this many charts, a pool of worker processes draws them while the caller does its other work;
# fewer are drawn by `wait()` in the caller's process (a worker's start-up, importing matplotlib and
# pandas, would cost more than it saves).
PARALLEL_CHART_THRESHOLD = 15

# The charts' style, on top of matplotlib's defaults (`matplotlib.style.context("default")`), so
# that what a caller did to the global rcParams changes nothing.
CHART_STYLE = {
    # DejaVu Sans ships with matplotlib and covers Latin, Cyrillic, Greek, Georgian and Armenian.
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "axes.titlelocation": "left",
    "axes.grid": True,
    "grid.color": GRID_COLOUR,
    "grid.linewidth": 0.6,
    "figure.titlesize": 9,
}
# What each kind of chart sets on top of `CHART_STYLE`: the grid behind the values, and for the
# profiles' small panels smaller text and ticks (sizes in points).
KIND_STYLES = {
    "trend": {"axes.grid.axis": "y"},
    "national": {"axes.grid.axis": "x", "ytick.major.size": 0},  # state names, no tick marks
    "profile": {
        "axes.grid.axis": "y", "grid.linewidth": 0.5, "axes.titlesize": 6.8, "axes.titlepad": 2,
        "axes.labelsize": 6, "axes.labelpad": 1.5, "xtick.labelsize": 6, "ytick.labelsize": 6,
        "xtick.major.size": 2, "ytick.major.size": 2, "xtick.major.pad": 1.5, "ytick.major.pad": 1.5,
    },
}

UNIT_AXIS_LABELS = {
    "persons": "Persons",
    "cases": "Cases (offences recorded)",
    "items": "Items",
    "kg": "Kilograms (kg)",
    "EUR": "Euros (EUR)",
    "requests": "Requests",
}
RATE_AXIS_LABEL = "Rate per 100,000 inhabitants"

# Words shown instead of a bar; the report tables use the symbols ":", "–" and "C" for the same.
STATUS_WORDS = {
    "not_available": "not available",
    "not_applicable": "not applicable",
    "confidential": "confidential (C)",
    "rejected": "not available (value rejected)",
}
NO_ROW_WORD = "not available"
CONFIDENTIALITY_FLAGS = frozenset({"C", "N"})
# The columns read here (the input contract); others are ignored.
REGIONAL_COLUMNS = ("indicator", "breakdown", "year", "total", "n_reporting", "n_expected", "flags", "history_sources")
COUNTRY_COLUMNS = ("country_iso3", "indicator", "breakdown", "year", "value", "status", "rate_per_100k", "flags",
                   "origin", "source")


# -- plain data handed to the drawing functions (picklable for the process pool) -----------------
@dataclass(frozen=True)
class TrendChartData:
    title: str
    axis_label: str
    years: tuple[int, ...]
    totals: tuple[float, ...]  # NaN where there is no regional total: drawn as a gap
    n_reporting: tuple[int, ...]
    n_expected: tuple[int, ...]
    flags: tuple[str, ...]
    is_confidential: tuple[bool, ...]
    decimals: int  # 0: whole-number axis ticks (counts, EUR)
    low_coverage_share: float
    source_line: str
    # True where a year's total is not comparable with the year before's (`is_series_break`): the line
    # is not drawn between them, and a dotted rule marks the break.
    breaks: tuple[bool, ...] = ()


def year_span(years: Sequence[int]) -> str:
    """"2017–2026" for a range of years, "2026" for one year (never "2026–2026")."""
    return str(years[0]) if years[0] == years[-1] else f"{years[0]}–{years[-1]}"


def is_series_break(before: object, after: object) -> bool:
    """Whether two regional totals of consecutive years (rows of the regional table) may not be joined
    by a line: a line between them would read as a change in crime when the change is in who reported
    or in where the figures come from.

    A break when fewer than half of the states behind the larger of the two totals reported in both
    years, or when most states of one year come from published data (UNODC, Eurostat) and most of the
    other's from submissions (another source, often another definition: flag d)."""
    n_before, n_after = _count(before, "n_reporting"), _count(after, "n_reporting")
    same = _count(after, "n_same_reporters")
    if same is not None and same < max(n_before or 0, n_after or 0) / 2:
        return True
    published = [_count(row, "n_history") for row in (before, after)]
    if None in published:
        return False
    return (published[0] > (n_before or 0) / 2) != (published[1] > (n_after or 0) / 2)


def _count(row: object, column: str) -> int | None:
    """A count of a regional row; None where the table has no such column (nothing known)."""
    value = getattr(row, column, None)
    if value is None:
        return None
    return int(value) if _is_number(value) else 0


@dataclass(frozen=True)
class NationalBar:
    state_name: str
    value: float | None  # None: no bar, `label` says why
    label: str  # the value as printed at the end of the bar, or the reason there is no bar


@dataclass(frozen=True)
class NationalChartData:
    title: str
    axis_label: str
    bars: tuple[NationalBar, ...]  # top to bottom
    decimals: int
    source_line: str


@dataclass(frozen=True)
class ProfilePanel:
    title: str  # the crime area
    axis_label: str  # the unit of its headline indicator
    values: tuple[float, ...]  # one per year of the chart; NaN: no figure, drawn as a gap
    published: tuple[bool, ...]  # the figure comes from published data (hollow marker)
    confidential: tuple[bool, ...]  # the figure is confidential: a gap with "C" at the foot
    decimals: int


@dataclass(frozen=True)
class ProfileChartData:
    title: str
    years: tuple[int, ...]
    panels: tuple[ProfilePanel, ...]  # one per crime area, in the catalogue's order
    source_line: str


@dataclass(frozen=True)
class ChartJob:
    kind: str  # "trend", "national" or "profile"
    data: TrendChartData | NationalChartData | ProfileChartData
    path: Path

    @property
    def height_mm(self) -> float:
        """The chart's height on the page (its width is `CHART_WIDTH_MM`)."""
        if self.kind == "national":
            return NATIONAL_BASE_HEIGHT_MM + NATIONAL_ROW_HEIGHT_MM * len(self.data.bars)  # type: ignore[union-attr]
        return PROFILE_HEIGHT_MM if self.kind == "profile" else TREND_HEIGHT_MM


# -- small helpers ---------------------------------------------------------------------------------
def _text(value: object) -> str:
    """Flags and statuses may arrive as NaN or NA from pandas; treat those as empty text."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def ensure_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`frame`, or a copy with absent columns added empty: an empty `pd.DataFrame()` means "no rows"."""
    missing = [column for column in columns if column not in frame.columns]
    if not missing:
        return frame
    return frame.assign(**{column: pd.Series(dtype=object, index=frame.index) for column in missing})


def _is_number(value: object) -> bool:
    """A finite number, numpy scalars included (nullable Int64 columns yield numpy.int64); not NaN or NA."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def round_half_up(value: float, decimals: int) -> Decimal:
    """Round as people do (5.85 -> 5.9), on the shortest decimal form of the float.

    Plain `f"{5.85:.1f}"` gives "5.8" because the binary value is 5.8499...; published tables
    round half up, and readers check them by hand.
    """
    # Enough precision for any float (up to 1.8e308) so quantize never overflows the context.
    return Decimal(repr(float(value))).quantize(
        Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP, context=Context(prec=400)
    )


def _format_number(value: float, decimals: int) -> str:
    return f"{round_half_up(value, decimals):,.{decimals}f}"


def _decimals_for(indicator: Indicator, plots_rate: bool) -> int:
    if plots_rate:
        return 1
    # Counts are whole numbers; quantities (kg, EUR) may have decimals but kg deserve one.
    return 1 if indicator.unit == "kg" else 0


def _mm_to_inches(mm: float) -> float:
    return mm / MM_PER_INCH


# -- data selection --------------------------------------------------------------------------------
def trend_chart_data(
    regional: pd.DataFrame, ref: Reference, category: Category, settings: Settings | None = None, year: int | None = None
) -> TrendChartData | None:
    """The headline indicator's regional total (breakdown TOTAL) over the last `settings.trend_years`
    years up to `year` (default: the latest in `regional`), from the first of them with a total.

    Years without a total after that stay in the chart as gaps. Returns None when no year has a
    total: there is nothing to draw.
    """
    settings = DEFAULT_SETTINGS if settings is None else settings
    indicator = ref.indicator_by_code[category.headline]
    rows = regional[(regional["indicator"] == indicator.code) & (regional["breakdown"] == TOTAL)]
    by_year = {int(r.year): r for r in rows.itertuples(index=False)}
    all_years = sorted(int(y) for y in regional["year"].dropna().unique()) if len(regional) else []
    last = year if year is not None else (all_years[-1] if all_years else 0)
    # Every year of the window, with or without any regional row: a year nobody reported for is a gap
    # with its own tick, never a line drawn straight across it.
    window = list(range(last - settings.trend_years + 1, last + 1))
    with_data = [y for y in window if y in by_year and _is_number(by_year[y].total)]
    years = [y for y in window if with_data and y >= with_data[0]] if with_data else window
    totals, n_reporting, n_expected, flags, confidential = [], [], [], [], []
    for year in years:
        row = by_year.get(year)
        expected = len(ref.members_in(year))
        if row is None:
            totals.append(math.nan)
            n_reporting.append(0)
            n_expected.append(expected)
            flags.append("")
            confidential.append(False)
            continue
        total = float(row.total) if _is_number(row.total) else math.nan
        row_flags = _text(row.flags)
        totals.append(total)
        n_reporting.append(int(row.n_reporting) if _is_number(row.n_reporting) else 0)
        n_expected.append(int(row.n_expected) if _is_number(row.n_expected) else expected)
        flags.append(row_flags)
        confidential.append(math.isnan(total) and bool(CONFIDENTIALITY_FLAGS & set(row_flags)))
    if not any(math.isfinite(t) for t in totals):
        return None
    breaks = tuple(
        i > 0 and math.isfinite(totals[i - 1]) and math.isfinite(totals[i]) and is_series_break(by_year[years[i - 1]], by_year[years[i]])
        for i in range(len(years))
    )
    sources = sorted({s for y in years if y in by_year for s in _text(getattr(by_year[y], "history_sources", "")).split(";") if s})
    return TrendChartData(
        title=f"{indicator.label}: regional total, {year_span(years)}",
        axis_label=UNIT_AXIS_LABELS.get(indicator.unit, indicator.unit),
        years=tuple(years),
        totals=tuple(totals),
        n_reporting=tuple(n_reporting),
        n_expected=tuple(n_expected),
        flags=tuple(flags),
        is_confidential=tuple(confidential),
        decimals=_decimals_for(indicator, plots_rate=False),
        low_coverage_share=settings.low_coverage_share,
        source_line=settings.source_line + (f"; published data: {'; '.join(sources)}" if sources else ""),
        breaks=breaks,
    )


def national_chart_data(
    country: pd.DataFrame, ref: Reference, category: Category, year: int, settings: Settings | None = None
) -> NationalChartData | None:
    """The year's national rates per 100,000 (or values, when the unit takes no rate), one bar per state.

    Every member state of the year is listed; states without a figure are listed with the reason
    and no bar. Returns None when no state has a figure.
    """
    settings = DEFAULT_SETTINGS if settings is None else settings
    indicator = ref.indicator_by_code[category.headline]
    plots_rate = indicator.takes_rate
    decimals = _decimals_for(indicator, plots_rate)
    rows = country[
        (country["indicator"] == indicator.code) & (country["breakdown"] == TOTAL) & (country["year"] == year)
    ]
    by_state = {str(r.country_iso3): r for r in rows.itertuples(index=False)}

    with_value: list[NationalBar] = []
    without_value: list[NationalBar] = []
    for iso3 in ref.members_in(year):
        name = ref.state_by_iso3[iso3].name
        row = by_state.get(iso3)
        if row is None:
            without_value.append(NationalBar(name, None, NO_ROW_WORD))
            continue
        status = _text(row.status)
        figure = row.rate_per_100k if plots_rate else row.value
        if status == "reported" and _is_number(figure):
            label = _format_number(float(figure), decimals)
            row_flags = _text(row.flags)
            with_value.append(NationalBar(name, float(figure), f"{label} {row_flags}".strip()))
        elif status == "reported":
            # A reported value whose rate cannot be computed (no population figure).
            without_value.append(NationalBar(name, None, "rate not available" if plots_rate else NO_ROW_WORD))
        else:
            without_value.append(NationalBar(name, None, STATUS_WORDS.get(status, NO_ROW_WORD)))
    if not with_value:
        return None
    with_value.sort(key=lambda bar: (-(bar.value or 0.0), bar.state_name))
    without_value.sort(key=lambda bar: bar.state_name)
    measure = "rate per 100,000 inhabitants" if plots_rate else "by member state"
    return NationalChartData(
        title=f"{indicator.label}, {measure}, {year}",
        axis_label=RATE_AXIS_LABEL if plots_rate else UNIT_AXIS_LABELS.get(indicator.unit, indicator.unit),
        bars=tuple(with_value + without_value),
        decimals=decimals,
        source_line=settings.source_line,
    )


def profile_chart_data(
    country: pd.DataFrame, ref: Reference, iso3: str, year: int, settings: Settings | None = None
) -> ProfileChartData | None:
    """One member state's headline figure of each crime area (breakdown TOTAL) over the last
    `settings.trend_years` years up to `year`, from its first year of membership and from the first
    year with any figure. Returns None when the state has no figure in any of those years.

    The values are the state's own (never rates: one state, one population); a confidential figure is
    never carried, only the fact that it is confidential.
    """
    settings = DEFAULT_SETTINGS if settings is None else settings
    state = ref.state_by_iso3[iso3]
    first = max(year - settings.trend_years + 1, state.member_from)
    window = list(range(first, year + 1))
    rows = country[(country["country_iso3"] == iso3) & (country["breakdown"] == TOTAL)]
    by_key = {(str(r.indicator), int(r.year)): r for r in rows.itertuples(index=False) if _is_number(r.year)}
    raw_panels = []
    sources: set[str] = set()
    for category in ref.categories:
        indicator = ref.indicator_by_code[category.headline]
        values, published, confidential = [], [], []
        for y in window:
            row = by_key.get((indicator.code, y))
            status = _text(row.status) if row is not None else ""
            is_conf = row is not None and (status == "confidential" or bool(CONFIDENTIALITY_FLAGS & set(_text(row.flags))))
            if row is not None and status == "reported" and not is_conf and _is_number(row.value):
                values.append(float(row.value))
                from_history = _text(getattr(row, "origin", "")) == "history"
                published.append(from_history)
                if from_history and _text(getattr(row, "source", "")):
                    # The short name: "UNODC GLOTIP (data_glotip.xlsx, 30/05/2023)" -> "UNODC GLOTIP".
                    sources.add(_text(row.source).split(" (")[0])
            else:
                values.append(math.nan)
                published.append(False)
            confidential.append(is_conf)
        raw_panels.append((category, indicator, values, published, confidential))
    with_data = [i for i, y in enumerate(window) if any(math.isfinite(p[2][i]) for p in raw_panels)]
    if not with_data:
        return None
    start = with_data[0]
    years = window[start:]
    panels = tuple(
        ProfilePanel(
            title=category.label,
            axis_label=indicator.unit,
            values=tuple(values[start:]),
            published=tuple(published[start:]),
            confidential=tuple(confidential[start:]),
            decimals=_decimals_for(indicator, plots_rate=False),
        )
        for category, indicator, values, published, confidential in raw_panels
    )
    return ProfileChartData(
        title=f"{state.name}: headline indicator of each crime area, {year_span(years)}",
        years=tuple(years),
        panels=panels,
        source_line=settings.source_line + (f"; published data: {'; '.join(sorted(sources))}" if sources else ""),
    )


# -- drawing ---------------------------------------------------------------------------------------
def _chart_style(kind: str):
    """matplotlib's defaults plus `CHART_STYLE` and the kind's style for the duration, whatever the
    caller set; undone after. Axes and ticks take their look from it when they are made, so a chart
    is drawn and saved inside it."""
    return matplotlib.style.context(("default", CHART_STYLE, KIND_STYLES[kind]))


def _new_figure(height_mm: float, tight: bool = True) -> Figure:
    """A figure `CHART_WIDTH_MM` x `height_mm` at `DPI`; if `tight`, laid out by tight layout above the
    strip at the foot that holds the source line (which the layout does not see)."""
    fig = Figure(figsize=(_mm_to_inches(CHART_WIDTH_MM), _mm_to_inches(height_mm)), dpi=DPI)
    FigureCanvasAgg(fig)
    if tight:
        source_share = SOURCE_LINE_HEIGHT_MM / height_mm
        # pad: in units of the font size (8 pt)
        fig.set_layout_engine("tight", pad=LAYOUT_PAD_INCH * 72 / CHART_STYLE["font.size"], rect=(0, source_share, 1, 1))
    return fig


def _add_source_line(fig: Figure, source_line: str) -> None:
    fig.text(0.01, 0.012, source_line, ha="left", va="bottom", fontsize=NOTE_SIZE, color=COLOUR_TEXT_MUTED,
             gid="source")


def _lay_out(fig: Figure, ax: Axes, title: Text) -> None:
    """Place the Axes of a chart whose title starts at their left edge (tight layout, once; kept
    when the figure is saved). A title too long to end inside the figure starts at the figure's left
    edge instead (where the source line starts); one longer than the figure is wide is wrapped first
    (the layout makes room for a title's height, not its width)."""
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width
    pad = LAYOUT_PAD_INCH * fig.dpi
    figure_left = 0.01 * width
    if title.get_window_extent(renderer).width > width - pad - figure_left:
        title.set_text(_wrap(title, renderer, width - pad - figure_left))
    fig.get_layout_engine().execute(fig)
    fig.set_layout_engine("none")
    box = ax.get_window_extent(renderer)
    if box.x0 + title.get_window_extent(renderer).width > width - pad:
        title.set_x((figure_left - box.x0) / box.width)


def _wrap(text, renderer, max_width: float) -> str:
    """The words of `text` in as few lines as fit `max_width` pixels (a word longer stays whole)."""
    words = text.get_text().split()
    lines: list[str] = []
    for word in words:
        candidate = f"{lines[-1]} {word}" if lines else word
        text.set_text(candidate)
        if lines and text.get_window_extent(renderer).width <= max_width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return "\n".join(lines)


def _thousands(value: float, _position: object) -> str:
    """Axis ticks: "12,000" for large values, "0.25" for small ones (never scientific notation)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


def _compact(value: float, _position: object) -> str:
    """Small-panel ticks: "12k", "1.5M", "250", "0.5"."""
    magnitude = abs(value)
    if magnitude >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if magnitude >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:,.0f}" if magnitude >= 1000 else f"{value:g}"


def draw_trend_chart(data: TrendChartData) -> Figure:
    """Line of regional totals; a NaN total is a gap (matplotlib breaks the line at NaN, no interpolation).

    Each point is labelled "n/N" (states reporting of member states) and its flags; points below the
    coverage threshold get a hollow vermillion marker. The line has the gid "values", the hollow
    markers "low_coverage", the point labels "label" and the notes at the gaps "note".
    """
    with _chart_style("trend"):
        fig = _new_figure(TREND_HEIGHT_MM)
        ax = fig.add_subplot()
        years, totals = list(data.years), list(data.totals)
        breaks = list(data.breaks) or [False] * len(years)
        # A NaN half a year before a break ends the line there: the two sides are not one series.
        xs = [x for year, broken in zip(years, breaks, strict=True) for x in ((year - 0.5, year) if broken else (year,))]
        ys = [y for total, broken in zip(totals, breaks, strict=True) for y in ((math.nan, total) if broken else (total,))]
        # Markers as well as the line, so a year between two gaps is still visible.
        # clip_on=False: a real 0 sits on the axis and must show as a whole marker.
        ax.plot(xs, ys, color=COLOUR_MAIN, marker="o", markersize=4, linewidth=1.6, clip_on=False, gid="values")
        for year, broken in zip(years, breaks, strict=True):
            if broken:
                ax.axvline(year - 0.5, color=COLOUR_TEXT_MUTED, linestyle=":", linewidth=1.0, gid="break")
        finite = [t for t in totals if math.isfinite(t)]
        top = max(finite) if finite else 0.0
        # Headroom above the highest point for its label and the legend.
        ax.set_ylim(0, top * 1.45 if top > 0 else 1.0)
        hollow = {"linestyle": "none", "marker": "o", "markerfacecolor": "white",
                  "markeredgecolor": COLOUR_LOW_COVERAGE, "markeredgewidth": 1.4}
        low_x, low_y = [], []
        for year, total, n, big_n, flags, confidential in zip(
            years, totals, data.n_reporting, data.n_expected, data.flags, data.is_confidential, strict=True
        ):
            coverage = f"{n}/{big_n}"
            if math.isfinite(total):
                low = big_n > 0 and n / big_n < data.low_coverage_share
                if low:
                    low_x.append(year)
                    low_y.append(total)
                ax.annotate(f"{coverage} {flags}".strip(), (year, total), xytext=(0, 6), textcoords="offset points",
                            ha="center", va="bottom", fontsize=NOTE_SIZE, gid="label",
                            color=COLOUR_LOW_COVERAGE if low else COLOUR_TEXT_MUTED)
            else:
                # The gap is explained where it is, at the foot of the axis.
                reason = "confidential" if confidential else "no data"
                ax.annotate(f"{reason}\n{coverage}", (year, 0.02), xycoords=ax.get_xaxis_transform(), ha="center",
                            va="bottom", fontsize=NOTE_SIZE, color=COLOUR_TEXT_MUTED, gid="note")
        handles, labels = [], []
        if low_x:
            ax.plot(low_x, low_y, markersize=6, clip_on=False, gid="low_coverage", **hollow)
            handles.append(Line2D([], [], **hollow))
            labels.append(f"fewer than {data.low_coverage_share:.0%} of member states reported")
        if any(breaks):
            handles.append(Line2D([], [], color=COLOUR_TEXT_MUTED, linestyle=":", linewidth=1.0))
            labels.append("break in series: other states or another source")
        if handles:
            ax.legend(handles, labels, loc="upper left", frameon=False)
        ax.set_xticks(years, [str(y) for y in years])
        ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=data.decimals == 0))
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.set_ylabel(data.axis_label)
        ax.set_xlabel("Year (labels: member states reporting / member states)")
        title = ax.set_title(data.title)
        _add_source_line(fig, data.source_line)
        _lay_out(fig, ax, title)
    return fig


def draw_national_chart(data: NationalChartData) -> Figure:
    """Horizontal bars, largest on top; states without a figure are named with the reason, no bar.

    The state names are the y tick labels, top to bottom; the bars' labels have the gid "value", the
    reasons where there is no bar "reason"."""
    with _chart_style("national"):
        fig = _new_figure(NATIONAL_BASE_HEIGHT_MM + NATIONAL_ROW_HEIGHT_MM * len(data.bars))
        ax = fig.add_subplot()
        valued = [(pos, bar.value) for pos, bar in enumerate(data.bars) if bar.value is not None]
        ax.barh([pos for pos, _ in valued], [value for _, value in valued], height=0.65, color=COLOUR_MAIN)
        largest = max(value for _, value in valued)
        ax.set_xlim(0, largest * 1.18 if largest > 0 else 1.0)
        for pos, bar in enumerate(data.bars):
            if bar.value is not None:
                ax.annotate(bar.label, (bar.value, pos), xytext=(3, 0), textcoords="offset points", ha="left",
                            va="center", fontsize=NOTE_SIZE, gid="value")
            else:
                ax.annotate(bar.label, (0, pos), xytext=(3, 0), textcoords="offset points", ha="left", va="center",
                            fontsize=NOTE_SIZE, fontstyle="italic", color=COLOUR_TEXT_MUTED, gid="reason")
        ax.set_yticks(range(len(data.bars)), [bar.state_name for bar in data.bars])
        ax.set_ylim(len(data.bars) - 0.5, -0.5)  # first bar on top
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=data.decimals == 0))
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.set_xlabel(data.axis_label)
        title = ax.set_title(data.title)
        _add_source_line(fig, data.source_line)
        _lay_out(fig, ax, title)
    return fig


def _panel_scale(panel: ProfilePanel) -> tuple[float, list[float]]:
    """The top of a profile panel's y axis, and its ticks: `MaxNLocator(nbins=3)`'s up to there (none
    without a figure). Known before the panel is drawn, so that the layout can measure the tick labels."""
    finite = [v for v in panel.values if math.isfinite(v)]
    top = max(finite) * 1.15 if finite and max(finite) > 0 else 1.0
    ticks = MaxNLocator(nbins=3, integer=panel.decimals == 0).tick_values(0, top) if finite else []
    return top, [float(v) for v in ticks if 0 <= v <= top]


def _draw_panel(ax: Axes, panel: ProfilePanel, years: list[int], top: float, yticks: list[float]) -> None:
    """One crime area of a profile chart: its line (gid "values"), the hollow markers of published
    figures ("published"), and the notes "C" at confidential years or "no figure" ("note")."""
    values = list(panel.values)
    ax.plot(years, values, color=COLOUR_MAIN, linewidth=1.2, marker="o", markersize=2.6, clip_on=False, gid="values")
    hollow = [(y, v) for y, v, p in zip(years, values, panel.published, strict=True) if p and math.isfinite(v)]
    if hollow:
        ax.plot([y for y, _ in hollow], [v for _, v in hollow], linestyle="none", marker="o", markersize=3.6,
                markerfacecolor="white", markeredgecolor=COLOUR_LOW_COVERAGE, markeredgewidth=1.0, clip_on=False,
                gid="published")
    for y, confidential in zip(years, panel.confidential, strict=True):
        if confidential:
            ax.annotate("C", (y, 0.03), xycoords=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=6,
                        color=COLOUR_TEXT_MUTED, gid="note")
    if not yticks:
        ax.text(0.5, 0.5, "no figure", transform=ax.transAxes, ha="center", va="center", fontsize=NOTE_SIZE,
                fontstyle="italic", color=COLOUR_TEXT_MUTED, gid="note")
    ax.set_ylim(0, top)
    ax.set_yticks(yticks, [_compact(v, None) for v in yticks])
    ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)
    ticks = [years[0], years[-1]] if len(years) > 1 else years
    ax.set_xticks(ticks, [str(y) for y in ticks])
    ax.set_title(panel.title)
    ax.set_ylabel(panel.axis_label)


def _profile_grid(fig: Figure, data: ProfileChartData, yticks: list[list[float]], n_rows: int) -> dict[str, float]:
    """The margins and spaces of the panels' grid (`GridSpec` parameters): each panel gets room for the
    widest of the panels' y labels and tick labels on its left, for a title above and for the year
    labels below, with `LAYOUT_PAD_INCH` around each; the chart's title takes the top, the
    source line the foot. Measured with the renderer's text extents: a layout engine would lay out
    every panel's ticks and texts once more before they are drawn, about a quarter of a profile's cost."""
    renderer = fig.canvas.get_renderer()
    points = fig.dpi / 72
    rc = matplotlib.rcParams  # the profile's style (`KIND_STYLES`)
    tick_size, title_size, label_size = rc["ytick.labelsize"], rc["axes.titlesize"], rc["axes.labelsize"]

    def size(text: str, fontsize: float) -> tuple[float, float]:
        width, height, _ = renderer.get_text_width_height_descent(text, FontProperties(size=fontsize), ismath=False)
        return width, height

    width, height = fig.bbox.width, fig.bbox.height
    pad = LAYOUT_PAD_INCH * fig.dpi
    line = size("lp", tick_size)[1]  # the height of a line of tick labels (what matplotlib lays out)
    tick_room = (rc["ytick.major.size"] + rc["ytick.major.pad"]) * points
    left = max(
        size("lp", label_size)[1] + rc["axes.labelpad"] * points
        + max((size(_compact(v, None), tick_size)[0] + tick_room for v in ticks), default=0.0)
        for ticks in yticks
    )
    year_width = size(str(data.years[-1]), tick_size)[0]
    panel_width = width / PROFILE_COLUMNS - 2 * pad - left
    right = max(0.0, year_width / 2 - panel_width / (2 * len(data.years)))
    panel_width = (width - PROFILE_COLUMNS * (2 * pad + left + right)) / PROFILE_COLUMNS
    above = size("lp", title_size)[1] + rc["axes.titlepad"] * points
    below = tick_room + line
    top_reserved = size(data.title, rc["figure.titlesize"])[1] + 2 * pad
    source = SOURCE_LINE_HEIGHT_MM / MM_PER_INCH * fig.dpi
    panel_height = (height - top_reserved - source - n_rows * (2 * pad + above + below)) / n_rows
    return {
        "left": (pad + left) / width, "right": 1 - (pad + right) / width,
        "wspace": (2 * pad + left + right) / panel_width,
        "top": 1 - (top_reserved + pad + above) / height, "bottom": (source + pad + below) / height,
        "hspace": (2 * pad + above + below) / panel_height,
    }


def draw_profile_chart(data: ProfileChartData) -> Figure:
    """Small multiples: one panel (Axes) per crime area, each on its own scale from zero and in its own unit.

    A missing year is a gap (and a year alone between gaps still shows as a marker); a figure from
    published data is a hollow marker; a confidential year gets a "C" at the foot of the panel.
    """
    with _chart_style("profile"):
        fig = _new_figure(PROFILE_HEIGHT_MM, tight=False)
        n_rows = math.ceil(len(data.panels) / PROFILE_COLUMNS)
        scales = [_panel_scale(panel) for panel in data.panels]
        axes = fig.subplots(n_rows, PROFILE_COLUMNS, squeeze=False,
                            gridspec_kw=_profile_grid(fig, data, [ticks for _, ticks in scales], n_rows)).flat
        for index, ax in enumerate(axes):
            if index < len(data.panels):
                _draw_panel(ax, data.panels[index], list(data.years), *scales[index])
            else:
                ax.remove()
        # The title at the top left, the pad above it.
        pad = LAYOUT_PAD_INCH * fig.dpi
        fig.suptitle(data.title, x=0.01, y=1 - pad / fig.bbox.height, ha="left", va="top")
        if any(any(panel.published) for panel in data.panels):
            handle = Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                            markeredgecolor=COLOUR_LOW_COVERAGE, markeredgewidth=1.0, markersize=4)
            # Top right, level with the title: the foot of the figure holds the source line.
            fig.legend([handle], ["from published data"], loc="upper right", bbox_to_anchor=(0.995, 0.995),
                       frameon=False, fontsize=NOTE_SIZE, borderpad=0.2)
        _add_source_line(fig, data.source_line)
    return fig


def _draw_and_save(job: ChartJob) -> Path:
    """Draw a chart and write it as PNG, atomically, without the software's name (the same data give the
    same bytes). Module-level so `ProcessPoolExecutor` can pickle it; takes and returns plain data only."""
    draw = {"trend": draw_trend_chart, "national": draw_national_chart, "profile": draw_profile_chart}[job.kind]
    buffer = io.BytesIO()
    with _chart_style(job.kind):
        draw(job.data).savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})  # type: ignore[operator]
    return write_atomically(job.path, buffer.getvalue())


# -- drawing many, in this process or in a process pool --------------------------------------------
# Relative cost of drawing each kind (a profile's twelve Axes cost about three trend charts): the pool
# gets the dearest first, so no worker is left with a long one at the end.
_COST = {"profile": 3, "national": 1, "trend": 1}


class PendingCharts:
    """Charts being drawn (see `start_charts`); `wait()` gives {key: path} once all are written.

    More than `PARALLEL_CHART_THRESHOLD` charts are handed at once to a pool of min(2, cpu_count)
    worker processes; fewer are drawn in this process by `wait()`. A pool that cannot be started, or
    whose worker died, leaves its charts to be drawn in this process: the run goes on.

    Also a context manager: leaving the block normally waits for the charts, leaving it with an
    exception cancels them (the pool is shut down; charts already written stay).
    """

    def __init__(self, jobs: dict[str, ChartJob]) -> None:
        self._jobs = dict(jobs)
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[Future, ChartJob] = {}
        self._finished = not self._jobs
        if len(self._jobs) > PARALLEL_CHART_THRESHOLD:
            try:
                # "spawn": workers start from a clean interpreter (no caller's threads, locks or rcParams).
                self._pool = ProcessPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1)),
                                                 mp_context=multiprocessing.get_context("spawn"))
                for job in sorted(self._jobs.values(), key=lambda job: -_COST[job.kind]):
                    self._futures[self._pool.submit(_draw_and_save, job)] = job
            except OSError as err:
                log.warning("The charts are drawn in this process: no worker process could be started (%s).", err)
                self.cancel()
                self._futures = {}

    @property
    def paths(self) -> dict[str, Path]:
        """{key: path} of every chart with data: the files `wait()` leaves (they may not all be there yet)."""
        return {name: job.path for name, job in self._jobs.items()}

    def wait(self) -> dict[str, Path]:
        """Block until every chart is written; {key: path} of all the charts with data. A chart that
        failed to draw raises its exception here, after the pool is shut down."""
        if not self._finished:
            try:
                if not self._futures:
                    for job in self._jobs.values():
                        _draw_and_save(job)
                lost = []
                for future, job in self._futures.items():
                    try:
                        future.result()
                    except BrokenProcessPool:
                        lost.append(job)
                if lost:
                    log.warning("A chart worker process ended unexpectedly; %d chart(s) are drawn in this process.",
                                len(lost))
                    for job in lost:
                        _draw_and_save(job)
            finally:
                self.cancel()
            self._finished = True
        return self.paths

    def cancel(self) -> None:
        """Stop drawing: charts not started are dropped, the pool (if any) is shut down. Idempotent."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> PendingCharts:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.wait()
        else:
            self.cancel()


def chart_jobs(regional: pd.DataFrame, country: pd.DataFrame, ref: Reference, year: int,
               out_dir: Path, settings: Settings | None = None) -> dict[str, ChartJob]:
    """Every chart that has data, keyed `trend_<CATEGORY>` / `national_<CATEGORY>` in category order,
    then `profile_<ISO3>` for each member state of `year` in the reference's order."""
    out_dir = Path(out_dir)
    jobs: dict[str, ChartJob] = {}
    regional = ensure_columns(regional, REGIONAL_COLUMNS)
    country = ensure_columns(country, COUNTRY_COLUMNS)
    for category in ref.categories:
        trend = trend_chart_data(regional, ref, category, settings, year)
        if trend is not None:
            jobs[f"trend_{category.code}"] = ChartJob("trend", trend, out_dir / f"trend_{category.code}.png")
        national = national_chart_data(country, ref, category, year, settings)
        if national is not None:
            jobs[f"national_{category.code}"] = ChartJob("national", national, out_dir / f"national_{category.code}.png")
    for iso3 in ref.members_in(year):
        profile = profile_chart_data(country, ref, iso3, year, settings)
        if profile is not None:
            jobs[f"profile_{iso3}"] = ChartJob("profile", profile, out_dir / f"profile_{iso3}.png")
    return jobs


def start_charts(regional: pd.DataFrame, country: pd.DataFrame, ref: Reference, year: int,
                 out_dir: Path, settings: Settings | None = None) -> PendingCharts:
    """Start writing the PNG of every chart that has data into `out_dir`; returns at once, so the caller
    can do other work meanwhile. `.wait()` on the result gives what `render_charts` returns."""
    return PendingCharts(chart_jobs(regional, country, ref, year, out_dir, settings))


def render_charts(regional: pd.DataFrame, country: pd.DataFrame, ref: Reference, year: int,
                  out_dir: Path, settings: Settings | None = None) -> dict[str, Path]:
    """Write the PNG of every chart that has data into `out_dir`; return {key: path} of those written.

    Charts without data are skipped (the report then shows the tables only): a trend and a national
    chart per crime area, and a profile chart per member state of `year`. The same as
    `start_charts(...).wait()`.
    """
    return start_charts(regional, country, ref, year, out_dir, settings).wait()
