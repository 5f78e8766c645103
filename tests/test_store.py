"""Store: CSV number conventions and the atomic year folder."""

from __future__ import annotations

import math

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


def test_a_second_writer_of_the_same_outputs_is_refused_with_a_clear_message(tmp_path):
    import subprocess
    import sys

    from pipeline.findings import OutputError

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from pipeline import store\n"
         "with store.outputs_lock(Path(sys.argv[1]), 2025):\n    print('locked', flush=True); time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputError, match=r"another crimetrends run is writing .*2025 \(pid \d+"), store.outputs_lock(tmp_path, 2025):
            pass
        with store.outputs_lock(tmp_path, 2024):  # another year is another lock
            pass
    finally:
        holder.kill()  # as kill -9: the system releases the lock with the process
        holder.wait()
    with store.outputs_lock(tmp_path, 2025):
        pass
