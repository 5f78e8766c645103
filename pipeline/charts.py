"""Charts: a regional trend chart and a national chart per crime category, and a profile chart per
member state, as PNG files.

Inputs (pandas DataFrames, the aggregate stage's contract; no other columns are assumed):
- `regional`: indicator, breakdown, year, total, n_reporting, n_expected, flags (+ others unused here).
- `country`: country_iso3, indicator, breakdown, year, value, status, rate_per_100k, flags, origin,
  source (+ others unused).
Output: `render_charts()` writes `trend_<CATEGORY>.png`, `national_<CATEGORY>.png` and
`profile_<ISO3>.png` into `out_dir` and returns `{"trend_<CATEGORY>": path, "national_<CATEGORY>": path,
"profile_<ISO3>": path, ...}` for the charts it wrote.

A chart with no data at all is skipped, not drawn empty. Missing is never drawn as zero: a year
without a regional total is a gap in the line, and a state without a value gets the words
"not available" (or "not applicable", "confidential") instead of a bar; a real 0 is a zero bar.

A profile chart is a small multiple: one panel per crime area with the state's headline figure
over the last years, each panel in its own unit; a figure from published data (UNODC, Eurostat) is
a hollow marker, a confidential year a "C" at the foot of the panel.

One style for all: the Okabe-Ito colour-blind-safe palette, DejaVu Sans, drawn at the A4 text width
at 200 dpi, units on the axes and a source line under each chart.

Drawing is split from data selection: `*_chart_data()` turns frames into small frozen dataclasses of
plain tuples, `draw_*_chart()` turns those into a `matplotlib.figure.Figure` (never pyplot, so no
global figure state), and `_draw_and_save()` is module-level so a process pool can run it.
Nothing here reads inputs or knows about the report.
"""

from __future__ import annotations

import math
import multiprocessing
import numbers
import os
import tempfile
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Context, Decimal
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

import pandas as pd

from pipeline.reference import TOTAL, Category, Indicator, Reference
from pipeline.settings import DEFAULT_SETTINGS, Settings

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from pipeline.cache import BlobCache

# matplotlib is imported by the functions that draw (0.35 s): a run whose charts all come from the
# cache, and the parent process of the pool, never pay for it.

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

# Above this many charts a process pool pays for its start-up (about 0.4 s per worker for imports,
# about 0.13 s per chart): measured in docs/libraries.md section 4.
PARALLEL_CHART_THRESHOLD = 15

# Deterministic look whatever the caller did to the global rcParams: every drawing starts from
# matplotlib's defaults plus these, inside an rc_context that is undone afterwards.
_CHART_RC = {
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


# -- small helpers ---------------------------------------------------------------------------------
def _text(value: object) -> str:
    """Flags and statuses may arrive as NaN from pandas; treat those as empty text."""
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
    regional: pd.DataFrame, ref: Reference, category: Category, settings: Settings = DEFAULT_SETTINGS, year: int | None = None
) -> TrendChartData | None:
    """The headline indicator's regional total (breakdown TOTAL) over the last `settings.trend_years`
    years up to `year` (default: the latest in `regional`), from the first of them with a total.

    Years without a total after that stay in the chart as gaps. Returns None when no year has a
    total: there is nothing to draw.
    """
    indicator = ref.indicator_by_code[category.headline]
    rows = regional[(regional["indicator"] == indicator.code) & (regional["breakdown"] == TOTAL)]
    by_year = {int(r.year): r for r in rows.itertuples(index=False)}
    all_years = sorted(int(y) for y in regional["year"].dropna().unique()) if len(regional) else []
    last = year if year is not None else (all_years[-1] if all_years else 0)
    window = [y for y in all_years if last - settings.trend_years < y <= last]
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
    sources = sorted({s for y in years if y in by_year for s in _text(getattr(by_year[y], "history_sources", "")).split(";") if s})
    return TrendChartData(
        title=f"{indicator.label}: regional total, {years[0]}–{years[-1]}",
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
    )


