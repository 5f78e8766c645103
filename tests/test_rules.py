"""Content and time rules: one spec per finding code — tiny workbooks in, (code, file, cell) out."""

from __future__ import annotations

import openpyxl

from pipeline import ingest, layout, validate
from pipeline.rules import Thresholds, load_thresholds
from tests.conftest import write_submission


def _row(path, code, breakdown="TOTAL"):
    ws = openpyxl.load_workbook(path)[layout.DATA_SHEET]
    return next(r[0].row for r in ws.iter_rows(min_row=2) if (r[0].value, r[1].value) == (code, breakdown))


def _run(folder, ref):
    subs = [validate.validate_submission(ingest.read_submission(p, folder, ref), ref) for p in ingest.discover_files(folder)]
    validate.resolve_resubmissions(subs, ref)
    validate.apply_time_rules(subs, ref)
    return subs


def _flat(subs, *codes):
    return sorted((f.code, f.file, f.cell) for s in subs for f in s.findings if f.code in codes)


def test_thresholds_come_from_the_reference_file():
    assert load_thresholds() == Thresholds(change_pct=50.0, change_abs_min=10.0, change_share_of_mean=0.05)


def test_complete_breakdown_must_sum_to_total(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 20, ("TIP_VIC", "SEX=F"): 6, ("TIP_VIC", "SEX=M"): 3, ("TIP_VIC", "SEX=UNK"): 1})
    [sub] = _run(tmp_path, ref)
    assert _flat([sub], "breakdown-sum-mismatch") == [("breakdown-sum-mismatch", "GEO_2025.xlsx", f"E{_row(path, 'TIP_VIC')}")]
    obs = sub.observations.set_index(["indicator", "breakdown"])
    assert obs.loc[("TIP_VIC", "SEX=F"), "status"] == "rejected" and obs.loc[("TIP_VIC", "TOTAL"), "value"] == 20


def test_partial_breakdown_may_fall_short_but_not_exceed(ref, tmp_path):
    write_submission(tmp_path / "a", ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 20, ("TIP_VIC", "SEX=F"): 6})
    assert _flat(_run(tmp_path / "a", ref), "breakdown-sum-mismatch", "breakdown-exceeds-total") == []
    path = write_submission(tmp_path / "b", ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 5, ("TIP_VIC", "AGE=CHILD"): 6})
    assert _flat(_run(tmp_path / "b", ref), "breakdown-exceeds-total") == [("breakdown-exceeds-total", "GEO_2025.xlsx", f"E{_row(path, 'TIP_VIC')}")]


def test_funnel_inverted_is_a_warning(ref, tmp_path):
    path = write_submission(tmp_path, ref, "GEO", 2025, {("TIP_SUS", "TOTAL"): 10, ("TIP_PRO", "TOTAL"): 8, ("TIP_CON", "TOTAL"): 9})
    [sub] = _run(tmp_path, ref)
    assert _flat([sub], "funnel-inverted") == [("funnel-inverted", "GEO_2025.xlsx", f"E{_row(path, 'TIP_CON')}")]
    assert sub.status == "accepted-with-warnings" and sub.observations.set_index(["indicator", "breakdown"]).loc[("TIP_CON", "TOTAL"), "value"] == 9


def test_large_change_without_comment_warns_and_small_counts_do_not(ref, tmp_path):
    write_submission(tmp_path, ref, "GEO", 2024, {("CYB_OFF", "TOTAL"): 100, ("TIP_OFF", "TOTAL"): 4, ("COR_OFF", "TOTAL"): 100, ("VEH_THF", "TOTAL"): 100})
    path = write_submission(tmp_path, ref, "GEO", 2025, {
        ("CYB_OFF", "TOTAL"): 200,  # +100 %, no comment: warning
        ("TIP_OFF", "TOTAL"): 9,  # +125 % but only 5 more: no warning
        ("COR_OFF", "TOTAL"): (200, None, "New unit for corruption since March"),  # explained
        ("VEH_THF", "TOTAL"): (200, "b", None),  # break in series
    })
    assert _flat(_run(tmp_path, ref), "change-unexplained") == [("change-unexplained", "GEO_2025.xlsx", f"E{_row(path, 'CYB_OFF')}")]


def test_dropped_series_and_unexplained_blank(ref, tmp_path):
    write_submission(tmp_path, ref, "GEO", 2024, {("CYB_OFF", "TOTAL"): 100, ("TIP_OFF", "TOTAL"): 50, ("COR_OFF", "TOTAL"): 30, ("TER_OFF", "TOTAL"): 2})
    path = write_submission(tmp_path, ref, "GEO", 2025, {("CYB_OFF", "TOTAL"): 0, ("TIP_OFF", "TOTAL"): ":", ("TER_OFF", "TOTAL"): 0})  # COR_OFF left blank; 2 -> 0 is ordinary
    subs = _run(tmp_path, ref)
    assert _flat(subs, "series-dropped", "value-blank-unexplained") == sorted([
        ("series-dropped", "GEO_2025.xlsx", f"E{_row(path, 'CYB_OFF')}"),
        ("series-dropped", "GEO_2025.xlsx", f"E{_row(path, 'TIP_OFF')}"),
        ("value-blank-unexplained", "GEO_2025.xlsx", f"E{_row(path, 'COR_OFF')}"),
    ])
