"""Benchmark: how long each stage and the whole run take, beside the openpyxl way of reading the same files.

    python bench/bench.py [--workbooks N] [--repeat R] [--scale 100,300,1000] [--no-pdf] [--quick]
    make bench

What it does, all in a temporary folder (nothing is written into the project):

1. Generates N filled submission workbooks with the project's own template code
   (`pipeline.template.build_workbook` + `pipeline.samples.fill_workbook`, through
   `pipeline.samples.generate_sample_inputs`). The default is 13 states x 10 years (2016-2025): 126
   workbooks, as North Macedonia is a member from 2020, Armenia sends nothing for 2025 and a few
   states send a second version. Asked for more workbooks than 13 states x 16 years give (2010-2025:
   the generator draws figures per inhabitant, and the population reference starts in 2010),
   it copies them into further folders: each copy is a file of its own (same bytes, another name);
   resubmission resolution then rejects or supersedes the copies, which costs the same to read and
   validate.
2. Times each stage on those workbooks, each repetition in a fresh process (min and median of
   `--repeat`): ingest, validate (every file, then resubmissions, revisions, time rules), aggregate,
   the CSV tables, data annex, feedback workbooks, charts, report and PDF (when LibreOffice is there).
   Caches are not used here: these are the costs of a first run.
3. The baseline on the same files: `pandas.read_excel(path, sheet_name=None, engine="openpyxl")` for
   every workbook, what one would write without this project; our ingest + validate (first run,
   and a run whose parse cache is filled) against it, as a ratio; and where our time goes, in ms a
   workbook: the safety inspection, calamine's read, the rest of ingest, validation, the checks
   across files (beside openpyxl's time a workbook, and the tenth of it a 10x target leaves); and
   the bound those costs set on any parallel reader: all of them split evenly over the machine's
   cores, with nothing spent moving work between processes (`cores_bound`).
4. The whole `crimetrends run` as a separate process (interpreter start included), without PDF: on the
   shipped sample inputs (`inputs/`) and on the generated set; a first run into empty outputs, then
   runs on unchanged inputs (up to date: nothing is made again), `--force` runs (every stage, through
   the caches under <outputs>/.cache/), and runs after one workbook of the year changed; then the
   first run of a backfill, every year from 2010 to 2025 (13 states x 16 years), with the peak
   memory of the run's process (the largest of it and the processes it started and waited for).
5. Scaling: ingest + validate of 100, 300 and 1,000 workbooks (the generated ones, copied into as
   many folders as needed), each in a fresh process, without and with the parse cache, with its
   wall time, time per workbook (linear growth keeps it flat) and peak memory (RSS; from 80 files
   to read on, with that of the forked process reading part of them added: an upper bound).

Prints a table, then one line `BENCH_JSON {...}` with every figure (seconds, MB). Not a test: the
figures depend on the machine; README.md "Performance" holds those of the reference machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

SAMPLE_INPUTS = PROJECT_ROOT / "inputs"
DEFAULT_YEARS = range(2016, 2026)
YEAR = 2025
SCALE = (100, 300, 1000)


# -- the workbooks -----------------------------------------------------------------------------------
def generate(folder: Path, n: int | None) -> list[Path]:
    """N workbooks under `folder` (None: 13 states x 10 years); see the module docstring."""
    from pipeline.reference import load_reference
    from pipeline.samples import generate_sample_inputs

    ref = load_reference()
    if n is None:
        return generate_sample_inputs(folder, ref, years=DEFAULT_YEARS)
    years = range(max(first_population_year(ref), YEAR + 1 - max(1, -(-n // 13))), YEAR + 1)
    made = generate_sample_inputs(folder / "batch00", ref, years=years)
    files = list(made)
    batch = 1
    while len(files) < n:
        for path in made:
            target = folder / f"batch{batch:02d}" / path.relative_to(folder / "batch00")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            files.append(target)
        batch += 1
    for path in files[n:]:
        path.unlink()
    return sorted(files[:n])


def first_population_year(ref) -> int:
    """The first year for which the population reference has every member state: the generator draws
    figures per inhabitant."""
    return max(min(y for (iso3, y) in ref.population if iso3 == state.iso3) for state in ref.member_states)


def subset(source: Path, n: int, folder: Path) -> Path:
    """`folder` holding `n` workbooks taken from `source` (copied; more copies when it has fewer)."""
    files = sorted(p for p in source.rglob("*.xls*") if p.is_file())
    for i in range(n):
        path = files[i % len(files)]
        target = folder / f"copy{i // len(files):02d}" / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return folder


# -- measured in a fresh process ------------------------------------------------------------------------
def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _peak_rss_with_reader_mb() -> float:
    """This process's peak memory plus that of the largest child it has waited for: the forked reader
    of `cli.read_and_check`. Counted twice, the pages the two share: an upper bound."""
    return _peak_rss_mb() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def stages_once(inputs: Path, outputs: Path, year: int, pdf: bool) -> dict[str, float]:
    """Every stage once, in this process, without caches; seconds per stage."""
    started = time.perf_counter()
    import pandas as pd

    from pipeline import aggregate, annex, charts, cli, feedback, history, ingest, report, store, validate
    from pipeline.findings import findings_table
    from pipeline.reference import load_reference

    times: dict[str, float] = {"imports": time.perf_counter() - started}

    def lap(name: str, since: list[float] = [time.perf_counter()]) -> None:  # noqa: B006 - a running clock
        now = time.perf_counter()
        times[name] = now - since[0]
        since[0] = now

    ref = load_reference()
    cli.tune_garbage_collector()  # as a run does
    files = ingest.discover_files(inputs)
    lap("setup")
    raws = [ingest.read_submission(path, inputs, ref) for path in files]
    lap("ingest")
    subs = [validate.validate_submission(raw, ref) for raw in raws]
    validate.resolve_resubmissions(subs, ref)
    revisions = validate.apply_revisions(subs, ref)
    validate.apply_time_rules(subs, ref)
    lap("validate")
    published, history_findings = history.read_history(inputs, ref)
    observations = history.merge_history(validate.observations_frame(subs), published)
    submissions = pd.concat([validate.submissions_frame(subs), history.history_files_frame(inputs, published, history_findings)], ignore_index=True)
    findings = findings_table([f for s in subs for f in s.findings] + history_findings)
    regional = aggregate.build_regional_table(observations, ref)
    country = aggregate.build_country_table(observations, ref)
    coverage = aggregate.build_coverage(observations, ref, sorted({int(y) for y in observations["year"]} | {year}))
    lap("aggregate")
    tables = {"observations": observations, "regional": regional, "country": country, "coverage": coverage, "revisions": revisions, "findings": findings, "submissions": submissions}
    for name, frame in tables.items():
        store.write_csv(frame, outputs / "data" / f"{name}.csv")
    lap("tables")
    annex.write_data_annex(annex.annex_path(outputs, year), year=year, regional=regional, country=country, observations=observations,
                           coverage=coverage, findings=findings, revisions=revisions, submissions=submissions, ref=ref, is_demonstration=True)
    lap("annex")
    of_year = [(s, p) for s, p in zip(subs, files, strict=True) if (s.year == year or s.year is None) and s.status != "ignored"]
    feedback.write_feedback_workbooks(of_year, outputs / "feedback", ref)
    lap("feedback")
    chart_paths = charts.render_charts(regional, country, ref, year, outputs / "charts")
    lap("charts")
    context = report.build_context(year, regional, country, submissions, findings, ref, chart_paths, is_demonstration=True, coverage=coverage, revisions=revisions)
    docx = report.render_report(PROJECT_ROOT / "templates" / "annual_assessment.docx", context, outputs / report.REPORT_FILENAME.format(year=year))
    lap("report")
    if pdf:
        from pipeline import pdf as pdf_stage

        soffice = pdf_stage.find_soffice()
        if soffice is not None:
            pdf_stage.convert_to_pdf(docx, soffice=soffice)
            lap("pdf")
    times["files"] = len(files)
    times["charts_drawn"] = len(chart_paths)
    times["peak_rss_mb"] = _peak_rss_mb()
    return times


def ingest_validate_once(inputs: Path, cache_dir: Path | None) -> dict[str, float]:
    """Ingest and validate every workbook under `inputs` as `run` does (`cli.read_and_check`: the checks
    across files included), in this process; with `cache_dir`, through the parse and validated caches."""
    started = time.perf_counter()
    from pipeline import cache, cli, ingest
    from pipeline.reference import load_reference

    imported = time.perf_counter()
    ref = load_reference()
    cli.tune_garbage_collector()  # as a run does
    caches = cache.Caches(parse=cache.ParseCache(cache_dir / "parse"), validated=cache.ValidatedCache(cache_dir / "validated")) if cache_dir is not None else None
    files = ingest.discover_files(inputs)
    cli.read_and_check([(path, inputs) for path in files], ref, strict=False, caches=caches)
    done = time.perf_counter()
    return {"files": len(files), "seconds": done - imported, "imports": imported - started, "peak_rss_mb": _peak_rss_with_reader_mb(),
            "cache_hits": caches.validated.hits if caches else 0}


def cores_bound(parts: dict[str, float], cores: int | None = None) -> dict[str, float]:
    """The best ingest + validate could do on this machine's cores with today's costs: the ms a
    workbook of `per_workbook` (all of them, the checks across files too) split evenly over every
    core, with nothing spent moving files or results between processes; and the ratio to openpyxl
    that gives. An upper bound, not a measure: what a parallel reader could reach at most."""
    cores = cores or os.cpu_count() or 1
    ours = sum(value for name, value in parts.items() if name != "openpyxl")
    ms = ours / cores
    return {"cores": cores, "ms_per_workbook": round(ms, 2), "ratio": round(parts["openpyxl"] / ms, 1)}


def per_workbook(inputs: Path, passes: int = 3) -> dict[str, float]:
    """Where a workbook's ingest + validate time goes, in ms a workbook (the best of `passes` passes in
    this process, the first of which also loads what the code needs): the issue-6 safety inspection
    (`ingest.inspect_workbook`), calamine's read of every sheet (`ingest._read_sheets`), the rest of
    ingest (the Data rows, error cells, labels; `read_submission` minus those two), validation of
    each file, and the checks across files (resubmissions, revisions, time rules). What openpyxl
    leaves for a target of 10x is its time a workbook divided by 10."""
    from pipeline import cli, ingest, validate
    from pipeline.reference import load_reference

    ref = load_reference()
    cli.tune_garbage_collector()
    files = ingest.discover_files(inputs)
    contents = [(path, path.read_bytes()) for path in files]
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, math.inf), seconds * 1000 / len(files))

    for _ in range(passes):
        started = time.perf_counter()
        shapes = [ingest.inspect_workbook(path, content) for path, content in contents]
        inspected = time.perf_counter()
        for (_, content), shape in zip(contents, shapes, strict=True):
            if shape.kind == "xlsx":
                ingest._read_sheets(content)  # noqa: SLF001 - the bench looks inside ingest
        read = time.perf_counter()
        raws = [ingest.read_submission(path, inputs, ref) for path in files]
        ingested = time.perf_counter()
        subs = [validate.validate_submission(raw, ref, strict=False) for raw in raws]
        validated = time.perf_counter()
        validate.resolve_resubmissions(subs, ref)
        cli.across_years(subs, ref)
        done = time.perf_counter()
        keep("inspection", inspected - started)
        keep("calamine", read - inspected)
        keep("ingest_rest", (ingested - read) - (read - started))
        keep("validate", validated - ingested)
        keep("across_files", done - validated)
    return {name: round(value, 2) for name, value in best.items()}


def baseline_once(inputs: Path) -> dict[str, float]:
    """What one would write without this project: every workbook through pandas' openpyxl engine."""
    import warnings

    import pandas as pd

    files = sorted(p for p in inputs.rglob("*.xlsx") if p.is_file() and "history" not in p.relative_to(inputs).parts)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            pd.read_excel(path, sheet_name=None, engine="openpyxl")
    return {"files": len(files), "seconds": time.perf_counter() - started}


