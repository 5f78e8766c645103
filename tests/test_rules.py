"""Content and time rules: what each rule leaves out, keeps, or stays quiet about.

The one-spec-per-code table is in test_validate.py (`SPEC_CASES`); these tests go further: statuses,
values kept or dropped, the cases that must not warn, and which rule silences which.
"""

from __future__ import annotations

import openpyxl
import pytest

from pipeline import ingest, workbook_contract, validate
from pipeline.errors import ReferenceDataError
from pipeline.rules import Thresholds, load_thresholds
from tests.conftest import write_submission


def _write(folder, ref, iso3, year, values, **cover):
    """A submission whose Cover is complete (a contact person too), so only the rule under test speaks."""
    return write_submission(folder, ref, iso3, year, values, **{"contact": "Nino Beridze", **cover})


def _row(path, code, breakdown="TOTAL"):
    ws = openpyxl.load_workbook(path)[workbook_contract.DATA_SHEET]
    return next(r[0].row for r in ws.iter_rows(min_row=2) if (r[0].value, r[1].value) == (code, breakdown))


def _run(folder, ref):
    subs = [validate.validate_submission(ingest.read_submission(p, folder, ref), ref) for p in ingest.discover_files(folder)]
    validate.resolve_resubmissions(subs, ref)
    validate.apply_revisions(subs, ref)
    validate.apply_time_rules(subs, ref)
    return subs


def _flat(subs, *codes):
    return sorted((f.code, f.file, f.cell) for s in subs for f in s.findings if f.code in codes)


def test_thresholds_come_from_the_reference_file():
    thresholds = load_thresholds()
    assert thresholds == Thresholds(change_pct=50.0, change_abs_min=10.0, change_share_of_mean=0.05, outlier_z=3.5, outlier_min_years=4, outlier_min_spread=0.1, revision_warn_pct=20.0)
    assert isinstance(thresholds.outlier_min_years, int)


def test_an_unknown_threshold_is_a_reference_error(tmp_path):
    path = tmp_path / "rule_thresholds.csv"
    path.write_text("name,value,meaning\nchange_pc,50,typo\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="change_pc"):
        load_thresholds(path)


def test_complete_breakdown_must_sum_to_total(ref, tmp_path):
    path = _write(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 20, ("TIP_VIC", "SEX=F"): 6, ("TIP_VIC", "SEX=M"): 3, ("TIP_VIC", "SEX=UNK"): 1})
    [sub] = _run(tmp_path, ref)
    assert _flat([sub], "breakdown-sum-mismatch") == [("breakdown-sum-mismatch", "GEO_2025.xlsx", f"E{_row(path, 'TIP_VIC')}")]
    obs = sub.observations.set_index(["indicator", "breakdown"])
    assert obs.loc[("TIP_VIC", "SEX=F"), "status"] == "rejected" and obs.loc[("TIP_VIC", "TOTAL"), "value"] == 20


def test_partial_breakdown_may_fall_short_but_not_exceed(ref, tmp_path):
    _write(tmp_path / "a", ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 20, ("TIP_VIC", "SEX=F"): 6})
    assert _flat(_run(tmp_path / "a", ref), "breakdown-sum-mismatch", "breakdown-exceeds-total") == []
    path = _write(tmp_path / "b", ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 5, ("TIP_VIC", "AGE=CHILD"): 6})
    assert _flat(_run(tmp_path / "b", ref), "breakdown-exceeds-total") == [("breakdown-exceeds-total", "GEO_2025.xlsx", f"E{_row(path, 'TIP_VIC')}")]


