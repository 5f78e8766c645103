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
plain tuples, `draw_*_chart()` turns those into a `matplotlib.figure.Figure` (never pyplot, so no
global figure state), and `_draw_and_save()` is module-level so a process pool can run it.
Nothing here reads inputs or knows about the report. The PNG bytes depend only on the chart's data
(and the library versions): the same in every run, serially or in the pool.
"""

from __future__ import annotations

import gc
import logging
import math
import multiprocessing
import numbers
import os
import struct
import sys
import threading
import time
import zlib
from collections.abc import Sequence
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Context, Decimal
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from pipeline.atomic import write_atomically
from pipeline.frames import frame_rows

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from pipeline.cache import BlobCache
    from pipeline.reference import Category, Indicator, Reference
    from pipeline.settings import Settings

# matplotlib is imported by the functions that draw (0.35 s): a run whose charts all come from the
# cache, and the parent process of the pool, never pay for it. pandas, the reference and the
# settings (which import pandas) are imported by the functions that select data: a pool worker,
# which only draws, starts without them (0.3 s).

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

# Above this many charts to draw, a process pool pays for its start-up: about 0.5 s of CPU (Python,
# matplotlib and the font, in the fork server or in each spawned worker; overlapped with the
# caller's work by `start_charts`) against 0.05-0.08 s per chart.
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

    @property
    def height_mm(self) -> float:
        """The chart's height on the page (its width is `CHART_WIDTH_MM`)."""
        if self.kind == "national":
            return NATIONAL_BASE_HEIGHT_MM + NATIONAL_ROW_HEIGHT_MM * len(self.data.bars)  # type: ignore[union-attr]
        return PROFILE_HEIGHT_MM if self.kind == "profile" else TREND_HEIGHT_MM

    @property
    def pixel_size(self) -> tuple[int, int]:
        """(width, height) of its PNG in pixels, known before it is drawn: the figure's size at `DPI`,
        cut to whole pixels as Agg cuts it (`FigureCanvasAgg.get_width_height`)."""
        return int(_mm_to_inches(CHART_WIDTH_MM) * DPI), int(_mm_to_inches(self.height_mm) * DPI)


# -- small helpers ---------------------------------------------------------------------------------
def _text(value: object) -> str:
    """Flags and statuses may arrive as NaN from pandas; treat those as empty text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    import pandas as pd

    return "" if value is pd.NA else str(value)


def ensure_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`frame`, or a copy with absent columns added empty: an empty `pd.DataFrame()` means "no rows"."""
    missing = [column for column in columns if column not in frame.columns]
    if not missing:
        return frame
    import pandas as pd

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


def _settings(settings: Settings | None) -> Settings:
    if settings is None:
        from pipeline.settings import DEFAULT_SETTINGS

        return DEFAULT_SETTINGS
    return settings


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
    from pipeline.reference import TOTAL

    settings = _settings(settings)
    indicator = ref.indicator_by_code[category.headline]
    rows = regional[(regional["indicator"] == indicator.code) & (regional["breakdown"] == TOTAL)]
    by_year = {int(r.year): r for r in frame_rows(rows)}
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
    country: pd.DataFrame, ref: Reference, category: Category, year: int, settings: Settings | None = None
) -> NationalChartData | None:
    """The year's national rates per 100,000 (or values, when the unit takes no rate), one bar per state.

    Every member state of the year is listed; states without a figure are listed with the reason
    and no bar. Returns None when no state has a figure.
    """
    from pipeline.reference import TOTAL

    settings = _settings(settings)
    indicator = ref.indicator_by_code[category.headline]
    plots_rate = indicator.takes_rate
    decimals = _decimals_for(indicator, plots_rate)
    rows = country[
        (country["indicator"] == indicator.code) & (country["breakdown"] == TOTAL) & (country["year"] == year)
    ]
    by_state = {str(r.country_iso3): r for r in frame_rows(rows)}

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
    from pipeline.reference import TOTAL

    settings = _settings(settings)
    state = ref.state_by_iso3[iso3]
    first = max(year - settings.trend_years + 1, state.member_from)
    window = list(range(first, year + 1))
    rows = country[(country["country_iso3"] == iso3) & (country["breakdown"] == TOTAL)]
    by_key = {(str(r.indicator), int(r.year)): r for r in frame_rows(rows) if _is_number(r.year)}
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
# Where the time goes (a chart is ~15-60 ms of CPU, mostly matplotlib's): text (shaping a string
# costs ~0.4 ms, rendering a glyph ~0.04 ms, and every measurement of a Text re-reads the font's
# tables), building artists (an Axes with its ticks ~5-15 ms) and the PNG encoding. Hence:
# - no layout engine: constrained layout measured every text of a chart several times, about half
#   its cost. The margins are computed once here, with constrained layout's padding, from the
#   measured extents of what sticks out of the plotting area (`_Plot.fit`, `_profile_boxes`);
# - a renderer that memoises the text work for the life of the process (`_build_matplotlib`): most
#   strings recur from chart to chart (years, units, panel titles, the source line). Each memo is a
#   pure function of its key, so the pixels are exactly those matplotlib draws without it;
# - no Axes: the profile's twelve panels (`_Panel`) and the plotting area of the trend and national
#   charts (`_Plot`) are drawn from plain lines, rectangles and texts in pixel coordinates, placed
#   where an Axes put them (same pixels);
# - the PNG is encoded here (`_png_bytes`).
POINTS_PER_INCH = 72.0
# Space around the decorations, at the figure's edge and between panels: constrained layout's
# default pad (figure.constrained_layout.w_pad/h_pad, 3/72 inch).
LAYOUT_PAD_PT = 3.0
# zlib level for the PNG (no row filter): charts are mostly flat colour, so a fast level is small
# already (smaller than Pillow's level 6 with adaptive filters).
PNG_COMPRESS_LEVEL = 2
try:
    # zlib-ng: zlib's format and levels, with SIMD. The 37 charts of the sample (99 MB of pixels) in 93
    # ms of CPU, 3.2 MB, where zlib takes 240 ms at level 1 for 3.4 MB. Not ISA-L, faster still (41 ms,
    # 3.6 MB): its output for the same pixels was now and then another valid stream (`output_files.DEFLATER`).
    from zlib_ng.zlib_ng import compress as _deflate
except ImportError:  # a platform without its wheel: zlib, slower, the same pixels
    from zlib import compress as _deflate

# Profile panels (points): what `tick_params(labelsize=6, length=2, pad=1.5)`, a title at 6.8 pt with
# pad 2 and a y label at 6 pt with labelpad 1.5 gave on an Axes.
PANEL_TICK_LENGTH_PT = 2.0
PANEL_TICK_PAD_PT = 1.5
PANEL_TICK_LABEL_SIZE = 6
PANEL_TITLE_SIZE = 6.8
PANEL_TITLE_PAD_PT = 2.0
PANEL_AXIS_LABEL_SIZE = 6
PANEL_LABEL_PAD_PT = 1.5
# The matplotlib defaults the panels reproduce (axes.linewidth, x/ytick.major.width).
SPINE_WIDTH_PT = 0.8
TICK_WIDTH_PT = 0.8
GRID_COLOUR = "#dddddd"
# State names left of the national bars: a y tick label's distance from the axis (ytick.major.pad).
NATIONAL_NAME_PAD_PT = 3.5

# rcParams that are no part of a chart's look, left as the caller has them (matplotlib's own
# STYLE_BLACKLIST: what rcdefaults() leaves alone).
_RC_UNTOUCHED = frozenset({
    "backend", "backend_fallback", "interactive", "toolbar", "timezone", "figure.max_open_warning",
    "figure.raise_window", "savefig.directory", "tk.window_focus", "docstring.hardcopy", "date.epoch",
    "webagg.port", "webagg.address", "webagg.port_retries", "webagg.open_in_browser",
})
# The memoised text work grows with the distinct strings drawn; a bound for long-lived processes.
_TEXT_MEMO_LIMIT = 100_000

