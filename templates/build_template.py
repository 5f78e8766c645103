"""Build the Word template of the annual report: `templates/annual_assessment.docx`.

Run `python templates/build_template.py` after changing this script; the .docx is generated and
this script is its source of truth (edit here, not in Word). Output: a docxtpl (Jinja) template,
A4 with 25 mm margins (Annex B, with its wide data-quality table, in landscape), named styles in
DejaVu Sans (covers Latin, Cyrillic, Greek, Georgian, Armenian), a running header with the title
and year, page numbers in the footer.

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
from docx.enum.text import WD_ALIGN_PARAGRAPH
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
    _paragraph(doc, "{{ working_group }}")
    _paragraph(doc, "{{ status_line }}", bold=True)
    _paragraph(doc, "Generated on {{ generated_on }}")
    _tag(doc, "{%p if is_demonstration %}")
    notice = _paragraph(doc, "Demonstration data — not official figures", bold=True)
    notice.runs[0].font.color.rgb = NOTICE_COLOUR
    notice.runs[0].font.size = Pt(14)
    _tag(doc, "{%p endif %}")


def _submissions(doc) -> None:
    _paragraph(doc, "1. Submissions received", "Heading 1", page_break_before=True)
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
    _paragraph(doc, "Coverage", "Heading 2")
    _paragraph(doc, "{{ coverage_summary }}")
    _paragraph(doc, "{{ coverage_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Member state", "state", 32, False),
            ("Submission", "submission", 22, False),
            ("With a figure", "reported", 22, True),
            ("From published data", "published", 24, True),
            ("Not available", "not_available", 20, True),
            ("Crime areas with no figure", "areas_without", 40, False),
        ],
        "row in coverage",
    )


def _overview(doc) -> None:
    _paragraph(doc, "2. Regional overview", "Heading 1")
    _paragraph(doc, "{{ overview_summary }}")
    _paragraph(doc, "{{ overview_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Crime area: headline indicator", "indicator", 50, False),
            ("Regional total", "total", 24, True),
            ("States reporting", "coverage", 20, True),
            ("Rate per 100,000", "rate", 20, True),
            ("{{ change_heading }}", "change", 22, True),
            ("Basis of change", "basis", 24, False),
        ],
        "row in overview",
    )
    _paragraph(doc, "{{ series_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [("Crime area: headline indicator", "indicator", 45, False)]
        + [("{{ series_years[" + str(i) + "] }}", f"y{i}", 23, True) for i in range(5)],
        "row in series",
    )
    _paragraph(doc, "How to read the figures", "Heading 2")
    _tag(doc, "{%p for note in reading_notes %}")
    _paragraph(doc, "{{ note }}")
    _tag(doc, "{%p endfor %}")


def _categories(doc) -> None:
    _tag(doc, "{%p for cat in categories %}")
    _paragraph(doc, "{{ cat.heading }}", "Heading 1", page_break_before=True)
    _paragraph(doc, "{{ cat.key_figures }}")
    for chart in ("trend", "national"):
        _tag(doc, "{%p if cat." + chart + "_chart %}")
        _paragraph(doc, "{{ cat." + chart + "_chart }}", align=WD_ALIGN_PARAGRAPH.CENTER, keep_with_next=True)
        _paragraph(doc, "{{ cat." + chart + "_caption }}", "Caption")
        _tag(doc, "{%p endif %}")
    _paragraph(doc, "Indicators at regional level", "Heading 2")
    _paragraph(doc, "{{ cat.indicators_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Indicator", "indicator", 52, False),
            ("Unit", "unit", 18, False),
            ("Regional total", "total", 24, True),
            ("States reporting", "coverage", 20, True),
            ("Rate per 100,000", "rate", 20, True),
            ("{{ change_heading }}", "change", 26, True),
        ],
        "row in cat.indicators",
    )
    _paragraph(doc, "{{ cat.countries_heading }}", "Heading 2")
    _paragraph(doc, "{{ cat.countries_caption }}", "Caption", keep_with_next=True)
    _loop_table(
        doc,
        [
            ("Member state", "state", 34, False),
            ("{{ cat.value_heading }}", "value", 22, True),
            ("Rate per 100,000", "rate", 20, True),
            ("{{ change_heading_short }}", "change", 20, True),
            ("Flags", "flags", 14, False),
            ("Comment", "comment", 50, False),
        ],
        "row in cat.countries",
    )
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


def _landscape_section(doc) -> None:
    """Start a new page in A4 landscape (same margins, running header and page numbers)."""
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width = Mm(297)
    section.page_height = Mm(210)
    # The new section copies the cover's "different first page"; its first page is not a cover.
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
    _submissions(doc)
    _overview(doc)
    _categories(doc)
    _annex(doc)
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
