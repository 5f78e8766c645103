"""Caches that let a run skip work it already did: an optimisation only, never a source of truth.

Caches live under `<outputs>/.cache/` (`cache_dir`), each in its own folder:

* `parse/`: what ingest read from each workbook (`RawSubmission`), keyed by the file's sha256 and its
  name under the inputs folder (the name is in the findings' messages). A second run over unchanged
  inputs reads these small JSON files instead of inspecting and parsing every workbook again;
* `validated/`: each file as validation left it (`Submission`: its observations, findings and
  status before the checks across files), keyed like `parse/` and by `strict`: a second run over
  unchanged inputs neither parses nor checks a workbook again;
* `charts/`: the PNG bytes of each chart, keyed by a hash of the chart's data and of the code that
  draws it (`pipeline.charts`): a chart whose data did not change is copied, not drawn;
* `feedback/`: the bytes of each feedback workbook, keyed by a hash of the submission's file, its
  findings and status, and the code that writes it (`pipeline.feedback`);
* `annex/` and `report/`: the data annex and the report .docx, keyed by a hash of everything they are
  made from (the tables, exactly, with `frame_digest`; the report's context, with each chart's bytes;
  the template; the day, which the report carries; the code and library versions).

Every key also holds a *context*: the crimetrends version, the sha256 of every reference file, the
source of the modules that make the cached thing and the versions of the libraries that read or draw
it. A new version, changed reference data or an edited module gives other keys, so stale entries are
never read (parse entries of an older context are deleted when the cache is opened).

Deleting `<outputs>/.cache/` changes no output: every entry is what the code would make again, byte
for byte. A parse entry is checked when it is written (it must decode to exactly what ingest read, in
types and values, or it is not kept). An entry that is missing, corrupt, unreadable or of another
context is a miss, never an error: the work is done again. Entries are written atomically (temporary
file, then rename), so a killed run or two runs at once leave whole entries or none. Each cache keeps at
most `MAX_BYTES` on disk: past that, the entries used least recently are deleted (`trim`).

Format: JSON, not pickle. The cache folder is inside the outputs folder, but a JSON entry can at worst
hold wrong cell values for a file (it can never run code), and the entry's own check of its file's
sha256 and name keeps it to the file it was made from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import __version__
from pipeline.atomic import write_atomically
from pipeline.frames import column_lists

if TYPE_CHECKING:
    from pipeline.ingest import RawSubmission
    from pipeline.validate import Submission

CACHE_DIRNAME = ".cache"  # <outputs>/.cache/
FORMAT = 3  # bump when the layout of an entry changes
MAX_BYTES = 500 * 1_000_000  # per cache folder; past it the least recently used entries go
PACKAGE_DIR = Path(__file__).resolve().parent


def cache_dir(outputs_dir: Path) -> Path:
    """Where the caches of an outputs folder live."""
    return Path(outputs_dir) / CACHE_DIRNAME


def digest(*parts: object) -> str:
    """A sha256 hex digest of `parts` written as canonical JSON (for cache keys)."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def canonical(value: object) -> object:
    """`value` as plain JSON data for a cache key: dicts, lists, text, numbers, dates; a path becomes
    the sha256 of the file it names. Anything else raises TypeError (then nothing is cached): a key
    must never stand for two different things."""
    from pathlib import PurePath

    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return {"$float": value.hex()}  # exact, NaN and infinities included
    if isinstance(value, dict):
        return {"$dict": [[canonical(k), canonical(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return {"$" + type(value).__name__: value.isoformat()}
    if isinstance(value, PurePath):
        return {"$file": file_sha256(Path(value))}
    raise TypeError(f"no canonical form for {type(value).__name__}")


def frame_digest(frame: Any) -> str:
    """A sha256 of a DataFrame's columns, dtypes, length and every value, exactly: the bytes of numeric
    columns, and the pickle of the other columns' Python values (types included; memo off, so equal
    values give equal bytes)."""
    import io
    import pickle

    import numpy as np

    hasher = hashlib.sha256()
    hasher.update(json.dumps([[str(c) for c in frame.columns], [str(t) for t in frame.dtypes], len(frame)]).encode("utf-8"))
    for column in frame.columns:
        series = frame[column]
        if isinstance(series.dtype, np.dtype) and series.dtype.kind in "biufcmM":
            hasher.update(np.ascontiguousarray(series.to_numpy()).tobytes())
        else:
            buffer = io.BytesIO()
            pickler = pickle.Pickler(buffer, protocol=5)
            pickler.fast = True
            pickler.dump(series.tolist())
            hasher.update(buffer.getvalue())
    return hasher.hexdigest()


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in chunks: a large file costs time, never memory."""
    hasher = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


_SOURCE_HASHES: dict[str, str] = {}


def source_hash(*modules: str) -> dict[str, str]:
    """sha256 of the source of `pipeline.<module>` for each module name (cached per process)."""
    out = {}
    for name in modules:
        if name not in _SOURCE_HASHES:
            path = PACKAGE_DIR / f"{name}.py"
            _SOURCE_HASHES[name] = file_sha256(path) if path.is_file() else ""
        out[name] = _SOURCE_HASHES[name]
    return out


_REFERENCE_HASH: list[str] = []


def reference_hash() -> str:
    """One sha256 over the name and sha256 of every reference file (`pipeline/reference/`)."""
    if not _REFERENCE_HASH:
        from pipeline.reference import REFERENCE_DIR

        files = sorted(p for p in REFERENCE_DIR.iterdir() if p.is_file() and not p.name.startswith("."))
        _REFERENCE_HASH.append(digest([(p.name, file_sha256(p)) for p in files]))
    return _REFERENCE_HASH[0]


def library_versions(*names: str) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = ""
    return out


# -- storage -----------------------------------------------------------------------------------------
class _Store:
    """Files `<folder>/<key[:2]>/<key><suffix>`, written atomically; every failure is a miss."""

    def __init__(self, folder: Path, suffix: str, max_bytes: int = MAX_BYTES) -> None:
        self.folder = Path(folder)
        self.suffix = suffix
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.writes = 0

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}{self.suffix}"

    def read(self, key: str) -> bytes | None:
        path = self.path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            os.utime(path)  # "recently used", for `trim`
        except OSError:
            pass
        return data

    def write(self, key: str, data: bytes) -> None:
        self.write_file(self.path(key), data)

    def write_file(self, path: Path, data: bytes) -> None:
        """`data` into `path` atomically; a failure (read-only or full disk) only means nothing is kept."""
        try:
            write_atomically(path, data, mode=None)
            self.writes += 1
        except OSError:
            pass  # a read-only or full disk: the run goes on without caching

    def trim(self) -> int:
        """Delete the least recently used entries until the folder holds at most `max_bytes`; returns how many."""
        try:
            entries = [(p.stat().st_mtime, p.stat().st_size, p) for p in self.folder.glob(f"*/*{self.suffix}")]
        except OSError:
            return 0
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, path in sorted(entries, key=lambda e: (e[0], str(e[2]))):
            if total <= self.max_bytes:
                break
            try:
                path.unlink()
            except OSError:
                continue
            total -= size
            removed += 1
        return removed


class _OnStore:
    """What every cache reports about the `_Store` behind it."""

    _store: _Store

    @property
    def folder(self) -> Path:
        return self._store.folder

    @property
    def hits(self) -> int:
        return self._store.hits

    @property
    def misses(self) -> int:
        return self._store.misses

    def entries(self) -> int:
        """How many entries the cache holds (0 when its folder cannot be read)."""
        try:
            return sum(1 for _ in self._store.folder.glob(f"*/*{self._store.suffix}"))
        except OSError:
            return 0


class BlobCache(_OnStore):
    """Bytes by key (a sha256 hex digest, see `digest`): rendered charts, feedback workbooks."""

    def __init__(self, folder: Path, suffix: str = ".bin", max_bytes: int = MAX_BYTES) -> None:
        self._store = _Store(folder, suffix, max_bytes)

    def get(self, key: str) -> bytes | None:
        data = self._store.read(key)
        if data is None:
            self._store.misses += 1
        else:
            self._store.hits += 1
        return data

    def put(self, key: str, data: bytes) -> None:
        self._store.write(key, data)

    def copy_to(self, key: str, target: Path) -> bool:
        """Write the bytes of `key` to `target` atomically (mode 0644); False on a miss (nothing written)."""
        data = self.get(key)
        if data is None:
            return False
        write_atomically(target, data)
        return True

    def trim(self) -> int:
        return self._store.trim()


# -- the parse cache -----------------------------------------------------------------------------------
def parse_context() -> dict[str, Any]:
    """Everything besides the file itself that decides what ingest reads from it."""
    from pipeline import ingest

    limits = {name: getattr(ingest, name) for name in sorted(dir(ingest)) if name.startswith(("MAX_", "_MAX_", "RATIO_")) and isinstance(getattr(ingest, name), int)}
    return {
        "format": FORMAT,
        "crimetrends": __version__,
        "reference": reference_hash(),
        "code": source_hash("ingest", "layout", "findings", "frames", "cache"),
        "limits": limits,
        "libraries": library_versions("pandas", "python-calamine", "xlrd", "defusedxml"),
    }


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


class _EntryCache(_OnStore):
    """JSON entries about one input file, by the file's sha256 and name (and `variant`), in one
    folder per context. Opening the cache deletes the entries of other contexts (an older
    crimetrends, other reference data, edited code). Subclasses say how a value is encoded, decoded
    and compared; `get` gives a value only when it round-trips exactly (checked at its first use)."""

    kind = ""  # the entry's field holding the value
    key_prefix = ""

    def __init__(self, folder: Path, context: dict[str, Any] | None = None, max_bytes: int = MAX_BYTES) -> None:
        self.context = self.default_context() if context is None else context
        self.context_key = digest(self.context)[:24]
        self.deferred = False  # True: `put` only encodes; `flush` checks and writes
        self._pending: list[tuple[str, dict[str, Any] | bytes]] = []
        root = Path(folder)
        self._store = _Store(root / self.context_key, ".json", max_bytes)
        self._remove_other_contexts(root)

    @staticmethod
    def default_context() -> dict[str, Any]:
        raise NotImplementedError

    def _remove_other_contexts(self, root: Path) -> None:
        try:
            others = [p for p in root.iterdir() if p.is_dir() and p.name != self.context_key]
        except OSError:
            return
        for other in others:
            shutil.rmtree(other, ignore_errors=True)

    def key(self, sha256: str, file: str, variant: object = None) -> str:
        return digest(self.key_prefix, sha256, file) if variant is None else digest(self.key_prefix, sha256, file, variant)

    def _get(self, sha256: str, file: str, variant: object = None) -> Any | None:
        key = self.key(sha256, file, variant)
        data = self._store.read(key)
        value = None
        if data is not None:
            try:
                entry = json.loads(data.decode("utf-8"))
                if entry.get("context") == self.context_key and entry.get("sha256") == sha256 and entry.get("file") == file:
                    value = self.decode(entry[self.kind])
                    if value.sha256 != sha256 or value.file != file:
                        value = None
                    elif not entry.get("checked"):
                        value = self._checked(key, entry, value)
            except Exception:  # noqa: BLE001 - a corrupt or foreign entry is a miss
                value = None
        if value is None:
            self._store.misses += 1
        else:
            self._store.hits += 1
        return value

    def _checked(self, key: str, entry: dict[str, Any], value: Any) -> Any | None:
        """`value` if it encodes to the very same JSON as `entry` holds (types and dtypes included:
        JSON tells 1 from 1.0 and true), so that a hit gives exactly what was put; else None.

        Checked at an entry's first use, which marks it checked, not when it is written: a first run,
        which writes every entry, need not decode them, and later runs need not encode them again.
        The mark holds for this context only (the decoding code is part of it)."""
        if _json(self.encode(value)) != _json(entry[self.kind]):
            return None
        self._store.write(key, _json({**entry, "checked": True}).encode("ascii"))
        return value

    def _entry_bytes(self, value: Any, variant: object = None) -> tuple[str, bytes] | None:
        """(key, the bytes `put` would write) of `value`, None when it cannot be encoded: made by a
        process that reads files for another (`cli.read_and_validate`), which `put_bytes` them."""
        try:
            encoded = self.encode(value)
        except (TypeError, ValueError):
            return None
        entry = {"context": self.context_key, "sha256": value.sha256, "file": value.file, self.kind: encoded}
        return self.key(value.sha256, value.file, variant), _json(entry).encode("ascii")

    def put_bytes(self, key: str, data: bytes) -> None:
        """Keep an entry made by `entry_bytes` (in another process, for the same context)."""
        if self.deferred:
            self._pending.append((key, data))
        else:
            self._store.write(key, data)

    def _put(self, value: Any, variant: object = None) -> bool:
        """Keep `value` (encoded now: the caller may change it afterwards). With `deferred`, the entry is
        written by `flush()`, when the run has time to spare; True then means only that it could be
        encoded."""
        try:
            encoded = self.encode(value)
        except (TypeError, ValueError):
            return False
        entry = {"context": self.context_key, "sha256": value.sha256, "file": value.file, self.kind: encoded}
        key = self.key(value.sha256, value.file, variant)
        if self.deferred:
            self._pending.append((key, entry))
            return True
        return self._write(key, entry)

    def _write(self, key: str, entry: dict[str, Any] | bytes) -> bool:
        self._store.write(key, entry if isinstance(entry, bytes) else _json(entry).encode("ascii"))
        return True

    def flush(self) -> int:
        """Write the entries `put` deferred; returns how many were written."""
        pending, self._pending = self._pending, []
        return sum(self._write(key, entry) for key, entry in pending)

    def trim(self) -> int:
        return self._store.trim()


class ParseCache(_EntryCache):
    """What ingest read from each file (`RawSubmission`), by the file's sha256 and name.

    `get(sha256, file)` gives a fresh `RawSubmission` (the caller may change it) or None;
    `put(raw)` keeps it.
    """

    kind = "raw"
    key_prefix = "parse"
    default_context = staticmethod(parse_context)

    def encode(self, raw: RawSubmission) -> dict[str, Any]:
        return encode_raw(raw)

    def decode(self, entry: dict[str, Any]) -> RawSubmission:
        return decode_raw(entry)

    def get(self, sha256: str, file: str) -> RawSubmission | None:
        return self._get(sha256, file)

    def put(self, raw: RawSubmission) -> bool:
        """Keep `raw`; False (nothing kept) when it holds a value the format cannot carry exactly."""
        return self._put(raw)

    def entry_bytes(self, raw: RawSubmission) -> tuple[str, bytes] | None:
        return self._entry_bytes(raw)


def validated_context() -> dict[str, Any]:
    """Everything besides the file itself and `strict` that decides what validating it gives."""
    return {**parse_context(), "stage": "validated", "code": source_hash("ingest", "layout", "findings", "frames", "cache", "validate", "rules", "reference")}


class ValidatedCache(_EntryCache):
    """Each file as `validate.validate_submission` left it (`Submission`), before the checks across
    files (resubmissions, revisions, time rules) change it; by the file's sha256, name and `strict`.

    A second run over unchanged inputs takes these instead of reading and checking every workbook.
    """

    kind = "submission"
    key_prefix = "validated"
    default_context = staticmethod(validated_context)

    def encode(self, sub: Submission) -> dict[str, Any]:
        return encode_submission(sub)

    def decode(self, entry: dict[str, Any]) -> Submission:
        return decode_submission(entry)

    def get(self, sha256: str, file: str, *, strict: bool) -> Submission | None:
        return self._get(sha256, file, {"strict": strict})

    def put(self, sub: Submission) -> bool:
        """Keep `sub`; False (nothing kept) when it holds a value the format cannot carry exactly."""
        return self._put(sub, {"strict": sub.strict})

    def entry_bytes(self, sub: Submission) -> tuple[str, bytes] | None:
        return self._entry_bytes(sub, {"strict": sub.strict})


# -- RawSubmission <-> JSON -----------------------------------------------------------------------------
def _encode_value(value: object) -> object:
    """A cell value as JSON: plain values as they are, others tagged {"$": kind, "v": ...}.

    Exact types only (a numpy float is not a float here): anything else raises TypeError, and the
    entry is not kept.
    """
    from pipeline.ingest import CellError

    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        if math.isnan(value):
            return {"$": "nan"}
        if math.isinf(value):
            return {"$": "inf", "v": 1 if value > 0 else -1}
        return value
    if kind is CellError:
        return {"$": "cellerror", "v": str.__str__(value)}
    if kind is dt.datetime:
        return {"$": "datetime", "v": value.isoformat()}
    if kind is dt.date:
        return {"$": "date", "v": value.isoformat()}
    if kind is dt.time:
        return {"$": "time", "v": value.isoformat()}
    if kind is dt.timedelta:
        return {"$": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    import pandas as pd

    if kind is pd.Timestamp:
        return {"$": "timestamp", "v": value.isoformat()}
    if value is pd.NaT:
        return {"$": "nat"}
    raise TypeError(f"no cache encoding for {kind.__name__}")


_PLAIN_TYPES = frozenset({str, int, bool, type(None)})


def _encode_values(values) -> list[object]:
    """`_encode_value` of each value; the plain ones (most of them) pass without the call."""
    return [v if type(v) in _PLAIN_TYPES or (type(v) is float and math.isfinite(v)) else _encode_value(v) for v in values]


def _finding_values(finding) -> list[object]:
    # The fields in order, as `Finding(*values)` takes them (`asdict` deep-copies: ten times dearer).
    return _encode_values([getattr(finding, name) for name in _finding_fields()])


_FINDING_FIELDS: list[tuple[str, ...]] = []


def _finding_fields() -> tuple[str, ...]:
    if not _FINDING_FIELDS:
        from dataclasses import fields

        from pipeline.findings import Finding

        _FINDING_FIELDS.append(tuple(f.name for f in fields(Finding)))
    return _FINDING_FIELDS[0]


def _decode_value(value: object) -> object:
    if not isinstance(value, dict):
        return value
    from pipeline.ingest import CellError

    kind, item = value["$"], value.get("v")
    if kind == "nan":
        return math.nan
    if kind == "inf":
        return math.inf if item > 0 else -math.inf
    if kind == "cellerror":
        from pipeline import ingest

        return ingest.NO_CACHED_RESULT if item == str.__str__(ingest.NO_CACHED_RESULT) else CellError(item)
    if kind == "datetime":
        return dt.datetime.fromisoformat(item)
    if kind == "date":
        return dt.date.fromisoformat(item)
    if kind == "time":
        return dt.time.fromisoformat(item)
    if kind == "timedelta":
        return dt.timedelta(days=item[0], seconds=item[1], microseconds=item[2])
    if kind in ("timestamp", "nat"):
        import pandas as pd

        return pd.Timestamp(item) if kind == "timestamp" else pd.NaT
    raise ValueError(f"unknown cache tag {kind!r}")


def encode_raw(raw: RawSubmission) -> dict[str, Any]:
    """The Data rows as ingest read them (`cells`, each value with its type), or, for a submission
    whose rows were given as a frame, the frame's columns, dtypes and rows."""
    if raw.rows is not None:
        data: dict[str, Any] = {"cells": [_encode_values(row) for row in raw.rows]}
    else:
        frame = raw.data
        data = {
            "columns": [str(c) for c in frame.columns],
            "dtypes": [str(t) for t in frame.dtypes],
            "rows": [_encode_values(row) for row in zip(*column_lists(frame), strict=True)] if len(frame) else [],
        }
    return {
        "file": raw.file,
        "sha256": raw.sha256,
        "kind": raw.kind,
        "readable": raw.readable,
        "cover_sheet": raw.cover_sheet,
        "data_sheet": raw.data_sheet,
        "cover": [[label, _encode_value(f.value), f.cell] for label, f in raw.cover.items()],
        "meta": [[key, value] for key, value in raw.meta.items()],
        **data,
        "findings": [_finding_values(finding) for finding in raw.findings],
    }


def decode_raw(entry: dict[str, Any]) -> RawSubmission:
    import pandas as pd

    from pipeline.findings import Finding
    from pipeline.ingest import CoverField, RawSubmission

    if "cells" in entry:
        data: dict[str, Any] = {"rows": [tuple(_decode_value(v) for v in row) for row in entry["cells"]]}
    else:
        columns = list(entry["columns"])
        rows = [[_decode_value(v) for v in row] for row in entry["rows"]]
        # The same constructor on the same values gives the same dtypes (checked at the entry's first use).
        frame = pd.DataFrame([dict(zip(columns, row, strict=True)) for row in rows], columns=columns) if rows else pd.DataFrame(columns=columns)
        if [str(t) for t in frame.dtypes] != entry["dtypes"]:
            raise ValueError("the rows do not give the frame's dtypes back")
        data = {"data": frame}
    return RawSubmission(
        file=entry["file"],
        sha256=entry["sha256"],
        kind=entry["kind"],
        readable=bool(entry["readable"]),
        cover_sheet=entry["cover_sheet"],
        data_sheet=entry["data_sheet"],
        cover={label: CoverField(_decode_value(value), cell) for label, value, cell in entry["cover"]},
        meta={key: value for key, value in entry["meta"]},
        **data,
        findings=[Finding(*[_decode_value(v) for v in values]) for values in entry["findings"]],
    )


def _same(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if a is b:
        return True
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)  # type: ignore[arg-type]
    return bool(a == b)


def _same_rows(a: list[tuple] | None, b: list[tuple] | None) -> bool:
    """Both None, or the same rows of the same values of the same types."""
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(len(x) == len(y) and all(_same(u, v) for u, v in zip(x, y, strict=True)) for x, y in zip(a, b, strict=True))


def same_raw(a: RawSubmission, b: RawSubmission) -> bool:
    """True when `a` and `b` hold the same fields, values of the same types, frames of the same dtypes."""
    plain = ("file", "sha256", "kind", "readable", "cover_sheet", "data_sheet", "meta", "findings")
    if any(getattr(a, name) != getattr(b, name) for name in plain):
        return False
    if not _same_rows(a.rows, b.rows):
        return False
    if list(a.cover) != list(b.cover) or any(a.cover[k].cell != b.cover[k].cell or not _same(a.cover[k].value, b.cover[k].value) for k in a.cover):
        return False
    fa, fb = a.data, b.data
    if list(fa.columns) != list(fb.columns) or [str(t) for t in fa.dtypes] != [str(t) for t in fb.dtypes] or not fa.index.equals(fb.index):
        return False
    return all(
        len(x := fa[c].tolist()) == len(y := fb[c].tolist()) and all(_same(u, v) for u, v in zip(x, y, strict=True))
        for c in fa.columns
    )


# -- Submission <-> JSON ---------------------------------------------------------------------------------
def _encode_frame(frame: Any) -> dict[str, Any]:
    """A frame by columns, with its dtypes; every value through `_encode_value` (exact or refused)."""
    return {
        "columns": [str(c) for c in frame.columns],
        "dtypes": [str(t) for t in frame.dtypes],
        "values": [_encode_values(values) for values in column_lists(frame)],
    }


_EMPTY_FRAMES: dict[tuple, Any] = {}


def _decode_frame(entry: dict[str, Any]) -> Any:
    """The frame `_encode_frame` wrote, in its dtypes."""
    import pandas as pd

    columns, dtypes = tuple(entry["columns"]), tuple(entry["dtypes"])
    if not entry["values"] or not entry["values"][0]:
        # Empty frames are most of them (no revised figures carried): one copy of a frame built once.
        if (columns, dtypes) not in _EMPTY_FRAMES:
            _EMPTY_FRAMES[(columns, dtypes)] = pd.DataFrame({c: pd.Series([], dtype=d) for c, d in zip(columns, dtypes, strict=True)}, columns=list(columns))
        return _EMPTY_FRAMES[(columns, dtypes)].copy()
    frame = pd.DataFrame({c: [_decode_value(v) for v in values] for c, values in zip(columns, entry["values"], strict=True)}, columns=list(columns))
    for column, dtype in zip(columns, dtypes, strict=True):
        if str(frame[column].dtype) != dtype:
            frame[column] = frame[column].astype(dtype)
    return frame


def _same_frame(a: Any, b: Any) -> bool:
    """Same columns, dtypes and values; in object columns, values of the same types too (a typed
    column holds one type, and `equals` takes NaN for NaN)."""
    if list(a.columns) != list(b.columns) or [str(t) for t in a.dtypes] != [str(t) for t in b.dtypes] or len(a) != len(b):
        return False
    if not a.equals(b):
        return False
    return all(all(_same(u, v) for u, v in zip(a[c].tolist(), b[c].tolist(), strict=True)) for c, t in a.dtypes.items() if t == object)


def _encode_table(held: Any) -> dict[str, Any]:
    """A table of a `Submission` as it holds it (`Submission.held`): rows (validation keeps rows, and
    builds their frame only when asked), a frame, or nothing (never assigned)."""
    if held is None:
        return {"default": True}
    if isinstance(held, list):
        return {"rows": [_encode_values(row) for row in held]}
    return _encode_frame(held)


def _decode_table(entry: dict[str, Any]) -> Any:
    """What `_encode_table` wrote, to be held again as it was."""
    if entry.get("default"):
        return None
    if "rows" in entry:
        return [tuple(map(_decode_value, row)) for row in entry["rows"]]
    return _decode_frame(entry)


_SUBMISSION_PLAIN = ("file", "sha256", "country_iso3", "year", "is_demonstration", "status", "reason", "strict")
_SUBMISSION_FRAMES = ("observations", "previous", "carried")


def encode_submission(sub: Submission) -> dict[str, Any]:
    return {
        **{name: _encode_value(getattr(sub, name)) for name in _SUBMISSION_PLAIN},
        "date_submitted": _encode_value(sub.date_submitted),
        **{name: _encode_table(sub.held(name)) for name in _SUBMISSION_FRAMES},
        "findings": [_finding_values(finding) for finding in sub.findings],
        "blank_keys": sorted([list(key) for key in sub.blank_keys]),
    }


def decode_submission(entry: dict[str, Any]) -> Submission:
    from pipeline.findings import Finding
    from pipeline.validate import Submission

    return Submission(
        **{name: _decode_value(entry[name]) for name in _SUBMISSION_PLAIN},
        date_submitted=_decode_value(entry["date_submitted"]),
        **{name: _decode_table(entry[name]) for name in _SUBMISSION_FRAMES},
        findings=[Finding(*[_decode_value(v) for v in values]) for values in entry["findings"]],
        blank_keys={tuple(key) for key in entry["blank_keys"]},
    )


def same_submission(a: Submission, b: Submission) -> bool:
    """True when `a` and `b` hold the same fields, values of the same types, frames of the same dtypes."""
    if any(not _same(getattr(a, name), getattr(b, name)) for name in (*_SUBMISSION_PLAIN, "date_submitted")):
        return False
    if a.findings != b.findings or a.blank_keys != b.blank_keys:
        return False
    return all(_same_frame(getattr(a, name), getattr(b, name)) for name in _SUBMISSION_FRAMES)


# -- the run memo: a year's outputs already made from the same everything ----------------------------------
def run_key(year: int, inputs_dir: Path, options: dict[str, Any], template: Path) -> str:
    """A digest of everything a run of `year` is made from: every file under the inputs folder (name and
    sha256; a link or special file by its name and kind), the options and settings, the report
    template, the reference data, the source of every pipeline module, the crimetrends and library
    versions. Two runs with the same key write the same outputs (the day is in `options`: the report
    and status.csv carry it)."""
    inputs_dir = Path(inputs_dir)
    listing = []
    for path in sorted(inputs_dir.rglob("*")):
        name = path.relative_to(inputs_dir).as_posix()
        if path.is_symlink():
            listing.append([name, "link", os.readlink(path)])
        elif path.is_file():
            listing.append([name, file_sha256(path)])
        elif not path.is_dir():
            listing.append([name, "special"])
    modules = sorted(p.stem for p in PACKAGE_DIR.glob("*.py"))
    return digest(
        "run", FORMAT, __version__, year, canonical(options), listing, file_sha256(template) if Path(template).is_file() else "",
        reference_hash(), source_hash(*modules),
        library_versions("pandas", "numpy", "python-calamine", "xlrd", "openpyxl", "matplotlib", "pillow", "docxtpl", "python-docx"),
    )


def outputs_digest(year_dir: Path, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """{relative name: sha256} of every file under `year_dir`, but hidden ones and the names in `skip`."""
    year_dir = Path(year_dir)
    found = {}
    for path in sorted(year_dir.rglob("*")):
        name = path.relative_to(year_dir).as_posix()
        if path.is_file() and not path.is_symlink() and name not in skip and not any(part.startswith(".") for part in name.split("/")):
            found[name] = file_sha256(path)
    return found


class RunMemo:
    """For each year, the key of its last complete run (`run_key`), the files that run left in
    <outputs>/<year> with their sha256, and what the run said (its result). A run whose key is
    the same, over a year folder holding exactly those files, has nothing to make: its outputs would
    be the same bytes. Any change (an input, a setting, the day, the code, an output file edited
    or deleted) makes it a miss, and the run makes everything (through the other caches)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.hits = self.misses = 0

    def _path(self, year: int) -> Path:
        return self.folder / f"{int(year)}.json"

    def check(self, year: int, key: str, year_dir: Path, skip: frozenset[str] = frozenset()) -> dict[str, Any] | None:
        """The recorded result when the last run of `year` had `key` and its files are all there, unchanged."""
        result = None
        try:
            entry = json.loads(self._path(year).read_text(encoding="utf-8"))
            if entry.get("key") == key and entry.get("outputs") and outputs_digest(year_dir, skip) == entry["outputs"]:
                result = dict(entry["result"])
        except Exception:  # noqa: BLE001 - no entry, a corrupt or foreign one: a miss
            result = None
        if result is None:
            self.misses += 1
        else:
            self.hits += 1
        return result

    def record(self, year: int, key: str, year_dir: Path, result: dict[str, Any], skip: frozenset[str] = frozenset()) -> None:
        entry = {"key": key, "outputs": outputs_digest(year_dir, skip), "result": result}
        _Store(self.folder, ".json").write_file(self._path(year), json.dumps(entry, indent=1, sort_keys=True).encode("utf-8"))

    def forget(self, year: int) -> None:
        self._path(year).unlink(missing_ok=True)


# -- all of them -------------------------------------------------------------------------------------
@dataclass
class Caches:
    """The caches of one outputs folder; each field None when caching is off."""

    parse: ParseCache | None = None
    validated: ValidatedCache | None = None
    charts: BlobCache | None = None
    feedback: BlobCache | None = None
    annex: BlobCache | None = None
    report: BlobCache | None = None

    @classmethod
    def open(cls, outputs_dir: Path, *, deferred: bool = False) -> Caches:
        """The caches under <outputs>/.cache/. With `deferred`, the parse and validated entries are
        written by `flush()` (the run calls it while the charts are drawn in other processes)."""
        root = cache_dir(outputs_dir)
        caches = cls(parse=ParseCache(root / "parse"), validated=ValidatedCache(root / "validated"), charts=cls.open_charts(outputs_dir),
                     feedback=BlobCache(root / "feedback", ".xlsx"), annex=BlobCache(root / "annex", ".xlsx"), report=BlobCache(root / "report", ".docx"))
        caches.parse.deferred = caches.validated.deferred = deferred
        return caches

    @staticmethod
    def open_charts(outputs_dir: Path) -> BlobCache:
        """The chart cache alone: opening it loads nothing (the parse cache's context loads ingest and pandas)."""
        return BlobCache(cache_dir(outputs_dir) / "charts", ".png")

    def flush(self) -> None:
        """Write the entries put in deferred mode (see `open`)."""
        for cache in (self.parse, self.validated):
            if cache is not None:
                cache.flush()

    @classmethod
    def disabled(cls) -> Caches:
        return cls()

    def trim(self) -> None:
        """Write what is deferred, then keep each cache within `MAX_BYTES` (call once at the end of a run)."""
        self.flush()
        for cache in (self.parse, self.validated, self.charts, self.feedback, self.annex, self.report):
            if cache is not None:
                cache.trim()

    def summary(self) -> str:
        named = (("parse", self.parse), ("validated", self.validated), ("charts", self.charts), ("feedback", self.feedback), ("annex", self.annex), ("report", self.report))
        parts = [f"{name} {c.hits} hit(s), {c.misses} miss(es)" for name, c in named if c is not None]
        return "; ".join(parts) if parts else "caching off"