_MATPLOTLIB: SimpleNamespace | None = None
_STYLE_DEPTH = 0  # > 0 inside _chart_style()


def _mpl() -> SimpleNamespace:
    """matplotlib and the helpers built on it: imported and built on first use, once per process."""
    global _MATPLOTLIB
    if _MATPLOTLIB is None:
        _MATPLOTLIB = _build_matplotlib()
    return _MATPLOTLIB


def _build_matplotlib() -> SimpleNamespace:
    import matplotlib
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
    from matplotlib.figure import Figure
    from matplotlib.font_manager import fontManager, get_font
    try:
        # Private FreeType calls the glyph memo below uses (matplotlib 3.10-3.11); without them, text is
        # drawn by RendererAgg itself (same pixels, slower).
        from matplotlib.ft2font import FT2Font, RenderMode

        glyph_memo = all(hasattr(FT2Font, name) for name in ("_layout", "_render_glyph", "_set_transform"))
    except ImportError:
        RenderMode, glyph_memo = None, False
    from matplotlib.lines import TICKDOWN, TICKLEFT, Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.text import Text
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import Affine2D, Bbox, IdentityTransform

    metrics: dict = {}  # (string, font, dpi, hinting) -> (width, height, descent)
    heights: dict = {}  # (font, dpi) -> (ascent, descent, line gap) of the font
    layouts: dict = {}  # (string, font, features, language, hinting) -> glyphs
    bitmaps: dict = {}  # (FT2Font, size, dpi, glyph, angle, x and y in 1/64 px mod 1 px, mode, hinting) -> bitmap
    rotations: dict = {}  # angle -> (cos, sin, FreeType matrix)

    def forget_fonts() -> None:
        # A forked process must not read glyphs through its parent's FT2Font objects: they share the
        # parent's file offset in the font file, and two processes reading at once get each other's
        # bytes ("FT_Load_Glyph failed: invalid outline"). matplotlib empties its own font cache at a
        # fork for this reason; these memos hold fonts too (in the glyphs of a layout, in the keys of
        # the bitmaps). The measurements (numbers) stay.
        layouts.clear()
        bitmaps.clear()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=forget_fonts)

    def remember(memo: dict, key, value):
        if len(memo) >= _TEXT_MEMO_LIMIT:
            memo.clear()
        memo[key] = value
        return value

    class Renderer(RendererAgg):
        """`RendererAgg` with its text work memoised for the process; the same pixels, as each memo
        is a pure function of its key (the font, size, dpi, hinting and, for a glyph's bitmap, its
        position within the pixel: FreeType rasterises a glyph moved by whole pixels to the same
        bitmap, moved). Only inside `_chart_style()`, where the rcParams that pick the font files are
        always the same; outside it, plain `RendererAgg`."""

        def get_text_width_height_descent(self, s, prop, ismath):
            if ismath or not _STYLE_DEPTH:
                return super().get_text_width_height_descent(s, prop, ismath)
            key = (s, prop.copy(), self.dpi, get_hinting_flag())
            found = metrics.get(key)
            if found is None:
                found = remember(metrics, key, super().get_text_width_height_descent(s, prop, ismath))
            return found

        def _get_font_height_metrics(self, prop):
            # Hook of `Text._get_layout` (matplotlib >= 3.10), which otherwise reads these from the
            # font's tables for every measurement of every Text. The same computation, memoised.
            if not _STYLE_DEPTH:
                return None, None, None  # matplotlib measures itself
            key = (prop.copy(), self.dpi)
            found = heights.get(key)
            if found is None:
                found = (None, None, None)
                font = get_font(fontManager._find_fonts_by_props(prop))
                for table_name, gap_key, ascent_key, descent_key in (
                    ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                    ("hhea", "lineGap", "ascent", "descent"),
                ):
                    table = font.get_sfnt_table(table_name)
                    if table is None:
                        continue
                    scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * self.dpi / 72
                    found = (table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale)
                    break
                remember(heights, key, found)
            return found

        def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
            # RendererAgg.draw_text and _draw_text_glyphs_and_boxes, with the layout of the string and
            # the bitmap of each glyph memoised.
            if ismath or not _STYLE_DEPTH or not glyph_memo:
                return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            flags = get_hinting_flag()
            features = mtext.get_fontfeatures() if mtext is not None else None
            language = mtext.get_language() if mtext is not None else None
            key = (s, prop.copy(), features, language, flags)
            glyphs = layouts.get(key)
            if glyphs is None:
                font = self._prepare_font(prop)
                size = prop.get_size_in_points()
                items = font._layout(s, flags=flags, features=features, language=language)
                glyphs = remember(layouts, key, tuple((item.ft_object, size, item.glyph_index, item.x, item.y)
                                                      for item in items))
            rotation = rotations.get(angle)
            if rotation is None:
                cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
                matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]]) @ [[1, 0], [0, 1]]).round().astype(int)
                rotation = rotations[angle] = (cos, sin, matrix)
            cos, sin, matrix = rotation
            mode = RenderMode.NORMAL if gc.get_antialiased() else RenderMode.MONO
            dpi = self.dpi
            height = self.height
            whole_height = int(height)
            draw_image = self._renderer.draw_text_image
            for font, size, index, dx, dy in glyphs:
                # Position in 1/64 pixel (FreeType's y is upwards), as RendererAgg computes it.
                px = round(0x40 * (x + dx * cos - dy * sin))
                py = round(0x40 * (height - y + dx * sin + dy * cos))
                key = (font, size, dpi, index, angle, px & 0x3F, py & 0x3F, mode, flags)
                bitmap = bitmaps.get(key)
                if bitmap is None:
                    font.set_size(size, dpi)
                    font._set_transform(matrix, [px & 0x3F, py & 0x3F])
                    rendered = font._render_glyph(index, flags, mode)
                    buffer = np.array(rendered.buffer, copy=True)
                    if mode is RenderMode.MONO:
                        buffer *= 0xFF
                    bitmap = remember(bitmaps, key, (buffer, rendered.left, rendered.top))
                buffer, left, top = bitmap
                draw_image(buffer, left + (px >> 6), whole_height - top - (py >> 6) + buffer.shape[0], 0, gc)

    class Canvas(FigureCanvasAgg):
        def get_renderer(self):
            width, height = self.get_width_height(physical=True)
            key = width, height, self.figure.dpi
            if self._lastKey != key:
                self.renderer = Renderer(width, height, self.figure.dpi)
                self._lastKey = key
            return self.renderer

    rc_values = {key: value for key, value in dict.items(matplotlib.rcParamsDefault) if key not in _RC_UNTOUCHED}
    rc_values.update(dict.items(matplotlib.RcParams(_CHART_RC)))  # validated
    return SimpleNamespace(
        matplotlib=matplotlib, np=np, Figure=Figure, Canvas=Canvas, Line2D=Line2D,
        Text=Text, MaxNLocator=MaxNLocator, TICKDOWN=TICKDOWN, TICKLEFT=TICKLEFT, Affine2D=Affine2D, Rectangle=Rectangle, Bbox=Bbox,
        identity=IdentityTransform(), rc_values=rc_values, memos={"layouts": layouts, "bitmaps": bitmaps, "metrics": metrics},
    )


@contextmanager
def _chart_style():
    """matplotlib's defaults plus `_CHART_RC` for the duration, whatever the caller set; undone after.

    What `rc_context()` + `rcdefaults()` + `rcParams.update(_CHART_RC)` did, without validating
    three hundred parameters twice on every chart (the values were validated once)."""
    global _STYLE_DEPTH
    mpl = _mpl()
    params = mpl.matplotlib.rcParams
    saved = dict.copy(params)
    dict.update(params, mpl.rc_values)
    _STYLE_DEPTH += 1
    try:
        yield
    finally:
        _STYLE_DEPTH -= 1
        for key in params.keys() - saved.keys():
            dict.pop(params, key)
        dict.update(params, saved)


