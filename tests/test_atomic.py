"""pipeline.atomic: a file is written whole or not at all, readable by all unless asked otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline import atomic
from tests.conftest import fail_the_staging_swap
from pipeline.atomic import outputs_lock, write_atomically
from pipeline.errors import OutputError


def test_writes_the_bytes_readable_by_all_making_the_folder(tmp_path):
    target = tmp_path / "new" / "folder" / "a.csv"
    assert write_atomically(target, b"x,y\n1,2\n") == target
    assert target.read_bytes() == b"x,y\n1,2\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in target.parent.iterdir()] == ["a.csv"]  # no temporary file left


def test_replaces_a_file_and_can_keep_it_private(tmp_path):
    target = tmp_path / "entry.json"
    target.write_bytes(b"old")
    write_atomically(target, b"new", mode=None)
    assert target.read_bytes() == b"new" and oct(target.stat().st_mode & 0o777) == "0o600"


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(tmp_path):
    target = tmp_path / "report.docx"
    target.write_bytes(b"the previous report")
    with pytest.raises(TypeError):
        write_atomically(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"the previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.docx"]


# -- outputs_lock ------------------------------------------------------------------------------------
def test_a_second_writer_of_the_same_outputs_is_refused_with_a_clear_message(tmp_path):
    import subprocess
    import sys

    from pipeline.errors import OutputError

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from pipeline.atomic import outputs_lock\n"
         "with outputs_lock(Path(sys.argv[1]), 2025):\n    print('locked', flush=True); time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputError, match=r"another crimetrends run is writing .*2025 \(pid \d+"), outputs_lock(tmp_path, 2025):
            pass
        with outputs_lock(tmp_path, 2024):  # another year is another lock
            pass
    finally:
        holder.kill()  # as kill -9: the system releases the lock with the process
        holder.wait()
    with outputs_lock(tmp_path, 2025):
        pass


def test_year_folder_is_replaced_only_when_the_run_succeeds(tmp_path):
    with atomic.staged_year_dir(tmp_path, 2025) as staging:
        (staging / "report.docx").write_text("first")
    assert (tmp_path / "2025" / "report.docx").read_text() == "first"

    with pytest.raises(RuntimeError), atomic.staged_year_dir(tmp_path, 2025) as staging:
        (staging / "report.docx").write_text("half")
        raise RuntimeError("chart stage failed")
    assert (tmp_path / "2025" / "report.docx").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025"]

    with atomic.staged_year_dir(tmp_path, 2025) as staging:
        (staging / "report.docx").write_text("second")
    assert (tmp_path / "2025" / "report.docx").read_text() == "second"


def test_outputs_moved_aside_by_a_killed_run_are_restored(tmp_path):
    (tmp_path / ".2025.previous").mkdir()
    (tmp_path / ".2025.previous" / "report.docx").write_text("kept")
    atomic.restore_interrupted(tmp_path, 2025)
    assert (tmp_path / "2025" / "report.docx").read_text() == "kept"


def test_the_year_folder_is_replaced_but_its_releases_are_moved_across_untouched(tmp_path):
    with atomic.staged_year_dir(tmp_path, 2025) as staging:
        (staging / "report.docx").write_text("first")
    frozen = tmp_path / "2025" / atomic.RELEASES_DIR / "draft"
    frozen.mkdir(parents=True)
    (frozen / "report.docx").write_text("first")
    inode = frozen.stat().st_ino
    with atomic.staged_year_dir(tmp_path, 2025) as staging:
        (staging / "report.docx").write_text("second")
    assert (tmp_path / "2025" / "report.docx").read_text() == "second"
    assert (frozen / "report.docx").read_text() == "first"
    assert frozen.stat().st_ino == inode, "moved, not copied"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025"]


def test_a_staging_folder_that_makes_a_kept_folder_is_refused_and_nothing_changes(tmp_path):
    frozen = tmp_path / "2025" / atomic.RELEASES_DIR / "draft"
    frozen.mkdir(parents=True)
    (tmp_path / "2025" / "report.docx").write_text("first")
    with pytest.raises(OutputError, match="never replaced by a run"), atomic.staged_year_dir(tmp_path, 2025) as staging:
        (staging / atomic.RELEASES_DIR).mkdir()
        (staging / "report.docx").write_text("second")
    assert (tmp_path / "2025" / "report.docx").read_text() == "first"
    assert frozen.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025"]


def test_releases_left_in_the_folder_moved_aside_by_a_killed_run_are_restored(tmp_path):
    (tmp_path / "2025").mkdir()
    (tmp_path / "2025" / "report.docx").write_text("new")
    (tmp_path / ".2025.previous" / atomic.RELEASES_DIR / "draft").mkdir(parents=True)
    (tmp_path / ".2025.previous" / atomic.RELEASES_DIR / "draft" / "report.docx").write_text("frozen")
    atomic.restore_interrupted(tmp_path, 2025)
    assert (tmp_path / "2025" / atomic.RELEASES_DIR / "draft" / "report.docx").read_text() == "frozen"
    assert (tmp_path / "2025" / "report.docx").read_text() == "new"


def test_staged_dir_replaces_a_sub_folder_whole(tmp_path):
    target = tmp_path / "2025" / "feedback"
    with atomic.staged_dir(target) as staging:
        (staging / "old.xlsx").write_text("old")
    with atomic.staged_dir(target) as staging:
        (staging / "new.xlsx").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.xlsx"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["feedback"]


# -- folders that cannot be written ------------------------------------------------------------------
# Tests run as root, whom permission bits do not stop: a read-only folder is simulated by making the
# call that writes in it raise PermissionError, as it does for any other user.
def test_a_failed_swap_keeps_the_previous_folder_and_leaves_no_staging_folder(tmp_path, monkeypatch):
    from pipeline.errors import OutputError

    with atomic.staged_year_dir(tmp_path, 2025) as staging:
        (staging / "report.docx").write_text("first")
    fail_the_staging_swap(monkeypatch)
    with pytest.raises(OutputError, match=rf"cannot write to {re.escape(str(tmp_path))}: permission denied"), atomic.staged_year_dir(tmp_path, 2025) as staging:
        (staging / "report.docx").write_text("second")
    assert (tmp_path / "2025" / "report.docx").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025"]


def test_a_staging_folder_that_cannot_be_made_names_the_folder(tmp_path, monkeypatch):
    from pipeline.errors import OutputError

    def refused(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", refused)
    with pytest.raises(OutputError, match=rf"^cannot write to {re.escape(str(tmp_path))}: permission denied \({re.escape(str(tmp_path))} is read-only for this user\)"), atomic.staged_dir(tmp_path / "2025"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_a_file_where_a_folder_should_be_is_named(tmp_path):
    from pipeline.errors import OutputError

    (tmp_path / "2025").write_text("not a folder")
    with pytest.raises(OutputError, match=r"it is a file, not a folder"), atomic.staged_year_dir(tmp_path, 2025):
        pass
    with pytest.raises(OutputError, match=rf"^cannot write to {re.escape(str(tmp_path / '2025' / 'data'))}: {re.escape(str(tmp_path / '2025'))} is a file, not a folder"):
        write_atomically(tmp_path / "2025" / "data" / "a.csv", b"x")
    with pytest.raises(OutputError, match=r"is a file, not a folder"), outputs_lock(tmp_path / "2025", 2025):
        pass
    assert (tmp_path / "2025").read_text() == "not a folder" and sorted(p.name for p in tmp_path.iterdir()) == ["2025"]


def test_require_writable_checks_the_nearest_folder_that_exists_and_writes_nothing(tmp_path, monkeypatch):
    from pipeline.errors import OutputError

    atomic.require_writable(tmp_path / "outputs" / "2025")  # to be made in tmp_path: fine
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match=r"file is a file, not a folder"):
        atomic.require_writable(tmp_path, tmp_path / "file" / "2025")
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    real_access = atomic.os.access
    monkeypatch.setattr(atomic.os, "access", lambda path, mode: Path(path) != read_only and real_access(path, mode))
    with pytest.raises(OutputError, match=rf"^cannot write to {re.escape(str(read_only / '2025'))}: permission denied \({re.escape(str(read_only))} is read-only for this user\)"):
        atomic.require_writable(read_only / "2025")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "read-only"] and not any(read_only.iterdir())
