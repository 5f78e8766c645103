"""Build the Word template of the annual report: `templates/annual_assessment.docx`.

Run `python templates/build_template.py` (or `make report-template`) after changing this script;
the .docx is generated and this script is its source of truth. Output: a docxtpl (Jinja) template,
A4 with 25 mm margins (Annexes B, C and D, with their wide tables, in landscape), named styles in
DejaVu Sans (covers Latin, Cyrillic, Greek, Georgian, Armenian), a running header with the title
and year, page numbers in the footer, and a Word table-of-contents field (`TOC \\o "1-3" \\h \\z \\u`,
marked dirty, with `w:updateFields` in settings.xml so Word rebuilds it on opening).

Reading order: cover; contents; 1 key findings; 2 scope and methodology (who reported, definitions,
symbols and flags, population, totals/rates/changes, comparability); 3 regional overview; one
chapter per crime area (the last is international cooperation, with requests received and sent);
Annex A flags and symbols; B data quality; C revisions; D indicator definitions; E member-state
profiles. Headings carry their numbers in their text; the numbers of the crime-area chapters come
from the context. Subsections inside a crime-area chapter use the `Subheading` style, which is not
an outline level, so the contents list the chapters without twelve copies of the same subheadings.

Why in code: docxtpl needs every Jinja tag inside one Word run; typing in Word splits tags across
runs (spell-check, revision ids). Here each tag is written as one run by construction.
Paragraph-level loops and ifs use `{%p ... %}` (one per paragraph), table-row loops `{%tr ... %}`.
The template holds no logic beyond loops and ifs: every figure arrives formatted from
`pipeline.report.build_context`, whose keys are the variables used below.

The bytes are stable: fixed document properties and fixed zip timestamps, so a rebuild without
changes gives an identical file and `git diff` shows only real changes.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT, WD_TAB_LEADER
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

TEMPLATE_PATH = Path(__file__).with_name("annual_assessment.docx")

FONT = "DejaVu Sans"
TEXT_WIDTH_MM = 160.0  # A4 210 mm minus two 25 mm margins; charts are inserted at this width
LANDSCAPE_TEXT_WIDTH_MM = 247.0  # A4 landscape 297 mm minus two 25 mm margins: Annex B's wide tables
HEADING_COLOUR = RGBColor(0x1F, 0x38, 0x64)
NOTICE_COLOUR = RGBColor(0xC0, 0x00, 0x00)
HEADER_FILL = "D9E2F3"
TABLE_STYLE = "BSEC Table"
TABLE_TEXT = "Table Text"
TABLE_HEADING = "Table Heading"
TABLE_NOTE = "Table Note"
CELL_MARGIN_MM = 1.3
SUBHEADING = "Subheading"
TOC_INSTRUCTION = ' TOC \\o "1-3" \\h \\z \\u '
TOC_PLACEHOLDER = "The table of contents is built when the document is opened in Word (or: right-click, Update Field)."
# Zip entries and document properties get these instead of "now", for identical bytes per build.
FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
FIXED_DOC_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


# -- styles ----------------------------------------------------------------------------------------
def _child(parent, tag: str, first: bool = False):
    """The `tag` child of `parent`, created when absent."""
    element = parent.find(qn(tag))
    if element is None:
        element = OxmlElement(tag)
        if first:
            parent.insert(0, element)
        else:
            parent.append(element)
    return element


def _set_font(rpr_owner, name: str) -> None:
    """Set one font for every script slot and drop theme fonts, which Word would prefer."""
    # Styles know where rPr goes in their schema order; docDefaults/rPrDefault is a plain element.
    rpr = rpr_owner.get_or_add_rPr() if hasattr(rpr_owner, "get_or_add_rPr") else _child(rpr_owner, "w:rPr")
    fonts = _child(rpr, "w:rFonts", first=True)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), name)


def _set_document_defaults(doc) -> None:
    styles_el = doc.styles.element
    rpr_default = styles_el.find(qn("w:docDefaults")).find(qn("w:rPrDefault"))
    _set_font(rpr_default, FONT)
    _child(rpr_default.find(qn("w:rPr")), "w:lang").set(qn("w:val"), "en-GB")


def _style_paragraphs(doc) -> None:
    styles = doc.styles
    specs = {
        # name: (size pt, bold, colour, space before, space after)
        "Normal": (10, False, None, 0, 6),
        "Title": (22, True, HEADING_COLOUR, 60, 18),
        "Subtitle": (13, False, HEADING_COLOUR, 0, 10),
        "Heading 1": (15, True, HEADING_COLOUR, 12, 8),
        "Heading 2": (12, True, HEADING_COLOUR, 10, 4),
        "Caption": (8.5, False, RGBColor(0x33, 0x33, 0x33), 2, 8),
        "Header": (8, False, RGBColor(0x55, 0x55, 0x55), 0, 0),
        "Footer": (8, False, RGBColor(0x55, 0x55, 0x55), 0, 0),
    }
    for name, (size, bold, colour, before, after) in specs.items():
        style = styles[name]
        _set_font(style.element, FONT)
        style.font.size = Pt(size)
        style.font.bold = bold
        style.font.italic = False
        if colour is not None:
            style.font.color.rgb = colour
        style.paragraph_format.space_before = Pt(before)
        style.paragraph_format.space_after = Pt(after)
    # The default Title has a bottom border and theme colours; keep it plain.
    title_ppr = styles["Title"].element.pPr
    if title_ppr is not None and title_ppr.find(qn("w:pBdr")) is not None:
        title_ppr.remove(title_ppr.find(qn("w:pBdr")))
    styles["Normal"].paragraph_format.line_spacing = 1.1
    for name in ("Heading 1", "Heading 2"):
        styles[name].paragraph_format.keep_with_next = True
    # The contents page: its own heading (not an outline level, so not listed in itself) and the
    # entry styles Word and LibreOffice use for the TOC field's result.
    contents_heading = styles["TOC Heading"]
    _set_font(contents_heading.element, FONT)
    contents_heading.font.size = Pt(15)
    contents_heading.font.bold = True
    contents_heading.font.color.rgb = HEADING_COLOUR
    for level, (size, bold, before, indent) in enumerate(((10, True, 6, 0), (9.5, False, 1, 6), (9, False, 0, 12)), 1):
        # Word's built-in names are lower case ("toc 1"); the style id is what the TOC field writes.
        toc = styles.add_style(f"toc {level}", WD_STYLE_TYPE.PARAGRAPH)
        toc.element.set(qn("w:styleId"), f"TOC{level}")
        toc.base_style = styles["Normal"]
        _set_font(toc.element, FONT)
        toc.font.size = Pt(size)
        toc.font.bold = bold
        toc.paragraph_format.space_before = Pt(before)
        toc.paragraph_format.space_after = Pt(1)
        toc.paragraph_format.left_indent = Mm(indent)
        toc.paragraph_format.tab_stops.add_tab_stop(Mm(TEXT_WIDTH_MM), WD_TAB_ALIGNMENT.RIGHT, WD_TAB_LEADER.DOTS)

    subheading = styles.add_style(SUBHEADING, WD_STYLE_TYPE.PARAGRAPH)
    subheading.base_style = styles["Normal"]
    subheading.next_paragraph_style = styles["Normal"]
    _set_font(subheading.element, FONT)
    subheading.font.size = Pt(10.5)
    subheading.font.bold = True
    subheading.font.color.rgb = HEADING_COLOUR
    subheading.paragraph_format.space_before = Pt(8)
    subheading.paragraph_format.space_after = Pt(3)
    subheading.paragraph_format.keep_with_next = True

    bullet = styles["List Bullet"]
    _set_font(bullet.element, FONT)
    bullet.font.size = Pt(10)
    bullet.paragraph_format.space_after = Pt(5)
    bullet.paragraph_format.line_spacing = 1.1

    table_text = styles.add_style(TABLE_TEXT, WD_STYLE_TYPE.PARAGRAPH)
    table_text.base_style = styles["Normal"]
    _set_font(table_text.element, FONT)
    table_text.font.size = Pt(8.5)
    table_text.paragraph_format.space_before = Pt(1)
    table_text.paragraph_format.space_after = Pt(1)
    table_text.paragraph_format.line_spacing = 1.0

    table_heading = styles.add_style(TABLE_HEADING, WD_STYLE_TYPE.PARAGRAPH)
    table_heading.base_style = table_text
    table_heading.font.bold = True

    table_note = styles.add_style(TABLE_NOTE, WD_STYLE_TYPE.PARAGRAPH)
    table_note.base_style = styles["Normal"]
    _set_font(table_note.element, FONT)
    table_note.font.size = Pt(7.5)
    table_note.font.color.rgb = RGBColor(0x33, 0x33, 0x33)
    table_note.paragraph_format.space_before = Pt(2)
    table_note.paragraph_format.space_after = Pt(8)
    table_note.paragraph_format.line_spacing = 1.0

    table_style = styles.add_style(TABLE_STYLE, WD_STYLE_TYPE.TABLE)
    table_style.base_style = styles["Table Grid"]
    table_style.font.size = Pt(8.5)


# -- building blocks -------------------------------------------------------------------------------
def _paragraph(container, text: str = "", style: str | None = None, *, bold: bool = False,
               align=None, keep_with_next: bool = False, page_break_before: bool = False):
    """A paragraph whose whole text is ONE run, so any Jinja tag in it stays whole."""
    paragraph = container.add_paragraph(style=style)
    if text:
        run = paragraph.add_run(text)
        if bold:
            run.bold = True
    if align is not None:
        paragraph.alignment = align
    if keep_with_next:
        paragraph.paragraph_format.keep_with_next = True
    if page_break_before:
        paragraph.paragraph_format.page_break_before = True
    return paragraph


def _tag(container, tag: str) -> None:
    """A paragraph holding only a `{%p ... %}` tag; docxtpl removes the paragraph when rendering."""
    _paragraph(container, tag)


def _shade(cell, fill: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    tc_pr.append(shading)


def _repeat_as_header(row) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)


def _cell_text(cell, text: str, style: str, align=None) -> None:
    # A new cell holds one empty paragraph: reuse it rather than leave an empty line.
    paragraph = cell.paragraphs[0]
    paragraph.style = cell.part.document.styles[style]
    if text:
        paragraph.add_run(text)
    if align is not None:
        paragraph.alignment = align


def _loop_table(doc, columns: list[tuple[str, str, float, bool]], loop: str, text_width: float = TEXT_WIDTH_MM) -> None:
    """A table: header row, then one row per item of `loop` ("row in rows").

    `columns`: (heading, field of the row, width in mm, right-aligned?). The `{%tr for %}` and
    `{%tr endfor %}` rows are removed by docxtpl; the row between them repeats.
    """
    assert abs(sum(width for _, _, width, _ in columns) - text_width) < 0.01, "columns must fill the text width"
    item = loop.split(" in ")[0].strip()
    table = doc.add_table(rows=4, cols=len(columns))
    table.style = doc.styles[TABLE_STYLE]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    header, loop_start, body, loop_end = table.rows
    _repeat_as_header(header)
    for index, (heading, field, width, right) in enumerate(columns):
        align = WD_ALIGN_PARAGRAPH.RIGHT if right else None
        table.columns[index].width = Mm(width)
        for row in table.rows:
            row.cells[index].width = Mm(width)
        _cell_text(header.cells[index], heading, TABLE_HEADING, align)
        _shade(header.cells[index], HEADER_FILL)
        _cell_text(body.cells[index], "{{ " + f"{item}.{field}" + " }}", TABLE_TEXT, align)
        _cell_text(loop_start.cells[index], "", TABLE_TEXT)
        _cell_text(loop_end.cells[index], "", TABLE_TEXT)
    _cell_text(loop_start.cells[0], "{%tr for " + loop + " %}", TABLE_TEXT)
    _cell_text(loop_end.cells[0], "{%tr endfor %}", TABLE_TEXT)
    # No `w:cantSplit` on the rows: LibreOffice 7.4 drops rows of such a table when it breaks near the
    # foot of a page (seen in the PDF), which is worse than a row split over two pages.
    _narrow_cell_margins(table)


def _narrow_cell_margins(table) -> None:
    """Left and right cell margins of CELL_MARGIN_MM instead of Word's 1.9 mm: room for long numbers."""
    tbl_pr = table._tbl.tblPr
    margins = OxmlElement("w:tblCellMar")
    for side in ("w:left", "w:right"):
        margin = OxmlElement(side)
        margin.set(qn("w:w"), str(round(CELL_MARGIN_MM / 25.4 * 1440)))
        margin.set(qn("w:type"), "dxa")
        margins.append(margin)
    look = tbl_pr.find(qn("w:tblLook"))  # the schema puts tblCellMar just before tblLook
    if look is not None:
        look.addprevious(margins)
    else:
        tbl_pr.append(margins)


