"""Report settings: the words on the cover and the few choices a coordinator may want to change.

Input: nothing (defaults below); a later version loads the same fields from a TOML file.
Output: a frozen `Settings` that `pipeline.charts` and `pipeline.report` take as an argument.
Nothing here reads inputs or writes outputs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    report_title: str = "Annual Assessment of the Trends of Transnational Crime in the BSEC Region"
    organisation: str = "Organization of the Black Sea Economic Cooperation (BSEC)"
    working_group: str = "Working Group on Cooperation in Combating Crime, in particular in its Organized Forms"
    status_line: str = "Draft for the Working Group"
    # Printed under every chart and table of figures.
    source_line: str = "Source: BSEC member-state submissions; population: World Bank"
    # Below this share of member states reporting, a regional figure is marked as low coverage
    # (hollow marker in the trend chart, a caution in the key-figures sentence).
    low_coverage_share: float = 0.5
    # Trend charts show at most this many years up to the reporting year (from the first with data).
    trend_years: int = 10


DEFAULT_SETTINGS = Settings()