def _new_figure(height_mm: float) -> Figure:
    mpl = _mpl()
    fig = mpl.Figure(figsize=(_mm_to_inches(CHART_WIDTH_MM), _mm_to_inches(height_mm)), dpi=DPI)
    mpl.Canvas(fig)
    return fig


def _points(points: float) -> float:
    """Points to pixels at the charts' resolution."""
    return points * DPI / POINTS_PER_INCH


def _source_strip() -> float:
    """Height in pixels of the strip at the foot of every chart that holds the source line."""
    return SOURCE_LINE_HEIGHT_MM / MM_PER_INCH * DPI


def _add_source_line(fig: Figure, source_line: str) -> None:
    fig.text(0.01, 0.012, source_line, ha="left", va="bottom", fontsize=6.5, color=COLOUR_TEXT_MUTED)


# The plotting area of a trend or national chart: what an Axes with a left and a bottom spine, ticks
# out, a grid behind, axis labels and a title on the left looked like, drawn from plain lines, markers,
# rectangles and texts in pixel coordinates (as the profile panels are, `_Panel`): building an Axes and
# finding its tight box was a third of these charts' cost. Every artist has a gid naming what it is:
# "xtick", "ytick" (tick labels), "ticks" (tick marks), "grid", "spine", "xlabel", "ylabel", "title",
# and the chart's own ("values", "low_coverage", "label", "note", "legend"; "bar", "value", "reason",
# "state"). The sizes are matplotlib's defaults for an Axes under `_CHART_RC`.
TICK_LENGTH_PT = 3.5  # x/ytick.major.size
TICK_PAD_PT = 3.5  # x/ytick.major.pad
AXIS_LABEL_PAD_PT = 4.0  # axes.labelpad
TITLE_PAD_PT = 6.0  # axes.titlepad
TICK_LABEL_SIZE = 7.5  # x/ytick.labelsize
AXIS_LABEL_SIZE = 8  # axes.labelsize
TITLE_SIZE = 9  # axes.titlesize
NOTE_SIZE = 6.5
# Where the plotting area sits before the layout moves it (fractions of the figure: left, bottom, width,
# height; roughly where it ends up): texts placed relative to the data, such as bar labels, are measured
# there, as they were on the Axes placed there first.
_PROVISIONAL_AXES = (0.12, 0.2, 0.85, 0.7)


class _Plot:
    """The frame of a chart's plotting area: ticks, tick labels, grid, spines, axis labels and title,
    for data limits `xlim` x `ylim` (a reversed `ylim` puts its first value on top). The texts are made
    first, so that `fit` can measure them; `place(box)` puts them for a plotting area at `box` (pixels
    x0, y0, x1, y1) and `draw_frame()` adds the lines once the box is final."""

    def __init__(self, fig: Figure, measure, xlim, ylim, xticks, xtick_labels, yticks, ytick_labels,
                 xlabel: str, ylabel: str | None, title: str, grid_axis: str) -> None:
        self.fig = fig
        self.measure = measure
        self.xlim, self.ylim = xlim, ylim
        self.xticks, self.yticks = list(xticks), list(yticks)
        self.grid_axis = grid_axis
        tick = {"fontsize": TICK_LABEL_SIZE, "zorder": 0.5}
        self.xtick_labels = [self.text(s, "xtick", ha="center", va="top", **tick) for s in xtick_labels]
        self.ytick_labels = [self.text(s, "ytick", ha="right", va="center_baseline", **tick) for s in ytick_labels]
        self.xlabel = self.text(xlabel, "xlabel", ha="center", va="top", fontsize=AXIS_LABEL_SIZE, zorder=0.5)
        self.ylabel = None if ylabel is None else self.text(
            ylabel, "ylabel", ha="center", va="bottom", rotation=90, rotation_mode="anchor",
            fontsize=AXIS_LABEL_SIZE, zorder=0.5)
        self.title = self.text(title, "title", ha="left", va="baseline", fontsize=TITLE_SIZE)
        # The texts placed relative to the data, with where they go: (text, x, y, dx, dy, axes_y), data
        # coordinates (y as a fraction of the area's height with `axes_y`) and an offset in pixels.
        self.data_texts: list[tuple] = []
        self.box = (0.0, 0.0, 1.0, 1.0)

    def text(self, s: str, gid: str, zorder: float = 3, **kwargs):
        mpl = _mpl()
        text = mpl.Text(0, 0, s, transform=mpl.identity, zorder=zorder, gid=gid, **kwargs)
        self.fig.add_artist(text)
        return text

    def data_text(self, s: str, gid: str, x: float, y: float, dx: float = 0.0, dy: float = 0.0,
                  axes_y: bool = False, **kwargs):
        text = self.text(s, gid, **kwargs)
        self.data_texts.append((text, x, y, dx, dy, axes_y))
        return text

    def px(self, x: float) -> float:
        x0, _, x1, _ = self.box
        return x0 + (x - self.xlim[0]) * (x1 - x0) / (self.xlim[1] - self.xlim[0])

    def py(self, y: float) -> float:
        _, y0, _, y1 = self.box
        return y0 + (y - self.ylim[0]) * (y1 - y0) / (self.ylim[1] - self.ylim[0])

    def data_transform(self):
        x0, y0, x1, y1 = self.box
        sx = (x1 - x0) / (self.xlim[1] - self.xlim[0])
        sy = (y1 - y0) / (self.ylim[1] - self.ylim[0])
        return _mpl().Affine2D.from_values(sx, 0, 0, sy, x0 - self.xlim[0] * sx, y0 - self.ylim[0] * sy)

    def place(self, box) -> list[tuple]:
        """Put the texts for a plotting area at `box`; returns the extents (x0, y0, x1, y1) of the
        frame's parts that count for the layout: as `Axes.get_tightbbox(for_layout_only=True)`, the
        title only by its height, the x label by its height, the y label by its width."""
        self.box = x0, y0, x1, y1 = box
        measure = self.measure
        tick_and_pad = _points(TICK_LENGTH_PT + TICK_PAD_PT)
        tick = _points(TICK_LENGTH_PT)
        extents = [box]

        def extent(text):
            x, y = text.get_position()
            e = measure(text)
            return (x + e.x0, y + e.y0, x + e.x1, y + e.y1)

        for text, value in zip(self.xtick_labels, self.xticks, strict=True):
            text.set_position((self.px(value), y0 - tick_and_pad))
        for text, value in zip(self.ytick_labels, self.yticks, strict=True):
            text.set_position((x0 - tick_and_pad, self.py(value)))
        xtick_boxes = [extent(t) for t in self.xtick_labels]
        ytick_boxes = [extent(t) for t in self.ytick_labels]
        extents += xtick_boxes + ytick_boxes
        # The spines with the tick marks sticking out of them.
        bottom = y0 - tick if self.xticks else y0
        left = x0 - tick if self.yticks else x0
        extents += [(x0, bottom, x1, y0), (left, y0, x0, y1)]
        self.xlabel.set_position(((x0 + x1) / 2, min([bottom] + [b[1] for b in xtick_boxes])
                                  - _points(AXIS_LABEL_PAD_PT)))
        e = extent(self.xlabel)
        middle = (e[0] + e[2]) / 2
        extents.append((middle - 0.5, e[1], middle + 0.5, e[3]))
        if self.ylabel is not None:
            self.ylabel.set_position((min([left] + [b[0] for b in ytick_boxes]) - _points(AXIS_LABEL_PAD_PT),
                                      (y0 + y1) / 2))
            e = extent(self.ylabel)
            middle = (e[1] + e[3]) / 2
            extents.append((e[0], middle - 0.5, e[2], middle + 0.5))
        self.title.set_position((x0, y1 + _points(TITLE_PAD_PT)))
        e = extent(self.title)
        middle = (e[0] + e[2]) / 2
        extents.append((middle - 0.5, e[1], middle + 0.5, e[3]))
        for text, x, y, dx, dy, axes_y in self.data_texts:
            text.set_position((self.px(x) + dx, (y0 + y * (y1 - y0) if axes_y else self.py(y)) + dy))
            extents.append(extent(text))
        return extents

    def fit(self, extra=list) -> None:
        """Place the plotting area so that it and everything around it fills the figure above the
        source strip, `LAYOUT_PAD_PT` from the edges: constrained layout's result for a single Axes.
        `extra()`: extents of other things that count, for the box just placed (markers that may stick out).

        The title starts at the area's left edge; one too long to end inside the figure starts at the
        figure's left edge instead (where the source line starts), and one longer than the figure is
        wide is wrapped (constrained layout ignores a title's width: it was cut off)."""
        fig = self.fig
        width, height = fig.bbox.width, fig.bbox.height
        pad = _points(LAYOUT_PAD_PT)
        figure_left = 0.01 * width
        title = self.title
        if self.measure(title).width > width - pad - figure_left:
            title.set_text(_wrap(title, fig.canvas.get_renderer(), width - pad - figure_left))
        a, b, c, d = _PROVISIONAL_AXES
        box = (a * width, b * height, (a + c) * width, (b + d) * height)
        extents = self.place(box) + extra()
        left = box[0] - min(e[0] for e in extents) + pad
        right = max(e[2] for e in extents) - box[2] + pad
        bottom = box[1] - min(e[1] for e in extents) + pad + _source_strip()
        top = max(e[3] for e in extents) - box[3] + pad
        self.place((left, bottom, width - right, height - top))
        if left + self.measure(title).width > width - pad:
            title.set_x(figure_left)

    def draw_frame(self) -> None:
        """The grid, tick marks and spines for the final box."""
        mpl = _mpl()
        fig = self.fig
        x0, y0, x1, y1 = self.box
        identity = mpl.identity
        below = {"transform": identity, "zorder": 0.5}  # the axis is drawn below the data (axisbelow)
        # The grid: clipped to the area, as an Axes clips it (to whole pixels, by Agg).
        grid = {"color": GRID_COLOUR, "linewidth": 0.6, "clip_box": mpl.Bbox.from_extents(*self.box), **below}
        if self.grid_axis == "y" and self.yticks:
            xs, ys = [], []
            for value in self.yticks:
                xs += [x0, x1, math.nan]
                ys += [self.py(value)] * 2 + [math.nan]
            fig.add_artist(mpl.Line2D(xs, ys, gid="grid", **grid))
        if self.grid_axis == "x" and self.xticks:
            xs, ys = [], []
            for value in self.xticks:
                xs += [self.px(value)] * 2 + [math.nan]
                ys += [y0, y1, math.nan]
            fig.add_artist(mpl.Line2D(xs, ys, gid="grid", **grid))
        marks = {"linestyle": "none", "markersize": TICK_LENGTH_PT, "markeredgewidth": TICK_WIDTH_PT,
                 "color": "black", "gid": "ticks", **below}
        if self.xticks:
            fig.add_artist(mpl.Line2D([self.px(v) for v in self.xticks], [y0] * len(self.xticks),
                                      marker=mpl.TICKDOWN, **marks))
        if self.yticks:
            fig.add_artist(mpl.Line2D([x0] * len(self.yticks), [self.py(v) for v in self.yticks],
                                      marker=mpl.TICKLEFT, **marks))
        # The spines, over the data (zorder 2.5), as on an Axes.
        for xs, ys in (([x0, x0], [y0, y1]), ([x0, x1], [y0, y0])):
            fig.add_artist(mpl.Line2D(xs, ys, color="black", linewidth=SPINE_WIDTH_PT, solid_capstyle="projecting",
                                      transform=identity, zorder=2.5, gid="spine"))


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