def _page_number_field(paragraph) -> None:
    """A PAGE field: Word and LibreOffice fill in the number when laying out the page."""
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


# -- the document ----------------------------------------------------------------------------------
def _page_setup(doc) -> None:
    section = doc.sections[0]
    # python-docx starts from US Letter.
    section.page_width = Mm(210)
    section.page_height = Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(25))
    section.header_distance = Mm(12)
    section.footer_distance = Mm(12)
    # The cover has neither running header nor page number.
    section.different_first_page_header_footer = True
    _paragraph(section.header, "{{ title }} — {{ year }}", "Header")
    footer = _paragraph(section.footer, "Page ", "Footer", align=WD_ALIGN_PARAGRAPH.CENTER)
    _page_number_field(footer)


def _cover(doc) -> None:
    _paragraph(doc, "{{ title }} — {{ year }}", "Title")
    _paragraph(doc, "{{ organisation }}", "Subtitle")
    _paragraph(doc, "Reporting year {{ year }}", bold=True)
    _paragraph(doc, "{{ working_group }}")
    _paragraph(doc, "{{ status_line }}", bold=True)
    _paragraph(doc, "Generated on {{ generated_on }}")
    _tag(doc, "{%p if is_demonstration %}")
    notice = _paragraph(doc, "Demonstration data — not official figures", bold=True)
    notice.runs[0].font.color.rgb = NOTICE_COLOUR
    notice.runs[0].font.size = Pt(14)
    _tag(doc, "{%p endif %}")