def _child(mode: str, *args: str) -> dict:
    """Run `mode` of this script in a fresh interpreter; its last stdout line is JSON."""
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), f"--_{mode}", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: {mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_cli(inputs: Path, outputs: Path, year: int, *extra: str) -> float:
    """Wall time of `python -m pipeline run` as a separate process (interpreter start included), no PDF."""
    return run_cli_measured(inputs, outputs, year, *extra)[0]


def run_cli_measured(inputs: Path, outputs: Path, year: int, *extra: str) -> tuple[float, float]:
    """(wall time, peak memory of the run's own process in MB; its chart workers aside) of `run_cli`."""
    command = [sys.executable, "-m", "pipeline", "run", "--year", str(year), "--inputs", str(inputs), "--outputs", str(outputs), "--no-pdf", *extra]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, cwd=PROJECT_ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in (0, 1):  # 1: submissions with errors (the sample inputs have some on purpose)
            err.seek(0)
            raise SystemExit(f"bench: crimetrends run failed ({process.returncode}):\n{err.read().decode('utf-8', 'replace')[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024  # Linux: KiB


def _resend_one(inputs: Path, round_: int) -> None:
    """Change one figure of one workbook of YEAR (a focal point's corrected resubmission)."""
    import openpyxl

    from pipeline import layout

    path = sorted(inputs.rglob(f"*_{YEAR}.xlsx"))[0]
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.DATA_SHEET]
    header = next(i for i, row in enumerate(ws.iter_rows(values_only=True), start=1) if layout.COL_VALUE in row)
    column = [c.value for c in ws[header]].index(layout.COL_VALUE) + 1
    for row in range(header + 1, ws.max_row + 1):
        cell = ws.cell(row=row, column=column)
        if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
            cell.value = cell.value + 1 + round_
            break
    wb.save(path)


# -- summaries -------------------------------------------------------------------------------------------
def summary(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3), "n": len(values)}