def _interval_contains(low: float, high: float, value: float) -> bool:
    """matplotlib's test for drawing a tick: inside the view limits, give or take rounding."""
    slack = (high - low) * 1e-10
    return low - slack <= value <= high + slack


def _value_ticks(low: float, high: float, nbins: int, integer: bool) -> list[float]:
    """The ticks `MaxNLocator(nbins, integer)` puts between the limits `low` and `high`."""
    return [float(v) for v in _mpl().MaxNLocator(nbins=nbins, integer=integer).tick_values(low, high)
            if _interval_contains(low, high, float(v))]


def _thousands(value: float, _position: object) -> str:
    """Axis ticks: "12,000" for large values, "0.25" for small ones (never scientific notation)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


def _marker_extent(plot: _Plot, xs, ys, size_pt: float):
    """The extent of markers `size_pt` wide at these data points, as `Line2D.get_window_extent` gives it."""
    points = [(plot.px(x), plot.py(y)) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]
    if not points:
        return []
    r = _points(size_pt) / 2
    return [(min(p[0] for p in points) - r, min(p[1] for p in points) - r,
             max(p[0] for p in points) + r, max(p[1] for p in points) + r)]


def draw_trend_chart(data: TrendChartData) -> Figure:
    """Line of regional totals; a NaN total is a gap (matplotlib breaks the line at NaN, no interpolation).

    Each point is labelled "n/N" (states reporting of member states) and its flags; points below the
    coverage threshold get a hollow vermillion marker. The line has the gid "values", the hollow
    markers "low_coverage", the point labels "label" and the notes at the gaps "note".
    """
    mpl = _mpl()
    with _chart_style():
        fig = _new_figure(ChartJob("trend", data, Path()).height_mm)
        measure = _measurer(fig)
        years = list(data.years)
        totals = list(data.totals)
        finite = [t for t in totals if math.isfinite(t)]
        top = max(finite) if finite else 0.0
        # Headroom above the highest point for its label and the legend.
        y_high = top * 1.45 if top > 0 else 1.0
        yticks = _value_ticks(0, y_high, nbins=5, integer=data.decimals == 0)
        plot = _Plot(fig, measure, (years[0] - 0.5, years[-1] + 0.5), (0.0, y_high), years, [str(y) for y in years],
                     yticks, [_thousands(v, i) for i, v in enumerate(yticks)],
                     "Year (labels: member states reporting / member states)", data.axis_label, data.title, "y")
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
                plot.data_text(f"{coverage} {flags}".strip(), "label", year, total, dy=_points(6), ha="center",
                               va="bottom", fontsize=NOTE_SIZE, color=COLOUR_LOW_COVERAGE if low else COLOUR_TEXT_MUTED)
            else:
                # The gap is explained where it is, at the foot of the area.
                reason = "confidential" if confidential else "no data"
                plot.data_text(f"{reason}\n{coverage}", "note", year, 0.02, axes_y=True, ha="center", va="bottom",
                               fontsize=NOTE_SIZE, color=COLOUR_TEXT_MUTED)
        def markers():
            return _marker_extent(plot, years, totals, 4) + _marker_extent(plot, low_x, low_y, 6)

        plot.fit(markers)
        plot.draw_frame()
        transform = plot.data_transform()
        # Markers as well as the line, so a year between two gaps is still visible. Not clipped: a real
        # 0 sits on the axis and must show as a whole marker.
        fig.add_artist(mpl.Line2D(years, totals, color=COLOUR_MAIN, marker="o", markersize=4, linewidth=1.6,
                                  transform=transform, zorder=2, gid="values"))
        if low_x:
            hollow = {"linestyle": "none", "marker": "o", "markerfacecolor": "white",
                      "markeredgecolor": COLOUR_LOW_COVERAGE, "markeredgewidth": 1.4}
            fig.add_artist(mpl.Line2D(low_x, low_y, markersize=6, transform=transform, zorder=2,
                                      gid="low_coverage", **hollow))
            share = f"{data.low_coverage_share:.0%}"
            # The legend an Axes puts at its upper left, in the area's box.
            legend = fig.legend([mpl.Line2D([], [], **hollow)], [f"fewer than {share} of member states reported"],
                                loc="upper left", frameon=False, bbox_to_anchor=mpl.Bbox.from_extents(*plot.box),
                                bbox_transform=mpl.identity)
            legend.set_gid("legend")
        _add_source_line(fig, data.source_line)
    return fig


def draw_national_chart(data: NationalChartData) -> Figure:
    """Horizontal bars, largest on top; states without a figure are named with the reason, no bar.

    Bars have the gid "bar" (data coordinates: the width is the value), their labels "value", the
    reasons where there is no bar "reason", and the state names "state", top to bottom."""
    mpl = _mpl()
    with _chart_style():
        fig = _new_figure(ChartJob("national", data, Path()).height_mm)
        measure = _measurer(fig)
        largest = max((bar.value or 0.0) for bar in data.bars if bar.value is not None)
        right = largest * 1.18 if largest > 0 else 1.0
        xticks = _value_ticks(0, right, nbins=6, integer=data.decimals == 0)
        plot = _Plot(fig, measure, (0.0, right), (len(data.bars) - 0.5, -0.5),  # first bar on top
                     xticks, [_thousands(v, i) for i, v in enumerate(xticks)], [], [],
                     data.axis_label, None, data.title, "x")
        label = _points(3)
        for pos, bar in enumerate(data.bars):
            if bar.value is not None:
                plot.data_text(bar.label, "value", bar.value, pos, dx=label, ha="left", va="center", fontsize=NOTE_SIZE)
            else:
                plot.data_text(bar.label, "reason", 0.0, pos, dx=label, ha="left", va="center", fontsize=NOTE_SIZE,
                               fontstyle="italic", color=COLOUR_TEXT_MUTED)
        # The state names where y tick labels would be (no tick marks).
        for pos, bar in enumerate(data.bars):
            plot.data_text(bar.state_name, "state", 0.0, pos, dx=-_points(NATIONAL_NAME_PAD_PT), ha="right",
                           va="center_baseline", fontsize=TICK_LABEL_SIZE, zorder=0.5)
        plot.fit()
        plot.draw_frame()
        transform = plot.data_transform()
        for pos, bar in enumerate(data.bars):
            if bar.value is not None:
                fig.add_artist(mpl.Rectangle((0.0, pos - 0.325), bar.value, 0.65, facecolor=COLOUR_MAIN,
                                             edgecolor="none", transform=transform, zorder=1, gid="bar"))
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


class _Panel:
    """One panel of a profile chart, drawn from plain lines and texts in pixel coordinates: what an
    Axes with a left and a bottom spine, ticks out, a y grid behind and a title on the left looks like.

    An Axes costs ~5 ms to build and ~1 ms per tick (four spines, two axes, five artists per tick,
    most never drawn); a profile has twelve panels. Every artist of panel i has the gid "panel<i>:<part>"
    (parts: values, published, note, title, ylabel, xtick, ytick, ticks, grid, spine).

    Built in two steps: the texts first, so that the layout can measure them (`margins`), then
    `place` puts everything in the box the layout gives.
    """

    def __init__(self, fig: Figure, index: int, panel: ProfilePanel, years: Sequence[int], measure) -> None:
        self.fig = fig
        self.gid = f"panel{index}:"
        self.panel = panel
        self.years = list(years)
        self.measure = measure
        self.xlim = (self.years[0] - 0.5, self.years[-1] + 0.5)
        self.values = list(panel.values)
        finite = [v for v in self.values if math.isfinite(v)]
        top = max(finite) if finite else 0.0
        self.ylim = (0.0, top * 1.15 if top > 0 else 1.0)
        self.xticks = [self.years[0], self.years[-1]] if len(self.years) > 1 else self.years[:1]
        self.yticks = _value_ticks(*self.ylim, nbins=3, integer=panel.decimals == 0) if finite else []
        self.has_figure = bool(finite)
        small = {"fontsize": PANEL_TICK_LABEL_SIZE}
        self.xtick_labels = [self._text(str(y), "xtick", ha="center", va="top", **small) for y in self.xticks]
        self.ytick_labels = [self._text(_compact(v, None), "ytick", ha="right", va="center_baseline", **small)
                             for v in self.yticks]
        self.title = self._text(panel.title, "title", ha="left", va="baseline", fontsize=PANEL_TITLE_SIZE,
                                zorder=3)
        self.ylabel = self._text(panel.axis_label, "ylabel", ha="center", va="bottom", rotation=90,
                                 rotation_mode="anchor", fontsize=PANEL_AXIS_LABEL_SIZE)

    def _text(self, s: str, part: str, zorder: float = 0.5, **kwargs):
        # zorder 0.5: the tick labels and axis label are drawn with the axis, below the data, as on an
        # Axes with set_axisbelow(True); the title and notes above (3).
        mpl = _mpl()
        text = mpl.Text(0, 0, s, transform=mpl.identity, zorder=zorder, gid=self.gid + part, **kwargs)
        self.fig.add_artist(text)
        return text

    def margins(self, width: float) -> tuple[float, float, float, float]:
        """Pixels the decorations stick out of a panel `width` pixels wide: left, right, top, bottom."""
        tick = _points(PANEL_TICK_LENGTH_PT)
        tick_and_pad = _points(PANEL_TICK_LENGTH_PT + PANEL_TICK_PAD_PT)
        label_left = max((self.measure(t).width for t in self.ytick_labels), default=None)
        if label_left is None:
            edge = 0.0  # no ticks: the label goes by the spine
        else:
            edge = max(label_left + tick_and_pad, tick)
        left = edge + _points(PANEL_LABEL_PAD_PT) + self.measure(self.ylabel).width
        right = 0.0
        if self.xtick_labels:
            span = self.xlim[1] - self.xlim[0]
            first, last = self.xtick_labels[0], self.xtick_labels[-1]
            left = max(left, self.measure(first).width / 2 - (self.xticks[0] - self.xlim[0]) / span * width)
            right = max(right, self.measure(last).width / 2 - (self.xlim[1] - self.xticks[-1]) / span * width)
        title = self.measure(self.title)
        top = _points(PANEL_TITLE_PAD_PT) + title.y1  # above the baseline
        bottom = tick_and_pad + max((self.measure(t).height for t in self.xtick_labels), default=0.0)
        return left, right, top, bottom

    def place(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Draw the panel with its plotting area at these pixels."""
        mpl = _mpl()
        fig = self.fig
        gid = self.gid
        (ax0, ax1), (ay0, ay1) = self.xlim, self.ylim
        sx = (x1 - x0) / (ax1 - ax0)
        sy = (y1 - y0) / (ay1 - ay0)
        data = mpl.Affine2D.from_values(sx, 0, 0, sy, x0 - ax0 * sx, y0 - ay0 * sy)
        identity = mpl.identity

        def px(x: float) -> float:
            return x0 + (x - ax0) * sx

        def py(y: float) -> float:
            return y0 + (y - ay0) * sy

        tick_and_pad = _points(PANEL_TICK_LENGTH_PT + PANEL_TICK_PAD_PT)
        # The axis: grid, tick marks and labels (zorder 0.5, below the data).
        if self.yticks:
            grid_x, grid_y = [], []
            for value in self.yticks:
                grid_x += [x0, x1, math.nan]
                grid_y += [py(value)] * 2 + [math.nan]
            # Butt caps: an Axes clips its grid lines at the spines.
            fig.add_artist(mpl.Line2D(grid_x, grid_y, color=GRID_COLOUR, linewidth=0.5, solid_capstyle="butt",
                                      transform=identity, zorder=0.5, gid=gid + "grid"))
            fig.add_artist(mpl.Line2D([ax0] * len(self.yticks), self.yticks, linestyle="none", marker=mpl.TICKLEFT,
                                      markersize=PANEL_TICK_LENGTH_PT, markeredgewidth=TICK_WIDTH_PT, color="black",
                                      transform=data, zorder=0.5, gid=gid + "ticks"))
        fig.add_artist(mpl.Line2D(self.xticks, [ay0] * len(self.xticks), linestyle="none", marker=mpl.TICKDOWN,
                                  markersize=PANEL_TICK_LENGTH_PT, markeredgewidth=TICK_WIDTH_PT, color="black",
                                  transform=data, zorder=0.5, gid=gid + "ticks"))
        for text, value in zip(self.xtick_labels, self.xticks, strict=True):
            text.set_position((px(value), y0 - tick_and_pad))
        label_left = x0
        for text, value in zip(self.ytick_labels, self.yticks, strict=True):
            text.set_position((x0 - tick_and_pad, py(value)))
            label_left = min(label_left, x0 - tick_and_pad - self.measure(text).width)
        if self.yticks:
            label_left = min(label_left, x0 - _points(PANEL_TICK_LENGTH_PT))
        self.ylabel.set_position((label_left - _points(PANEL_LABEL_PAD_PT), (y0 + y1) / 2))
        # The data (zorder 2). clip_on=False: a real 0 sits on the axis and must show as a whole marker.
        fig.add_artist(mpl.Line2D(self.years, self.values, color=COLOUR_MAIN, linewidth=1.2, marker="o",
                                  markersize=2.6, transform=data, zorder=2, gid=gid + "values"))
        hollow = [(y, v) for y, v, p in zip(self.years, self.values, self.panel.published, strict=True)
                  if p and math.isfinite(v)]
        if hollow:
            fig.add_artist(mpl.Line2D(
                [y for y, _ in hollow], [v for _, v in hollow], linestyle="none", marker="o", markersize=3.6,
                markerfacecolor="white", markeredgecolor=COLOUR_LOW_COVERAGE, markeredgewidth=1.0,
                transform=data, zorder=2, gid=gid + "published"))
        # The spines, over the data (zorder 2.5), as on an Axes.
        for xs, ys in (([x0, x0], [y0, y1]), ([x0, x1], [y0, y0])):
            fig.add_artist(mpl.Line2D(xs, ys, color="black", linewidth=SPINE_WIDTH_PT, solid_capstyle="projecting",
                                      transform=identity, zorder=2.5, gid=gid + "spine"))
        for y, confidential in zip(self.years, self.panel.confidential, strict=True):
            if confidential:
                self._text("C", "note", zorder=3, ha="center", va="bottom", fontsize=6,
                           color=COLOUR_TEXT_MUTED).set_position((px(y), y0 + 0.03 * (y1 - y0)))
        if not self.has_figure:
            self._text("no figure", "note", zorder=3, ha="center", va="center", fontsize=6.5, fontstyle="italic",
                       color=COLOUR_TEXT_MUTED).set_position(((x0 + x1) / 2, (y0 + y1) / 2))
        self.title.set_position((x0, y1 + _points(PANEL_TITLE_PAD_PT)))