def test_one_wrong_total_is_one_finding_on_its_cell_listing_each_breakdown_and_its_sum(ref, tmp_path):
    values = {
        ("TIP_VIC", "TOTAL"): 549,
        ("TIP_VIC", "SEX=F"): 300, ("TIP_VIC", "SEX=M"): 239, ("TIP_VIC", "SEX=UNK"): 0,
        ("TIP_VIC", "AGE=CHILD"): 100, ("TIP_VIC", "AGE=ADULT"): 420, ("TIP_VIC", "AGE=UNK"): 9,
        **{("TIP_VIC", f"EXPL={form}"): n for form, n in (("SEX", 200), ("LAB", 150), ("CRIM", 50), ("OTH", 30), ("UNK", 9))},
    }
    path = _write(tmp_path, ref, "GEO", 2025, values)
    [sub] = _run(tmp_path, ref)
    [finding] = sub.findings
    assert (finding.code, finding.cell, finding.value) == ("breakdown-sum-mismatch", f"E{_row(path, 'TIP_VIC')}", "549")  # the total's cell holds 549
    assert finding.message.startswith("Identified victims of trafficking in persons (TIP_VIC) holds 549, but its parts add up to another figure: ")
    assert "Female 300 + Male 239 + Sex unknown 0 = 539; " in finding.message
    assert "Children (under 18) 100 + Adults (18 and over) 420 + Age unknown 9 = 529; " in finding.message
    assert "Sexual exploitation 200 + Forced labour 150 + Forced criminality 50 + Other forms of exploitation 30 + Form of exploitation unknown 9 = 439." in finding.message
    assert (sub.observations["status"] == "rejected").sum() == 3 + 3 + 5


def test_a_total_is_named_once_whatever_its_breakdowns_say(ref, tmp_path):
    """One complete breakdown that does not add up and one partial one above the total: one finding, both listed."""
    values = {("TIP_VIC", "TOTAL"): 10, ("TIP_VIC", "SEX=F"): 6, ("TIP_VIC", "SEX=M"): 3, ("TIP_VIC", "SEX=UNK"): 0, ("TIP_VIC", "AGE=CHILD"): 12}
    path = _write(tmp_path, ref, "GEO", 2025, values)
    [sub] = _run(tmp_path, ref)
    assert [(f.code, f.cell) for f in sub.findings] == [("breakdown-sum-mismatch", f"E{_row(path, 'TIP_VIC')}")]
    assert "Female 6 + Male 3 + Sex unknown 0 = 9; Children (under 18) 12 = 12 (Adults (18 and over), Age unknown not given), more than the total." in sub.findings[0].message


def test_funnel_inverted_is_a_warning(ref, tmp_path):
    path = _write(tmp_path, ref, "GEO", 2025, {("TIP_SUS", "TOTAL"): 10, ("TIP_PRO", "TOTAL"): 8, ("TIP_CON", "TOTAL"): 9})
    [sub] = _run(tmp_path, ref)
    assert _flat([sub], "funnel-inverted") == [("funnel-inverted", "GEO_2025.xlsx", f"E{_row(path, 'TIP_CON')}")]
    assert sub.status == "accepted-with-warnings" and sub.observations.set_index(["indicator", "breakdown"]).loc[("TIP_CON", "TOTAL"), "value"] == 9


def test_large_change_without_comment_warns_and_small_counts_do_not(ref, tmp_path):
    _write(tmp_path, ref, "GEO", 2024, {("CYB_OFF", "TOTAL"): 100, ("TIP_OFF", "TOTAL"): 4, ("COR_OFF", "TOTAL"): 100, ("VEH_THF", "TOTAL"): 100})
    path = _write(tmp_path, ref, "GEO", 2025, {
        ("CYB_OFF", "TOTAL"): 200,  # +100 %, no comment: warning
        ("TIP_OFF", "TOTAL"): 9,  # +125 % but only 5 more: no warning
        ("COR_OFF", "TOTAL"): (200, None, "New unit for corruption since March"),  # explained
        ("VEH_THF", "TOTAL"): (200, "b", None),  # break in series
    })
    assert _flat(_run(tmp_path, ref), "change-unexplained") == [("change-unexplained", "GEO_2025.xlsx", f"E{_row(path, 'CYB_OFF')}")]


