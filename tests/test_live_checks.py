"""Live checks in the submission workbook: the formulas are generated from the rules' reference data,
and, recalculated by LibreOffice, they flag exactly the rows the validation finds in error or warns on
for breakdown sums, parts above their whole and changes on last year."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from pipeline import ingest, live_checks, rules, validate, workbook_contract
from pipeline.cli import main, read_and_check
from pipeline.samples import fill_workbook
from pipeline.template import build_workbook
from tests.conftest import require_soffice

# The validation's findings the live checks show: breakdown sums (V03/V04), every part <= whole pair
# of consistency_pairs.csv (added from the reference below), changes and dropped series (T01, T03).
LIVE_CODES = frozenset({"breakdown-sum-mismatch", "breakdown-exceeds-total", "change-unexplained", "series-dropped"})


def _live_codes(ref) -> frozenset[str]:
    return LIVE_CODES | {pair.code for pair in ref.consistency_pairs}


def _rows(ws) -> dict[tuple[str, str], int]:
    header = [c.value for c in ws[1]]
    code, breakdown = header.index(workbook_contract.COL_CODE), header.index(workbook_contract.COL_BREAKDOWN)
    return {(r[code].value, r[breakdown].value): r[0].row for r in ws.iter_rows(min_row=2) if r[code].value}


def _column(ws, name: str) -> str:
    return next(c.column_letter for c in ws[1] if c.value == name)


@pytest.fixture(scope="module")
def template(ref):
    return build_workbook(ref, "GEO", 2026)


def _shown(wb, code, breakdown):
    """What the row's Check cell shows (a workbook recalculated and read with data_only=True)."""
    ws = wb[workbook_contract.DATA_SHEET]
    return ws[f"{_column(ws, workbook_contract.COL_CHECK)}{_rows(ws)[(code, breakdown)]}"]


def _check_cell(wb, ref, code, breakdown):
    """The cell holding the row's message formula: on the helper sheet, shown by the row's Check cell."""
    ws = wb[workbook_contract.DATA_SHEET]
    row = _rows(ws)[(code, breakdown)]
    assert ws[f"{_column(ws, workbook_contract.COL_CHECK)}{row}"].value == f"='_checks'!{live_checks.MESSAGE_COLUMN}{row}"
    return wb[workbook_contract.CHECKS_SHEET][f"{live_checks.MESSAGE_COLUMN}{row}"]


# -- the workbook's layout ------------------------------------------------------------------------------
def test_check_column_after_comment_locked_with_helper_sheet_hidden(template):
    assert workbook_contract.DATA_COLUMNS.index(workbook_contract.COL_CHECK) == workbook_contract.DATA_COLUMNS.index(workbook_contract.COL_COMMENT) + 1
    assert workbook_contract.COL_CHECK not in workbook_contract.EDITABLE_DATA_COLUMNS
    ws = template[workbook_contract.DATA_SHEET]
    letter = _column(ws, workbook_contract.COL_CHECK)
    assert ws.protection.sheet
    assert all(ws[f"{letter}{row}"].protection.locked and str(ws[f"{letter}{row}"].value).startswith("=") for row in range(2, ws.max_row + 1))
    helper = template[workbook_contract.CHECKS_SHEET]
    assert helper.sheet_state == "hidden" and helper.protection.sheet
    assert workbook_contract.TEMPLATE_VERSION == "2026.3"
    assert {"2026.1", "2026.2", "2026.3"} <= workbook_contract.KNOWN_TEMPLATE_VERSIONS


def test_flagged_rows_and_the_cover_line_are_coloured(template):
    ws = template[workbook_contract.DATA_SHEET]
    check, value = _column(ws, workbook_contract.COL_CHECK), _column(ws, workbook_contract.COL_VALUE)
    ranges = {str(cf.sqref): [rule.formula for rule in cf.rules] for cf in ws.conditional_formatting}
    assert ranges[f"{check}2:{check}{ws.max_row}"] == [[f"LEN(${check}2)>0"]]
    assert ranges[f"{value}2:{value}{ws.max_row}"] == [[f"LEN(${check}2)>0"]]
    cover = template[workbook_contract.COVER_SHEET]
    label = next(row for row in cover.iter_rows(max_col=2) if row[0].value == live_checks.COVER_LABEL)
    count = f"SUMPRODUCT(--(LEN('Data'!${check}$2:${check}${ws.max_row})>0))"
    assert label[1].value == "=" + live_checks.cover_summary_formula(count)
    assert live_checks.NO_PROBLEMS_TEXT in label[1].value and "problems to fix before sending" in label[1].value
    rules_on_cover = [rule.formula for cf in cover.conditional_formatting for rule in cf.rules]
    assert sorted(rules_on_cover) == sorted([[f"{count}>0"], [f"{count}=0"]])


