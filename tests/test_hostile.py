"""Hostile and broken inputs (issue 6): each gives one clear finding naming the file and its cause,
and the run goes on with the other files.

Every hostile file is built here, from a good workbook (`write_submission`) or from bytes: no binary
blobs. The battery puts them all in one folder with good workbooks, reads and validates each file,
and runs the whole pipeline once over the folder (observations of the good files, every file listed,
the bytes of every input unchanged). The limits themselves are `pipeline.ingest.MAX_*`.

Some files here make calamine abort the whole process (a 550 GB allocation) if ingest lets them
through: a failure of those guards shows as a crashed test run, not as one failed test.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random
import re
import struct
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from pipeline import ingest, workbook_contract, output_files, validate
from pipeline.reference import Reference
from tests.conftest import write_submission

YEAR = 2025
SPREADSHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
LAUGHS = (  # "billion laughs": ten entities each expanding to ten of the one before, 10^9 "lol"s
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>"
)
XXE = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


# -- building blocks ----------------------------------------------------------------------------------
def _good(folder: Path, ref: Reference, iso3: str, name: str, tip_vic: int) -> Path:
    """A complete, clean submission whose TIP_VIC TOTAL is `tip_vic` (so its observation can be found)."""
    return write_submission(folder, ref, iso3, YEAR, {("TIP_VIC", "TOTAL"): tip_vic, ("TIP_OFF", "TOTAL"): 3}, name=name)


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _write_zip(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def _rezip(path: Path, changes: dict[str, Callable[[bytes], bytes] | bytes], target: Path | None = None) -> Path:
    parts = _parts(path)
    for name, change in changes.items():
        parts[name] = change(parts[name]) if callable(change) else change
    if target is not None and target != path:
        path.unlink()
    return _write_zip(target or path, parts)


def _data_part(path: Path) -> str:
    """The zip part of the Data sheet (the one whose header says Breakdown)."""
    return next(name for name, data in _parts(path).items() if name.startswith("xl/worksheets/") and b">Breakdown<" in data)


def _with_doctype(declaration: str, reference: str) -> Callable[[bytes], bytes]:
    """Put a DTD before the root element of an XML part and use `reference` in its first text."""

    def change(data: bytes) -> bytes:
        text = data.decode("utf-8")
        prolog_end = text.index("?>") + 2 if text.startswith("<?xml") else 0
        text = text[:prolog_end] + declaration + text[prolog_end:]
        return re.sub(r"(<(?:t|text:p)>)", r"\1" + reference, text, count=1).encode("utf-8")

    return change


def _before_sheet_data_end(xml: str) -> Callable[[bytes], bytes]:
    return lambda data: data.replace(b"</sheetData>", xml.encode() + b"</sheetData>", 1)


def _with_shared_strings(path: Path, sst: bytes) -> Path:
    """Add a sharedStrings part (with its relationship and content type) to an openpyxl workbook."""
    return _rezip(path, {
        "xl/sharedStrings.xml": sst,
        "[Content_Types].xml": lambda d: d.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'),
        "xl/_rels/workbook.xml.rels": lambda d: d.replace(b"</Relationships>", b'<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
    })


def _with_sheet(path: Path, name: str, xml: str) -> Path:
    """Add a worksheet part `name` with the given sheetData content."""
    number = sum(1 for part in _parts(path) if part.startswith("xl/worksheets/sheet")) + 1
    part = f"worksheets/sheet{number}.xml"
    return _rezip(path, {
        f"xl/{part}": f'<worksheet xmlns="{SPREADSHEET_NS}"><sheetData>{xml}</sheetData></worksheet>'.encode(),
        "xl/workbook.xml": lambda d: d.replace(b"</sheets>", f'<sheet name="{name}" sheetId="{90 + number}" r:id="rIdX{number}"/></sheets>'.encode()),
        "xl/_rels/workbook.xml.rels": lambda d: d.replace(b"</Relationships>", f'<Relationship Id="rIdX{number}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="{part}"/></Relationships>'.encode()),
        "[Content_Types].xml": lambda d: d.replace(b"</Types>", f'<Override PartName="/xl/{part}" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'.encode()),
    })


def _ods(path: Path, content: str, manifest_extra: str = "", content_bytes: bytes | None = None) -> Path:
    """A minimal OpenDocument spreadsheet: mimetype first and stored, manifest, content.xml."""
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        f'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">{manifest_extra}</manifest:file-entry></manifest:manifest>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), b"application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        zf.writestr("META-INF/manifest.xml", manifest)
        zf.writestr("content.xml", content_bytes if content_bytes is not None else content.encode("utf-8"))
    return path


def _ods_content(rows: str, prolog: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3">'
        f'<office:body><office:spreadsheet><table:table table:name="Data">{rows}</table:table></office:spreadsheet></office:body></office:document-content>'
    )


def _ole2(*streams: str) -> bytes:
    """The start of an OLE2 compound file whose directory names `streams` (UTF-16, as OLE2 stores them)."""
    return ingest.OLE2_MAGIC + b"\0" * 504 + b"".join(s.encode("utf-16-le").ljust(64, b"\0") for s in streams) + b"\0" * 512


def _png() -> bytes:
    """A real 1x1 PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\0\xff\0\0")) + chunk(b"IEND", b"")


def _declare_size(path: Path, part: str, size: int) -> Path:
    """Make the zip directory (local and central headers) declare `size` bytes unpacked for `part`."""
    data = bytearray(path.read_bytes())
    name = part.encode()
    for match in re.finditer(re.escape(name), bytes(data)):
        if data[match.start() - 30:match.start() - 26] == b"PK\x03\x04":
            struct.pack_into("<I", data, match.start() - 30 + 22, size)
        elif data[match.start() - 46:match.start() - 42] == b"PK\x01\x02":
            struct.pack_into("<I", data, match.start() - 46 + 24, size)
    path.write_bytes(bytes(data))
    return path