def test_dropped_series_and_unexplained_blank(ref, tmp_path):
    _write(tmp_path, ref, "GEO", 2024, {("CYB_OFF", "TOTAL"): 100, ("TIP_OFF", "TOTAL"): 50, ("COR_OFF", "TOTAL"): 30, ("TER_OFF", "TOTAL"): 2})
    path = _write(tmp_path, ref, "GEO", 2025, {("CYB_OFF", "TOTAL"): 0, ("TIP_OFF", "TOTAL"): ":", ("TER_OFF", "TOTAL"): 0})  # COR_OFF left blank; 2 -> 0 is ordinary
    subs = _run(tmp_path, ref)
    assert _flat(subs, "series-dropped", "value-blank-unexplained") == sorted([
        ("series-dropped", "GEO_2025.xlsx", f"E{_row(path, 'CYB_OFF')}"),
        ("series-dropped", "GEO_2025.xlsx", f"E{_row(path, 'TIP_OFF')}"),
        ("value-blank-unexplained", "GEO_2025.xlsx", f"E{_row(path, 'COR_OFF')}"),
    ])


def _obs(sub):
    return sub.observations.set_index(["indicator", "breakdown"])


# -- S06 units -------------------------------------------------------------------------------------
def test_known_unit_is_converted_and_flagged_estimated(ref, tmp_path):
    path = _write(tmp_path, ref, "GEO", 2025, {("DRG_SZ_HER", "TOTAL"): (1154, "p", None), ("ML_FRZ", "TOTAL"): 2.5, ("DRG_SZ_COC", "TOTAL"): 4})

    def edit(wb):
        ws = wb[workbook_contract.DATA_SHEET]
        ws[f"D{_row(path, 'DRG_SZ_HER')}"] = "g"
        ws[f"D{_row(path, 'ML_FRZ')}"] = "Million  EUR"  # case and spaces do not matter
        ws[f"D{_row(path, 'DRG_SZ_COC')}"] = "KG"  # the catalogue unit in capitals: nothing to convert

    wb = openpyxl.load_workbook(path)
    edit(wb)
    wb.save(path)
    [sub] = _run(tmp_path, ref)
    assert _flat([sub], "unit-converted") == sorted([("unit-converted", "GEO_2025.xlsx", f"D{_row(path, 'DRG_SZ_HER')}"), ("unit-converted", "GEO_2025.xlsx", f"D{_row(path, 'ML_FRZ')}")])
    obs = _obs(sub)
    assert obs.loc[("DRG_SZ_HER", "TOTAL"), ["value", "flags", "status"]].tolist() == [1.154, "pe", "reported"]
    assert obs.loc[("ML_FRZ", "TOTAL"), ["value", "flags"]].tolist() == [2_500_000.0, "e"]
    assert obs.loc[("DRG_SZ_COC", "TOTAL"), ["value", "flags"]].tolist() == [4.0, ""]
    assert sub.status == "accepted"  # a conversion is information only


def test_unknown_unit_leaves_the_value_out_and_blank_unit_means_the_catalogue_one(ref, tmp_path):
    path = _write(tmp_path, ref, "GEO", 2025, {("DRG_SZ_HER", "TOTAL"): 3, ("DRG_SZ_COC", "TOTAL"): 4, ("DRG_SZ_CNH", "TOTAL"): ":"})

    wb = openpyxl.load_workbook(path)
    ws = wb[workbook_contract.DATA_SHEET]
    ws[f"D{_row(path, 'DRG_SZ_HER')}"] = "pounds"
    ws[f"D{_row(path, 'DRG_SZ_COC')}"] = None
    ws[f"D{_row(path, 'DRG_SZ_CNH')}"] = "pounds"  # not available: no number to convert, nothing to say
    wb.save(path)
    [sub] = _run(tmp_path, ref)
    assert _flat([sub], "unit-unknown", "unit-converted") == [("unit-unknown", "GEO_2025.xlsx", f"D{_row(path, 'DRG_SZ_HER')}")]
    obs = _obs(sub)
    assert obs.loc[("DRG_SZ_HER", "TOTAL"), "status"] == "rejected" and obs.loc[("DRG_SZ_COC", "TOTAL"), "value"] == 4
    assert "1 value(s) left out" in sub.reason


