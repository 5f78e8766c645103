"""Tests for pipeline.report and templates/build_template.py.

Hand-made frames (4 states reporting, 3 indicators, 3 years); the expected figures are worked out
by hand in the comments, never taken from a pipeline run.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import importlib.util
import math
import re
import zipfile
from pathlib import Path, PurePath

import docx
import pandas as pd
import pytest
from docx.table import Table
from docx.text.paragraph import Paragraph
from docxtpl import DocxTemplate
from hypothesis import given
from hypothesis import strategies as st

from pipeline import report
from pipeline.changes import Comparison
from pipeline.errors import ReportRenderError
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


def make_regional():
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


@pytest.fixture
def regional():
    return make_regional()


def country_row(iso3, indicator, value, status, *, rate=NAN, change=NAN, flags="", comment=""):
    return {
        "country_iso3": iso3, "indicator": indicator, "breakdown": "TOTAL", "year": YEAR, "value": value,
        "status": status, "rate_per_100k": rate, "change_pct": change, "flags": flags, "comment": comment,
    }


def make_country():
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


@pytest.fixture
def country():
    return make_country()


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


@pytest.fixture(scope="module")
def chart_paths(tmp_path_factory, ref):
    """Drawn once for the module (the PNGs are only read); a test that changes them draws its own."""
    from pipeline.charts import render_charts

    return render_charts(make_regional(), make_country(), ref, YEAR, tmp_path_factory.mktemp("charts"))


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


def is_toc_entry(paragraph) -> bool:
    """An entry of the table of contents (it repeats the heading texts)."""
    return paragraph.style is not None and paragraph.style.name.startswith("toc ")


def table_after(document, caption_start: str) -> list[list[str]]:
    """Rows (cell texts) of the first table after the paragraph that starts with `caption_start`
    (entries of the table of contents are skipped)."""
    blocks = body_blocks(document)
    for index, block in enumerate(blocks):
        if isinstance(block, Paragraph) and block.text.startswith(caption_start) and not is_toc_entry(block):
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
    # 2 states in both years: fewer than the 3 a regional change needs ([key_findings] min_states)
    assert tip[1:] == ["1,234 p", "2 of 13", "17.6", ":", "2 states"]
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
    # trend and national charts of TIP and FA; the profiles of the two states with a figure to draw
    assert set(chart_paths) == {"trend_TIP", "national_TIP", "trend_FA", "national_FA", "profile_ARM", "profile_GEO"}
    assert len(shapes) == len(chart_paths)
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


def test_a_variable_the_context_lacks_is_named_even_in_a_branch_not_taken(tmp_path):
    template = tmp_path / "branch.docx"
    document = docx.Document()
    document.add_paragraph("{% if false %}{{ only_in_a_branch }}{% endif %}{{ title }}")
    document.save(str(template))
    with pytest.raises(ReportRenderError, match=r"branch\.docx uses variables the context does not supply: only_in_a_branch$"):
        render_report(template, {"title": "T"}, tmp_path / "out.docx")
    assert render_report(template, {"title": "T", "only_in_a_branch": "x"}, tmp_path / "out.docx").is_file()


def test_the_same_context_on_one_day_gives_the_same_bytes_with_every_chart(tmp_path, context):
    first = render_report(TEMPLATE, context, tmp_path / "a.docx")
    second = render_report(TEMPLATE, context, tmp_path / "b.docx")
    assert first.read_bytes() == second.read_bytes()
    today = dt.datetime.now(dt.UTC).date()
    with zipfile.ZipFile(first) as package:
        assert package.testzip() is None
        assert {info.date_time for info in package.infolist()} == {(today.year, today.month, today.day, 0, 0, 0)}
        media = [name for name in package.namelist() if name.startswith("word/media/")]
        assert len(media) == len(context_charts(context))
        assert sorted(package.read(name) for name in media) == sorted({p.read_bytes() for p in context_charts(context)})


def test_fill_toc_puts_one_styled_entry_per_heading_between_the_field_s_separate_and_end():
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    document = docx.Document()
    document.add_paragraph("Contents", style="Heading 1")  # before the field: not listed
    field = parse_xml(
        f"<w:p {nsdecls('w')}><w:r><w:fldChar w:fldCharType=\"begin\" w:dirty=\"true\"/></w:r>"
        "<w:r><w:instrText xml:space=\"preserve\"> TOC \\o \"1-3\" \\h \\z \\u </w:instrText></w:r>"
        "<w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>Update the field</w:t></w:r>"
        "<w:r><w:fldChar w:fldCharType=\"end\"/></w:r></w:p>"
    )
    document.element.body.insert(1, field)
    document.add_paragraph("1. First", style="Heading 1")
    document.add_paragraph("Body text.")
    document.add_paragraph("1.1 Second", style="Heading 2")
    document.add_paragraph("   ", style="Heading 2")  # empty: not listed
    document.add_paragraph("1.1.1 Third", style="Heading 3")
    assert report.fill_toc(document) == 3
    assert [p.text for p in document.paragraphs[1:4]] == ["1. First", "1.1 Second", "1.1.1 Third"]
    xml = document.element.body.xml
    assert re.findall(r'<w:pStyle w:val="(\w+)"/>', xml)[1:4] == ["TOC1", "TOC2", "TOC3"]  # the template's "toc 1".."toc 3"
    assert "Update the field" not in xml
    kinds = re.findall(r'w:fldCharType="(\w+)"', xml)
    assert kinds == ["begin", "separate", "end"]
    assert xml.index('"separate"') < xml.index("1. First") < xml.index("1.1.1 Third") < xml.index('"end"')


def test_fill_toc_leaves_a_document_without_the_field_alone():
    document = docx.Document()
    document.add_paragraph("1. First", style="Heading 1")
    before = document.element.body.xml
    assert report.fill_toc(document) == 0 and document.element.body.xml == before


def context_charts(context) -> list:
    """The chart paths anywhere in a report context."""
    if isinstance(context, PurePath):
        return [context]
    if isinstance(context, dict):
        return [p for value in context.values() for p in context_charts(value)]
    if isinstance(context, list | tuple):
        return [p for value in context for p in context_charts(value)]
    return []


def test_render_is_atomic_and_repeatable(tmp_path, context):
    out = tmp_path / "out" / REPORT_FILENAME.format(year=YEAR)
    original = copy.deepcopy(context)
    render_report(TEMPLATE, context, out)
    render_report(TEMPLATE, context, out)  # overwrite: a fresh template each time
    assert context == original  # chart paths were converted on a copy
    assert [p.name for p in out.parent.iterdir()] == ["BSEC_Annual_Assessment_2024.docx"]
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None


def test_missing_chart_file_is_a_render_error(tmp_path, ref, regional, country, submissions, findings):
    from pipeline.charts import render_charts

    own_charts = render_charts(regional, country, ref, YEAR, tmp_path / "charts")
    context = build_context(YEAR, regional, country, submissions, findings, ref, own_charts)
    own_charts["trend_TIP"].unlink()
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


def test_quality_rows_are_in_name_order_as_every_table_one_per_member(dq_context, ref):
    states = [row["state"] for row in dq_context["quality"]]
    assert states == sorted((ref.state_by_iso3[iso3].name for iso3 in ref.members_in(YEAR)), key=str.casefold)
    assert states.index("North Macedonia") < states.index("Republic of Moldova")  # as in Tables 1 and 2, not by ISO3


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


def test_history_files_and_the_inputs_readme_are_not_unattributed_submissions(ref):
    """Published history was used, and README.md is the folder's own: neither is a state's file that
    could not be attributed (a PDF a state may have sent instead of its workbook still is)."""
    files = pd.DataFrame([
        {"file": "history/unodc_glotip.csv", "country_iso3": "", "year": NAN, "status": "history", "reason": "1758 value(s) from a published source"},
        {"file": "history/unodc_glotip.json", "country_iso3": "", "year": NAN, "status": "ignored", "reason": "provenance of an import"},
        {"file": "README.md", "country_iso3": "", "year": NAN, "status": "ignored", "reason": "README.md is not a workbook"},
        {"file": "2026/letter.pdf", "country_iso3": "", "year": NAN, "status": "ignored", "reason": "letter.pdf is not a workbook"},
    ])
    findings = pd.DataFrame(columns=["code", "severity", "country_iso3", "year", "file", "sheet", "cell", "value", "message"])
    assert report._unattributed_files(files, findings, 2026, ref) == [{"file": "2026/letter.pdf", "reason": "letter.pdf is not a workbook"}]


def test_the_findings_annex_speaks_to_the_working_group_not_to_the_state():
    message = "TIP_VIC TOTAL: 388 against 41 in 2025 (+846 %) with no comment. Please confirm and explain the change in the Comment column."
    assert report._for_the_working_group(message) == "TIP_VIC TOTAL: 388 against 41 in 2025 (+846 %) with no comment."


def test_quality_annex_is_computable_from_the_csv_files(tmp_path, ref, regional, country, dq_submissions,
                                                        dq_findings, dq_context):
    from pipeline.output_files import write_csv

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


def test_annexes_b_to_d_are_a4_landscape_and_the_profiles_portrait_with_the_running_header():
    sections = docx.Document(str(TEMPLATE)).sections
    assert len(sections) == 3  # body (portrait), Annexes B-D (landscape), Annex E (portrait)
    landscape, portrait = sections[1], sections[2]
    assert (round(landscape.page_width.mm), round(landscape.page_height.mm)) == (297, 210)
    assert (round(portrait.page_width.mm), round(portrait.page_height.mm)) == (210, 297)
    for annex in (landscape, portrait):
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
    two_are_enough = dataclasses.replace(DEFAULT_SETTINGS, key_findings_min_states=2)
    text = report._key_figures(row, indicator, 2024, 13, two_are_enough)
    assert "the total changed by +5.0\u00a0% on 2023" in text
    assert "The raw regional total, over 3 states in 2024 and a different set in 2023, changed by +40.0\u00a0%" in text
    assert "The figures of 1 state come from published data (UNODC GLOTIP; Eurostat)" in text
    assert "their latest figure is used, so the rate is an estimate (flag e in data/regional.csv)" in text
    same_states = pd.DataFrame([{**regional_row("TIP_VIC", 2024, 700.0, 2, same=2, change_same=5.0), "change_pct": 5.0}]).iloc[0]
    assert "raw regional total" not in report._key_figures(same_states, indicator, 2024, 13, two_are_enough)


def test_no_regional_change_is_quoted_over_fewer_states_than_the_threshold(ref):
    """1 and 2 states reporting in both years (the default threshold is 3): neither the like-for-like
    change nor the raw one is quoted; the sentence says why."""
    indicator = ref.indicator_by_code["TER_OFF"]
    row = pd.DataFrame([{**regional_row("TER_OFF", 2024, 12.0, 2, same=1, change_same=531.6), "change_pct": 531.6}]).iloc[0]
    text = report._key_figures(row, indicator, 2024, 13, DEFAULT_SETTINGS)
    assert "531" not in text
    assert "Only one member state reported for both 2023 and 2024, fewer than the 3 a change needs, so no change is given." in text
    assert report._regional_cells(row, indicator, 13, DEFAULT_SETTINGS.key_findings_min_states)["change"] == ":"
    assert report._regional_cells(row, indicator, 13, 1)["change"] == "+531.6\u00a0%"


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


# -- key findings ----------------------------------------------------------------------------------
# A hand-made year (2024 on 2023), 13 member states:
#   regional (same-reporters change, states in both years):
#     TIP_VIC  +12.2 % over 4 (headline)     TIP_OFF  −40.0 % over 3 -> the TIP change quoted
#     DRG_OFF  +25.0 % over 9 (headline)     SOM_OFF   +5.0 % over 3 (headline)
#     FA_SZ   +300.0 % over 2 (headline): fewer than 3 states -> never quoted
#     COR_BRB  +90.0 % over 5: an "of which" part -> never quoted
#   -> quoted, largest first: TIP_OFF, DRG_OFF, SOM_OFF; headline directions: 4 up, 0 down, 8 without.
#   national headline changes of 50 % or more and at least 10:
#     GEO TIP_VIC 100 -> 234 (+134.0 %, with a comment)    UKR TIP_VIC 200 -> 50 (−75.0 %)
#     TUR DRG_OFF 18 -> 30 (+66.7 %)
#     not notable: BGR DRG_OFF 5 -> 12 (+140 % but only 7 more), ARM TIP_VIC 900 -> 1,000 (+11.1 %),
#     MDA TIP_VIC confidential (never quoted, whatever its change).
KF_COMMENT = "New referral mechanism & <NGO> reports."


@pytest.fixture
def kf_regional():
    return pd.DataFrame([
        regional_row("TIP_VIC", YEAR, 1234.0, 4, same=4, change_same=12.18, flags="p"),
        regional_row("TIP_OFF", YEAR, 300.0, 4, same=3, change_same=-40.0),
        regional_row("DRG_OFF", YEAR, 5000.0, 10, same=9, change_same=25.0),
        regional_row("SOM_OFF", YEAR, 80.0, 3, same=3, change_same=5.0),
        regional_row("FA_SZ", YEAR, 50.0, 2, same=2, change_same=300.0),
        regional_row("COR_BRB", YEAR, 900.0, 5, same=5, change_same=90.0),
    ])


@pytest.fixture
def kf_country():
    def pair(iso3, indicator, before, now, *, comment="", origin="submission", status="reported"):
        change = (now - before) / before * 100
        return [
            {**country_row(iso3, indicator, before, "reported"), "year": YEAR - 1, "origin": origin},
            {**country_row(iso3, indicator, now, status, change=change, comment=comment), "origin": origin},
        ]

    return pd.DataFrame(
        pair("GEO", "TIP_VIC", 100.0, 234.0, comment=KF_COMMENT)
        + pair("UKR", "TIP_VIC", 200.0, 50.0)
        + pair("ARM", "TIP_VIC", 900.0, 1000.0)
        + pair("MDA", "TIP_VIC", 300.0, 7.0, status="confidential")
        + pair("TUR", "DRG_OFF", 18.0, 30.0)
        + pair("BGR", "DRG_OFF", 5.0, 12.0, origin="history")
    )


@pytest.fixture
def kf_submissions():
    return pd.DataFrame([submission(iso3, "accepted") for iso3 in ("ARM", "GEO", "MDA", "TUR", "UKR")])


def test_key_findings_sentences_for_a_hand_made_year(ref, kf_regional, kf_country, kf_submissions):
    findings = report.key_findings(YEAR, kf_regional, kf_country, kf_submissions, ref)
    assert findings == [
        # who reported: BGR has a figure from published data only
        "5 of the 13 member states sent a submission for 2024; 6 of the 13 have at least one figure for 2024, "
        "1 of them only from published data (UNODC, Eurostat).",
        findings[1],  # the coverage sentence, checked below
        # firearms trafficking (2 states in both years) is below the threshold of 3: not counted
        "On a same-reporters basis, 3 of the 12 headline indicators increased on 2023 and 0 decreased (each "
        "compared over the 3 to 9 member states that reported it in both years); for 9 no change can be computed.",
        "Trafficking in persons offences recorded decreased by 40.0\u00a0% on 2023 among the 3 member states that "
        "reported in both years; the 2024 regional total is 300 cases (4 of 13 states reporting).",
        "Drug trafficking offences recorded increased by 25.0\u00a0% on 2023 among the 9 member states that reported "
        "in both years; the 2024 regional total is 5,000 cases (10 of 13 states reporting).",
        "Migrant smuggling offences recorded increased by 5.0\u00a0% on 2023 among the 3 member states that reported "
        "in both years; the 2024 regional total is 80 cases (3 of 13 states reporting).",
        # national: by crime area, then name (not by size)
        "Georgia recorded 234 identified victims of trafficking in persons in 2024 (+134.0\u00a0% on 2023, when it "
        "recorded 100); the state's comment: “New referral mechanism & <NGO> reports”.",
        "Ukraine recorded 50 identified victims of trafficking in persons in 2024 (\u221275.0\u00a0% on 2023, when it "
        "recorded 200).",
        "Türkiye recorded 30 drug trafficking offences in 2024 (+66.7\u00a0% on 2023, when it recorded 18).",
    ]
    assert findings[1].startswith("The headline indicators of the 12 crime areas were reported by 0 to 10 of the 13 "
                                  "member states for 2024; coverage is below 50\u00a0% for trafficking in persons "
                                  "(4 of 13), smuggling of migrants (3 of 13), firearms trafficking (2 of 13), "
                                  "terrorism (0 of 13)")
    assert "drug trafficking" not in findings[1]  # 10 of 13 is not low coverage
    assert 5 <= len(findings) <= 10


def test_key_findings_quote_only_the_largest_national_changes_and_count_the_rest(
        ref, kf_regional, kf_country, kf_submissions):
    from dataclasses import replace

    settings = replace(DEFAULT_SETTINGS, key_findings_national=2)
    findings = report.key_findings(YEAR, kf_regional, kf_country, kf_submissions, ref, settings)
    national = findings[-3:]
    assert [sentence.split(" recorded")[0] for sentence in national[:2]] == ["Georgia", "Ukraine"]  # the 2 largest
    assert national[2] == ("1 further change of 50\u00a0% or more in a state's headline figure is in the country "
                           "tables of chapters 4 to 15.")


def test_key_findings_are_deterministic_neutral_and_never_print_a_confidential_figure(
        ref, kf_regional, kf_country, kf_submissions):
    first = report.key_findings(YEAR, kf_regional, kf_country, kf_submissions, ref)
    shuffled = report.key_findings(YEAR, kf_regional.sample(frac=1, random_state=1),
                                   kf_country.sample(frac=1, random_state=2),
                                   kf_submissions.sample(frac=1, random_state=3), ref)
    assert shuffled == first
    text = " ".join(first).lower()
    for word in ("best", "worst", "rank", "good", "bad", "poor", "fail", "highest", "lowest"):
        assert not re.search(rf"\b{word}\b", text), word
    assert "moldova" not in text  # its figure is confidential
    assert "bulgaria" not in text  # +140 % but only 7 more: not notable


def test_key_findings_of_empty_frames_say_what_cannot_be_computed(ref):
    empty = pd.DataFrame()
    findings = report.key_findings(YEAR, empty, empty, empty, ref)
    assert findings[0] == "0 of the 13 member states sent a submission for 2024; 0 of the 13 have at least one figure for 2024."
    # Nothing to compare: one sentence on regional changes, one on national ones, each saying why.
    assert findings[2] == ("No regional change on 2023 is quoted: no indicator was reported for both 2023 and 2024 by at "
                           "least 3 member states, and over fewer a change says more about who reported than about crime.")
    assert findings[3] == "No member state reported a headline figure for both 2023 and 2024, so no national change is given."
    assert len(findings) == 4


def test_key_findings_chapter_is_rendered_before_the_methodology(rendered):
    headings = [p.text for p in rendered.paragraphs if p.style.name == "Heading 1"]
    assert headings[:3] == ["1. Key findings", "2. Scope and methodology", "3. Regional overview"]
    assert headings[3] == "4. Trafficking in persons"
    assert headings[-5:] == ["Annex A. Flags and symbols", "Annex B. Data quality and validation findings",
                             "Annex C. Revisions", "Annex D. Indicator definitions", "Annex E. Member-state profiles"]
    bullets = [p.text for p in rendered.paragraphs if p.style.name == "List Bullet"]
    assert 4 <= len(bullets) <= 10  # 4 when no change can be compared: one sentence says so for regions, one for states
    # ALB (rejected), ARM, GEO, MDA, UKR sent one; ARM, GEO and MDA (confidential) have a figure
    assert bullets[0] == "5 of the 13 member states sent a submission for 2024; 3 of the 13 have at least one figure for 2024."


# -- table of contents -------------------------------------------------------------------------------
def test_template_has_a_dirty_toc_field_and_word_updates_fields_on_opening():
    with zipfile.ZipFile(TEMPLATE) as archive:
        document = archive.read("word/document.xml").decode()
        settings = archive.read("word/settings.xml").decode()
    assert '<w:instrText xml:space="preserve"> TOC \\o "1-3" \\h \\z \\u </w:instrText>' in document
    assert '<w:fldChar w:fldCharType="begin" w:dirty="true"/>' in document
    assert '<w:updateFields w:val="true"/>' in settings
    # the TOC comes after the cover and before chapter 1
    assert document.index("Contents") < document.index("TOC \\o") < document.index("1. Key findings")


def test_rendered_report_keeps_the_field_and_lists_the_headings_in_it(tmp_path, context):
    out = render_report(TEMPLATE, context, tmp_path / "toc.docx")
    with zipfile.ZipFile(out) as archive:
        xml = archive.read("word/document.xml").decode()
        assert '<w:updateFields w:val="true"/>' in archive.read("word/settings.xml").decode()
    assert xml.count('w:fldCharType="begin" w:dirty="true"') == 1 and 'TOC \\o "1-3"' in xml
    document = docx.Document(str(out))
    entries = [(p.style.name, p.text) for p in document.paragraphs if is_toc_entry(p)]
    assert entries[:3] == [("toc 1", "1. Key findings"), ("toc 1", "2. Scope and methodology"),
                           ("toc 2", "2.1 Who reported")]
    assert ("toc 1", "Annex E. Member-state profiles") in entries and ("toc 2", "Georgia") in entries
    headings = [p.text for p in document.paragraphs if p.style.name in ("Heading 1", "Heading 2")]
    assert [text for _, text in entries] == headings  # one entry per heading, in order
    # the field's begin, separate and end stay in order around the entries
    assert xml.index('fldCharType="separate"') < xml.index("1. Key findings") < xml.index('fldCharType="end"')


# -- flag footnotes ----------------------------------------------------------------------------------
def test_flags_note_lists_only_the_flags_present_in_the_order_of_the_list(ref):
    assert report.flags_note(["", "bp", None, "p", NAN], ref) == (
        "Flags: p — Provisional value: it may be revised next year. "
        "b — Break in time series: not comparable with earlier years."
    )
    assert report.flags_note(["", None, NAN], ref) == ""
    assert report.flags_note(["x"], ref) == "Flags: x — see Annex A."


def test_country_tables_are_followed_by_the_meaning_of_their_flags(rendered, ref):
    def note_after(caption_start):
        blocks = body_blocks(rendered)
        start = next(i for i, b in enumerate(blocks) if isinstance(b, Paragraph) and b.text.startswith(caption_start)
                     and not is_toc_entry(b))
        following = next(b for b in blocks[start + 2:] if isinstance(b, Paragraph))
        return following.text

    # TIP: Georgia's p and Moldova's C
    confidential = next(f for f in ref.flags if f.code == "C").meaning.rstrip(".")
    assert note_after("Table 6. Identified victims") == (
        f"Flags: p — Provisional value: it may be revised next year. C — {confidential}.")
    # firearms: only Georgia's m
    assert note_after("Table 12. Firearms seized by member state") == (
        "Flags: m — Missing because the value cannot exist (not applicable).")


def test_a_table_without_flags_has_no_footnote(context):
    smuggling = next(c for c in context["categories"] if c["code"] == "SOM")
    assert smuggling["countries_flags_note"] == "" and smuggling["indicators_flags_note"] == ""


# -- scope and methodology ---------------------------------------------------------------------------
def test_methodology_explains_population_totals_rates_and_comparability(context, ref):
    sections = {s["heading"]: " ".join(s["paragraphs"]) for s in context["methodology"]}
    assert list(sections) == ["2.2 Indicators and definitions", "2.3 Missing figures, confidentiality and flags",
                              "2.4 Population", "2.5 Regional totals, rates and changes", "2.6 Comparability"]
    last_population_year = max(y for _, y in ref.population)
    assert "SP.POP.TOTL" in sections["2.4 Population"]
    if YEAR > last_population_year:
        assert f"for {YEAR} the {last_population_year} figure of each state is used" in sections["2.4 Population"]
    assert "Σ values / Σ population × 100,000" in sections["2.5 Regional totals, rates and changes"]
    assert "n of N" in sections["2.5 Regional totals, rates and changes"]
    assert "Annex D" in sections["2.2 Indicators and definitions"]
    assert f"{len(ref.indicators)} indicators in {len(ref.categories)} crime areas" in sections["2.2 Indicators and definitions"]
    assert "In the 2024 figures the flags p, m and C occur." in sections["2.3 Missing figures, confidentiality and flags"]
    assert "recording stages" in sections["2.6 Comparability"]


def test_comparability_names_the_published_sources_used(ref):
    regional = pd.DataFrame([{**regional_row("TIP_VIC", 2020, 10.0, 1), "history_sources": "UNODC GLOTIP (data_glotip.xlsx, 30/05/2023);Eurostat crim_off_cat"}])
    context = build_context(YEAR, regional, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), ref, {})
    comparability = " ".join(context["methodology"][-1]["paragraphs"])
    assert "figures published by Eurostat crim_off_cat and UNODC GLOTIP are used" in comparability


# -- international cooperation -----------------------------------------------------------------------
def test_cooperation_chapter_shows_requests_received_beside_sent(tmp_path, ref):
    regional = pd.DataFrame([
        regional_row("IC_MLA_IN", YEAR, 500.0, 3, same=3, change_same=10.0),
        regional_row("IC_MLA_OUT", YEAR, 420.0, 2, same=2, change_same=-5.0),
        regional_row("IC_EXT_IN", YEAR, 40.0, 3),
        regional_row("IC_EXT_OUT", YEAR, NAN, 2, flags="C"),
    ])
    country = pd.DataFrame([
        country_row("ARM", "IC_MLA_IN", 300.0, "reported", flags="p"),
        country_row("ARM", "IC_MLA_OUT", 250.0, "reported"),
        country_row("ARM", "IC_EXT_IN", 0.0, "reported"),
        country_row("ARM", "IC_EXT_OUT", 3.0, "confidential", flags="C"),
    ])
    context = build_context(YEAR, regional, country, pd.DataFrame(), pd.DataFrame(), ref, {})
    ic = next(c for c in context["categories"] if c["code"] == "IC")
    assert ic["cooperation"] == [
        {"flow": "Mutual legal assistance requests", "received": "500", "received_coverage": "3 of 13",
         "received_change": "+10.0\u00a0%", "sent": "420", "sent_coverage": "2 of 13", "sent_change": ":"},  # 2 states: below the threshold
        {"flow": "Extradition requests", "received": "40", "received_coverage": "3 of 13", "received_change": ":",
         "sent": "C", "sent_coverage": "2 of 13", "sent_change": ":"},
    ]
    armenia = next(r for r in ic["cooperation_states"] if r["state"] == "Armenia")
    assert armenia == {"state": "Armenia", "in1": "300 p", "out1": "250", "in2": "0", "out2": "C"}
    assert len(ic["cooperation_states"]) == 13
    assert ic["cooperation_headings"][0] == "Mutual legal assistance requests: received"
    assert all(c["cooperation"] == [] for c in context["categories"] if c["code"] != "IC")
    document = docx.Document(str(render_report(TEMPLATE, context, tmp_path / "ic.docx")))
    rows = table_after(document, "Table 30. Requests received and sent by member state")
    assert row_of(rows, "Armenia") == ["Armenia", "300 p", "250", "0", "C"]
    assert table_after(document, "Table 29. Requests received and sent at regional level")[1][:2] == [
        "Mutual legal assistance requests", "500"]


# -- comments ----------------------------------------------------------------------------------------
def test_comments_on_the_other_indicators_of_an_area_are_listed(ref):
    country = pd.DataFrame([
        country_row("GEO", "TIP_OFF", 12.0, "reported", comment="Police data & court records"),
        {**country_row("ARM", "TIP_SUS", 5.0, "reported", comment="Women only"), "breakdown": "SEX=F"},
        country_row("ARM", "TIP_OFF", 3.0, "reported", comment="Provisional"),
        country_row("ARM", "TIP_VIC", 3.0, "reported", comment="Headline: in the country table"),
        {**country_row("ARM", "TIP_OFF", 3.0, "reported", comment="Last year"), "year": YEAR - 1},
    ])
    context = build_context(YEAR, pd.DataFrame(), country, pd.DataFrame(), pd.DataFrame(), ref, {})
    tip = next(c for c in context["categories"] if c["code"] == "TIP")
    assert tip["comments"] == [
        {"state": "Armenia", "indicator": "Trafficking in persons offences recorded", "comment": "Provisional"},
        {"state": "Georgia", "indicator": "Trafficking in persons offences recorded", "comment": "Police data & court records"},
        {"state": "Armenia", "indicator": f"Persons suspected or arrested for trafficking in persons ({ref.breakdown_label('SEX=F')})",
         "comment": "Women only"},
    ]


# -- annex D: definitions ------------------------------------------------------------------------------
def test_definitions_annex_has_one_row_per_indicator_of_the_catalogue(rendered, context, ref):
    assert [row["code"] for row in context["definitions"]] == [i.code for i in ref.indicators]
    rows = table_after(rendered, "Table D1. Indicator definitions")
    assert rows[0] == ["Code", "Indicator", "Unit", "ICCS", "Definition"]
    assert len(rows) == 1 + len(ref.indicators)
    tip_off = row_of(rows, "TIP_OFF")
    indicator = ref.indicator_by_code["TIP_OFF"]
    assert tip_off == ["TIP_OFF", indicator.label, indicator.unit, indicator.iccs, indicator.definition]
    assert row_of(rows, "TIP_VIC")[3] == "–"  # no ICCS code


# -- annex E: member-state profiles --------------------------------------------------------------------
def test_one_profile_per_member_state_with_figures_and_one_line_for_each_without(context, chart_paths, ref):
    profiles = context["profiles"]
    with_figures = ["Armenia", "Georgia", "Republic of Moldova"]  # the fixture's states with a figure for 2024
    assert [p["heading"] for p in profiles] == with_figures
    names = sorted((ref.state_by_iso3[iso3].name for iso3 in ref.members_in(YEAR)), key=str.casefold)
    without = context["profiles_without_figures"]
    assert [p["heading"] for p in without] == [name for name in names if name not in with_figures]
    assert set(without[0]) == {"heading", "summary"}  # a line, not a page of ":"
    assert context["profiles_without_figures_heading"] == "Member states without figures for 2024"
    assert context["profiles_summary"].endswith("The 10 states without any figure are listed together at the end.")
    by_name = {p["heading"]: p for p in profiles}
    assert by_name["Armenia"]["chart"] == chart_paths["profile_ARM"]
    assert by_name["Georgia"]["chart"] == chart_paths["profile_GEO"]
    georgia = by_name["Georgia"]
    assert len(georgia["rows"]) == len(ref.categories)
    assert georgia["rows"][0] == {"indicator": "Identified victims of trafficking in persons", "unit": "persons",
                                  "value": "234", "rate": "5.9", "change": "+17.0\u00a0%", "flags": "p"}
    assert georgia["flags_note"].startswith("Flags: p — ")
    assert georgia["summary"].startswith("Submission for 2024: accepted with warnings (GEO_2024.xlsx, submitted 15 February 2025).")
    moldova = by_name["Republic of Moldova"]["rows"][0]
    assert (moldova["value"], moldova["rate"], moldova["change"]) == ("C", "C", "C")
    assert {p["heading"]: p for p in without}["Serbia"]["summary"].startswith("No submission for 2024 was received.")


def test_rendered_profiles_each_on_their_own_page(rendered):
    blocks = body_blocks(rendered)
    start = next(i for i, b in enumerate(blocks) if isinstance(b, Paragraph) and b.text == "Annex E. Member-state profiles"
                 and not is_toc_entry(b))
    headings = [b for b in blocks[start:] if isinstance(b, Paragraph) and b.style.name == "Heading 2"]
    assert [h.text for h in headings] == ["Armenia", "Georgia", "Republic of Moldova", "Member states without figures for 2024"]
    assert not headings[0].paragraph_format.page_break_before  # shares the annex's first page
    assert all(h.paragraph_format.page_break_before for h in headings[1:])
    lines = [b.text for b in blocks[start:] if isinstance(b, Paragraph)]
    assert lines[-1].startswith("Ukraine: Submission for 2024: accepted (UKR_2024.xlsx")
    assert not any(line.startswith("Table E4.") for line in lines)  # three tables only
    rows = table_after(rendered, "Table E2. Georgia: headline indicator of each crime area, 2024")
    assert rows[1] == ["Identified victims of trafficking in persons", "persons", "234", "5.9", "+17.0\u00a0%", "p"]


# -- docs/template-variables.md documents the template ---------------------------------------------------
KEYWORDS = {"for", "in", "if", "not", "endif", "endfor", "else", "elif", "and", "or", "is", "loop"}


def template_fields(path: Path) -> set[str]:
    """Every variable and row field the template uses: "title", "categories[].countries[].value", ...

    Tags are read in document order; `for X in Y` opens a loop whose rows are named X, closed by endfor.
    """
    with zipfile.ZipFile(path) as archive:
        xml = "".join(archive.read(name).decode() for name in archive.namelist()
                      if re.fullmatch(r"word/(document|header\d*|footer\d*)\.xml", name))
    loops: list[tuple[str, str]] = []
    used = set()

    def resolve(expression: str) -> str | None:
        head, *rest = re.findall(r"\w+", expression)
        for name, path_ in reversed(loops):
            if name == head:
                return f"{path_}[].{rest[0]}" if rest and not rest[0].isdigit() else None  # None: the row itself
        return head

    for tag in re.findall(r"\{[{%](.*?)[}%]\}", xml):
        tag = re.sub(r"^\s*(tr|tc|p|r)\s", " ", tag).strip()
        loop = re.fullmatch(r"for (\w+) in ([\w.]+)", tag)
        if loop:
            path_ = resolve(loop.group(2))
            used.add(path_)
            loops.append((loop.group(1), path_))
        elif tag == "endfor":
            loops.pop()
        else:
            for expression in re.findall(r"[A-Za-z_]\w*(?:\.\w+|\[\d+\])*", tag):
                if expression.split(".")[0].split("[")[0] not in KEYWORDS and (found := resolve(expression)):
                    used.add(found)
    assert not loops, "unbalanced for/endfor"
    return used


def readme_template_names() -> set[str]:
    text = (REPO / "docs" / "template-variables.md").read_text(encoding="utf-8")
    section = text.split("\n## Variables\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([^`]+)`", first_cell))
    return names


def context_fields(value, path="") -> set[str]:
    """Every key the context supplies, with rows of lists written as `name[]`."""
    fields = set()
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else key
            fields.add(name)
            fields |= context_fields(item, name)
    elif isinstance(value, list):
        for item in value:
            fields |= context_fields(item, f"{path}[]")
    return fields


def test_readme_documents_every_template_variable_and_nothing_else():
    declared = DocxTemplate(str(TEMPLATE)).get_undeclared_template_variables(jinja_env=make_jinja_env())
    documented = {name for name in readme_template_names() if "[]" not in name}
    assert documented == declared, (sorted(declared - documented), sorted(documented - declared))


def test_readme_documents_every_loop_field_the_template_uses_and_only_fields_the_context_has(context, ref):
    documented = {name for name in readme_template_names() if "[]" in name}
    used = {name for name in template_fields(TEMPLATE) if "[]" in name}
    assert used <= documented, sorted(used - documented)
    # The fixture's context has no revision and no comment on a non-headline indicator: add a context
    # that has both, so every kind of row is there.
    country = pd.DataFrame([country_row("GEO", "TIP_OFF", 12.0, "reported", comment="Police data")])
    revisions = pd.DataFrame([{"country_iso3": "MDA", "indicator": "CYB_OFF", "breakdown": "TOTAL", "year": YEAR - 1,
                               "old_value": 211.0, "old_status": "reported", "new_value": 274.0, "change_pct": 29.85,
                               "comment": "", "file": "MDA.xlsx", "cell": "F76"}])
    # ... and a comparison with a release, for the changes annex.
    changed = pd.DataFrame([{"level": "national", "country_iso3": "GEO", "indicator": "TIP_OFF", "breakdown": "TOTAL", "year": YEAR, "measure": "value",
                             "old_value": 10.0, "new_value": 12.0, "difference": 2.0, "old_status": "reported", "new_status": "reported",
                             "old_flags": "", "new_flags": "", "cause": "resubmission", "evidence": "GEO TIP_OFF: GEO.xlsx Data!E7"}])
    other = build_context(YEAR, pd.DataFrame(), country, pd.DataFrame(), pd.DataFrame(), ref, {}, revisions=revisions,
                          comparison=Comparison("draft-1", "2026-02-15", changed, ("A sentence of the draft.",)))
    supplied = context_fields(context) | context_fields(other)
    assert documented <= supplied, sorted(documented - supplied)


def test_a_missing_chart_file_is_a_render_error_and_nothing_is_written(tmp_path, ref, regional, country, submissions, findings, chart_paths):
    import shutil

    own = {key: Path(shutil.copyfile(path, tmp_path / path.name)) for key, path in chart_paths.items()}
    mine = build_context(YEAR, regional, country, submissions, findings, ref, own, generated_on=dt.date(2025, 3, 31))
    missing = next(iter(own.values()))
    missing.unlink()
    with pytest.raises(ReportRenderError, match=f"chart image {re.escape(str(missing))} does not exist"):
        render_report(TEMPLATE, mine, tmp_path / "r.docx")
    assert not (tmp_path / "r.docx").exists()


def test_rows_by_key_gives_each_key_its_last_row():
    frame = pd.DataFrame({"indicator": pd.Series(["TIP_VIC", "TIP_VIC", "DRG_SZ_HER"], dtype="str"), "year": [2024, 2024, 2025],
                          "total": [1.5, 9.0, 3.0]})
    rows = report._rows_by_key(frame, ["indicator", "year"])
    assert list(rows) == [("TIP_VIC", 2024), ("DRG_SZ_HER", 2025)]
    assert rows[("TIP_VIC", 2024)].total == 9.0 and type(rows[("DRG_SZ_HER", 2025)].year) is int


def test_findings_of_a_superseded_file_come_last_and_say_so():
    findings = pd.DataFrame([
        {"code": "breakdown-sum-mismatch", "severity": "error", "country_iso3": "GEO", "year": 2025, "file": "2025/GEO_2025.xlsx", "sheet": "Data", "cell": "E15", "message": "m1"},
        {"code": "change-unexplained", "severity": "warning", "country_iso3": "BGR", "year": 2025, "file": "2025/BGR_2025.xlsx", "sheet": "Data", "cell": "E40", "message": "m2"},
    ])
    submissions = pd.DataFrame({"file": ["2025/GEO_2025.xlsx", "2025/GEO_2025_v2.xlsx", "2025/BGR_2025.xlsx"],
                                "status": ["superseded", "accepted", "accepted-with-warnings"]})
    rows = report._finding_rows(findings, 2025, submissions)
    assert [(r["file"], r["severity"]) for r in rows] == [("2025/BGR_2025.xlsx", "warning"), ("2025/GEO_2025.xlsx (superseded)", "error")]


def test_the_series_table_has_every_year_of_its_range_even_without_data():
    assert report._series_years([2019, 2020, 2021, 2026], 2026) == [2022, 2023, 2024, 2025, 2026]
    assert report._series_years([2023, 2024, 2025], 2025) == [2023, 2024, 2025]  # never before the first year with data
    assert report._series_years([], 2026) == [2026]


def test_a_total_not_comparable_with_the_year_before_is_marked_b_in_the_series_table(ref):
    """6 states in 2022 from published data, 3 submitting states in 2023 of whom 1 reported in 2022:
    a break (b); 2024 with the same 3 states: comparable, no mark."""
    rows = [regional_row("TIP_VIC", 2022, 40_884.0, 6), regional_row("TIP_VIC", 2023, 1_100.0, 3, same=1),
            regional_row("TIP_VIC", 2024, 1_200.0, 3, same=3)]
    rows[0]["n_history"] = 6
    regional_rows = report._rows_by_key(pd.DataFrame(rows), report.REGIONAL_KEY)
    series = report._series_rows(regional_rows, [2022, 2023, 2024], ref)
    trafficking = next(row for row in series if row["indicator"].startswith("Trafficking in persons"))
    assert trafficking["y0"] == "40,884 (6/13)"
    assert trafficking["y1"] == "1,100 b (3/13)"
    assert trafficking["y2"] == "1,200 (3/13)"
    assert report._series_note(series).startswith("b: break in series: the total cannot be compared")
    assert report._series_note(report._series_rows(regional_rows, [2024], ref)) == ""
    # A state's own flag b, carried by the total, is not marked twice, and the note explains it too.
    rows[1]["flags"] = "b"
    flagged = report._series_rows(report._rows_by_key(pd.DataFrame(rows), report.REGIONAL_KEY), [2022, 2023], ref)
    assert next(row for row in flagged if row["indicator"].startswith("Trafficking in persons"))["y1"] == "1,100 b (3/13)"
    assert "A member state flagged a break in its own series" in report._series_note(flagged)


def test_a_state_with_earlier_figures_but_none_for_the_year_gets_a_line_not_a_page(ref):
    """Albania has published figures of earlier years (so a profile chart) but nothing for 2026."""
    profiles, without = report._profiles(2026, {}, {}, [], ref, {"profile_ALB": Path("profile_ALB.png")})
    assert profiles == []
    assert without[0] == {"heading": "Albania", "summary": "No submission for 2026 was received."}


# -- Annex F: changes since a release ---------------------------------------------------------------------
def test_without_a_release_the_report_has_no_changes_annex(context, rendered):
    assert context["changes_annex"] is False
    assert not [p.text for p in rendered.paragraphs if p.style.name == "Heading 1" and p.text.startswith("Annex F")]


def test_the_key_findings_are_read_back_from_a_rendered_report(context, tmp_path):
    out = render_report(TEMPLATE, context, tmp_path / "r.docx")
    assert report.read_key_findings(out) == tuple(context["key_findings"]) and len(context["key_findings"]) > 1
    assert report.read_key_findings(tmp_path / "absent.docx") == ()


def test_with_nothing_changed_annex_f_is_its_heading_and_one_sentence(ref, regional, country, submissions, findings, chart_paths, context, tmp_path):
    same = Comparison("draft", "2026-02-20T09:30:00Z", pd.DataFrame(columns=report.changes_module.COLUMNS), tuple(context["key_findings"]))
    mine = build_context(YEAR, regional, country, submissions, findings, ref, chart_paths, generated_on=dt.date(2025, 3, 31), comparison=same)
    assert (mine["changes_heading"], mine["changes_summary"]) == ("Annex F. Changes since draft of 20 February 2026",
                                                                  "No published figure changed since draft of 20 February 2026.")
    assert mine["changes_causes"] == mine["changes_groups"] == mine["changes_findings"] == [] and mine["changes_findings_summary"] == ""
    out = render_report(TEMPLATE, mine, tmp_path / "r.docx")
    paragraphs = [p.text for p in docx.Document(str(out)).paragraphs if p.text.strip()]
    at = len(paragraphs) - 1 - paragraphs[::-1].index("Annex F. Changes since draft of 20 February 2026")  # the heading, not its contents entry
    assert paragraphs[at:] == ["Annex F. Changes since draft of 20 February 2026", "No published figure changed since draft of 20 February 2026."]


def test_a_changed_key_finding_is_set_beside_the_one_it_replaces(ref, regional, country, submissions, findings, chart_paths, context):
    old = list(context["key_findings"])
    old[1] = "A sentence the draft had."
    changed = pd.DataFrame([{"level": "national", "country_iso3": "GEO", "indicator": "TIP_VIC", "breakdown": "TOTAL", "year": YEAR,
                             "measure": "rate_per_100k", "old_value": 0.2943, "new_value": 0.2861, "difference": -0.0082, "old_status": "",
                             "new_status": "", "old_flags": "e", "new_flags": "e", "cause": "population-update",
                             "evidence": "pipeline/reference/population.csv: GEO 2024 3,699,557 → 3,800,000"}])
    mine = build_context(YEAR, regional, country, submissions, findings, ref, chart_paths, comparison=Comparison("draft", "2026-02-20", changed, tuple(old)))
    assert mine["changes_findings"] == [{"old": "A sentence the draft had.", "new": context["key_findings"][1]}]
    assert mine["changes_causes"] == [{"cause": "population-update", "meaning": "a population reference update", "figures": "1"}]
    (group,) = mine["changes_groups"]
    assert group["heading"] == "Trafficking in persons: a population reference update"
    # The report prints rates with 1 decimal: a change it would hide gets the decimals that show it; the
    # rate's flag e only when it changed (the tables leave it to data/*.csv).
    assert [(r["figure"], r["measure"], r["old"], r["new"]) for r in group["rows"]] == [
        ("Georgia: Identified victims of trafficking in persons, " + str(YEAR), "rate per 100,000", "0.294", "0.286")]
