"""Store: write the machine-readable outputs, atomically.

Input: DataFrames and openpyxl workbooks. Output: CSV files under `<outputs>/<year>/data/` and
workbooks (`write_workbook`) with fixed document and zip times, so the same inputs give the same bytes. The whole year folder is built
in a staging folder beside it and swapped into place only when every stage has succeeded, so a run
that fails or is killed half-way leaves the previous outputs whole.

CSV conventions (a contract the tests and other tools rely on): UTF-8, comma-separated, a header
row; an empty cell is "no number" (the `status` column says why); whole numbers are written without a
decimal part; rates and changes keep 6 decimals; flags are kept verbatim as a string column.

Text that a spreadsheet would run as a formula (CWE-1236, "CSV injection"): a text cell starting with
`=`, `+`, `-`, `@`, a tab or a carriage return is written with one single quote in front (OWASP's
advice), so Excel and LibreOffice show it as text: a comment `=HYPERLINK(...)` is written
`'=HYPERLINK(...)`. Numbers are never quoted (-3 is written -3), nor is text that is only a number
("-3", "+1": a spreadsheet reads it as that number, nothing runs). Text that already starts with
quotes before such a character gets one more, so `read_csv` can remove exactly the one added and a
round trip gives the original text. Read these files with `read_csv` (or `restore_text_columns`),
not bare `pd.read_csv`, or the added quotes stay.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.atomic import write_atomically
from pipeline.findings import OutputError

if TYPE_CHECKING:  # openpyxl is imported where a workbook is written (0.1 s a run that writes none saves)
    from openpyxl.cell.cell import Cell
    from openpyxl.workbook import Workbook

DATA_DIR = "data"
DECIMALS = 6


def number_text(value: object) -> str:
    """A number as CSV text: '' for missing, '12' for 12.0, '0.123457' for a rate."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
        return repr(round(value, DECIMALS))
    return str(value)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` to `path` atomically with the number and text conventions above."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = frame.copy()
    # Lists, not Series iteration (same Python values, without boxing each); each distinct text once.
    texts: dict[str, str] = {}

    def csv_text(value: str) -> str:
        done = texts.get(value)
        if done is None:
            done = texts[value] = _csv_text(value)
        return done

    for column in text.columns:
        if pd.api.types.is_float_dtype(text[column]) or text[column].dtype == object:
            text[column] = [number_text(v) if isinstance(v, float) or v is None or v is pd.NA else csv_text(v) if isinstance(v, str) else v for v in text[column].tolist()]
        elif pd.api.types.is_string_dtype(text[column]):
            text[column] = [csv_text(v) if isinstance(v, str) else v for v in text[column].tolist()]
    content = text.to_csv(index=False, lineterminator="\n")
    if _CR_MARK in content:
        content = content.replace(_CR_MARK, "\r")
    return write_atomically(path, content.encode("utf-8"))


# Python's csv writer (under pandas) quotes a field holding "\n" but not one holding a lone "\r" when
# lines end in "\n": readers would break the row there, and text after the CR would start a line of
# its own (a formula, for a spreadsheet). So each CR is written as this mark, whose newline makes the
# writer quote the field, and turned back into "\r" in the written text. U+FDD0 is a Unicode
# noncharacter, reserved for such internal use: no submitted text holds it.
_CR_MARK = "\n\ufdd0"


def _csv_text(value: str) -> str:
    text = inert_text(value)
    return text.replace("\r", _CR_MARK) if "\r" in text else text


def set_cell(cell: Cell, value: object) -> Cell:
    """Write `value` into an openpyxl cell as data, never as a formula.

    Text from submissions may start with '=' (openpyxl would store it as a formula, CWE-1236) or hold
    control characters XML cannot carry (openpyxl would raise): the first stays text, the second are dropped.
    """
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"
    else:
        cell.value = value
    return cell


def write_workbook(wb: Workbook, target: Path, stamp: dt.datetime) -> Path:
    """Save `wb` atomically with fixed document times and zip entry times (`stamp`), readable by all.

    openpyxl's `save()` stamps the current time into the file; the ExcelWriter does not, and the zip
    is rewritten with fixed entry times, so the same workbook gives the same bytes.
    """
    from openpyxl.writer.excel import ExcelWriter

    wb.properties.created = stamp
    wb.properties.modified = stamp
    raw = io.BytesIO()
    # Stored, not compressed: write_zip compresses each part once, with its fixed time.
    ExcelWriter(wb, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True)).save()
    with zipfile.ZipFile(raw) as src:
        parts = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    # zlib, not zlib-ng: the workbooks written this way (the templates and demonstration inputs sent
    # out and committed, feedback copies made by openpyxl) are then the same bytes on every machine.
    return write_zip(parts, target, stamp, portable=True)


def write_zip(parts: list[tuple[str, bytes]], target: Path, stamp: dt.datetime, compresslevel: int | None = None,
              stored: tuple[str, ...] = (), portable: bool = False) -> Path:
    """Write `parts` (name, bytes), in this order, as a deflated zip at `target`, atomically, every entry
    dated `stamp` (so the same parts give the same bytes), readable by all. Names ending with one of
    `stored` (already compressed: ".png") are stored as they are.

    `compresslevel` is zlib's scale (0-9; None or -1: `ZIP_DEFAULT_LEVEL`, or zlib's own default 6
    when zlib deflates). `portable`: deflated by zlib even where zlib-ng is installed, so the bytes are
    zipfile's own, the same on every machine. How the zip is laid out, and why it is not written
    through `zipfile`: the comment above `DEFLATER`.
    """
    return write_atomically(target, zip_bytes(parts, stamp, compresslevel, stored, portable))


# -- zip packages (.xlsx, .docx) ----------------------------------------------------------------------
# The zip structure is written here rather than through `zipfile`: zipfile deflates with zlib only and
# has no public way to take data deflated elsewhere, and zlib-ng (`zlib-ng`, zlib's format and levels,
# with SIMD) deflates ~2 to 4 times faster (the annex's 13.6 MB of XML in 26 ms of CPU at level 2, a
# 1.35 MB package, where zlib takes 45 ms at level 1 for 1.42 MB; its CRC-32 is ~3 times faster).
# Not ISA-L (`isal`, faster still, used until this was measured): on this project's machine its level
# 1 gave, for the same bytes in, now and then another valid stream out (4 of 1,110 charts in 30 runs
# of the sample; zlib-ng 0 of 1,110), and the same inputs must give the same files. Without zlib-ng
# (a platform without its wheel), zlib: slower, and the bytes are then exactly what `zipfile` writes
# for the same parts (a test checks).
#
# The layout (PKWARE's APPNOTE.TXT, section 4.3), field for field what `zipfile.writestr` writes to a
# seekable file: for each part, in order, a local file header, the name and the data (deflated, or
# stored); then the central directory, one header per part pointing back at its local header; then the
# end of central directory record. CRC and sizes are known before a header is written, so there are no
# data descriptors; no extra fields, comments or encryption. No ZIP64 either: a part, or the whole zip,
# larger than `ZIP_LIMIT` is refused (the packages written here are a few MB).
# DEFLATER: what deflates the packages, with its version; their bytes depend on it, so the cache keys
# of the outputs written here name it.
try:
    import zlib_ng
    from zlib_ng import zlib_ng as _zlib  # zlib's API: compressobj, crc32, DEFLATED

    DEFLATER = f"zlib-ng {zlib_ng.__version__} ({_zlib.ZLIBNG_RUNTIME_VERSION})"
except ImportError:
    import zlib as _zlib

    DEFLATER = f"zlib {_zlib.ZLIB_RUNTIME_VERSION}"

# The level a package is deflated at when none is asked for, with zlib-ng: 2 (the annex's XML in 26 ms,
# 1.35 MB); its 1 is as fast but 40 % larger (static codes only), its default 6 four times slower
# for 13 % less. zlib keeps its own default (6): zipfile's bytes.
ZIP_DEFAULT_LEVEL = 2
# zipfile's own threshold for ZIP64 (2 GiB - 1: some readers take the 4-byte sizes as signed).
ZIP_LIMIT = zipfile.ZIP64_LIMIT

_DEFLATED, _STORED = 8, 0  # compression methods (APPNOTE 4.4.5)
_VERSION = 20  # "version needed to extract" / "made by": 2.0, deflate (APPNOTE 4.4.3), as zipfile writes
_MADE_BY_UNIX = 3  # the high byte of "version made by": the external attributes below are Unix mode bits
_UTF8_NAME = 0x800  # general purpose flag bit 11: the name is UTF-8 (APPNOTE 4.4.4, appendix D)
_FILE_MODE = 0o600 << 16  # external attributes: a regular file, rw------- (what zipfile gives writestr)
# Signature, then: version needed, flags, method, time, date, CRC-32, compressed size, size, name length, extra length.
_LOCAL_HEADER = struct.Struct("<4sHHHHHLLLHH")
# Signature, version made by (version, system), version needed, flags, method, time, date, CRC-32,
# compressed size, size, name length, extra length, comment length, disk, internal and external
# attributes, offset of the local header.
_CENTRAL_HEADER = struct.Struct("<4sBBHHHHHLLLHHHHHLL")
# Signature, this disk, disk of the central directory, entries on this disk, entries, its size, its offset, comment length.
_END_RECORD = struct.Struct("<4sHHHHLLH")


def zip_bytes(parts: list[tuple[str, bytes]], stamp: dt.datetime, compresslevel: int | None = None,
              stored: tuple[str, ...] = (), portable: bool = False) -> bytes:
    """The zip `write_zip` writes, as bytes (see there)."""
    deflater = zlib if portable else _zlib
    level = _zip_level(compresslevel, deflater)
    dos_time, dos_date = _dos_time(stamp)
    body: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    seen: set[str] = set()
    for name, data in parts:
        if name in seen:
            raise ValueError(f"zip entry {name!r} given twice")
        seen.add(name)
        raw_name, flags = _zip_name(name)
        if stored and name.lower().endswith(stored):
            method, packed = _STORED, data
        else:
            compressor = deflater.compressobj(level, deflater.DEFLATED, -15)  # -15: a raw stream, 32 KB window
            method, packed = _DEFLATED, compressor.compress(data) + compressor.flush()
        if max(len(data), len(packed)) > ZIP_LIMIT:
            raise OutputError(f"{name} is {max(len(data), len(packed)):,} bytes: more than a zip without ZIP64 holds ({ZIP_LIMIT:,})")
        crc = _zlib.crc32(data)
        common = (flags, method, dos_time, dos_date, crc, len(packed), len(data), len(raw_name), 0)
        central.append(_CENTRAL_HEADER.pack(b"PK\x01\x02", _VERSION, _MADE_BY_UNIX, _VERSION, *common, 0, 0, 0, _FILE_MODE, offset) + raw_name)
        header = _LOCAL_HEADER.pack(b"PK\x03\x04", _VERSION, *common)
        body += (header, raw_name, packed)
        offset += len(header) + len(raw_name) + len(packed)
    directory = b"".join(central)
    if offset + len(directory) > ZIP_LIMIT or len(central) > 0xFFFF:
        raise OutputError(f"{len(central)} entries, {offset + len(directory):,} bytes: more than a zip without ZIP64 holds ({ZIP_LIMIT:,} bytes, 65,535 entries)")
    end = _END_RECORD.pack(b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), offset, 0)
    return b"".join([*body, directory, end])


def _zip_level(compresslevel: int | None, deflater) -> int:
    """The level for `deflater.compressobj`: the one asked for, or the default (`ZIP_DEFAULT_LEVEL`;
    zlib's own when zlib deflates)."""
    level = -1 if compresslevel is None else compresslevel
    if level not in range(-1, 10):
        raise ValueError(f"compresslevel {compresslevel!r}: zlib's levels are 0-9 (-1 or None: the default)")
    return ZIP_DEFAULT_LEVEL if level == -1 and deflater is not zlib else level


def _dos_time(stamp: dt.datetime) -> tuple[int, int]:
    """`stamp` as the MS-DOS time and date of a zip entry (2-second steps, years 1980-2107)."""
    if not 1980 <= stamp.year <= 2107:
        raise ValueError(f"a zip entry cannot be dated {stamp}: zip dates run from 1980 to 2107")
    return stamp.hour << 11 | stamp.minute << 5 | stamp.second // 2, (stamp.year - 1980) << 9 | stamp.month << 5 | stamp.day


def _zip_name(name: str) -> tuple[bytes, int]:
    """The entry name as stored, and its flag: ASCII as it is, other names in UTF-8 with bit 11 set (as zipfile)."""
    if not name or "\0" in name or name.startswith("/") or "\\" in name:
        raise ValueError(f"{name!r} cannot name a zip entry (empty, NUL, absolute or with a backslash)")
    try:
        raw = name.encode("ascii")
        flags = 0
    except UnicodeEncodeError:
        raw = name.encode("utf-8")
        flags = _UTF8_NAME
    if len(raw) > 0xFFFF:
        raise ValueError(f"zip entry name of {len(raw):,} bytes: the limit is 65,535")
    return raw, flags


def read_csv(path: Path) -> pd.DataFrame:
    """Read back a CSV written by `write_csv` (text stays text: flags such as 'p' are not parsed).

    The quote `write_csv` put before formula-like text is removed again (`restore_text`).
    """
    frame = pd.read_csv(path, dtype={"flags": str, "rate_flags": str, "comment": str, "cell": str, "value": float}, keep_default_na=False, na_values=[""])
    return restore_text_columns(frame)


def _previous_dir(final: Path) -> Path:
    return final.parent / f".{final.name}.previous"


def restore_interrupted(outputs_dir: Path, year: int) -> None:
    """If a run was killed between moving the old outputs aside and moving the new ones in, put the old back."""
    _restore(outputs_dir / str(year))


def _restore(final: Path) -> None:
    previous = _previous_dir(final)
    if previous.exists() and not final.exists():
        os.rename(previous, final)


@contextmanager
def staged_year_dir(outputs_dir: Path, year: int) -> Iterator[Path]:
    """Yield an empty staging folder; on success it becomes `<outputs>/<year>`, on failure it is removed."""
    with staged_dir(outputs_dir / str(year)) as staging:
        yield staging


@contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Yield an empty staging folder beside `final`; on success it replaces `final`, on failure it is removed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    _restore(final)
    # Staging folders of runs that were killed (kill -9 runs no clean-up); callers hold the outputs
    # lock, so none of them belongs to a run still going.
    for stale in final.parent.glob(f".{final.name}.staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.staging-"))
    os.chmod(staging, 0o755)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = _previous_dir(final)
    if previous.exists():
        shutil.rmtree(previous)
    if final.exists():
        os.rename(final, previous)
    os.rename(staging, final)
    shutil.rmtree(previous, ignore_errors=True)


# -- inert text in CSV (CWE-1236) ------------------------------------------------------------------
# What a spreadsheet takes as the start of a formula: = + - @, and tab / carriage return (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_QUOTE = re.compile(r"'*[=+\-@\t\r]")  # formula-like, possibly after quotes a reader may strip
_QUOTED = re.compile(r"'+[=+\-@\t\r]")  # what `inert_text` wrote: one quote more than the text had
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_FIRST_CHARS = "".join(FORMULA_STARTS) + "'"


def inert_text(text: str) -> str:
    """Text as `write_csv` writes it: a quote in front when a spreadsheet would run it as a formula.

    >>> inert_text("=1+1"), inert_text("-x"), inert_text("'=x"), inert_text("-3"), inert_text("a-b")
    ("'=1+1", "'-x", "''=x", '-3', 'a-b')
    """
    if text and text[0] in _FIRST_CHARS and _NEEDS_QUOTE.match(text) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def restore_text(value: object) -> object:
    """The inverse of `inert_text`: removes the one quote it added (other values unchanged).

    >>> restore_text("'=1+1"), restore_text("''=x"), restore_text("'quoted'"), restore_text(-3.0)
    ('=1+1', "'=x", "'quoted'", -3.0)
    """
    if isinstance(value, str) and value[:1] == "'" and _QUOTED.match(value):
        return value[1:]
    return value


def restore_text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (read from a `write_csv` file) with `restore_text` applied to its text columns, in place."""
    for column in frame.columns:
        series = frame[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            values = series.tolist()
            if any(isinstance(v, str) and v[:1] == "'" for v in values):
                frame[column] = [restore_text(v) for v in values]
    return frame


def text_for_append(ws) -> Callable[[str], object]:
    """For rows appended to a write-only worksheet: each text as `append` must get it to store it as text.

    `append` binds a plain str like a cell assignment: "=1+1" would become a formula, "#N/A" an error
    value, a control character an exception. So a text goes as a cell made by `set_cell`, unless
    openpyxl itself stores it as that very text (asked once per distinct text, on a probe cell):
    then the str goes as it is, which writes the same cell at a fraction of the cost (most texts in a
    table repeat: codes, labels, statuses). '' is an empty cell (None).
    """
    from openpyxl.cell.cell import WriteOnlyCell
    from openpyxl.utils.exceptions import IllegalCharacterError

    probe = WriteOnlyCell(ws)
    plain: dict[str, bool] = {}

    def text(value: str) -> object:
        if not value:
            return None
        is_plain = plain.get(value)
        if is_plain is None:
            try:
                probe.value = value
                is_plain = probe.data_type == "s" and probe.value == value
            except IllegalCharacterError:
                is_plain = False
            plain[value] = is_plain
        return value if is_plain else set_cell(WriteOnlyCell(ws), value)

    return text
