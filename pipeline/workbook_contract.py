"""The submission workbook contract: sheet names, headers and Cover labels.

Written by `pipeline.template`, read by `pipeline.ingest`. Ingest finds sheets and columns by these
names (case and spacing ignored), never by position, so re-ordered rows and columns still read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import NamedTuple

from openpyxl.utils import get_column_letter

TEMPLATE_VERSION = "2026.3"  # 2026.3: live checks (the Check column, the hidden _checks sheet, the Cover count)
# Versions ingest still reads without a finding. 2026.1 has no previous-year column: it reads as
# a workbook that revises nothing. 2026.2 adds the "Previous year value" column (revisions, rule R01).
# 2026.1 and 2026.2 have no Check column: ingest never reads it.
KNOWN_TEMPLATE_VERSIONS = frozenset({"2026.1", "2026.2", TEMPLATE_VERSION})

COVER_SHEET = "Cover"
DATA_SHEET = "Data"
INSTRUCTIONS_SHEET = "Instructions"
META_SHEET = "_meta"  # hidden: template version and whether the workbook holds demonstration data
LISTS_SHEET = "_lists"  # hidden: the flag words and codes and the other lists the input rules read
CHECKS_SHEET = "_checks"  # hidden: per Data row, the flag codes and the number the live checks use
# The template's own helper sheets: nothing a state submits is on them, so ingest neither scans nor reads them.
HELPER_SHEETS = frozenset({LISTS_SHEET, CHECKS_SHEET})

# Data sheet columns, in template order. Only Value, Previous year value, Flag and Comment are for
# the submitter. Check holds the live checks' formulas (`pipeline.live_checks`): ingest does not read it. Previous year value holds the figure for the year before the reporting year as
# accepted last year (pre-filled by `crimetrends template`); a state corrects it to revise that figure.
COL_CODE = "Code"
COL_BREAKDOWN = "Breakdown"
COL_INDICATOR = "Indicator"
COL_UNIT = "Unit"
COL_VALUE = "Value"
COL_PREVIOUS = "Previous year value"
COL_FLAG = "Flag"
COL_COMMENT = "Comment"
COL_CHECK = "Check"
COL_DEFINITION = "Definition"
DATA_COLUMNS = (COL_CODE, COL_BREAKDOWN, COL_INDICATOR, COL_UNIT, COL_VALUE, COL_PREVIOUS, COL_FLAG, COL_COMMENT, COL_CHECK, COL_DEFINITION)
REQUIRED_DATA_COLUMNS = (COL_CODE, COL_BREAKDOWN, COL_VALUE)
EDITABLE_DATA_COLUMNS = (COL_VALUE, COL_PREVIOUS, COL_FLAG, COL_COMMENT)

# Cover: labels in column A, values in column B. Ingest finds each field by its label.
COVER_COUNTRY = "Country (ISO3 code)"
COVER_COUNTRY_NAME = "Country"
COVER_YEAR = "Reporting year"
COVER_AGENCY = "Reporting agency"
COVER_CONTACT = "Contact person"
COVER_EMAIL = "E-mail"
COVER_DATE = "Date submitted"
COVER_LOCKED_FIELDS = (COVER_COUNTRY, COVER_COUNTRY_NAME, COVER_YEAR)
COVER_FILL_FIELDS = (COVER_AGENCY, COVER_CONTACT, COVER_EMAIL, COVER_DATE)

META_VERSION_KEY = "template_version"
META_DEMONSTRATION_KEY = "demonstration"

WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})


def normalise_label(text: object) -> str:
    """Header and label matching ignores case, surrounding and repeated spaces and a trailing colon."""
    return " ".join(str(text).replace("\u00a0", " ").split()).rstrip(":").strip().casefold()


def column_letter(index: int) -> str:
    """The column letters of a 0-based column index: 0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    return get_column_letter(index + 1)


class NameClaims(NamedTuple):
    """What a submission's path says of it, beside its Cover: the state named in the file name
    (an ISO3 code), the year in the file name and the year of the folder it sits in. Each is empty
    (``""`` or None) when the path says nothing, or says two different things."""

    iso3: str
    name_year: int | None
    folder_year: int | None


# Dates in a file name (GEO_2025_2026-02-15.xlsx: sent on 15 February 2026) say when, not which year.
_NAME_DATES = re.compile(r"(?<!\d)(\d{4}[-_.]\d{1,2}[-_.]\d{1,2}|\d{1,2}[-_.]\d{1,2}[-_.]\d{4}|\d{8})(?!\d)")
_NAME_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_FIRST_YEAR, _LAST_YEAR = 2000, 2100


def name_claims(file: str, iso3_codes: Iterable[str]) -> NameClaims:
    """The state and years `file` (a path relative to the inputs folder, `2026/MKD_2026.xlsx`) names.

    The template names a workbook `<ISO3>_<year>.xlsx` and the coordinator keeps it in `<year>/`:
    a name or folder that says otherwise than the Cover is a file sent for one state or year that
    holds another's. Only codes of `iso3_codes` count as a state (any case: `geo_2025.xlsx`);
    a folder counts when its name is a year, the closest one to the file.
    """
    path = PurePosixPath(file)
    codes = {code.upper() for code in iso3_codes}
    named = {token.upper() for token in re.split(r"[^A-Za-z]+", path.stem) if token.upper() in codes}
    years = {int(y) for y in _NAME_YEAR.findall(_NAME_DATES.sub(" ", path.stem)) if _FIRST_YEAR <= int(y) <= _LAST_YEAR}
    folders = [int(part) for part in path.parts[:-1] if re.fullmatch(r"\d{4}", part) and _FIRST_YEAR <= int(part) <= _LAST_YEAR]
    return NameClaims(
        iso3=named.pop() if len(named) == 1 else "",
        name_year=years.pop() if len(years) == 1 else None,
        folder_year=folders[-1] if folders else None,
    )


# -- What a Value or Previous year value cell may hold -------------------------------------------
# Validation reads these (`pipeline.validate.parse_value`); a message that offers the accepted forms
# (a finding, an input message of the template) takes them from here, so the forms offered are the
# forms read. Most used first.
NOT_AVAILABLE_FORMS = (":", "n/a", "..", "...", "-", "--", "na", "n.a.", "not known", "not available")
SUPPRESSED_FORM = "<5"  # a small count kept confidential: "<" and the threshold, any whole number
ACCEPTED_FORMS_TEXT = (
    f"a number (0 for a real zero); {SUPPRESSED_FORM} or another <N for a small count kept confidential; "
    f"or, when the figure is not available, blank, {', '.join(repr(form) for form in NOT_AVAILABLE_FORMS[:-1])} or {NOT_AVAILABLE_FORMS[-1]!r}"
)