# -- the formulas, one row of each kind -----------------------------------------------------------------
def test_breakdown_formula_of_a_total_counts_and_sums_its_parts(ref, template):
    rows = _rows(template[workbook_contract.DATA_SHEET])
    total, female, unknown = rows[("TIP_SUS", "TOTAL")], rows[("TIP_SUS", "SEX=F")], rows[("TIP_SUS", "SEX=UNK")]
    formula = _check_cell(template, ref, "TIP_SUS", "TOTAL").value
    parts = f"'_checks'!B{female}:B{unknown}"
    n_parts = len(ref.breakdown_values["SEX"])
    # Every part a number: the sum must equal the total exactly; some parts missing: the sum must not exceed it.
    assert f"AND(COUNT({parts})={n_parts},SUM({parts})<>N('_checks'!B{total}))" in formula
    assert f"AND(COUNT({parts})<{n_parts},SUM({parts})>N('_checks'!B{total}))" in formula
    assert f"ISNUMBER('_checks'!B{total})" in formula
    assert '"By sex: parts add up to "&SUM(' in formula and '", total is "&' in formula
    # Forms of exploitation flagged d may add up to more than the total (rules.MULTIPLE_COUNT_DIMENSIONS).
    expl = _check_cell(template, ref, "TIP_VIC", "TOTAL").value
    assert 'FIND("d",' in expl and "By form of exploitation:" in expl and 'FIND("d",' not in formula


def test_part_whole_formula_names_the_whole(ref, template):
    rows = _rows(template[workbook_contract.DATA_SHEET])
    formula = _check_cell(template, ref, "COR_BRB", "TOTAL").value
    part, whole = rows[("COR_BRB", "TOTAL")], rows[("COR_OFF", "TOTAL")]
    assert f"N('_checks'!B{part})>N('_checks'!B{whole})" in formula
    assert '"More than “Corruption offences recorded” ("&' in formula
    assert "More than" not in _check_cell(template, ref, "COR_OFF", "TOTAL").value


def test_change_formula_uses_the_thresholds_of_the_reference(ref, template):
    thresholds = rules.load_thresholds()
    row = _rows(template[workbook_contract.DATA_SHEET])[("TIP_SUS", "TOTAL")]
    formula = _check_cell(template, ref, "TIP_SUS", "TOTAL").value
    change = f"ABS('_checks'!B{row}-'Data'!F{row})"
    assert f"{change}/'Data'!F{row}*100>{thresholds.change_pct:g}" in formula
    assert f"{change}>MAX({thresholds.change_abs_min:g},{thresholds.change_share_of_mean:g}*'Data'!F{row})" in formula
    assert f"LEN(TRIM('Data'!H{row}))=0" in formula and f'FIND("b",\'_checks\'!A{row})' in formula
    # Other thresholds give other formulas: they are generated, not copied.
    other = dataclasses.replace(thresholds, change_pct=30.0, change_abs_min=25.0)
    cells = live_checks.RowCells("Data", {name: _column(template[workbook_contract.DATA_SHEET], name) for name in workbook_contract.DATA_COLUMNS})
    regenerated = live_checks.change_message(row, ref.indicator_by_code["TIP_SUS"], [], cells, other)
    assert "*100>30," in regenerated and "MAX(25,0.05*" in regenerated and f"'Data'!F{row}>25)" in regenerated