def machine() -> dict[str, object]:
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "")
    except OSError:
        pass
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)
    except (ValueError, OSError):
        memory_gb = 0.0
    from importlib import metadata

    from pipeline import __version__

    versions = {name: metadata.version(name) for name in ("pandas", "openpyxl", "python-calamine", "matplotlib", "docxtpl")}
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gb": memory_gb, "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}", "crimetrends": __version__, **versions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time each stage and the whole run; compare reading with pandas' openpyxl engine.")
    parser.add_argument("--workbooks", type=int, default=None, help="how many workbooks to generate (default: 13 states x 10 years)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions per measure (min and median are reported; default 5)")
    parser.add_argument("--scale", default=",".join(map(str, SCALE)), help="workbook counts of the scaling table ('' to skip; default 100,300,1000)")
    parser.add_argument("--no-pdf", action="store_true", help="do not time the PDF stage")
    parser.add_argument("--quick", action="store_true", help="--repeat 2 and --scale 100,300: a check that it works, not figures")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (default: a temporary folder, removed)")
    parser.add_argument("--_stages", nargs=3, metavar=("INPUTS", "OUTPUTS", "PDF"), help=argparse.SUPPRESS)
    parser.add_argument("--_ingest", nargs=2, metavar=("INPUTS", "CACHE"), help=argparse.SUPPRESS)
    parser.add_argument("--_baseline", nargs=1, metavar="INPUTS", help=argparse.SUPPRESS)
    parser.add_argument("--_per_workbook", nargs=1, metavar="INPUTS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._stages:
        inputs, outputs, pdf = args._stages
        print(json.dumps(stages_once(Path(inputs), Path(outputs), YEAR, pdf == "pdf")))
        return 0
    if args._ingest:
        inputs, cache_dir = args._ingest
        print(json.dumps(ingest_validate_once(Path(inputs), Path(cache_dir) if cache_dir != "-" else None)))
        return 0
    if args._baseline:
        print(json.dumps(baseline_once(Path(args._baseline[0]))))
        return 0
    if args._per_workbook:
        print(json.dumps(per_workbook(Path(args._per_workbook[0]))))
        return 0

    repeat = 2 if args.quick else max(1, args.repeat)
    scale = [int(n) for n in ("100,300" if args.quick else args.scale).split(",") if n.strip()]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="crimetrends-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _bench(work, args.workbooks, repeat, scale, pdf=not args.no_pdf)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _bench(work: Path, workbooks: int | None, repeat: int, scale: list[int], *, pdf: bool) -> int:
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    figures: dict[str, object] = {"machine": machine(), "repeat": repeat}

    inputs = work / "generated"
    started = time.perf_counter()
    files = generate(inputs, workbooks)
    figures["workbooks"] = len(files)
    say(f"Generated {len(files)} workbooks in {time.perf_counter() - started:.1f} s ({inputs})")

    # Stages, each repetition in a fresh process, no caches.
    runs = []
    for i in range(repeat):
        out = work / f"stages{i}"
        runs.append(_child("stages", str(inputs), str(out), "pdf" if pdf and i == 0 else "nopdf"))
        shutil.rmtree(out, ignore_errors=True)
    names = [k for k in runs[0] if k not in ("files", "charts_drawn", "peak_rss_mb")]
    stages = {name: summary([r[name] for r in runs if name in r]) for name in names}
    figures["stages"] = stages
    figures["charts_drawn"] = runs[0]["charts_drawn"]
    figures["stages_peak_rss_mb"] = round(max(r["peak_rss_mb"] for r in runs), 1)

    # Baseline and ingest + validate on the same files.
    baseline = [_child("baseline", str(inputs))["seconds"] for _ in range(repeat)]
    cold = [_child("ingest", str(inputs), "-")["seconds"] for _ in range(repeat)]
    cache_dir = work / "parse-cache"
    _child("ingest", str(inputs), str(cache_dir))  # fills the cache
    warm = [_child("ingest", str(inputs), str(cache_dir))["seconds"] for _ in range(repeat)]
    figures["ingest_validate"] = {
        "files": len(files),
        "openpyxl_baseline": summary(baseline),
        "first_run": summary(cold),
        "cached": summary(warm),
        "ratio_first_run": round(min(baseline) / min(cold), 1),
        "ratio_cached": round(min(baseline) / min(warm), 1),
        "ms_per_workbook": {**_child("per_workbook", str(inputs)), "openpyxl": round(min(baseline) * 1000 / len(files), 2)},
    }
    figures["ingest_validate"]["cores_bound"] = cores_bound(figures["ingest_validate"]["ms_per_workbook"])

    # The whole run, as a separate process.
    whole: dict[str, object] = {}
    for label, folder in (("sample_inputs", SAMPLE_INPUTS), ("generated", inputs)):
        if not folder.is_dir():
            continue
        first = []
        for i in range(repeat):
            out = work / f"run-{label}-first{i}"
            first.append(run_cli(folder, out, YEAR))
            shutil.rmtree(out, ignore_errors=True)
        out = work / f"run-{label}"
        run_cli(folder, out, YEAR)
        again = [run_cli(folder, out, YEAR) for _ in range(repeat)]
        forced = [run_cli(folder, out, YEAR, "--force") for _ in range(repeat)]
        # One workbook of the year sent again with a corrected figure: read and checked again, the
        # charts whose figures change drawn again, the rest from the caches.
        copy = work / f"inputs-{label}"
        shutil.copytree(folder, copy)
        one_changed = []
        for i in range(repeat):
            _resend_one(copy, i)
            one_changed.append(run_cli(copy, out, YEAR))
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(copy, ignore_errors=True)
        whole[label] = {"first_run": summary(first), "second_run": summary(again), "forced_with_caches": summary(forced),
                        "one_workbook_changed": summary(one_changed)}
    figures["run_no_pdf"] = whole

    # A backfill: every year the population reference covers (the generator needs it), as one run.
    folder = work / "backfill"
    from pipeline.reference import load_reference
    from pipeline.samples import generate_sample_inputs

    ref = load_reference()
    first_year = first_population_year(ref)
    backfill_files = generate_sample_inputs(folder, ref, years=range(first_year, YEAR + 1))
    measured = []
    for i in range(repeat):
        out = work / f"run-backfill{i}"
        measured.append(run_cli_measured(folder, out, YEAR))
        shutil.rmtree(out, ignore_errors=True)
    figures["backfill"] = {"workbooks": len(backfill_files), "years": [first_year, YEAR], "first_run": summary([m[0] for m in measured]),
                           "peak_rss_mb": round(max(m[1] for m in measured), 1)}
    shutil.rmtree(folder, ignore_errors=True)

    # Scaling of ingest + validate.
    rows = []
    for n in scale:
        folder = subset(inputs, n, work / f"scale{n}")
        measured = [_child("ingest", str(folder), "-") for _ in range(max(1, min(repeat, 3)))]
        best = min(measured, key=lambda m: m["seconds"])
        cache_n = work / f"scale{n}-cache"
        _child("ingest", str(folder), str(cache_n))
        cached = min(_child("ingest", str(folder), str(cache_n))["seconds"] for _ in range(max(1, min(repeat, 3))))
        rows.append({"workbooks": n, "seconds": round(best["seconds"], 3), "ms_per_workbook": round(best["seconds"] / n * 1000, 2),
                     "cached_seconds": round(cached, 3), "peak_rss_mb": round(max(m["peak_rss_mb"] for m in measured), 1)})
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(cache_n, ignore_errors=True)
    figures["scaling"] = rows

    _print_table(figures)
    print("BENCH_JSON " + json.dumps(figures, sort_keys=True))
    return 0


def _print_table(f: dict) -> None:
    m = f["machine"]
    print(f"crimetrends {m['crimetrends']} on {m['cpus']} CPU(s) {m['cpu']}, {m['memory_gb']} GB, Python {m['python']}, {m['system']}")
    print(f"{f['workbooks']} generated workbooks; {f['repeat']} repetition(s), min / median in seconds\n")
    print(f"{'stage (first run, no cache)':34} {'min':>8} {'median':>8}")
    for name, s in f["stages"].items():
        print(f"  {name:32} {s['min']:8.3f} {s['median']:8.3f}")
    iv = f["ingest_validate"]
    print(f"\ningest + validate of {iv['files']} workbooks {'min':>12} {'median':>8}")
    print(f"  {'pandas read_excel(openpyxl)':40} {iv['openpyxl_baseline']['min']:8.3f} {iv['openpyxl_baseline']['median']:8.3f}")
    print(f"  {'crimetrends, first run':40} {iv['first_run']['min']:8.3f} {iv['first_run']['median']:8.3f}   x{iv['ratio_first_run']} faster")
    print(f"  {'crimetrends, caches filled':40} {iv['cached']['min']:8.3f} {iv['cached']['median']:8.3f}   x{iv['ratio_cached']} faster")
    parts = iv["ms_per_workbook"]
    print(f"  ms a workbook (best of 3 passes): {', '.join(f'{name} {value:.2f}' for name, value in parts.items() if name != 'openpyxl')}; "
          f"openpyxl {parts['openpyxl']:.2f} (10x leaves {parts['openpyxl'] / 10:.2f})")
    bound = iv["cores_bound"]
    print(f"  the same split evenly over {bound['cores']} cores, moving nothing between processes (an upper bound): "
          f"{bound['ms_per_workbook']:.2f} ms a workbook, x{bound['ratio']} at most")
    print(f"\n{'crimetrends run --no-pdf (own process)':40} {'min':>8} {'median':>8}")
    for label, r in f["run_no_pdf"].items():
        print(f"  {label + ', first run':38} {r['first_run']['min']:8.3f} {r['first_run']['median']:8.3f}")
        print(f"  {label + ', unchanged inputs':38} {r['second_run']['min']:8.3f} {r['second_run']['median']:8.3f}")
        print(f"  {label + ', --force (caches filled)':38} {r['forced_with_caches']['min']:8.3f} {r['forced_with_caches']['median']:8.3f}")
        print(f"  {label + ', one workbook changed':38} {r['one_workbook_changed']['min']:8.3f} {r['one_workbook_changed']['median']:8.3f}")
    b = f["backfill"]
    label = f"backfill {b['years'][0]}-{b['years'][1]}, first run"
    print(f"  {label:38} {b['first_run']['min']:8.3f} {b['first_run']['median']:8.3f}   {b['workbooks']} workbooks, peak RSS {b['peak_rss_mb']:.0f} MB")
    if f["scaling"]:
        print(f"\n{'workbooks':>10} {'ingest+validate s':>18} {'ms/workbook':>12} {'cached s':>9} {'peak RSS MB':>12}")
        for row in f["scaling"]:
            print(f"{row['workbooks']:>10} {row['seconds']:>18.3f} {row['ms_per_workbook']:>12.2f} {row['cached_seconds']:>9.3f} {row['peak_rss_mb']:>12.1f}")
    print()


if __name__ == "__main__":
    raise SystemExit(main())