def _toc_field(paragraph) -> None:
    """A TOC field over heading levels 1-3 (`\\h` links, `\\z` no page numbers on the web, `\\u` outline
    levels), marked dirty so Word rebuilds it; its result is a one-line placeholder until then, which
    `pipeline.report.fill_toc` replaces with the rendered headings."""
    def run_with(child):
        run = OxmlElement("w:r")
        run.append(child)
        paragraph._p.append(run)

    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    begin.set(qn("w:dirty"), "true")
    run_with(begin)
    instruction = OxmlElement("w:instrText")
    instruction.set(qn("xml:space"), "preserve")
    instruction.text = TOC_INSTRUCTION
    run_with(instruction)
    separate = OxmlElement("w:fldChar")
    separate.set(qn("w:fldCharType"), "separate")
    run_with(separate)
    text = OxmlElement("w:t")
    text.text = TOC_PLACEHOLDER
    run_with(text)
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run_with(end)


def _contents(doc) -> None:
    _paragraph(doc, "Contents", "TOC Heading", page_break_before=True)
    _toc_field(_paragraph(doc, "", "toc 1"))


def _key_findings(doc) -> None:
    _paragraph(doc, "1. Key findings", "Heading 1", page_break_before=True)
    _paragraph(doc, "{{ key_findings_intro }}")
    _tag(doc, "{%p for finding in key_findings %}")
    _paragraph(doc, "{{ finding }}", "List Bullet")
    _tag(doc, "{%p endfor %}")


