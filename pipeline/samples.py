"""Demonstration submissions: filled-in workbooks that look like a real collection year.

Two entry points:

* `fill_workbook(wb, values, cover, demonstration=True)` fills a workbook made by
  `pipeline.template.build_workbook` (Data cells found by header name and by (Code, Breakdown), Cover
  fields by their label in column A). Benchmarks and tests reuse it to make filled workbooks.
* `generate_sample_inputs(out_dir, ref, years, seed)` writes the demonstration set as
  `out_dir/<year>/<ISO3>_<year>.xlsx` (a resubmission as `<ISO3>_<year>_v2.xlsx`). The set is run by
  `scripts/make_sample_inputs.py` into `inputs/`; a coordinator replaces it with the real submissions.

Nothing here is a real national figure. Magnitudes are plausible, not true:

* Trafficking in persons (TIP_VIC, TIP_PRO, TIP_CON, TIP_OFF) starts from the per-country averages of
  2015–2021 in UNODC GLOTIP (`GLOTIP_AVERAGES`), turned into a rate on the 2018 population, so the
  figures stay in the range of the published ones.
* Every other indicator starts from a base rate per 100,000 inhabitants (`BASE_RATES_PER_100K`,
  in the indicator's unit: cases, persons, kg, items, requests or EUR), times a per-country factor
  (`COUNTRY_FACTORS`), times a random per-country factor drawn once; some are a ratio of another
  indicator (`DERIVED`, e.g. suspects from offences).
* Each year: level x population(year) / 100,000 x (1 + trend)^(year - 2018) x noise, with the trend
  drawn in [-4 %, +4 %] a year and the noise clipped to +-15 %, so no year jumps by 50 % by chance.
* Every random draw comes from `random.Random` seeded with the seed plus the (state, indicator, year)
  it is for, so generating fewer states or years gives the same figures for those that remain.
* Counts are whole numbers; kg have 3 decimals, EUR 2. Breakdowns add up to their total (largest
  remainder); within a crime, convicted <= prosecuted <= suspected, also breakdown by breakdown; an
  "of which" or later-stage figure (COR_BRB, FA_TRC, ML_STRD, ML_CNF, VEH_REC) stays at or below its
  whole (`CAPPED_BY`).
* The Previous year value column holds what validation accepts from the state's workbook of the year
  before (as `crimetrends template` pre-fills it from last year's run): the number, ":" where it was
  not available, blank where it was confidential ("<5") or left out, and blank in the first year
  (`FIRST_YEAR`), which has no year before. So it revises nothing, except where a "revision"
  imperfection below changes it.

Deliberate imperfections (`IMPERFECTIONS` holds the same list as data; the tests and
`inputs/README.md` are built from it). "every year" means every generated year:

| state | year | indicator | breakdown | kind | what |
|---|---|---|---|---|---|
| ARM | 2025 | – | – | missing-submission | no workbook at all for 2025 |
| GEO | 2025 | – | – | resubmission | GEO_2025.xlsx dated 2026-02-10, then GEO_2025_v2.xlsx dated 2026-02-24 |
| GEO | 2025 | TIP_VIC | TOTAL | corrected-in-resubmission | first file: total typed 10 too high (breakdowns do not add up); v2 corrects it, with a comment |
| GEO | 2025 | DRG_SZ_CNH | TOTAL | corrected-in-resubmission | first file: grams instead of kg (1,000 times too high); v2 corrects it, with a comment |
| ROU | 2025 | TIP_VIC | TOTAL | provisional | flag p |
| TUR | 2025 | DRG_SZ_HER | TOTAL | provisional | flag p |
| TUR | 2025 | DRG_SZ_COC | TOTAL | provisional | flag p |
| GRC | 2025 | SOM_MIG | TOTAL | provisional | flag p, comment in Greek |
| UKR | 2025 | FA_SZ | TOTAL | provisional | flag p |
| BGR | 2025 | COR_CON | TOTAL | provisional | flag p |
| RUS | 2025 | EXC_CIG | TOTAL | provisional | flag p |
| UKR | 2023 | VEH_THF | TOTAL | estimated | flag e, comment in Ukrainian |
| AZE | 2024 | ML_FRZ | TOTAL | estimated | flag e, comment on the currency conversion |
| MDA | 2022 | SOM_MIG | TOTAL | estimated | flag e |
| RUS | 2021 | ML_CNF | TOTAL | estimated | flag e |
| AZE | 2022 | ML_CNF | TOTAL | blank | value left blank |
| RUS | 2025 | DRG_SZ_CNR | TOTAL | blank | value left blank |
| UKR | 2024 | TIP_VIC | EXPL=CRIM | blank | breakdown partly blank (reported parts add up to less than the total) |
| UKR | 2024 | TIP_VIC | EXPL=OTH | blank | breakdown partly blank (reported parts add up to less than the total) |
| MDA | every year | TER_OFF, TER_SUS, TER_CON | every row | not-available | ":" – the state never reports terrorism |
| ALB | 2021 | TIP_CON | TOTAL, SEX=F/M/UNK | not-available | ":" |
| TUR | 2022 | IC_EXT_OUT | TOTAL | not-available | ":" |
| BGR | 2023 | VEH_THF | TOTAL | text-number | typed as text with a space as thousands separator ("1 154"-style) |
| MKD | 2024 | TIP_CON | SEX=F | suppressed | "<5" (the true figure is 1 to 4) |
| ROU | 2025 | CYB_OFF | TOTAL | jump-no-comment | 1.85 times the 2024 figure, no comment, no flag |
| AZE | 2024 | TIP_CON | TOTAL | convicted-above-prosecuted | persons convicted 2 above persons prosecuted (TIP_PRO), no comment |
| AZE | 2022 | COR_BRB | TOTAL | of-which-above-total | bribery offences 5 above all corruption offences (COR_OFF), no comment |
| SRB | 2023 | CYB_OFF | TOTAL | break-in-series | flag b with comment; level 1.7 times higher from 2023 on |
| TUR | 2025 | DRG_SZ_ATS | TOTAL | explained-jump | 2.2 times the 2024 figure, with a comment (should not warn) |
| GEO | 2023 | TIP_VIC | TOTAL | national-language-comment | comment in Georgian |
| ARM | 2024 | TIP_VIC | TOTAL | national-language-comment | comment in Armenian |
| RUS | 2024 | EXC_CIG | TOTAL | national-language-comment | comment in Russian (Cyrillic) |
| TUR | 2024 | EXC_CIG | TOTAL | special-characters-comment | comment with "&" and "<" |
| BGR | 2025 | TIP_OFF | TOTAL | revision | previous year value (2024) 1.04 times the accepted figure (a few cases more), with a comment: an info |
| MDA | 2025 | CYB_OFF | TOTAL | revision | previous year value (2024) 1.3 times the accepted figure, without comment: a warning |

Every workbook has `_meta` demonstration = "yes" and an agency name ending in "(demonstration)".
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from openpyxl import Workbook

from pipeline import workbook_contract, output_files
from pipeline.reference import TOTAL, Indicator, Reference
from pipeline.template import build_workbook
from pipeline.validate import CONFIDENTIAL, NOT_AVAILABLE, REPORTED, parse_value

DEMO_SEED = 20260201
DEFAULT_YEARS = range(2021, 2026)
FIRST_YEAR = DEFAULT_YEARS[0]  # the first collection: its workbooks have no previous year to pre-fill
BASE_YEAR = 2018  # levels below are for this year (mid-point of the GLOTIP averages); trends run from it

# UNODC GLOTIP, data_glotip.xlsx (extract dated 30/05/2023, UNODC Global Report on Trafficking in Persons
# data), national totals: mean of the years 2015–2021 with a value, rounded. None: no value in those years.
# (detected victims, persons prosecuted, persons convicted, offences recorded)
GLOTIP_AVERAGES: dict[str, tuple[int, int, int | None, int | None]] = {
    "ALB": (106, 52, None, 21),
    "ARM": (15, 6, 10, 9),
    "AZE": (81, 26, 28, 122),
    "BGR": (447, 81, 50, 172),
    "GEO": (12, 13, 18, 19),
    "GRC": (95, 36, 29, 21),
    "MDA": (208, 44, 34, 118),
    "MKD": (7, 12, 8, None),
    "ROU": (656, 375, 152, 975),
    "RUS": (292, 55, 34, 1880),
    "SRB": (31, 20, 14, 19),
    "TUR": (241, 300, 53, 244),
    "UKR": (768, 112, 28, 187),
}
# Victims by sex and age, same source (2015–2021 breakdowns): female share and child share of detected
# victims, rounded, capped at 0.9 and 0.6; the regional default where the source has too little.
VICTIM_FEMALE_SHARE = {"ALB": 0.72, "ARM": 0.46, "AZE": 0.9, "BGR": 0.78, "GEO": 0.9, "GRC": 0.71, "MDA": 0.44,
                       "MKD": 0.9, "ROU": 0.77, "RUS": 0.81, "SRB": 0.8, "TUR": 0.8, "UKR": 0.31}
VICTIM_CHILD_SHARE = {"ALB": 0.6, "BGR": 0.08, "GEO": 0.5, "GRC": 0.31, "MDA": 0.18, "MKD": 0.6, "ROU": 0.45,
                      "RUS": 0.57, "SRB": 0.43, "TUR": 0.31, "UKR": 0.05}
DEFAULT_CHILD_SHARE = 0.25
# Main form of exploitation (SEX, LAB, CRIM, OTH, UNK), shaped after the same GLOTIP breakdowns (assumption).
EXPLOITATION_SHARES = {
    "default": (0.55, 0.25, 0.06, 0.09, 0.05),
    "UKR": (0.08, 0.85, 0.02, 0.03, 0.02),
    "ARM": (0.15, 0.70, 0.05, 0.05, 0.05),
    "MDA": (0.35, 0.50, 0.05, 0.05, 0.05),
    "AZE": (0.40, 0.40, 0.05, 0.10, 0.05),
    "RUS": (0.50, 0.30, 0.10, 0.05, 0.05),
}
# Share of women among suspects, prosecuted and convicted persons, by crime area (assumption).
OFFENDER_FEMALE_SHARE = {"TIP": 0.25, "SOM": 0.08, "DRG": 0.10, "TER": 0.10, "COR": 0.20}
# States whose offender and victim statistics have a small "sex / age unknown" part (assumption).
UNKNOWN_SHARE = {"RUS": 0.02, "TUR": 0.02, "UKR": 0.03}

# Base rate per 100,000 inhabitants in the indicator's unit (cases, persons, kg, items, requests, EUR).
# Demonstration assumptions of a plausible regional order of magnitude, not published figures.
BASE_RATES_PER_100K: dict[str, float] = {
    "SOM_OFF": 2.0, "SOM_MIG": 25.0,
    "DRG_OFF": 12.0,
    "DRG_SZ_HER": 1.5, "DRG_SZ_COC": 0.8, "DRG_SZ_CNH": 15.0, "DRG_SZ_CNR": 3.0, "DRG_SZ_ATS": 0.5,
    "DRG_SZ_TAB": 2000.0,
    "FA_OFF": 1.5, "FA_SZ": 15.0, "FA_AMMO": 2500.0,
    "TER_OFF": 0.25,
    "ML_OFF": 2.5, "ML_CON": 0.4, "ML_STR": 250.0, "ML_FRZ": 150_000.0,
    "COR_OFF": 12.0, "COR_CON": 2.0,
    "CYB_OFF": 8.0,
    "OCG_OFF": 0.8, "OCG_DIS": 0.25,
    "VEH_THF": 25.0,
    "EXC_CIG": 400_000.0,
    "IC_MLA_IN": 4.0, "IC_MLA_OUT": 3.0, "IC_EXT_IN": 0.6, "IC_EXT_OUT": 0.5,
}
# Indicators drawn as a ratio of another one (same state and year).
DERIVED: dict[str, tuple[str, float]] = {
    "TIP_SUS": ("TIP_PRO", 1.45),
    "SOM_SUS": ("SOM_OFF", 1.3),
    "SOM_CON": ("SOM_SUS", 0.45),
    "DRG_SUS": ("DRG_OFF", 1.15),
    "TER_SUS": ("TER_OFF", 1.6),
    "TER_CON": ("TER_SUS", 0.4),
    "ML_CNF": ("ML_FRZ", 0.25),
    "ML_STRD": ("ML_STR", 0.3),  # FIUs pass on a minority of the reports they receive (assumption)
    "FA_TRC": ("FA_SZ", 0.3),  # share of seized firearms traced (assumption)
    "COR_BRB": ("COR_OFF", 0.6),  # bribery is most recorded corruption (assumption)
    "OCG_MEM": ("OCG_DIS", 6.0),
    "VEH_REC": ("VEH_THF", 0.4),
}
# Per-country factor on the base rate: a key is a crime area (category) or an indicator code; an
# indicator code wins over its area. Demonstration assumptions (transit routes, large customs posts...).
COUNTRY_FACTORS: dict[str, dict[str, float]] = {
    "ALB": {"DRG": 1.5, "DRG_SZ_CNH": 8.0, "SOM": 1.5, "VEH": 0.5},
    "ARM": {"SOM": 0.3, "DRG": 0.5, "TER": 0.3, "VEH": 0.3},
    "AZE": {"DRG": 1.2, "DRG_SZ_HER": 3.0, "SOM": 0.5, "TER": 0.8},
    "BGR": {"SOM": 2.5, "EXC": 3.0, "VEH": 1.0},
    "GEO": {"DRG": 0.8, "SOM": 0.5, "VEH": 0.5, "CYB": 0.8},
    "GRC": {"SOM": 3.0, "DRG": 1.5, "DRG_SZ_COC": 4.0, "DRG_SZ_CNH": 3.0, "VEH": 3.0, "EXC": 1.5},
    "MDA": {"COR": 1.5, "SOM": 0.5, "EXC": 2.0},
    "MKD": {"SOM": 3.0},
    "ROU": {"COR": 2.0, "CYB": 1.5, "EXC": 1.5},
    "RUS": {"CYB": 3.0, "TER": 3.0, "DRG": 1.2, "ML_STR": 10.0},
    "SRB": {"SOM": 2.0},
    "TUR": {"SOM": 3.0, "DRG": 2.0, "DRG_SZ_HER": 6.0, "DRG_SZ_ATS": 6.0, "DRG_SZ_TAB": 10.0, "TER": 6.0, "EXC": 3.0},
    "UKR": {"FA": 3.0, "CYB": 1.5},
}
# Funnels of one crime: each stage is <= the one before it, in total and breakdown by breakdown.
FUNNELS: tuple[tuple[str, ...], ...] = (("TIP_SUS", "TIP_PRO", "TIP_CON"), ("SOM_SUS", "SOM_CON"), ("TER_SUS", "TER_CON"))
CAPPED_BY = {"ML_CNF": "ML_FRZ", "VEH_REC": "VEH_THF", "ML_STRD": "ML_STR", "FA_TRC": "FA_SZ", "COR_BRB": "COR_OFF"}  # never above this one
DECIMALS = {"kg": 3, "EUR": 2}
OF_WHICH_EXCESS = 5  # the "of-which-above-total" imperfection: the part is this much above its total

# Cover of each state's workbooks: agency, contact person (invented names), e-mail on example.org.
COVERS: dict[str, tuple[str, str]] = {
    "ALB": ("Ministry of Interior", "Arben Krasniqi"),
    "ARM": ("Ministry of Internal Affairs", "Anahit Petrosyan"),
    "AZE": ("Ministry of Internal Affairs", "Leyla Mammadova"),
    "BGR": ("Ministry of Interior", "Ivan Petrov"),
    "GEO": ("Ministry of Internal Affairs", "Nino Beridze"),
    "GRC": ("Hellenic Police Headquarters", "Maria Papadopoulou"),
    "MDA": ("Ministry of Internal Affairs", "Ion Rusu"),
    "MKD": ("Ministry of Interior", "Elena Stojanovska"),
    "ROU": ("Ministry of Internal Affairs", "Andrei Popescu"),
    "RUS": ("Ministry of Internal Affairs", "Olga Ivanova"),
    "SRB": ("Ministry of Interior", "Marko Jovanovic"),
    "TUR": ("Ministry of Interior", "Ayse Yilmaz"),
    "UKR": ("Ministry of Internal Affairs", "Oksana Shevchenko"),
}


@dataclass(frozen=True)
class Imperfection:
    """One deliberate imperfection of the demonstration set.

    `year` None: every generated year. `code` "" and `breakdown` "": the whole workbook; `breakdown`
    "*": every row of the indicator. `factor`: the multiplier of a jump, a break or (kind "revision")
    of last year's accepted figure in the Previous year value column. `text`: the value
    typed, the flag, or the comment, depending on `kind`.
    """

    iso3: str
    year: int | None
    code: str
    breakdown: str
    kind: str
    what: str
    factor: float | None = None
    text: str | None = None

    def applies(self, iso3: str, year: int) -> bool:
        return self.iso3 == iso3 and (self.year is None or self.year == year)


MISSING_SUBMISSION = ("ARM", 2025)
RESUBMISSION = ("GEO", 2025)
RESUBMISSION_DATES = (dt.date(2026, 2, 10), dt.date(2026, 2, 24))

_TER_ROWS = tuple(
    Imperfection("MDA", None, code, "*", "not-available", "':' in every row: the state never reports terrorism", text=":")
    for code in ("TER_OFF", "TER_SUS", "TER_CON")
)
IMPERFECTIONS: tuple[Imperfection, ...] = (
    Imperfection("ARM", 2025, "", "", "missing-submission", "no workbook at all for 2025"),
    Imperfection("GEO", 2025, "", "", "resubmission",
                 "GEO_2025.xlsx dated 2026-02-10, then GEO_2025_v2.xlsx dated 2026-02-24 that corrects two values"),
    Imperfection("GEO", 2025, "TIP_VIC", TOTAL, "corrected-in-resubmission",
                 "first file: total typed 10 too high (its breakdowns do not add up); v2 corrects it, with a comment"),
    Imperfection("GEO", 2025, "DRG_SZ_CNH", TOTAL, "corrected-in-resubmission",
                 "first file: grams instead of kg (1,000 times too high); v2 corrects it, with a comment"),
    Imperfection("ROU", 2025, "TIP_VIC", TOTAL, "provisional", "flag p", text="p"),
    Imperfection("TUR", 2025, "DRG_SZ_HER", TOTAL, "provisional", "flag p", text="p"),
    Imperfection("TUR", 2025, "DRG_SZ_COC", TOTAL, "provisional", "flag p", text="p"),
    Imperfection("GRC", 2025, "SOM_MIG", TOTAL, "provisional", "flag p, comment in Greek", text="p"),
    Imperfection("UKR", 2025, "FA_SZ", TOTAL, "provisional", "flag p", text="p"),
    Imperfection("BGR", 2025, "COR_CON", TOTAL, "provisional", "flag p", text="p"),
    Imperfection("RUS", 2025, "EXC_CIG", TOTAL, "provisional", "flag p", text="p"),
    Imperfection("UKR", 2023, "VEH_THF", TOTAL, "estimated", "flag e, comment in Ukrainian", text="e"),
    Imperfection("AZE", 2024, "ML_FRZ", TOTAL, "estimated", "flag e, comment on the currency conversion", text="e"),
    Imperfection("MDA", 2022, "SOM_MIG", TOTAL, "estimated", "flag e", text="e"),
    Imperfection("RUS", 2021, "ML_CNF", TOTAL, "estimated", "flag e", text="e"),
    Imperfection("AZE", 2022, "ML_CNF", TOTAL, "blank", "value left blank"),
    Imperfection("RUS", 2025, "DRG_SZ_CNR", TOTAL, "blank", "value left blank"),
    Imperfection("UKR", 2024, "TIP_VIC", "EXPL=CRIM", "blank",
                 "breakdown partly blank: the reported forms add up to less than the total"),
    Imperfection("UKR", 2024, "TIP_VIC", "EXPL=OTH", "blank",
                 "breakdown partly blank: the reported forms add up to less than the total"),
    *_TER_ROWS,
    *(Imperfection("ALB", 2021, "TIP_CON", key, "not-available", "':' (not available)", text=":")
      for key in (TOTAL, "SEX=F", "SEX=M", "SEX=UNK")),
    Imperfection("TUR", 2022, "IC_EXT_OUT", TOTAL, "not-available", "':' (not available)", text=":"),
    Imperfection("BGR", 2023, "VEH_THF", TOTAL, "text-number",
                 "typed as text with a space as thousands separator ('1 154'-style)"),
    Imperfection("MKD", 2024, "TIP_CON", "SEX=F", "suppressed", "'<5' (the true figure is 1 to 4)", text="<5"),
    Imperfection("ROU", 2025, "CYB_OFF", TOTAL, "jump-no-comment",
                 "1.85 times the 2024 figure, without comment or flag", factor=1.85),
    Imperfection("AZE", 2024, "TIP_CON", TOTAL, "convicted-above-prosecuted",
                 "persons convicted 2 above persons prosecuted (TIP_PRO), without comment"),
    Imperfection("AZE", 2022, "COR_BRB", TOTAL, "of-which-above-total",
                 "bribery offences (of which) 5 above all corruption offences (COR_OFF), without comment"),
    Imperfection("SRB", 2023, "CYB_OFF", TOTAL, "break-in-series",
                 "flag b with a comment; the level is 1.7 times higher from 2023 on", factor=1.7,
                 text="From 2023 also counts misuse of devices, not counted before."),
    Imperfection("TUR", 2025, "DRG_SZ_ATS", TOTAL, "explained-jump",
                 "2.2 times the 2024 figure, with a comment (a jump that is explained)", factor=2.2,
                 text="Two large captagon seizures in Mersin port account for most of the rise."),
    Imperfection("GEO", 2023, "TIP_VIC", TOTAL, "national-language-comment", "comment in Georgian",
                 text="შინაგან საქმეთა სამინისტროს მონაცემები"),  # "Data of the Ministry of Internal Affairs"
    Imperfection("ARM", 2024, "TIP_VIC", TOTAL, "national-language-comment", "comment in Armenian",
                 text="Ներքին գործերի նախարարության տվյալներ"),  # "Data of the Ministry of Internal Affairs"
    Imperfection("RUS", 2024, "EXC_CIG", TOTAL, "national-language-comment", "comment in Russian (Cyrillic)",
                 text="Включая изъятия таможенных органов."),  # "Including seizures by the customs authorities."
    Imperfection("GRC", 2025, "SOM_MIG", TOTAL, "national-language-comment", "comment in Greek",
                 text="Προσωρινά στοιχεία της Ελληνικής Αστυνομίας."),  # "Provisional data of the Hellenic Police."
    Imperfection("UKR", 2023, "VEH_THF", TOTAL, "national-language-comment", "comment in Ukrainian (Cyrillic)",
                 text="Без урахування тимчасово окупованих територій."),  # "Excluding temporarily occupied territories."
    Imperfection("AZE", 2024, "ML_FRZ", TOTAL, "comment", "comment on the currency conversion",
                 text="Converted from AZN at the annual average exchange rate."),
    Imperfection("TUR", 2024, "EXC_CIG", TOTAL, "special-characters-comment", "comment with '&' and '<'",
                 text="Customs & Gendarmerie seizures together; seizures of <1,000 sticks are not counted."),
    Imperfection("BGR", 2025, "TIP_OFF", TOTAL, "revision",
                 "previous year value (2024) 1.04 times the accepted figure (a few cases more), with a comment: an info",
                 factor=1.04, text="2024 revised: cases recorded after last year's submission added."),
    Imperfection("MDA", 2025, "CYB_OFF", TOTAL, "revision",
                 "previous year value (2024) 1.3 times the accepted figure, without comment: a warning", factor=1.3),
)
# Imperfections whose `factor` changes the level of the series itself (not the previous-year column).
SHOCK_KINDS = frozenset({"jump-no-comment", "break-in-series", "explained-jump"})

# What a cell of `values` holds: (value, flag, comment).
Cell = tuple[object, str | None, str | None]
_COVER_ALIASES = {
    "agency": workbook_contract.COVER_AGENCY,
    "contact": workbook_contract.COVER_CONTACT,
    "email": workbook_contract.COVER_EMAIL,
    "e-mail": workbook_contract.COVER_EMAIL,
    "date": workbook_contract.COVER_DATE,
    "date_submitted": workbook_contract.COVER_DATE,
}


# ------------------------------------------------------------------------------------------------
# Filling a template workbook
# ------------------------------------------------------------------------------------------------
def fill_workbook(
    wb: Workbook,
    values: Mapping[tuple[str, str], object],
    cover: Mapping[str, object] | None = None,
    demonstration: bool = True,
) -> Workbook:
    """Fill the Value, Flag and Comment cells, the Cover fields and `_meta` demonstration; return `wb`.

    `values` maps (code, breakdown) to (value, flag, comment) (a shorter tuple or a bare value is taken
    as the value alone). A value is written as given: a number, the text a person typed (":", "1 154",
    "<5") or None for a blank cell. Columns are found by their header name and rows by their Code and
    Breakdown, so re-ordered columns and rows still fill correctly; every row with the key is filled.
    `cover` maps a Cover label in column A (`workbook_contract.COVER_AGENCY`...; or the short names agency,
    contact, email, date) to its value; the date submitted should be a `datetime.date`.
    Raises KeyError for a key or label the workbook does not have.
    """
    data = _sheet(wb, workbook_contract.DATA_SHEET)
    columns = {workbook_contract.normalise_label(c.value): c.column for c in data[1] if c.value is not None}
    missing = [n for n in (workbook_contract.COL_CODE, workbook_contract.COL_BREAKDOWN, workbook_contract.COL_VALUE) if workbook_contract.normalise_label(n) not in columns]
    if missing:
        raise KeyError(f"Data sheet has no column {', '.join(missing)}")
    col_code = columns[workbook_contract.normalise_label(workbook_contract.COL_CODE)]
    col_key = columns[workbook_contract.normalise_label(workbook_contract.COL_BREAKDOWN)]
    targets = [
        columns[workbook_contract.normalise_label(workbook_contract.COL_VALUE)],
        columns.get(workbook_contract.normalise_label(workbook_contract.COL_FLAG)),
        columns.get(workbook_contract.normalise_label(workbook_contract.COL_COMMENT)),
    ]
    wanted = {(str(code).strip(), str(key).strip()): _as_cell(cell) for (code, key), cell in values.items()}
    found: set[tuple[str, str]] = set()
    for row in range(2, data.max_row + 1):
        code = data.cell(row=row, column=col_code).value
        if code is None:
            continue
        key = (str(code).strip(), str(data.cell(row=row, column=col_key).value or "").strip())
        cell = wanted.get(key)
        if cell is None:
            continue
        found.add(key)
        for column, item, name in zip(targets, cell, (workbook_contract.COL_VALUE, workbook_contract.COL_FLAG, workbook_contract.COL_COMMENT), strict=True):
            if column is None:
                if item is not None:
                    raise KeyError(f"Data sheet has no column {name} for {key}")
                continue
            data.cell(row=row, column=column).value = item
    unknown = sorted(set(wanted) - found)
    if unknown:
        raise KeyError(f"no Data row for {unknown[:5]}{' ...' if len(unknown) > 5 else ''}")

    if cover:
        _fill_cover(_sheet(wb, workbook_contract.COVER_SHEET), cover)
    _set_meta(wb, workbook_contract.META_DEMONSTRATION_KEY, "yes" if demonstration else "no")
    return wb


def _as_cell(cell: object) -> Cell:
    if isinstance(cell, tuple):
        if len(cell) > 3:
            raise ValueError(f"a cell is (value, flag, comment), got {cell!r}")
        padded = tuple(cell) + (None,) * (3 - len(cell))
        return padded[0], padded[1], padded[2]  # type: ignore[return-value]
    return cell, None, None


def _sheet(wb: Workbook, name: str):
    wanted = workbook_contract.normalise_label(name)
    for ws in wb.worksheets:
        if workbook_contract.normalise_label(ws.title) == wanted:
            return ws
    raise KeyError(f"workbook has no sheet {name!r}")


def _fill_cover(ws, cover: Mapping[str, object]) -> None:
    rows = {workbook_contract.normalise_label(c.value): c.row for c in ws["A"] if c.value is not None}
    for label, value in cover.items():
        label = _COVER_ALIASES.get(label, label)
        row = rows.get(workbook_contract.normalise_label(label))
        if row is None:
            raise KeyError(f"Cover has no label {label!r}")
        cell = ws.cell(row=row, column=2)
        cell.value = value
        if isinstance(value, dt.date):
            cell.number_format = "yyyy-mm-dd"


def _set_meta(wb: Workbook, key: str, value: str) -> None:
    try:
        ws = _sheet(wb, workbook_contract.META_SHEET)
    except KeyError:
        ws = wb.create_sheet(workbook_contract.META_SHEET)
        ws.sheet_state = "hidden"
    for cell in ws["A"]:
        if cell.value == key:
            ws.cell(row=cell.row, column=2).value = value
            return
    ws.append([key, value])


# ------------------------------------------------------------------------------------------------
# Generating the demonstration set
# ------------------------------------------------------------------------------------------------
def generate_sample_inputs(
    out_dir: Path,
    ref: Reference,
    years: Iterable[int] = DEFAULT_YEARS,
    seed: int = DEMO_SEED,
    states: Iterable[str] | None = None,
) -> list[Path]:
    """Write the demonstration workbooks under `out_dir/<year>/` and return their paths, sorted.

    `states` (ISO3 codes) limits the set, for tests; a state is written only for the years it is a
    member. The same seed gives the same values and byte-identical files; a subset of states or years
    gives the same files as the full set for those states and years.
    """
    out_dir = Path(out_dir)
    wanted = None if states is None else set(states)
    if wanted is not None and wanted - set(ref.state_by_iso3):
        raise ValueError(f"unknown states: {sorted(wanted - set(ref.state_by_iso3))}")
    gen = _Generator(ref, seed)
    written: list[Path] = []
    for year in sorted(set(years)):
        for iso3 in ref.members_in(year):
            if (wanted is not None and iso3 not in wanted) or (iso3, year) == MISSING_SUBMISSION:
                continue
            folder = out_dir / str(year)
            folder.mkdir(parents=True, exist_ok=True)
            previous = gen.previous_values(iso3, year)
            for name, values, submitted in gen.submissions(iso3, year):
                wb = build_workbook(ref, iso3, year, previous)
                fill_workbook(wb, values, _cover(iso3, submitted), demonstration=True)
                target = folder / name
                output_files.write_workbook(wb, target, dt.datetime.combine(submitted, dt.time(9, 30)))
                written.append(target)
    return sorted(written)


def sample_values(ref: Reference, iso3: str, year: int, seed: int = DEMO_SEED) -> dict[tuple[str, str], Cell]:
    """The (code, breakdown) -> (value, flag, comment) of the final submission of one state and year."""
    return _Generator(ref, seed).submissions(iso3, year)[-1][1]


def sample_previous_values(ref: Reference, iso3: str, year: int, seed: int = DEMO_SEED) -> dict[tuple[str, str], object]:
    """The (code, breakdown) -> Previous year value cell of the workbooks of one state and year (absent: blank)."""
    return _Generator(ref, seed).previous_values(iso3, year)


def imperfections_for(iso3: str, year: int) -> list[Imperfection]:
    return [imp for imp in IMPERFECTIONS if imp.applies(iso3, year)]


def _cover(iso3: str, submitted: dt.date) -> dict[str, object]:
    agency, contact = COVERS[iso3]
    return {
        workbook_contract.COVER_AGENCY: f"{agency} (demonstration)",
        workbook_contract.COVER_CONTACT: contact,
        workbook_contract.COVER_EMAIL: contact.lower().replace(" ", ".") + "@example.org",
        workbook_contract.COVER_DATE: submitted,
    }


def _rng(seed: int, *parts: object) -> random.Random:
    # A str seed goes through SHA-512 in `random`, so it is the same in every process.
    return random.Random("|".join([str(seed), *map(str, parts)]))


def _noise(rng: random.Random, sigma: float, clip: float) -> float:
    return math.exp(max(-clip, min(clip, rng.gauss(0.0, sigma))))


class _Generator:
    """The figures of every (state, year), each random draw seeded by what it is for."""

    def __init__(self, ref: Reference, seed: int) -> None:
        self.ref = ref
        self.seed = seed
        self.level = cache(self._level)
        self.shocks = {(i.iso3, i.code): i for i in IMPERFECTIONS if i.kind in SHOCK_KINDS}

    # -- levels (unrounded totals) ---------------------------------------------------------------
    def _population(self, iso3: str, year: int) -> int:
        figure = self.ref.population_for(iso3, year)
        if figure is None:
            raise ValueError(f"no population for {iso3} in or before {year}")
        return figure.population

    def _base_per_100k(self, iso3: str, ind: Indicator) -> float:
        code = ind.code
        glotip = GLOTIP_AVERAGES[iso3]
        victims, prosecuted, convicted, offences = glotip
        per = 100_000 / self._population(iso3, BASE_YEAR)
        if code == "TIP_VIC":
            return victims * per
        if code == "TIP_PRO":
            return prosecuted * per
        if code == "TIP_CON":
            # Convicted <= prosecuted as a rule: the GEO, ARM and AZE averages have more convictions
            # than prosecutions (different years reported), so they are capped below prosecutions.
            return (prosecuted * 0.5 if convicted is None else min(convicted, prosecuted * 0.85)) * per
        if code == "TIP_OFF":
            return (victims if offences is None else offences) * per
        factors = COUNTRY_FACTORS.get(iso3, {})
        factor = factors.get(code, factors.get(ind.category, 1.0))
        spread = _noise(_rng(self.seed, iso3, code, "factor"), 0.2, 0.35)
        return BASE_RATES_PER_100K[code] * factor * spread

    def _level(self, iso3: str, code: str, year: int) -> float:
        shock = self.shocks.get((iso3, code))
        if shock is not None and shock.year == year:
            return self.level(iso3, code, year - 1) * shock.factor
        rng = _rng(self.seed, iso3, code, year)
        if code in DERIVED:
            parent, ratio = DERIVED[code]
            spread = _noise(_rng(self.seed, iso3, code, "factor"), 0.1, 0.15)
            value = self.level(iso3, parent, year) * ratio * spread * _noise(rng, 0.05, 0.1)
        else:
            ind = self.ref.indicator_by_code[code]
            trend = _rng(self.seed, iso3, code, "trend").uniform(-0.04, 0.04)
            value = (
                self._base_per_100k(iso3, ind)
                * self._population(iso3, year)
                / 100_000
                * (1 + trend) ** (year - BASE_YEAR)
                * _noise(rng, 0.08, 0.15)
            )
        if shock is not None and shock.kind == "break-in-series" and year > shock.year:
            value *= shock.factor
        return value

    # -- one state and year ----------------------------------------------------------------------
    def totals(self, iso3: str, year: int) -> dict[str, float | int]:
        out: dict[str, float | int] = {}
        for ind in self.ref.indicators:
            level = self.level(iso3, ind.code, year)
            out[ind.code] = round(level, DECIMALS.get(ind.unit, 2)) if not ind.is_count else int(round(level))
        for chain in FUNNELS:
            for upper, lower in zip(chain, chain[1:]):
                out[lower] = min(out[lower], out[upper])
        for lower, upper in CAPPED_BY.items():
            out[lower] = min(out[lower], out[upper])
        for imp in imperfections_for(iso3, year):
            if imp.kind == "of-which-above-total":
                # A few above the total, not a multiple of the usual part, so that the part does not jump.
                out[imp.code] = out[CAPPED_BY[imp.code]] + OF_WHICH_EXCESS
        out["OCG_MEM"] = max(out["OCG_MEM"], out["OCG_DIS"])
        if any(i.kind == "convicted-above-prosecuted" for i in imperfections_for(iso3, year)):
            # Lower the prosecuted by 2 rather than raise the convicted, so that neither series jumps.
            out["TIP_CON"] = max(out["TIP_CON"], 3)
            out["TIP_PRO"] = out["TIP_CON"] - 2
        return out

    def _weights(self, iso3: str, code: str, dim: str, year: int) -> list[float]:
        unk = UNKNOWN_SHARE.get(iso3, 0.0)
        if code == "TIP_VIC" and dim == "SEX":
            f = VICTIM_FEMALE_SHARE[iso3]
            base = [f, 1 - f - unk, unk]
        elif dim == "SEX":
            f = OFFENDER_FEMALE_SHARE[code.split("_")[0]]
            base = [f, 1 - f - unk, unk]
        elif dim == "AGE":
            child = VICTIM_CHILD_SHARE.get(iso3, DEFAULT_CHILD_SHARE) if code == "TIP_VIC" else 0.2
            base = [child, 1 - child - unk, unk]
        elif dim == "EXPL":
            base = list(EXPLOITATION_SHARES.get(iso3, EXPLOITATION_SHARES["default"]))
        else:
            raise ValueError(f"no shares for dimension {dim}")
        rng = _rng(self.seed, iso3, code, dim, year, "shares")
        return [w * _noise(rng, 0.1, 0.2) for w in base]

    def clean_values(self, iso3: str, year: int) -> dict[tuple[str, str], list]:
        """Every cell of the workbook as [value, flag, comment], before the imperfections."""
        totals = self.totals(iso3, year)
        funnel_upper = {lower: upper for chain in FUNNELS for upper, lower in zip(chain, chain[1:])}
        over_funnel = {i.code for i in imperfections_for(iso3, year) if i.kind == "convicted-above-prosecuted"}
        parts: dict[tuple[str, str], list[int]] = {}
        values: dict[tuple[str, str], list] = {}
        for ind in self.ref.indicators:  # catalogue order: a funnel's upper stage comes first
            values[(ind.code, TOTAL)] = [totals[ind.code], None, None]
            for dim in ind.dimensions:
                keys = [f"{dim}={v}" for v, _ in self.ref.breakdown_values[dim]]
                upper = funnel_upper.get(ind.code)
                caps = parts.get((upper, dim)) if upper and ind.code not in over_funnel else None
                split = _split(int(totals[ind.code]), self._weights(iso3, ind.code, dim, year), caps)
                parts[(ind.code, dim)] = split
                for key, number in zip(keys, split):
                    values[(ind.code, key)] = [number, None, None]
        for imp in imperfections_for(iso3, year):
            if imp.kind == "suppressed":  # make the hidden figure a true small count (1 to 4)
                dim = imp.breakdown.split("=")[0]
                keys = [f"{dim}={v}" for v, _ in self.ref.breakdown_values[dim]]
                total = int(totals[imp.code])
                if total < 1:
                    continue
                small = max(1, min(4, values[(imp.code, imp.breakdown)][0], total))
                rest = [k for k in keys if k != imp.breakdown]
                values[(imp.code, imp.breakdown)][0] = small
                others = _split(total - small, [max(values[(imp.code, k)][0], 0.01) for k in rest])
                for key, number in zip(rest, others):
                    values[(imp.code, key)][0] = number
        return values

    def submissions(self, iso3: str, year: int) -> list[tuple[str, dict[tuple[str, str], Cell], dt.date]]:
        """(file name, values, date submitted) of each file of the state-year, oldest first."""
        values = self.clean_values(iso3, year)
        for imp in imperfections_for(iso3, year):
            cell = values.get((imp.code, imp.breakdown))
            if imp.breakdown == "*":
                for (code, _), other in values.items():
                    if code == imp.code:
                        other[0] = imp.text
            elif imp.kind in ("provisional", "estimated"):
                cell[1] = imp.text
            elif imp.kind == "blank":
                cell[0] = None
            elif imp.kind == "not-available" or imp.kind == "suppressed":
                cell[0] = imp.text
            elif imp.kind == "text-number":
                cell[0] = f"{int(cell[0]):,}".replace(",", " ")
            elif imp.kind == "break-in-series":
                cell[1], cell[2] = "b", imp.text
            elif imp.kind in ("explained-jump", "national-language-comment", "special-characters-comment", "comment"):
                cell[2] = imp.text
            elif imp.kind == "revision" and imp.text:
                cell[2] = imp.text
        name = f"{iso3}_{year}.xlsx"
        submitted = _rng(self.seed, iso3, year, "date").randint(14, 57)
        date = dt.date(year + 1, 1, 1) + dt.timedelta(days=submitted)
        if (iso3, year) != RESUBMISSION:
            return [(name, _freeze(values), date)]

        first = {key: list(cell) for key, cell in values.items()}
        first_date, second_date = RESUBMISSION_DATES
        for imp in imperfections_for(iso3, year):
            if imp.kind != "corrected-in-resubmission":
                continue
            right = values[(imp.code, imp.breakdown)][0]
            wrong = right + 10 if imp.code == "TIP_VIC" else round(right * 1000, 3)
            first[(imp.code, imp.breakdown)][0] = wrong
            values[(imp.code, imp.breakdown)][2] = (
                f"Corrected in the resubmission of {second_date.isoformat()}: "
                f"the first file of {first_date.isoformat()} said {_show(wrong)}."
            )
        return [(name, _freeze(first), first_date), (f"{iso3}_{year}_v2.xlsx", _freeze(values), second_date)]


    def previous_values(self, iso3: str, year: int) -> dict[tuple[str, str], object]:
        """The Previous year value column: what validation accepts from the final `year - 1` workbook.

        As `template.previous_values` writes it from last year's observations: the number, ":" for not
        available, nothing for a confidential "<5" or a value validation leaves out (an "of which" part
        above its total). Then the "revision" imperfections of `year` change their cell.
        """
        before = year - 1
        if before < FIRST_YEAR or iso3 not in self.ref.members_in(before) or (iso3, before) == MISSING_SUBMISSION:
            return {}
        left_out = {(i.code, i.breakdown) for i in imperfections_for(iso3, before) if i.kind == "of-which-above-total"}
        shown: dict[tuple[str, str], object] = {}
        for key, (value, _, _) in self.submissions(iso3, before)[-1][1].items():
            ind = self.ref.indicator_by_code[key[0]]
            parsed = parse_value(value, ind.is_count)
            if key in left_out or parsed.status == CONFIDENTIAL:
                continue
            if parsed.status == REPORTED:
                shown[key] = int(parsed.number) if ind.is_count else parsed.number
            elif parsed.status == NOT_AVAILABLE:
                shown[key] = ":"
        for imp in imperfections_for(iso3, year):
            if imp.kind == "revision":
                ind = self.ref.indicator_by_code[imp.code]
                revised = shown[(imp.code, imp.breakdown)] * imp.factor
                shown[(imp.code, imp.breakdown)] = int(round(revised)) if ind.is_count else round(revised, DECIMALS.get(ind.unit, 2))
        return shown


def _show(number: float | int) -> str:
    return str(number) if isinstance(number, int) else f"{number:.3f}".rstrip("0").rstrip(".")


def _freeze(values: dict[tuple[str, str], list]) -> dict[tuple[str, str], Cell]:
    return {key: (cell[0], cell[1], cell[2]) for key, cell in values.items()}


def _split(total: int, weights: Sequence[float], caps: Sequence[int] | None = None) -> list[int]:
    """`total` in whole parts proportional to `weights` (largest remainder), each part <= its cap."""
    n = len(weights)
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        parts = [0] * n
        if total > 0:
            parts[-1] = total
        return parts
    raw = [total * w / weight_sum for w in weights]
    parts = [math.floor(r) for r in raw]
    by_remainder = sorted(range(n), key=lambda i: (-(raw[i] - parts[i]), i))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    if caps is not None and sum(caps) >= total:
        excess = 0
        for i in range(n):
            if parts[i] > caps[i]:
                excess += parts[i] - caps[i]
                parts[i] = caps[i]
        for i in sorted(range(n), key=lambda i: (-weights[i], i)):
            move = min(excess, caps[i] - parts[i])
            parts[i] += move
            excess -= move
    return parts


def readme_text(years: Iterable[int] = DEFAULT_YEARS, seed: int = DEMO_SEED) -> str:
    """The `inputs/README.md` that goes with the demonstration set."""
    years = sorted(set(years))
    span = f"{years[0]}–{years[-1]}" if years else "none"
    lines = [
        "# Demonstration data: no real submission belongs here",
        "",
        f"Every workbook in this folder ({span}, one per member state and year) is **demonstration data**, "
        "not national figures. It was made by",
        "",
        "```",
        f"python scripts/make_sample_inputs.py --out inputs --seed {seed}",
        "```",
        "",
        "(`pipeline/samples.py`; the same seed gives byte-identical files). Each workbook's hidden `_meta` sheet "
        "says `demonstration = yes` and each Cover names an agency \"(demonstration)\". The trafficking-in-persons "
        "figures are in the range of the UNODC GLOTIP averages 2015–2021; all other figures are invented from "
        "plausible rates per 100,000 inhabitants.",
        "",
        "**Coordinator:** leave this folder as it is: `make report` runs the demonstration from it, and the "
        "tests do not need it. A real collection lives in a workspace folder of its own, outside this "
        "checkout, so that national data never enter its git history: its own `inputs/<year>/` for the "
        "workbooks the member states send (file names `<ISO3>_<year>.xlsx`; a resubmission may carry a "
        "suffix such as `_v2`, and the later date submitted on the Cover wins), its own `outputs/` and "
        "`crimetrends.toml`. docs/coordinators-guide.md, \"Starting a real collection\", gives the steps.",
        "",
        "## Deliberate imperfections",
        "",
        "A real collection year is never clean, so this one is not either. The pipeline should read, flag or "
        "report each of these according to its kind (\"every year\" means every year in the folder):",
        "",
        "| state | year | indicator | breakdown | kind | what |",
        "|---|---|---|---|---|---|",
    ]
    for imp in IMPERFECTIONS:
        if imp.year is not None and imp.year not in years:
            continue
        year = "every year" if imp.year is None else str(imp.year)
        breakdown = {"": "–", "*": "every row"}.get(imp.breakdown, imp.breakdown)
        what = imp.what if not imp.text or imp.kind not in ("national-language-comment",) else f"{imp.what}: {imp.text}"
        lines.append(f"| {imp.iso3} | {year} | {imp.code or '–'} | {breakdown} | {imp.kind} | {what} |")
    lines += [
        "",
        "Everything else is consistent: breakdowns add up to their totals, \"of which\" figures stay at or below "
        "their totals, persons convicted do not exceed "
        "persons prosecuted, nor prosecuted the suspected (in total and breakdown by breakdown), and no other "
        "total moves by more than 50 % and more than 10 on the year before (small counts may swing more).",
        "",
        "## history/: real published figures",
        "",
        "`history/` is not demonstration data: it holds real figures imported from published files with "
        "`crimetrends import` (`make history`), UNODC GLOTIP (trafficking in persons, to 2021) and Eurostat "
        "`crim_off_cat` (seven member states, to 2022), each with a `.json` naming the file imported and its "
        "sha256. The run uses them for the years and states no workbook covers, so the trend charts reach "
        "back ten years; a workbook always wins for its own state, indicator and year. A real workspace "
        "gets its own copy (`cp -r inputs/history <workspace>/inputs/`) or imports the published files "
        "itself with `crimetrends import`.",
        "",
    ]
    return "\n".join(lines)