def test_crimetrends_template_uses_the_thresholds_the_validation_uses(tmp_path):
    """A settings file overriding a threshold of the validation overrides it in the template too."""
    settings = tmp_path / "crimetrends.toml"
    settings.write_text("[validation]\nchange_pct = 35\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--settings", str(settings), "template", "--year", "2026", "--country", "GEO", "--out", str(tmp_path / "t"), "--outputs", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    formula = _check_cell(openpyxl.load_workbook(tmp_path / "t" / "GEO_2026.xlsx"), None, "TIP_OFF", "TOTAL").value
    assert "*100>35," in formula and "*100>50," not in formula


def test_number_used_guards_text_and_follows_the_flags(ref, template):
    helper = template[workbook_contract.CHECKS_SHEET]
    row = _rows(template[workbook_contract.DATA_SHEET])[("TIP_SUS", "TOTAL")]
    number = helper[f"B{row}"].value
    assert number.startswith(f"=IF(ISNUMBER('Data'!E{row}),IF(AND('Data'!E{row}>=0,'Data'!E{row}=INT('Data'!E{row})")
    confidential = sorted(f.code for f in ref.flags if f.kind == "confidentiality")
    assert confidential and all(f'ISERROR(FIND("{code}",\'_checks\'!A{row}))' in number for code in confidential)
    quantity = helper[f"B{_rows(template[workbook_contract.DATA_SHEET])[('DRG_SZ_HER', 'TOTAL')]}"].value
    assert "INT(" not in quantity  # kilograms may have decimals
    codes = helper[f"A{row}"].value
    assert all(f'="{f.word}","{f.code}"' in codes for f in ref.flags)
    assert f'"{live_checks.INVALID_FLAGS}"' in codes


def test_not_available_formula_lists_the_accepted_forms(ref, template):
    formula = _check_cell(template, ref, "EXC_CIG", "TOTAL").value
    assert all(f'="{token}"' in formula for token in validate.NOT_AVAILABLE_TOKENS)
    assert '"Not available, against "&' in formula and 'FIND("m",' in formula


# -- older workbooks ------------------------------------------------------------------------------------
def test_a_workbook_of_template_2026_2_still_reads(ref, tmp_path):
    wb = fill_workbook(build_workbook(ref, "GEO", 2026), {("TIP_VIC", "TOTAL"): 12, ("TIP_VIC", "SEX=F"): 5}, cover={"date": dt.date(2027, 2, 1), "agency": "Police", "contact": "N. B."}, demonstration=False)
    data = wb[workbook_contract.DATA_SHEET]
    data.delete_cols(workbook_contract.DATA_COLUMNS.index(workbook_contract.COL_CHECK) + 1)
    del wb[workbook_contract.CHECKS_SHEET]
    meta = wb[workbook_contract.META_SHEET]
    next(row for row in meta.iter_rows() if row[0].value == workbook_contract.META_VERSION_KEY)[1].value = "2026.2"
    path = tmp_path / "GEO_2026.xlsx"
    wb.save(path)
    sub = validate.validate_submission(ingest.read_submission(path, tmp_path, ref), ref)
    assert not [f.code for f in sub.findings if f.code.startswith(("template-", "header-", "sheet-"))]
    values = {(i, b): v for i, b, v in zip(sub.observations["indicator"], sub.observations["breakdown"], sub.observations["value"], strict=True)}
    assert values[("TIP_VIC", "TOTAL")] == 12 and values[("TIP_VIC", "SEX=F")] == 5


# -- agreement with the validation, recalculated by LibreOffice -------------------------------------------
# Each workbook: (the Previous year value cells, the typed cells as (value, flag, comment)).
FILLED = {
    "clean": (
        {("TIP_SUS", "TOTAL"): 100, ("COR_OFF", "TOTAL"): 90, ("COR_BRB", "TOTAL"): 40, ("EXC_CIG", "TOTAL"): ":"},
        {
            ("TIP_SUS", "TOTAL"): 120, ("TIP_SUS", "SEX=F"): 70, ("TIP_SUS", "SEX=M"): 50, ("TIP_SUS", "SEX=UNK"): 0,
            ("TIP_VIC", "TOTAL"): 549, ("TIP_VIC", "SEX=F"): 300, ("TIP_VIC", "SEX=M"): 249, ("TIP_VIC", "SEX=UNK"): 0,
            ("TIP_VIC", "AGE=CHILD"): 100, ("TIP_VIC", "AGE=ADULT"): ":",  # incomplete, below the total
            ("COR_OFF", "TOTAL"): 100, ("COR_BRB", "TOTAL"): 45, ("EXC_CIG", "TOTAL"): ":",
        },
    ),
    "mistakes": (
        {
            ("TIP_SUS", "TOTAL"): 100, ("TIP_VIC", "SEX=F"): 100, ("COR_BRB", "TOTAL"): 10, ("FA_TRC", "TOTAL"): 10,
            ("DRG_OFF", "TOTAL"): 100, ("TER_OFF", "TOTAL"): 6, ("ML_OFF", "TOTAL"): 40, ("IC_MLA_IN", "TOTAL"): 100,
            ("IC_MLA_OUT", "TOTAL"): 100, ("VEH_THF", "TOTAL"): 100, ("EXC_CIG", "TOTAL"): 100, ("IC_EXT_OUT", "TOTAL"): 8,
        },
        {
            # 300 + 239 + 0 = 539 against 549; children <5 and adults 600 > 549; exploitation flagged d above the total.
            ("TIP_VIC", "TOTAL"): 549, ("TIP_VIC", "SEX=F"): 300, ("TIP_VIC", "SEX=M"): 239, ("TIP_VIC", "SEX=UNK"): 0,
            ("TIP_VIC", "AGE=CHILD"): "<5", ("TIP_VIC", "AGE=ADULT"): 600,
            ("TIP_VIC", "EXPL=SEX"): (400, "d"), ("TIP_VIC", "EXPL=LAB"): 200, ("TIP_VIC", "EXPL=CRIM"): 0,
            ("TIP_VIC", "EXPL=OTH"): 0, ("TIP_VIC", "EXPL=UNK"): 0,
            ("COR_OFF", "TOTAL"): 100, ("COR_BRB", "TOTAL"): 120,  # "of which" above its total, and +1100 % on 10
            ("FA_SZ", "TOTAL"): 40, ("FA_TRC", "TOTAL"): 50,  # a later stage above the earlier one, and +400 %
            ("TIP_SUS", "TOTAL"): 300,  # +200 %, no comment
            ("DRG_OFF", "TOTAL"): (160, None, "New recording system since March."),  # +60 %, explained
            ("TER_OFF", "TOTAL"): 14,  # +133 %, but 8 more: under the minimum of 10
            ("ML_OFF", "TOTAL"): 0,  # 40 last year, 0 now
            ("IC_MLA_IN", "TOTAL"): 151, ("IC_MLA_OUT", "TOTAL"): 150,  # +51 % and +50 % (the threshold)
            ("VEH_THF", "TOTAL"): (300, "break in series", "Thefts from 2026 include attempts."),
            ("EXC_CIG", "TOTAL"): ":",  # 100 last year, not available now, no comment
            ("IC_EXT_OUT", "TOTAL"): 0,  # 8 to 0: a small count
        },
    ),
    "flags": (
        {
            ("TIP_OFF", "TOTAL"): 100, ("VEH_REC", "TOTAL"): 100, ("DRG_SZ_HER", "TOTAL"): 5.2, ("DRG_SZ_COC", "TOTAL"): 12.25,
            ("IC_EXT_IN", "TOTAL"): 50, ("SOM_OFF", "TOTAL"): "<5", ("OCG_OFF", "TOTAL"): 30, ("CYB_OFF", "TOTAL"): 12.5,
        },
        {
            ("TIP_SUS", "TOTAL"): 100, ("TIP_SUS", "SEX=F"): 60, ("TIP_SUS", "SEX=M"): 40, ("TIP_SUS", "SEX=UNK"): "n/a",
            ("TIP_PRO", "TOTAL"): (50, "C"), ("TIP_PRO", "SEX=F"): 30, ("TIP_PRO", "SEX=M"): 30, ("TIP_PRO", "SEX=UNK"): 0,
            ("TIP_CON", "TOTAL"): 20, ("TIP_CON", "SEX=F"): (30, "confidential"), ("TIP_CON", "SEX=M"): 5, ("TIP_CON", "SEX=UNK"): 5,
            ("SOM_SUS", "TOTAL"): 10, ("SOM_SUS", "SEX=F"): (50, "xyz"), ("SOM_SUS", "SEX=M"): 5, ("SOM_SUS", "SEX=UNK"): 0,
            ("DRG_SUS", "TOTAL"): 30, ("DRG_SUS", "SEX=F"): 10, ("DRG_SUS", "SEX=M"): 10, ("DRG_SUS", "SEX=UNK"): 10.5,
            ("TER_SUS", "TOTAL"): 30, ("TER_SUS", "SEX=F"): -5, ("TER_SUS", "SEX=M"): 35, ("TER_SUS", "SEX=UNK"): 0,
            ("TIP_OFF", "TOTAL"): (500, "b"), ("VEH_REC", "TOTAL"): (500, "bp"),  # a break silences the change
            ("DRG_SZ_HER", "TOTAL"): 12.5, ("DRG_SZ_COC", "TOTAL"): 40.5,  # +7.3 kg: small; +28.25 kg: large
            ("IC_EXT_IN", "TOTAL"): (":", "m"),  # not applicable: no dropped series
            ("SOM_OFF", "TOTAL"): 400,  # last year confidential: nothing to compare with
            ("OCG_DIS", "TOTAL"): 30, ("OCG_MEM", "TOTAL"): 20,  # more groups dismantled than members arrested
            ("ML_FRZ", "TOTAL"): 100, ("ML_CNF", "TOTAL"): 500.5,  # confiscated above frozen
            ("OCG_OFF", "TOTAL"): (90, "Provisional"),  # +200 %, a flag that is no break
            ("CYB_OFF", "TOTAL"): 40,  # last year 12.5 is no count: the validation does not use it
        },
    ),
}


def _filled(ref, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for i, (name, (previous, values)) in enumerate(FILLED.items()):
        iso3 = sorted(ref.state_by_iso3)[i]
        cover = {"date": dt.date(2027, 2, 1), "agency": "Ministry of Interior", "contact": "N. Beridze"}
        wb = fill_workbook(build_workbook(ref, iso3, 2026, previous), values, cover=cover, demonstration=False)
        paths[name] = folder / f"{iso3}_2026_{name}.xlsx"
        wb.save(paths[name])
    return paths


def _recalculated(paths: list[Path], out: Path) -> None:
    """One LibreOffice run converts every workbook. openpyxl stores formulas without a result, so
    LibreOffice calculates every formula when it loads them (libraries.md, section 2)."""
    soffice = require_soffice()
    profile = (out.parent / "lo_profile").as_uri()
    subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "xlsx", "--outdir", str(out), *map(str, paths)],
                   check=True, capture_output=True, timeout=300)


