"""Report settings: the words on the cover and the few choices a coordinator may want to change.

Input: nothing (defaults below); a later version loads the same fields from a TOML file.
Output: a frozen `Settings` that `pipeline.charts` and `pipeline.report` take as an argument.
Nothing here reads inputs or writes outputs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    # The cover, the running header and the document properties.
    report_title: str = "Annual Assessment of the Trends of Transnational Crime in the BSEC Region"
    organisation: str = "Organization of the Black Sea Economic Cooperation (BSEC)"
    working_group: str = "Working Group on Cooperation in Combating Crime, in particular in its Organized Forms"
    status_line: str = "Draft for the Working Group"
    # Printed under every chart and table of figures.
    source_line: str = "Source: BSEC member-state submissions; population: World Bank"
    # Named in the methodology chapter (how rates are computed).
    population_source: str = "World Bank, World Development Indicators, total population (SP.POP.TOTL)"
    # Below this share of member states reporting, a regional figure is marked as low coverage
    # (hollow marker in the trend chart, a caution in the key-figures sentence, named in the key findings).
    low_coverage_share: float = 0.5
    # Trend and profile charts show at most this many years up to the reporting year (from the first with data).
    trend_years: int = 10
    # Key findings: how many regional changes and national changes are quoted, and what counts.
    key_findings_regional: int = 3
    key_findings_national: int = 3
    # A regional change is quoted only when at least this many states reported in both years.
    key_findings_min_states: int = 3
    # A national change is notable above this many per cent AND this absolute difference.
    national_change_pct: float = 50.0
    national_change_min: float = 10.0


DEFAULT_SETTINGS = Settings()
