"""Store: CSV number conventions and the atomic year folder."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import math
import random
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline import store


def test_numbers_are_written_plainly_and_text_stays_text(tmp_path):
    frame = pd.DataFrame({"value": [12.0, 0.0, math.nan, 12.5], "rate_per_100k": [1 / 3, 0.0, math.nan, 2.0], "flags": ["p", "", "bp", "C"], "comment": ["a & <b>", "a, b", "", "Ελληνικά"]})
    path = store.write_csv(frame, tmp_path / "data" / "t.csv")
    assert path.read_text(encoding="utf-8").splitlines() == [
        "value,rate_per_100k,flags,comment",
        "12,0.333333,p,a & <b>",
        "0,0,,\"a, b\"",
        ",,bp,",
        "12.5,2,C,Ελληνικά",
    ]
    back = store.read_csv(path)
    assert back["flags"].tolist()[:1] == ["p"] and math.isnan(back["value"][2]) and back["value"][1] == 0


def test_year_folder_is_replaced_only_when_the_run_succeeds(tmp_path):
    with store.staged_year_dir(tmp_path, 2025) as staging:
        (staging / "report.docx").write_text("first")
    assert (tmp_path / "2025" / "report.docx").read_text() == "first"

    with pytest.raises(RuntimeError), store.staged_year_dir(tmp_path, 2025) as staging:
        (staging / "report.docx").write_text("half")
        raise RuntimeError("chart stage failed")
    assert (tmp_path / "2025" / "report.docx").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025"]

    with store.staged_year_dir(tmp_path, 2025) as staging:
        (staging / "report.docx").write_text("second")
    assert (tmp_path / "2025" / "report.docx").read_text() == "second"


def test_outputs_moved_aside_by_a_killed_run_are_restored(tmp_path):
    (tmp_path / ".2025.previous").mkdir()
    (tmp_path / ".2025.previous" / "report.docx").write_text("kept")
    store.restore_interrupted(tmp_path, 2025)
    assert (tmp_path / "2025" / "report.docx").read_text() == "kept"


def test_set_cell_keeps_text_as_text_and_drops_what_xml_cannot_hold():
    from openpyxl import Workbook

    ws = Workbook().active
    assert store.set_cell(ws["A1"], "=1+2").data_type == "s"
    assert store.set_cell(ws["A2"], "bell\x07 ok").value == "bell ok"
    assert store.set_cell(ws["A3"], 12.5).value == 12.5


def test_staged_dir_replaces_a_sub_folder_whole(tmp_path):
    target = tmp_path / "2025" / "feedback"
    with store.staged_dir(target) as staging:
        (staging / "old.xlsx").write_text("old")
    with store.staged_dir(target) as staging:
        (staging / "new.xlsx").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.xlsx"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["feedback"]


# -- write_zip -------------------------------------------------------------------------------------
STAMP = dt.datetime(2026, 1, 2, 3, 4, 6)
MEDIA = (".png",)


def _parts() -> list[tuple[str, bytes]]:
    xml = b'<?xml version="1.0"?><sheetData>' + b"".join(b'<row r="%d"><c><v>%d</v></c></row>' % (i, i * 7) for i in range(2000)) + b"</sheetData>"
    return [
        ("[Content_Types].xml", b"<Types/>"),
        ("xl/worksheets/sheet1.xml", xml),
        ("word/media/image1.PNG", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),  # stored: the match ignores case
        ("xl/empty.bin", b""),
        ("docProps/Ελληνικά_ü.xml", "<t>Ελληνικά</t>".encode()),
    ]


def _zipfile_reference(parts, stamp, compresslevel=None, stored=()) -> bytes:
    """What write_zip wrote through zipfile before it wrote the zip itself (zlib)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as dst:
        for name, data in parts:
            entry = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_STORED if stored and name.lower().endswith(stored) else zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, data, compresslevel=compresslevel)
    return out.getvalue()


def _check_zip(path: Path, parts, stored=MEDIA) -> None:
    with zipfile.ZipFile(path) as back:
        assert back.testzip() is None  # every CRC checked
        assert back.namelist() == [name for name, _ in parts]
        for info, (name, data) in zip(back.infolist(), parts, strict=True):
            assert back.read(info) == data
            assert info.date_time == (2026, 1, 2, 3, 4, 6)
            assert info.compress_type == (zipfile.ZIP_STORED if name.lower().endswith(stored) else zipfile.ZIP_DEFLATED)
            assert info.external_attr == 0o600 << 16 and info.create_system == 3
            assert bool(info.flag_bits & 0x800) == (not name.isascii())  # UTF-8 name flag, as zipfile sets it


def test_write_zip_reads_back_with_zipfile_entry_for_entry(tmp_path):
    parts = _parts()
    path = store.write_zip(parts, tmp_path / "p.xlsx", STAMP, stored=MEDIA)
    _check_zip(path, parts)
    assert path.stat().st_mode & 0o777 == 0o644
    with zipfile.ZipFile(path) as back:
        sheet = back.getinfo("xl/worksheets/sheet1.xml")
        assert sheet.compress_size < sheet.file_size / 4
    if importlib.util.find_spec("zlib_ng") is not None:
        assert store._zlib.__name__ == "zlib_ng.zlib_ng"


