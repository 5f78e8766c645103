"""Package edits of an .xlsx (pipeline.xlsxpatch) on small workbooks written the way Excel writes them."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from pipeline import store, xlsxpatch
from pipeline.xlsxpatch import MAIN_NS

R_NS = xlsxpatch.DOC_REL_NS
WORKSHEET_CT = xlsxpatch.CT_WORKSHEET
SHEET_START = (
    f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{R_NS}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'mc:Ignorable="x14ac" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">'
)
# Excel's shape of a sheet: spans and dyDescent on rows, a cell format (1) with a number format and unlocked.
DATA_SHEET = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n{SHEET_START}<dimension ref="A1:D3"/>'
    '<sheetViews><sheetView tabSelected="1" workbookViewId="0"/></sheetViews><sheetFormatPr defaultRowHeight="15" x14ac:dyDescent="0.25"/>'
    '<cols><col min="5" max="5" width="9" style="1" customWidth="1"/></cols>'
    '<sheetData><row r="1" spans="1:4" x14ac:dyDescent="0.25"><c r="A1" t="s"><v>0</v></c><c r="D1" s="1"><v>7</v></c></row>'
    '<row r="3" spans="1:4" s="1" customFormat="1" x14ac:dyDescent="0.25"><c r="B3" s="1"><v>3</v></c></row></sheetData>'
    '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
    '<drawing r:id="rId1"/><tableParts count="0"/></worksheet>'
)
OTHER_SHEET = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n{SHEET_START}<sheetData/></worksheet>'
STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<styleSheet xmlns="{MAIN_NS}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="2"><border/><border><left style="thin"/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="3" fontId="0" fillId="0" borderId="1" xfId="0" applyNumberFormat="1" applyBorder="1" applyProtection="1"><protection locked="0"/></xf></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def _excel_like(**replace: str) -> dict[str, bytes]:
    """The parts of a two-sheet workbook as Excel writes them (relative targets, declarations, a drawing)."""
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{xlsxpatch.CT_WORKBOOK}"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{WORKSHEET_CT}"/><Override PartName="/xl/worksheets/sheet2.xml" ContentType="{WORKSHEET_CT}"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            '<Override PartName="/xl/drawings/drawing1.xml" ContentType="application/vnd.openxmlformats-officedocument.drawing+xml"/>'
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>'
        ),
        "docProps/core.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            '<dc:creator>Nino</dc:creator><dcterms:created xsi:type="dcterms:W3CDTF">2026-01-05T10:00:00Z</dcterms:created></cp:coreProperties>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<workbook xmlns="{MAIN_NS}" xmlns:r="{R_NS}"><workbookPr/>'
            '<bookViews><workbookView xWindow="0" yWindow="0" windowWidth="28800" windowHeight="12300" activeTab="1"/></bookViews>'
            '<sheets><sheet name="Cover" sheetId="3" r:id="rId2"/><sheet name="Data" sheetId="1" r:id="rId1"/></sheets>'
            '<definedNames><definedName name="_xlnm.Print_Area" localSheetId="1">Data!$A$1:$D$3</definedName><definedName name="Total">Data!$B$3</definedName></definedNames>'
            '<calcPr calcId="191029"/></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{rel}/worksheet" Target="worksheets/sheet2.xml"/>'
            f'<Relationship Id="rId3" Type="{rel}/styles" Target="styles.xml"/><Relationship Id="rId4" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": DATA_SHEET,
        "xl/worksheets/_rels/sheet1.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/drawing" Target="../drawings/drawing1.xml"/></Relationships>'
        ),
        "xl/drawings/drawing1.xml": '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"/>',
        "xl/worksheets/sheet2.xml": OTHER_SHEET,
        "xl/styles.xml": STYLES,
        "xl/sharedStrings.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>Code</t></si></sst>',
    }
    parts |= replace
    return {name: text.encode() for name, text in parts.items()}


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _save(package: xlsxpatch.Package, path: Path) -> dict[str, bytes]:
    parts = package.parts()
    store.write_zip(parts, path, dt.datetime(2026, 3, 1))
    return dict(parts)


def _package(**replace: str) -> xlsxpatch.Package:
    return xlsxpatch.Package(_zip(_excel_like(**replace)), 10_000_000)


def test_a_marked_cell_gets_a_copy_of_its_format_with_the_fill_and_missing_cells_and_rows_come_in_order(tmp_path):
    package = _package()
    book = xlsxpatch.Workbook(package)
    styles, ws = book.styles(), xlsxpatch.Worksheet(package, book.sheet_part("Data"))
    red = styles.fill("FFFFC7CE")
    for address in ("D1", "B1", "C2", "E1", "A3", "B5"):
        ws.set_style(address, styles.with_fill(ws.style(address), red))
    parts = _save(package, tmp_path / "out.xlsx")

    sheet = parts["xl/worksheets/sheet1.xml"]
    assert sheet.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<worksheet xmlns="'), "declaration and prefixes as found"
    assert re.findall(rb'<c r="([A-Z]+\d+)"', sheet) == [b"A1", b"B1", b"D1", b"E1", b"C2", b"A3", b"B3", b"B5"]
    assert re.findall(rb'<row r="(\d+)"', sheet) == [b"1", b"2", b"3", b"5"]
    assert b"spans" not in sheet.split(b'<row r="3"')[0] and b'x14ac:dyDescent="0.25"' in sheet
    assert b'<dimension ref="A1:E5"/>' in sheet
    wb = openpyxl.load_workbook(tmp_path / "out.xlsx")
    data = wb["Data"]
    for address in ("D1", "B1", "C2", "E1", "A3", "B5"):
        assert data[address].fill.start_color.rgb == "FFFFC7CE", address
    # D1 had format 1; E1 is empty in a column of format 1; A3 is empty in a row of format 1: all keep it.
    for address in ("D1", "E1", "A3"):
        assert (data[address].number_format, data[address].protection.locked, data[address].border.left.style) == ("#,##0", False, "thin"), address
    assert data["D1"].value == 7 and data["A1"].value == "Code"
    assert (data["B1"].number_format, data["B1"].protection.locked) == ("General", True)
    assert parts["xl/styles.xml"].count(b'<xf numFmtId="3"') == 2, "one filled copy of format 1, made once"


def test_notes_on_a_sheet_without_any_are_added_with_their_parts(tmp_path):
    package = _package()
    book = xlsxpatch.Workbook(package)
    ws = xlsxpatch.Worksheet(package, book.sheet_part("Data"))
    assert ws.notes() == {}
    ws.set_notes({"B3": xlsxpatch.Note("Error: 3 < 4 & more\n\nsee below ", "crimetrends", 360, 95), "C9": xlsxpatch.Note("Warning", "crimetrends", 360, 35)})
    parts = _save(package, tmp_path / "out.xlsx")

    sheet = parts["xl/worksheets/sheet1.xml"]
    order = [tag.decode() for tag in re.findall(rb"<(\w+)[ />]", sheet.split(b"</sheetData>")[1])]
    assert order == ["pageMargins", "drawing", "legacyDrawing", "tableParts"], "legacyDrawing at its place in the schema"
    rels = parts["xl/worksheets/_rels/sheet1.xml.rels"].decode()
    assert "drawing1.xml" in rels and "/xl/comments/comment1.xml" in rels and "/xl/drawings/commentsDrawing1.vml" in rels
    types = parts["[Content_Types].xml"].decode()
    assert '"/xl/comments/comment1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"' in types
    assert '"/xl/drawings/commentsDrawing1.vml" ContentType="application/vnd.openxmlformats-officedocument.vmlDrawing"' in types
    data = openpyxl.load_workbook(tmp_path / "out.xlsx")["Data"]
    assert (data["B3"].comment.text, data["B3"].comment.author) == ("Error: 3 < 4 & more\n\nsee below ", "crimetrends")
    assert data["C9"].comment.text == "Warning"
    vml = parts["xl/drawings/commentsDrawing1.vml"].decode()
    assert vml.count("<x:Row>") == 2 and "width:360px;height:95px" in vml and "_x0000_s1025" in vml


def test_notes_replace_the_ones_on_their_cells_and_keep_the_others(tmp_path):
    package = _package()
    book = xlsxpatch.Workbook(package)
    xlsxpatch.Worksheet(package, book.sheet_part("Data")).set_notes({"A1": xlsxpatch.Note("first", "Nino", 100, 50), "B3": xlsxpatch.Note("second", "Nino", 100, 50)})
    again = xlsxpatch.Package(_zip(_save(package, tmp_path / "one.xlsx")), 10_000_000)
    ws = xlsxpatch.Worksheet(again, xlsxpatch.Workbook(again).sheet_part("Data"))
    assert ws.notes() == {"A1": ("Nino", "first"), "B3": ("Nino", "second")}
    ws.set_notes({"B3": xlsxpatch.Note("replaced", "crimetrends", 360, 35)})
    parts = _save(again, tmp_path / "two.xlsx")

    data = openpyxl.load_workbook(tmp_path / "two.xlsx")["Data"]
    assert (data["A1"].comment.text, data["A1"].comment.author) == ("first", "Nino")
    assert (data["B3"].comment.text, data["B3"].comment.author) == ("replaced", "crimetrends")
    vml = parts["xl/drawings/commentsDrawing1.vml"].decode()
    assert vml.count("<x:Row>") == 2 and len(set(re.findall(r'id="(_x0000_s\d+)"', vml))) == 2, "one box per note, ids unique"
    assert parts["xl/worksheets/sheet1.xml"].count(b"legacyDrawing") == 1


def test_the_new_first_sheet_is_open_and_the_others_follow(tmp_path):
    package = _package()
    book = xlsxpatch.Workbook(package)
    styles = book.styles()
    sheet = xlsxpatch.NewSheet(widths={1: 20}, heights={2: 30}, merged=["A2:C2"], links={"A3": "'Data'!B3"}, frozen_rows=2, autofilter="A2:C3",
                               fit_to_page=True, page_setup={"orientation": "landscape", "paperSize": "9"})
    sheet.cells[(1, 1)] = ("Title", styles.xf(font=styles.font(bold=True, size=14)))
    sheet.cells[(2, 1)] = ("=HYPERLINK(\"x\") \x01& <b>\r\n", styles.xf(alignment=(("vertical", "top"), ("wrapText", "1"))))
    sheet.cells[(3, 1)] = ("B3", styles.xf(font=styles.font(colour="FF0563C1", underline="single")))
    sheet.cells[(3, 2)] = (None, styles.xf(fill=styles.fill("FFFFEB9C")))
    book.add_first_sheet("Notes", sheet.to_xml(selected=True), [("_xlnm.Print_Titles", "'Notes'!$2:$2", False), ("_xlnm._FilterDatabase", "'Notes'!$A$2:$C$3", True)])
    package.set_document_times(dt.datetime(2026, 3, 1))
    original, parts = _excel_like(), _save(package, tmp_path / "out.xlsx")

    assert parts["xl/worksheets/sheet2.xml"] == original["xl/worksheets/sheet2.xml"] and parts["xl/sharedStrings.xml"] == original["xl/sharedStrings.xml"]
    assert b"tabSelected" not in parts["xl/worksheets/sheet1.xml"]
    assert list(parts)[: len(original)] == list(original) and list(parts)[len(original):] == ["xl/worksheets/sheet3.xml"]
    workbook = parts["xl/workbook.xml"].decode()
    assert '<sheet name="Notes" sheetId="4" r:id="rId5"/><sheet name="Cover"' in workbook, "first, with an unused sheetId and relationship id"
    assert 'activeTab="0" firstSheet="0"' in workbook
    assert '<definedName name="_xlnm.Print_Area" localSheetId="2">' in workbook and '<definedName name="Total">' in workbook
    core = parts["docProps/core.xml"].decode()
    assert "<dc:creator>Nino</dc:creator>" in core and core.count("2026-03-01T00:00:00Z") == 2

    wb = openpyxl.load_workbook(tmp_path / "out.xlsx")
    assert wb.sheetnames == ["Notes", "Cover", "Data"] and wb.active.title == "Notes"
    assert wb["Data"].print_area == "'Data'!$A$1:$D$3", "a name local to a sheet still names it"
    ws = wb["Notes"]
    assert ws["A2"].value == '=HYPERLINK("x") & <b>\r\n' and ws["A2"].data_type == "s"
    assert (ws["A1"].font.b, ws["A1"].font.sz, ws["A3"].font.u, ws["A3"].font.color.rgb, ws["B3"].fill.start_color.rgb) == (True, 14, "single", "FF0563C1", "FFFFEB9C")
    assert ws["A2"].alignment.wrap_text and ws["A2"].alignment.vertical == "top"
    assert (ws.column_dimensions["A"].width, ws.row_dimensions[2].height, {str(r) for r in ws.merged_cells.ranges}) == (20, 30, {"A2:C2"})
    assert (ws["A3"].hyperlink.location, ws.freeze_panes, ws.auto_filter.ref, ws.print_title_rows) == ("'Data'!B3", "A3", "A2:C3", "$2:$2")
    assert (ws.page_setup.orientation, ws.page_setup.paperSize, ws.sheet_properties.pageSetUpPr.fitToPage) == ("landscape", 9, True)


@pytest.mark.parametrize(("replace", "reason"), [
    ({"xl/workbook.xml": f'<workbook xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main" xmlns:r="{R_NS}"><sheets/></workbook>'}, "strict OOXML"),
    ({"[Content_Types].xml": _excel_like()["[Content_Types].xml"].decode().replace(xlsxpatch.CT_WORKBOOK, "application/vnd.ms-excel.sheet.macroEnabled.main+xml")}, "macros"),
    ({"xl/styles.xml": '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><styleSheet>&e;</styleSheet>'}, "DTD"),
    ({"xl/_rels/workbook.xml.rels": _excel_like()["xl/_rels/workbook.xml.rels"].decode().replace("sheet2.xml", "sheet9.xml")}, "does not hold"),
])
def test_what_is_not_edited_faithfully_is_refused(replace, reason):
    with pytest.raises(xlsxpatch.Unsupported, match=reason):
        package = _package(**replace)
        book = xlsxpatch.Workbook(package)
        book.styles()
        book.sheet_part("Cover")


def test_a_sheet_element_unknown_where_the_notes_drawing_goes_is_refused():
    alternate = '<mc:AlternateContent><mc:Choice Requires="x14"><controls/></mc:Choice></mc:AlternateContent>'
    package = _package(**{"xl/worksheets/sheet1.xml": DATA_SHEET.replace("<tableParts", alternate + "<tableParts")})
    ws = xlsxpatch.Worksheet(package, xlsxpatch.Workbook(package).sheet_part("Data"))
    with pytest.raises(xlsxpatch.Unsupported, match="unknown worksheet element"):
        ws.set_notes({"A1": xlsxpatch.Note("x", "crimetrends", 360, 35)})


def test_a_prefixed_sheet_keeps_its_prefix():
    prefixed = (f'<x:worksheet xmlns:x="{MAIN_NS}" xmlns:r="{R_NS}"><x:sheetData><x:row r="2"><x:c r="B2"><x:v>1</x:v></x:c></x:row></x:sheetData>'
                '<x:pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></x:worksheet>')
    package = _package(**{"xl/worksheets/sheet1.xml": prefixed})
    ws = xlsxpatch.Worksheet(package, xlsxpatch.Workbook(package).sheet_part("Data"))
    ws.set_style("A2", 1)
    ws.set_notes({"A2": xlsxpatch.Note("x", "crimetrends", 360, 35)})
    sheet = dict(package.parts())["xl/worksheets/sheet1.xml"].decode()
    assert '<x:row r="2"><x:c r="A2" s="1"/><x:c r="B2">' in sheet and '<x:legacyDrawing r:id="rId3"/></x:worksheet>' in sheet
