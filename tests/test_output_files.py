"""Store: CSV number conventions and the atomic year folder."""

from __future__ import annotations

import datetime as dt
import io
import math
import zipfile

import pandas as pd

from pipeline import output_files


def test_numbers_are_written_plainly_and_text_stays_text(tmp_path):
    frame = pd.DataFrame({"value": [12.0, 0.0, math.nan, 12.5], "rate_per_100k": [1 / 3, 0.0, math.nan, 2.0], "flags": ["p", "", "bp", "C"], "comment": ["a & <b>", "a, b", "", "Ελληνικά"]})
    path = output_files.write_csv(frame, tmp_path / "data" / "t.csv")
    assert path.read_text(encoding="utf-8").splitlines() == [
        "value,rate_per_100k,flags,comment",
        "12,0.333333,p,a & <b>",
        "0,0,,\"a, b\"",
        ",,bp,",
        "12.5,2,C,Ελληνικά",
    ]
    back = output_files.read_csv(path)
    assert back["flags"].tolist()[:1] == ["p"] and math.isnan(back["value"][2]) and back["value"][1] == 0


# -- zip packages ------------------------------------------------------------------------------------
STAMP = dt.datetime(2026, 1, 2, 3, 4, 6)


def _parts() -> list[tuple[str, bytes]]:
    xml = b'<?xml version="1.0"?><sheetData>' + b"".join(b'<row r="%d"><c><v>%d</v></c></row>' % (i, i * 7) for i in range(2000)) + b"</sheetData>"
    return [
        ("[Content_Types].xml", b"<Types/>"),
        ("xl/worksheets/sheet1.xml", xml),
        ("xl/empty.bin", b""),
        ("docProps/Ελληνικά_ü.xml", "<t>Ελληνικά</t>".encode()),
    ]


def test_write_zip_reads_back_entry_for_entry_dated_the_stamp(tmp_path):
    parts = _parts()
    path = output_files.write_zip(parts, tmp_path / "p.xlsx", STAMP)
    assert path.stat().st_mode & 0o777 == 0o644
    with zipfile.ZipFile(path) as back:
        assert back.testzip() is None  # every CRC checked
        assert back.namelist() == [name for name, _ in parts]
        for info, (_, data) in zip(back.infolist(), parts, strict=True):
            assert back.read(info) == data
            assert info.date_time == (2026, 1, 2, 3, 4, 6) and info.compress_type == zipfile.ZIP_DEFLATED


def test_write_zip_gives_the_same_bytes_for_the_same_parts_and_stamp(tmp_path):
    parts = _parts()
    first = output_files.write_zip(parts, tmp_path / "a.zip", STAMP).read_bytes()
    assert output_files.write_zip(parts, tmp_path / "b.zip", STAMP).read_bytes() == first
    assert output_files.write_zip(parts, tmp_path / "c.zip", STAMP + dt.timedelta(days=1)).read_bytes() != first  # the stamp is in it


def test_write_package_dates_every_entry_of_a_library_s_package(tmp_path):
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as package:  # entries dated now, as libraries write them
        for name, data in _parts():
            package.writestr(name, data)
    path = output_files.write_package(raw.getvalue(), tmp_path / "p.docx", STAMP)
    with zipfile.ZipFile(path) as back:
        assert [(i.filename, i.date_time) for i in back.infolist()] == [(name, STAMP.timetuple()[:6]) for name, _ in _parts()]
        assert [back.read(name) for name, _ in _parts()] == [data for _, data in _parts()]


def test_write_workbook_gives_the_same_bytes_with_the_stamp_as_document_times(tmp_path):
    import openpyxl

    def workbook():
        wb = openpyxl.Workbook()
        output_files.set_cell(wb.active["A1"], "=1+1")
        wb.active["B2"] = 12.5
        return wb

    first = output_files.write_workbook(workbook(), tmp_path / "a.xlsx", STAMP)
    second = output_files.write_workbook(workbook(), tmp_path / "b.xlsx", STAMP)
    assert first.read_bytes() == second.read_bytes()
    back = openpyxl.load_workbook(first)
    assert (back.properties.created, back.properties.modified) == (STAMP, STAMP)
    assert (back.active["A1"].value, back.active["A1"].data_type, back.active["B2"].value) == ("=1+1", "s", 12.5)
    with zipfile.ZipFile(first) as package:
        assert {info.date_time for info in package.infolist()} == {STAMP.timetuple()[:6]}


def test_set_cell_keeps_text_as_text_and_drops_what_xml_cannot_hold():
    from openpyxl import Workbook

    ws = Workbook().active
    assert output_files.set_cell(ws["A1"], "=1+2").data_type == "s"
    assert output_files.set_cell(ws["A2"], "bell\x07 ok").value == "bell ok"
    assert output_files.set_cell(ws["A3"], 12.5).value == 12.5