def national_chart_data(
    country: pd.DataFrame, ref: Reference, category: Category, year: int, settings: Settings = DEFAULT_SETTINGS
) -> NationalChartData | None:
    """The year's national rates per 100,000 (or values, when the unit takes no rate), one bar per state.

    Every member state of the year is listed; states without a figure are listed with the reason
    and no bar. Returns None when no state has a figure.
    """
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
    country: pd.DataFrame, ref: Reference, iso3: str, year: int, settings: Settings = DEFAULT_SETTINGS
) -> ProfileChartData | None:
    """One member state's headline figure of each crime area (breakdown TOTAL) over the last
    `settings.trend_years` years up to `year`, from its first year of membership and from the first
    year with any figure. Returns None when the state has no figure in any of those years.

    The values are the state's own (never rates: one state, one population); a confidential figure is
    never carried, only the fact that it is confidential.
    """
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
        title=f"{state.name}: headline indicator of each crime area, {years[0]}–{years[-1]}",
        years=tuple(years),
        panels=panels,
        source_line=settings.source_line + (f"; published data: {'; '.join(sorted(sources))}" if sources else ""),
    )


# -- drawing ---------------------------------------------------------------------------------------
def _new_figure(height_mm: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_mm_to_inches(CHART_WIDTH_MM), _mm_to_inches(height_mm)), dpi=DPI)
    FigureCanvasAgg(fig)
    # Keep a strip at the bottom free for the source line, which the layout engine does not see.
    source_share = SOURCE_LINE_HEIGHT_MM / height_mm
    fig.set_layout_engine("constrained", rect=(0, source_share, 1, 1 - source_share))
    return fig


def _add_source_line(fig: Figure, source_line: str) -> None:
    fig.text(0.01, 0.012, source_line, ha="left", va="bottom", fontsize=6.5, color=COLOUR_TEXT_MUTED)


