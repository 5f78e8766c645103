"""The `crimetrends` command: the only place where the stages are chained.

    crimetrends template --year 2026                 one submission workbook per member state
    crimetrends status --year 2026                   the submission tracker: who sent what, when, late?
    crimetrends validate GEO_2026.xlsx               ingest -> validate: findings and feedback only
    crimetrends validate --year 2025                 the same for every submission of a year
    crimetrends run --year 2025                      ingest -> validate -> aggregate -> charts -> report
    crimetrends report --year 2025                   charts, report, annex and PDF again from the stored data
    crimetrends release --year 2025 --label draft    freeze the year's outputs as circulated
    crimetrends changes --year 2025                  which published figures changed since a release, and why
    crimetrends import data_glotip.xlsx              published history beside the submissions
    crimetrends doctor                               is this machine ready? what to install

Global options (before or after the command name): --settings FILE (else ./crimetrends.toml, else the
defaults: pipeline/settings.py), -q/--quiet, -v/--verbose. Commands with a year (status, validate
--year, run, report) append to the log file <outputs>/<year>/run.log.

Exit codes: 0 done, 1 validation errors (validate, run), 2 usage error (a wrong option, setting or
folder, a year --inputs holds nothing for, an output folder that cannot be written: one line, and
nothing written), 3 internal error (a one-line message ending with the log file's path).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
import re
import shutil
import textwrap
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import pandas as pd
from openpyxl.workbook import Workbook
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from pipeline import (
    __version__,
    aggregate,
    annex,
    atomic,
    changes,
    charts,
    doctor,
    feedback,
    history,
    ingest,
    output_files,
    pdf,
    provenance,
    release,
    report,
    rules,
    status,
    validate,
)
from pipeline.atomic import outputs_lock
from pipeline.charts import PendingCharts
from pipeline.errors import OutputError, PipelineError
from pipeline.findings import Finding, findings_table as make_findings_table
from pipeline.reference import Reference, load_reference
from pipeline.release import ReleaseError, list_releases, make_release
from pipeline.rules import Thresholds
from pipeline.settings import DEFAULT_SETTINGS, Settings, SettingsError, load_settings
from pipeline.status import status_counts
from pipeline.template import build_workbook, default_previous_path, load_previous, write_template
from pipeline.validate import Submission

DEFAULT_INPUTS = Path("inputs")
DEFAULT_OUTPUTS = Path("outputs")
REPORT_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "annual_assessment.docx"
LOG_NAME = "run.log"
STATUS_NAME = "status.csv"
FEEDBACK_DIR = "feedback"
VALIDATION_DIR = "validation"
EXIT_VALIDATION_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 1, 2, 3

stderr = Console(stderr=True, highlight=False)
log = logging.getLogger(__name__)
package_log = logging.getLogger("pipeline")  # the handlers go here: every pipeline.* logger ends up in them


# -- session: global options, logging, errors ------------------------------------------------------
@dataclass
class Session:
    """What the global options set, shared by the group and the command (click's ctx.obj)."""

    settings_file: Path | None = None
    quiet: bool = False
    verbose: bool = False
    log_path: Path | None = None  # <outputs>/<year>/run.log once the command knows its year folder
    handlers: list[logging.Handler] = field(default_factory=list)
    loaded: Settings | None = None

    def settings(self) -> Settings:
        """The settings (--settings FILE, else ./crimetrends.toml, else the defaults), read once."""
        if self.loaded is None:

            self.loaded = load_settings(self.settings_file, Path.cwd())
            if self.loaded.file:
                log.info("Settings: %s", self.loaded.file)
        return self.loaded


def _session() -> Session:
    return click.get_current_context().ensure_object(Session)


def _remember(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        # Given before and after the command name, either counts: only a given value is kept.
        if value:
            setattr(ctx.ensure_object(Session), name, value)

    return callback


def _global_options(f):
    f = click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_remember("verbose"), help="Say more: every step and the traceback of an internal error on stderr; validate also prints the infos. Example: crimetrends -v run --year 2025")(f)
    f = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_remember("quiet"), help="Only warnings and errors on stderr; no progress bars, no summary table; validate prints one status line per file. Example: crimetrends -q run --year 2025")(f)
    f = click.option("--settings", "settings_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), expose_value=False, callback=_remember("settings_file"),
                     metavar="FILE", help="Settings file (TOML). Default: crimetrends.toml in the current folder when there is one, else the built-in defaults. Example: --settings crimetrends.toml")(f)
    return f


class _ConsoleHandler(logging.Handler):
    """Log records as plain lines on stderr (through the rich console, so they print above a progress bar)."""

    STYLES = {logging.ERROR: "red", logging.WARNING: "yellow"}

    def __init__(self, level: int, tracebacks: bool) -> None:
        super().__init__(level)
        self.tracebacks = tracebacks

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and self.tracebacks:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        stderr.print(text, style=self.STYLES.get(record.levelno), markup=False, highlight=False, soft_wrap=True)


class _LogFile(logging.Handler):
    """Appends each record to `path`, opening it for every record.

    Opened per record, not held open: `run` and `report` swap the whole year folder, and a held file
    would go on writing into the folder moved aside. When the folder is missing (in the instant of the
    swap) the record is dropped rather than creating a folder that would stop the swap.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(logging.DEBUG)
        self.path = path
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(self.format(record) + "\n")
        except OSError:
            pass


def _start_logging(session: Session) -> None:
    level = logging.WARNING if session.quiet else logging.DEBUG if session.verbose else logging.INFO
    handler = _ConsoleHandler(level, tracebacks=session.verbose)
    package_log.addHandler(handler)
    package_log.setLevel(logging.DEBUG)
    package_log.propagate = False
    session.handlers.append(handler)


def _stop_logging(session: Session) -> None:
    for handler in session.handlers:
        package_log.removeHandler(handler)
    session.handlers.clear()


def _open_log(year_dir: Path) -> Path:
    """Append to <year_dir>/run.log from now on, starting with a header line: time, version, command."""
    session = _session()
    path = year_dir / LOG_NAME
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    try:
        year_dir.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(f"==== {now} crimetrends {__version__}: {_command_line(click.get_current_context())} (in {Path.cwd()})\n")
    except OSError as err:
        raise atomic.cannot_write(year_dir, err) from err
    handler = _LogFile(path)
    package_log.addHandler(handler)
    session.handlers.append(handler)
    session.log_path = path
    return path


def _command_line(ctx: click.Context) -> str:
    """The command as it ran, options with their values (defaults included), from click's parameters."""
    words = ["crimetrends", ctx.info_name or ""]
    session = ctx.find_object(Session)
    if session and session.settings_file:
        words += ["--settings", str(session.settings_file)]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None:
            continue
        if not isinstance(param, click.Option):
            words += [str(v) for v in value] if isinstance(value, tuple) else [str(value)]
        elif param.is_flag and getattr(param, "secondary_opts", None):
            words.append(param.opts[0] if value else param.secondary_opts[0])
        elif param.is_flag:
            words += [param.opts[-1]] if value else []
        elif isinstance(value, tuple):
            for item in value:
                words += [param.opts[-1], str(item)]
        else:
            words += [param.opts[-1], str(value)]
    return " ".join(words)


def _log_hint(session: Session) -> str:
    return f" (details in {session.log_path})" if session.log_path else " (run again with -v for details)"


def _stop(message: str, code: int) -> None:
    """End the command with `message` on stderr in one line and exit `code`."""
    stderr.print(f"crimetrends: {message}", style="red", markup=False, highlight=False, soft_wrap=True)
    click.get_current_context().exit(code)


def _guarded(f):
    """The command's body, with logging set up and every fatal error turned into its exit code:
    a settings error, a release that cannot be made or read (ReleaseError) or an output that cannot be
    written (OutputError) is a usage error (2); any other
    PipelineError and any unexpected exception are internal errors (3) in one line ending with the log
    path, the traceback in the log (and on stderr with -v)."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        session = _session()
        _start_logging(session)
        try:
            return f(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (SettingsError, ReleaseError) as err:
            _stop(str(err), EXIT_USAGE)
        except OutputError as err:  # a folder that cannot be written, or another run writing it: the user's to fix
            log.debug("%s: %s", type(err).__name__, err, exc_info=True)
            _stop(str(err), EXIT_USAGE)
        except PipelineError as err:
            log.debug("%s: %s", type(err).__name__, err, exc_info=True)
            _stop(f"{err}{_log_hint(session)}", EXIT_INTERNAL)
        except Exception as err:  # a defect: say so in one line, keep the traceback in the log
            log.debug("internal error", exc_info=True)
            _stop(f"internal error: {type(err).__name__}: {err}{_log_hint(session)}", EXIT_INTERNAL)
        finally:
            _stop_logging(session)

    return wrapper


def _progress() -> Progress:
    """Progress bars on stderr for the long steps; shown only on a terminal and without -q."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=stderr, transient=True, disable=_session().quiet or not stderr.is_terminal)