def _set_encrypted_flag(path: Path) -> Path:
    """Mark every part of a zip as encrypted (general purpose flag bit 0), as zip tools do with a password."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        for match in re.finditer(re.escape(signature), bytes(data)):
            data[match.start() + offset] |= 0x01
    path.write_bytes(bytes(data))
    return path


def _row_of(path: Path, code: str, breakdown: str = "TOTAL") -> int:
    ws = openpyxl.load_workbook(path)[workbook_contract.DATA_SHEET]
    return next(r[0].row for r in ws.iter_rows(min_row=2) if (r[0].value, r[1].value) == (code, breakdown))


# -- the battery: file name -> builder returning (findings as (code, sheet, cell), status) -------------
Expected = tuple[list[tuple[str, str, str]], str]
CASES: dict[str, Callable[[Path, Reference], Expected]] = {}
READABLE = {}  # file name -> (ISO3, TIP_VIC TOTAL) of the workbooks whose values must reach the outputs


def case(name: str, iso3: str | None = None, tip_vic: int | None = None):
    def register(build):
        CASES[name] = build
        if iso3 is not None:
            READABLE[name] = (iso3, tip_vic)
        return build

    return register


REFUSED = "rejected"


def _refused(code: str, sheet: str = "", cell: str = "") -> Expected:
    return [(code, sheet, cell)], REFUSED


# good workbooks, with names a shell or a careless script could trip on
@case("ARM_2025.xlsx", "ARM", 101)
def _good_arm(folder, ref):
    _good(folder, ref, "ARM", "ARM_2025.xlsx", 101)
    return [], "accepted"


@case("საქართველო 2025.xlsx", "GEO", 102)  # Georgian letters and a space
def _good_geo(folder, ref):
    _good(folder, ref, "GEO", "საქართველო 2025.xlsx", 102)
    return [], "accepted"


@case("Россия 2025 (final).xlsx", "RUS", 103)  # Cyrillic, spaces, brackets
def _good_rus(folder, ref):
    _good(folder, ref, "RUS", "Россия 2025 (final).xlsx", 103)
    return [], "accepted"


@case("-SRB_2025.xlsx", "SRB", 104)  # a leading dash: an option to any program that took it as an argument
def _good_srb(folder, ref):
    _good(folder, ref, "SRB", "-SRB_2025.xlsx", 104)
    return [], "accepted"


@case("MKD_2025.XLSX", "MKD", 105)  # upper-case extension
def _good_mkd(folder, ref):
    _good(folder, ref, "MKD", "MKD_2025.XLSX", 105)
    return [], "accepted"


# files that are not workbooks, or not only
@case("empty.xlsx")
def _empty(folder, ref):
    (folder / "empty.xlsx").write_bytes(b"")
    return _refused("file-unreadable")


@case("letter.xlsx")
def _text_renamed(folder, ref):
    (folder / "letter.xlsx").write_text("Dear colleagues,\nplease find our figures attached.\n", encoding="utf-8")
    return _refused("file-unreadable")


@case("figures.xlsx")
def _csv_renamed(folder, ref):
    (folder / "figures.xlsx").write_text("Code,Breakdown,Value\nTIP_VIC,TOTAL,12\n", encoding="utf-8")
    return _refused("file-unreadable")


@case("scan.xlsx")
def _pdf_renamed(folder, ref):
    (folder / "scan.xlsx").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
    return _refused("file-unreadable")


@case("photo.xlsx")
def _image_renamed(folder, ref):
    (folder / "photo.xlsx").write_bytes(_png())
    return _refused("file-unreadable")


@case("truncated.xlsx")
def _truncated(folder, ref):
    good = _good(folder, ref, "ALB", "truncated.xlsx", 1)
    good.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # a broken e-mail attachment
    return _refused("file-unreadable")


@case("date out of range.xlsx")
def _date_out_of_range(folder, ref):
    # found by the property test below: calamine panics (a BaseException) on a date cell holding -1e15
    path = _good(folder, ref, "ALB", "date out of range.xlsx", 1)
    wb = openpyxl.load_workbook(path)
    cell = wb[workbook_contract.DATA_SHEET][f"E{_row_of(path, 'TIP_VIC')}"]
    cell.value, cell.number_format = -(10**15), "yyyy-mm-dd"
    wb.save(path)
    return _refused("file-unreadable")


@case("zip of a letter.xlsx")
def _other_zip(folder, ref):
    _write_zip(folder / "zip of a letter.xlsx", {"letter.txt": b"Dear colleagues"})
    return _refused("file-unreadable")


@case("password.xlsx")
def _password_xlsx(folder, ref):
    (folder / "password.xlsx").write_bytes(_ole2("EncryptionInfo", "EncryptedPackage"))
    return _refused("file-password-protected")


@case("password.xls")
def _password_xls(folder, ref):
    (folder / "password.xls").write_bytes(_ole2("EncryptionInfo", "EncryptedPackage"))
    return _refused("file-password-protected")


@case("password.ods")
def _password_ods(folder, ref):
    encryption = '<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AAAA"><manifest:algorithm manifest:algorithm-name="Blowfish CFB" manifest:initialisation-vector="AAAA"/></manifest:encryption-data>'
    _ods(folder / "password.ods", "", manifest_extra=encryption, content_bytes=random.Random(6).randbytes(600))
    return _refused("file-password-protected")


@case("zip-password.xlsx")
def _password_zip(folder, ref):
    _set_encrypted_flag(_good(folder, ref, "ALB", "zip-password.xlsx", 1))
    return _refused("file-password-protected")


# decompression bombs: refused from the sizes the zip directory declares, before anything inflates
@case("bomb.xlsx")
def _bomb(folder, ref):
    # 200 MB of zeros packed into ~0.9 MB, and a directory that says 4 GB: "a small file that inflates to gigabytes"
    path = _good(folder, ref, "ALB", "bomb.xlsx", 1)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as zf, zf.open("xl/media/image1.png", "w", force_zip64=True) as part:
        zeros = b"\0" * (1 << 20)
        for _ in range(200):
            part.write(zeros)
    _declare_size(path, "xl/media/image1.png", 4_000_000_000)
    return _refused("file-too-large")


@case("million rows.xlsx")
def _million_rows(folder, ref):
    path = _good(folder, ref, "ALB", "million rows.xlsx", 1)
    _rezip(path, {_data_part(path): _before_sheet_data_end("<row><c><v>1</v></c></row>" * 1_000_000)})  # 26 MB of XML
    return _refused("file-too-large")


@case("inflating part.xlsx")
def _ratio(folder, ref):
    path = _good(folder, ref, "ALB", "inflating part.xlsx", 1)
    _rezip(path, {"docProps/custom.xml": b"<Properties>" + b" " * 2_000_000 + b"</Properties>"})  # 2 MB packing 1000:1
    return _refused("file-too-large")


@case("many parts.xlsx")
def _many_parts(folder, ref):
    path = _good(folder, ref, "ALB", "many parts.xlsx", 1)
    _rezip(path, {f"xl/media/image{i}.png": b"" for i in range(ingest.MAX_ZIP_ENTRIES)})
    return _refused("file-too-large")


@case("huge on disk.xlsx")
def _huge_on_disk(folder, ref):
    with (folder / "huge on disk.xlsx").open("wb") as f:
        f.write(ingest.ZIP_MAGIC)
        f.truncate(ingest.MAX_FILE_BYTES + 1)  # sparse: no disk used, never read
    return _refused("file-too-large")


@case("shared strings count.xlsx")
def _shared_strings_count(folder, ref):
    # calamine reserves room for uniqueCount strings before reading one: 4e9 aborts the process
    path = _good(folder, ref, "ALB", "shared strings count.xlsx", 1)
    _with_shared_strings(path, f'<sst xmlns="{SPREADSHEET_NS}" count="1" uniqueCount="4000000000"><si><t>x</t></si></sst>'.encode())
    return _refused("file-too-large")


# XML entity expansion and external entities, in any part
@case("laughs in sheet.xlsx")
def _laughs_sheet(folder, ref):
    path = _good(folder, ref, "ALB", "laughs in sheet.xlsx", 1)
    _rezip(path, {_data_part(path): _with_doctype(LAUGHS, "&lol9;")})
    return _refused("file-unsafe-xml")


@case("laughs in strings.xlsx")
def _laughs_strings(folder, ref):
    path = _good(folder, ref, "ALB", "laughs in strings.xlsx", 1)
    _with_shared_strings(path, f'<?xml version="1.0"?>{LAUGHS}<sst xmlns="{SPREADSHEET_NS}" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'.encode())
    return _refused("file-unsafe-xml")


@case("external entity in workbook.xlsx")
def _xxe_workbook(folder, ref):
    path = _good(folder, ref, "ALB", "external entity in workbook.xlsx", 1)
    _rezip(path, {"xl/workbook.xml": lambda d: _with_doctype(XXE, "")(d).replace(b'name="Data"', b'name="Data&xxe;"')})
    return _refused("file-unsafe-xml")


@case("external entity in sheet.xlsx")
def _xxe_sheet(folder, ref):
    path = _good(folder, ref, "ALB", "external entity in sheet.xlsx", 1)
    _rezip(path, {_data_part(path): _with_doctype(XXE, "&xxe;")})
    return _refused("file-unsafe-xml")


def _helper_part(path: Path) -> str:
    """The zip part of the template's hidden `_checks` sheet, which ingest never reads."""
    parts = _parts(path)
    rel_id = re.search(rf'<sheet [^>]*name="{workbook_contract.CHECKS_SHEET}"[^>]*r:id="([^"]+)"', parts["xl/workbook.xml"].decode()).group(1)
    target = re.search(rf'<Relationship [^>]*Id="{rel_id}"[^>]*Target="([^"]+)"|<Relationship [^>]*Target="([^"]+)"[^>]*Id="{rel_id}"', parts["xl/_rels/workbook.xml.rels"].decode())
    return "xl/" + (target.group(1) or target.group(2)).removeprefix("/xl/")


