"""Findings: bad data, as records.

Bad data is never an exception: every check returns `Finding` records with a stable kebab-case
code from `reference/finding_codes.csv`, which also gives the severity and the effect on the data.
What is fatal is an exception: `pipeline.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
import pandas as pd

from pipeline.reference import Reference

FINDING_COLUMNS = ["code", "severity", "country_iso3", "year", "file", "sheet", "cell", "value", "message"]


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    country_iso3: str
    year: int | None
    file: str
    sheet: str
    cell: str
    value: str
    message: str

    def as_row(self) -> dict[str, object]:
        return asdict(self)


def make_finding(
    ref: Reference,
    code: str,
    message: str,
    *,
    file: str,
    sheet: str = "",
    cell: str = "",
    value: object = "",
    country_iso3: str = "",
    year: int | None = None,
) -> Finding:
    """Build a finding whose severity comes from the code catalogue (so a coordinator can tune it)."""
    severity = ref.finding_codes[code].severity
    return Finding(code, severity, country_iso3, year, file, sheet, cell, "" if value is None else str(value), message)


def plain_number(number: float) -> str:
    """A number as a finding message shows it: whole numbers without ".0", others without float noise.

    >>> plain_number(1154.0), plain_number(1.154), plain_number(0.1 + 0.2)
    ('1154', '1.154', '0.3')
    """
    return str(int(number)) if float(number).is_integer() else f"{number:.15g}"


def findings_table(findings: Iterable[Finding]) -> pd.DataFrame:
    """Findings as a table (`FINDING_COLUMNS`): errors first, then warnings and infos, each by file in row order."""
    frame = pd.DataFrame([f.as_row() for f in findings], columns=FINDING_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    severity_rank = frame["severity"].map({"error": 0, "warning": 1, "info": 2})
    return frame.assign(_rank=severity_rank).sort_values(["_rank", "file"], kind="stable").drop(columns="_rank").reset_index(drop=True)


assert [f.name for f in fields(Finding)] == FINDING_COLUMNS
