"""Tests for pipeline.report and templates/build_template.py.

Hand-made frames (4 states reporting, 3 indicators, 3 years); the expected figures are worked out
by hand in the comments, never taken from a pipeline run.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.util
import math
import re
import zipfile
from pathlib import Path

import docx
import pandas as pd
import pytest
from docx.table import Table
from docx.text.paragraph import Paragraph
from docxtpl import DocxTemplate
from hypothesis import given
from hypothesis import strategies as st

from pipeline import report
from pipeline.findings import ReportRenderError
from pipeline.reference import load_reference
from pipeline.report import (
    REPORT_FILENAME,
    build_context,
    format_change,
    format_count,
    format_figure,
    format_rate,
    make_jinja_env,
    render_report,
)
from pipeline.settings import DEFAULT_SETTINGS

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "templates" / "annual_assessment.docx"
NAN = math.nan
YEAR = 2024
TITLE_WITH_YEAR = f"{DEFAULT_SETTINGS.report_title} — {YEAR}"

# Comments that must survive XML escaping and every script the region writes in.
COMMENT_ESCAPES = "Police & Prosecutor's Office <draft>"
COMMENT_GEORGIAN = "შსს — შინაგან საქმეთა სამინისტრო"
COMMENT_CYRILLIC = "Дані МВС України"

# Headline TIP_VIC 2024, by hand: ARM 1,000 + GEO 234 = 1,234 persons (MDA confidential, UKR
# not available, the rest did not submit); population ARM 3,000,000 + GEO 4,000,000 = 7,000,000;
# rate 1,234 / 7,000,000 x 100,000 = 17.628... -> "17.6".
# Same reporters 2023: ARM 900 + GEO 200 = 1,100; change (1,234 - 1,100) / 1,100 = +12.18 % -> "+12.2 %".
TIP_TOTAL_2024 = 1000 + 234
TIP_RATE_2024 = TIP_TOTAL_2024 / (3_000_000 + 4_000_000) * 100_000
TIP_CHANGE_2024 = (TIP_TOTAL_2024 - (900 + 200)) / (900 + 200) * 100


@pytest.fixture(scope="module")
def ref():
    return load_reference()


def regional_row(indicator, year, total, n_reporting, *, rate=NAN, same=0, change_same=NAN, flags=""):
    return {
        "indicator": indicator, "breakdown": "TOTAL", "year": year, "total": total,
        "n_reporting": n_reporting, "n_expected": 13, "reporting": "", "population": NAN,
        "rate_per_100k": rate, "change_pct": NAN, "n_same_reporters": same,
        "change_pct_same_reporters": change_same, "flags": flags, "rate_flags": "", "n_rate": NAN,
        "n_history": 0, "history_sources": "",
    }


@pytest.fixture
def regional():
    return pd.DataFrame([
        regional_row("TIP_VIC", 2022, NAN, 0),  # nobody reported
        regional_row("TIP_VIC", 2023, 1100.0, 2, rate=1100 / 7_000_000 * 100_000),
        regional_row("TIP_VIC", 2024, float(TIP_TOTAL_2024), 2, rate=TIP_RATE_2024, same=2,
                     change_same=TIP_CHANGE_2024, flags="p"),
        # TIP_OFF 2024 suppressed: the regional total is confidential.
        regional_row("TIP_OFF", 2024, NAN, 2, flags="C"),
        # FA_SZ: items, no rate; 2024 is a real zero (-100 % on 2023 among 1 state).
        regional_row("FA_SZ", 2022, 50.0, 1),
        regional_row("FA_SZ", 2023, 60.0, 1),
        regional_row("FA_SZ", 2024, 0.0, 1, same=1, change_same=-100.0),
    ])


def country_row(iso3, indicator, value, status, *, rate=NAN, change=NAN, flags="", comment=""):
    return {
        "country_iso3": iso3, "indicator": indicator, "breakdown": "TOTAL", "year": YEAR, "value": value,
        "status": status, "rate_per_100k": rate, "change_pct": change, "flags": flags, "comment": comment,
    }


@pytest.fixture
def country():
    return pd.DataFrame([
        country_row("ARM", "TIP_VIC", 1000.0, "reported", rate=1000 / 3_000_000 * 100_000,
                    change=(1000 - 900) / 900 * 100, comment=COMMENT_ESCAPES),
        country_row("GEO", "TIP_VIC", 234.0, "reported", rate=234 / 4_000_000 * 100_000,
                    change=(234 - 200) / 200 * 100, flags="p", comment=COMMENT_GEORGIAN),
        # 7 is in the frame but must never be printed, nor its rate.
        country_row("MDA", "TIP_VIC", 7.0, "confidential", rate=7 / 2_500_000 * 100_000, flags="C"),
        country_row("UKR", "TIP_VIC", NAN, "not_available", comment=COMMENT_CYRILLIC),
        country_row("ARM", "FA_SZ", 0.0, "reported"),  # a real zero
        country_row("GEO", "FA_SZ", NAN, "not_applicable", flags="m"),
        country_row("MDA", "FA_SZ", NAN, "rejected"),
    ])


def submission(iso3, status, *, year=YEAR, n_values=40, errors=0, warnings=0, reason="", file=None):
    return {
        "file": file or f"{iso3}_{year}.xlsx", "country_iso3": iso3, "year": year, "status": status,
        "reason": reason, "date_submitted": "2025-02-15", "n_values": n_values,
        "n_errors": errors, "n_warnings": warnings,
    }


@pytest.fixture
def submissions():
    return pd.DataFrame([
        submission("ARM", "accepted"),
        submission("GEO", "accepted-with-warnings", warnings=2),
        submission("MDA", "accepted", n_values=35, errors=1),
        submission("MDA", "superseded", file="MDA_2024_first.xlsx"),
        submission("UKR", "accepted", n_values=12),
        submission("ALB", "rejected", n_values=0, errors=1, reason="The Data sheet is missing."),
        submission("SRB", "accepted", year=2023),  # another year: not received for 2024
    ])


def finding(code, severity, iso3, year, message, *, file="", sheet="Data", cell=""):
    return {"code": code, "severity": severity, "country_iso3": iso3, "year": year, "file": file,
            "sheet": sheet, "cell": cell, "value": "", "message": message}


@pytest.fixture
def findings():
    return pd.DataFrame([
        finding("change-unexplained", "warning", "GEO", YEAR, "TIP_VIC: 234 against 20 — Коментар <5 & more",
                file="GEO_2024.xlsx", cell="E12"),
        finding("value-text-number", "info", "GEO", YEAR, "Read “1 154” as 1154 (INFO-ONLY-NOTE)",
                file="GEO_2024.xlsx", cell="E13"),
        finding("sheet-missing", "error", "ALB", YEAR, "The Data sheet is missing.", file="ALB_2024.xlsx"),
        finding("file-unreadable", "error", "", None, "junk.xlsx cannot be opened.", file="junk.xlsx", sheet=""),
        finding("value-negative", "error", "SRB", 2023, "OLD-2023-FINDING", file="SRB_2023.xlsx"),
    ])


@pytest.fixture
def chart_paths(tmp_path, ref, regional, country):
    from pipeline.charts import render_charts

    return render_charts(regional, country, ref, YEAR, tmp_path / "charts")


@pytest.fixture
def context(ref, regional, country, submissions, findings, chart_paths):
    return build_context(YEAR, regional, country, submissions, findings, ref, chart_paths,
                         generated_on=dt.date(2025, 3, 31))


# -- helpers to read the rendered document ---------------------------------------------------------
def body_blocks(document):
    """Paragraphs and tables in reading order."""
    return list(document.iter_inner_content())


def all_text(document) -> str:
    parts = []
    for block in body_blocks(document):
        if isinstance(block, Paragraph):
            parts.append(block.text)
        else:
            parts.extend(cell.text for row in block.rows for cell in row.cells)
    for section in document.sections:
        parts.extend(p.text for p in section.header.paragraphs)
    return "\n".join(parts)


def table_after(document, caption_start: str) -> list[list[str]]:
    """Rows (cell texts) of the first table after the paragraph that starts with `caption_start`."""
    blocks = body_blocks(document)
    for index, block in enumerate(blocks):
        if isinstance(block, Paragraph) and block.text.startswith(caption_start):
            table = next(b for b in blocks[index + 1:] if isinstance(b, Table))
            return [[cell.text for cell in row.cells] for row in table.rows]
    raise AssertionError(f"no paragraph starts with {caption_start!r}")


def row_of(rows, first_cell):
    return next(row for row in rows if row[0] == first_cell)


@pytest.fixture
def rendered(tmp_path, context):
    out = tmp_path / "out" / REPORT_FILENAME.format(year=YEAR)
    render_report(TEMPLATE, context, out)
    return docx.Document(str(out))


# -- the template and the context agree ------------------------------------------------------------
def test_every_template_variable_is_supplied_by_build_context(context):
    tpl = DocxTemplate(str(TEMPLATE))
    assert tpl.get_undeclared_template_variables(jinja_env=make_jinja_env(), context=context) == set()


def test_build_context_is_pure(ref, regional, country, submissions, findings, chart_paths):
    frames = [regional, country, submissions, findings]
    before = [frame.copy() for frame in frames]
    build_context(YEAR, *frames, ref, chart_paths)
    for frame, copy_before in zip(frames, before, strict=True):
        pd.testing.assert_frame_equal(frame, copy_before)


def test_no_row_key_shadows_a_dict_method(context):
    """Jinja looks up `row.values` as the dict method before the key: keys must avoid those names."""
    def dicts(value):
        if isinstance(value, dict):
            yield value
            for item in value.values():
                yield from dicts(item)
        elif isinstance(value, list):
            for item in value:
                yield from dicts(item)

    reserved = set(dir(dict))
    for mapping in dicts(context):
        assert not reserved & set(mapping), reserved & set(mapping)


def test_chart_paths_stay_paths_and_absent_charts_are_none(context, chart_paths):
    tip = next(c for c in context["categories"] if c["code"] == "TIP")
    som = next(c for c in context["categories"] if c["code"] == "SOM")
    assert tip["trend_chart"] == chart_paths["trend_TIP"]
    assert isinstance(tip["trend_chart"], Path)
    assert som["trend_chart"] is None and som["national_chart"] is None


# -- the rendered report ---------------------------------------------------------------------------
def test_report_has_title_with_year_and_running_header(rendered):
    assert rendered.paragraphs[0].text == TITLE_WITH_YEAR
    headers = [p.text for s in rendered.sections for p in s.header.paragraphs]
    assert TITLE_WITH_YEAR in headers


def test_headline_total_and_rate_are_the_hand_computed_ones(rendered):
    overview = table_after(rendered, "Table 3.")
    tip = row_of(overview, "Trafficking in persons: Identified victims of trafficking in persons")
    # total with its flag, n of N, rate, change on the same reporters and its basis
    assert tip[1:] == ["1,234 p", "2 of 13", "17.6", "+12.2\u00a0%", "2 states"]
    assert f"{TIP_RATE_2024:.3f}" == "17.629"  # the hand computation above


def test_confidential_not_available_zero_and_not_applicable_stay_apart(rendered):
    tip = table_after(rendered, "Table 6. Identified victims of trafficking in persons by member state")
    # state, value, rate, change, flags, comment
    assert row_of(tip, "Armenia")[1:4] == ["1,000", "33.3", "+11.1\u00a0%"]
    assert row_of(tip, "Georgia")[1:5] == ["234", "5.9", "+17.0\u00a0%", "p"]
    assert row_of(tip, "Republic of Moldova")[1:5] == ["C", "C", "C", "C"]
    assert row_of(tip, "Ukraine")[1:4] == [":", ":", ":"]
    assert row_of(tip, "Serbia")[1:] == [":", ":", ":", "", "No submission received."]
    assert len(tip) == 1 + 13  # header + every member state

    firearms = table_after(rendered, "Table 12. Firearms seized by member state")
    assert row_of(firearms, "Armenia")[1:4] == ["0", "–", ":"]  # a real zero; items take no rate
    assert row_of(firearms, "Georgia")[1:5] == ["–", "–", "–", "m"]
    assert row_of(firearms, "Republic of Moldova")[1] == ":"
    assert row_of(firearms, "Republic of Moldova")[5].startswith("Value rejected in validation")


def test_confidential_regional_total_is_c(rendered):
    tip_indicators = table_after(rendered, "Table 5.")
    offences = row_of(tip_indicators, "Trafficking in persons offences recorded")
    assert offences[2:5] == ["C", "2 of 13", "C"]


def test_comments_keep_escapes_and_scripts(rendered):
    text = all_text(rendered)
    assert COMMENT_ESCAPES in text
    assert COMMENT_GEORGIAN in text
    assert COMMENT_CYRILLIC in text
    assert "Коментар <5 & more" in text  # from a finding message


def test_no_python_placeholders_leak(rendered):
    text = all_text(rendered)
    for word in ("None", "nan", "NaN", "inf", "True", "False"):
        assert not re.search(rf"\b{word}\b", text), word
    assert "{{" not in text and "{%" not in text


def test_charts_are_inserted_at_text_width(rendered, chart_paths):
    shapes = rendered.inline_shapes
    assert len(shapes) == len(chart_paths) == 4
    assert all(abs(shape.width.mm - 160) < 0.1 for shape in shapes)


def test_submissions_table(rendered):
    rows = table_after(rendered, "Table 1.")
    assert row_of(rows, "Armenia")[1:] == ["yes", "accepted", "40", "0 / 0"]
    assert row_of(rows, "Georgia")[2] == "accepted with warnings"
    assert row_of(rows, "Republic of Moldova")[2] == "accepted (1 earlier file superseded)"
    assert row_of(rows, "Albania")[1:4] == ["yes", "rejected: The Data sheet is missing.", "0"]
    assert row_of(rows, "Serbia")[1:] == ["no", "not received", "–", "–"]


def test_findings_annex_lists_only_errors_and_warnings_of_the_report_year(rendered):
    rows = table_after(rendered, "The validation of the 2024 submissions")
    codes = [row[0] for row in rows[1:]]
    # errors first; the 2023 finding is left out; a file with no year is kept; the info is left out
    assert codes == ["sheet-missing", "file-unreadable", "change-unexplained"]
    text = all_text(rendered)
    assert "OLD-2023-FINDING" not in text
    assert "INFO-ONLY-NOTE" not in text
    # ... but counted, with a pointer to where it is
    assert "2 errors, 1 warning and 1 note" in text and "the notes are in data/findings.csv" in text


def test_flags_legend_lists_every_flag(rendered, ref):
    text = all_text(rendered)
    for flag in ref.flags:
        assert flag.meaning in text


def test_demonstration_line_only_when_asked(tmp_path, ref, regional, country, submissions, findings, chart_paths,
                                            rendered):
    notice = "Demonstration data — not official figures"
    assert notice not in all_text(rendered)
    context = build_context(YEAR, regional, country, submissions, findings, ref, chart_paths, is_demonstration=True)
    out = render_report(TEMPLATE, context, tmp_path / "demo.docx")
    assert notice in all_text(docx.Document(str(out)))


def test_missing_variable_raises_report_render_error_naming_it(tmp_path, context):
    broken = dict(context)
    del broken["findings_summary"]
    out_dir = tmp_path / "out"
    with pytest.raises(ReportRenderError, match="findings_summary"):
        render_report(TEMPLATE, broken, out_dir / "broken.docx")
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_render_is_atomic_and_repeatable(tmp_path, context):
    out = tmp_path / "out" / REPORT_FILENAME.format(year=YEAR)
    original = copy.deepcopy(context)
    render_report(TEMPLATE, context, out)
    render_report(TEMPLATE, context, out)  # overwrite: a fresh template each time
    assert context == original  # chart paths were converted on a copy
    assert [p.name for p in out.parent.iterdir()] == ["BSEC_Annual_Assessment_2024.docx"]
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None


def test_missing_chart_file_is_a_render_error(tmp_path, context, chart_paths):
    chart_paths["trend_TIP"].unlink()
    with pytest.raises(ReportRenderError, match="trend_TIP.png"):
        render_report(TEMPLATE, context, tmp_path / "x.docx")


def test_empty_frames_give_a_report_of_colons(tmp_path, ref):
    empty = pd.DataFrame()
    context = build_context(YEAR, empty, empty, empty, empty, ref, {}, generated_on=dt.date(2025, 3, 31))
    out = render_report(TEMPLATE, context, tmp_path / "empty.docx")
    document = docx.Document(str(out))
    overview = table_after(document, "Table 3.")
    assert all(row[1] == ":" and row[2] == "0 of 13" for row in overview[1:])
    assert "found nothing to report" in all_text(document)
    assert len(document.inline_shapes) == 0


def test_nullable_integer_columns_are_numbers(tmp_path, ref, regional, country, submissions, findings):
    """Int64 (nullable) columns give numpy scalars and pd.NA, which must print as figures and ":"."""
    regional = regional.astype({"n_reporting": "Int64", "n_same_reporters": "Int64"})
    submissions = submissions.astype({"n_values": "Int64"})
    submissions.loc[submissions["country_iso3"] == "UKR", "n_values"] = pd.NA
    context = build_context(YEAR, regional, country, submissions, findings, ref, {})
    tip = next(row for row in context["overview"] if row["indicator"].startswith("Trafficking in persons"))
    assert (tip["coverage"], tip["basis"]) == ("2 of 13", "2 states")
    ukraine = next(row for row in context["submissions"] if row["state"] == "Ukraine")
    assert ukraine["n_values"] == ":"


# -- the data-quality annex (Annex B) --------------------------------------------------------------
# Its own small frames, as written to data/submissions.csv and data/findings.csv. By hand, for 2024:
#   ALB  rejected (Data sheet missing): 1 error                       -> "1 / 0 / 0"
#   ARM  accepted, no findings, no date on the Cover                  -> "0 / 0 / 0", date ":"
#   GEO  accepted with warnings; an earlier file superseded (its findings are not counted);
#        3 errors (2 breakdown-sum-mismatch, 1 value-negative), 3 warnings (2 change-unexplained,
#        1 funnel-inverted), 1 info                                   -> "3 / 3 / 1"
#   SRB  a 2023 file only                                             -> missing for 2024
#   junk.xlsx (no year, no state) and notes.pdf (not a workbook): not attributable to a state.
# Values expected: one per (indicator, breakdown) row of the template (82 in the first reference data;
# computed from the reference below, so adding an indicator does not break these tests).
GEO_FILE = "GEO/შსს & <draft> 2024.xlsx"  # a name with XML specials and Georgian


@pytest.fixture
def dq_submissions():
    return pd.DataFrame([
        {**submission("ALB", "rejected", n_values=0, errors=1, reason="The Data sheet is missing.")},
        {**submission("ARM", "accepted", n_values=82), "date_submitted": ""},
        {**submission("GEO", "accepted-with-warnings", n_values=78, errors=3, warnings=3, file=GEO_FILE)},
        {**submission("GEO", "superseded", n_values=0, errors=1, file="GEO_2024_first.xlsx"),
         "date_submitted": "2025-01-10"},
        submission("SRB", "accepted", year=2023),
        {**submission("", "rejected", n_values=0, errors=1, reason="junk.xlsx cannot be opened.", file="junk.xlsx"),
         "year": None, "date_submitted": ""},
        {**submission("", "ignored", n_values=0, file="notes.pdf"), "year": None, "date_submitted": ""},
    ])


@pytest.fixture
def dq_findings():
    def geo(code, severity, cell):
        return finding(code, severity, "GEO", YEAR, f"{code} at {cell}", file=GEO_FILE, cell=cell)

    return pd.DataFrame([
        finding("sheet-missing", "error", "ALB", YEAR, "The Data sheet is missing.", file="ALB_2024.xlsx"),
        geo("breakdown-sum-mismatch", "error", "E15"),
        geo("breakdown-sum-mismatch", "error", "E30"),
        geo("value-negative", "error", "E40"),
        geo("funnel-inverted", "warning", "E50"),
        geo("change-unexplained", "warning", "E12"),
        geo("change-unexplained", "warning", "E13"),
        geo("value-text-number", "info", "E14"),
        # the superseded file: not counted for Georgia
        finding("value-negative", "error", "GEO", YEAR, "old", file="GEO_2024_first.xlsx", cell="E9"),
        finding("submission-superseded", "info", "GEO", YEAR, "replaced", file="GEO_2024_first.xlsx"),
        # another year: not counted
        finding("value-negative", "error", "SRB", 2023, "OLD-2023-FINDING", file="SRB_2023.xlsx"),
        finding("file-unreadable", "error", "", None, "junk.xlsx cannot be opened.", file="junk.xlsx", sheet=""),
        finding("file-not-a-workbook", "info", "", None, "notes.pdf is not a workbook & <not read>.",
                file="notes.pdf", sheet=""),
    ])


@pytest.fixture
def dq_context(ref, regional, country, dq_submissions, dq_findings):
    return build_context(YEAR, regional, country, dq_submissions, dq_findings, ref, {},
                         generated_on=dt.date(2025, 3, 31))


def expected_values(ref) -> int:
    return sum(len(ref.breakdowns_of(indicator)) for indicator in ref.indicators)


@pytest.fixture
def georgia_row(ref):
    return {
        "state": "Georgia",
        "status": "accepted with warnings (1 earlier file superseded)",
        "file": GEO_FILE,
        "date_submitted": "15 February 2025",
        "values_reported": f"78 of {expected_values(ref)}",
        "n_errors": "3", "n_warnings": "3", "n_info": "1",
        "counts": "3 / 3 / 1",
        # errors before warnings, most frequent first; the 4th code is only counted
        "main_issues": "2\u00a0×\u00a0breakdown-sum-mismatch, 1\u00a0×\u00a0value-negative, "
                       "2\u00a0×\u00a0change-unexplained and 1 other code",
    }


@pytest.fixture
def albania_row(ref):
    return {
        "state": "Albania", "status": "rejected", "file": "ALB_2024.xlsx", "date_submitted": "15 February 2025",
        "values_reported": f"0 of {expected_values(ref)}", "n_errors": "1", "n_warnings": "0", "n_info": "0",
        "counts": "1 / 0 / 0", "main_issues": "1\u00a0×\u00a0sheet-missing",
    }


@pytest.fixture
def serbia_row(ref):
    return {
        "state": "Serbia", "status": "missing — not received", "file": "–", "date_submitted": "–",
        "values_reported": f"0 of {expected_values(ref)}", "n_errors": "–", "n_warnings": "–", "n_info": "–",
        "counts": "–", "main_issues": "–",
    }


def test_values_expected_is_the_number_of_template_rows(ref):
    from pipeline.report import values_expected

    # TOTAL plus one row per breakdown value, for every indicator (TIP_VIC alone: TOTAL, sex, age, exploitation)
    assert values_expected(ref) == sum(1 + sum(len(ref.breakdown_values[d]) for d in i.dimensions)
                                       for i in ref.indicators)
    assert values_expected(ref) >= 82  # the first reference data had 82 rows


def test_quality_rows_for_errors_rejected_and_missing(dq_context, georgia_row, albania_row, serbia_row):
    rows = {row["state"]: row for row in dq_context["quality"]}
    assert rows["Georgia"] == georgia_row
    assert rows["Albania"] == albania_row
    assert rows["Serbia"] == serbia_row
    armenia = rows["Armenia"]
    assert (armenia["status"], armenia["date_submitted"], armenia["counts"], armenia["main_issues"]) == (
        "accepted", ":", "0 / 0 / 0", "none")


def test_quality_rows_follow_the_reference_order_one_per_member(dq_context, ref):
    states = [row["state"] for row in dq_context["quality"]]
    assert states == [ref.state_by_iso3[iso3].name for iso3 in ref.members_in(YEAR)]
    assert states.index("Republic of Moldova") < states.index("North Macedonia")  # MDA before MKD, not by name


def test_quality_summary_counts_states_dropped_values_and_points_to_the_full_lists(dq_context):
    summary = dq_context["quality_summary"]
    assert summary.startswith("3 of the 13 member states sent a submission for 2024: 2 accepted (1 with warnings) "
                              "and 1 rejected; 10 sent none.")
    assert "3 errors left values out of the figures" in summary  # Georgia's file in use only
    assert "(superseded; 2 in all) are not counted" in summary  # Georgia's first file
    assert "data/findings.csv" in summary and "feedback/<ISO3>_2024_feedback.xlsx" in summary


def test_quality_codes_explain_the_codes_named(dq_context, ref):
    codes = [row["code"] for row in dq_context["quality_codes"]]
    # the order of the finding-code list; funnel-inverted was not named, so it is not explained
    assert codes == ["sheet-missing", "value-negative", "breakdown-sum-mismatch", "change-unexplained"]
    meanings = {row["code"]: row["meaning"] for row in dq_context["quality_codes"]}
    assert meanings["breakdown-sum-mismatch"] == ref.finding_codes["breakdown-sum-mismatch"].meaning


def test_files_without_state_or_year_are_listed_apart(dq_context):
    assert dq_context["unattributed_files"] == [
        {"file": "junk.xlsx", "reason": "junk.xlsx cannot be opened."},
        {"file": "notes.pdf", "reason": "notes.pdf is not a workbook & <not read>."},
    ]


def test_quality_annex_is_computable_from_the_csv_files(tmp_path, ref, regional, country, dq_submissions,
                                                        dq_findings, dq_context):
    from pipeline.store import write_csv

    def round_trip(frame, name):
        path = write_csv(frame, tmp_path / f"{name}.csv")
        return pd.read_csv(path, keep_default_na=False, na_values=[""])

    context = build_context(YEAR, regional, country, round_trip(dq_submissions, "submissions"),
                            round_trip(dq_findings, "findings"), ref, {}, generated_on=dt.date(2025, 3, 31))
    for key in ("quality_summary", "quality", "quality_codes", "unattributed_files", "findings"):
        assert context[key] == dq_context[key], key


def test_rendered_quality_annex_table(tmp_path, dq_context, georgia_row, albania_row, serbia_row):
    out = render_report(TEMPLATE, dq_context, tmp_path / "dq.docx")
    document = docx.Document(str(out))
    rows = table_after(document, "Table B1. Data quality by member state, 2024")
    assert rows[0] == ["Member state", "Status", "File", "Date submitted", "Values reported",
                       "Errors / warnings / info", "Main issues"]
    assert len(rows) == 1 + 13
    columns = ["state", "status", "file", "date_submitted", "values_reported", "counts", "main_issues"]
    for expected in (georgia_row, albania_row, serbia_row):
        assert row_of(rows, expected["state"]) == [expected[c] for c in columns]
    codes = table_after(document, "Finding codes named in the table")
    assert [row[0] for row in codes[1:]] == ["sheet-missing", "value-negative", "breakdown-sum-mismatch",
                                            "change-unexplained"]
    files = table_after(document, "Files that could not be attributed to a state")
    assert files[1:] == [["junk.xlsx", "junk.xlsx cannot be opened."],
                         ["notes.pdf", "notes.pdf is not a workbook & <not read>."]]
    text = all_text(document)
    assert "feedback/<ISO3>_2024_feedback.xlsx" in text
    assert "Every file received could be attributed" not in text


def test_quality_annex_of_empty_frames(tmp_path, ref):
    empty = pd.DataFrame()
    context = build_context(YEAR, empty, empty, empty, empty, ref, {}, generated_on=dt.date(2025, 3, 31))
    assert all(row["status"] == "missing — not received" for row in context["quality"])
    assert context["quality_codes"] == [] and context["unattributed_files"] == []
    document = docx.Document(str(render_report(TEMPLATE, context, tmp_path / "empty.docx")))
    text = all_text(document)
    assert "0 of the 13 member states sent a submission for 2024" in text
    assert "Every file received could be attributed to a member state and year." in text
    assert "Finding codes named in the table" not in text


# -- formatting ------------------------------------------------------------------------------------
def test_formatting_rules(ref):
    persons = ref.indicator_by_code["TIP_VIC"]
    heroin = ref.indicator_by_code["DRG_SZ_HER"]  # kg
    assert format_figure(0.0, persons) == "0"
    assert format_figure(NAN, persons) == ":"
    assert format_figure(1234567.0, persons) == "1,234,567"
    assert format_figure(12.25, heroin) == "12.3"
    assert format_figure(0.02, heroin) == "<0.1"
    assert format_rate(5.85) == "5.9"  # half up, despite 5.85 being 5.8499... in binary
    assert format_rate(0.0) == "0.0"
    assert format_rate(0.04) == "<0.1"
    assert format_change(12.345) == "+12.3\u00a0%"
    assert format_change(-4.0) == "\u22124.0\u00a0%"
    assert format_change(0.01) == "0.0\u00a0%"
    assert format_change(math.inf) == ":"
    assert format_change(None) == ":"
    assert format_count(pd.NA) == ":"
    assert format_count(12345) == "12,345"


@given(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**12, 10**12)))
def test_formatters_never_print_python_words(value):
    persons = load_reference().indicator_by_code["TIP_VIC"]
    for text in (format_figure(value, persons), format_rate(value), format_change(value)):
        assert text
        assert not any(word in text.lower() for word in ("nan", "none", "inf"))


# -- the template itself ---------------------------------------------------------------------------
def _load_builder():
    spec = importlib.util.spec_from_file_location("build_template", REPO / "templates" / "build_template.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_template_is_a4_with_25_mm_margins():
    section = docx.Document(str(TEMPLATE)).sections[0]
    assert section.page_width.mm == pytest.approx(210, abs=0.1)
    assert section.page_height.mm == pytest.approx(297, abs=0.1)
    for margin in (section.left_margin, section.right_margin, section.top_margin, section.bottom_margin):
        assert margin.mm == pytest.approx(25, abs=0.1)


def test_annex_b_is_a4_landscape_with_the_running_header():
    sections = docx.Document(str(TEMPLATE)).sections
    assert len(sections) == 2
    annex = sections[1]
    assert (round(annex.page_width.mm), round(annex.page_height.mm)) == (297, 210)
    assert annex.left_margin.mm == pytest.approx(25, abs=0.1)
    assert not annex.different_first_page_header_footer  # its first page is not a cover: header shown
    assert annex.header.is_linked_to_previous


def test_template_styles_use_dejavu_sans():
    styles = docx.Document(str(TEMPLATE)).styles
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "Caption", "Table Text"):
        assert styles[name].font.name == "DejaVu Sans", name
    assert "BSEC Table" in [s.name for s in styles]


def test_template_footer_has_page_field():
    with zipfile.ZipFile(TEMPLATE) as archive:
        footers = [archive.read(n).decode() for n in archive.namelist() if n.startswith("word/footer")]
    assert any('w:instr="PAGE"' in footer for footer in footers)


def test_committed_template_is_what_the_script_builds(tmp_path):
    builder = _load_builder()
    first = builder.build_template(tmp_path / "a.docx").read_bytes()
    second = builder.build_template(tmp_path / "b.docx").read_bytes()
    assert first == second  # byte-stable
    assert TEMPLATE.read_bytes() == first, "run: python templates/build_template.py"


def test_a_rate_over_fewer_states_than_the_total_says_so(ref):
    indicator = ref.indicator_by_code["TIP_VIC"]
    row = pd.DataFrame([{**regional_row("TIP_VIC", 2024, 610.0, 2, rate=9.1), "n_rate": 1}]).iloc[0]
    text = report._key_figures(row, indicator, 2024, 13, DEFAULT_SETTINGS)
    assert "per 100,000 inhabitants of the reporting states with a population figure (1 of 2)." in text
    complete = pd.DataFrame([{**regional_row("TIP_VIC", 2024, 610.0, 2, rate=9.1), "n_rate": 2}]).iloc[0]
    assert "per 100,000 inhabitants of the reporting states." in report._key_figures(complete, indicator, 2024, 13, DEFAULT_SETTINGS)


def test_key_figures_show_the_raw_change_history_sources_and_estimated_population(ref):
    indicator = ref.indicator_by_code["TIP_VIC"]
    row = pd.DataFrame([{**regional_row("TIP_VIC", 2024, 700.0, 3, rate=9.1, same=2, change_same=5.0),
                         "change_pct": 40.0, "rate_flags": "e", "n_history": 1, "history_sources": "UNODC GLOTIP;Eurostat"}]).iloc[0]
    text = report._key_figures(row, indicator, 2024, 13, DEFAULT_SETTINGS)
    assert "the total changed by +5.0\u00a0% on 2023" in text
    assert "The raw regional total, over 3 states in 2024 and a different set in 2023, changed by +40.0\u00a0%" in text
    assert "The figures of 1 state come from published data (UNODC GLOTIP; Eurostat)" in text
    assert "their latest figure is used, and the rate is flagged e" in text
    same_states = pd.DataFrame([{**regional_row("TIP_VIC", 2024, 700.0, 2, same=2, change_same=5.0), "change_pct": 5.0}]).iloc[0]
    assert "raw regional total" not in report._key_figures(same_states, indicator, 2024, 13, DEFAULT_SETTINGS)


def test_a_value_from_published_data_names_its_source(ref):
    indicator = ref.indicator_by_code["TIP_VIC"]
    row = pd.DataFrame([{**country_row("ROU", "TIP_VIC", 662.0, "reported"), "origin": "history", "source": "UNODC GLOTIP"}]).iloc[0]
    assert report._country_row(row, indicator, "Romania", "")["comment"] == "Published data: UNODC GLOTIP."


def test_coverage_table_counts_figures_per_state(ref):
    codes = [i.code for i in ref.indicators]
    rows = [{"country_iso3": "GEO", "year": 2024, "indicator": c, "coverage": "reported" if c.startswith("TIP") else "not_available", "origin": "submission", "source": ""} for c in codes]
    rows += [{"country_iso3": "ROU", "year": 2024, "indicator": c, "coverage": "reported" if c == "TIP_VIC" else "no_submission", "origin": "history" if c == "TIP_VIC" else "", "source": ""} for c in codes]
    by_state = {r["state"]: r for r in report._coverage_rows(pd.DataFrame(rows), 2024, ref)}
    n_tip = sum(1 for i in ref.indicators if i.category == "TIP")
    assert by_state["Georgia"]["reported"] == f"{n_tip} of {len(codes)}" and by_state["Georgia"]["submission"] == "received"
    assert "Trafficking" not in by_state["Georgia"]["areas_without"]
    assert (by_state["Romania"]["submission"], by_state["Romania"]["published"]) == ("none", "1")
    assert (by_state["Albania"]["reported"], by_state["Albania"]["areas_without"]) == (f"0 of {len(codes)}", "all")
    assert len(by_state) == 13


def test_rendered_coverage_table_lists_every_member_state(rendered):
    rows = table_after(rendered, "Table 2. Coverage by member state")
    assert rows[0][0] == "Member state" and len(rows) == 1 + 13
    assert row_of(rows, "Albania")[1:3] == ["none", f"0 of {len(load_reference().indicators)}"]


def test_five_year_series_of_the_headline_indicators(rendered):
    rows = table_after(rendered, "Table 4. Headline indicators at regional level, 2022–2024")
    assert rows[0][1:4] == ["2022", "2023", "2024"] and rows[0][4:] == ["", ""]
    tip = row_of(rows, "Trafficking in persons: Identified victims of trafficking in persons")
    assert tip[1:4] == [": (0/13)", "1,100 (2/13)", "1,234 p (2/13)"]


def test_revisions_annex_gives_old_and_new_figures_with_the_comment(tmp_path, context, ref):
    revisions = pd.DataFrame([
        {"country_iso3": "MDA", "indicator": "CYB_OFF", "breakdown": "TOTAL", "year": 2023, "old_value": 211.0, "old_status": "reported",
         "new_value": 274.0, "change_pct": 29.85, "comment": "", "file": "2024/MDA_2024.xlsx", "cell": "F76"},
        {"country_iso3": "BGR", "indicator": "TIP_OFF", "breakdown": "TOTAL", "year": 2023, "old_value": NAN, "old_status": "",
         "new_value": 151.0, "change_pct": NAN, "comment": "Late police data & <court> records", "file": "2024/BGR_2024.xlsx", "cell": "F2"},
        {"country_iso3": "GEO", "indicator": "TIP_VIC", "breakdown": "TOTAL", "year": 2022, "old_value": 1.0, "old_status": "reported",
         "new_value": 2.0, "change_pct": 100.0, "comment": "", "file": "2023/GEO_2023.xlsx", "cell": "F15"},  # another year's
    ])
    rows = report._revision_rows(revisions[revisions["year"] == YEAR - 1], ref)
    assert [(r["state"], r["old"], r["new"], r["change"]) for r in rows] == [
        ("Bulgaria", "no figure", "151", ":"), ("Republic of Moldova", "211", "274", "+29.9\u00a0%"),
    ]
    rendered_context = report.build_context(YEAR, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), ref, {}, revisions=revisions)
    assert rendered_context["revisions_summary"].startswith(f"2 figures of earlier years were revised by 2 states in the {YEAR} submissions")
    out = render_report(TEMPLATE, rendered_context, tmp_path / "r.docx")
    rows = table_after(docx.Document(str(out)), "Table C1.")
    assert row_of(rows, "Bulgaria")[6] == "Late police data & <court> records"