@case("external entity in helper sheet.xlsx")
def _xxe_helper_sheet(folder, ref):
    # the `_checks` sheet is neither measured nor read, but its part is still checked for a DTD
    path = _good(folder, ref, "ALB", "external entity in helper sheet.xlsx", 1)
    _rezip(path, {_helper_part(path): _with_doctype(XXE, "")})
    return _refused("file-unsafe-xml")


@case("external entity in properties.xlsx")
def _xxe_unread_part(folder, ref):
    # docProps/core.xml is read by no parser here; the workbook is refused all the same
    path = _good(folder, ref, "ALB", "external entity in properties.xlsx", 1)
    _rezip(path, {"docProps/core.xml": _with_doctype(XXE, "")})
    return _refused("file-unsafe-xml")


@case("laughs.ods")
def _laughs_ods(folder, ref):
    row = '<table:table-row><table:table-cell office:value-type="string"><text:p>&lol9;</text:p></table:table-cell></table:table-row>'
    _ods(folder / "laughs.ods", _ods_content(row, prolog=LAUGHS))
    return _refused("file-unsafe-xml")


@case("external entity.ods")
def _xxe_ods(folder, ref):
    row = '<table:table-row><table:table-cell office:value-type="string"><text:p>&xxe;</text:p></table:table-cell></table:table-row>'
    _ods(folder / "external entity.ods", _ods_content(row, prolog=XXE))
    return _refused("file-unsafe-xml")