def _flags_note(doc, variable: str) -> None:
    """The flags footnote under a table, only when the table holds a flag."""
    _tag(doc, "{%p if " + variable + " %}")
    _paragraph(doc, "{{ " + variable + " }}", TABLE_NOTE)
    _tag(doc, "{%p endif %}")


def _methodology(doc) -> None:
    _paragraph(doc, "2. Scope and methodology", "Heading 1", page_break_before=True)
    _paragraph(doc, "{{ scope_summary }}")
    _paragraph(doc, "2.1 Who reported", "Heading 2")
    _paragraph(doc, "{{ submissions_summary }}")
    _paragraph(doc, "{{ submissions_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Member state", "state", 42, False),
            ("Received", "received", 20, False),
            ("Status", "status", 38, False),
            ("Values reported", "n_values", 20, True),
            ("Findings (errors / warnings)", "findings", 40, False),
        ],
        "row in submissions",
    )
    _paragraph(doc, "")
    _paragraph(doc, "{{ coverage_summary }}")
    _paragraph(doc, "{{ coverage_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Member state", "state", 30, False),
            ("Submission", "submission", 24, False),
            ("With a figure", "reported", 22, True),
            ("From published data", "published", 24, True),
            ("Not available", "not_available", 20, True),
            ("Crime areas with no figure", "areas_without", 40, False),
        ],
        "row in coverage",
    )
    _tag(doc, "{%p for section in methodology %}")
    _paragraph(doc, "{{ section.heading }}", "Heading 2")
    _tag(doc, "{%p for paragraph in section.paragraphs %}")
    _paragraph(doc, "{{ paragraph }}")
    _tag(doc, "{%p endfor %}")
    _tag(doc, "{%p endfor %}")