def _inputs_option(f):
    return click.option("--inputs", "inputs_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_INPUTS, show_default=True, help="Folder holding the submitted workbooks (read recursively, never modified). Example: --inputs inputs")(f)


def _outputs_option(f):
    return click.option("--outputs", "outputs_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUTPUTS, show_default=True, help="Folder the results go to, one sub-folder per year. Example: --outputs outputs")(f)


def _year_option(what: str):
    return click.option("--year", type=click.IntRange(2000, 2100), required=True, help=f"{what} Example: --year 2025")


def _require_folder(folder: Path, hint: str) -> None:
    if not folder.is_dir():
        raise click.BadParameter(f"{folder} is not a folder", param_hint=hint)


# -- the coordinator's mistakes, caught before anything is read at length or written -----------------
_YEAR_IN_NAME = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def _require_year_in_inputs(year: int, inputs_dir: Path, ref: Reference) -> None:
    """Stop (exit 2, nothing written) when `inputs_dir` holds nothing for `year`: no workbook whose
    name or folder says `year` (`inputs/2026/GEO_2026.xlsx`), none whose Cover says it (what the run
    goes by: a file named for another year counts), and no published history of `year`.

    A typo (`--year 2062`), the wrong --inputs or an empty folder then costs one line naming what was
    found instead, not a report of nothing. Cheap when the year is there: names first, then the
    history CSVs, and only then every workbook read as the run reads it (a few ms each).
    """
    workbooks = [p for p in ingest.discover_files(inputs_dir) if ingest.classify(p) == "workbook" and not p.is_symlink() and p.is_file()]
    if any(str(year) in _years_in_name(p, inputs_dir) for p in workbooks):
        return
    published, _ = history.read_history(inputs_dir, ref)
    history_years = {int(y) for y in published["year"]}
    if year in history_years:
        return
    submitted: set[int] = set()
    undated: list[str] = []
    for path in workbooks:
        sub = validate.validate_submission(ingest.read_submission(path, inputs_dir, ref), ref, strict=False)
        if sub.year == year:
            return
        if sub.year is not None:
            submitted.add(sub.year)
        else:
            undated.append(sub.file)
    folder = f"{inputs_dir}{os.sep}"
    if not workbooks and not history_years and not any(inputs_dir.iterdir()):
        _stop(f"{folder} is empty: no submission for {year} and no published history; put the returned workbooks in it, or give --inputs the folder that holds them", EXIT_USAGE)
    found = [f"submissions for {_years_text(submitted)}"] if submitted else []
    found += [f"published history for {_years_text(history_years)}"] if history_years else []
    found += [f"{len(undated)} workbook(s) whose year cannot be read ({_first_few(undated)})"] if undated else []
    if not workbooks:
        others = [p.relative_to(inputs_dir).as_posix() for p in ingest.discover_files(inputs_dir)]
        found += [f"no workbook{f' (only {_first_few(others)})' if others else ''}"]
    _stop(f"{folder} has no submission for {year} and no published history for it; it has {' and '.join(found)}: check --year and --inputs", EXIT_USAGE)


def _require_apart(inputs_dir: Path, outputs_dir: Path) -> None:
    """Stop (exit 2) when --outputs is --inputs or a folder inside it: the outputs (feedback workbooks
    among them) would be read as submissions by the next run."""
    inputs, outputs = inputs_dir.resolve(), outputs_dir.resolve()
    if outputs == inputs or inputs in outputs.parents:
        where = "is the inputs folder" if outputs == inputs else f"is inside the inputs folder {inputs_dir}"
        raise click.BadParameter(f"{outputs_dir} {where}: the next run would read the outputs as submissions; give a folder outside it", param_hint="--outputs")


def _years_in_name(path: Path, inputs_dir: Path) -> set[str]:
    """The four-digit numbers in a file's name and folders under `inputs_dir` (GEO_2025_v2.xlsx, 2025/)."""
    return set(_YEAR_IN_NAME.findall(path.relative_to(inputs_dir).as_posix()))


def _years_text(years: Iterable[int]) -> str:
    """2021, 2023–2025: runs of consecutive years as ranges."""
    runs: list[list[int]] = []
    for year in sorted(set(years)):
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in runs)


def _first_few(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _require_stored_year(year: int, outputs_dir: Path) -> None:
    """Stop (exit 2, nothing written) when `<outputs>/<year>/data/` does not hold every table `report`
    renders from, naming the years that do."""
    year_dir = outputs_dir / str(year)
    data_dir = year_dir / output_files.DATA_DIR
    absent = [name for name in YearTables.names() if not (data_dir / f"{name}.csv").is_file()]
    if not absent:
        manifest = year_dir / provenance.MANIFEST_NAME
        try:
            if manifest.is_file():
                json.loads(manifest.read_text(encoding="utf-8"))
        except ValueError as err:  # edited by hand: whether the data are demonstration data is in it
            _stop(f"{manifest} cannot be read ({err}): run `crimetrends run --year {year}` again", EXIT_USAGE)
        return
    if data_dir.is_dir():  # some of the tables: say which are missing
        _stop(f"{year_dir} holds no stored data ({', '.join(f'data/{n}.csv' for n in absent)} missing): run `crimetrends run --year {year}` first", EXIT_USAGE)
    stored = [int(p.name) for p in outputs_dir.iterdir() if p.name.isdigit() and _has_tables(p / output_files.DATA_DIR)] if outputs_dir.is_dir() else []
    found = f"it has stored data for {_years_text(stored)}" if stored else "it has no year's stored data"
    _stop(f"{outputs_dir}{os.sep} has no stored data for {year} (no {data_dir}{os.sep}); {found}: run `crimetrends run --year {year}` first, or check --year and --outputs", EXIT_USAGE)


def _has_tables(data_dir: Path) -> bool:
    return all((data_dir / f"{name}.csv").is_file() for name in YearTables.names())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crimetrends")
@_global_options
def main() -> None:
    """crimetrends: the BSEC Annual Assessment of the Trends of Transnational Crime.

    \b
    The yearly cycle:
      crimetrends template --year 2026     write the submission workbooks; send them
      (member states fill them in; put the returned files in inputs/)
      crimetrends status --year 2026       who sent what, when, and what became of it
      crimetrends validate --year 2026     findings and a feedback workbook per submission; send them
      crimetrends run --year 2026          validate, aggregate, draw charts, write the report
      crimetrends report --year 2026       the report again after editing the template or the settings
      crimetrends release --year 2026 --label draft   freeze what is circulated (draft, final...)
      crimetrends doctor                   check this machine (Python, packages, LibreOffice, fonts)
    Settings: crimetrends.toml in the current folder, or --settings FILE (crimetrends.example.toml
    lists every key). Exit codes: 0 done, 1 validation errors, 2 usage error, 3 internal error.
    Example:
      crimetrends --settings crimetrends.toml run --year 2025 -q
    """


# -- template ----------------------------------------------------------------------------------------
@main.command()
@_year_option("Reporting year the workbooks collect.")
@click.option("--country", "countries", multiple=True, metavar="ISO3", help="Only this member state (repeatable). Default: all members of the year. Example: --country GEO")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Folder to write to. Default: <outputs>/templates/<year>. Example: --out ~/to_send")
@click.option("--previous", "previous_file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="observations.csv of last year's run, whose accepted <year-1> values pre-fill the Previous year value column. Default: <outputs>/<year-1>/data/observations.csv. Example: --previous outputs/2025/data/observations.csv")
@_outputs_option
@_global_options
@_guarded
def template(year: int, countries: tuple[str, ...], out_dir: Path | None, previous_file: Path | None, outputs_dir: Path) -> None:
    """Write one submission workbook per member state.

    \b
    The Previous year value column is pre-filled with each state's values accepted for year-1
    (from --previous) by a real run. It is left blank, with a one-line note, when that file does
    not exist, comes from a demonstration run, or its run's manifest.json does not say which.
    Example:
      crimetrends template --year 2026
      crimetrends template --year 2026 --country GEO --out ~/to_send
      crimetrends template --year 2026 --previous outputs/2025/data/observations.csv
    """

    ref = load_reference()
    wanted = [c.upper() for c in countries] or ref.members_in(year)
    unknown = [c for c in wanted if c not in ref.members_in(year)]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)} is not a BSEC member state in {year}. Members: {' '.join(ref.members_in(year))}", param_hint="--country")
    previous_path = previous_file or default_previous_path(outputs_dir, year)
    try:
        previous = load_previous(previous_path)
    except PipelineError as err:
        raise click.BadParameter(str(err), param_hint="--previous") from err
    if previous.observations is None:
        # A demonstration run is worth a warning (shown with -q too): its figures must never look real.
        log.log(logging.INFO if not previous_path.is_file() else logging.WARNING, "%s", previous.note)
    target = out_dir or outputs_dir / "templates" / str(year)
    atomic.require_writable(target)
    thresholds = _thresholds(_session().settings())  # the live checks warn where validation will
    for iso3 in wanted:
        path = write_template(ref, iso3, year, target, previous=previous.observations, thresholds=thresholds)
        click.echo(str(path))
    log.info("Wrote %d submission workbook(s) for %d to %s", len(wanted), year, target)


# -- status ------------------------------------------------------------------------------------------
@main.command(name="status")
@_year_option("Reporting year to track.")
@_inputs_option
@_outputs_option
@_global_options
@_guarded
def status_command(year: int, inputs_dir: Path, outputs_dir: Path) -> None:
    """The submission tracker: every member state expected for the year and what it sent.

    \b
    Reads and checks every workbook in --inputs (as `validate --year` does, without writing feedback)
    and prints one row per member state of the year: status (valid, with-warnings, with-errors,
    rejected, missing), file, date submitted (the Cover's), days late against the deadline of the
    settings ([collection] deadline), errors and warnings; then the files no member state could be
    given. Days late for a missing state count from the deadline to today. Also written as
    <outputs>/<year>/status.csv (the rest of that folder is left as it is). Exit code 0.
    Example:
      crimetrends status --year 2025
      crimetrends status --year 2025 --inputs inputs --outputs outputs
    """

    _require_folder(inputs_dir, "--inputs")
    settings = _session().settings()
    _require_apart(inputs_dir, outputs_dir)
    atomic.require_writable(outputs_dir, outputs_dir / str(year))
    _open_log(outputs_dir / str(year))
    ref = load_reference()
    _, every = _validate_year(year, inputs_dir, ref, strict=False, thresholds=_thresholds(settings))
    deadline = settings.deadline_for(year)
    submissions = validate.submissions_frame(every)
    tracker = status.build_status(submissions, ref, year, deadline, dt.date.today())
    _print_status(tracker, year, deadline, settings, n_expected=len(ref.members_in(year)))
    _log_moved(status.moved_files(submissions, ref, year), year)
    with outputs_lock(outputs_dir, year):
        path = output_files.write_csv(tracker, outputs_dir / str(year) / STATUS_NAME)
    log.info("Status: %s", path)


def _print_status(tracker: pd.DataFrame, year: int, deadline: dt.date, settings: Settings, *, n_expected: int) -> None:


    colours = {"valid": "green", "with-warnings": "yellow", "with-errors": "red", "rejected": "red", "missing": "magenta"}
    title = f"Submissions for {year} — deadline {deadline.day} {deadline:%B} {deadline.year}" + (f" — {settings.coordinator}" if settings.coordinator else "")
    table = Table(title=title, caption="late: days after the deadline (a missing state: until today); err, warn: errors and warnings", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    # On a narrow screen the status and the date keep their line; names, files and notes fold.
    for column, width in (("state", 10), ("status", None), ("file", 12), ("submitted", None), ("late", None), ("err", None), ("warn", None), ("note", 8)):
        table.add_column(column, overflow="fold", no_wrap=width is None, min_width=width)
    for row in tracker.itertuples(index=False):
        table.add_row(
            row.state or "not identified", f"[{colours.get(row.status, 'white')}]{row.status}[/]", row.file, row.date_submitted,
            *("" if _missing(v) else str(v) for v in (row.days_late, row.n_errors, row.n_warnings)), row.note,
        )
    out = Console(highlight=False)
    if not out.is_terminal:  # into a file or a pipe: no screen to fit, so one line per state
        out = Console(highlight=False, width=160)
    out.print(table)
    counts = ", ".join(f"{n} {word}" for word, n in status_counts(tracker).items() if n)
    unattributed = len(tracker) - n_expected
    log.info("%d member state(s) expected for %d: %s%s", n_expected, year, counts, f" (of which {unattributed} file(s) not attributed to a member state)" if unattributed else "")


def _log_moved(moved: pd.DataFrame, year: int) -> None:
    """Files sent for `year` by their name or folder that count elsewhere, as their Cover says: named, never only counted."""
    if len(moved):
        log.warning("Named or filed for %d but counted as their Cover says: %s", year,
                    "; ".join(f"{m.file} → {m.country_iso3} {m.year} ({m.status})" for m in moved.itertuples(index=False)))


def _missing(value: object) -> bool:

    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


# -- validate ----------------------------------------------------------------------------------------
@main.command(name="validate")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", type=click.IntRange(2000, 2100), default=None, help="Check every submission for this reporting year in --inputs (instead of FILES). Example: --year 2025")
@_inputs_option
@_outputs_option
@click.option("--strict", is_flag=True, help="Count a submission with any error as rejected. Example: --strict")
@_global_options
@_guarded
def validate_command(files: tuple[Path, ...], year: int | None, inputs_dir: Path, outputs_dir: Path, strict: bool) -> None:
    """Check submissions without running the report: findings and a feedback workbook for each.

    \b
    With FILES: checks those workbooks (a focal point's check before sending). Earlier years'
    submissions in --inputs, when that folder exists, are used for the checks on changes over time.
    Adds or replaces these files' feedback in <outputs>/validation/: <ISO3>_<year>_feedback.xlsx and
    their rows of findings.csv (the feedback of files checked before stays).
    With --year: checks every submission for that year in --inputs, as the run would, and writes
    <outputs>/<year>/feedback/findings.csv, one <ISO3>_<year>_feedback.xlsx per submission and
    <outputs>/<year>/status.csv (the tracker of `crimetrends status`).
    Prints per file one status line (accepted, accepted-with-warnings, accepted-with-errors,
    rejected, superseded) and its errors and warnings by sheet and cell; the infos are in the files
    (-v prints them too; -q prints the status lines only). An .ods or .xls submission's feedback is
    a copy in the template, written as .xlsx.
    Exit code 1 when a submission in use has an error, else 0.
    Exit code 2, with nothing written, when --inputs holds no workbook and no published history of --year.
    The files checked are only read, never changed.
    \b
    Examples:
      crimetrends validate GEO_2025.xlsx
      crimetrends validate --year 2025
      crimetrends validate --year 2025 --inputs inputs --outputs outputs
    """

    if bool(files) == (year is not None):
        raise click.UsageError("Give either workbook FILES or --year, not both and not neither.")
    if year is not None:
        _require_folder(inputs_dir, "--inputs")
    settings = _session().settings()
    thresholds = _thresholds(settings)
    _require_apart(inputs_dir, outputs_dir)
    atomic.require_writable(outputs_dir, outputs_dir / (str(year) if year is not None else VALIDATION_DIR))
    if year is not None:
        _require_year_in_inputs(year, inputs_dir, load_reference())
        _open_log(outputs_dir / str(year))
    ref = load_reference()
    if files:
        checked, folder = _validate_files(list(files), inputs_dir, ref, strict=strict, thresholds=thresholds), outputs_dir / VALIDATION_DIR
        every = [sub for sub, _ in checked]
    else:
        (checked, every), folder = _validate_year(year, inputs_dir, ref, strict=strict, thresholds=thresholds), outputs_dir / str(year) / FEEDBACK_DIR
    with outputs_lock(outputs_dir, year if year is not None else VALIDATION_DIR):
        if files:  # a focal point's check: the feedback of the files checked before stays beside
            feedback.add_feedback(checked, folder, ref, functools.partial(_blank_template, ref))
        else:
            with atomic.staged_dir(folder) as staging:
                _write_feedback(checked, staging, ref)
        if year is not None:
            tracker = status.build_status(validate.submissions_frame(every), ref, year, settings.deadline_for(year), dt.date.today())
            output_files.write_csv(tracker, outputs_dir / str(year) / STATUS_NAME)
    _print_findings([sub for sub, _ in checked], quiet=_session().quiet, verbose=_session().verbose)
    if year is not None:
        received = {sub.country_iso3 for sub, _ in checked}
        missing = [f"{ref.state_by_iso3[iso3].name} ({iso3})" for iso3 in ref.members_in(year) if iso3 not in received]
        if missing:
            log.info("No submission for %d from: %s", year, ", ".join(missing))
        _log_moved(status.moved_files(validate.submissions_frame(every), ref, year), year)
    log.info("Findings and feedback workbooks: %s", folder)
    if _has_errors([sub for sub, _ in checked]):
        click.get_current_context().exit(EXIT_VALIDATION_ERRORS)


def _has_errors(subs: Iterable[Submission]) -> bool:
    """A submission of the year that is not superseded (in use, or rejected) has an error: exit code 1."""
    return any(sub.count("error") and sub.status != "superseded" for sub in subs)


def _thresholds(settings: Settings) -> Thresholds:

    return settings.thresholds(rules.load_thresholds())


def _validate_files(files: list[Path], inputs_dir: Path, ref: Reference, *, strict: bool, thresholds: Thresholds | None = None) -> list[tuple[Submission, Path]]:
    """The named workbooks, checked against the other years' submissions in `inputs_dir` for the time rules."""

    named = read_and_validate([(path, path.parent) for path in files], ref, strict=strict)
    named_paths = {path.resolve() for path in files}
    context_files = ingest.discover_files(inputs_dir) if inputs_dir.is_dir() else []
    context = read_and_validate([(path, inputs_dir) for path in context_files if path.resolve() not in named_paths], ref, strict=strict)
    # A named file replaces whatever inputs/ holds for its country and year: it is the one being checked.
    named_keys = {(sub.country_iso3, sub.year) for sub, _ in named}
    context_subs = [sub for sub, _ in context if (sub.country_iso3, sub.year) not in named_keys]
    subs = [sub for sub, _ in named]
    validate.resolve_resubmissions(subs, ref)
    validate.resolve_resubmissions(context_subs, ref)
    across_years(subs + context_subs, ref, thresholds)
    return named


def _validate_year(year: int, inputs_dir: Path, ref: Reference, *, strict: bool, thresholds: Thresholds | None = None) -> tuple[list[tuple[Submission, Path]], list[Submission]]:
    """Every submission in `inputs_dir` is validated (earlier years feed the time rules): those of
    `year` with their files, and every submission (the tracker says where a file named for `year` went)."""

    read, _ = read_and_check([(path, inputs_dir) for path in ingest.discover_files(inputs_dir)], ref, strict=strict, thresholds=thresholds)
    refuse_mixed_demonstration([sub for sub, _ in read], inputs_dir)
    return _submissions_of_year(read, year, ref), [sub for sub, _ in read]


def refuse_mixed_demonstration(subs: list[Submission], inputs_dir: Path) -> None:
    """A usage error (exit 2) when demonstration workbooks are in use beside real ones.

    Their figures would reach the real year's checks (changes on the year before, revisions), its
    feedback workbooks, tables and charts; only the coordinator can tell which files belong.
    """
    used = [s for s in subs if s.is_used]
    demonstration = sorted(s.file for s in used if s.is_demonstration)
    if demonstration and len(demonstration) < len(used):
        shown = ", ".join(demonstration[:3]) + (f" and {len(demonstration) - 3} more" if len(demonstration) > 3 else "")
        raise click.BadParameter(
            f"{inputs_dir} holds {len(demonstration)} demonstration workbook(s) ({shown}; _meta demonstration = yes) beside real submissions. "
            "Keep real submissions in a workspace of their own (docs/coordinators-guide.md, \"Starting a real collection\"), or remove the demonstration files.",
            param_hint="--inputs")


def _print_findings(subs: list[Submission], *, quiet: bool, verbose: bool) -> None:
    """Per file one status line; then, unless `quiet`, its errors and warnings (and with `verbose` its
    infos), one per line in the order of the workbook (sheet, then cell), fitted to the terminal."""

    out = Console(highlight=False, soft_wrap=True)
    width = shutil.get_terminal_size().columns if out.is_terminal else None  # into a file or a pipe: one line per finding
    shown = ("error", "warning", "info") if verbose else ("error", "warning")
    for sub in sorted(subs, key=lambda s: (s.country_iso3, s.year or 0, s.file)):
        out.print(_status_line(sub, infos_hidden=not verbose), markup=False)
        findings = [] if quiet else sorted((f for f in sub.findings if f.severity in shown), key=feedback.reading_order)
        for finding in findings:
            for line in _finding_lines(finding, width):
                text = Text(line)
                start = line.find(f"  {finding.severity}  ")
                if line.startswith(FINDING_INDENT + _place(finding)) and start >= 0:  # the severity word in its colour
                    text.stylize(FINDING_STYLES.get(finding.severity, ""), start + 2, start + 2 + len(finding.severity))
                out.print(text)
        if findings:
            out.print()


FINDING_STYLES = {"error": "bold red", "warning": "yellow", "info": "blue"}
FINDING_INDENT, FINDING_HANGING_INDENT = "  ", "      "


def _status_line(sub: Submission, *, infos_hidden: bool) -> str:
    """`file — ISO3 year: status (why); n errors, n warnings, n infos`, the status in the words of
    submissions.csv and the report; the counts only of what there is."""
    where = " ".join(part for part in (sub.country_iso3 or "country not identified", "" if sub.year is None else str(sub.year)) if part)
    why = f" ({sub.reason.rstrip('.')})" if sub.reason and sub.status in ("rejected", "superseded") else ""
    counts = ", ".join(f"{n} {severity}{'s' if n > 1 else ''}" for severity in ("error", "warning", "info") if (n := sub.count(severity)))
    if sub.count("info") and infos_hidden:
        counts += " (infos in the feedback workbook; -v prints them)"
    return f"{sub.file} — {where}: {sub.status}{why}{'; ' + counts if counts else ''}"


def _place(finding: Finding) -> str:
    return f"{finding.sheet}!{finding.cell}" if finding.cell else finding.sheet or "file"


def _finding_lines(finding: Finding, width: int | None) -> list[str]:
    """A finding as `  Sheet!Cell  severity  code: message`: one line, or wrapped to `width` with a
    hanging indent (a narrow terminal still reads it as text, not as columns)."""
    text = f"{_place(finding)}  {finding.severity}  {finding.code}: {' '.join(finding.message.split())}"
    if width is None:
        return [FINDING_INDENT + text]
    return textwrap.wrap(text, width=max(40, width - 1), initial_indent=FINDING_INDENT, subsequent_indent=FINDING_HANGING_INDENT,
                         break_long_words=False, break_on_hyphens=False) or [FINDING_INDENT]


# -- run and report ----------------------------------------------------------------------------------
@dataclass
class RunResult:
    year_dir: Path
    report: Path
    n_errors: int
    pdf: Path | None = None
    pdf_note: str = ""
    has_errors: bool = False  # a submission of the year (not superseded) has an error: exit code 1


@dataclass
class YearTables:
    """The tables of one year as `run` writes them to <outputs>/<year>/data/ and `report` reads them back."""

    observations: pd.DataFrame
    regional: pd.DataFrame
    country: pd.DataFrame
    coverage: pd.DataFrame
    revisions: pd.DataFrame
    findings: pd.DataFrame
    submissions: pd.DataFrame

    @staticmethod
    def names() -> list[str]:
        return ["observations", "regional", "country", "coverage", "revisions", "findings", "submissions"]

    def write(self, data_dir: Path) -> None:
        self.write_tables(data_dir, **{name: getattr(self, name) for name in self.names()})

    @staticmethod
    def write_tables(data_dir: Path, **frames: pd.DataFrame) -> None:
        """Some of the tables, by name: the run writes the charts' two first."""

        for name, frame in frames.items():
            output_files.write_csv(frame, data_dir / f"{name}.csv")

    # Tables whose every column is text but these whole numbers: read back as text, so that an empty
    # cell is "" as in the frames the run built (output_files.read_csv reads `value` as a number, and findings
    # quote the cell's text there).
    TEXT_TABLES = {"findings": ("year",), "submissions": ("year", "n_values", "n_errors", "n_warnings")}

    @classmethod
    def read(cls, data_dir: Path) -> YearTables:
        """The tables as `write` stored them, read back with the types the run built them with."""
        return cls(**cls.read_tables(data_dir, cls.names()))

    @classmethod
    def read_tables(cls, data_dir: Path, names: Iterable[str]) -> dict[str, pd.DataFrame]:
        return {name: cls.read_table(data_dir, name) for name in names}

    @classmethod
    def read_table(cls, data_dir: Path, name: str) -> pd.DataFrame:
        """One table as `write` stored it, with the types the run built it with."""


        path = data_dir / f"{name}.csv"
        if name not in cls.TEXT_TABLES:
            return output_files.read_csv(path)
        frame = output_files.restore_text_columns(pd.read_csv(path, dtype=str, keep_default_na=False))
        for column in cls.TEXT_TABLES[name]:
            frame[column] = pd.to_numeric(frame[column].replace("", None)).astype("Int64")
        return frame


_PDF_OPTION = click.option("--pdf/--no-pdf", "make_pdf", default=None, help="Also write the report as PDF (needs LibreOffice; without it the command says so and goes on). Default: [outputs] pdf of the settings (true). Example: --no-pdf")
_AGAINST_OPTION = click.option("--against", metavar="LABEL", default=None, help="Compare with this release of the year (crimetrends release) for data/changes.csv and the report's changes annex. Default: the latest release; none: nothing to compare with. Example: --against draft-1")


@main.command()
@_year_option("Reporting year of the assessment.")
@_inputs_option
@_outputs_option
@click.option("--strict", is_flag=True, help="Reject any submission with an error, instead of leaving out only the values in error. Example: --strict")
@_PDF_OPTION
@_AGAINST_OPTION
@_global_options
@_guarded
def run(year: int, inputs_dir: Path, outputs_dir: Path, strict: bool, make_pdf: bool | None, against: str | None) -> None:
    """Run every stage for one reporting year and write <outputs>/<year>/.

    \b
    Reads every workbook under --inputs (all years: earlier years give the trends), and writes:
      <outputs>/<year>/BSEC_Annual_Assessment_<year>.docx    the report
      <outputs>/<year>/BSEC_Annual_Assessment_<year>.pdf     the report as PDF (LibreOffice)
      <outputs>/<year>/BSEC_Annual_Assessment_<year>_data.xlsx   the data annex (a sheet per CSV)
      <outputs>/<year>/data/*.csv                            observations, regional, country, coverage,
                                                             revisions, findings, submissions, changes
                                                             (changes since the latest release, or --against)
      <outputs>/<year>/feedback/                             one annotated workbook per submission
      <outputs>/<year>/status.csv                            the submission tracker (crimetrends status)
      <outputs>/<year>/manifest.json                         what the run was made from (sha256)
      <outputs>/<year>/charts/*.png                          the charts in the report
      <outputs>/<year>/run.log                               the log of every command on this year
    Exit code 1 when a submission of the year has an error (everything is written all the same), else 0.
    Exit code 2, with nothing written, when --inputs holds no workbook (by its name, folder or Cover)
    and no published history of the year, or an output folder cannot be written.
    Example:
      crimetrends run --year 2025
      crimetrends run --year 2025 --inputs inputs --outputs outputs
      crimetrends run --year 2025 --strict
      crimetrends --settings final.toml run --year 2025 --no-pdf
    """
    _require_folder(inputs_dir, "--inputs")
    settings = _session().settings()
    wanted_pdf = settings.pdf if make_pdf is None else make_pdf
    _require_apart(inputs_dir, outputs_dir)
    atomic.require_writable(outputs_dir, outputs_dir / str(year))
    _require_year_in_inputs(year, inputs_dir, load_reference())
    release_to_compare(outputs_dir, year, against)  # an unknown or damaged release stops the run before it starts
    _open_log(outputs_dir / str(year))
    with _progress() as progress:
        result = run_pipeline(year, inputs_dir, outputs_dir, strict=strict, make_pdf=wanted_pdf, settings=settings, progress=progress,
                              against=against)
    _say_written(result, wanted_pdf)
    if result.has_errors:
        log.info("Exit code 1: submissions for %d have errors (see data/findings.csv and feedback/).", year)
        click.get_current_context().exit(EXIT_VALIDATION_ERRORS)


def _say_written(result: RunResult, wanted_pdf: bool) -> None:
    log.info("Report: %s", result.report)
    if result.pdf is not None:
        log.info("PDF: %s (%s)", result.pdf, result.pdf_note)
    elif wanted_pdf:
        log.warning("PDF skipped: %s", result.pdf_note)


def run_pipeline(year: int, inputs_dir: Path, outputs_dir: Path, *, strict: bool = False, make_pdf: bool = False,
                 settings: Settings = DEFAULT_SETTINGS, progress: Progress | None = None, against: str | None = None) -> RunResult:
    """ingest -> validate -> aggregate -> charts -> report, written atomically into <outputs>/<year>;
    then, with `make_pdf`, the report as PDF beside it (a failed conversion leaves the rest whole).

    The whole run holds the lock on <outputs>/<year>, so two runs never write the same outputs at once.
    """
    with outputs_lock(outputs_dir, year):
        return _run_stages(year, inputs_dir, outputs_dir, strict=strict, make_pdf=make_pdf, settings=settings,
                           progress=progress or Progress(disable=True), against=against)


def _run_stages(year: int, inputs_dir: Path, outputs_dir: Path, *, strict: bool, make_pdf: bool, settings: Settings,
                progress: Progress, against: str | None = None) -> RunResult:


    ref = load_reference()
    thresholds = settings.thresholds(rules.load_thresholds())
    # Revised figures replace earlier ones in the checks across files: before the observations are taken.
    read, revisions = read_and_check([(path, inputs_dir) for path in ingest.discover_files(inputs_dir)], ref, strict=strict,
                                     thresholds=thresholds, progress=progress)
    submissions = [sub for sub, _ in read]
    refuse_mixed_demonstration(submissions, inputs_dir)
    published, history_findings = history.read_history(inputs_dir, ref)
    observations = history.merge_history(validate.observations_frame(submissions), published)
    regional, country = aggregate.build_regional_table(observations, ref), aggregate.build_country_table(observations, ref)
    year_dir = outputs_dir / str(year)

    with atomic.staged_year_dir(outputs_dir, year) as staging:
        data_dir = staging / output_files.DATA_DIR
        # The charts first: they are drawn in other processes while this one builds the other tables.
        # Like the report and the annex, they are drawn from the tables as stored (rates rounded to 6
        # decimals), so `crimetrends report` renders the very same outputs from data/*.csv.
        YearTables.write_tables(data_dir, regional=regional, country=country)
        stored = YearTables.read_tables(data_dir, ("regional", "country"))
        with charts.start_charts(stored["regional"], stored["country"], ref, year, staging / "charts", settings) as pending:
            submissions_table = pd.concat([validate.submissions_frame(submissions), history.history_files_frame(inputs_dir, published, history_findings)],
                                          ignore_index=True)
            findings_table = make_findings_table([f for s in submissions for f in s.findings] + history_findings)
            coverage = aggregate.build_coverage(observations, ref, sorted({int(y) for y in observations["year"]} | {year}))
            others = {"observations": observations, "coverage": coverage, "revisions": revisions, "findings": findings_table, "submissions": submissions_table}
            YearTables.write_tables(data_dir, **others)
            tables = YearTables(**stored, **YearTables.read_tables(data_dir, tuple(others)))
            comparison = compare_run_with_release(outputs_dir, year, staging, inputs_dir, submissions_table, settings, against)
            of_year = _submissions_of_year(read, year, ref)
            # Any demonstration workbook in use, of any year (the trends read every year), makes the run a
            # demonstration: its report says so, and next year's templates are not pre-filled from it.
            is_demonstration = any(s.is_demonstration for s in submissions if s.is_used)
            output_files.write_csv(status.build_status(submissions_table, ref, year, settings.deadline_for(year), dt.date.today()), staging / STATUS_NAME)

            def while_drawing() -> None:
                if settings.feedback:
                    _write_feedback(of_year, staging / FEEDBACK_DIR, ref)

            report_path, chart_paths = render_outputs(staging, year, tables, ref, settings, is_demonstration=is_demonstration, progress=progress,
                                                      while_drawing=while_drawing, pending=pending, comparison=comparison)
        manifest = provenance.build_manifest(
            year=year,
            inputs_dir=inputs_dir,
            input_hashes=dict(zip(submissions_table["file"], submissions_table["sha256"], strict=True)),
            settings=settings,
            counts={
                "files": len(submissions_table),
                "submissions_used": sum(s.is_used for s in submissions),
                "observations": len(observations),
                "observations_from_history": int((observations["origin"] == history.ORIGIN_HISTORY).sum()),
                "revisions": len(revisions),
                "findings_error": int((findings_table["severity"] == "error").sum()),
                "findings_warning": int((findings_table["severity"] == "warning").sum()),
                "findings_info": int((findings_table["severity"] == "info").sum()),
                "regional_rows": len(tables.regional),
                "charts": len(chart_paths),
            },
            options={"strict": strict, "pdf": make_pdf},
        )
        # What `report` needs to render the same report again and is in no CSV.
        manifest["is_demonstration"] = is_demonstration
        _write_manifest(manifest, staging)
        _carry_log(year_dir, staging)  # last: nothing is logged between this copy and the swap

    _print_summary(submissions_table, findings_table, year, table=not _session_quiet(), ref=ref)
    result = RunResult(year_dir=year_dir, report=year_dir / report_path.name, n_errors=int((findings_table["severity"] == "error").sum()),
                       has_errors=_has_errors(sub for sub, _ in of_year))
    if make_pdf:
        result.pdf, result.pdf_note = _make_pdf(result.report, progress)
    return result


def render_outputs(folder: Path, year: int, tables: YearTables, ref: Reference, settings: Settings, *, is_demonstration: bool, progress: Progress,
                   while_drawing: Callable[[], object] | None = None,
                   pending: PendingCharts | None = None, comparison: changes.Comparison | None = None) -> tuple[Path, dict[str, Path]]:
    """The outputs drawn from the year's tables, into `folder` (a staging folder): the charts, the
    report .docx and, with [outputs] data_annex, the data annex. Shared by `run` and `report`, so a
    re-rendered report is the one the run would write with the same tables and settings.
    Returns the report's path and the charts' paths.

    The charts are drawn in other processes (when there are many) while this one writes the annex,
    calls `while_drawing` (the run's feedback workbooks) and builds the report's text; the report is
    rendered once they are all written. `pending`: the charts of these tables, started by the caller
    (who then owns them); else they are started here. `comparison`: the tables compared with a release,
    for the report's changes annex and the annex's Changes sheet (None: no release).
    """

    task = progress.add_task("Drawing the charts, writing the annex and the report", total=None)
    started = pending or charts.start_charts(tables.regional, tables.country, ref, year, folder / "charts", settings)
    with contextlib.nullcontext(started) if pending is not None else started:
        if while_drawing is not None:
            while_drawing()
        if settings.data_annex:
            annex.write_data_annex(
                annex.annex_path(folder, year), year=year, regional=tables.regional, country=tables.country, observations=tables.observations,
                coverage=tables.coverage, findings=tables.findings, revisions=tables.revisions, submissions=tables.submissions,
                ref=ref, is_demonstration=is_demonstration, settings=settings, changes=comparison.changes if comparison else None,
            )
        context = report.build_context(year, tables.regional, tables.country, tables.submissions, tables.findings, ref, started.paths, settings,
                                       is_demonstration=is_demonstration, coverage=tables.coverage, revisions=tables.revisions, comparison=comparison)
        chart_paths = started.wait()
    log.debug("%d chart(s) drawn", len(chart_paths))
    report_path = report.render_report(REPORT_TEMPLATE, context, folder / report.REPORT_FILENAME.format(year=year))
    progress.remove_task(task)
    return report_path, chart_paths


def _write_manifest(manifest: dict[str, Any], folder: Path) -> None:

    (folder / provenance.MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _carry_log(year_dir: Path, staging: Path) -> None:
    """The year's run.log into the staging folder that is about to replace the year folder."""
    if (year_dir / LOG_NAME).is_file():
        shutil.copy2(year_dir / LOG_NAME, staging / LOG_NAME)


def _session_quiet() -> bool:
    ctx = click.get_current_context(silent=True)
    session = ctx.find_object(Session) if ctx else None
    return bool(session and session.quiet) or ctx is None


@main.command(name="report")
@_year_option("Reporting year whose stored outputs are rendered again.")
@_outputs_option
@_PDF_OPTION
@_AGAINST_OPTION
@_global_options
@_guarded
def report_command(year: int, outputs_dir: Path, make_pdf: bool | None, against: str | None) -> None:
    """Render the report, its charts, the data annex and the PDF again from the stored outputs.

    \b
    After editing the report template or the settings (title, status line, chart years...): reads
    <outputs>/<year>/data/*.csv as the last run wrote them and writes the charts, the .docx, the data
    annex and the PDF again; the inputs are not read, and data/ (but data/changes.csv, compared again
    with the latest release or --against), feedback/ and status.csv stay as they are (the manifest
    records the new settings). To take in new or corrected workbooks, use `run`.
    Exit code 2, with nothing written, when <outputs>/<year> holds no stored data (the message names
    the years that do) or cannot be written.
    Example:
      crimetrends report --year 2025
      crimetrends --settings final.toml report --year 2025 --no-pdf
    """

    year_dir = outputs_dir / str(year)
    data_dir = year_dir / output_files.DATA_DIR
    _require_stored_year(year, outputs_dir)
    atomic.require_writable(outputs_dir, year_dir)
    settings = _session().settings()
    wanted_pdf = settings.pdf if make_pdf is None else make_pdf
    release_to_compare(outputs_dir, year, against)  # an unknown or damaged release stops the rendering before it starts
    _open_log(year_dir)
    ref = load_reference()
    with outputs_lock(outputs_dir, year), _progress() as progress:
        tables = YearTables.read(data_dir)
        manifest_path = year_dir / provenance.MANIFEST_NAME
        manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
        if "is_demonstration" not in manifest:
            log.warning("%s does not say whether the data are demonstration data (a run of an older version): taken as not", manifest_path)
        is_demonstration = bool(manifest.get("is_demonstration", False))
        pdf_name = Path(report.REPORT_FILENAME.format(year=year)).with_suffix(".pdf").name
        rendered = {"charts", report.REPORT_FILENAME.format(year=year), pdf_name, _annex_name(year), provenance.MANIFEST_NAME, LOG_NAME}
        rendered |= set(atomic.KEPT_IN_YEAR_DIR)  # moved into the new folder by the swap, never copied
        if (year_dir / pdf_name).is_file() and not wanted_pdf:
            # A PDF of the previous rendering would no longer match the report.
            log.info("The previous %s is removed: it no longer matches the report (make it again without --no-pdf).", pdf_name)
        with atomic.staged_year_dir(outputs_dir, year) as staging:
            for item in year_dir.iterdir():
                if item.name not in rendered and not item.name.startswith("."):
                    (shutil.copytree if item.is_dir() else shutil.copy2)(item, staging / item.name)
            comparison = compare_stored_with_release(outputs_dir, year, staging, manifest, settings, against)
            report_path, chart_paths = render_outputs(staging, year, tables, ref, settings, is_demonstration=is_demonstration, progress=progress,
                                                      comparison=comparison)
            if manifest:
                manifest["settings"] = asdict(settings)
                manifest["options"] = {**manifest.get("options", {}), "pdf": wanted_pdf}
                manifest["counts"] = {**manifest.get("counts", {}), "charts": len(chart_paths)}
                manifest["report_rendered_utc"] = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
                _write_manifest(manifest, staging)
            _carry_log(year_dir, staging)
        result = RunResult(year_dir=year_dir, report=year_dir / report_path.name, n_errors=0)
        if wanted_pdf:
            result.pdf, result.pdf_note = _make_pdf(result.report, progress)
    _say_written(result, wanted_pdf)


def _annex_name(year: int) -> str:

    return annex.annex_path(Path("."), year).name


def _make_pdf(report_path: Path, progress: Progress | None = None) -> tuple[Path | None, str]:
    """The report as PDF beside it, or (None, why not) when LibreOffice is not installed.

    Runs after the year folder is in place, so a failed conversion (PdfError) keeps the .docx and data.
    """

    soffice = pdf.find_soffice()
    if soffice is None:
        return None, "LibreOffice (soffice) is not installed; install it for the PDF, or pass --no-pdf"
    progress = progress or Progress(disable=True)
    task = progress.add_task("Writing the PDF (LibreOffice)", total=None)
    made = pdf.convert_to_pdf(report_path, soffice=soffice)
    progress.remove_task(task)
    return made.path, f"{made.pages} pages, {made.note}"


def across_years(subs: list[Submission], ref: Reference, thresholds: Thresholds | None = None) -> pd.DataFrame:
    """The checks that compare years, on submissions already resolved: revisions (which replace last
    year's figures), then the time rules on the revised figures. Returns the revision log."""

    revisions = validate.apply_revisions(subs, ref, thresholds)
    validate.apply_time_rules(subs, ref, thresholds)
    return revisions


def read_and_validate(files: list[tuple[Path, Path]], ref: Reference, *, strict: bool,
                      progress: Progress | None = None) -> list[tuple[Submission, Path]]:
    """Ingest and validate each (file, folder its name is relative to), in order; pairs each submission with its file."""

    progress = progress or Progress(disable=True)
    task = progress.add_task("Reading the workbooks", total=len(files))
    read = []
    for path, base in files:
        sub = validate.validate_submission(ingest.read_submission(path, base, ref), ref, strict=strict)
        log.debug("Read %s: %s, %d error(s), %d warning(s)", sub.file, sub.status, sub.count("error"), sub.count("warning"))
        read.append((sub, path))
        progress.advance(task)
    progress.remove_task(task)
    return read


def read_and_check(files: list[tuple[Path, Path]], ref: Reference, *, strict: bool, thresholds: Thresholds | None = None,
                   progress: Progress | None = None) -> tuple[list[tuple[Submission, Path]], pd.DataFrame]:
    """`read_and_validate`, then the checks across files (`validate.resolve_resubmissions`, then
    `across_years`): the submissions with their files, and the revision log."""

    read = read_and_validate(files, ref, strict=strict, progress=progress)
    subs = [sub for sub, _ in read]
    validate.resolve_resubmissions(subs, ref)
    return read, across_years(subs, ref, thresholds or rules.load_thresholds())


def _submissions_of_year(read: list[tuple[Submission, Path]], year: int, ref: Reference) -> list[tuple[Submission, Path]]:
    """The workbooks for `year`, those whose year could not be read (they may be for any year), and
    those named or filed for `year` whose Cover gives another year: their feedback (the cover-year-mismatch
    on the Cover) reaches the year the focal point sent them for, as well as the year they count for."""
    frame = validate.submissions_frame([sub for sub, _ in read])
    moved = set(status.moved_files(frame, ref, year)["file"])
    return [(sub, path) for sub, path in read
            if (sub.year == year or sub.year is None or sub.file in moved) and sub.status != "ignored"]


def _write_feedback(read: list[tuple[Submission, Path]], folder: Path, ref: Reference) -> list[Path]:
    """The feedback workbooks and the list of their findings (findings.csv) into `folder`."""

    paths = feedback.write_feedback_workbooks(read, folder, ref, functools.partial(_blank_template, ref))
    output_files.write_csv(validate.findings_frame([sub for sub, _ in read]), folder / feedback.FINDINGS_CSV)
    return paths


def _blank_template(ref: Reference, iso3: str, year: int) -> Workbook | None:
    """The blank submission workbook of a member state and year, which an .ods or .xls submission's
    feedback copy is made in (feedback, an earlier stage, does not build templates itself)."""
    return build_workbook(ref, iso3, year) if iso3 in ref.state_by_iso3 else None


def _print_summary(submissions, findings, year: int, *, table: bool, ref: Reference) -> None:
    """With `table`, the report year's files, any file of another year not used as it stands, and the
    files named or filed for the year that count elsewhere; then the counts, and where those files went."""
    moved = status.moved_files(submissions, ref, year)
    # Published history and its provenance files are the coordinator's own: never "a file to look at".
    ours = submissions["status"].isin(status.NOT_SUBMISSIONS) & submissions["file"].str.startswith(f"{ingest.HISTORY_DIR}/")
    needs_a_look = (submissions["year"] == year).fillna(False) | ~submissions["status"].isin(["accepted"]) | submissions["file"].isin(moved["file"])
    shown = submissions[needs_a_look & ~ours]
    other_years = len(submissions) - len(shown)
    if table:
        _print_files(shown, year)
    counts = findings["severity"].value_counts().to_dict()
    log.info("%d file(s) read (%d file(s) of other years or of published history, all accepted, not listed). Findings: %d error(s), %d warning(s), %d info — see data/findings.csv",
             len(submissions), other_years, counts.get("error", 0), counts.get("warning", 0), counts.get("info", 0))
    _log_moved(moved, year)


def _print_files(shown, year: int) -> None:
    table = Table(title=f"Submissions for {year}, and files of other years that need a look", show_lines=False)
    for column in ("file", "country", "year", "status", "values", "errors", "warnings"):
        table.add_column(column, overflow="fold")  # a narrow screen folds a file name or status, never cuts it
    for row in shown.itertuples(index=False):
        table.add_row(row.file, row.country_iso3, "" if row.year is None or str(row.year) == "<NA>" else str(row.year), row.status, str(row.n_values), str(row.n_errors), str(row.n_warnings))
    # Into a file or a pipe (a log, a CI job): no screen to fit, so one line per file.
    (stderr if stderr.is_terminal else Console(stderr=True, highlight=False, width=160)).print(table)


# -- import ------------------------------------------------------------------------------------------
@main.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--inputs", "inputs_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_INPUTS, show_default=True, help="Inputs folder: the history is written to <inputs>/history/ and read by the run. Example: --inputs inputs")
@_global_options
@_guarded
def import_command(file: Path, inputs_dir: Path) -> None:
    """Turn a published data file into history the run reads beside the submissions.

    \b
    Recognises by content the UNODC GLOTIP workbook (data_glotip.xlsx, dataunodc.un.org) and the
    Eurostat crim_off_cat TSV. Keeps the 13 member states, in the years they are members, and the
    indicators and breakdowns of the catalogue; writes <inputs>/history/<source>.csv with
    <source>.json (file name, sha256, rows imported and skipped). Importing again replaces both.
    A state's own submission wins over history for the same indicator and year.
    Exit code 2 when the file is not one of these.
    \b
    Examples:
      crimetrends import data_glotip.xlsx
      crimetrends import estat_crim_off_cat.tsv --inputs inputs
    """

    atomic.require_writable(inputs_dir / ingest.HISTORY_DIR)
    ref = load_reference()
    try:
        imported = history.import_published(file, ref)
    except history.UnrecognisedFileError as err:
        _stop(str(err), EXIT_USAGE)
    try:
        path = history.write_history(imported, inputs_dir)
    except OSError as err:  # OutputError: a folder the user can fix
        _stop(str(err), EXIT_USAGE if isinstance(err, OutputError) else EXIT_INTERNAL)
    log.info("%s; written to %s", imported.summary(), path)


# -- doctor ------------------------------------------------------------------------------------------
@main.command(name="doctor")
@_inputs_option
@_outputs_option
@_global_options
@_guarded
def doctor_command(inputs_dir: Path, outputs_dir: Path) -> None:
    """Check that this machine is ready for the annual run, and say what to install for each gap.

    \b
    One line per check: OK, MISSING (essential: the commands fail without it) or WARNING (optional:
    the PDF, its page numbers, the fonts LibreOffice uses, the test tools). Checks the Python version,
    the packages crimetrends needs and their versions, the settings file, the report template, that
    --inputs is readable and --outputs writable, the chart font, LibreOffice and its Python bridge,
    fontconfig's DejaVu Sans and poppler-utils. Exit code 0 when every essential check passes, else 1.
    Example:
      crimetrends doctor
      crimetrends doctor --inputs inputs --outputs outputs
    """

    results = doctor.run_checks(inputs_dir=inputs_dir, outputs_dir=outputs_dir, report_template=REPORT_TEMPLATE,
                                settings_path=_session().settings_file, cwd=Path.cwd())
    out = Console(highlight=False)
    colours = {"OK": "green", "MISSING": "red", "WARNING": "yellow"}
    for check in results:
        line = f"[{colours[check.word]}]{check.word:<8}[/] {check.name}: {_escape(check.detail)}"
        if not check.ok and check.fix:
            line += f" — {_escape(check.fix)}"
        out.print(line, soft_wrap=True)
    missing = [c.name for c in results if not c.ok and c.essential]
    if missing:
        log.warning("Not ready: %s missing.", ", ".join(missing))
        click.get_current_context().exit(1)
    log.info("Ready for the annual run%s.", "" if all(c.ok for c in results) else " (see the warnings for the optional parts)")


def _escape(text: str) -> str:

    return escape(text)


# -- release -----------------------------------------------------------------------------------------
@main.command(name="release")
@_year_option("Reporting year whose outputs are frozen (or whose releases are listed).")
@click.option("--label", default=None, metavar="LABEL", help="Name of the release: letters, digits, '-', '_' and '.'. Never reused. Example: --label draft")
@click.option("--note", default="", metavar="TEXT", help="A note kept with the release (to whom, why). Example: --note \"sent to the Working Group\"")
@click.option("--list", "list_them", is_flag=True, help="List the year's releases (label, date, note) instead of making one. Example: --list")
@_inputs_option
@_outputs_option
@_global_options
@_guarded
def release_command(year: int, label: str | None, note: str, list_them: bool, inputs_dir: Path, outputs_dir: Path) -> None:
    """Freeze the year's outputs as circulated: a draft, the final, a corrigendum.

    \b
    Copies the report (.docx, and .pdf when there is one), the data annex, data/*.csv, manifest.json
    and status.csv of <outputs>/<year>/ into <outputs>/<year>/releases/<LABEL>/ with release.json
    (date, note, the sha256 of every file), and makes them read-only. A label is never reused, and a
    run or a report never changes a release. Refused when a file in --inputs changed, appeared or
    went since the run (run first), or when the year has no run.
    With --list: one line per release, oldest first (label, date, note).
    Exit code 2 for a label that is taken or not a plain name, inputs changed since the run, no run,
    or a damaged release folder.
    \b
    Examples:
      crimetrends release --year 2025 --label draft --note "sent to the Working Group"
      crimetrends release --year 2025 --list
    """

    if list_them:
        if label is not None:
            raise click.UsageError("Give either --label (make a release) or --list, not both.")
        releases = list_releases(outputs_dir, year)
        width = max((len(made.label) for made in releases), default=0)
        for made in releases:
            click.echo(f"{made.label:<{width}}  {made.released_utc}  {' '.join(made.note.split())}".rstrip())  # a note typed on several lines: one line
        if not releases:
            click.echo(f"{year} has no release yet (make one with: crimetrends release --year {year} --label draft)")
        return
    if label is None:
        raise click.UsageError("Give --label LABEL to make a release (for example --label draft), or --list to list them.")
    if (outputs_dir / str(year) / provenance.MANIFEST_NAME).is_file():  # a year with no run gets no folder made for its log
        _open_log(outputs_dir / str(year))
    made = make_release(outputs_dir, year, label, note, inputs_dir)
    log.info("Release %s of %d: %s (%s)", made.label, year, made.folder, made.released_utc)


# -- changes since a release ---------------------------------------------------------------------------
LARGEST_CHANGES_SHOWN = 20


def release_to_compare(outputs_dir: Path, year: int, against: str | None) -> release.Release | None:
    """The release `against` names, else the latest release of the year, else None; checked against its
    release.json either way (a ReleaseError, exit 2, names an unknown, damaged or misplaced release)."""
    if against:
        return release.load_release(outputs_dir, year, against)
    return release.latest_release(outputs_dir, year)


def compare_run_with_release(outputs_dir: Path, year: int, staging: Path, inputs_dir: Path, submissions_table: pd.DataFrame,
                             settings: Settings, against: str | None) -> changes.Comparison | None:
    """The run's tables (already in `staging/data/`) compared with the release: data/changes.csv
    written there (its header only without a release), and the comparison for the report and annex."""
    found = release_to_compare(outputs_dir, year, against)
    manifest: dict[str, Any] = {}
    if found is not None:  # what the run's manifest will say of its settings, version and reference files
        manifest = provenance.build_manifest(year=year, inputs_dir=inputs_dir, input_hashes=dict(zip(submissions_table["file"], submissions_table["sha256"], strict=True)),
                                             settings=settings, counts={}, options={})
    return _compare_and_write(found, year, staging, manifest)


def compare_stored_with_release(outputs_dir: Path, year: int, staging: Path, manifest: dict[str, Any], settings: Settings,
                                against: str | None) -> changes.Comparison | None:
    """`report`: the stored tables (copied into `staging/data/`) compared with the release, with the
    settings of this rendering; data/changes.csv written again."""
    return _compare_and_write(release_to_compare(outputs_dir, year, against), year, staging, {**manifest, "settings": asdict(settings)})


def _compare_and_write(found: release.Release | None, year: int, folder: Path, manifest: dict[str, Any]) -> changes.Comparison | None:
    path = folder / output_files.DATA_DIR / changes.CHANGES_NAME
    if found is None:
        log.info("No release of %d to compare with (crimetrends release): data/changes.csv lists no change.", year)
        output_files.write_csv(changes.empty_changes(), path)
        return None
    frame = changes.compare(changes.read_snapshot(found.folder), changes.Snapshot(changes.read_snapshot(folder).tables, manifest))
    output_files.write_csv(frame, path)
    log.info("Compared with release %s of %s: %d published figure(s) changed (data/changes.csv).", found.label, found.released_utc[:10], len(frame))
    old_findings = report.read_key_findings(found.folder / report.REPORT_FILENAME.format(year=year))
    return changes.Comparison(found.label, found.released_utc[:10], frame, old_findings)


@main.command(name="changes")
@_year_option("Reporting year whose stored outputs are compared with a release.")
@click.option("--against", metavar="LABEL", default=None, help="The release to compare with. Default: the latest release of the year. Example: --against draft-1")
@_outputs_option
@_global_options
@_guarded
def changes_command(year: int, against: str | None, outputs_dir: Path) -> None:
    """Print which published figures changed since a release, and why: counts by cause, then the 20 largest changes.

    \b
    Compares <outputs>/<year>/data/*.csv and manifest.json, as the last run wrote them, with the
    release (crimetrends release); runs nothing and writes nothing. The full list is data/changes.csv
    of the last run or report. The largest changes are ranked by the size of the change as a % of the
    figure in the release (for a change on the previous year, its difference in percentage points; a
    figure that appeared or went away counts as 100, a change of status or flags only as 0), then by
    the absolute difference.
    Exit code 2 for an unknown label, a damaged or edited release, a release of another year, or a
    year without stored outputs.
    Example:
      crimetrends changes --year 2025
      crimetrends changes --year 2025 --against draft-1
    """
    _require_stored_year(year, outputs_dir)
    found = release_to_compare(outputs_dir, year, against)
    if found is None:
        log.info("No release of %d to compare with: make one with `crimetrends release --year %d --label LABEL`.", year, year)
        return
    frame = changes.compare(changes.read_snapshot(found.folder), changes.read_snapshot(outputs_dir / str(year)))
    _print_changes(frame, found, year)


def _print_changes(frame: pd.DataFrame, found: release.Release, year: int) -> None:
    out = Console(highlight=False)
    if not out.is_terminal:  # into a file or a pipe: one line per change
        out = Console(highlight=False, width=200)
    since = f"release {found.label} of {found.released_utc[:10]}"
    if frame.empty:
        out.print(f"No published figure of {year} changed since {since}.")
        return
    out.print(f"{len(frame)} published figure(s) of {year} changed since {since}.")
    causes = Table(title="Changed figures by cause", caption="a figure with several causes counts under each", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("cause", "figures", "what it means"):
        causes.add_column(column, justify="right" if column == "figures" else "left")
    for code, count in changes.counts_by_cause(frame):
        causes.add_row(code, str(count), changes.CAUSES[code])
    out.print(causes)
    largest = Table(title=f"The {min(LARGEST_CHANGES_SHOWN, len(frame))} largest changes", caption="ranked by the change as a % of the figure in the release (changes on the previous year: by their difference in points)", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("figure", "measure", "before", "now", "cause", "evidence"):
        largest.add_column(column, overflow="fold", justify="right" if column in ("before", "now") else "left")
    for row in changes.largest(frame, LARGEST_CHANGES_SHOWN).itertuples(index=False):
        where = row.country_iso3 if isinstance(row.country_iso3, str) and row.country_iso3 else "BSEC"
        breakdown = "" if row.breakdown == "TOTAL" else f" {row.breakdown}"
        largest.add_row(f"{where} {row.indicator}{breakdown} {row.year}", str(row.measure), _change_value(row.old_value, row.old_status, row.old_flags),
                        _change_value(row.new_value, row.new_status, row.new_flags), str(row.cause), _escape(str(row.evidence)))
    out.print(largest)
    log.info("The full list: data/changes.csv (written by `crimetrends run` or `report`).")


def _change_value(value: object, status: object, flags: object) -> str:
    shown = status if _missing(value) else f"{value:,.6g}" if isinstance(value, float) else str(value)
    return f"{shown or ':'} {flags}".strip() if not _missing(flags) else str(shown or ":")