# huge sheets: the extent calamine would allocate, found before it does
@case("far cell.xlsx")
def _far_cell(folder, ref):
    # two cells, A1 and XFD1048576: calamine would ask for a 550 GB grid and abort
    path = _good(folder, ref, "ALB", "far cell.xlsx", 1)
    _rezip(path, {_data_part(path): _before_sheet_data_end('<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')})
    return _refused("sheet-too-large", workbook_contract.DATA_SHEET, "XFD1048576")


@case("implicit rows.xlsx")
def _implicit_rows(folder, ref):
    # no row or cell references: the position comes from counting rows, here past the limit
    path = _good(folder, ref, "ALB", "implicit rows.xlsx", 1)
    _with_sheet(path, "Workings", "<row/>" * ingest.MAX_SHEET_ROWS + "<row><c><v>1</v></c></row>")
    return _refused("sheet-too-large", "Workings", f"A{ingest.MAX_SHEET_ROWS + 1}")


@case("thousands of columns.xlsx")
def _wide(folder, ref):
    path = _good(folder, ref, "ALB", "thousands of columns.xlsx", 1)
    _with_sheet(path, "Wide", "<row>" + "<c><v>1</v></c>" * 5000 + "</row>")
    return _refused("sheet-too-large", "Wide", f"{workbook_contract.column_letter(ingest.MAX_SHEET_COLUMNS)}1")


@case("too many cells.xlsx")
def _too_many_cells(folder, ref):
    # each sheet within the rows and columns, all of them together above MAX_CELLS
    path = _good(folder, ref, "ALB", "too many cells.xlsx", 1)
    _with_sheet(path, "Part 1", '<row r="15000"><c r="AN15000"><v>1</v></c></row>')
    _with_sheet(path, "Part 2", '<row r="15000"><c r="AO15000"><v>1</v></c></row>')
    return _refused("sheet-too-large", "Part 2")


@case("repeated cells.ods")
def _repeated_ods(folder, ref):
    # one value cell repeated over every column of every row: 17 billion cells in 1 KB of XML
    row = '<table:table-row table:number-rows-repeated="1048576"><table:table-cell table:number-columns-repeated="16384" office:value-type="float" office:value="1"/></table:table-row>'
    _ods(folder / "repeated cells.ods", _ods_content(row))
    return _refused("sheet-too-large", "Data", "XFD1048576")