def _overview(doc) -> None:
    _paragraph(doc, "3. Regional overview", "Heading 1", page_break_before=True)
    _paragraph(doc, "{{ overview_summary }}")
    _paragraph(doc, "{{ overview_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Crime area: headline indicator", "indicator", 45, False),
            ("Regional total", "total", 30, True),
            ("States reporting", "coverage", 19, True),
            ("Rate per 100,000", "rate", 18, True),
            ("{{ change_heading }}", "change", 24, True),
            ("Basis of change", "basis", 24, False),
        ],
        "row in overview",
    )
    _flags_note(doc, "overview_flags_note")
    _paragraph(doc, "")
    _paragraph(doc, "{{ series_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [("Crime area: headline indicator", "indicator", 35, False)]
        + [("{{ series_years[" + str(i) + "] }}", f"y{i}", 25, True) for i in range(5)],
        "row in series",
    )
    _flags_note(doc, "series_note")


def _categories(doc) -> None:
    _tag(doc, "{%p for cat in categories %}")
    _paragraph(doc, "{{ cat.heading }}", "Heading 1", page_break_before=True)
    _paragraph(doc, "{{ cat.key_figures }}")
    for chart in ("trend", "national"):
        _tag(doc, "{%p if cat." + chart + "_chart %}")
        _paragraph(doc, "{{ cat." + chart + "_chart }}", align=WD_ALIGN_PARAGRAPH.CENTER, keep_with_next=True)
        _paragraph(doc, "{{ cat." + chart + "_caption }}", "Caption")
        _tag(doc, "{%p endif %}")
    _paragraph(doc, "Indicators at regional level", SUBHEADING)
    _paragraph(doc, "{{ cat.indicators_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Indicator", "indicator", 44, False),
            ("Unit", "unit", 16, False),
            ("Regional total", "total", 30, True),
            ("States reporting", "coverage", 19, True),
            ("Rate per 100,000", "rate", 18, True),
            ("{{ change_heading }}", "change", 33, True),
        ],
        "row in cat.indicators",
    )
    _flags_note(doc, "cat.indicators_flags_note")
    _paragraph(doc, "{{ cat.countries_heading }}", SUBHEADING)
    _paragraph(doc, "{{ cat.countries_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Member state", "state", 32, False),
            ("{{ cat.value_heading }}", "value", 27, True),
            ("Rate per 100,000", "rate", 18, True),
            ("{{ change_heading_short }}", "change", 19, True),
            ("Flags", "flags", 12, False),
            ("Comment", "comment", 52, False),
        ],
        "row in cat.countries",
    )
    _flags_note(doc, "cat.countries_flags_note")
    # International cooperation: requests received beside requests sent.
    _tag(doc, "{%p if cat.cooperation %}")
    _paragraph(doc, "Requests received and sent", SUBHEADING)
    _paragraph(doc, "{{ cat.cooperation_note }}")
    _paragraph(doc, "{{ cat.cooperation_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Requests", "flow", 34, False),
            ("Received", "received", 20, True),
            ("States reporting", "received_coverage", 20, True),
            ("{{ change_heading_short }}", "received_change", 22, True),
            ("Sent", "sent", 20, True),
            ("States reporting", "sent_coverage", 20, True),
            ("{{ change_heading_short }}", "sent_change", 24, True),
        ],
        "row in cat.cooperation",
    )
    _paragraph(doc, "")
    _paragraph(doc, "{{ cat.cooperation_states_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [("Member state", "state", 40, False)]
        + [("{{ cat.cooperation_headings[" + str(i) + "] }}", key, 30, True)
           for i, key in enumerate(("in1", "out1", "in2", "out2"))],
        "row in cat.cooperation_states",
    )
    _flags_note(doc, "cat.cooperation_flags_note")
    _tag(doc, "{%p endif %}")
    _tag(doc, "{%p if cat.comments %}")
    _paragraph(doc, "Comments from member states on the other indicators", SUBHEADING)
    _loop_table(
        doc,
        [("Member state", "state", 34, False), ("Indicator", "indicator", 52, False), ("Comment", "comment", 74, False)],
        "row in cat.comments",
    )
    _tag(doc, "{%p endif %}")
    _tag(doc, "{%p endfor %}")