def _flagged_by_validation(ref, path: Path) -> dict[str, set[str]]:
    """Value cell -> the live-check codes the pipeline's validation gives on it (`validate FILE`, no other years)."""
    (sub, _), = read_and_check([(path, path.parent)], ref, strict=False)[0]
    found: dict[str, set[str]] = {}
    for finding in sub.findings:
        if finding.code in _live_codes(ref):
            found.setdefault(finding.cell, set()).add(finding.code)
    return found


@pytest.mark.libreoffice
def test_live_checks_recalculated_by_libreoffice_agree_with_the_validation(ref, tmp_path):
    paths = _filled(ref, tmp_path / "filled")
    out = tmp_path / "recalculated"
    _recalculated(list(paths.values()), out)
    seen_codes: set[str] = set()
    for name, path in paths.items():
        expected = _flagged_by_validation(ref, path)
        seen_codes |= {code for codes in expected.values() for code in codes}
        wb = openpyxl.load_workbook(out / path.name, data_only=True)
        ws = wb[workbook_contract.DATA_SHEET]
        value, check = _column(ws, workbook_contract.COL_VALUE), _column(ws, workbook_contract.COL_CHECK)
        shown = {f"{value}{row}": ws[f"{check}{row}"].value for row in range(2, ws.max_row + 1) if ws[f"{check}{row}"].value}
        assert set(shown) == set(expected), (name, shown, expected)
        cover = wb[workbook_contract.COVER_SHEET]
        summary = next(row[1].value for row in cover.iter_rows(max_col=2) if row[0].value == live_checks.COVER_LABEL)
        if expected:
            assert re.match(rf"{len(expected)} problems? to fix before sending", summary), (name, summary)
        else:
            assert summary == live_checks.NO_PROBLEMS_TEXT, name
        assert all(not str(text).startswith(("#", "Err:")) for text in shown.values()), shown
    # Every kind of finding the live checks stand for was met at least once.
    assert seen_codes == _live_codes(ref), seen_codes ^ _live_codes(ref)


@pytest.mark.libreoffice
def test_messages_say_the_sum_and_the_total_in_plain_words(ref, tmp_path):
    paths = _filled(ref, tmp_path / "filled")
    out = tmp_path / "recalculated"
    _recalculated([paths["mistakes"]], out)
    wb = openpyxl.load_workbook(out / paths["mistakes"].name, data_only=True)
    assert _shown(wb, "TIP_VIC", "TOTAL").value == (
        "By sex: parts add up to 539, total is 549. By age: the parts filled in add up to 600, more than the total 549.")
    assert _shown(wb, "COR_BRB", "TOTAL").value == "More than “Corruption offences recorded” (100)."
    assert _shown(wb, "TIP_SUS", "TOTAL").value == "300 against 100 last year (+200 %): check it, or explain it in the Comment."
    assert _shown(wb, "ML_OFF", "TOTAL").value == "0 against 40 last year: check it, or explain it in the Comment."
    assert _shown(wb, "EXC_CIG", "TOTAL").value == "Not available, against 100 last year: explain it in the Comment."
    assert _shown(wb, "TIP_VIC", "SEX=F").value is None  # a part left out with its breakdown is not compared
    assert _shown(wb, "DRG_OFF", "TOTAL").value is None  # explained in the Comment