# read as data
@case("macros.xlsm", "AZE", 106)
def _macros(folder, ref):
    path = _good(folder, ref, "AZE", "macros.xlsm", 106)
    _rezip(path, {
        "xl/vbaProject.bin": _ole2("VBA", "PROJECT", "_VBA_PROJECT") + b'Sub Auto_Open()\r\n  Shell "calc.exe"\r\nEnd Sub\r\n',
        "[Content_Types].xml": lambda d: d.replace(b"spreadsheetml.sheet.main+xml", b"sheet.macroEnabled.main+xml").replace(b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>'),
        "xl/_rels/workbook.xml.rels": lambda d: d.replace(b"</Relationships>", b'<Relationship Id="rIdVBA" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>'),
    })
    return [("file-has-macros", "", "")], "accepted"


@case("hidden.xlsx", "BGR", 107)
def _hidden(folder, ref):
    """A hidden Data sheet with hidden rows: a value in a hidden row is a submitted value."""
    path = _good(folder, ref, "BGR", "hidden.xlsx", 107)
    wb = openpyxl.load_workbook(path)
    ws = wb[workbook_contract.DATA_SHEET]
    ws.sheet_state = "hidden"
    wb.active = 0
    for row in range(2, _row_of(path, "TIP_OFF") + 1):  # TIP_VIC TOTAL's row among them
        ws.row_dimensions[row].hidden = True
    wb.save(path)
    return [], "accepted"


@case("merged.xlsx", "GRC", 108)
def _merged(folder, ref):
    path = _good(folder, ref, "GRC", "merged.xlsx", 108)
    first = _row_of(path, "TIP_OFF")
    wb = openpyxl.load_workbook(path)
    ws = wb[workbook_contract.DATA_SHEET]
    ws.merge_cells(f"E{first}:E{first + 2}")  # TIP_OFF's value over the two rows below
    ws.merge_cells(f"C{first}:C{first + 2}")  # Indicator cells are not read: no finding
    wb.save(path)
    return [("cells-merged", workbook_contract.DATA_SHEET, f"E{first}:E{first + 2}")], "accepted-with-warnings"


@case("moved.xlsx", "MDA", 109)
def _moved(folder, ref):
    """The Data sheet renamed and moved last, the Instructions deleted, extra sheets (one a chart)."""
    path = _good(folder, ref, "MDA", "moved.xlsx", 109)
    wb = openpyxl.load_workbook(path)
    data = wb[workbook_contract.DATA_SHEET]
    data.title = "Données 2025"
    wb.move_sheet(data, offset=len(wb.sheetnames))
    wb.remove(wb[workbook_contract.INSTRUCTIONS_SHEET])
    notes = wb.create_sheet("Notes", 0)
    notes["A1"] = "Figures from the Ministry of Interior; 2024 revised."
    chart = openpyxl.chart.BarChart()
    chart.add_data(openpyxl.chart.Reference(data, min_col=5, min_row=1, max_row=5), titles_from_data=True)
    wb.create_chartsheet("Chart").add_chart(chart)
    wb.save(path)
    return [], "accepted"


# not workbooks at all: listed, not read
@case("~$ARM_2025.xlsx")
def _excel_lock(folder, ref):
    (folder / "~$ARM_2025.xlsx").write_bytes(b"\x0bNino Beridze" + b"\0" * 150)
    return [("file-lock-file", "", "")], "ignored"


@case(".~lock.ARM_2025.xlsx#")
def _libreoffice_lock(folder, ref):
    (folder / ".~lock.ARM_2025.xlsx#").write_text("Nino Beridze,nino,host,28.11.2026 10:00,file:///home/nino/.config/libreoffice/4;", encoding="utf-8")
    return [("file-lock-file", "", "")], "ignored"


@case("covering letter.pdf")
def _letter(folder, ref):
    (folder / "covering letter.pdf").write_bytes(b"%PDF-1.7\n%%EOF\n")
    return [("file-not-a-workbook", "", "")], "ignored"


@case("Thumbs.db")
def _thumbs(folder, ref):
    (folder / "Thumbs.db").write_bytes(_ole2("Catalog"))
    return [("file-not-a-workbook", "", "")], "ignored"


@case("desktop.ini")
def _desktop_ini(folder, ref):
    (folder / "desktop.ini").write_text("[.ShellClassInfo]\r\nIconResource=x\r\n", encoding="utf-8")
    return [("file-not-a-workbook", "", "")], "ignored"


@pytest.fixture(scope="module")
def battery(ref, tmp_path_factory) -> tuple[Path, dict[str, Expected]]:
    """Every case built into one folder; (folder, file name -> expected findings and status)."""
    folder = tmp_path_factory.mktemp("battery") / "inputs"
    folder.mkdir()
    expected = {name: build(folder, ref) for name, build in CASES.items()}
    assert sorted(p.name for p in folder.iterdir()) == sorted(CASES), "a builder wrote another file than its name"
    return folder, expected


@pytest.fixture(scope="module")
def validated(battery, ref) -> dict[str, validate.Submission]:
    folder, _ = battery
    subs = [validate.validate_submission(ingest.read_submission(p, folder, ref), ref) for p in ingest.discover_files(folder)]
    validate.resolve_resubmissions(subs, ref)
    return {s.file: s for s in subs}


@pytest.mark.parametrize("name", list(CASES))
def test_each_file_gives_its_finding_naming_the_file(battery, validated, name):
    _, expected = battery
    findings, status = expected[name]
    sub = validated[name]
    assert sorted((f.code, f.sheet, f.cell) for f in sub.findings) == sorted(findings)
    assert sub.status == status
    assert all(f.file == name for f in sub.findings)
    if status in (REFUSED, "ignored"):
        assert name in sub.findings[0].message  # the message names the file, then the cause
        assert sub.reason


def test_every_file_is_accounted_for(battery, validated):
    folder, _ = battery
    table = validate.submissions_frame(list(validated.values()))
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert sorted(table["file"]) == on_disk
    assert set(table["status"]) <= {"accepted", "accepted-with-warnings", "accepted-with-errors", "rejected", "superseded", "ignored"}
    assert table.loc[table["status"] != "accepted", "reason"].str.len().gt(0).all()


def test_readable_workbooks_give_their_values(validated):
    for name, (iso3, tip_vic) in READABLE.items():
        sub = validated[name]
        assert (sub.country_iso3, sub.year) == (iso3, YEAR)
        obs = sub.observations.set_index(["indicator", "breakdown"])
        assert obs.loc[("TIP_VIC", "TOTAL"), "value"] == tip_vic, name


def test_merged_value_stays_on_its_first_row(validated):
    obs = validated["merged.xlsx"].observations.set_index(["indicator", "breakdown"])
    assert obs.loc[("TIP_OFF", "TOTAL"), "value"] == 3  # the top-left cell keeps the value


def test_refusals_are_quick_and_read_nothing_big(ref, tmp_path):
    """The bomb and the far cell are refused from what the file declares: no time, no memory."""
    for name in ("bomb.xlsx", "far cell.xlsx", "repeated cells.ods", "shared strings count.xlsx"):
        CASES[name](tmp_path, ref)
        start = time.perf_counter()
        raw = ingest.read_submission(tmp_path / name, tmp_path, ref)
        assert time.perf_counter() - start < 1.0, name
        assert not raw.readable


def test_run_goes_on_over_the_whole_battery(battery, ref, tmp_path):
    """The pipeline, once over the folder: the good states' values in observations.csv, every file in
    submissions.csv, each hostile code in findings.csv, and not one byte of the inputs changed."""
    from pipeline.cli import run_pipeline

    folder, expected = battery
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}
    result = run_pipeline(YEAR, folder, tmp_path / "outputs")
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}
    assert after == before

    data = result.year_dir / "data"
    observations = output_files.read_csv(data / "observations.csv")
    tip_vic = observations[(observations["indicator"] == "TIP_VIC") & (observations["breakdown"] == "TOTAL") & (observations["year"] == YEAR)]
    assert dict(zip(tip_vic["country_iso3"], tip_vic["value"], strict=True)) == {iso3: value for iso3, value in READABLE.values()}
    submissions = output_files.restore_text_columns(pd.read_csv(data / "submissions.csv", dtype=str, keep_default_na=False))
    assert sorted(submissions["file"]) == sorted(CASES)
    findings = output_files.restore_text_columns(pd.read_csv(data / "findings.csv", dtype=str, keep_default_na=False))
    wanted = {(name, code) for name, (found, _) in expected.items() for code, _, _ in found}
    assert wanted <= set(zip(findings["file"], findings["code"], strict=True))
    assert result.report.exists()


