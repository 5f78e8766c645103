"""PDF: the Word report (.docx) -> a PDF beside it (or at a given path), through LibreOffice headless.

Input: a .docx file (checked to be one: LibreOffice would turn any other bytes into a "valid" PDF
of their text). Output: the PDF, written to a temporary file in the target folder and moved into
place only after it is checked (it exists, starts with %PDF, and has pages), so a failed
conversion never leaves a PDF, whole or partial. Must not: touch the .docx, share a LibreOffice
profile between calls, or wait without a deadline.

Two methods, the first that is available:
    "uno"         soffice listens on a private pipe; `pipeline/lo_export.py`, run with a Python that
                  can `import uno` (the system python3 with python3-uno; the project's environment
                  usually cannot), loads the document hidden, updates the table of contents and the
                  other indexes and fields, and stores the PDF.
    "convert-to"  `soffice --convert-to pdf`: the table of contents stays as the .docx holds it
                  (placeholder text, no page numbers); the result's note says so.

LibreOffice exits 0 even when it writes nothing, so the output is what is checked, never the exit
code. Every call starts its own soffice with a fresh profile in a temporary folder (two soffice
sharing a profile silently drop a conversion), stops it afterwards, kills its process group if it
does not stop, and removes the profile. `find_soffice() is None` is not an error here: the command
line reports a missing LibreOffice in one line and goes on without the PDF.

    PipelineError
      PdfError(PipelineError)   the conversion failed, timed out, or gave no usable PDF
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.errors import PipelineError

__all__ = ["PdfError", "PdfResult", "convert_to_pdf", "docx_has_toc", "find_soffice", "find_uno_python", "page_count"]

UNO_SCRIPT = Path(__file__).with_name("lo_export.py")
SOFFICE_NAMES = ("soffice", "libreoffice")
SOFFICE_PATHS = (
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice*/program/soffice",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
)
STOP_GRACE_S = 10.0  # after the script asked soffice to terminate, before its process group is killed
OFFICE_GONE_GRACE_S = 5.0  # the UNO script still running this long after soffice exited: it will not finish
POLL_S = 0.2
PROBE_TIMEOUT_S = 20.0  # `python -c "import uno"`
_TOC_FIELD = re.compile(r"(?<![A-Za-z])TOC\s+\\[a-z]")  # TOC \o "1-3" \h ..., in instrText or w:instr
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


class PdfError(PipelineError):
    """The PDF could not be made: LibreOffice failed or timed out, or its output is not a usable PDF."""


class _Crashed(PdfError):
    """LibreOffice or its UNO bridge was killed by a signal (a segfault): worth one more try."""


@dataclass(frozen=True)
class PdfResult:
    path: Path
    pages: int
    method: Literal["uno", "convert-to"]
    note: str  # one line for the user: what was updated, or what was not
    seconds: float


# -- finding the tools ------------------------------------------------------------------------------
def find_soffice() -> str | None:
    """The LibreOffice binary: soffice/libreoffice on the PATH, else the usual install folders; None if absent."""
    for name in SOFFICE_NAMES:
        found = shutil.which(name)
        if found:
            return found
    for pattern in SOFFICE_PATHS:
        for candidate in sorted(glob.glob(pattern), reverse=True):  # the newest /opt/libreoffice7.x first
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    return None


@functools.lru_cache(maxsize=8)
def find_uno_python(soffice: str) -> str | None:
    """A Python interpreter that can `import uno` for this LibreOffice, or None.

    LibreOffice's own bundled Python first (the TDF builds under /opt and on macOS), then the
    system python3 (Debian/Ubuntu python3-uno), then python3 on the PATH.
    """
    program_dir = Path(os.path.realpath(soffice)).parent
    candidates = [
        program_dir / "python",  # /opt/libreoffice*/program/python (a wrapper script)
        program_dir.parent / "Resources" / "python",  # macOS LibreOffice.app
        Path("/usr/bin/python3"),
    ]
    on_path = shutil.which("python3")
    if on_path:
        candidates.append(Path(on_path))
    seen: set[str] = set()
    for candidate in candidates:
        if not candidate.is_file() or str(candidate) in seen:
            continue
        seen.add(str(candidate))
        try:
            probe = subprocess.run([str(candidate), "-I", "-c", "import uno"], capture_output=True,
                                   timeout=PROBE_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return str(candidate)
    return None


def page_count(pdf: Path) -> int:
    """Pages of a PDF, from `pdfinfo` (poppler-utils), else by counting /Type /Page objects; 0 if unreadable."""
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo:
        try:
            info = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            return 0
        match = re.search(r"^Pages:\s+(\d+)\s*$", info.stdout, re.MULTILINE)
        return int(match.group(1)) if info.returncode == 0 and match else 0
    try:
        return len(_PAGE_OBJECT.findall(pdf.read_bytes()))
    except OSError:
        return 0


def docx_has_toc(docx: Path) -> bool:
    """Whether the document holds a Word table-of-contents field (`TOC \\o "1-3" ...`)."""
    try:
        with zipfile.ZipFile(docx) as zf:
            xml = zf.read("word/document.xml").decode("utf-8", errors="replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return False
    return bool(_TOC_FIELD.search(xml))


# -- conversion -------------------------------------------------------------------------------------
def convert_to_pdf(docx: Path, pdf: Path | None = None, *, timeout: float = 180, soffice: str | None = None,
                   method: Literal["auto", "uno", "convert-to"] = "auto") -> PdfResult:
    """Convert `docx` to `pdf` (default: the same name with .pdf, beside it) and check the result.

    `soffice` defaults to `find_soffice()`; `method="auto"` uses "uno" when a Python with `uno` is
    found, else "convert-to". The whole call is bounded by `timeout` seconds. Raises PdfError.
    """
    started = time.monotonic()
    docx = Path(docx)
    pdf = Path(pdf) if pdf is not None else docx.with_suffix(".pdf")
    _check_docx(docx)
    soffice = soffice or find_soffice()
    if soffice is None:
        raise PdfError("LibreOffice (soffice) was not found: install it to get the PDF")
    uno_python = find_uno_python(soffice) if method in ("auto", "uno") else None
    if method == "uno" and uno_python is None:
        raise PdfError("no Python with the LibreOffice UNO bridge was found (Debian/Ubuntu: apt install python3-uno)")
    chosen: Literal["uno", "convert-to"] = "uno" if uno_python else "convert-to"

    pdf.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=pdf.parent, prefix=f".{pdf.stem}.", suffix=".pdf.tmp")
    os.close(fd)
    staged = Path(tmp_name)
    deadline = _Deadline(started + timeout, timeout, docx.name)
    try:
        try:
            note = _convert_once(docx, staged, chosen, soffice, uno_python, deadline)
        except _Crashed as crash:
            # Headless LibreOffice, and the UNO bridge more often, now and then segfaults on a
            # document it converts fine the next time (seen under load): one more try, from a fresh
            # profile, within the same deadline.
            note = _convert_once(docx, staged, chosen, soffice, uno_python, deadline)
            note += f" (second try: the first ended with {crash})"
        pages = _check_pdf(staged, docx)
        os.chmod(staged, 0o644)  # mkstemp creates 0600; the report is meant to be shared
        os.replace(staged, pdf)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return PdfResult(path=pdf, pages=pages, method=chosen, note=note, seconds=round(time.monotonic() - started, 2))


def _convert_once(docx: Path, staged: Path, chosen: str, soffice: str, uno_python: str | None, deadline: _Deadline) -> str:
    """One conversion of `docx` into `staged`, in a work folder (and LibreOffice profile) of its own."""
    work = Path(tempfile.mkdtemp(prefix="crimetrends-pdf-"))
    try:
        # A copy under a plain name: LibreOffice's lock file and any odd characters stay in `work`.
        source = work / "report.docx"
        shutil.copyfile(docx, source)
        if chosen == "uno":
            return _convert_uno(soffice, uno_python, source, staged, work, deadline)  # type: ignore[arg-type]
        return _convert_with_convert_to(soffice, source, staged, work, deadline)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_docx(docx: Path) -> None:
    if not docx.is_file():
        raise PdfError(f"{docx} does not exist")
    try:
        with zipfile.ZipFile(docx) as zf:
            if "word/document.xml" not in zf.namelist():
                raise PdfError(f"{docx.name} is not a Word document (no word/document.xml)")
    except zipfile.BadZipFile as err:
        raise PdfError(f"{docx.name} is not a Word document (not a zip file)") from err


def _check_pdf(path: Path, docx: Path) -> int:
    """Pages of the converted file; PdfError unless it is a PDF with at least one page."""
    try:
        with path.open("rb") as fh:
            head = fh.read(5)
    except OSError:
        head = b""
    if not head.startswith(b"%PDF"):
        raise PdfError(f"LibreOffice wrote no PDF for {docx.name}")
    pages = page_count(path)
    if pages < 1:
        raise PdfError(f"the PDF LibreOffice wrote for {docx.name} has no readable pages")
    return pages


def _profile_url(work: Path) -> str:
    return (work / "profile").as_uri()


@dataclass(frozen=True)
class _Deadline:
    at: float  # time.monotonic() value
    timeout: float
    name: str

    def left(self) -> float:
        """Seconds left; PdfError once none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.expired()
        return left

    def expired(self) -> PdfError:
        return PdfError(f"PDF conversion of {self.name} timed out after {self.timeout:g} s")