def _annex(doc) -> None:
    _paragraph(doc, "Annex A. Flags and symbols", "Heading 1", page_break_before=True)
    _paragraph(doc, "Symbols used in the tables in place of a figure:")
    _loop_table(doc, [("Symbol", "symbol", 20, False), ("Meaning", "meaning", 140, False)], "row in symbols_legend")
    _paragraph(doc, "")
    _paragraph(doc, "Flags shown next to a figure:")
    _loop_table(
        doc,
        [("Flag", "code", 14, False), ("Name", "word", 36, False), ("Meaning", "meaning", 110, False)],
        "row in flags_legend",
    )
    _quality_annex(doc)
    _revisions_annex(doc)
    _definitions_annex(doc)
    _portrait_section(doc)
    _profiles_annex(doc)
    _changes_annex(doc)


def _landscape_section(doc) -> None:
    """Start a new page in A4 landscape (same margins, running header and page numbers)."""
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width = Mm(297)
    section.page_height = Mm(210)
    # The new section copies the cover's "different first page"; its first page is not a cover.
    section.different_first_page_header_footer = False


def _portrait_section(doc) -> None:
    """Back to A4 portrait on a new page, after the landscape annexes."""
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width = Mm(210)
    section.page_height = Mm(297)
    section.different_first_page_header_footer = False


def _quality_annex(doc) -> None:
    """Annex B, in landscape for its seven-column table: a data-quality summary per member state,
    the meaning of the codes it names, the files no state can be given, then the errors and warnings.
    """
    wide = LANDSCAPE_TEXT_WIDTH_MM
    _landscape_section(doc)
    _paragraph(doc, "Annex B. Data quality and validation findings", "Heading 1")
    _paragraph(doc, "{{ quality_summary }}")
    _paragraph(doc, "{{ quality_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Member state", "state", 30, False),
            ("Status", "status", 36, False),
            ("File", "file", 40, False),
            ("Date submitted", "date_submitted", 32, False),
            ("Values reported", "values_reported", 20, True),
            ("Errors / warnings / info", "counts", 22, True),
            ("Main issues", "main_issues", 67, False),
        ],
        "row in quality",
        wide,
    )
    _tag(doc, "{%p if quality_codes %}")
    _paragraph(doc, "")
    _paragraph(doc, "Finding codes named in the table:", keep_with_next=True)
    _loop_table(
        doc,
        [("Code", "code", 50, False), ("Severity", "severity", 22, False), ("Meaning", "meaning", 175, False)],
        "row in quality_codes",
        wide,
    )
    _tag(doc, "{%p endif %}")
    _paragraph(doc, "Files that could not be attributed to a state", "Heading 2")
    _tag(doc, "{%p if unattributed_files %}")
    _loop_table(doc, [("File", "file", 80, False), ("Reason", "reason", 167, False)], "row in unattributed_files", wide)
    _tag(doc, "{%p else %}")
    _paragraph(doc, "Every file received could be attributed to a member state and year.")
    _tag(doc, "{%p endif %}")
    _paragraph(doc, "Errors and warnings", "Heading 2")
    _paragraph(doc, "{{ findings_summary }}")
    _tag(doc, "{%p if findings %}")
    _loop_table(
        doc,
        [
            ("Code", "code", 40, False),
            ("Severity", "severity", 20, False),
            ("State", "state", 15, False),
            ("File", "file", 42, False),
            ("Sheet", "sheet", 18, False),
            ("Cell", "cell", 14, False),
            ("Message", "message", 98, False),
        ],
        "row in findings",
        wide,
    )
    _tag(doc, "{%p endif %}")