def _measurer(fig: Figure):
    """`measure(text)`: the extent of a Text relative to its anchor, in pixels (x0, y0, x1, y1, width,
    height), memoised per chart by what decides it."""
    renderer = fig.canvas.get_renderer()
    found: dict = {}

    def measure(text):
        key = (text.get_text(), text.get_fontsize(), text.get_fontstyle(), text.get_rotation(),
               text.get_horizontalalignment(), text.get_verticalalignment())
        extent = found.get(key)
        if extent is None:
            x, y = text.get_position()
            box = text.get_window_extent(renderer)
            extent = found[key] = SimpleNamespace(x0=box.x0 - x, y0=box.y0 - y, x1=box.x1 - x, y1=box.y1 - y,
                                                  width=box.width, height=box.height)
        return extent

    return measure


def _profile_boxes(fig: Figure, panels: Sequence[_Panel], n_rows: int, top_reserved: float) -> list[tuple]:
    """The plotting area (x0, y0, x1, y1) of each panel in a grid of `PROFILE_COLUMNS` columns, as
    constrained layout makes it: equal panels; each column as wide on the left as the widest of its
    panels' decorations needs, plus the pad, and so on right, and for each row above and below."""
    width, height = fig.bbox.width, fig.bbox.height
    pad = _points(LAYOUT_PAD_PT)
    grid = [[panels[r * PROFILE_COLUMNS + c] if r * PROFILE_COLUMNS + c < len(panels) else None
             for c in range(PROFILE_COLUMNS)] for r in range(n_rows)]
    panel_width = width / PROFILE_COLUMNS
    for _ in range(3):  # the x tick labels' overhang depends on the width; settles at once
        margins = [[p.margins(panel_width) if p else (0.0, 0.0, 0.0, 0.0) for p in row] for row in grid]
        lefts = [max(margins[r][c][0] for r in range(n_rows)) + pad for c in range(PROFILE_COLUMNS)]
        rights = [max(margins[r][c][1] for r in range(n_rows)) + pad for c in range(PROFILE_COLUMNS)]
        new_width = (width - sum(lefts) - sum(rights)) / PROFILE_COLUMNS
        if abs(new_width - panel_width) < 0.01:
            break
        panel_width = new_width
    tops = [max(m[2] for m in row) + pad for row in margins]
    bottoms = [max(m[3] for m in row) + pad for row in margins]
    grid_top = height - top_reserved
    panel_height = (grid_top - _source_strip() - sum(tops) - sum(bottoms)) / n_rows
    boxes = []
    for index in range(len(panels)):
        r, c = divmod(index, PROFILE_COLUMNS)
        x0 = sum(lefts[:c]) + sum(rights[:c]) + c * panel_width + lefts[c]
        y1 = grid_top - sum(tops[: r + 1]) - sum(bottoms[:r]) - r * panel_height
        boxes.append((x0, y1 - panel_height, x0 + panel_width, y1))
    return boxes