def _convert_uno(soffice: str, uno_python: str, source: Path, target: Path, work: Path, deadline: _Deadline) -> str:
    pipe = f"crimetrends_{os.getpid()}_{uuid.uuid4().hex}"
    office = _start([soffice, "--headless", "--invisible", "--nologo", "--norestore", "--nodefault",
                     "--nolockcheck", f"--accept=pipe,name={pipe};urp;", f"-env:UserInstallation={_profile_url(work)}"],
                    work, log=work / "soffice.log")
    try:
        left = deadline.left()
        # The script polls for the connection with its own, shorter deadline, so a soffice that never
        # listens gives its one-line message rather than our timeout.
        command = [uno_python, "-I", str(UNO_SCRIPT), "--pipe", pipe, "--connect-timeout", f"{max(left * 0.8, 1):.0f}",
                   str(source), str(target)]
        client = _start(command, work)
        try:
            out, err = _wait_for_client(client, office, deadline)
        finally:
            _stop(client)
        if client.returncode != 0:
            message = (err.strip().splitlines() or [f"exit code {client.returncode}"])[-1]
            kind = _Crashed if client.returncode < 0 else PdfError  # < 0: killed by a signal
            raise kind(f"LibreOffice could not convert {deadline.name} to PDF: {message}")
        # The script asked soffice to terminate; give it a moment to quit on its own.
        with contextlib.suppress(subprocess.TimeoutExpired):
            office.wait(timeout=min(STOP_GRACE_S, max(deadline.at - time.monotonic(), 0.1)))
    finally:
        _stop(office)
    counts = dict(re.findall(r"(\w+)=(\d+)", out))
    n_toc, n_other = int(counts.get("toc", 0)), int(counts.get("indexes", 0)) - int(counts.get("toc", 0))
    other = f" and {n_other} other index(es)" if n_other > 0 else ""
    if n_toc:
        return f"table of contents{other} updated"
    return f"fields{other} updated (the document has no table of contents)"