def _revisions_annex(doc) -> None:
    """Annex C, still landscape: every figure of an earlier year that a state revised this year."""
    _paragraph(doc, "Annex C. Revisions", "Heading 1", page_break_before=True)
    _paragraph(doc, "{{ revisions_summary }}")
    _tag(doc, "{%p if revisions %}")
    _paragraph(doc, "{{ revisions_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Member state", "state", 32, False),
            ("Indicator", "indicator", 50, False),
            ("Year", "year", 14, True),
            ("Accepted before", "old", 24, True),
            ("Revised", "new", 22, True),
            ("Change", "change", 18, True),
            ("Comment", "comment", 55, False),
            ("File and cell", "cell", 32, False),
        ],
        "row in revisions",
        LANDSCAPE_TEXT_WIDTH_MM,
    )
    _tag(doc, "{%p endif %}")


def _definitions_annex(doc) -> None:
    """Annex D, still landscape: every indicator of the catalogue with its definition."""
    _paragraph(doc, "Annex D. Indicator definitions", "Heading 1", page_break_before=True)
    _paragraph(doc, "{{ definitions_summary }}")
    _paragraph(doc, "{{ definitions_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Code", "code", 28, False),
            ("Indicator", "label", 62, False),
            ("Unit", "unit", 18, False),
            ("ICCS", "iccs", 16, False),
            ("Definition", "definition", 123, False),
        ],
        "row in definitions",
        LANDSCAPE_TEXT_WIDTH_MM,
    )


def _profile_body(doc) -> None:
    _paragraph(doc, "{{ prof.summary }}")
    _paragraph(doc, "{{ prof.table_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Headline indicator of the crime area", "indicator", 75, False),
            ("Unit", "unit", 17, False),
            ("Value", "value", 22, True),
            ("Rate per 100,000", "rate", 17, True),
            ("{{ change_heading_short }}", "change", 17, True),
            ("Flags", "flags", 12, False),
        ],
        "row in prof.rows",
    )
    _flags_note(doc, "prof.flags_note")
    _tag(doc, "{%p if prof.chart %}")
    chart = _paragraph(doc, "{{ prof.chart }}", align=WD_ALIGN_PARAGRAPH.CENTER, keep_with_next=True)
    chart.paragraph_format.space_before = Pt(6)
    _tag(doc, "{%p endif %}")
    _paragraph(doc, "{{ prof.chart_caption }}", "Caption")


def _profiles_annex(doc) -> None:
    """Annex E, portrait again: one page per member state; the first shares the annex's first page."""
    _paragraph(doc, "Annex E. Member-state profiles", "Heading 1")
    _paragraph(doc, "{{ profiles_summary }}")
    _tag(doc, "{%p for prof in profiles %}")
    _tag(doc, "{%p if loop.first %}")
    _paragraph(doc, "{{ prof.heading }}", "Heading 2")
    _tag(doc, "{%p else %}")
    _paragraph(doc, "{{ prof.heading }}", "Heading 2", page_break_before=True)
    _tag(doc, "{%p endif %}")
    _profile_body(doc)
    _tag(doc, "{%p endfor %}")
    # States without any figure: one line each under one heading, not a page of ":" each.
    _tag(doc, "{%p if profiles_without_figures %}")
    _tag(doc, "{%p if profiles %}")
    _paragraph(doc, "{{ profiles_without_figures_heading }}", "Heading 2", page_break_before=True)
    _tag(doc, "{%p else %}")
    _paragraph(doc, "{{ profiles_without_figures_heading }}", "Heading 2")
    _tag(doc, "{%p endif %}")
    _tag(doc, "{%p for prof in profiles_without_figures %}")
    _paragraph(doc, "{{ prof.heading }}: {{ prof.summary }}")
    _tag(doc, "{%p endfor %}")
    _tag(doc, "{%p endif %}")