def test_sheets_at_the_limits_are_read(ref, tmp_path):
    """A sheet reaching row MAX_SHEET_ROWS, another reaching column MAX_SHEET_COLUMNS: both read."""
    path = _good(tmp_path, ref, "GEO", "GEO_2025.xlsx", 12)
    _with_sheet(path, "Tall", f'<row r="{ingest.MAX_SHEET_ROWS}"><c r="A{ingest.MAX_SHEET_ROWS}"><v>1</v></c></row>')
    _with_sheet(path, "Wide", f'<row r="1"><c r="{workbook_contract.column_letter(ingest.MAX_SHEET_COLUMNS - 1)}1"><v>1</v></c></row>')
    raw = ingest.read_submission(path, tmp_path, ref)
    assert raw.readable and raw.findings == []
    assert (raw.data.set_index(["code", "breakdown"]).loc[("TIP_VIC", "TOTAL"), "value"]) == 12


def test_feedback_never_parses_a_refused_file(ref, tmp_path, monkeypatch):
    """The feedback copy must not open what ingest refused: "million rows.xlsx" alone costs 22 s and 640 MB
    in openpyxl, and calamine (its fallback) aborts the whole run on "far cell.xlsx"."""
    import python_calamine

    from pipeline import feedback

    opened = []

    def refuse(*args, **kwargs):
        opened.append(args)
        raise AssertionError("a refused file was parsed")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)
    monkeypatch.setattr(python_calamine, "CalamineWorkbook", type("Refused", (), {"from_filelike": staticmethod(refuse), "from_path": staticmethod(refuse)}))
    for name in ("million rows.xlsx", "far cell.xlsx", "repeated cells.ods", "laughs in sheet.xlsx"):
        CASES[name](tmp_path, ref)
        sub = validate.validate_submission(ingest.read_submission(tmp_path / name, tmp_path, ref), ref)
        assert {f.code for f in sub.findings} <= ingest.REFUSAL_CODES
        feedback.write_feedback(sub, tmp_path / name, tmp_path / "feedback" / f"{name}.xlsx", ref)
    assert opened == []


def test_limits_in_the_catalogue_match_the_code(ref):
    """finding_codes.csv tells states the limits: it must say what ingest does."""
    too_large = ref.finding_codes["file-too-large"].meaning
    for limit in (ingest.MAX_FILE_BYTES, ingest.MAX_UNPACKED_BYTES, ingest.MAX_PART_BYTES):
        assert f"{limit // ingest.MB} MB" in too_large
    assert f"{ingest.MAX_ZIP_ENTRIES:,} parts" in too_large and f"{ingest.MAX_SHEETS} sheets" in too_large
    assert f"{ingest.MAX_COMPRESSION_RATIO} times" in too_large
    sheet = ref.finding_codes["sheet-too-large"].meaning
    assert f"{ingest.MAX_SHEET_ROWS:,} rows" in sheet and f"{ingest.MAX_SHEET_COLUMNS:,} columns" in sheet and f"{ingest.MAX_CELLS:,} cells" in sheet


# -- the specs of the new finding codes (test_validate.SPECIFIED_ELSEWHERE points here) ---------------
@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("file-too-large", "bomb.xlsx"),
        ("sheet-too-large", "far cell.xlsx"),
        ("file-unsafe-xml", "laughs in sheet.xlsx"),
        ("file-has-macros", "macros.xlsm"),
    ],
)
def test_spec(ref, tmp_path, code, name):
    """The whole list of findings of a folder holding only that file, as test_validate's specs do."""
    findings, _ = CASES[name](tmp_path, ref)
    subs = [validate.validate_submission(ingest.read_submission(p, tmp_path, ref), ref) for p in ingest.discover_files(tmp_path)]
    assert sorted((f.code, f.sheet, f.cell) for s in subs for f in s.findings) == sorted(findings)
    assert {f for f, _, _ in findings} == {code}


# -- properties: nothing escapes but findings ----------------------------------------------------------
STATUSES = {"reported", "not_available", "confidential", "invalid"}
raw_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),  # NaN and infinities too
    st.text(),
    st.text(alphabet="0123456789 .,'\u00a0\u202f-<>:#/NAna", max_size=12),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.decimals(allow_nan=True),
    st.text().map(ingest.CellError),
)


@settings(max_examples=400, deadline=None)
@given(raw=raw_values, is_count=st.booleans())
def test_value_parser_never_raises(ref, raw, is_count):
    parsed = validate.parse_value(raw, is_count)
    assert parsed.status in STATUSES
    if parsed.status == "invalid":
        assert parsed.number is None and parsed.finding_code in ref.finding_codes
    elif parsed.number is not None:
        assert parsed.number >= 0 and parsed.number == parsed.number and parsed.number != float("inf")
    if parsed.finding_code:
        assert parsed.finding_code in ref.finding_codes


_TEMPLATE: dict[str, bytes] = {}


def _template_bytes(ref) -> bytes:
    """A good workbook, built once: the starting point of every random workbook."""
    if not _TEMPLATE:
        with tempfile.TemporaryDirectory() as folder:
            _TEMPLATE["GEO"] = _good(Path(folder), ref, "GEO", "GEO_2025.xlsx", 12).read_bytes()
    return _TEMPLATE["GEO"]