def _wait_for_client(client: subprocess.Popen[str], office: subprocess.Popen[str], deadline: _Deadline) -> tuple[str, str]:
    """The UNO script's output once it ends; PdfError at the deadline, or soon after soffice died under it."""
    office_gone_at: float | None = None
    while True:
        try:
            return client.communicate(timeout=min(POLL_S, deadline.left()))
        except subprocess.TimeoutExpired:
            pass  # retrying communicate() loses no output
        if office.poll() is not None:
            # Normal once the script asked soffice to terminate (the script then ends at once); if the
            # script is still waiting a while later, soffice failed to start or crashed.
            office_gone_at = office_gone_at or time.monotonic()
            if time.monotonic() - office_gone_at > OFFICE_GONE_GRACE_S:
                kind = _Crashed if office.returncode < 0 else PdfError
                raise kind(f"LibreOffice exited (code {office.returncode}) before converting {deadline.name}")


def _convert_with_convert_to(soffice: str, source: Path, target: Path, work: Path, deadline: _Deadline) -> str:
    outdir = work / "out"
    outdir.mkdir()
    office = _start([soffice, "--headless", "--invisible", "--nologo", "--norestore", "--nolockcheck",
                     f"-env:UserInstallation={_profile_url(work)}", '--infilter=MS Word 2007 XML',
                     "--convert-to", "pdf:writer_pdf_Export", "--outdir", str(outdir), str(source)],
                    work, log=work / "soffice.log")
    try:
        office.wait(timeout=deadline.left())
    except subprocess.TimeoutExpired as exc:
        raise deadline.expired() from exc
    finally:
        _stop(office)
    produced = outdir / f"{source.stem}.pdf"
    if not produced.is_file():  # the exit code is 0 either way
        raise PdfError(f"LibreOffice wrote no PDF for {deadline.name} (soffice --convert-to)")
    shutil.copyfile(produced, target)
    return "table of contents NOT updated (soffice --convert-to; install python3-uno to update it)"


def _start(command: list[str], work: Path, *, log: Path | None = None) -> subprocess.Popen[str]:
    """A process in its own process group (soffice forks soffice.bin: the group is what gets killed).

    With `log`, its output goes to that file (nobody reads soffice's pipes while it runs); else to pipes.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    try:
        if log is not None:
            with log.open("w") as out:  # the child keeps its own copy of the descriptor
                return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                        cwd=work, env=env, start_new_session=True)
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, errors="replace", cwd=work, env=env, start_new_session=True)
    except OSError as err:
        raise PdfError(f"cannot start {Path(command[0]).name}: {err}") from err


def _stop(process: subprocess.Popen[str]) -> None:
    """Kill what is left of the process and its process group, and reap it; never raises."""
    if sys.platform != "win32":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired, OSError, ValueError):
        process.communicate(timeout=5)
