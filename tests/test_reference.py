"""Reference files: complete, consistent with each other and with the code."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.reference import REFERENCE_DIR

REQUIRED_CODES = """TIP_OFF TIP_SUS TIP_PRO TIP_CON TIP_VIC SOM_OFF SOM_SUS SOM_CON SOM_MIG DRG_OFF DRG_SUS DRG_SZ_HER
DRG_SZ_COC DRG_SZ_CNH DRG_SZ_CNR DRG_SZ_ATS DRG_SZ_TAB FA_OFF FA_SZ FA_AMMO TER_OFF TER_SUS TER_CON ML_OFF ML_CON
ML_STR ML_FRZ ML_CNF COR_OFF COR_CON CYB_OFF OCG_OFF OCG_DIS OCG_MEM VEH_THF VEH_REC EXC_CIG IC_MLA_IN IC_MLA_OUT
IC_EXT_IN IC_EXT_OUT COR_BRB FA_TRC ML_STRD""".split()


def test_thirteen_member_states_with_membership_years(ref):
    assert [m.iso3 for m in ref.member_states] == "ALB ARM AZE BGR GEO GRC MDA MKD ROU RUS SRB TUR UKR".split()
    years = {m.iso3: m.member_from for m in ref.member_states}
    assert years["MKD"] == 2020 and years["SRB"] == 2004
    assert {y for c, y in years.items() if c not in ("MKD", "SRB")} == {1992}
    assert len(ref.members_in(2019)) == 12 and len(ref.members_in(2020)) == 13 and "SRB" not in ref.members_in(2003)


def test_indicator_catalogue_holds_the_required_codes(ref):
    codes = [i.code for i in ref.indicators]
    assert set(REQUIRED_CODES) <= set(codes)
    assert {i.unit for i in ref.indicators} <= {"cases", "persons", "kg", "items", "EUR", "requests"}
    assert all(i.definition and i.label for i in ref.indicators)
    by_code = ref.indicator_by_code
    assert by_code["DRG_SZ_HER"].kind == "quantity" and by_code["ML_FRZ"].kind == "quantity"
    assert by_code["TIP_VIC"].is_count and by_code["TIP_VIC"].dimensions == ("SEX", "AGE", "EXPL")
    assert by_code["TIP_PRO"].dimensions == ("SEX",) and by_code["TIP_CON"].dimensions == ("SEX",)
    assert by_code["TIP_OFF"].iccs == "0204" and by_code["SOM_OFF"].iccs == "08051"


def test_each_of_which_indicator_sits_right_below_its_total(ref):
    """The template lists indicators in catalogue order, so a part shows beneath its whole."""
    codes = [i.code for i in ref.indicators]
    for part, whole in (("COR_BRB", "COR_OFF"), ("FA_TRC", "FA_SZ"), ("ML_STRD", "ML_STR")):
        assert codes.index(part) == codes.index(whole) + 1, part
        assert ref.indicator_by_code[part].unit == ref.indicator_by_code[whole].unit
    assert ref.indicator_by_code["COR_BRB"].iccs == "07031" and ref.indicator_by_code["COR_BRB"].label.startswith("of which")


def test_consistency_pairs_name_catalogued_indicators_and_codes(ref):
    pairs = {(p.rule, p.part, p.whole): p.code for p in ref.consistency_pairs}
    assert pairs == {
        ("V06", "COR_BRB", "COR_OFF"): "of-which-exceeds-total",
        ("V08", "FA_TRC", "FA_SZ"): "later-stage-exceeds-earlier",
        ("V08", "ML_STRD", "ML_STR"): "later-stage-exceeds-earlier",
        ("V08", "ML_CNF", "ML_FRZ"): "later-stage-exceeds-earlier",
        ("V11", "OCG_DIS", "OCG_MEM"): "groups-exceed-members",
    }
    codes = ref.finding_codes
    assert (codes["of-which-exceeds-total"].severity, codes["of-which-exceeds-total"].effect) == ("error", "drop-value")
    assert {codes[c].severity for c in ("later-stage-exceeds-earlier", "groups-exceed-members")} == {"warning"}
    assert all(p.note for p in ref.consistency_pairs)


def test_unit_conversions_lead_to_catalogue_units(ref):
    conversions = ref.unit_conversions
    assert conversions[("g", "kg")] == 0.001 and conversions[("t", "kg")] == 1000 and conversions[("tonnes", "kg")] == 1000
    assert conversions[("thousand eur", "eur")] == 1000 and conversions[("million eur", "eur")] == 1_000_000
    assert {target for _, target in conversions} <= {i.unit.casefold() for i in ref.indicators}


def test_rates_only_for_persons_and_cases(ref):
    assert {i.unit for i in ref.indicators if i.takes_rate} == {"persons", "cases"}


def test_breakdown_keys(ref):
    keys = ref.breakdowns_of(ref.indicator_by_code["TIP_VIC"])
    assert keys[0] == "TOTAL"
    assert {"SEX=F", "SEX=M", "AGE=CHILD", "AGE=ADULT", "EXPL=SEX", "EXPL=LAB", "EXPL=OTH"} <= set(keys)


def test_breakdown_parts_are_the_keys_after_the_total_by_dimension(ref):
    for indicator in ref.indicators:
        parts = ref.breakdown_parts(indicator)
        assert [dim for dim, _ in parts] == list(indicator.dimensions)
        assert [key for _, keys in parts for _, key in keys] == list(ref.breakdowns_of(indicator))[1:]
        assert all(code == indicator.code for _, keys in parts for code, _ in keys)


def test_population_of_a_year_without_figure_is_the_latest_earlier_one(ref):
    """The look-up by bisection against the plain rule: the latest earlier year, flagged estimated;
    none before the first figure."""
    for iso3 in ("GRC", "MKD", "ARM"):
        years = sorted(y for (c, y) in ref.population if c == iso3)
        for year in range(years[0] - 2, years[-1] + 3):
            figure = ref.population_for(iso3, year)
            earlier = [y for y in years if y <= year]
            if not earlier:
                assert figure is None
            else:
                assert (figure.year, figure.population, figure.is_estimated) == (earlier[-1], ref.population[(iso3, earlier[-1])], earlier[-1] != year)
    assert ref.population_for("XXX", 2020) is None


def test_population_covers_every_state_from_2010(ref):
    for state in ref.member_states:
        assert ref.population_for(state.iso3, 2010).population > 0
    assert ref.population_for("GRC", 2020).population == 10698599  # World Bank SP.POP.TOTL
    figure = ref.population_for("GRC", 2031)
    assert figure.is_estimated and figure.year == max(y for (c, y) in ref.population if c == "GRC")


def test_every_reference_file_is_documented_with_source_and_licence():
    readme = (REFERENCE_DIR / "README.md").read_text(encoding="utf-8")
    for path in REFERENCE_DIR.glob("*.csv"):
        assert f"`{path.name}`" in readme, path.name
    assert "ODC-PDDL" in readme


def test_every_finding_code_used_in_code_is_catalogued_and_vice_versa(ref):
    source = "\n".join(p.read_text(encoding="utf-8") for p in Path(REFERENCE_DIR.parent).glob("*.py"))
    used = set(re.findall(r'"([a-z]+(?:-[a-z]+)+)"', source)) & set(_code_shaped(source))
    used |= {pair.code for pair in ref.consistency_pairs}  # raised by rules.check_consistency_pairs from the file
    catalogued = set(ref.finding_codes)
    assert used - catalogued == set(), "codes used in code but not in finding_codes.csv"
    assert catalogued - used == set(), "codes in finding_codes.csv that no code emits"


def _code_shaped(source: str) -> list[str]:
    """Strings passed to make_finding or returned as a parser finding code."""
    calls = re.findall(r'make_finding\(\s*ref,\s*"([a-z-]+)"', source)
    parser = re.findall(r'ParsedValue\([^)]*?"(value-[a-z-]+)"', source)
    problems = re.findall(r'\("(file-[a-z-]+)",', source)
    return calls + parser + problems


def test_the_finding_codes_page_lists_every_code_as_the_csv_has_it(ref):
    """docs/finding-codes.md is what focal points and the Working Group read: each code's row there says
    what the CSV says (severity, meaning, how to fix), and no code is missing or left over."""
    page = (Path(REFERENCE_DIR.parents[1]) / "docs" / "finding-codes.md").read_text(encoding="utf-8")
    rows = {match[0]: match[1:] for match in re.findall(r"^\| `([a-z-]+)` \| (\w+) \| [^|]+ \| (.+?) \| (.+?) \|$", page, re.MULTILINE)}
    assert set(rows) == set(ref.finding_codes)
    for code, entry in ref.finding_codes.items():
        assert rows[code] == (entry.severity, entry.meaning, entry.how_to_fix), code