cell_contents = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40).map(lambda text: ILLEGAL_CHARACTERS_RE.sub("", text)),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31)),
    st.sampled_from(["=1/0", "=NA()", "=SUM(E2:E5)", "=E2*2", "=Cover!B4", ":", "..", "<5", "1 154", "1,154", "1.154", "#DIV/0!", "n/a", "-", "1e308", "NaN", "TOTAL", "TIP_VIC", "Code", "Value", "bp"]),
)
LAYOUT_CHANGES = ["header down", "column in front", "rows shuffled", "data renamed", "data moved first", "header cell blanked", "cover renamed", "cover removed", "meta removed", "merge in data"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(st.tuples(st.integers(1, 95), st.integers(1, 12), cell_contents), max_size=25),
    cover_edits=st.lists(st.tuples(st.integers(1, 12), st.integers(1, 3), cell_contents), max_size=5),
    changes=st.lists(st.sampled_from(LAYOUT_CHANGES), max_size=3, unique=True),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_workbooks_give_findings_never_exceptions(ref, edits, cover_edits, changes, seed):
    wb = openpyxl.load_workbook(io.BytesIO(_template_bytes(ref)))
    data, cover = wb[workbook_contract.DATA_SHEET], wb[workbook_contract.COVER_SHEET]
    for row, column, value in edits:
        data.cell(row=row, column=column).value = value
    for row, column, value in cover_edits:
        cover.cell(row=row, column=column).value = value
    rnd = random.Random(seed)
    # Merging last: openpyxl cannot write into the cells a merge covers, as the other changes would.
    for change in sorted(changes, key=lambda c: c == "merge in data"):
        if change == "header down":
            data.insert_rows(1, amount=rnd.randint(1, 5))
        elif change == "column in front":
            data.insert_cols(1, amount=rnd.randint(1, 3))
        elif change == "rows shuffled":
            rows = [[cell.value for cell in row] for row in data.iter_rows(min_row=2)]
            rnd.shuffle(rows)
            for i, values in enumerate(rows, start=2):
                for j, value in enumerate(values, start=1):
                    data.cell(row=i, column=j).value = value
        elif change == "data renamed":
            data.title = rnd.choice(["Données", "Sheet1", "data ", "DATA"])
        elif change == "data moved first":
            wb.move_sheet(data, offset=-wb.index(data))
        elif change == "header cell blanked":
            data.cell(row=1, column=rnd.randint(1, 9)).value = None
        elif change == "cover renamed":
            cover.title = "Титул"
        elif change == "cover removed":
            wb.remove(cover)
        elif change == "meta removed":
            wb.remove(wb[workbook_contract.META_SHEET])
        elif change == "merge in data":
            first = rnd.randint(1, 80)
            data.merge_cells(start_row=first, start_column=rnd.randint(1, 8), end_row=first + rnd.randint(0, 4), end_column=rnd.randint(8, 10))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "GEO_2025.xlsx"
        wb.save(path)
        sub = validate.validate_submission(ingest.read_submission(path, path.parent, ref), ref)
    assert sub.status in {"accepted", "accepted-with-warnings", "accepted-with-errors", "rejected"}
    assert {f.code for f in sub.findings} <= set(ref.finding_codes)
    assert set(sub.observations["status"]) <= {"reported", "not_available", "not_applicable", "confidential", "rejected"}


@settings(max_examples=40, deadline=None)
@given(
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=12),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_damaged_bytes_give_findings_never_exceptions(ref, flips, cut):
    """Random bytes changed in a good workbook (a bad disk, a mangled attachment), or its end cut off."""
    content = bytearray(_template_bytes(ref))
    for where, byte in flips:
        content[int(where * len(content))] = byte
    if cut is not None:
        content = content[: int(cut * len(content))]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "GEO_2025.xlsx"
        path.write_bytes(bytes(content))
        sub = validate.validate_submission(ingest.read_submission(path, path.parent, ref), ref)
    assert {f.code for f in sub.findings} <= set(ref.finding_codes)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_damaged_xml_gives_findings_never_exceptions(ref, data):
    """Random damage inside the XML of a part (then zipped again, so the zip itself is sound)."""
    parts = _parts_of(_template_bytes(ref))
    name = data.draw(st.sampled_from(sorted(n for n in parts if n.endswith((".xml", ".rels")))))
    xml = bytearray(parts[name])
    for _ in range(data.draw(st.integers(1, 6))):
        where = data.draw(st.integers(0, len(xml) - 1))
        kind = data.draw(st.sampled_from(["delete", "insert", "number"]))
        if kind == "delete":
            del xml[where:where + data.draw(st.integers(1, 40))]
        elif kind == "insert":
            xml[where:where] = data.draw(st.sampled_from([b"<", b">", b"&", b'"', b"<c r=\"A1\"><v>1</v></c>", b"</row>", b"<row>", b"\x00", b"<!--", b"]]>", b"\xff\xfe"]))
        else:
            refs = list(re.finditer(rb'r="([A-Z]+)(\d+)"', bytes(xml)))
            if refs:
                found = refs[data.draw(st.integers(0, len(refs) - 1))]
                number = data.draw(st.sampled_from([0, 1, 20_001, 1_048_576, 2**31, 2**32 + 5, 10**15]))
                xml[found.start():found.end()] = b'r="' + found.group(1) + str(number).encode() + b'"'
    parts[name] = bytes(xml)
    with tempfile.TemporaryDirectory() as folder:
        path = _write_zip(Path(folder) / "GEO_2025.xlsx", parts)
        sub = validate.validate_submission(ingest.read_submission(path, path.parent, ref), ref)
    assert {f.code for f in sub.findings} <= set(ref.finding_codes)


def _parts_of(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


@pytest.mark.libreoffice
def test_legacy_xls_spanning_its_whole_grid_is_refused(ref, tmp_path):
    """Two cells at A1 and IV65536 of an .xls: calamine would fill 16.7 million cells (1.5 GB)."""
    import subprocess

    from tests.conftest import require_soffice

    soffice = require_soffice()
    wb = openpyxl.Workbook()
    wb.active.title = workbook_contract.DATA_SHEET
    wb.active["A1"], wb.active["IV65536"] = "Code", 1
    wb.save(tmp_path / "corner.xlsx")
    subprocess.run(
        [soffice, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless", "--convert-to", "xls:MS Excel 97", "--outdir", str(tmp_path / "xls"), str(tmp_path / "corner.xlsx")],
        check=True, capture_output=True, timeout=180,
    )
    path = tmp_path / "xls" / "corner.xls"
    raw = ingest.read_submission(path, path.parent, ref)
    assert [(f.code, f.sheet) for f in raw.findings] == [("sheet-too-large", workbook_contract.DATA_SHEET)]


def _one_sheet_workbook() -> dict[str, bytes]:
    wb = openpyxl.Workbook()
    wb.active.title = workbook_contract.DATA_SHEET
    wb.active["A1"] = "x"
    stream = io.BytesIO()
    wb.save(stream)
    return _parts_of(stream.getvalue())


_CELL_BODIES = {"value": "<v>1</v>", "string": '<is><t>a</t></is>', "empty string": "<is><t></t></is>", "formula": "<f>1+1</f>", "styled": "", "error": "<v>#N/A</v>"}
sheet_rows = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(1, 40)),  # the row's r, or none
        st.lists(st.tuples(st.one_of(st.none(), st.tuples(st.integers(1, 40), st.integers(0, 25))), st.sampled_from(sorted(_CELL_BODIES))), max_size=6),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(rows=sheet_rows)
def test_inspection_never_measures_a_sheet_smaller_than_calamine_holds_it(rows):
    """Differential: for random small sheets (references or none, empty and styled cells), the extent
    the inspection finds is at least what calamine allocates, so no file calamine would blow up on
    passes as a small one."""
    import python_calamine

    xml = ""
    for row_ref, cells in rows:
        xml += f'<row r="{row_ref}">' if row_ref else "<row>"
        for ref_, kind in cells:
            attributes = f' r="{ingest.cell_ref(ref_[0] - 1, ref_[1])}"' if ref_ else ""
            attributes += ' t="inlineStr"' if "string" in kind else ' t="e"' if kind == "error" else ' s="0"' if kind == "styled" else ""
            xml += f"<c{attributes}>{_CELL_BODIES[kind]}</c>" if _CELL_BODIES[kind] else f"<c{attributes}/>"
        xml += "</row>"
    parts = _one_sheet_workbook()
    sheet = next(name for name in parts if name.startswith("xl/worksheets/"))
    parts[sheet] = f'<worksheet xmlns="{SPREADSHEET_NS}"><sheetData>{xml}</sheetData></worksheet>'.encode()
    with tempfile.TemporaryDirectory() as folder:
        path = _write_zip(Path(folder) / "random.xlsx", parts)
        content = path.read_bytes()
        shape = ingest.inspect_workbook(path, content)
        try:
            end = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name(workbook_contract.DATA_SHEET).end
        except python_calamine.CalamineError:
            return  # calamine refuses the sheet: nothing to allocate
    rows_found, columns_found = shape.extents[workbook_contract.DATA_SHEET]
    if end is not None:
        assert rows_found >= end[0] + 1 and columns_found >= end[1] + 1, (xml, end, shape.extents)


ods_rows = st.lists(
    st.tuples(
        st.integers(1, 4),  # rows repeated
        st.lists(st.tuples(st.integers(1, 5), st.sampled_from(["value", "text", "empty", "covered", "annotation", "spanned"])), max_size=5),
    ),
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(rows=ods_rows)
def test_inspection_never_measures_an_ods_table_smaller_than_calamine_holds_it(rows):
    """The same differential for ods: repeated rows and cells, empty, covered and spanned cells."""
    import python_calamine

    bodies = {
        "value": '<table:table-cell{rep} office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell>',
        "text": "<table:table-cell{rep}><text:p>a</text:p></table:table-cell>",
        "empty": "<table:table-cell{rep}/>",
        "covered": '<table:covered-table-cell{rep} office:value-type="float" office:value="2"/>',
        "annotation": '<table:table-cell{rep}><office:annotation><text:p>note</text:p></office:annotation></table:table-cell>',
        "spanned": '<table:table-cell{rep} table:number-columns-spanned="2" table:number-rows-spanned="2" office:value-type="float" office:value="3"/>',
    }
    xml = ""
    for repeated, cells in rows:
        xml += f'<table:table-row table:number-rows-repeated="{repeated}">'
        for copies, kind in cells:
            xml += bodies[kind].format(rep=f' table:number-columns-repeated="{copies}"')
        xml += "</table:table-row>"
    with tempfile.TemporaryDirectory() as folder:
        path = _ods(Path(folder) / "random.ods", _ods_content(xml))
        content = path.read_bytes()
        shape = ingest.inspect_workbook(path, content)
        try:
            end = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name("Data").end
        except python_calamine.CalamineError:
            return
    rows_found, columns_found = shape.extents["Data"]
    if end is not None:
        assert rows_found >= end[0] + 1 and columns_found >= end[1] + 1, (xml, end, shape.extents)


def test_links_and_special_files_are_listed_never_followed(ref, tmp_path):
    import os

    inputs = tmp_path / "inputs"
    good = write_submission(inputs, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): 12})
    secret = tmp_path / "outside.xlsx"
    secret.write_bytes(good.read_bytes())
    (inputs / "link to outside.xlsx").symlink_to(secret)
    os.mkfifo(inputs / "pipe.xlsx")  # reading it would block the run
    subs = [validate.validate_submission(ingest.read_submission(p, inputs, ref), ref) for p in ingest.discover_files(inputs)]
    table = validate.submissions_frame(subs).set_index("file")
    assert table.loc["link to outside.xlsx", "status"] == "ignored" and table.loc["pipe.xlsx", "status"] == "ignored"
    assert "file-not-a-workbook" == next(f.code for s in subs if s.file == "link to outside.xlsx" for f in s.findings)
    assert table.loc["GEO_2025.xlsx", "status"] == "accepted"