# -- V05 several forms per victim ------------------------------------------------------------------
def _forms(flag, **numbers):
    return {("TIP_VIC", f"EXPL={form}"): (numbers.get(form, 0), flag, None) for form in ("SEX", "LAB", "CRIM", "OTH", "UNK")}


def test_forms_flagged_d_may_exceed_the_victims_and_are_kept(ref, tmp_path):
    write = {("TIP_VIC", "TOTAL"): 10, **_forms("d", SEX=8, LAB=5)}
    _write(tmp_path, ref, "GEO", 2025, write)
    [sub] = _run(tmp_path, ref)
    assert [f.code for f in sub.findings] == ["breakdown-multiple-forms"]
    assert _obs(sub).loc[("TIP_VIC", "EXPL=SEX"), ["value", "status"]].tolist() == [8.0, "reported"]


def test_forms_without_d_must_add_up_and_with_d_must_not_fall_short(ref, tmp_path):
    _write(tmp_path / "a", ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 10, **_forms(None, SEX=8, LAB=5)})
    assert [f.code for f in _run(tmp_path / "a", ref)[0].findings] == ["breakdown-sum-mismatch"]
    _write(tmp_path / "b", ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 10, **_forms("d", SEX=4, LAB=3)})
    assert [f.code for f in _run(tmp_path / "b", ref)[0].findings] == ["breakdown-sum-mismatch"]
    # Partly reported with d, above the total: still multiple forms, not an excess.
    partial = {("TIP_VIC", "TOTAL"): 10, ("TIP_VIC", "EXPL=SEX"): (8, "d", None), ("TIP_VIC", "EXPL=LAB"): (5, "d", None)}
    _write(tmp_path / "c", ref, "GEO", 2025, partial)
    assert [f.code for f in _run(tmp_path / "c", ref)[0].findings] == ["breakdown-multiple-forms"]
    # Flag d on sex does not let the sexes exceed the total: only forms of exploitation count twice.
    _write(tmp_path / "d", ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 10, ("TIP_VIC", "SEX=F"): (8, "d", None), ("TIP_VIC", "SEX=M"): (5, "d", None)})
    assert [f.code for f in _run(tmp_path / "d", ref)[0].findings] == ["breakdown-exceeds-total"]


# -- V06, V08, V11 part and whole ------------------------------------------------------------------
def test_of_which_above_total_leaves_the_part_out_and_keeps_the_total(ref, tmp_path):
    _write(tmp_path, ref, "GEO", 2025, {("COR_OFF", "TOTAL"): 10, ("COR_BRB", "TOTAL"): 12, ("ML_STR", "TOTAL"): 50, ("ML_STRD", "TOTAL"): 50})
    [sub] = _run(tmp_path, ref)
    assert [(f.code, f.severity) for f in sub.findings] == [("of-which-exceeds-total", "error")]
    obs = _obs(sub)
    assert obs.loc[("COR_BRB", "TOTAL"), "status"] == "rejected" and obs.loc[("COR_OFF", "TOTAL"), "value"] == 10
    assert sub.status == "accepted-with-errors" and "1 value(s) left out" in sub.reason


def test_later_stage_above_earlier_warns_and_keeps_both(ref, tmp_path):
    _write(tmp_path, ref, "GEO", 2025, {("ML_FRZ", "TOTAL"): 1000.5, ("ML_CNF", "TOTAL"): 2000, ("OCG_DIS", "TOTAL"): 4, ("OCG_MEM", "TOTAL"): 4})
    [sub] = _run(tmp_path, ref)
    assert [(f.code, f.severity) for f in sub.findings] == [("later-stage-exceeds-earlier", "warning")]  # 4 groups, 4 members: fine
    assert "Value of assets confiscated (ML_CNF) holds 2000, more than Value of assets frozen or seized (ML_FRZ), which holds 1000.5" in sub.findings[0].message
    assert _obs(sub).loc[("ML_CNF", "TOTAL"), "value"] == 2000