def draw_profile_chart(data: ProfileChartData) -> Figure:
    """Small multiples: one panel per crime area, each on its own scale from zero and in its own unit.

    A missing year is a gap (and a year alone between gaps still shows as a marker); a figure from
    published data is a hollow marker; a confidential year gets a "C" at the foot of the panel.
    """
    mpl = _mpl()
    with _chart_style():
        fig = _new_figure(ChartJob("profile", data, Path()).height_mm)
        measure = _measurer(fig)
        pad = _points(LAYOUT_PAD_PT)
        n_rows = math.ceil(len(data.panels) / PROFILE_COLUMNS)
        panels = [_Panel(fig, index, panel, data.years, measure) for index, panel in enumerate(data.panels)]
        height = fig.bbox.height
        # The title at the top left, with the pad above and below it (as constrained layout puts a suptitle).
        title = fig.suptitle(data.title, x=0.01, y=(height - pad) / height, ha="left", va="top", fontsize=9)
        boxes = _profile_boxes(fig, panels, n_rows, top_reserved=measure(title).height + 2 * pad)
        for panel, box in zip(panels, boxes, strict=True):
            panel.place(*box)
        if any(any(p.published) for p in data.panels):
            handle = mpl.Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                                markeredgecolor=COLOUR_LOW_COVERAGE, markeredgewidth=1.0, markersize=4)
            # Top right, level with the title: the foot of the figure holds the source line.
            fig.legend([handle], ["from published data"], loc="upper right", bbox_to_anchor=(0.995, 0.995),
                       frameon=False, fontsize=6.5, borderpad=0.2)
        _add_source_line(fig, data.source_line)
    return fig


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(payload, zlib.crc32(kind)))


def _png_bytes(rgba, dpi: float) -> bytes:
    """PNG of an RGBA pixel array (rows top to bottom): RGB when every pixel is opaque (a chart's are:
    the same image, a quarter less data), no row filter, deflated at `PNG_COMPRESS_LEVEL`, the resolution
    in a pHYs chunk and nothing else (no date or software: the same pixels give the same bytes)."""
    mpl = _mpl()
    np = mpl.np
    height, width = rgba.shape[:2]
    pixels = np.ascontiguousarray(rgba).view(np.uint32)  # RGBA bytes: alpha is the high byte
    opaque = bool((pixels >= 0xFF000000).all())
    if opaque:
        from PIL import Image  # matplotlib's own dependency; already imported by it

        data = np.frombuffer(Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1).convert("RGB")
                             .tobytes(), np.uint8)
    else:
        data = rgba
    channels = 3 if opaque else 4
    rows = np.zeros((height, 1 + channels * width), np.uint8)  # a 0 at the start of each row: filter "none"
    rows[:, 1:] = np.reshape(data, (height, channels * width))
    return _png_header(width, height, opaque, dpi) + _png_chunk(b"IDAT", _deflate(rows, PNG_COMPRESS_LEVEL)) + _png_chunk(b"IEND", b"")