def test_write_zip_gives_the_same_bytes_for_the_same_parts(tmp_path):
    parts = _parts()
    first = store.write_zip(parts, tmp_path / "a.zip", STAMP, compresslevel=1, stored=MEDIA).read_bytes()
    assert store.write_zip(parts, tmp_path / "b.zip", STAMP, compresslevel=1, stored=MEDIA).read_bytes() == first
    assert store.zip_bytes(parts, STAMP + dt.timedelta(days=1), 1, MEDIA) != first  # the stamp is in it


@pytest.mark.parametrize("level", [None, -1, 0, 1, 2, 3, 4, 6, 7, 9])
def test_every_compresslevel_gives_a_valid_zip(tmp_path, level):
    parts = _parts()
    _check_zip(store.write_zip(parts, tmp_path / "p.zip", STAMP, compresslevel=level, stored=MEDIA), parts)


def test_a_zip_of_no_parts_is_a_valid_empty_zip(tmp_path):
    path = store.write_zip([], tmp_path / "empty.zip", STAMP)
    assert path.read_bytes() == _zipfile_reference([], STAMP) == b"PK\x05\x06" + bytes(18)
    with zipfile.ZipFile(path) as back:
        assert back.namelist() == [] and back.testzip() is None


def test_a_large_part_reads_back_whole(tmp_path):
    noise = random.Random(7).randbytes(3_000_000)  # incompressible: deflate falls back to stored blocks
    text = b"".join(b"<c r='A%d'><v>%d</v></c>" % (i, i % 977) for i in range(250_000))  # ~6 MB of XML
    parts = [("noise.bin", noise), ("xl/worksheets/sheet1.xml", text)]
    path = store.write_zip(parts, tmp_path / "large.zip", STAMP, compresslevel=1)
    _check_zip(path, parts)


def test_what_a_zip_cannot_hold_is_refused_clearly(tmp_path, monkeypatch):
    from pipeline.findings import OutputError

    for name in ("", "a\0b", "/etc/passwd", "xl\\sheet.xml"):
        with pytest.raises(ValueError, match="cannot name a zip entry"):
            store.zip_bytes([(name, b"x")], STAMP)
    with pytest.raises(ValueError, match="given twice"):
        store.zip_bytes([("a.xml", b"1"), ("a.xml", b"2")], STAMP)
    with pytest.raises(ValueError, match="compresslevel 10"):
        store.zip_bytes([("a.xml", b"1")], STAMP, compresslevel=10)
    with pytest.raises(ValueError, match="from 1980 to 2107"):
        store.zip_bytes([("a.xml", b"1")], dt.datetime(1979, 12, 31))
    monkeypatch.setattr(store, "ZIP_LIMIT", 1000)  # ZIP64 is not written: larger is refused, not truncated
    with pytest.raises(OutputError, match=r"big\.bin is 1,001 bytes: more than a zip without ZIP64 holds"):
        store.write_zip([("big.bin", bytes(1001))], tmp_path / "big.zip", STAMP, stored=(".bin",))
    with pytest.raises(OutputError, match="more than a zip without ZIP64 holds"):
        store.write_zip([(f"{i}.bin", bytes(400)) for i in range(3)], tmp_path / "big.zip", STAMP, stored=(".bin",))
    assert not (tmp_path / "big.zip").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="zipfile marks entries made on Windows as such")
def test_portable_zips_are_zipfiles_own_bytes_wherever_zlib_ng_is(tmp_path):
    """Workbooks sent out and committed (templates, demonstration inputs) do not depend on the deflater."""
    parts = _parts()
    for level in (None, 1, 9):
        path = store.write_zip(parts, tmp_path / "p.docx", STAMP, compresslevel=level, stored=MEDIA, portable=True)
        _check_zip(path, parts)
        assert path.read_bytes() == _zipfile_reference(parts, STAMP, level, MEDIA)


def test_without_zlib_ng_zlib_deflates_and_the_bytes_are_zipfiles_own(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "zlib_ng", None)  # `from zlib_ng import zlib_ng` now raises ImportError
    monkeypatch.setitem(sys.modules, "zlib_ng.zlib_ng", None)
    try:
        importlib.reload(store)
        assert store._zlib.__name__ == "zlib"
        parts = _parts()
        for level in (None, 1, 9):
            path = store.write_zip(parts, tmp_path / "p.docx", STAMP, compresslevel=level, stored=MEDIA)
            _check_zip(path, parts)
            if sys.platform != "win32":  # zipfile marks entries made on Windows as such
                assert path.read_bytes() == _zipfile_reference(parts, STAMP, level, MEDIA)
    finally:
        monkeypatch.undo()
        importlib.reload(store)