def _changes_annex(doc) -> None:
    """Annex F, portrait, only in a report compared with a release: what changed since it, and why."""
    _tag(doc, "{%p if changes_annex %}")
    _paragraph(doc, "{{ changes_heading }}", "Heading 1", page_break_before=True)
    _paragraph(doc, "{{ changes_summary }}")
    _tag(doc, "{%p if changes_causes %}")
    _paragraph(doc, "Table F1. Changed figures by cause", "Caption", keep_with_next=True)
    _loop_table(doc, [("Cause", "cause", 36, False), ("What it means", "meaning", 104, False), ("Figures", "figures", 20, True)],
                "row in changes_causes")
    _tag(doc, "{%p endif %}")
    _tag(doc, "{%p if changes_groups %}")
    _paragraph(doc, "Table F2. Changed figures by crime area and cause", "Caption", keep_with_next=True)
    _tag(doc, "{%p for group in changes_groups %}")
    _paragraph(doc, "{{ group.heading }}", SUBHEADING, keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Figure", "figure", 42, False),
            ("Measure", "measure", 24, False),
            ("Before", "old", 17, True),
            ("Now", "new", 17, True),
            ("Evidence (file, sheet!cell)", "evidence", 60, False),
        ],
        "row in group.rows",
    )
    _tag(doc, "{%p endfor %}")
    _tag(doc, "{%p endif %}")
    _tag(doc, "{%p if changes_findings_summary %}")
    _paragraph(doc, "Key findings then and now", "Heading 2")
    _paragraph(doc, "{{ changes_findings_summary }}")
    _tag(doc, "{%p if changes_findings %}")
    _loop_table(doc, [("Before", "old", 80, False), ("Now", "new", 80, False)], "row in changes_findings")
    _tag(doc, "{%p endif %}")
    _tag(doc, "{%p endif %}")
    _tag(doc, "{%p endif %}")


def _update_fields_on_open(doc) -> None:
    """`<w:updateFields w:val="true"/>` in settings.xml: Word offers to update the fields (the TOC)
    when the document is opened. Placed before `w:compat`, as the schema orders settings."""
    settings = doc.settings.element
    update = OxmlElement("w:updateFields")
    update.set(qn("w:val"), "true")
    successors = ("w:hdrShapeDefaults", "w:footnotePr", "w:endnotePr", "w:compat", "w:docVars", "w:rsids")
    following = next((settings.find(qn(tag)) for tag in successors if settings.find(qn(tag)) is not None), None)
    if following is not None:
        following.addprevious(update)
    else:
        settings.append(update)


def _fix_properties(doc) -> None:
    props = doc.core_properties
    # docxtpl renders Jinja in document properties too, so the report's title is filled in.
    props.title = "{{ title }} — {{ year }}"
    props.subject = "{{ organisation }}"
    props.author = "crimetrends"
    props.last_modified_by = "crimetrends"
    props.comments = ""
    props.created = FIXED_DOC_TIME
    props.modified = FIXED_DOC_TIME
    props.revision = 1


def _normalised_zip(raw: bytes) -> bytes:
    """The same entries in the same order, with fixed timestamps, so equal content gives equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


def build_template_bytes() -> bytes:
    """The template as .docx bytes (identical on every call)."""
    doc = Document()
    _set_document_defaults(doc)
    _style_paragraphs(doc)
    # Document() starts with no body paragraphs but a section; fill it in reading order.
    _page_setup(doc)
    _cover(doc)
    _contents(doc)
    _key_findings(doc)
    _methodology(doc)
    _overview(doc)
    _categories(doc)
    _annex(doc)
    _update_fields_on_open(doc)
    _fix_properties(doc)
    raw = io.BytesIO()
    doc.save(raw)
    return _normalised_zip(raw.getvalue())


def build_template(out_path: Path = TEMPLATE_PATH) -> Path:
    """Write the template to `out_path` (only when its bytes change) and return the path."""
    data = build_template_bytes()
    if not (out_path.exists() and out_path.read_bytes() == data):
        tmp = out_path.with_name(out_path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(out_path)
    return out_path


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATE_PATH
    print(build_template(target))