def _png_header(width: int, height: int, opaque: bool, dpi: float) -> bytes:
    """The signature, size (8-bit RGB, or RGBA) and resolution of a chart's PNG."""
    per_metre = int(dpi / 0.0254 + 0.5)
    return b"".join((
        b"\x89PNG\r\n\x1a\n",
        _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2 if opaque else 6, 0, 0, 0)),
        _png_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
    ))


def stand_in_png(width: int, height: int, name: str) -> bytes:
    """A PNG with a chart's header but no pixels: what python-docx reads of an image (size, resolution)
    for a chart not drawn yet (`report.draft_report`). `name` goes in a text chunk, so that no two
    stand-ins are the same image (python-docx would keep one part for both)."""
    title = b"Title\0crimetrends stand-in for " + name.encode("utf-8", "replace")
    return _png_header(width, height, True, DPI) + _png_chunk(b"tEXt", title) + _png_chunk(b"IEND", b"")


def save_png(fig: Figure, path: Path) -> Path:
    """Write `fig` as PNG at `path`, atomically; the same figure gives the same bytes."""
    mpl = _mpl()
    with _chart_style():
        canvas = fig.canvas if isinstance(fig.canvas, mpl.Canvas) else mpl.Canvas(fig)
        canvas.draw()
        png = _png_bytes(mpl.np.asarray(canvas.buffer_rgba()), fig.dpi)
    return write_atomically(path, png)


def _draw_and_save(job: ChartJob) -> Path:
    """Module-level so `ProcessPoolExecutor` can pickle it; takes and returns plain data only."""
    if job.kind == "trend":
        fig = draw_trend_chart(job.data)  # type: ignore[arg-type]
    elif job.kind == "profile":
        fig = draw_profile_chart(job.data)  # type: ignore[arg-type]
    else:
        fig = draw_national_chart(job.data)  # type: ignore[arg-type]
    return save_png(fig, job.path)


# -- drawing many, serially or in a process pool ---------------------------------------------------
# Relative cost of drawing each kind (measured, CPU: a profile ~40 ms, a national chart ~18 ms, a trend
# chart ~15 ms): the pool gets the dearest first, so no worker is left with a long one at the end.
_COST = {"profile": 3, "national": 2, "trend": 1}


def warm_up() -> None:
    """Import matplotlib, open the font and draw a first figure (~0.45 s of CPU), then exempt
    everything loaded so far from the garbage collector's full passes (`gc.freeze`): they would
    otherwise walk matplotlib's ~100,000 objects every few charts (~0.1 s each). Once per process."""
    global _WARM
    if _WARM:
        return
    with _chart_style():
        fig = _new_figure(10)
        fig.add_axes((0, 0, 1, 1)).set_title("0")
        fig.canvas.draw()
    del fig
    gc.collect()
    gc.freeze()
    _WARM = True


_WARM = False


def _start_worker(owner_pid: int | None = None) -> None:
    """Pool initializer: warm up (`warm_up`) as soon as the worker starts, while the caller is busy
    with other work, rather than when the first chart arrives; a worker forked from the fork server
    starts warm already.

    With `owner_pid` (the process that made the pool), the worker ends itself when that process is
    gone: a run killed with `kill -9` runs no clean-up, and a worker waiting for work from it would
    otherwise wait forever (every worker holds the writing end of the pool's queue, so none of them
    ever reads its end). So does then the fork server, which waits for its workers."""
    if owner_pid is not None:
        threading.Thread(target=_exit_with_owner, args=(owner_pid, os.getppid()), name="exit-with-owner", daemon=True).start()
    warm_up()


def _exit_with_owner(owner_pid: int, parent_pid: int, every: float = 0.5) -> None:
    """End this process once `owner_pid` has ended, or its parent is no longer `parent_pid` (the
    parent died and the orphan was adopted): whichever is seen first."""
    while os.getppid() == parent_pid and _running(owner_pid):
        time.sleep(every)
    os._exit(0)