def _thousands(value: float, _position: object) -> str:
    """Axis ticks: "12,000" for large values, "0.25" for small ones (never scientific notation)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


def draw_trend_chart(data: TrendChartData) -> Figure:
    """Line of regional totals; a NaN total is a gap (matplotlib breaks the line at NaN, no interpolation).

    Each point is labelled "n/N" (states reporting of member states) and its flags; points below the
    coverage threshold get a hollow vermillion marker.
    """
    import matplotlib
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(_CHART_RC)
        fig = _new_figure(TREND_HEIGHT_MM)
        ax = fig.add_subplot()
        years = list(data.years)
        totals = list(data.totals)
        # Markers as well as the line, so a year between two gaps is still visible.
        # clip_on=False: a real 0 sits on the axis and must show as a whole marker.
        ax.plot(
            years, totals, color=COLOUR_MAIN, marker="o", markersize=4, linewidth=1.6,
            label="Regional total", clip_on=False,
        )
        finite = [t for t in totals if math.isfinite(t)]
        top = max(finite) if finite else 0.0
        # Headroom above the highest point for its label and the legend.
        ax.set_ylim(0, top * 1.45 if top > 0 else 1.0)
        low_coverage_seen = False
        for year, total, n, big_n, flags, confidential in zip(
            years, totals, data.n_reporting, data.n_expected, data.flags, data.is_confidential, strict=True
        ):
            coverage = f"{n}/{big_n}"
            if math.isfinite(total):
                low = big_n > 0 and n / big_n < data.low_coverage_share
                if low:
                    low_coverage_seen = True
                    ax.plot(
                        [year], [total], linestyle="none", marker="o", markersize=6,
                        markerfacecolor="white", markeredgecolor=COLOUR_LOW_COVERAGE, markeredgewidth=1.4,
                        clip_on=False,
                    )
                label = f"{coverage} {flags}".strip()
                ax.annotate(
                    label, (year, total), xytext=(0, 6), textcoords="offset points",
                    ha="center", va="bottom", fontsize=6.5,
                    color=COLOUR_LOW_COVERAGE if low else COLOUR_TEXT_MUTED,
                )
            else:
                # The gap is explained where it is, at the foot of the axis.
                reason = "confidential" if confidential else "no data"
                ax.annotate(
                    f"{reason}\n{coverage}", (year, 0.02), xycoords=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=6.5, color=COLOUR_TEXT_MUTED,
                )
        ax.set_xticks(years)
        ax.set_xticklabels([str(y) for y in years])
        ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=data.decimals == 0))
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.set_ylabel(data.axis_label)
        ax.set_xlabel("Year (labels: member states reporting / member states)")
        ax.set_title(data.title, loc="left")
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        if low_coverage_seen:
            handle = Line2D(
                [], [], linestyle="none", marker="o", markerfacecolor="white",
                markeredgecolor=COLOUR_LOW_COVERAGE, markeredgewidth=1.4,
            )
            share = f"{data.low_coverage_share:.0%}"
            ax.legend([handle], [f"fewer than {share} of member states reported"], loc="upper left", frameon=False)
        _add_source_line(fig, data.source_line)
    return fig


def draw_national_chart(data: NationalChartData) -> Figure:
    """Horizontal bars, largest on top; states without a figure are named with the reason, no bar."""
    import matplotlib
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(_CHART_RC)
        height = NATIONAL_BASE_HEIGHT_MM + NATIONAL_ROW_HEIGHT_MM * len(data.bars)
        fig = _new_figure(height)
        ax = fig.add_subplot()
        positions = list(range(len(data.bars)))
        valued = [(pos, bar) for pos, bar in zip(positions, data.bars, strict=True) if bar.value is not None]
        ax.barh(
            [pos for pos, _ in valued], [bar.value for _, bar in valued],
            height=0.65, color=COLOUR_MAIN,
        )
        largest = max((bar.value or 0.0) for _, bar in valued)
        right = largest * 1.18 if largest > 0 else 1.0
        ax.set_xlim(0, right)
        for pos, bar in zip(positions, data.bars, strict=True):
            if bar.value is not None:
                ax.annotate(
                    bar.label, (bar.value, pos), xytext=(3, 0), textcoords="offset points",
                    ha="left", va="center", fontsize=6.5,
                )
            else:
                ax.annotate(
                    bar.label, (0, pos), xytext=(3, 0), textcoords="offset points",
                    ha="left", va="center", fontsize=6.5, fontstyle="italic", color=COLOUR_TEXT_MUTED,
                )
        ax.set_yticks(positions)
        ax.set_yticklabels([bar.state_name for bar in data.bars])
        ax.set_ylim(len(data.bars) - 0.5, -0.5)  # first bar on top
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=data.decimals == 0))
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.set_xlabel(data.axis_label)
        ax.set_title(data.title, loc="left")
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.tick_params(axis="y", length=0)
        _add_source_line(fig, data.source_line)
    return fig


def _compact(value: float, _position: object) -> str:
    """Small-panel ticks: "12k", "1.5M", "250", "0.5"."""
    magnitude = abs(value)
    if magnitude >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if magnitude >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:,.0f}" if magnitude >= 1000 else f"{value:g}"


def draw_profile_chart(data: ProfileChartData) -> Figure:
    """Small multiples: one panel per crime area, each on its own scale from zero and in its own unit.

    A missing year is a gap (and a year alone between gaps still shows as a marker); a figure from
    published data is a hollow marker; a confidential year gets a "C" at the foot of the panel.
    """
    import matplotlib
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(_CHART_RC)
        fig = _new_figure(PROFILE_HEIGHT_MM)
        n_rows = math.ceil(len(data.panels) / PROFILE_COLUMNS)
        axes = fig.subplots(n_rows, PROFILE_COLUMNS, squeeze=False)
        years = list(data.years)
        published_seen = False
        for index, ax in enumerate(axes.flat):
            if index >= len(data.panels):
                ax.set_axis_off()
                continue
            panel = data.panels[index]
            values = list(panel.values)
            ax.plot(years, values, color=COLOUR_MAIN, linewidth=1.2, marker="o", markersize=2.6, clip_on=False)
            hollow = [(y, v) for y, v, p in zip(years, values, panel.published, strict=True) if p and math.isfinite(v)]
            if hollow:
                published_seen = True
                ax.plot(
                    [y for y, _ in hollow], [v for _, v in hollow], linestyle="none", marker="o", markersize=3.6,
                    markerfacecolor="white", markeredgecolor=COLOUR_LOW_COVERAGE, markeredgewidth=1.0, clip_on=False,
                )
            for y, confidential in zip(years, panel.confidential, strict=True):
                if confidential:
                    ax.annotate("C", (y, 0.03), xycoords=ax.get_xaxis_transform(), ha="center", va="bottom",
                                fontsize=6, color=COLOUR_TEXT_MUTED)
            finite = [v for v in values if math.isfinite(v)]
            top = max(finite) if finite else 0.0
            ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
            if not finite:
                ax.text(0.5, 0.5, "no figure", transform=ax.transAxes, ha="center", va="center",
                        fontsize=6.5, fontstyle="italic", color=COLOUR_TEXT_MUTED)
                ax.set_yticks([])
            else:
                ax.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=panel.decimals == 0))
                ax.yaxis.set_major_formatter(FuncFormatter(_compact))
            ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)
            ticks = [years[0], years[-1]] if len(years) > 1 else years
            ax.set_xticks(ticks)
            ax.set_xticklabels([str(y) for y in ticks])
            ax.tick_params(labelsize=6, length=2, pad=1.5)
            ax.set_title(panel.title, loc="left", fontsize=6.8, pad=2)
            ax.set_ylabel(panel.axis_label, fontsize=6, labelpad=1.5)
            ax.grid(axis="y", color="#dddddd", linewidth=0.5)
            ax.set_axisbelow(True)
        fig.suptitle(data.title, x=0.01, ha="left", fontsize=9)
        if published_seen:
            handle = Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                            markeredgecolor=COLOUR_LOW_COVERAGE, markeredgewidth=1.0, markersize=4)
            # Top right, level with the title: the foot of the figure holds the source line.
            fig.legend([handle], ["from published data"], loc="upper right", bbox_to_anchor=(0.995, 0.995),
                       frameon=False, fontsize=6.5, borderpad=0.2)
        _add_source_line(fig, data.source_line)
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    """Write `fig` as PNG at `path`, atomically, with no software/date metadata (identical bytes per run)."""
    import matplotlib

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        with matplotlib.rc_context():
            matplotlib.rcdefaults()
            matplotlib.rcParams.update(_CHART_RC)
            fig.savefig(tmp_name, format="png", dpi=DPI, metadata={"Software": None})
        os.chmod(tmp_name, 0o644)  # mkstemp creates 0600
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _draw_and_save(job: ChartJob) -> Path:
    """Module-level so `ProcessPoolExecutor` can pickle it; takes and returns plain data only."""
    if job.kind == "trend":
        fig = draw_trend_chart(job.data)  # type: ignore[arg-type]
    elif job.kind == "profile":
        fig = draw_profile_chart(job.data)  # type: ignore[arg-type]
    else:
        fig = draw_national_chart(job.data)  # type: ignore[arg-type]
    return save_png(fig, job.path)


# Relative cost of drawing each kind (measured: a profile's twelve panels ~0.5 s, the others ~0.15 s):
# the pool gets the dearest first, so no worker is left with a profile at the end while the other idles.
_COST = {"profile": 3, "national": 1, "trend": 1}


def _run_jobs(jobs: Sequence[ChartJob]) -> list[Path]:
    if len(jobs) <= PARALLEL_CHART_THRESHOLD:
        return [_draw_and_save(job) for job in jobs]
    workers = max(1, min(2, os.cpu_count() or 1))
    order = sorted(range(len(jobs)), key=lambda i: -_COST.get(jobs[i].kind, 1))
    # "spawn": workers start clean (no forked threads or caller's rcParams), so their PNGs are the
    # same bytes as a serial run's. chunksize 1: the jobs are few and uneven.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        drawn = list(pool.map(_draw_and_save, [jobs[i] for i in order], chunksize=1))
    paths: list[Path] = [Path()] * len(jobs)
    for i, path in zip(order, drawn, strict=True):
        paths[i] = path
    return paths


_KEY_CONTEXT: tuple | None = None


def chart_key(job: ChartJob) -> str:
    """The cache key of a chart: its kind and data, and everything else that decides its PNG bytes
    (this module's source, crimetrends, matplotlib and numpy versions)."""
    from pipeline import __version__
    from pipeline.cache import digest, library_versions, source_hash

    global _KEY_CONTEXT
    if _KEY_CONTEXT is None:
        _KEY_CONTEXT = (__version__, source_hash("charts"), library_versions("matplotlib", "numpy", "pillow"))
    return digest("chart", _KEY_CONTEXT, job.kind, repr(job.data))


def chart_jobs(
    regional: pd.DataFrame,
    country: pd.DataFrame,
    ref: Reference,
    year: int,
    out_dir: Path,
    settings: Settings = DEFAULT_SETTINGS,
) -> dict[str, ChartJob]:
    """Every chart that has data, keyed `trend_<CATEGORY>` / `national_<CATEGORY>` in category order,
    then `profile_<ISO3>` for each member state of `year` in the reference's order."""
    jobs: dict[str, ChartJob] = {}
    regional = ensure_columns(regional, REGIONAL_COLUMNS)
    country = ensure_columns(country, COUNTRY_COLUMNS)
    for category in ref.categories:
        trend = trend_chart_data(regional, ref, category, settings, year)
        if trend is not None:
            key = f"trend_{category.code}"
            jobs[key] = ChartJob("trend", trend, out_dir / f"{key}.png")
        national = national_chart_data(country, ref, category, year, settings)
        if national is not None:
            key = f"national_{category.code}"
            jobs[key] = ChartJob("national", national, out_dir / f"{key}.png")
    for iso3 in ref.members_in(year):
        profile = profile_chart_data(country, ref, iso3, year, settings)
        if profile is not None:
            key = f"profile_{iso3}"
            jobs[key] = ChartJob("profile", profile, out_dir / f"{key}.png")
    return jobs


def render_charts(
    regional: pd.DataFrame,
    country: pd.DataFrame,
    ref: Reference,
    year: int,
    out_dir: Path,
    settings: Settings = DEFAULT_SETTINGS,
    cache: BlobCache | None = None,
) -> dict[str, Path]:
    """Write the PNG of every chart that has data into `out_dir`; return {key: path} of those written.

    Charts without data are skipped (the report then shows the tables only): a trend and a national
    chart per crime area, and a profile chart per member state of `year`. More than
    `PARALLEL_CHART_THRESHOLD` charts to draw are drawn in a pool of min(2, cpu_count) processes.
    With a `cache` (`pipeline.cache.BlobCache`), a chart whose data and drawing code are unchanged is
    copied from it (the same bytes drawing would give), and every chart drawn is put in it.
    """
    jobs = chart_jobs(regional, country, ref, year, Path(out_dir), settings)
    keys = {name: chart_key(job) for name, job in jobs.items()} if cache is not None else {}
    to_draw = [name for name in jobs if cache is None or not cache.copy_to(keys[name], jobs[name].path)]
    drawn = _run_jobs([jobs[name] for name in to_draw])
    if cache is not None:
        for name, path in zip(to_draw, drawn, strict=True):
            cache.put(keys[name], path.read_bytes())
    return {name: job.path for name, job in jobs.items()}
