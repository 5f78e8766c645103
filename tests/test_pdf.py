"""PDF of the report through LibreOffice: the text survives, the TOC is filled in, failures are errors.

LibreOffice exits 0 whatever happens, so every test checks the PDF itself: `pdftotext` for the
words, `pdfinfo` for the pages. The report converted is made by the real pipeline from two
hand-filled workbooks (GEO and ROU, 2025), so its headline figure is known: 15 + 700 victims.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import tempfile
import threading
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from pipeline import pdf
from pipeline.cli import run_pipeline
from tests.conftest import require_soffice, require_uno_python, write_submission

YEAR = 2025
VALUES = {  # what the two focal points reported: TIP_VIC 15 + 700 = 715 is the headline total
    "GEO": {("TIP_VIC", "TOTAL"): 15, ("TIP_OFF", "TOTAL"): 9, ("DRG_SZ_HER", "TOTAL"): 2.5},
    "ROU": {("TIP_VIC", "TOTAL"): 700, ("TIP_OFF", "TOTAL"): 170, ("DRG_SZ_HER", "TOTAL"): 30.0},
}
HEADLINE = "715"
TOC_PLACEHOLDERS = ("No table of contents entries found", "Right-click to update", "Update field")
PAGES_RANGE = range(3, 80)  # the sample report with all 13 states has 33 pages


# -- helpers ----------------------------------------------------------------------------------------
def pdf_pages(path: Path) -> list[str]:
    """The text of each page, as pdftotext reads it."""
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext (poppler-utils) is required in CI: .ci/run installs it")
        pytest.skip("pdftotext (poppler-utils) is not installed")
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True)
    return out.stdout.split("\f")


def one_line(text: str) -> str:
    """All whitespace runs made one space (table cells and headings wrap over lines)."""
    return " ".join(text.split())


def pdf_text(path: Path) -> str:
    return one_line(" ".join(pdf_pages(path)))


def toc_docx(path: Path, headings: list[str], *, simple: bool = False) -> Path:
    """A small .docx: a Word TOC field holding Word's placeholder text, then one heading per page."""
    document = docx.Document()
    document.add_paragraph("Contents")
    paragraph = document.add_paragraph()
    instruction = 'TOC \\o "1-3" \\h \\z \\u'
    if simple:
        field = OxmlElement("w:fldSimple")
        field.set(qn("w:instr"), instruction)
        run = OxmlElement("w:r")
        text = OxmlElement("w:t")
        text.text = "No table of contents entries found."
        run.append(text)
        field.append(run)
        paragraph._p.append(field)
    else:
        def char(kind: str) -> None:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
            paragraph.add_run()._r.append(element)

        char("begin")
        instr = OxmlElement("w:instrText")
        instr.set(qn("xml:space"), "preserve")
        instr.text = instruction
        paragraph.add_run()._r.append(instr)
        char("separate")
        paragraph.add_run("No table of contents entries found.")
        char("end")
    for heading in headings:
        document.add_page_break()
        document.add_heading(heading, 1)
        document.add_paragraph("Text of the section. " * 40)
    document.save(path)
    return path


@pytest.fixture
def work_dirs(monkeypatch) -> list[Path]:
    """The private folders (profile, copy of the .docx) the conversions make, recorded to check cleanup."""
    made: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args, **kwargs):
        made.append(Path(real_mkdtemp(*args, **kwargs)))
        return str(made[-1])

    monkeypatch.setattr(pdf.tempfile, "mkdtemp", recording_mkdtemp)
    return made


