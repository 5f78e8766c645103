"""The caches under <outputs>/.cache/ (issue 7): an optimisation only.

What is checked: what a cached run reads is exactly what parsing gives (types and values); a second
run with the caches gives the same outputs as a run without them; a new context (reference data,
version) or a changed file is a miss; a corrupt, foreign or unreadable entry is a miss, never an error;
the size stays bounded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from pipeline import aggregate, cache, feedback, history, ingest, store, validate
from pipeline.findings import Finding
from pipeline.ingest import NO_CACHED_RESULT, CellError, CoverField, RawSubmission
from pipeline.samples import generate_sample_inputs
from tests.conftest import write_submission


@pytest.fixture(scope="module")
def inputs(ref, tmp_path_factory):
    """Demonstration workbooks of three states over two years, a workbook with odd cells, and two files that are no workbooks."""
    folder = tmp_path_factory.mktemp("cache") / "inputs"
    generate_sample_inputs(folder, ref, years=[2024, 2025], states=["GEO", "ARM", "TUR"])
    write_submission(folder / "2025", ref, "MDA", 2025, {("TIP_VIC", "TOTAL"): ("<5", "C"), ("TIP_OFF", "TOTAL"): (":", None, "not collected"), ("TIP_PRO", "TOTAL"): ("1 154",)})
    (folder / "notes.txt").write_text("not a workbook", encoding="utf-8")
    (folder / "2025" / "~$GEO_2025.xlsx").write_bytes(b"lock")
    return folder


def _read(inputs, ref):
    return [ingest.read_submission(path, inputs, ref) for path in ingest.discover_files(inputs)]


def _chain(raws, inputs, ref):
    """The tables a run writes, from what ingest read."""
    subs = [validate.validate_submission(raw, ref) for raw in raws]
    validate.resolve_resubmissions(subs, ref)
    revisions = validate.apply_revisions(subs, ref)
    validate.apply_time_rules(subs, ref)
    published, _ = history.read_history(inputs, ref)
    observations = history.merge_history(validate.observations_frame(subs), published)
    return subs, {
        "observations": observations,
        "regional": aggregate.build_regional_table(observations, ref),
        "country": aggregate.build_country_table(observations, ref),
        "revisions": revisions,
        "findings": validate.findings_frame(subs),
        "submissions": validate.submissions_frame(subs),
    }


def test_the_context_holds_version_reference_code_and_limits():
    context = cache.parse_context()
    assert context["reference"] == cache.reference_hash() and len(context["reference"]) == 64
    assert set(context["code"]) >= {"ingest", "layout"}
    assert context["limits"]["MAX_FILE_BYTES"] == ingest.MAX_FILE_BYTES
    assert context["crimetrends"]


def _raw(data_rows, cover=None, findings=()):
    from pipeline.ingest import RAW_COLUMNS

    frame = pd.DataFrame(data_rows, columns=RAW_COLUMNS) if data_rows else pd.DataFrame(columns=RAW_COLUMNS)
    return RawSubmission(file="2025/X.xlsx", sha256="ab" * 32, kind="workbook", readable=True, cover_sheet="Cover", data_sheet="Data",
                         cover=cover or {}, meta={"template_version": "2026.2"}, data=frame, findings=list(findings))


def _row(value, previous=None):
    return {"row": 2, "code": "TIP_VIC", "breakdown": "", "value": value, "flag": None, "comment": "", "unit": "", "value_cell": "E2",
            "flag_cell": "F2", "code_cell": "A2", "unit_cell": "D2", "previous_value": previous, "previous_cell": "H2"}


@pytest.mark.parametrize(
    "value",
    [None, 0, -0.0, 1.5, 10**20, math.nan, math.inf, True, "", "1 154", "=1+1", "ქართული 🚨", CellError("#DIV/0!"), NO_CACHED_RESULT,
     dt.datetime(2025, 3, 1, 9, 30, 15, 123), dt.date(2025, 3, 1), dt.time(12, 30), dt.timedelta(days=2, seconds=5), pd.Timestamp("2025-03-01 09:30")],
)
def test_every_kind_of_cell_value_comes_back_with_its_type(value, tmp_path):
    raw = _raw([_row(value, previous=value), _row(1.0, previous=2.0)], cover={"Country (ISO3)": CoverField(value, "B3")},
               findings=[Finding("value-text", "info", "GEO", 2025, "2025/X.xlsx", "Data", "E2", "1 154", "A number typed as text.")])
    parse = cache.ParseCache(tmp_path, context={"test": 1})
    assert parse.put(raw)
    back = parse.get(raw.sha256, raw.file)
    assert back is not None and cache.same_raw(back, raw)
    got = back.data["value"].tolist()[0]
    assert type(got) is type(raw.data["value"].tolist()[0])
    if isinstance(value, CellError):
        assert isinstance(back.cover["Country (ISO3)"].value, CellError)


@pytest.mark.parametrize(
    "value",
    [None, 0, -0.0, 1.5, 10**20, math.nan, math.inf, True, "", "1 154", "=1+1", "ქართული 🚨", CellError("#DIV/0!"), NO_CACHED_RESULT,
     dt.datetime(2025, 3, 1, 9, 30, 15, 123), dt.date(2025, 3, 1), dt.time(12, 30), dt.timedelta(days=2, seconds=5), pd.Timestamp("2025-03-01 09:30")],
)
def test_rows_as_ingest_read_them_come_back_with_their_types(value, tmp_path):
    """Ingest keeps the Data rows as tuples of cell values (`RawSubmission.rows`): each value comes
    back of its own type, whatever the other rows hold (no column typing)."""
    from pipeline.ingest import RAW_COLUMNS

    rows = [tuple(_row(value, previous=value).values()), tuple(_row(1.0, previous=2).values())]
    raw = RawSubmission(file="2025/X.xlsx", sha256="ab" * 32, kind="workbook", readable=True, cover_sheet="Cover", data_sheet="Data",
                        meta={"template_version": "2026.2"}, rows=rows)
    assert list(_row(value)) == RAW_COLUMNS
    parse = cache.ParseCache(tmp_path, context={"test": 1})
    assert parse.put(raw)
    back = parse.get(raw.sha256, raw.file)
    assert back is not None and cache.same_raw(back, raw) and back.rows is not None
    assert [type(v) for v in back.rows[0]] == [type(v) for v in rows[0]] and type(back.rows[1][11]) is int


def test_a_column_of_dates_alone_comes_back_as_it_was_or_not_at_all(tmp_path):
    """pandas makes a column holding only dates (and blanks) a datetime column: given back only if it comes back the same."""
    raw = _raw([_row(1.0, previous=dt.datetime(2025, 3, 1)), _row(2.0)])
    parse = cache.ParseCache(tmp_path, context={"test": 1})
    parse.put(raw)
    back = parse.get(raw.sha256, raw.file)
    assert back is None or cache.same_raw(back, raw)


def test_a_value_the_format_cannot_carry_exactly_is_never_given_back(tmp_path):
    raw = _raw([_row(np.float32(1.5))])  # a float32 column would come back float64
    parse = cache.ParseCache(tmp_path, context={"test": 1})
    parse.put(raw)
    assert parse.get(raw.sha256, raw.file) is None and (parse.hits, parse.misses) == (0, 1)
    empty = _raw([])  # no Data rows at all is fine
    assert parse.put(empty) is True and cache.same_raw(parse.get(empty.sha256, empty.file), empty)


# -- the validated cache -----------------------------------------------------------------------------------
def _read_validated(inputs, ref, caches=None, strict=False):
    from pipeline.cli import read_and_validate

    return [sub for sub, _ in read_and_validate([(p, inputs) for p in ingest.discover_files(inputs)], ref, strict=strict, caches=caches)]


def _caches(folder):
    return cache.Caches(parse=cache.ParseCache(folder / "parse"), validated=cache.ValidatedCache(folder / "validated"))


def test_a_cached_submission_is_exactly_what_validating_gives(inputs, ref, tmp_path):
    first = _caches(tmp_path)
    plain = _read_validated(inputs, ref)
    tables = ("observations", "previous", "carried")
    held = [[type(s.held(t)) for t in tables] for s in plain]  # before any frame is asked for
    assert all(cache.same_submission(a, b) for a, b in zip(_read_validated(inputs, ref, first), plain, strict=True))
    stored = sum(1 for s in plain if s.sha256)  # links and special files have no hash and are never kept
    assert (first.validated.hits, first.validated.misses) == (0, stored)
    again = _caches(tmp_path)
    cached = _read_validated(inputs, ref, again)
    assert (again.validated.hits, again.parse.hits + again.parse.misses) == (stored, 0)  # no workbook read again
    # rows kept as rows (no frame built to be cached), defaults as defaults
    assert [[type(s.held(t)) for t in tables] for s in cached] == held
    assert any(isinstance(s.held("observations"), list) for s in cached)
    for a, b in zip(cached, plain, strict=True):
        assert cache.same_submission(a, b), b.file
        pd.testing.assert_frame_equal(a.observations, b.observations, check_exact=True)
    assert any(s.findings for s in cached) and any(len(s.observations) > 50 for s in cached)


def test_outputs_from_cached_submissions_are_the_same(inputs, ref, tmp_path):
    from pipeline.cli import across_years

    def tables(subs):
        validate.resolve_resubmissions(subs, ref)
        revisions = across_years(subs, ref)
        return {"observations": validate.observations_frame(subs), "findings": validate.findings_frame(subs),
                "submissions": validate.submissions_frame(subs), "revisions": revisions}

    _read_validated(inputs, ref, _caches(tmp_path))
    cached, plain = tables(_read_validated(inputs, ref, _caches(tmp_path))), tables(_read_validated(inputs, ref))
    for name in plain:
        a = store.write_csv(cached[name], tmp_path / "cached" / f"{name}.csv").read_bytes()
        b = store.write_csv(plain[name], tmp_path / "plain" / f"{name}.csv").read_bytes()
        assert a == b, name


def test_the_checks_across_files_do_not_change_the_cached_entry(inputs, ref, tmp_path):
    _read_validated(inputs, ref, _caches(tmp_path))
    subs = _read_validated(inputs, ref, _caches(tmp_path))
    validate.resolve_resubmissions(subs, ref)
    validate.apply_time_rules(subs, ref)
    subs[0].findings.clear()
    subs[0].status = "superseded"
    fresh = _read_validated(inputs, ref, _caches(tmp_path))
    assert cache.same_submission(fresh[0], _read_validated(inputs, ref)[0])


def test_strict_and_lenient_validation_are_kept_apart(inputs, ref, tmp_path):
    folder = tmp_path / "inputs"
    write_submission(folder, ref, "GEO", 2025, {("TIP_VIC", "TOTAL"): ("many",), ("TIP_OFF", "TOTAL"): (4,)})
    lenient = _read_validated(folder, ref, _caches(tmp_path))
    strict = _read_validated(folder, ref, _caches(tmp_path), strict=True)
    assert [s.status for s in strict] == [s.status for s in _read_validated(folder, ref, strict=True)] == ["rejected"]
    assert [s.status for s in lenient] == [s.status for s in _read_validated(folder, ref)] != ["rejected"]


def test_deferred_entries_are_written_by_flush_as_they_were_when_put(inputs, ref, tmp_path):
    caches = cache.Caches.open(tmp_path / "outputs", deferred=True)
    plain = _read_validated(inputs, ref)
    subs = _read_validated(inputs, ref, caches)
    assert list(caches.validated.folder.rglob("*.json")) == []
    subs[0].findings.clear()  # changed after it was put: the entry keeps what validation gave
    subs[0].status = "superseded"
    caches.flush()
    written = len(list(caches.validated.folder.rglob("*.json")))
    assert written == sum(1 for s in plain if s.sha256)
    again = _caches(tmp_path / "outputs" / ".cache")
    assert all(cache.same_submission(a, b) for a, b in zip(_read_validated(inputs, ref, again), plain, strict=True))
    assert again.validated.misses == 0


def test_an_entry_that_decodes_to_something_else_is_a_miss(inputs, ref, tmp_path, monkeypatch):
    caches = _caches(tmp_path)
    good = _read_validated(inputs, ref, caches)
    # A decoder that loses a type (an int read back as a float) is caught on the way out.
    real = cache.decode_submission
    monkeypatch.setattr(cache, "decode_submission", lambda entry: dataclasses.replace(real(entry), year=float(real(entry).year)))
    again = _caches(tmp_path)
    assert all(cache.same_submission(a, b) for a, b in zip(_read_validated(inputs, ref, again), good, strict=True))
    assert again.validated.hits == 0 and again.validated.misses == len(good)


def test_an_entry_is_checked_at_its_first_use_only(inputs, ref, tmp_path, monkeypatch):
    good = _read_validated(inputs, ref, _caches(tmp_path))
    entries = sorted(_caches(tmp_path).validated.folder.rglob("*.json"))
    assert entries and not any(json.loads(e.read_text()).get("checked") for e in entries)  # written unchecked
    first = _caches(tmp_path)
    assert all(cache.same_submission(a, b) for a, b in zip(_read_validated(inputs, ref, first), good, strict=True))
    assert all(json.loads(e.read_text()).get("checked") is True for e in entries)  # marked at the first hit
    monkeypatch.setattr(cache, "encode_submission", lambda sub: pytest.fail("a checked entry was encoded again"))
    again = _caches(tmp_path)
    assert all(cache.same_submission(a, b) for a, b in zip(_read_validated(inputs, ref, again), good, strict=True))
    assert again.validated.misses == 0


def test_validated_context_holds_the_validation_code():
    context = cache.validated_context()
    assert {"validate", "rules", "ingest"} <= set(context["code"]) and context["reference"] == cache.reference_hash()
    assert cache.ValidatedCache.default_context() == context


@pytest.mark.parametrize("damage", [b"", b"{not json", json.dumps({"submission": 1}).encode()])
def test_a_corrupt_validated_entry_is_a_miss(inputs, ref, tmp_path, damage):
    caches = _caches(tmp_path)
    good = _read_validated(inputs, ref, caches)
    for entry in caches.validated.folder.rglob("*.json"):
        entry.write_bytes(damage)
    again = _caches(tmp_path)
    assert all(cache.same_submission(a, b) for a, b in zip(_read_validated(inputs, ref, again), good, strict=True))
    assert again.validated.hits == 0


# -- the byte caches (charts, feedback) ---------------------------------------------------------------------
def test_blob_cache_misses_on_absent_or_unreadable_entries_and_copies_atomically(tmp_path):
    blobs = cache.BlobCache(tmp_path / "c", ".png")
    key = cache.digest("x")
    assert blobs.get(key) is None and not blobs.copy_to(key, tmp_path / "out" / "a.png")
    assert not (tmp_path / "out" / "a.png").exists()
    blobs.put(key, b"\x89PNG data")
    assert blobs.copy_to(key, tmp_path / "out" / "a.png")
    assert (tmp_path / "out" / "a.png").read_bytes() == b"\x89PNG data"
    assert oct((tmp_path / "out" / "a.png").stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.png"]  # no temporary file left
    assert (blobs.hits, blobs.misses) == (1, 2)


def test_caches_stay_within_their_size_least_recently_used_first(tmp_path):
    blobs = cache.BlobCache(tmp_path / "c", ".bin", max_bytes=2500)
    keys = [cache.digest(i) for i in range(5)]
    for i, key in enumerate(keys):
        blobs.put(key, bytes(1000))
        os.utime(blobs._store.path(key), (1_000_000 + i, 1_000_000 + i))
    blobs.get(keys[0])  # used again: kept
    assert blobs.trim() == 3
    assert [blobs.get(k) is not None for k in keys] == [True, False, False, False, True]


def test_caches_open_under_outputs_and_can_be_off(tmp_path):
    caches = cache.Caches.open(tmp_path / "outputs")
    assert caches.parse.folder.parent == tmp_path / "outputs" / ".cache" / "parse"
    assert caches.charts.folder == tmp_path / "outputs" / ".cache" / "charts"
    assert "0 hit(s)" in caches.summary()
    off = cache.Caches.disabled()
    assert (off.parse, off.charts, off.feedback) == (None, None, None) and off.summary() == "caching off"
    off.trim()


def test_feedback_from_the_cache_is_the_same_workbook_and_follows_the_findings(inputs, ref, tmp_path, monkeypatch):
    files = ingest.discover_files(inputs)
    subs, _ = _chain(_read(inputs, ref), inputs, ref)
    pairs = [(s, p) for s, p in zip(subs, files, strict=True) if s.status != "ignored"][:3]
    plain = feedback.write_feedback_workbooks(pairs, tmp_path / "plain", ref)
    blobs = cache.BlobCache(tmp_path / "c", ".xlsx")
    first = feedback.write_feedback_workbooks(pairs, tmp_path / "first", ref, cache=blobs)
    for made_by in ("_edited_copy", "_copy_of"):
        monkeypatch.setattr(feedback, made_by, lambda *a: pytest.fail("made again instead of copied"))
    second = feedback.write_feedback_workbooks(pairs, tmp_path / "second", ref, cache=blobs)
    for a, b, c in zip(plain, first, second, strict=True):
        assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    monkeypatch.undo()
    sub, path = pairs[0]
    sub.findings.append(Finding("change-unexplained", "warning", sub.country_iso3, sub.year, sub.file, "Data", "E2", "1", "A new finding."))
    key_before = blobs.misses
    feedback.write_feedback_workbooks([(sub, path)], tmp_path / "third", ref, cache=blobs)
    assert blobs.misses == key_before + 1


# -- annex and report -------------------------------------------------------------------------------------
def test_frame_digest_tells_apart_what_prints_alike():
    base = pd.DataFrame({"a": [1.0, 2.0], "b": ["1", "x"]})
    assert cache.frame_digest(base) == cache.frame_digest(base.copy())
    for other in (
        pd.DataFrame({"a": [1.0, 2.0000000000000004], "b": ["1", "x"]}),  # the 17th digit
        pd.DataFrame({"a": [1.0, 2.0], "b": [1, "x"]}),  # a number, not the text "1"
        pd.DataFrame({"a": [1, 2], "b": ["1", "x"]}),  # another dtype
        pd.DataFrame({"b": ["1", "x"], "a": [1.0, 2.0]}),  # another column order
        pd.DataFrame({"a": [1.0, math.nan], "b": ["1", "x"]}),
    ):
        assert cache.frame_digest(other) != cache.frame_digest(base)


def test_canonical_refuses_what_it_cannot_tell_apart(tmp_path):
    (tmp_path / "c.png").write_bytes(b"png")
    assert cache.canonical({"chart": tmp_path / "c.png"}) == {"$dict": [["chart", {"$file": cache.file_sha256(tmp_path / "c.png")}]]}
    assert cache.canonical(0.1) != cache.canonical(0.1 + 1e-17) or 0.1 == 0.1 + 1e-17
    with pytest.raises(TypeError):
        cache.canonical({"x": object()})


def test_annex_from_the_cache_is_the_annex_and_follows_every_value(inputs, ref, tmp_path):
    from pipeline import annex

    _, tables = _chain(_read(inputs, ref), inputs, ref)
    frames = {"regional": tables["regional"], "country": tables["country"], "observations": tables["observations"],
              "coverage": aggregate.build_coverage(tables["observations"], ref, [2024, 2025]), "findings": tables["findings"],
              "revisions": tables["revisions"], "submissions": tables["submissions"]}
    plain = annex.write_data_annex(tmp_path / "plain.xlsx", year=2025, ref=ref, is_demonstration=True, **frames).read_bytes()
    blobs = cache.BlobCache(tmp_path / "c", ".xlsx")
    for name in ("first", "second"):
        made = annex.write_data_annex(tmp_path / f"{name}.xlsx", year=2025, ref=ref, is_demonstration=True, cache=blobs, **frames)
        assert made.read_bytes() == plain
    assert (blobs.hits, blobs.misses) == (1, 1)
    changed = frames["regional"].copy()
    changed.loc[0, "total"] = changed.loc[0, "total"] + 1e-9
    annex.write_data_annex(tmp_path / "changed.xlsx", year=2025, ref=ref, is_demonstration=True, cache=blobs, **{**frames, "regional": changed})
    assert blobs.misses == 2
    annex.write_data_annex(tmp_path / "demo.xlsx", year=2025, ref=ref, is_demonstration=False, cache=blobs, **frames)
    assert blobs.misses == 3