# -- V10 victims without offences ------------------------------------------------------------------
def test_victims_without_offences_only_on_a_reported_zero(ref, tmp_path):
    path = _write(tmp_path / "a", ref, "GEO", 2025, {("SOM_MIG", "TOTAL"): 40, ("SOM_OFF", "TOTAL"): 0, ("TIP_VIC", "TOTAL"): 3, ("TIP_OFF", "TOTAL"): ":"})
    assert _flat(_run(tmp_path / "a", ref), "victims-without-offences") == [("victims-without-offences", "GEO_2025.xlsx", f"E{_row(path, 'SOM_OFF')}")]
    _write(tmp_path / "b", ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 0, ("TIP_OFF", "TOTAL"): 0})
    assert _run(tmp_path / "b", ref)[0].findings == []


# -- T02 outliers and T04 breaks -------------------------------------------------------------------
def _history(folder, ref, code, values, last, **more_2025):
    for year, value in zip(range(2025 - len(values), 2025), values, strict=True):
        _write(folder, ref, "GEO", year, {(code, "TOTAL"): value})
    return _write(folder, ref, "GEO", 2025, {(code, "TOTAL"): last, **more_2025})


def test_outlier_needs_four_earlier_years_and_no_comment_or_break(ref, tmp_path):
    _history(tmp_path / "three", ref, "CYB_OFF", [100, 104, 98], 148)
    assert _flat(_run(tmp_path / "three", ref), "value-outlier") == []
    _history(tmp_path / "comment", ref, "CYB_OFF", [100, 104, 98, 102], (148, None, "New reporting system."))
    assert _flat(_run(tmp_path / "comment", ref), "value-outlier") == []
    _history(tmp_path / "break", ref, "CYB_OFF", [100, 104, 98, 102], (148, "b", "Misuse of devices counted from 2025."))
    assert [f.code for s in _run(tmp_path / "break", ref) for f in s.findings] == []
    _history(tmp_path / "low", ref, "CYB_OFF", [100, 104, 98, 102], 60)  # outliers below count too
    assert [f.code for s in _run(tmp_path / "low", ref) for f in s.findings] == ["value-outlier"]


def test_outlier_is_not_reported_twice_nor_on_small_counts(ref, tmp_path):
    path = _history(tmp_path / "jump", ref, "CYB_OFF", [100, 104, 98, 102], 300)  # T01 warns: T02 keeps quiet
    assert [(f.code, f.cell) for s in _run(tmp_path / "jump", ref) for f in s.findings] == [("change-unexplained", f"E{_row(path, 'CYB_OFF')}")]
    _history(tmp_path / "small", ref, "TIP_OFF", [2, 3, 2, 3], 9)  # far out in z, but only 6 more than usual
    assert [f.code for s in _run(tmp_path / "small", ref) for f in s.findings] == []


def test_outlier_history_starts_at_the_last_break(ref, tmp_path):
    def series(folder, flag):
        for year, value in zip(range(2018, 2023), (100, 101, 99, 100, 102), strict=True):
            _write(folder, ref, "GEO", year, {("CYB_OFF", "TOTAL"): value})
        _write(folder, ref, "GEO", 2023, {("CYB_OFF", "TOTAL"): (150, flag, "Misuse of devices counted from 2023.")})
        _write(folder, ref, "GEO", 2024, {("CYB_OFF", "TOTAL"): 152})
        return _write(folder, ref, "GEO", 2025, {("CYB_OFF", "TOTAL"): 158})

    # Without a break, 152 and 158 lie far above the earlier years (median about 100)...
    path = series(tmp_path / "commented", None)
    cell = f"E{_row(path, 'CYB_OFF')}"
    assert _flat(_run(tmp_path / "commented", ref), "value-outlier") == [("value-outlier", "GEO_2024.xlsx", cell), ("value-outlier", "GEO_2025.xlsx", cell)]
    # ... but with 2023 flagged b only 2023-2024 compare with it: too few years to judge.
    series(tmp_path / "break", "b")
    assert [f.code for s in _run(tmp_path / "break", ref) for f in s.findings] == []


