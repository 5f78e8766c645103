"""The submission workbook contract: sheet names, headers and Cover labels.

Written by `pipeline.template`, read by `pipeline.ingest`. Ingest finds sheets and columns by these
names (case and spacing ignored), never by position, so re-ordered rows and columns still read.
"""

from __future__ import annotations

from openpyxl.utils import get_column_letter

TEMPLATE_VERSION = "2026.2"  # 2026.2: the "Previous year value" column (revisions, rule R01)
# Versions ingest still reads without a finding. 2026.1 has no previous-year column: it reads as
# a workbook that revises nothing.
KNOWN_TEMPLATE_VERSIONS = frozenset({"2026.1", TEMPLATE_VERSION})

COVER_SHEET = "Cover"
DATA_SHEET = "Data"
INSTRUCTIONS_SHEET = "Instructions"
META_SHEET = "_meta"  # hidden: template version and whether the workbook holds demonstration data
LISTS_SHEET = "_lists"  # hidden: the flag drop-down list

# Data sheet columns, in template order. Only Value, Previous year value, Flag and Comment are for
# the submitter. Previous year value holds the figure for the year before the reporting year as
# accepted last year (pre-filled by `crimetrends template`); a state corrects it to revise that figure.
COL_CODE = "Code"
COL_BREAKDOWN = "Breakdown"
COL_INDICATOR = "Indicator"
COL_UNIT = "Unit"
COL_VALUE = "Value"
COL_PREVIOUS = "Previous year value"
COL_FLAG = "Flag"
COL_COMMENT = "Comment"
COL_DEFINITION = "Definition"
DATA_COLUMNS = (COL_CODE, COL_BREAKDOWN, COL_INDICATOR, COL_UNIT, COL_VALUE, COL_PREVIOUS, COL_FLAG, COL_COMMENT, COL_DEFINITION)
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