def processes_using(folder: Path) -> list[str]:
    """Command lines of running processes that name `folder` (a soffice left behind would)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in text:
            found.append(text)
    return found


def assert_cleaned_up(work_dirs: list[Path]) -> None:
    assert work_dirs, "no private LibreOffice folder was made"
    for folder in work_dirs:
        assert not folder.exists(), f"{folder} was left behind"
        if Path("/proc").is_dir():
            assert processes_using(folder) == [], "a LibreOffice process was left running"


# -- the report -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def report_docx(tmp_path_factory, ref) -> Path:
    root = tmp_path_factory.mktemp("pdf")
    for iso3, values in VALUES.items():
        write_submission(root / "inputs" / str(YEAR), ref, iso3, YEAR, values)
    return run_pipeline(YEAR, root / "inputs", root / "outputs").report


@pytest.fixture(scope="module")
def converted(report_docx) -> pdf.PdfResult:
    soffice = require_soffice()
    before = report_docx.read_bytes()
    result = pdf.convert_to_pdf(report_docx, soffice=soffice)
    assert report_docx.read_bytes() == before, "the .docx was modified"
    return result


@pytest.mark.libreoffice
def test_pdf_of_the_report_holds_the_headline_figure_and_every_member_state(converted, report_docx, ref):
    assert converted.path == report_docx.with_suffix(".pdf") and converted.path.is_file()
    assert converted.path.stat().st_mode & 0o777 == 0o644  # shared like the .docx, not mkstemp's 0600
    assert not [p.name for p in report_docx.parent.iterdir() if p.name.startswith((".", "~"))]  # no temp or lock file
    text = pdf_text(converted.path)
    assert f"Annual Assessment of the Trends of Transnational Crime in the BSEC Region — {YEAR}" in text
    assert re.search(rf"(?<![\d,]){HEADLINE}(?![\d,])", text), "headline TIP_VIC total missing"
    assert "2 of 13" in text  # its coverage
    missing = [ref.state_by_iso3[iso3].name for iso3 in ref.members_in(YEAR) if ref.state_by_iso3[iso3].name not in text]
    assert missing == []
    assert "{{" not in text and "{%" not in text  # no template tag survived


@pytest.mark.libreoffice
def test_pdf_pages_are_a4_and_in_a_sensible_range(converted):
    assert converted.pages in PAGES_RANGE
    assert pdf.page_count(converted.path) == converted.pages
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(converted.path)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"Page size:\s+595(\.\d+)? x 841(\.\d+)? pts", info), info


@pytest.mark.libreoffice
def test_page_count_without_pdfinfo_counts_page_objects(converted, monkeypatch):
    which = shutil.which
    monkeypatch.setattr(pdf.shutil, "which", lambda name: None if name == "pdfinfo" else which(name))
    assert pdf.page_count(converted.path) == converted.pages


@pytest.mark.libreoffice
def test_report_toc_is_filled_in_when_the_template_has_one(converted, report_docx):
    if not pdf.docx_has_toc(report_docx):
        pytest.skip("the report template has no TOC field yet")
    require_uno_python(require_soffice())
    assert converted.method == "uno" and "table of contents updated" in converted.note
    pages = pdf_pages(converted.path)
    assert not [p for p in TOC_PLACEHOLDERS if p in one_line(" ".join(pages))]
    # Entries "2.1 Who reported.......4": each names a heading found on the page it gives.
    entries = re.findall(r"^(\S.*?)\s*\.{4,}\s*(\d+)\s*$", "\n".join(pages[:4]), re.MULTILINE)
    assert len(entries) >= 5, pages[:4]
    wrong = [(title, page) for title, page in entries
             if not 0 < int(page) <= len(pages) or one_line(title) not in one_line(pages[int(page) - 1])]
    assert wrong == []


# -- the table of contents, on a hand-made document ---------------------------------------------------
@pytest.mark.libreoffice
@pytest.mark.parametrize("simple", [False, True], ids=["complex-field", "fldSimple"])
def test_uno_method_fills_in_the_table_of_contents_with_page_numbers(tmp_path, simple):
    soffice = require_soffice()
    require_uno_python(soffice)
    headings = ["Key figures", "Trafficking in persons", "Annex A. Symbols"]
    source = toc_docx(tmp_path / "toc.docx", headings, simple=simple)
    assert pdf.docx_has_toc(source)
    result = pdf.convert_to_pdf(source, tmp_path / "out" / "toc.pdf", soffice=soffice, method="uno")
    text = pdf_text(result.path)
    assert (result.method, result.pages) == ("uno", 4)
    # LibreOffice now and then segfaults and convert_to_pdf tries once more (tested below); the note
    # then says so after the same words.
    assert re.fullmatch(r"table of contents updated( \(second try: the first ended with .+\))?", result.note), result.note
    assert not [p for p in TOC_PLACEHOLDERS if p in text]
    # Each heading is listed with the page it starts on (pages 2, 3, 4), before the body begins.
    contents = text.split("Text of the section")[0]
    for page, heading in enumerate(headings, start=2):
        assert re.search(rf"{re.escape(heading)}\W*{page}\b", contents), contents


@pytest.mark.libreoffice
def test_without_a_uno_python_the_fallback_says_the_toc_was_not_updated(tmp_path, monkeypatch):
    soffice = require_soffice()
    monkeypatch.setattr(pdf, "find_uno_python", lambda soffice: None)
    source = toc_docx(tmp_path / "toc.docx", ["Key figures"])
    result = pdf.convert_to_pdf(source, soffice=soffice)
    assert result.method == "convert-to" and "NOT updated" in result.note
    assert result.pages == 2 and "Key figures" in pdf_text(result.path)


# -- concurrency, determinism, failures -----------------------------------------------------------
@pytest.mark.libreoffice
def test_two_conversions_at_once_both_succeed_with_the_same_pages(report_docx, converted, tmp_path, work_dirs):
    soffice = require_soffice()
    results: dict[int, pdf.PdfResult | BaseException] = {}

    def convert(i: int) -> None:
        try:
            results[i] = pdf.convert_to_pdf(report_docx, tmp_path / f"copy{i}.pdf", soffice=soffice)
        except BaseException as err:  # noqa: BLE001 reported by the assertion below
            results[i] = err

    threads = [threading.Thread(target=convert, args=(i,)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=400)
    assert all(isinstance(r, pdf.PdfResult) for r in results.values()) and len(results) == 2, results
    assert results[1].pages == results[2].pages == converted.pages  # type: ignore[union-attr]
    assert pdf_text(results[1].path) == pdf_text(results[2].path) == pdf_text(converted.path)  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy1.pdf", "copy2.pdf"]
    assert len(work_dirs) >= 2 and len(set(work_dirs)) == len(work_dirs)  # a profile each (and each try)
    assert_cleaned_up(work_dirs)


def _crashing_once(converted: pdf.PdfResult, calls: list[Path], crashes: int):
    """A conversion that crashes (a segfault of the UNO bridge) `crashes` times, then writes the PDF."""

    def convert(soffice, source, target, work, deadline):
        calls.append(work)
        if len(calls) <= crashes:
            raise pdf._Crashed(f"LibreOffice could not convert {deadline.name} to PDF: exit code -11")
        shutil.copyfile(converted.path, target)
        return "table of contents updated"

    return convert


def test_a_libreoffice_crash_is_tried_once_more_from_a_fresh_profile(report_docx, converted, tmp_path, monkeypatch):
    calls: list[Path] = []
    monkeypatch.setattr(pdf, "_convert_with_convert_to", _crashing_once(converted, calls, crashes=1))
    result = pdf.convert_to_pdf(report_docx, tmp_path / "report.pdf", soffice="soffice", method="convert-to")
    assert result.pages == converted.pages and result.path.is_file()
    assert result.note == "table of contents updated (second try: the first ended with LibreOffice could not convert " \
                          f"{report_docx.name} to PDF: exit code -11)"
    assert len(calls) == 2 and calls[0] != calls[1] and not any(work.exists() for work in calls)


def test_two_crashes_are_a_pdf_error_and_leave_no_file(report_docx, converted, tmp_path, monkeypatch):
    calls: list[Path] = []
    monkeypatch.setattr(pdf, "_convert_with_convert_to", _crashing_once(converted, calls, crashes=2))
    with pytest.raises(pdf.PdfError, match="exit code -11"):
        pdf.convert_to_pdf(report_docx, tmp_path / "report.pdf", soffice="soffice", method="convert-to")
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []


def _garbage(kind: str, path: Path) -> Path:
    if kind == "bytes":
        path.write_bytes(b"This is not a Word document.\n" * 20)
    elif kind == "zip-without-document":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("hello.txt", "hello")
    else:  # a zip that looks like a .docx but whose XML is broken: only LibreOffice can tell
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("[Content_Types].xml", "<Types")
            zf.writestr("word/document.xml", "<w:document><w:body><w:p>not closed")
    return path


@pytest.mark.libreoffice
@pytest.mark.parametrize("kind", ["bytes", "zip-without-document", "broken-xml"])
@pytest.mark.parametrize("method", ["uno", "convert-to"])
def test_garbage_docx_is_a_pdf_error_and_leaves_nothing(tmp_path, work_dirs, kind, method):
    soffice = require_soffice()
    if method == "uno":
        require_uno_python(soffice)
    source = _garbage(kind, tmp_path / "report.docx")
    with pytest.raises(pdf.PdfError) as caught:
        pdf.convert_to_pdf(source, soffice=soffice, method=method)
    assert "\n" not in str(caught.value) and "report.docx" in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.docx"]  # no PDF, no temp file, no lock file
    if kind == "broken-xml":  # the two others are refused before LibreOffice starts
        assert_cleaned_up(work_dirs)


@pytest.mark.libreoffice
def test_a_timeout_is_a_pdf_error_and_kills_libreoffice(report_docx, tmp_path, work_dirs):
    soffice = require_soffice()
    with pytest.raises(pdf.PdfError, match="timed out after 0.5 s"):
        pdf.convert_to_pdf(report_docx, tmp_path / "late.pdf", soffice=soffice, timeout=0.5)
    assert list(tmp_path.iterdir()) == []
    assert_cleaned_up(work_dirs)


@pytest.mark.libreoffice
def test_a_soffice_that_is_not_libreoffice_is_a_pdf_error(report_docx, tmp_path):
    fake = tmp_path / "soffice"
    fake.write_text("#!/bin/sh\nexit 0\n")  # exits 0 and writes nothing, like a failing LibreOffice
    fake.chmod(0o755)
    require_uno_python(require_soffice())
    for method in ("uno", "convert-to"):
        with pytest.raises(pdf.PdfError):
            pdf.convert_to_pdf(report_docx, tmp_path / "out.pdf", soffice=str(fake), method=method, timeout=20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["soffice"]


# -- no LibreOffice needed ------------------------------------------------------------------------
def test_missing_docx_is_a_pdf_error(tmp_path):
    with pytest.raises(pdf.PdfError, match="does not exist"):
        pdf.convert_to_pdf(tmp_path / "absent.docx", soffice="/nonexistent/soffice")


def test_docx_has_toc_sees_both_field_forms_and_not_plain_text(tmp_path):
    assert pdf.docx_has_toc(toc_docx(tmp_path / "a.docx", ["One"]))
    assert pdf.docx_has_toc(toc_docx(tmp_path / "b.docx", ["One"], simple=True))
    plain = docx.Document()
    plain.add_paragraph("TOC and other words")
    plain.save(tmp_path / "c.docx")
    assert not pdf.docx_has_toc(tmp_path / "c.docx")
    assert not pdf.docx_has_toc(_garbage("bytes", tmp_path / "d.docx"))


def test_find_soffice_returns_an_executable_or_none():
    found = pdf.find_soffice()
    assert found is None or os.access(found, os.X_OK)


def test_uno_script_imports_neither_the_pipeline_nor_pandas():
    """lo_export.py runs under the system python3, which has neither."""
    tree = ast.parse(pdf.UNO_SCRIPT.read_text(encoding="utf-8"))
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert modules <= {"__future__", "argparse", "sys", "time", "pathlib", "uno", "com"}, modules
