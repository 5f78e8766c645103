"""The `crimetrends` command: the only place where the stages are chained.

    crimetrends template --year 2026                 one submission workbook per member state
    crimetrends validate GEO_2026.xlsx               ingest -> validate: findings and feedback only
    crimetrends validate --year 2025                 the same for every submission of a year
    crimetrends run --year 2025                      ingest -> validate -> aggregate -> charts -> report

Exit codes: 0 done, 1 validation errors (validate), 2 usage error, 3 internal error (one-line message).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from pipeline import __version__
from pipeline.findings import PipelineError

if TYPE_CHECKING:  # the stages import pandas: loaded when a command runs, so --help stays instant
    import pandas as pd

    from pipeline.reference import Reference
    from pipeline.validate import Submission

PROJECT_ROOT = Path.cwd()
DEFAULT_INPUTS = Path("inputs")
DEFAULT_OUTPUTS = Path("outputs")
REPORT_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "annual_assessment.docx"

stderr = Console(stderr=True, highlight=False)


def _inputs_option(f):
    return click.option("--inputs", "inputs_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_INPUTS, show_default=True, help="Folder holding the submitted workbooks (read recursively, never modified).")(f)


def _outputs_option(f):
    return click.option("--outputs", "outputs_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUTPUTS, show_default=True, help="Folder the results go to, one sub-folder per year.")(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="crimetrends")
def main() -> None:
    """crimetrends: the BSEC Annual Assessment of the Trends of Transnational Crime.

    \b
    The yearly cycle:
      crimetrends template --year 2026     write the submission workbooks
      (member states fill them in; put the returned files in inputs/)
      crimetrends validate --year 2026     findings and a feedback workbook per submission
      crimetrends run --year 2026          validate, aggregate, draw charts, write the report
    """


@main.command()
@click.option("--year", type=click.IntRange(2000, 2100), required=True, help="Reporting year the workbooks collect.")
@click.option("--country", "countries", multiple=True, metavar="ISO3", help="Only this member state (repeatable). Default: all 13.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Folder to write to. Default: <outputs>/templates/<year>.")
@click.option("--previous", "previous_file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="observations.csv of last year's run, whose accepted <year-1> values pre-fill the Previous year value column. Default: <outputs>/<year-1>/data/observations.csv.")
@_outputs_option
def template(year: int, countries: tuple[str, ...], out_dir: Path | None, previous_file: Path | None, outputs_dir: Path) -> None:
    """Write one submission workbook per member state.

    \b
    The Previous year value column is pre-filled with each state's values accepted for year-1
    (from --previous); when that file does not exist the column is left blank.
    Example:
      crimetrends template --year 2026
      crimetrends template --year 2026 --country GEO --out ~/to_send
      crimetrends template --year 2026 --previous outputs/2025/data/observations.csv
    """
    from pipeline.reference import load_reference
    from pipeline.template import default_previous_path, read_previous_observations, write_template

    ref = load_reference()
    wanted = [c.upper() for c in countries] or ref.members_in(year)
    unknown = [c for c in wanted if c not in ref.members_in(year)]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)} is not a BSEC member state in {year}. Members: {' '.join(ref.members_in(year))}", param_hint="--country")
    previous_path = previous_file or default_previous_path(outputs_dir, year)
    try:
        previous = read_previous_observations(previous_path)
    except PipelineError as err:
        raise click.BadParameter(str(err), param_hint="--previous") from err
    if previous is None:
        stderr.print(f"No {previous_path}: the Previous year value column is left blank.", markup=False, soft_wrap=True)
    target = out_dir or outputs_dir / "templates" / str(year)
    for iso3 in wanted:
        path = write_template(ref, iso3, year, target, previous=previous)
        click.echo(str(path))
    stderr.print(f"Wrote {len(wanted)} submission workbook(s) for {year} to {target}")


@main.command(name="validate")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", type=click.IntRange(2000, 2100), default=None, help="Check every submission for this reporting year in --inputs (instead of FILES).")
@_inputs_option
@_outputs_option
@click.option("--strict", is_flag=True, help="Count a submission with any error as rejected.")
def validate_command(files: tuple[Path, ...], year: int | None, inputs_dir: Path, outputs_dir: Path, strict: bool) -> None:
    """Check submissions without running the report: findings and a feedback workbook for each.

    \b
    With FILES: checks those workbooks (a focal point's check before sending). Earlier years'
    submissions in --inputs, when that folder exists, are used for the checks on changes over time.
    Writes <outputs>/validation/findings.csv and <outputs>/validation/<ISO3>_<year>_feedback.xlsx.
    With --year: checks every submission for that year in --inputs, as the run would, and writes
    <outputs>/<year>/feedback/findings.csv and one <ISO3>_<year>_feedback.xlsx per submission.
    Prints the findings of each submission. Exit code 1 when a submission in use has an error, else 0.
    The files checked are only read, never changed.
    \b
    Examples:
      crimetrends validate GEO_2025.xlsx
      crimetrends validate --year 2025
      crimetrends validate --year 2025 --inputs inputs --outputs outputs
    """
    from pipeline.reference import load_reference

    if bool(files) == (year is not None):
        raise click.UsageError("Give either workbook FILES or --year, not both and not neither.")
    if year is not None and not inputs_dir.is_dir():
        raise click.BadParameter(f"{inputs_dir} is not a folder", param_hint="--inputs")
    ref = load_reference()
    try:
        if files:
            checked, folder = _validate_files(list(files), inputs_dir, ref, strict=strict), outputs_dir / VALIDATION_DIR
        else:
            checked, folder = _validate_year(year, inputs_dir, ref, strict=strict), outputs_dir / str(year) / FEEDBACK_DIR
        from pipeline import store

        with store.outputs_lock(outputs_dir, year if year is not None else VALIDATION_DIR), store.staged_dir(folder) as staging:
            _write_feedback(checked, staging, ref)
    except PipelineError as err:
        stderr.print(f"[red]crimetrends: {err}[/red]")
        sys.exit(3)
    _print_findings([sub for sub, _ in checked], ref)
    if year is not None:
        received = {sub.country_iso3 for sub, _ in checked}
        missing = [f"{ref.state_by_iso3[iso3].name} ({iso3})" for iso3 in ref.members_in(year) if iso3 not in received]
        if missing:
            stderr.print(f"No submission for {year} from: {', '.join(missing)}")
    stderr.print(f"Findings and feedback workbooks: {folder}")
    if any(sub.count("error") and sub.status != "superseded" for sub, _ in checked):
        sys.exit(1)


VALIDATION_DIR = "validation"


def _validate_files(files: list[Path], inputs_dir: Path, ref: Reference, *, strict: bool) -> list[tuple[Submission, Path]]:
    """The named workbooks, checked against the other years' submissions in `inputs_dir` for the time rules."""
    from pipeline import ingest, validate

    named = _validated([(path, path.parent) for path in files], ref, strict=strict)
    named_paths = {path.resolve() for path in files}
    context_files = ingest.discover_files(inputs_dir) if inputs_dir.is_dir() else []
    context = _validated([(path, inputs_dir) for path in context_files if path.resolve() not in named_paths], ref, strict=strict)
    # A named file replaces whatever inputs/ holds for its country and year: it is the one being checked.
    named_keys = {(sub.country_iso3, sub.year) for sub, _ in named}
    context_subs = [sub for sub, _ in context if (sub.country_iso3, sub.year) not in named_keys]
    subs = [sub for sub, _ in named]
    validate.resolve_resubmissions(subs, ref)
    validate.resolve_resubmissions(context_subs, ref)
    _across_years(subs + context_subs, ref)
    return named


def _validate_year(year: int, inputs_dir: Path, ref: Reference, *, strict: bool) -> list[tuple[Submission, Path]]:
    """Every submission in `inputs_dir` is validated (earlier years feed the time rules); those of `year` are returned."""
    from pipeline import ingest, validate

    read = _validated([(path, inputs_dir) for path in ingest.discover_files(inputs_dir)], ref, strict=strict)
    subs = [sub for sub, _ in read]
    validate.resolve_resubmissions(subs, ref)
    _across_years(subs, ref)
    return _submissions_of_year(read, year)


def _print_findings(subs: list[Submission], ref: Reference) -> None:
    """One block per submission: what became of it, then its findings (errors first)."""
    from pipeline.feedback import SEVERITY_ORDER, status_text

    out = Console(highlight=False)
    colours = {"error": "red", "warning": "yellow", "info": "blue"}
    for sub in sorted(subs, key=lambda s: (s.country_iso3, s.year or 0, s.file)):
        title = f"{sub.file} — {sub.country_iso3 or 'country not identified'} {sub.year or ''}".rstrip()
        out.print(f"[bold]{title}[/bold]: {status_text(sub)}")
        if not sub.findings:
            continue
        table = Table(show_edge=False, pad_edge=False)
        for column in ("severity", "code", "cell", "message"):
            table.add_column(column, overflow="fold")
        for f in sorted(sub.findings, key=lambda f: SEVERITY_ORDER.get(f.severity, 3)):
            where = f"{f.sheet}!{f.cell}" if f.cell else f.sheet
            table.add_row(f"[{colours.get(f.severity, 'white')}]{f.severity}[/]", f.code, where, f.message)
        out.print(table)
        out.print()


@dataclass
class RunResult:
    year_dir: Path
    report: Path
    n_errors: int
    pdf: Path | None = None
    pdf_note: str = ""


@main.command()
@click.option("--year", type=click.IntRange(2000, 2100), required=True, help="Reporting year of the assessment.")
@_inputs_option
@_outputs_option
@click.option("--strict", is_flag=True, help="Reject any submission with an error, instead of leaving out only the values in error.")
@click.option("--pdf/--no-pdf", "make_pdf", default=True, show_default=True, help="Also write the report as PDF (needs LibreOffice; without it the run says so and goes on).")
def run(year: int, inputs_dir: Path, outputs_dir: Path, strict: bool, make_pdf: bool) -> None:
    """Run every stage for one reporting year and write <outputs>/<year>/.

    \b
    Reads every workbook under --inputs (all years: earlier years give the trends), and writes:
      <outputs>/<year>/BSEC_Annual_Assessment_<year>.docx    the report
      <outputs>/<year>/BSEC_Annual_Assessment_<year>.pdf     the report as PDF (LibreOffice)
      <outputs>/<year>/BSEC_Annual_Assessment_<year>_data.xlsx   the data annex (a sheet per CSV)
      <outputs>/<year>/data/*.csv                            observations, regional, country, coverage,
                                                             revisions, findings, submissions
      <outputs>/<year>/feedback/                             one annotated workbook per submission
      <outputs>/<year>/manifest.json                         what the run was made from (sha256)
      <outputs>/<year>/charts/*.png                          the charts in the report
    Example:
      crimetrends run --year 2025
      crimetrends run --year 2025 --inputs inputs --outputs outputs
      crimetrends run --year 2025 --strict
      crimetrends run --year 2025 --no-pdf
    """
    if not inputs_dir.is_dir():
        raise click.BadParameter(f"{inputs_dir} is not a folder", param_hint="--inputs")
    try:
        result = run_pipeline(year, inputs_dir, outputs_dir, strict=strict, make_pdf=make_pdf)
    except PipelineError as err:
        stderr.print(f"[red]crimetrends: {err}[/red]")
        sys.exit(3)
    stderr.print(f"Report: {result.report}")
    if result.pdf is not None:
        stderr.print(f"PDF: {result.pdf} ({result.pdf_note})")
    elif make_pdf:
        stderr.print(f"PDF skipped: {result.pdf_note}")


def run_pipeline(year: int, inputs_dir: Path, outputs_dir: Path, *, strict: bool = False, make_pdf: bool = False) -> RunResult:
    """ingest -> validate -> aggregate -> charts -> report, written atomically into <outputs>/<year>;
    then, with `make_pdf`, the report as PDF beside it (a failed conversion leaves the rest whole).

    The whole run holds the lock on <outputs>/<year>, so two runs never write the same outputs at once.
    """
    from pipeline import store

    with store.outputs_lock(outputs_dir, year):
        return _run_locked(year, inputs_dir, outputs_dir, strict=strict, make_pdf=make_pdf)


def _run_locked(year: int, inputs_dir: Path, outputs_dir: Path, *, strict: bool, make_pdf: bool) -> RunResult:
    import pandas as pd

    from pipeline import aggregate, annex, charts, history, ingest, provenance, report, store, validate
    from pipeline.findings import findings_table as make_findings_table
    from pipeline.settings import DEFAULT_SETTINGS
    from pipeline.reference import load_reference

    ref = load_reference()
    read = _validated([(path, inputs_dir) for path in ingest.discover_files(inputs_dir)], ref, strict=strict)
    submissions = [sub for sub, _ in read]
    validate.resolve_resubmissions(submissions, ref)
    revisions = _across_years(submissions, ref)
    published, history_findings = history.read_history(inputs_dir, ref)
    observations = history.merge_history(validate.observations_frame(submissions), published)
    submissions_table = pd.concat([validate.submissions_frame(submissions), history.history_files_frame(inputs_dir, published, history_findings)], ignore_index=True)
    findings_table = make_findings_table([f for s in submissions for f in s.findings] + history_findings)
    regional = aggregate.build_regional_table(observations, ref)
    country = aggregate.build_country_table(observations, ref)
    coverage = aggregate.build_coverage(observations, ref, sorted({int(y) for y in observations["year"]} | {year}))
    is_demonstration = any(s.is_demonstration for s in submissions if s.is_used and s.year == year)

    with store.staged_year_dir(outputs_dir, year) as staging:
        data_dir = staging / store.DATA_DIR
        store.write_csv(observations, data_dir / "observations.csv")
        store.write_csv(regional, data_dir / "regional.csv")
        store.write_csv(country, data_dir / "country.csv")
        store.write_csv(coverage, data_dir / "coverage.csv")
        store.write_csv(revisions, data_dir / "revisions.csv")
        store.write_csv(findings_table, data_dir / "findings.csv")
        store.write_csv(submissions_table, data_dir / "submissions.csv")
        annex.write_data_annex(
            annex.annex_path(staging, year), year=year, regional=regional, country=country, observations=observations,
            coverage=coverage, findings=findings_table, revisions=revisions, submissions=submissions_table,
            ref=ref, is_demonstration=is_demonstration,
        )
        _write_feedback(_submissions_of_year(read, year), staging / FEEDBACK_DIR, ref)
        chart_paths = charts.render_charts(regional, country, ref, year, staging / "charts")
        context = report.build_context(year, regional, country, submissions_table, findings_table, ref, chart_paths, is_demonstration=is_demonstration, coverage=coverage, revisions=revisions)
        report_name = report.REPORT_FILENAME.format(year=year)
        report.render_report(REPORT_TEMPLATE, context, staging / report_name)
        manifest = provenance.build_manifest(
            year=year,
            inputs_dir=inputs_dir,
            input_hashes=dict(zip(submissions_table["file"], submissions_table["sha256"], strict=True)),
            settings=DEFAULT_SETTINGS,
            counts={
                "files": len(submissions_table),
                "submissions_used": sum(s.is_used for s in submissions),
                "observations": len(observations),
                "observations_from_history": int((observations["origin"] == history.ORIGIN_HISTORY).sum()),
                "revisions": len(revisions),
                "findings_error": int((findings_table["severity"] == "error").sum()),
                "findings_warning": int((findings_table["severity"] == "warning").sum()),
                "findings_info": int((findings_table["severity"] == "info").sum()),
                "regional_rows": len(regional),
                "charts": len(chart_paths),
            },
            options={"strict": strict},
        )
        (staging / provenance.MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        # The context was built with chart paths inside the staging folder; they move with it.

    year_dir = outputs_dir / str(year)
    _print_summary(submissions_table, findings_table, year)
    n_errors = int((findings_table["severity"] == "error").sum())
    result = RunResult(year_dir=year_dir, report=year_dir / report_name, n_errors=n_errors)
    if make_pdf:
        result.pdf, result.pdf_note = _make_pdf(result.report)
    return result


def _make_pdf(report_path: Path) -> tuple[Path | None, str]:
    """The report as PDF beside it, or (None, why not) when LibreOffice is not installed.

    Runs after the year folder is in place, so a failed conversion (PdfError) keeps the .docx and data.
    """
    from pipeline import pdf

    soffice = pdf.find_soffice()
    if soffice is None:
        return None, "LibreOffice (soffice) is not installed; install it for the PDF, or pass --no-pdf"
    made = pdf.convert_to_pdf(report_path, soffice=soffice)
    return made.path, f"{made.pages} pages, {made.note}"


FEEDBACK_DIR = "feedback"


def _across_years(subs: list[Submission], ref: Reference) -> pd.DataFrame:
    """The checks that compare years, on submissions already resolved: revisions (which replace last
    year's figures), then the time rules on the revised figures. Returns the revision log."""
    from pipeline import validate

    revisions = validate.apply_revisions(subs, ref)
    validate.apply_time_rules(subs, ref)
    return revisions


def _validated(files: list[tuple[Path, Path]], ref: Reference, *, strict: bool) -> list[tuple[Submission, Path]]:
    """Ingest and validate each (file, folder its name is relative to); pairs each submission with its file."""
    from pipeline import ingest, validate

    return [(validate.validate_submission(ingest.read_submission(path, base, ref), ref, strict=strict), path) for path, base in files]


def _submissions_of_year(read: list[tuple[Submission, Path]], year: int) -> list[tuple[Submission, Path]]:
    """The workbooks for `year`, and those whose year could not be read (they may be for any year)."""
    return [(sub, path) for sub, path in read if (sub.year == year or sub.year is None) and sub.status != "ignored"]


def _write_feedback(read: list[tuple[Submission, Path]], folder: Path, ref: Reference) -> list[Path]:
    """The feedback workbooks and the list of their findings (findings.csv) into `folder`."""
    from pipeline import feedback, store, validate

    paths = feedback.write_feedback_workbooks(read, folder, ref)
    store.write_csv(validate.findings_frame([sub for sub, _ in read]), folder / "findings.csv")
    return paths


def _print_summary(submissions, findings, year: int) -> None:
    # The report year's files, and any file of another year that was not used as it stands.
    shown = submissions[(submissions["year"] == year).fillna(False) | ~submissions["status"].isin(["accepted"])]
    table = Table(title=f"Submissions for {year}, and files of other years that need a look", show_lines=False)
    for column in ("file", "country", "year", "status", "values", "errors", "warnings"):
        table.add_column(column)
    for row in shown.itertuples(index=False):
        table.add_row(row.file, row.country_iso3, "" if row.year is None or str(row.year) == "<NA>" else str(row.year), row.status, str(row.n_values), str(row.n_errors), str(row.n_warnings))
    stderr.print(table)
    counts = findings["severity"].value_counts().to_dict()
    other_years = len(submissions) - len(shown)
    stderr.print(f"{len(submissions)} file(s) read ({other_years} accepted file(s) of other years not listed). Findings: {counts.get('error', 0)} error(s), {counts.get('warning', 0)} warning(s), {counts.get('info', 0)} info — see data/findings.csv")


@main.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--inputs", "inputs_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_INPUTS, show_default=True, help="Inputs folder: the history is written to <inputs>/history/ and read by the run.")
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
    from pipeline import history
    from pipeline.reference import load_reference

    ref = load_reference()
    try:
        imported = history.import_published(file, ref)
    except history.UnrecognisedFileError as err:
        stderr.print(f"crimetrends: {err}", style="red", markup=False, soft_wrap=True)
        sys.exit(2)
    try:
        path = history.write_history(imported, inputs_dir)
    except (PipelineError, OSError) as err:
        stderr.print(f"crimetrends: {err}", style="red", markup=False, soft_wrap=True)
        sys.exit(3)
    stderr.print(f"{imported.summary()}; written to {path}", markup=False, soft_wrap=True)