def test_break_with_a_description_says_nothing(ref, tmp_path):
    _write(tmp_path, ref, "GEO", 2025, {("CYB_OFF", "TOTAL"): (200, "b", "Misuse of devices counted from 2025."), ("TIP_OFF", "TOTAL"): (3, "bp", " ")})
    [sub] = _run(tmp_path, ref)
    assert [(f.code, f.severity, f.value) for f in sub.findings] == [("break-undescribed", "info", "bp")]
    assert sub.status == "accepted"


# -- P01 population, M01 Cover metadata ------------------------------------------------------------
def test_missing_population_keeps_the_values(ref, tmp_path):
    _write(tmp_path, ref, "GEO", 2005, {("TIP_VIC", "TOTAL"): 5})
    [sub] = _run(tmp_path, ref)
    assert [(f.code, f.severity, f.cell) for f in sub.findings] == [("population-missing", "error", "B6")]
    assert sub.status == "accepted-with-errors" and "left out" not in sub.reason  # an error, but no value left out
    assert _obs(sub).loc[("TIP_VIC", "TOTAL"), ["value", "status"]].tolist() == [5.0, "reported"]


def test_blank_contact_person_warns_once_on_its_cell(ref, tmp_path):
    write_submission(tmp_path, ref, "GEO", 2025, {}, contact="  ")
    [sub] = _run(tmp_path, ref)
    assert [(f.code, f.sheet, f.cell) for f in sub.findings] == [("cover-metadata-missing", "Cover", "B8")]
    assert sub.status == "accepted-with-warnings"


def test_the_content_rules_say_the_same_from_the_frame_and_from_its_look_up(ref, tmp_path):
    """validate builds one `ObservationLookup` for all the content rules, from the columns of its
    rows; each rule also takes the frame, and a look-up built from the frame."""
    from pipeline import rules

    _write(tmp_path, ref, "GEO", 2025, {
        ("TIP_VIC", "TOTAL"): 20, ("TIP_VIC", "SEX=F"): 16, ("TIP_VIC", "SEX=M"): 9,  # parts above the total
        ("TIP_SUS", "TOTAL"): 5, ("TIP_PRO", "TOTAL"): 9,  # a later stage above an earlier one
        ("SOM_MIG", "TOTAL"): 7, ("SOM_OFF", "TOTAL"): 0,  # victims without offences
        ("CYB_OFF", "TOTAL"): (40, "b", None),  # a break in series, not described
    })
    raw = ingest.read_submission(tmp_path / "GEO_2025.xlsx", tmp_path, ref)
    sub = validate.Submission(file=raw.file, sha256=raw.sha256, country_iso3="GEO", year=2025)
    rows = validate._observations(raw, sub, ref)[0]
    sub.observations = rows
    obs = sub.observations
    from_columns = rules.ObservationLookup(dict(zip(validate.OBSERVATION_COLUMNS, zip(*rows, strict=True), strict=True)))
    said = 0
    for check in (rules.check_breakdowns, rules.check_consistency_pairs, rules.check_funnel, rules.check_victims_without_offences, rules.check_breaks):
        from_frame = check(obs, ref, raw.file)
        assert check(rules.ObservationLookup(obs), ref, raw.file) == from_frame, check.__name__
        assert check(from_columns, ref, raw.file) == from_frame, check.__name__
        said += len(from_frame[0] if isinstance(from_frame, tuple) else from_frame)
    assert said >= 4
