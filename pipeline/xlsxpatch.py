"""Edit an .xlsx package where it lies: rewrite the few parts an edit needs, keep every other part's bytes.

openpyxl turns a whole workbook into objects and writes all of it back from them (20-30 ms each way
for a submission workbook), and drops what it does not model. An .xlsx is a zip of XML parts
(ECMA-376 Part 2, Open Packaging Conventions); the edits here change only the parts they concern:

* `Workbook`: the sheets, their parts, a new first sheet (`add_first_sheet`), which sheet is open;
* `Styles`: fonts, fills and cell formats (xf) appended to styles.xml, existing ones never changed;
* `Worksheet`: a cell's format (`set_style`, adding the <c> and <row> when missing) and its notes
  (legacy comments: the comments part and the VML shapes that show them);
* `NewSheet`: the XML of a worksheet written from scratch (text cells, layout, page set-up);
* `Package.set_document_times`: created/modified in docProps/core.xml.

Anything this module does not edit faithfully raises `Unsupported` before a byte is written: strict
OOXML namespaces, macro-enabled or template workbooks, threaded comments, a part missing or not where
its relationship points, rows or cells without their address, unknown worksheet elements where one
must be inserted. Callers fall back to openpyxl then.

Input is untrusted: XML is parsed by lxml without DTDs, entities or network access (a DTD anywhere
raises `Unsupported`), namespace prefixes are kept as found, and only edited parts are serialised again.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from urllib.parse import unquote

from lxml import etree

from pipeline.layout import column_letter

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DOC_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
CORE_NS = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
DCTERMS_NS = "http://purl.org/dc/terms/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"
VML_NS = "urn:schemas-microsoft-com:vml"
OFFICE_NS = "urn:schemas-microsoft-com:office:office"
EXCEL_NS = "urn:schemas-microsoft-com:office:excel"

REL_OFFICE_DOCUMENT = f"{DOC_REL_NS}/officeDocument"
REL_WORKSHEET = f"{DOC_REL_NS}/worksheet"
REL_STYLES = f"{DOC_REL_NS}/styles"
REL_COMMENTS = f"{DOC_REL_NS}/comments"
REL_VML = f"{DOC_REL_NS}/vmlDrawing"
REL_CORE = f"{PKG_REL_NS}/metadata/core-properties"
REL_THREADED_COMMENTS = "http://schemas.microsoft.com/office/2017/10/relationships/threadedComment"

CT_WORKBOOK = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
CT_RELS = "application/vnd.openxmlformats-package.relationships+xml"

CONTENT_TYPES = "[Content_Types].xml"
MAX_ROW, MAX_COLUMN = 1_048_576, 16_384  # Excel's grid

# CT_Worksheet is a sequence: an element out of this order makes Excel "repair" the file.
WORKSHEET_ORDER = (
    "sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetCalcPr", "sheetProtection",
    "protectedRanges", "scenarios", "autoFilter", "sortState", "dataConsolidate", "customSheetViews", "mergeCells",
    "phoneticPr", "conditionalFormatting", "dataValidations", "hyperlinks", "printOptions", "pageMargins", "pageSetup",
    "headerFooter", "rowBreaks", "colBreaks", "customProperties", "cellWatches", "ignoredErrors", "smartTags", "drawing",
    "legacyDrawing", "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems", "tableParts",
    "extLst",
)
# CT_Workbook: definedNames comes after these (and before calcPr and the rest).
_BEFORE_DEFINED_NAMES = {f"{{{MAIN_NS}}}{name}" for name in ("fileVersion", "fileSharing", "workbookPr", "workbookProtection", "bookViews", "sheets", "functionGroups", "externalReferences")}

# What store.set_cell drops (openpyxl's ILLEGAL_CHARACTERS_RE), and what XML 1.0 cannot carry at all.
ILLEGAL_CONTROL_CHARACTERS = re.compile(r"[\000-\010\013\014\016-\037]")
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")
_ADDRESS = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")
_TAB_SELECTED = re.compile(rb"""tabSelected\s*=\s*["'](?:1|true)["']""")
_VML_IDMAP = re.compile(rb"""idmap\b[^>]*?\bdata\s*=\s*["']([0-9, ]+)["']""")
_VML_SHAPE_ID = re.compile(r"_x0000_s(\d+)$")


class Unsupported(Exception):
    """The package holds something these edits do not handle faithfully: use openpyxl instead."""


def parse_xml(data: bytes) -> etree._Element:
    """The root of an XML part: no DTD, no entity expansion, no network (raises `Unsupported` on a DTD)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, collect_ids=False)
    root = etree.fromstring(data, parser)
    if root.getroottree().docinfo.doctype:
        raise Unsupported("a part declares a DTD")
    return root


def column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def split_address(address: str) -> tuple[int, int]:
    """(row, column) of an A1 address inside Excel's grid; `Unsupported` otherwise."""
    match = _ADDRESS.fullmatch(address)
    if match is None:
        raise Unsupported(f"not a cell address: {address[:20]!r}")
    row, column = int(match.group(2)), column_number(match.group(1))
    if not (1 <= row <= MAX_ROW and 1 <= column <= MAX_COLUMN):
        raise Unsupported(f"{address} is outside the grid")
    return row, column


def quote_sheet(name: str) -> str:
    """A sheet name as a formula or defined name refers to it."""
    return "'" + name.replace("'", "''") + "'"


def xml_text(text: str) -> str:
    """`text` as XML character data: control characters dropped (as `store.set_cell` does), markup escaped.

    A carriage return is written as a reference, since a parser reads a bare one as a line feed.
    """
    text = ILLEGAL_CONTROL_CHARACTERS.sub("", text)
    if _NOT_XML.search(text):
        raise Unsupported("text holds characters XML cannot carry")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _attribute(text: str) -> str:
    return xml_text(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def _local(element: etree._Element) -> tuple[str, str]:
    """(namespace, local name) of an element; ('', '') for comments and processing instructions."""
    if not isinstance(element.tag, str):
        return "", ""
    qname = etree.QName(element)
    return qname.namespace or "", qname.localname


def _sub_element(parent: etree._Element, tag: str, attrib: dict[str, str], prefixes: dict[str, str], index: int | None = None) -> etree._Element:
    """A new child of `parent`, declaring a prefix only where the document does not have it in scope
    already; at `index` (else last)."""
    missing = {prefix: namespace for prefix, namespace in prefixes.items() if parent.nsmap.get(prefix) != namespace}
    child = etree.SubElement(parent, tag, attrib, nsmap=missing or None)
    if index is not None:
        parent.insert(index, child)
    return child


def _prefix_of(element: etree._Element, namespace: str, default: str) -> str:
    """The prefix `element` has in scope for `namespace`, or `default`."""
    return next((prefix for prefix, uri in element.nsmap.items() if uri == namespace and prefix), default)


class Package:
    """The parts of an .xlsx, in their order; edited parts are serialised again by `parts()`."""

    def __init__(self, content: bytes, max_unpacked_bytes: int) -> None:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            infos = zf.infolist()
            if sum(info.file_size for info in infos) > max_unpacked_bytes:
                raise Unsupported("the package is larger than what is edited in place")
            self._parts = {info.filename: zf.read(info) for info in infos}
        # Part names are case-insensitive (OPC): a name is looked up by its lower case.
        self._by_lower = {name.lower(): name for name in self._parts}
        if len(self._by_lower) != len(infos):
            raise Unsupported("two parts have the same name")
        self._trees: dict[str, etree._Element] = {}
        self._edited: set[str] = set()
        self._relationships: dict[str, Relationships] = {}
        if CONTENT_TYPES not in self._parts:
            raise Unsupported("no [Content_Types].xml")
        self.content_types = ContentTypes(self)

    def read(self, name: str) -> bytes:
        return self._parts[name]

    def xml(self, name: str) -> etree._Element:
        """The parsed part (once); changes to it are not written unless `edit` was called."""
        if name not in self._trees:
            self._trees[name] = parse_xml(self._parts[name])
        return self._trees[name]

    def edit(self, name: str) -> etree._Element:
        """The parsed part, to be serialised again by `parts()`."""
        root = self.xml(name)
        self._edited.add(name)
        return root

    def add(self, name: str, content: bytes | etree._Element, content_type: str) -> None:
        """A new part (bytes, or a tree that later edits may still change)."""
        if isinstance(content, bytes):
            self._parts[name] = content
        else:
            self._parts[name] = b""
            self._trees[name] = content
            self._edited.add(name)
        self._by_lower[name.lower()] = name
        self.content_types.declare(name, content_type)

    def find(self, name: str) -> str | None:
        """The part named `name` in any case, or None."""
        return self._by_lower.get(name.lower())

    def unused_name(self, pattern: str) -> str:
        """`pattern` ("xl/comments/comment{}.xml") with the first number no part has."""
        number = 1
        while self.find(pattern.format(number)) is not None:
            number += 1
        return pattern.format(number)

    def names(self) -> list[str]:
        return list(self._parts)

    def resolve(self, source: str, target: str) -> str:
        """The part a relationship of `source` ('' for the package) points at; `Unsupported` if absent."""
        target = unquote(target)
        path = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(posixpath.dirname(source), target))
        found = self.find(path)
        if found is None:
            raise Unsupported(f"{source or 'the package'} points at {target[:100]}, which it does not hold")
        return found

    def relationships(self, source: str) -> Relationships:
        if source not in self._relationships:
            self._relationships[source] = Relationships(self, source)
        return self._relationships[source]

    def set_document_times(self, stamp: dt.datetime) -> None:
        """docProps/core.xml: created and modified set to `stamp` (UTC, as openpyxl writes them)."""
        cores = self.relationships("").parts(REL_CORE)
        if len(cores) != 1:
            raise Unsupported("not one document properties part")
        root = self.edit(cores[0])
        if root.tag != f"{{{CORE_NS}}}coreProperties":
            raise Unsupported("odd document properties part")
        for name in ("created", "modified"):
            element = root.find(f"{{{DCTERMS_NS}}}{name}")
            if element is None:
                element = _sub_element(root, f"{{{DCTERMS_NS}}}{name}", {}, {"dcterms": DCTERMS_NS, "xsi": XSI_NS})
                element.set(f"{{{XSI_NS}}}type", f"{_prefix_of(element, DCTERMS_NS, 'dcterms')}:W3CDTF")
            element.text = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")

    def parts(self) -> list[tuple[str, bytes]]:
        """Every part, in the package's order then the new ones: untouched parts as they were read."""
        return [(name, _serialise(self._trees[name], self._parts[name]) if name in self._edited else data) for name, data in self._parts.items()]


_NEW_PART_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_DECLARATION = re.compile(rb"(?:\xef\xbb\xbf)?<\?xml[^>]*\?>\s*")
_NOT_UTF8 = re.compile(rb"""encoding\s*=\s*["'](?!utf-8["'])""", re.IGNORECASE)


def _serialise(root: etree._Element, original: bytes) -> bytes:
    """A part's tree as UTF-8, after the part's own XML declaration (a new part gets Excel's)."""
    tree = root.getroottree()
    if not original:
        return _NEW_PART_DECLARATION + etree.tostring(tree, encoding="UTF-8")
    declaration = _DECLARATION.match(original)
    if declaration is not None and _NOT_UTF8.search(declaration.group()):
        return etree.tostring(tree, encoding="UTF-8", xml_declaration=True, standalone=tree.docinfo.standalone)
    return (declaration.group() if declaration else b"") + etree.tostring(tree, encoding="UTF-8")


class ContentTypes:
    """[Content_Types].xml: the content type of each part, by override or by extension."""

    def __init__(self, package: Package) -> None:
        self.package = package
        self.root = root = package.xml(CONTENT_TYPES)
        if root.tag != f"{{{TYPES_NS}}}Types":
            raise Unsupported("odd [Content_Types].xml")
        self._overrides = {element.get("PartName", "").lower(): element.get("ContentType", "") for element in root.iter(f"{{{TYPES_NS}}}Override")}
        self._defaults = {element.get("Extension", "").lower(): element.get("ContentType", "") for element in root.iter(f"{{{TYPES_NS}}}Default")}

    def of(self, part: str) -> str:
        override = self._overrides.get(f"/{part}".lower())
        return override if override is not None else self._defaults.get(posixpath.splitext(part)[1][1:].lower(), "")

    def declare(self, part: str, content_type: str) -> None:
        if self.of(part) != content_type:
            self.package.edit(CONTENT_TYPES)
            _sub_element(self.root, f"{{{TYPES_NS}}}Override", {"PartName": f"/{part}", "ContentType": content_type}, {})
            self._overrides[f"/{part}".lower()] = content_type


class Relationships:
    """The relationships of one part (its .rels part, made on the first `add` when it has none)."""

    def __init__(self, package: Package, source: str) -> None:
        self.package, self.source = package, source
        folder, name = posixpath.split(source)
        found = package.find(posixpath.join(folder, "_rels", f"{name}.rels"))
        self.part = found or posixpath.join(folder, "_rels", f"{name}.rels")
        self.root = package.xml(found) if found is not None else None
        if self.root is not None and self.root.tag != f"{{{PKG_REL_NS}}}Relationships":
            raise Unsupported(f"odd relationships part {self.part}")

    def _internal(self):
        for element in self.root.iter(f"{{{PKG_REL_NS}}}Relationship") if self.root is not None else ():
            if element.get("TargetMode", "Internal") == "Internal":
                yield element

    def parts(self, rel_type: str) -> list[str]:
        """The parts related by `rel_type`, in order."""
        return [self.package.resolve(self.source, element.get("Target", "")) for element in self._internal() if element.get("Type") == rel_type]

    def has(self, rel_type: str) -> bool:
        return any(element.get("Type") == rel_type for element in self._internal())

    def part_of(self, rel_id: str) -> str:
        for element in self._internal():
            if element.get("Id") == rel_id:
                return self.package.resolve(self.source, element.get("Target", ""))
        raise Unsupported(f"{self.source} refers to relationship {rel_id[:40]!r}, which it does not have")

    def add(self, rel_type: str, part: str) -> str:
        """Relate `part`; returns the new relationship's id."""
        if self.root is None:
            self.root = etree.Element(f"{{{PKG_REL_NS}}}Relationships", nsmap={None: PKG_REL_NS})
            self.package.add(self.part, self.root, CT_RELS)
        else:
            self.package.edit(self.part)
        taken = {element.get("Id") for element in self.root.iter(f"{{{PKG_REL_NS}}}Relationship")}
        number = 1
        while f"rId{number}" in taken:
            number += 1
        _sub_element(self.root, f"{{{PKG_REL_NS}}}Relationship", {"Type": rel_type, "Target": f"/{part}", "Id": f"rId{number}"}, {})
        return f"rId{number}"


class Workbook:
    """xl/workbook.xml and its relationships: the sheets, in tab order."""

    def __init__(self, package: Package) -> None:
        self.package = package
        documents = package.relationships("").parts(REL_OFFICE_DOCUMENT)
        if len(documents) != 1:
            raise Unsupported("not one workbook part")
        self.part = documents[0]
        content_type = package.content_types.of(self.part)
        if content_type != CT_WORKBOOK:
            raise Unsupported(f"the workbook part is {content_type or 'untyped'} (macros, a template or strict OOXML)")
        self.root = package.xml(self.part)
        if self.root.tag != f"{{{MAIN_NS}}}workbook":
            raise Unsupported(f"the workbook's root is {self.root.tag[:100]} (strict OOXML?)")
        self.rels = package.relationships(self.part)
        self._sheets = self.root.find(f"{{{MAIN_NS}}}sheets")
        if self._sheets is None:
            raise Unsupported("no sheet list")
        self.sheets: dict[str, str] = {}  # name -> relationship id, in tab order
        for sheet in self._sheets.iterchildren(f"{{{MAIN_NS}}}sheet"):
            name, rel_id = sheet.get("name"), sheet.get(f"{{{DOC_REL_NS}}}id")
            if not name or not rel_id or name in self.sheets:
                raise Unsupported("a sheet without a name or part")
            self.sheets[name] = rel_id
        if not self.sheets:
            raise Unsupported("no sheets")

    def sheet_part(self, name: str) -> str:
        part = self.rels.part_of(self.sheets[name])
        if self.package.content_types.of(part) != CT_WORKSHEET:
            raise Unsupported(f"sheet {name[:40]!r} is not a worksheet")
        return part

    def styles(self) -> Styles:
        parts = self.rels.parts(REL_STYLES)
        if len(parts) != 1:
            raise Unsupported("not one styles part")
        return Styles(self.package, parts[0])

    def add_first_sheet(self, name: str, xml: bytes, local_names: list[tuple[str, str, bool]]) -> None:
        """A new worksheet `name` (its part's XML), first and open; the other sheets deselected.

        `local_names`: (name, value, hidden) of the defined names local to it (print titles, filter).
        The defined names local to the other sheets follow them one place on.
        """
        self._deselect_sheets()
        part = self.package.unused_name("xl/worksheets/sheet{}.xml")
        self.package.add(part, xml, CT_WORKSHEET)
        rel_id = self.rels.add(REL_WORKSHEET, part)
        self.package.edit(self.part)
        try:
            sheet_id = 1 + max((int(sheet.get("sheetId", "0")) for sheet in self._sheets.iterchildren(f"{{{MAIN_NS}}}sheet")), default=0)
        except ValueError as err:
            raise Unsupported("a sheetId is not a number") from err
        existing = next(self._sheets.iterchildren(f"{{{MAIN_NS}}}sheet"))
        prefix = _prefix_of(existing, DOC_REL_NS, "r")
        _sub_element(self._sheets, f"{{{MAIN_NS}}}sheet", {"name": name, "sheetId": str(sheet_id), f"{{{DOC_REL_NS}}}id": rel_id}, {prefix: DOC_REL_NS}, index=0)
        for view in self.root.iter(f"{{{MAIN_NS}}}workbookView"):
            view.set("activeTab", "0")
            view.set("firstSheet", "0")
        defined_names = self.root.find(f"{{{MAIN_NS}}}definedNames")
        if defined_names is None:
            after = max(i for i, child in enumerate(self.root) if child.tag in _BEFORE_DEFINED_NAMES)
            defined_names = _sub_element(self.root, f"{{{MAIN_NS}}}definedNames", {}, {}, index=after + 1)
        for defined in defined_names.iterchildren(f"{{{MAIN_NS}}}definedName"):
            if defined.get("localSheetId") is not None:
                try:
                    defined.set("localSheetId", str(int(defined.get("localSheetId")) + 1))
                except ValueError as err:
                    raise Unsupported("a localSheetId is not a number") from err
        for defined_name, value, hidden in local_names:
            attrib = {"name": defined_name, "localSheetId": "0"} | ({"hidden": "1"} if hidden else {})
            _sub_element(defined_names, f"{{{MAIN_NS}}}definedName", attrib, {}).text = value

    def _deselect_sheets(self) -> None:
        """Clear tabSelected on every sheet that has it, or Excel opens them grouped with the new one."""
        for name in self.sheets:
            part = self.rels.part_of(self.sheets[name])
            if _TAB_SELECTED.search(self.package.read(part)):
                for view in self.package.edit(part).iter(f"{{{MAIN_NS}}}sheetView"):
                    view.attrib.pop("tabSelected", None)


class Styles:
    """xl/styles.xml: fonts, fills and cell formats are appended (once each), never changed in place."""

    def __init__(self, package: Package, part: str) -> None:
        self.package, self.part = package, part
        self.root = package.xml(part)
        if self.root.tag != f"{{{MAIN_NS}}}styleSheet":
            raise Unsupported("odd styles part")
        lists = {}
        for name, least in (("fonts", 1), ("fills", 2), ("borders", 1), ("cellStyleXfs", 1), ("cellXfs", 1)):
            element = self.root.find(f"{{{MAIN_NS}}}{name}")
            if element is None or len(element) < least:
                raise Unsupported(f"styles without {name}")
            lists[name] = element
        self._fonts, self._fills, self._xfs = lists["fonts"], lists["fills"], lists["cellXfs"]
        self._xf_elements = [child for child in self._xfs if isinstance(child.tag, str)]
        if any(xf.tag != f"{{{MAIN_NS}}}xf" for xf in self._xf_elements):
            raise Unsupported("odd cellXfs")
        self._made: dict[tuple, int] = {}

    def _append(self, container: etree._Element, key: tuple, build) -> int:
        """The index of the entry `key`, appended to `container` by `build(container)` the first time."""
        if key not in self._made:
            self.package.edit(self.part)
            index = sum(1 for child in container if isinstance(child.tag, str))
            build(container)
            container.set("count", str(index + 1))
            self._made[key] = index
        return self._made[key]

    def font(self, *, bold: bool = False, size: int | None = None, colour: str = "", underline: str = "") -> int:
        """A font with only these properties (the others as the application defaults them)."""

        def build(fonts: etree._Element) -> None:
            font = _sub_element(fonts, f"{{{MAIN_NS}}}font", {}, {})
            if bold:
                _sub_element(font, f"{{{MAIN_NS}}}b", {"val": "1"}, {})
            if underline:
                _sub_element(font, f"{{{MAIN_NS}}}u", {"val": underline}, {})
            if size is not None:
                _sub_element(font, f"{{{MAIN_NS}}}sz", {"val": str(size)}, {})
            if colour:
                _sub_element(font, f"{{{MAIN_NS}}}color", {"rgb": colour}, {})

        return self._append(self._fonts, ("font", bold, size, colour, underline), build)

    def fill(self, rgb: str) -> int:
        """A solid fill of colour `rgb` (ARGB, "FFFFC7CE")."""

        def build(fills: etree._Element) -> None:
            pattern = _sub_element(_sub_element(fills, f"{{{MAIN_NS}}}fill", {}, {}), f"{{{MAIN_NS}}}patternFill", {"patternType": "solid"}, {})
            _sub_element(pattern, f"{{{MAIN_NS}}}fgColor", {"rgb": rgb}, {})
            _sub_element(pattern, f"{{{MAIN_NS}}}bgColor", {"rgb": rgb}, {})

        return self._append(self._fills, ("fill", rgb), build)

    def xf(self, *, font: int = 0, fill: int = 0, alignment: tuple[tuple[str, str], ...] = ()) -> int:
        """A cell format of the default number format and border with this font, fill and alignment."""

        def build(xfs: etree._Element) -> None:
            attrib = {"numFmtId": "0", "fontId": str(font), "fillId": str(fill), "borderId": "0", "xfId": "0"}
            attrib |= {"applyFont": "1"} if font else {}
            attrib |= {"applyFill": "1"} if fill else {}
            attrib |= {"applyAlignment": "1"} if alignment else {}
            xf = _sub_element(xfs, f"{{{MAIN_NS}}}xf", attrib, {})
            if alignment:
                _sub_element(xf, f"{{{MAIN_NS}}}alignment", dict(alignment), {})
            self._xf_elements.append(xf)

        return self._append(self._xfs, ("xf", font, fill, alignment), build)

    def with_fill(self, xf: int, fill: int) -> int:
        """Cell format `xf` with its fill replaced by `fill`: number format, font, border, alignment and protection kept."""
        if not 0 <= xf < len(self._xf_elements):
            raise Unsupported(f"a cell uses format {xf}, which styles.xml does not have")

        def build(xfs: etree._Element) -> None:
            clone = copy.deepcopy(self._xf_elements[xf])
            clone.set("fillId", str(fill))
            clone.set("applyFill", "1")
            xfs.append(clone)
            self._xf_elements.append(clone)

        return self._append(self._xfs, ("with_fill", xf, fill), build)


@dataclass(frozen=True)
class Note:
    """A cell's note (a legacy comment), its box `width` x `height` pixels."""

    text: str
    author: str
    width: int
    height: int


class Worksheet:
    """One worksheet part: cell formats and notes."""

    def __init__(self, package: Package, part: str) -> None:
        self.package, self.part = package, part
        self.root = package.xml(part)
        if self.root.tag != f"{{{MAIN_NS}}}worksheet":
            raise Unsupported(f"odd worksheet root {self.root.tag[:100]}")
        self._data = self.root.find(f"{{{MAIN_NS}}}sheetData")
        if self._data is None:
            raise Unsupported("a worksheet without sheetData")
        self._rows: dict[int, etree._Element] = {}
        for row in self._data.iterchildren(f"{{{MAIN_NS}}}row"):
            number = row.get("r")
            if number is None or not number.isdigit():
                raise Unsupported("a row without its number")
            self._rows[int(number)] = row

    # -- cell formats ------------------------------------------------------------------------------
    def style(self, address: str) -> int:
        """The cell format a cell shows: its own, else its row's (when set), else its column's."""
        row, column = split_address(address)
        cell = self._cell(row, column)
        if cell is not None:
            return self._int(cell.get("s", "0"))
        row_element = self._rows.get(row)
        if row_element is not None and row_element.get("customFormat") in ("1", "true"):
            return self._int(row_element.get("s", "0"))
        for col in self.root.iterfind(f"{{{MAIN_NS}}}cols/{{{MAIN_NS}}}col"):
            if self._int(col.get("min", "0")) <= column <= self._int(col.get("max", "0")):
                return self._int(col.get("style", "0"))
        return 0

    def set_style(self, address: str, xf: int) -> None:
        """Give the cell format `xf` to a cell, adding its <c> (and <row>) in order when it has none."""
        self.package.edit(self.part)
        row, column = split_address(address)
        cell = self._cell(row, column)
        if cell is None:
            cell = self._new_cell(row, column)
        cell.set("s", str(xf))

    @staticmethod
    def _int(text: str) -> int:
        if not text.isdigit():
            raise Unsupported(f"not a number: {text[:20]!r}")
        return int(text)

    def _cell(self, row: int, column: int) -> etree._Element | None:
        row_element = self._rows.get(row)
        if row_element is None:
            return None
        for cell in row_element.iterchildren(f"{{{MAIN_NS}}}c"):
            if split_address(cell.get("r", "")) == (row, column):
                return cell
        return None

    def _new_cell(self, row: int, column: int) -> etree._Element:
        row_element = self._rows.get(row)
        if row_element is None:
            later = [number for number in self._rows if number > row]
            index = self._data.index(self._rows[min(later)]) if later else None
            row_element = _sub_element(self._data, f"{{{MAIN_NS}}}row", {"r": str(row)}, {}, index=index)
            self._rows[row] = row_element
        # "spans" only helps a reader allocate: dropped rather than left wrong.
        row_element.attrib.pop("spans", None)
        index = None
        for i, cell in enumerate(row_element):
            namespace, local = _local(cell)
            if (namespace, local) == (MAIN_NS, "c") and split_address(cell.get("r", ""))[1] > column:
                index = i
                break
            if (namespace, local) == (MAIN_NS, "extLst"):
                index = i
                break
        cell = _sub_element(row_element, f"{{{MAIN_NS}}}c", {"r": f"{column_letter(column - 1)}{row}"}, {}, index=index)
        self._widen_dimension(row, column)
        return cell

    def _widen_dimension(self, row: int, column: int) -> None:
        dimension = self.root.find(f"{{{MAIN_NS}}}dimension")
        if dimension is None:
            return
        corners = [split_address(corner.replace("$", "")) for corner in dimension.get("ref", "").split(":")]
        rows, columns = [r for r, _ in corners] + [row], [c for _, c in corners] + [column]
        dimension.set("ref", f"{column_letter(min(columns) - 1)}{min(rows)}:{column_letter(max(columns) - 1)}{max(rows)}")

    # -- notes -----------------------------------------------------------------------------------------
    def notes(self) -> dict[str, tuple[str, str]]:
        """(author, text) of each cell's note, the text as openpyxl reads it (plain text and runs, joined)."""
        rels = self.package.relationships(self.part)
        parts = rels.parts(REL_COMMENTS)
        if not parts:
            return {}
        root = self.package.xml(parts[0])
        authors = [author.text or "" for author in root.iterfind(f"{{{MAIN_NS}}}authors/{{{MAIN_NS}}}author")]
        found = {}
        for comment in root.iterfind(f"{{{MAIN_NS}}}commentList/{{{MAIN_NS}}}comment"):
            author_id = self._int(comment.get("authorId", ""))
            if author_id >= len(authors):
                raise Unsupported("a comment by an author not listed")
            text = comment.find(f"{{{MAIN_NS}}}text")
            pieces = [] if text is None else [text.findtext(f"{{{MAIN_NS}}}t") or ""] + [run.findtext(f"{{{MAIN_NS}}}t") or "" for run in text.iterfind(f"{{{MAIN_NS}}}r")]
            found[comment.get("ref", "")] = (authors[author_id], "".join(pieces))
        return found

    def set_notes(self, notes: dict[str, Note]) -> None:
        """Give each cell its note, replacing the one it had; other cells' notes are kept as they are."""
        rels = self.package.relationships(self.part)
        if rels.has(REL_THREADED_COMMENTS):
            raise Unsupported("threaded comments")
        comments = rels.parts(REL_COMMENTS)
        legacy = self.root.find(f"{{{MAIN_NS}}}legacyDrawing")
        if comments:
            comments_root = self.package.edit(comments[0])
        else:
            comments_root = parse_xml(f'<comments xmlns="{MAIN_NS}"><authors/><commentList/></comments>'.encode())
            part = self.package.unused_name("xl/comments/comment{}.xml")
            self.package.add(part, comments_root, CT_COMMENTS)
            rels.add(REL_COMMENTS, part)
        if legacy is not None:
            vml_root = self.package.edit(rels.part_of(legacy.get(f"{{{DOC_REL_NS}}}id", "")))
        elif comments:
            raise Unsupported("comments without their drawing")
        else:
            vml_root = parse_xml(_new_vml(self._unused_idmap()))
            part = self.package.unused_name("xl/drawings/commentsDrawing{}.vml")
            self.package.add(part, vml_root, CT_VML)
            self._insert_legacy_drawing(rels.add(REL_VML, part))
        _write_comments(comments_root, notes)
        _write_shapes(vml_root, notes)

    def _insert_legacy_drawing(self, rel_id: str) -> None:
        self.package.edit(self.part)
        rank = WORKSHEET_ORDER.index("legacyDrawing")
        index = None
        for i, child in enumerate(self.root):
            namespace, local = _local(child)
            if not local:
                continue
            if namespace != MAIN_NS or local not in WORKSHEET_ORDER:
                raise Unsupported(f"unknown worksheet element {local[:40]}")
            if WORKSHEET_ORDER.index(local) > rank:
                index = i
                break
        prefix = _prefix_of(self.root, DOC_REL_NS, "r")
        _sub_element(self.root, f"{{{MAIN_NS}}}legacyDrawing", {f"{{{DOC_REL_NS}}}id": rel_id}, {prefix: DOC_REL_NS}, index=index)

    def _unused_idmap(self) -> int:
        """A VML drawing block number no other drawing in the package uses (shape ids are 1024 a block)."""
        used = [0]
        for name in self.package.names():
            if name.lower().endswith(".vml"):
                used += [int(number) for match in _VML_IDMAP.finditer(self.package.read(name)) for number in re.findall(rb"\d+", match.group(1))]
        return max(used) + 1


def _write_comments(root: etree._Element, notes: dict[str, Note]) -> None:
    authors, comment_list = root.find(f"{{{MAIN_NS}}}authors"), root.find(f"{{{MAIN_NS}}}commentList")
    if authors is None or comment_list is None:
        raise Unsupported("odd comments part")
    for comment in list(comment_list.iterchildren(f"{{{MAIN_NS}}}comment")):
        if comment.get("ref") in notes:
            comment_list.remove(comment)
    names = [author.text or "" for author in authors.iterchildren(f"{{{MAIN_NS}}}author")]
    for address, note in notes.items():
        if note.author not in names:
            _sub_element(authors, f"{{{MAIN_NS}}}author", {}, {}).text = note.author
            names.append(note.author)
        comment = _sub_element(comment_list, f"{{{MAIN_NS}}}comment", {"ref": address, "authorId": str(names.index(note.author)), "shapeId": "0"}, {})
        text = _sub_element(_sub_element(comment, f"{{{MAIN_NS}}}text", {}, {}), f"{{{MAIN_NS}}}t", {}, {})
        text.text = note.text
        if note.text != note.text.strip():
            text.set(f"{{{XML_NS}}}space", "preserve")


def _new_vml(idmap: int) -> bytes:
    """An empty VML drawing with the shape type of notes (what Excel and openpyxl write)."""
    return (
        f'<xml xmlns:v="{VML_NS}" xmlns:o="{OFFICE_NS}" xmlns:x="{EXCEL_NS}">'
        f'<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{idmap}"/></o:shapelayout>'
        f'{_NOTE_SHAPE_TYPE}</xml>'
    ).encode()


_NOTE_SHAPE_TYPE = (
    f'<v:shapetype xmlns:v="{VML_NS}" xmlns:o="{OFFICE_NS}" id="_x0000_t202" coordsize="21600,21600" o:spt="202" '
    'path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
)


def _write_shapes(root: etree._Element, notes: dict[str, Note]) -> None:
    """The VML boxes that show the notes: one per cell (any it had replaced), hidden until hovered."""
    cells = {split_address(address): note for address, note in notes.items()}
    numbers = []
    for shape in list(root.iter(f"{{{VML_NS}}}shape")):
        # Excel numbers shapes by o:spid (and id); a new shape takes a number neither uses.
        for shape_id in (shape.get("id", ""), shape.get(f"{{{OFFICE_NS}}}spid", "")):
            match = _VML_SHAPE_ID.search(shape_id)
            if match:
                numbers.append(int(match.group(1)))
        data = shape.find(f"{{{EXCEL_NS}}}ClientData")
        if data is not None and data.get("ObjectType") == "Note":
            row, column = data.findtext(f"{{{EXCEL_NS}}}Row", ""), data.findtext(f"{{{EXCEL_NS}}}Column", "")
            if row.strip().isdigit() and column.strip().isdigit() and (int(row) + 1, int(column) + 1) in cells:
                shape.getparent().remove(shape)
    if root.find(f"{{{VML_NS}}}shapetype[@id='_x0000_t202']") is None:
        root.append(parse_xml(_NOTE_SHAPE_TYPE.encode()))
    idmap = root.find(f"{{{OFFICE_NS}}}shapelayout/{{{OFFICE_NS}}}idmap")
    block = re.match(r"\s*(\d+)", idmap.get("data", "") if idmap is not None else "")
    number = max(numbers, default=1024 * (int(block.group(1)) if block else 1))
    for (row, column), note in cells.items():
        number += 1
        root.append(parse_xml(_note_shape(number, row - 1, column - 1, note)))


def _note_shape(number: int, row: int, column: int, note: Note) -> bytes:
    """A note's box as openpyxl writes it (Excel places a box that has no anchor beside its cell)."""
    return (
        f'<v:shape xmlns:v="{VML_NS}" xmlns:o="{OFFICE_NS}" xmlns:x="{EXCEL_NS}" id="_x0000_s{number}" type="#_x0000_t202" '
        f'style="position:absolute; margin-left:59.25pt;margin-top:1.5pt;width:{note.width}px;height:{note.height}px;z-index:1;visibility:hidden" '
        'fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/><v:shadow color="black" obscured="t"/>'
        '<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto"><div style="text-align:left"/></v:textbox>'
        '<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/><x:AutoFill>False</x:AutoFill>'
        f"<x:Row>{row}</x:Row><x:Column>{column}</x:Column></x:ClientData></v:shape>"
    ).encode()


@dataclass
class NewSheet:
    """A worksheet written from scratch: text cells with their formats, and its layout.

    `cells`: (row, column) -> (text or None, xf); `heights` by row and `widths` by column; `merged`
    and `autofilter` ranges ("B3:G3"); `links`: cell -> place in the workbook ("'Data'!E5");
    `frozen_rows`: rows kept in view above the scrolling part; `page_setup`: <pageSetup> attributes.
    """

    cells: dict[tuple[int, int], tuple[str | None, int]] = field(default_factory=dict)
    heights: dict[int, float] = field(default_factory=dict)
    widths: dict[int, float] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    frozen_rows: int = 0
    autofilter: str = ""
    fit_to_page: bool = False
    page_setup: dict[str, str] = field(default_factory=dict)

    def to_xml(self, *, selected: bool) -> bytes:
        by_row: dict[int, list[int]] = {row: [] for row in self.heights}
        for row, column in sorted(self.cells):
            by_row.setdefault(row, []).append(column)
        last_column = max((column for _, column in self.cells), default=1)
        out = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN_NS}" xmlns:r="{DOC_REL_NS}">']
        if self.fit_to_page:
            out.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
        out.append(f'<dimension ref="A1:{column_letter(last_column - 1)}{max(by_row, default=1)}"/>')
        out.append('<sheetViews><sheetView tabSelected="1" workbookViewId="0">' if selected else '<sheetViews><sheetView workbookViewId="0">')
        if self.frozen_rows:
            top = self.frozen_rows + 1
            out.append(f'<pane ySplit="{self.frozen_rows}" topLeftCell="A{top}" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A1" sqref="A1"/>')
        out.append('</sheetView></sheetViews><sheetFormatPr baseColWidth="8" defaultRowHeight="15"/>')
        if self.widths:
            out.append("<cols>" + "".join(f'<col min="{c}" max="{c}" width="{w:g}" customWidth="1"/>' for c, w in sorted(self.widths.items())) + "</cols>")
        out.append("<sheetData>")
        for row in sorted(by_row):
            height = self.heights.get(row)
            out.append(f'<row r="{row}" ht="{height:g}" customHeight="1">' if height is not None else f'<row r="{row}">')
            for column in by_row[row]:
                text, xf = self.cells[(row, column)]
                reference = f"{column_letter(column - 1)}{row}"
                if not text:
                    out.append(f'<c r="{reference}" s="{xf}"/>')
                else:
                    space = ' xml:space="preserve"' if text != text.strip() else ""
                    out.append(f'<c r="{reference}" s="{xf}" t="inlineStr"><is><t{space}>{xml_text(text)}</t></is></c>')
            out.append("</row>")
        out.append("</sheetData>")
        if self.autofilter:
            out.append(f'<autoFilter ref="{self.autofilter}"/>')
        if self.merged:
            out.append(f'<mergeCells count="{len(self.merged)}">' + "".join(f'<mergeCell ref="{ref}"/>' for ref in self.merged) + "</mergeCells>")
        if self.links:
            out.append("<hyperlinks>" + "".join(f'<hyperlink ref="{ref}" location="{_attribute(place)}"/>' for ref, place in self.links.items()) + "</hyperlinks>")
        out.append('<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>')
        if self.page_setup:
            out.append("<pageSetup" + "".join(f' {name}="{_attribute(value)}"' for name, value in self.page_setup.items()) + "/>")
        out.append("</worksheet>")
        return "".join(out).encode("utf-8")