def _running(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would end the process there; only the parent check applies
        return True
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # exists, but is not ours to signal
        return True
    return True


@contextmanager
def _no_main_module_for_workers():
    """While workers start: let multiprocessing see no main script or module to run again in
    them (it re-runs it as "__mp_main__" so that functions defined there can be unpickled). The
    workers run only this module's functions, and the `crimetrends` script would make each of them
    import the whole command line (pandas, click, rich: ~0.4 s of CPU per worker)."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    missing = object()
    saved = {name: main.__dict__.get(name, missing) for name in ("__spec__", "__file__")}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                main.__dict__.pop(name, None)
            else:
                main.__dict__[name] = value


# What the fork server imports once for all the workers it forks (`pipeline.chart_server` warms up).
_FORK_SERVER_PRELOAD = ["pipeline.chart_server"]


def _worker_context() -> multiprocessing.context.BaseContext:
    """"forkserver" where the system has it, else "spawn". Not fork: the caller may have threads
    (progress bars). Workers that start from a clean process (no caller's rcParams) draw the same
    bytes as a serial run; forked from a fork server that has imported matplotlib and drawn a first
    figure, each starts in ~10 ms instead of paying the ~0.5 s of CPU a spawned worker does."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_FORK_SERVER_PRELOAD)  # read when the server starts (once a process)
        return context
    return multiprocessing.get_context("spawn")


class ChartWorkers:
    """The process pool that draws the charts, min(2, cpu_count) processes (`_worker_context`).

    Made by `start_charts` when there are many charts to draw; or made by the caller ahead of time
    (then handed to `start_charts(..., workers=)`), so that the workers' start-up (the fork server
    importing matplotlib and drawing a first chart, ~0.5 s of CPU) runs on another core while the
    caller reads the workbooks, instead of after. `shutdown()` when it is not handed on.

    The processes are started by a thread, for a fork server answers only once it has warmed up:
    the caller goes on at once. `start` of them are started now (default all), the others when the
    charts are handed over. A process that cannot be started raises its error from `take()`.
    """

    def __init__(self, start: int | None = None) -> None:
        count = max(1, min(2, os.cpu_count() or 1))
        start = count if start is None else max(0, min(count, start))
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(max_workers=count, mp_context=_worker_context(), initializer=_start_worker,
                                                                     initargs=(os.getpid(),))
        self._error: BaseException | None = None
        self._starting = threading.Thread(target=self._start_processes, args=(self._pool, start), name="start-chart-workers", daemon=True)
        self._starting.start()

    def _start_processes(self, pool: ProcessPoolExecutor, count: int) -> None:
        try:
            # A pool starts a process per submission that finds no idle one: a no-op each starts them now.
            with _no_main_module_for_workers():
                for _ in range(count):
                    pool.submit(int)
        except BaseException as err:  # noqa: BLE001 - handed to the thread that takes the pool
            self._error = err

    def started(self) -> None:
        """Block until the processes asked for are started (their start-up may still be running)."""
        self._starting.join()

    def take(self) -> ProcessPoolExecutor:
        """The pool, now owned by the caller (who shuts it down)."""
        self.started()
        pool, self._pool = self._pool, None
        if pool is None:
            raise RuntimeError("these chart workers were already taken or shut down")
        if self._error is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            raise self._error
        return pool

    def shutdown(self) -> None:
        """Stop the workers (idempotent; nothing once the pool is taken)."""
        self.started()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class PendingCharts:
    """Charts being drawn (see `start_charts`); `wait()` gives {key: path} once all are written.

    More than `PARALLEL_CHART_THRESHOLD` charts to draw are drawn in a pool of min(2, cpu_count)
    processes (`ChartWorkers`), started at once; fewer are drawn in this process, by `wait()`: a process pool
    would not pay for its start-up, and drawing them here before returning would only delay the
    caller's other work by as much as it saves later (one process either way).

    Also a context manager: leaving the block normally waits for the charts, leaving it with an
    exception cancels them (the pool is shut down; charts already written stay).
    """

    def __init__(self, paths: dict[str, Path], jobs: Sequence[ChartJob], cache_keys: Sequence[str] = (),
                 cache: BlobCache | None = None, workers: ChartWorkers | None = None,
                 pixel_sizes: dict[Path, tuple[int, int]] | None = None) -> None:
        self._paths = dict(paths)
        self._pixel_sizes = dict(pixel_sizes or {})
        self._jobs = list(jobs)
        self._cache_keys = list(cache_keys)
        self._cache = cache
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list = []
        self._submitting: threading.Thread | None = None
        self._error: BaseException | None = None
        self._finished = False
        if workers is not None and not self._jobs:
            workers.shutdown()  # started for nothing: every chart came from the cache
        elif workers is not None or len(self._jobs) > PARALLEL_CHART_THRESHOLD:
            self._start_pool(workers)

    def _start_pool(self, workers: ChartWorkers | None = None) -> None:
        # By a thread: submitting waits for the workers' processes, and a fork server answers only
        # once it has warmed up (~0.5 s when it was not started ahead); the caller goes on meanwhile.
        self._submitting = threading.Thread(target=self._submit_all, args=(workers,), name="submit-charts", daemon=True)
        self._submitting.start()

    def _submit_all(self, workers: ChartWorkers | None) -> None:
        try:
            pool = self._pool = (workers or ChartWorkers()).take()
            # Submitted dearest first, one job at a time (they are few and uneven).
            with _no_main_module_for_workers():
                for job in sorted(self._jobs, key=lambda job: -_COST.get(job.kind, 1)):
                    self._futures.append((pool.submit(_draw_and_save, job), job))
        except (OSError, EOFError, BrokenExecutor) as err:
            # No process to be had (a limit on processes or memory, a fork server gone): this process
            # draws them, by `wait()`.
            log.warning("The charts are drawn in this process: no worker process could be started (%s).", err)
            self._shut_pool()
            self._futures = []
        except BaseException as err:  # noqa: BLE001 - raised by wait() in the caller's thread
            self._error = err
            self._shut_pool()

    def _submitted(self) -> None:
        """Block until the charts are handed to the workers (or found impossible to hand over)."""
        if self._submitting is not None:
            self._submitting.join()
            self._submitting = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    @property
    def paths(self) -> dict[str, Path]:
        """{key: path} of every chart with data: the files `wait()` leaves (they may not all be there yet)."""
        return dict(self._paths)

    @property
    def pixel_sizes(self) -> dict[Path, tuple[int, int]]:
        """{path: (width, height)} in pixels of each chart's PNG (`ChartJob.pixel_size`), known before
        it is written: a report can be laid out while the charts are drawn."""
        return dict(self._pixel_sizes)

    @property
    def drawing(self) -> bool:
        """Whether charts are still to be drawn (else every file is there, from the cache or drawn)."""
        return bool(self._jobs) and not self._finished

    def wait(self) -> dict[str, Path]:
        """Block until every chart is written; {key: path} of all the charts with data (cached ones
        included). A chart that failed to draw raises its exception here (the first to fail), after
        the pool is shut down."""
        if not self._finished:
            try:
                self._submitted()
                if not self._futures:
                    for job in self._jobs:
                        _draw_and_save(job)
                else:
                    self._wait_for_workers()
            finally:
                self.cancel()
            if self._cache is not None:
                for key, job in zip(self._cache_keys, self._jobs, strict=True):
                    self._cache.put(key, job.path.read_bytes())
            self._finished = True
        return dict(self._paths)

    def _wait_for_workers(self) -> None:
        """Each chart's result; a chart whose worker died (killed, out of memory: the pool is then
        broken) is drawn again in this process; a chart that failed to draw raises its error."""
        by_future = dict(self._futures)
        lost = []
        for future in as_completed(by_future):
            if isinstance(future.exception(), BrokenExecutor):
                lost.append(by_future[future])
            else:
                future.result()
        if lost:
            log.warning("A chart worker process ended unexpectedly; %d chart(s) are drawn in this process.", len(lost))
            for job in lost:
                _draw_and_save(job)

    def cancel(self) -> None:
        """Stop drawing: charts not started are dropped, the pool (if any) is shut down. Idempotent."""
        if self._submitting is not None:
            self._submitting.join()
            self._submitting = None
        self._shut_pool()

    def _shut_pool(self) -> None:
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


_KEY_CONTEXT: tuple | None = None


def chart_key(job: ChartJob) -> str:
    """The cache key of a chart: its kind and data, and everything else that decides its PNG bytes
    (this module's source, crimetrends, matplotlib and numpy versions)."""
    from pipeline import __version__
    from pipeline.cache import digest, library_versions, source_hash

    global _KEY_CONTEXT
    if _KEY_CONTEXT is None:
        _KEY_CONTEXT = (__version__, source_hash("charts"), library_versions("matplotlib", "numpy", "pillow", "zlib-ng"), _deflate.__module__)
    return digest("chart", _KEY_CONTEXT, job.kind, repr(job.data))


def chart_jobs(
    regional: pd.DataFrame,
    country: pd.DataFrame,
    ref: Reference,
    year: int,
    out_dir: Path,
    settings: Settings | None = None,
) -> dict[str, ChartJob]:
    """Every chart that has data, keyed `trend_<CATEGORY>` / `national_<CATEGORY>` in category order,
    then `profile_<ISO3>` for each member state of `year` in the reference's order."""
    settings = _settings(settings)
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


def start_charts(
    regional: pd.DataFrame,
    country: pd.DataFrame,
    ref: Reference,
    year: int,
    out_dir: Path,
    settings: Settings | None = None,
    cache: BlobCache | None = None,
    workers: ChartWorkers | None = None,
) -> PendingCharts:
    """Start writing the PNG of every chart that has data into `out_dir`; returns once the drawing is
    under way, so the caller can do other work meanwhile. `.wait()` on the result gives what
    `render_charts` returns.

    With a `cache` (`pipeline.cache.BlobCache`), a chart whose data and drawing code are unchanged is
    copied from it here (the same bytes drawing would give); the others are put in it by `wait()`.
    With `workers` (started earlier by the caller), the charts are drawn by them, however few; the
    result owns them from here on.
    """
    jobs = chart_jobs(regional, country, ref, year, Path(out_dir), settings)
    keys = {name: chart_key(job) for name, job in jobs.items()} if cache is not None else {}
    to_draw = [name for name in jobs if cache is None or not cache.copy_to(keys[name], jobs[name].path)]
    return PendingCharts(
        {name: job.path for name, job in jobs.items()}, [jobs[name] for name in to_draw],
        [keys[name] for name in to_draw] if cache is not None else [], cache, workers,
        pixel_sizes={job.path: job.pixel_size for job in jobs.values()},
    )


def render_charts(
    regional: pd.DataFrame,
    country: pd.DataFrame,
    ref: Reference,
    year: int,
    out_dir: Path,
    settings: Settings | None = None,
    cache: BlobCache | None = None,
) -> dict[str, Path]:
    """Write the PNG of every chart that has data into `out_dir`; return {key: path} of those written.

    Charts without data are skipped (the report then shows the tables only): a trend and a national
    chart per crime area, and a profile chart per member state of `year`. More than
    `PARALLEL_CHART_THRESHOLD` charts to draw are drawn in a pool of min(2, cpu_count) processes.
    With a `cache` (`pipeline.cache.BlobCache`), a chart whose data and drawing code are unchanged is
    copied from it (the same bytes drawing would give), and every chart drawn is put in it.
    The same as `start_charts(...).wait()`.
    """
    return start_charts(regional, country, ref, year, out_dir, settings, cache).wait()
