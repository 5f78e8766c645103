"""Diagnostics for `crimetrends doctor`: is this machine ready for the annual run, and what is missing?

Input: the folders and the settings file the commands would use. Output: a list of `Check`s, one per
thing looked at, each saying what was found and, when something is missing, what to install (Debian /
Ubuntu package names). Nothing is written, except a temporary file in the outputs folder to see that
it is writable (removed at once).

Essential (the command fails without them): Python >= 3.11, the Python packages crimetrends needs at
the versions it needs, the report template, the inputs folder readable, the outputs folder writable,
a valid settings file. Optional (warnings): LibreOffice and its Python bridge (the PDF and its page
numbers), poppler-utils (the PDF check, the tests), the DejaVu fonts for LibreOffice, the test packages.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline import pdf
from pipeline.settings import SETTINGS_FILENAME, SettingsError, find_settings_file, load_settings

MIN_PYTHON = (3, 11)
DISTRIBUTION = "crimetrends"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    essential: bool
    detail: str
    fix: str = ""  # what to do when not ok

    @property
    def word(self) -> str:
        return "OK" if self.ok else "MISSING" if self.essential else "WARNING"


def run_checks(*, inputs_dir: Path, outputs_dir: Path, report_template: Path, settings_path: Path | None, cwd: Path) -> list[Check]:
    return [
        check_python(),
        *check_packages(),
        check_settings(settings_path, cwd),
        check_report_template(report_template),
        check_inputs(inputs_dir),
        check_outputs(outputs_dir),
        check_chart_font(),
        *check_libreoffice(),
        check_system_font(),
        check_poppler(),
    ]


def check_python() -> Check:
    found = ".".join(str(part) for part in sys.version_info[:3])
    ok = sys.version_info[:2] >= MIN_PYTHON
    return Check("Python", ok, True, f"{found} ({sys.executable})", "" if ok else f"install Python {'.'.join(map(str, MIN_PYTHON))} or later (Debian: python3 from bookworm or later), then `make test` again")


def check_packages() -> list[Check]:
    """Each requirement of the installed crimetrends distribution (the test extra as optional)."""
    from packaging.requirements import Requirement  # only here: doctor must run even where a package is missing

    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return [Check("crimetrends package", False, True, "not installed in this Python", "run `make test` (creates .venv and installs the project), or `pip install -e '.[test]'`")]
    checks = []
    for text in requirements:
        requirement = Requirement(text)
        is_test = requirement.marker is not None and "extra" in str(requirement.marker)
        if is_test and not requirement.marker.evaluate({"extra": "test"}):
            continue
        wanted = f"{requirement.name}{requirement.specifier}"
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            checks.append(Check(f"package {requirement.name}", False, not is_test, f"not installed (needs {wanted})", "run `make test`, or `.venv/bin/pip install -e '.[test]'`"))
            continue
        ok = requirement.specifier.contains(version, prereleases=True)
        checks.append(Check(f"package {requirement.name}", ok, not is_test, f"{version}" + ("" if ok else f", needs {wanted}"), "" if ok else f"`.venv/bin/pip install '{wanted}'`"))
    return checks


def check_settings(path: Path | None, cwd: Path) -> Check:

    source = find_settings_file(path, cwd)
    try:
        load_settings(path, cwd)
    except SettingsError as err:
        return Check("settings", False, True, str(err), "correct the file: crimetrends.example.toml lists every key with its default")
    return Check("settings", True, True, str(source) if source else f"defaults (no {SETTINGS_FILENAME} in {cwd})")


def check_report_template(path: Path) -> Check:
    ok = path.is_file() and os.access(path, os.R_OK)
    return Check("report template", ok, True, str(path) + ("" if ok else ": not found"), "" if ok else "run `make report-template` (rebuilds it from templates/build_template.py)")


def check_inputs(folder: Path) -> Check:
    if not folder.is_dir():
        return Check("inputs folder", False, True, f"{folder}: not a folder", f"create it (`mkdir -p {folder}`) and put the returned workbooks in it, or pass --inputs")
    if not os.access(folder, os.R_OK | os.X_OK):
        return Check("inputs folder", False, True, f"{folder}: not readable", f"give yourself read access (`chmod -R u+rX {folder}`)")
    n_files = sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    return Check("inputs folder", True, True, f"{folder} ({n_files} file(s))")


def check_outputs(folder: Path) -> Check:
    # The nearest folder that exists must take a new file: the commands create the rest.
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is not a folder")
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        return Check("outputs folder", False, True, f"{folder}: not writable ({err})", f"give yourself write access to {existing}, or pass --outputs")
    return Check("outputs folder", True, True, f"{folder} (writable{'' if existing == folder else ', will be created'})")


def check_chart_font() -> Check:
    from matplotlib import font_manager  # only here: doctor must run, and say so, where matplotlib is missing

    try:
        path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"), fallback_to_default=False)
    except ValueError:
        return Check("font for the charts (DejaVu Sans)", False, True, "matplotlib finds no DejaVu Sans", "reinstall matplotlib (it ships DejaVu Sans), or `apt install fonts-dejavu-core`")
    return Check("font for the charts (DejaVu Sans)", True, True, path)


def check_libreoffice() -> list[Check]:
    soffice = pdf.find_soffice()
    if soffice is None:
        return [Check("LibreOffice (the PDF)", False, False, "not found: the run writes everything but the PDF", "`sudo apt install libreoffice-writer-nogui python3-uno fonts-dejavu-core` (or pass --no-pdf)")]
    checks = [Check("LibreOffice (the PDF)", True, False, f"{_version(soffice)} ({soffice})")]
    uno = pdf.find_uno_python(soffice)
    checks.append(Check("LibreOffice Python bridge (page numbers in the PDF's contents)", uno is not None, False,
                        uno or "no Python that can `import uno`: the PDF's contents list has no page numbers",
                        "" if uno else "`sudo apt install python3-uno`"))
    return checks


def _version(soffice: str) -> str:
    try:
        result = subprocess.run([soffice, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "version unknown"
    return result.stdout.strip().splitlines()[0] if result.returncode == 0 and result.stdout.strip() else "version unknown"


def check_system_font() -> Check:
    name = "font for the PDF (DejaVu Sans, fontconfig)"
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return Check(name, False, False, "fc-list not found: cannot tell which fonts LibreOffice sees", "`sudo apt install fontconfig fonts-dejavu-core`")
    try:
        found = subprocess.run([fc_list, ":family=DejaVu Sans", "file"], capture_output=True, text=True, timeout=30, check=False).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        found = []
    if not found:
        return Check(name, False, False, "not installed: LibreOffice substitutes another font, Georgian and Armenian may not show", "`sudo apt install fonts-dejavu-core`")
    return Check(name, True, False, found[0].rstrip(":"))


def check_poppler() -> Check:
    missing = [tool for tool in ("pdftotext", "pdfinfo") if shutil.which(tool) is None]
    if missing:
        return Check("poppler-utils (pdftotext, pdfinfo)", False, False, f"{', '.join(missing)} not found: the PDF's pages are counted without it; the PDF tests and `make readme-pages` need it", "`sudo apt install poppler-utils`")
    return Check("poppler-utils (pdftotext, pdfinfo)", True, False, shutil.which("pdfinfo") or "")
