"""Tests of `pipeline.samples`: filling a template workbook and the demonstration set.

Expectations are written by hand (the GLOTIP averages below are typed again from the brief, not
imported), and the files are read back the way ingest reads them (calamine, header=None, dtype=object).
Only a few states and two years are written to disk, so the module runs in a couple of seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from pathlib import Path

import pandas as pd
import pytest

from pipeline import ingest, workbook_contract, validate
from pipeline.reference import load_reference
from pipeline.samples import (
    IMPERFECTIONS,
    fill_workbook,
    generate_sample_inputs,
    readme_text,
    sample_previous_values,
    sample_values,
)
from pipeline.template import build_workbook

PROJECT_ROOT = Path(__file__).resolve().parents[1]
YEARS = (2024, 2025)
STATES = ("ARM", "AZE", "BGR", "GEO", "GRC", "MDA", "MKD", "ROU", "TUR", "UKR")
ALL_STATES = ("ALB", "ARM", "AZE", "BGR", "GEO", "GRC", "MDA", "MKD", "ROU", "RUS", "SRB", "TUR", "UKR")
# UNODC GLOTIP averages 2015–2021 of detected victims (data_glotip.xlsx, extract 30/05/2023).
GLOTIP_VICTIMS = {"ALB": 106, "ARM": 15, "AZE": 81, "BGR": 447, "GEO": 12, "GRC": 95, "MDA": 208, "MKD": 7,
                  "ROU": 656, "RUS": 292, "SRB": 31, "TUR": 241, "UKR": 768}
FUNNELS = (("TIP_SUS", "TIP_PRO", "TIP_CON"), ("SOM_SUS", "SOM_CON"), ("TER_SUS", "TER_CON"))


@pytest.fixture(scope="module")
def ref():
    return load_reference()


@pytest.fixture(scope="module")
def sample_dir(ref, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("inputs")
    generate_sample_inputs(out, ref, years=YEARS, states=STATES)
    return out


@pytest.fixture(scope="module")
def read_back(sample_dir):
    """{file name: (cells, cover, meta)} of every workbook written, read with calamine."""
    return {p.name: _read(p) for p in sorted(sample_dir.glob("*/*.xlsx"))}


@pytest.fixture(scope="module")
def all_values(ref):
    """The in-memory final values of every state and year 2021–2025."""
    return {(iso3, year): sample_values(ref, iso3, year) for iso3 in ALL_STATES for year in range(2021, 2026)}


def _blank(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _read(path: Path):
    sheets = pd.read_excel(path, sheet_name=None, header=None, engine="calamine", dtype=object)
    data = sheets[workbook_contract.DATA_SHEET]
    header = [str(h) for h in data.iloc[0]]
    cells = {}
    for row in data.iloc[1:].itertuples(index=False):
        row = dict(zip(header, row))
        cells[(row["Code"], row["Breakdown"])] = (_blank(row["Value"]), _blank(row["Flag"]), _blank(row["Comment"]))
    cover_sheet = sheets[workbook_contract.COVER_SHEET]
    cover = {label: _blank(value) for label, value in zip(cover_sheet[0], cover_sheet[1]) if isinstance(label, str)}
    meta = dict(zip(sheets[workbook_contract.META_SHEET][0], sheets[workbook_contract.META_SHEET][1]))
    return cells, cover, meta


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# -- fill_workbook -----------------------------------------------------------------------------------
def test_fill_workbook_finds_columns_by_header_name_when_reordered(ref, tmp_path):
    wb = build_workbook(ref, "GEO", 2025)
    data = wb[workbook_contract.DATA_SHEET]
    data.insert_cols(1)  # every column moves one to the right
    data.cell(row=1, column=1, value="Note")
    headers = {c.value: c.column for c in data[1]}
    # Swap the Value and Comment headers: the function must follow the names, not the template positions.
    data.cell(row=1, column=headers["Value"], value="Comment")
    data.cell(row=1, column=headers["Comment"], value=" value ")
    values = {
        ("TIP_VIC", "TOTAL"): (123, "p", "Provisional"),
        ("TIP_VIC", "SEX=F"): ("1 154", None, None),
        ("TIP_CON", "SEX=F"): ("<5",),
        ("DRG_SZ_HER", "TOTAL"): (12.345, "e", "Estimated & rounded <1 kg"),
        ("TER_OFF", "TOTAL"): (":", None, None),
        ("ML_CNF", "TOTAL"): (None, None, None),
        ("VEH_THF", "TOTAL"): 4567,
    }
    cover = {
        workbook_contract.COVER_AGENCY: "Ministry of Internal Affairs (demonstration)",
        "contact": "Nino Beridze",
        workbook_contract.COVER_EMAIL: "nino.beridze@example.org",
        workbook_contract.COVER_DATE: dt.date(2026, 2, 3),
    }
    fill_workbook(wb, values, cover)
    path = tmp_path / "GEO_2025.xlsx"
    wb.save(path)

    sheets = pd.read_excel(path, sheet_name=None, header=None, engine="calamine", dtype=object)
    body = sheets[workbook_contract.DATA_SHEET]
    header = list(body.iloc[0])
    assert header[0] == "Note" and header[5] == "Comment" and header[8] == " value "  # Value and Comment swapped
    rows = {(r[header.index("Code")], r[header.index("Breakdown")]): r for r in body.iloc[1:].itertuples(index=False)}
    value_col, comment_col, flag_col = header.index(" value "), header.index("Comment"), header.index("Flag")
    assert rows[("TIP_VIC", "TOTAL")][value_col] == 123
    assert rows[("TIP_VIC", "TOTAL")][flag_col] == "p"
    assert rows[("TIP_VIC", "TOTAL")][comment_col] == "Provisional"
    assert rows[("TIP_VIC", "SEX=F")][value_col] == "1 154"
    assert rows[("TIP_CON", "SEX=F")][value_col] == "<5"
    assert rows[("DRG_SZ_HER", "TOTAL")][value_col] == 12.345
    assert rows[("DRG_SZ_HER", "TOTAL")][comment_col] == "Estimated & rounded <1 kg"
    assert rows[("TER_OFF", "TOTAL")][value_col] == ":"
    assert _blank(rows[("ML_CNF", "TOTAL")][value_col]) is None
    assert rows[("VEH_THF", "TOTAL")][value_col] == 4567
    # A row not in `values` stays empty; the Note column and the Indicator labels are untouched.
    assert _blank(rows[("TIP_VIC", "SEX=M")][value_col]) is None
    assert rows[("TIP_VIC", "TOTAL")][header.index("Indicator")] == "Identified victims of trafficking in persons"
    cover_rows = dict(zip(sheets[workbook_contract.COVER_SHEET][0], sheets[workbook_contract.COVER_SHEET][1]))
    assert cover_rows[workbook_contract.COVER_AGENCY] == "Ministry of Internal Affairs (demonstration)"
    assert cover_rows[workbook_contract.COVER_CONTACT] == "Nino Beridze"
    assert cover_rows[workbook_contract.COVER_EMAIL] == "nino.beridze@example.org"
    assert pd.Timestamp(cover_rows[workbook_contract.COVER_DATE]).date() == dt.date(2026, 2, 3)
    assert cover_rows[workbook_contract.COVER_COUNTRY] == "GEO"  # locked fields untouched
    assert dict(zip(sheets[workbook_contract.META_SHEET][0], sheets[workbook_contract.META_SHEET][1]))["demonstration"] == "yes"


def test_fill_workbook_sets_demonstration_no_and_rejects_unknown_rows(ref):
    wb = fill_workbook(build_workbook(ref, "ALB", 2024), {("TIP_VIC", "TOTAL"): (5, None, None)}, demonstration=False)
    meta = {row[0]: row[1] for row in wb[workbook_contract.META_SHEET].iter_rows(values_only=True)}
    assert meta["demonstration"] == "no"
    with pytest.raises(KeyError):
        fill_workbook(build_workbook(ref, "ALB", 2024), {("NOPE", "TOTAL"): (1, None, None)})
    with pytest.raises(KeyError):
        fill_workbook(build_workbook(ref, "ALB", 2024), {("TIP_OFF", "SEX=F"): (1, None, None)})  # TIP_OFF has no SEX
    with pytest.raises(KeyError):
        fill_workbook(build_workbook(ref, "ALB", 2024), {}, {"Favourite colour": "blue"})


# -- determinism -------------------------------------------------------------------------------------
def test_same_seed_gives_byte_identical_files_and_subsets_match(ref, tmp_path, sample_dir):
    first = generate_sample_inputs(tmp_path / "a", ref, years=[2025], states=["GEO"])
    second = generate_sample_inputs(tmp_path / "b", ref, years=[2025], states=["GEO"])
    assert [p.name for p in first] == ["GEO_2025.xlsx", "GEO_2025_v2.xlsx"]
    assert [_sha256(p) for p in first] == [_sha256(p) for p in second]
    # Generating fewer states and years gives the same file as the larger set.
    assert _sha256(first[1]) == _sha256(sample_dir / "2025" / "GEO_2025_v2.xlsx")
    other = generate_sample_inputs(tmp_path / "c", ref, years=[2025], states=["GEO"], seed=7)
    assert _sha256(other[1]) != _sha256(first[1])
    assert not list((tmp_path / "a").rglob(".tmp-*"))  # no temporary file left behind


def test_committed_inputs_are_current(ref, tmp_path):
    """inputs/ holds what the script makes; when this fails, run scripts/make_sample_inputs.py again."""
    committed = PROJECT_ROOT / "inputs" / "2025" / "GEO_2025_v2.xlsx"
    if not committed.exists():
        pytest.skip("the shipped demonstration workbooks are not in inputs/ (removed by hand): nothing to compare with the generator")
    fresh = generate_sample_inputs(tmp_path, ref, years=[2025], states=["GEO"])[1]
    assert _sha256(fresh) == _sha256(committed), "inputs/ is stale: run python scripts/make_sample_inputs.py"
    assert (PROJECT_ROOT / "inputs" / "README.md").read_text(encoding="utf-8") == readme_text()


# -- the set as written ------------------------------------------------------------------------------
def test_file_names_missing_state_and_resubmission(sample_dir, read_back):
    names_2025 = sorted(p.name for p in (sample_dir / "2025").glob("*.xlsx"))
    assert "ARM_2025.xlsx" not in names_2025
    assert (sample_dir / "2024" / "ARM_2024.xlsx").exists()
    assert {"GEO_2025.xlsx", "GEO_2025_v2.xlsx"} <= set(names_2025)
    assert len(names_2025) == len(STATES) - 1 + 1  # ARM missing, GEO twice

    first_cells, first_cover, _ = read_back["GEO_2025.xlsx"]
    second_cells, second_cover, _ = read_back["GEO_2025_v2.xlsx"]
    assert pd.Timestamp(first_cover[workbook_contract.COVER_DATE]).date() == dt.date(2026, 2, 10)
    assert pd.Timestamp(second_cover[workbook_contract.COVER_DATE]).date() == dt.date(2026, 2, 24)
    changed = sorted(key for key in second_cells if first_cells[key][0] != second_cells[key][0])
    assert changed == [("DRG_SZ_CNH", "TOTAL"), ("TIP_VIC", "TOTAL")]
    assert first_cells[("TIP_VIC", "TOTAL")][0] == second_cells[("TIP_VIC", "TOTAL")][0] + 10
    assert first_cells[("DRG_SZ_CNH", "TOTAL")][0] == pytest.approx(second_cells[("DRG_SZ_CNH", "TOTAL")][0] * 1000)
    for key in changed:
        assert "Corrected" in second_cells[key][2] and "2026-02-10" in second_cells[key][2]
        assert first_cells[key][2] is None


def test_every_workbook_is_marked_demonstration(read_back):
    for name, (_, cover, meta) in read_back.items():
        year = int(name[4:8])
        assert meta["demonstration"] == "yes", name
        assert meta["template_version"] == workbook_contract.TEMPLATE_VERSION
        assert cover[workbook_contract.COVER_AGENCY].endswith("(demonstration)"), name
        assert cover[workbook_contract.COVER_EMAIL].endswith("@example.org"), name
        assert cover[workbook_contract.COVER_CONTACT]
        submitted = pd.Timestamp(cover[workbook_contract.COVER_DATE]).date()
        assert dt.date(year + 1, 1, 1) <= submitted <= dt.date(year + 1, 2, 28), name
        assert cover[workbook_contract.COVER_COUNTRY] == name[:3]
        assert int(cover[workbook_contract.COVER_YEAR]) == year


def test_counts_are_whole_and_quantities_have_decimals(ref, read_back):
    cells, _, _ = read_back["TUR_2024.xlsx"]
    for ind in ref.indicators:
        for key in ref.breakdowns_of(ind):
            value = _number(cells[(ind.code, key)][0])
            assert value is not None and value >= 0, (ind.code, key)
            if ind.is_count:
                assert value == int(value), (ind.code, key)
            else:
                places = 3 if ind.unit == "kg" else 2
                assert round(value, places) == value, (ind.code, key)
    assert cells[("DRG_SZ_HER", "TOTAL")][0] != int(cells[("DRG_SZ_HER", "TOTAL")][0])
    assert cells[("ML_FRZ", "TOTAL")][0] != int(cells[("ML_FRZ", "TOTAL")][0])


def test_breakdowns_add_up_to_totals_where_complete(ref, read_back):
    checked = 0
    for name, (cells, _, _) in read_back.items():
        if name == "GEO_2025.xlsx":
            continue  # the superseded first file has a total typed wrong on purpose
        for ind in ref.indicators:
            total = _number(cells[(ind.code, "TOTAL")][0])
            for dim in ind.dimensions:
                parts = [_number(cells[(ind.code, f"{dim}={v}")][0]) for v, _ in ref.breakdown_values[dim]]
                if total is None or None in parts:
                    continue
                assert sum(parts) == total, (name, ind.code, dim)
                checked += 1
    assert checked > 200
    # The deliberately incomplete breakdown: reported forms of exploitation fall short of the total.
    cells = read_back["UKR_2024.xlsx"][0]
    assert cells[("TIP_VIC", "EXPL=CRIM")][0] is None and cells[("TIP_VIC", "EXPL=OTH")][0] is None
    reported = sum(cells[("TIP_VIC", f"EXPL={v}")][0] for v in ("SEX", "LAB", "UNK"))
    assert reported < cells[("TIP_VIC", "TOTAL")][0]


def test_convicted_not_above_prosecuted_except_the_deliberate_case(ref, read_back):
    above = []
    for name, (cells, _, _) in read_back.items():
        for chain in FUNNELS:
            for upper, lower in zip(chain, chain[1:]):
                for key in ref.breakdowns_of(ref.indicator_by_code[lower]):
                    hi, lo = _number(cells[(upper, key)][0]), _number(cells[(lower, key)][0])
                    if hi is not None and lo is not None and lo > hi:
                        above.append((name, lower, key))
    assert ("AZE_2024.xlsx", "TIP_CON", "TOTAL") in above
    assert {name for name, _, _ in above} == {"AZE_2024.xlsx"}
    cells = read_back["AZE_2024.xlsx"][0]
    assert cells[("TIP_CON", "TOTAL")][0] == cells[("TIP_PRO", "TOTAL")][0] + 2
    assert cells[("TIP_CON", "TOTAL")][2] is None  # no comment explains it


def test_imperfections_are_in_the_written_files(read_back):
    flags = {(name, key): cells[key][1] for name, (cells, _, _) in read_back.items() for key in cells if cells[key][1]}
    assert flags[("TUR_2025.xlsx", ("DRG_SZ_HER", "TOTAL"))] == "p"
    assert flags[("ROU_2025.xlsx", ("TIP_VIC", "TOTAL"))] == "p"
    assert flags[("AZE_2024.xlsx", ("ML_FRZ", "TOTAL"))] == "e"
    assert {f for (name, _), f in flags.items() if name.endswith("_2025.xlsx")} == {"p"}
    assert read_back["MKD_2024.xlsx"][0][("TIP_CON", "SEX=F")][0] == "<5"
    mda = read_back["MDA_2025.xlsx"][0]
    assert {mda[key][0] for key in mda if key[0].startswith("TER_")} == {":"}
    assert read_back["GRC_2025.xlsx"][0][("SOM_MIG", "TOTAL")][2] == "Προσωρινά στοιχεία της Ελληνικής Αστυνομίας."
    assert read_back["ARM_2024.xlsx"][0][("TIP_VIC", "TOTAL")][2] == "Ներքին գործերի նախարարության տվյալներ"
    comment = read_back["TUR_2024.xlsx"][0][("EXC_CIG", "TOTAL")][2]
    assert "&" in comment and "<" in comment
    rou_2024 = read_back["ROU_2024.xlsx"][0][("CYB_OFF", "TOTAL")][0]
    rou_2025 = read_back["ROU_2025.xlsx"][0][("CYB_OFF", "TOTAL")]
    assert rou_2025[0] > 1.5 * rou_2024 and rou_2025[1] is None and rou_2025[2] is None


@pytest.mark.parametrize("imp", IMPERFECTIONS, ids=lambda i: f"{i.iso3}-{i.year}-{i.code}-{i.breakdown}-{i.kind}")
def test_each_documented_imperfection_is_in_the_values(ref, all_values, imp):
    years = range(2021, 2026) if imp.year is None else [imp.year]
    for year in years:
        if imp.kind == "missing-submission":
            continue  # checked on the files
        values = all_values[(imp.iso3, year)]
        rows = [k for k in values if k[0] == imp.code] if imp.breakdown == "*" else [(imp.code, imp.breakdown)]
        for key in rows if imp.code else []:
            value, flag, comment = values[key]
            if imp.kind in ("provisional", "estimated"):
                assert flag == imp.text
            elif imp.kind == "blank":
                assert value is None
            elif imp.kind in ("not-available", "suppressed"):
                assert value == imp.text
            elif imp.kind == "text-number":
                assert isinstance(value, str) and " " in value and int(value.replace(" ", "")) >= 1000
            elif imp.kind == "break-in-series":
                assert flag == "b" and comment
            elif imp.kind in ("explained-jump", "national-language-comment", "special-characters-comment", "comment"):
                assert comment == imp.text
            elif imp.kind == "jump-no-comment":
                before = all_values[(imp.iso3, year - 1)][key][0]
                assert value > 1.5 * before and flag is None and comment is None
            elif imp.kind == "convicted-above-prosecuted":
                assert value > values[("TIP_PRO", "TOTAL")][0]
            elif imp.kind == "of-which-above-total":
                assert value == values[("COR_OFF", "TOTAL")][0] + 5 and comment is None
            elif imp.kind == "corrected-in-resubmission":
                assert comment.startswith("Corrected in the resubmission of 2026-02-24")
            elif imp.kind == "revision":
                last_year = all_values[(imp.iso3, year - 1)][key][0]
                assert sample_previous_values(ref, imp.iso3, year)[key] == round(last_year * imp.factor)
                assert comment == imp.text


def test_no_other_jump_above_50_percent(ref, all_values):
    """Only the documented jumps move a total by > 50 % and > 10 on the year before."""
    jumps = set()
    for iso3 in ALL_STATES:
        for year in range(2022, 2026):
            if (iso3, year) == ("ARM", 2025):
                continue
            now, before = all_values[(iso3, year)], all_values[(iso3, year - 1)]
            for ind in ref.indicators:
                a, b = _number(before[(ind.code, "TOTAL")][0]), _number(now[(ind.code, "TOTAL")][0])
                if a and b is not None and abs(b - a) > 10 and abs(b / a - 1) > 0.5:
                    jumps.add((iso3, year, ind.code))
    assert jumps == {("ROU", 2025, "CYB_OFF"), ("SRB", 2023, "CYB_OFF"), ("TUR", 2025, "DRG_SZ_ATS")}


def test_trafficking_victims_near_glotip_averages(all_values):
    for (iso3, year), values in all_values.items():
        victims = values[("TIP_VIC", "TOTAL")][0]
        assert GLOTIP_VICTIMS[iso3] / 3 <= victims <= GLOTIP_VICTIMS[iso3] * 3, (iso3, year, victims)
    # Scale follows population: Türkiye seizes more heroin than North Macedonia.
    assert all_values[("TUR", 2024)][("DRG_SZ_HER", "TOTAL")][0] > 50 * all_values[("MKD", 2024)][("DRG_SZ_HER", "TOTAL")][0]


def test_readme_lists_the_imperfections_and_the_command():
    text = readme_text()
    assert "python scripts/make_sample_inputs.py" in text
    assert "demonstration" in text.lower()
    # One instruction: leave the folder, work in a workspace outside the checkout; never "delete".
    assert "leave this folder as it is" in text and "outside this checkout" in text and "delete" not in text.lower()
    assert "Starting a real collection" in text
    for imp in IMPERFECTIONS:
        assert f"| {imp.iso3} | {'every year' if imp.year is None else imp.year} | {imp.code or '–'} |" in text


# -- the Previous year value column ------------------------------------------------------------------
def _previous_cells(path: Path) -> dict:
    data = pd.read_excel(path, sheet_name=workbook_contract.DATA_SHEET, header=None, engine="calamine", dtype=object)
    header = list(data.iloc[0])
    return {(r[header.index("Code")], r[header.index("Breakdown")]): _blank(r[header.index(workbook_contract.COL_PREVIOUS)]) for r in data.iloc[1:].itertuples(index=False)}


def test_previous_year_column_holds_last_years_accepted_values(ref, sample_dir, all_values):
    cells = _previous_cells(sample_dir / "2025" / "GEO_2025_v2.xlsx")
    last_year = all_values[("GEO", 2024)]
    assert cells[("TIP_VIC", "TOTAL")] == last_year[("TIP_VIC", "TOTAL")][0]
    assert cells == {key: sample_previous_values(ref, "GEO", 2025).get(key) for key in cells}
    # The first file and its resubmission carry the same column.
    assert _previous_cells(sample_dir / "2025" / "GEO_2025.xlsx") == cells
    mkd = sample_previous_values(ref, "MKD", 2025)
    assert ("TIP_CON", "SEX=F") not in mkd  # "<5" in 2024: confidential, not shown again
    assert sample_previous_values(ref, "MDA", 2025)[("TER_OFF", "TOTAL")] == ":"
    assert sample_previous_values(ref, "BGR", 2024)[("VEH_THF", "TOTAL")] == int(all_values[("BGR", 2023)][("VEH_THF", "TOTAL")][0].replace(" ", ""))
    assert ("COR_BRB", "TOTAL") not in sample_previous_values(ref, "AZE", 2023)  # left out by validation in 2022
    assert sample_previous_values(ref, "GEO", 2021) == {}  # the first year has no year before


def test_only_the_deliberate_revisions_are_found(ref, sample_dir):
    files = ingest.discover_files(sample_dir)
    subs = [validate.validate_submission(ingest.read_submission(p, sample_dir, ref), ref) for p in files]
    validate.resolve_resubmissions(subs, ref)
    log = validate.apply_revisions(subs, ref)
    revised = sorted((f.code, f.country_iso3, f.file) for s in subs for f in s.findings if f.code.startswith("value-revised") and f.year == 2025)
    assert revised == [("value-revised", "BGR", "2025/BGR_2025.xlsx"), ("value-revised-large", "MDA", "2025/MDA_2025.xlsx")]
    in_2024 = log[log["year"] == 2024].set_index("country_iso3")
    assert in_2024.loc["BGR", "indicator"] == "TIP_OFF" and 0 < in_2024.loc["BGR", "change_pct"] < 20 and in_2024.loc["BGR", "comment"]
    assert in_2024.loc["MDA", "indicator"] == "CYB_OFF" and in_2024.loc["MDA", "change_pct"] > 20 and in_2024.loc["MDA", "comment"] == ""
