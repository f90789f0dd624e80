"""``--out``: only a folder c2stats wrote (exactly the files its manifest lists, unchanged) is replaced."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from c2stats import report
from tests.safety.conftest import run, snapshot

REPO = Path(__file__).resolve().parents[2]


def test_folder_with_a_foreign_manifest_is_not_replaced(analysis, tmp_path, capsys):
    path = analysis()
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "manifest.json").write_text('{"mine": true}')
    (out / "chapter1.tex").write_text("keep me")
    assert run(path, "--out", out) == 2
    assert "not a c2stats report" in capsys.readouterr().err
    assert (out / "chapter1.tex").read_text() == "keep me"
    assert not (tmp_path / "cache").exists()  # refused before fitting anything


def test_file_added_to_a_report_is_not_deleted(analysis, tmp_path, capsys):
    path = analysis()
    out = tmp_path / "rep"
    assert run(path, "--out", out) == 0
    (out / "notes.txt").write_text("my notes")
    assert run(path, "--out", out) == 2
    err = capsys.readouterr().err
    assert "notes.txt (not written by c2stats)" in err and "--out" in err
    assert (out / "notes.txt").read_text() == "my notes"


def test_edited_report_file_is_not_overwritten(analysis, tmp_path, capsys):
    path = analysis()
    out = tmp_path / "rep"
    assert run(path, "--out", out) == 0
    (out / "tables" / "t1.md").write_text("hand-edited")
    assert run(path, "--out", out) == 2
    assert "tables/t1.md (changed since c2stats wrote it)" in capsys.readouterr().err
    assert (out / "tables" / "t1.md").read_text() == "hand-edited"


def test_unchanged_report_is_replaced_and_empty_folder_accepted(analysis, tmp_path):
    path = analysis()
    out = tmp_path / "rep"
    out.mkdir()
    assert run(path, "--out", out) == 0
    before = snapshot(out)
    assert run(path, "--out", out) == 0
    assert snapshot(out) == before


def test_symlink_inside_a_report_is_refused(analysis, tmp_path):
    path = analysis()
    out = tmp_path / "rep"
    assert run(path, "--out", out) == 0
    (tmp_path / "precious.txt").write_text("x")
    os.symlink(tmp_path / "precious.txt", out / "link.txt")
    assert run(path, "--out", out) == 2
    assert (tmp_path / "precious.txt").read_text() == "x"


def test_out_as_symlink_replaces_its_target_and_keeps_the_link(analysis, tmp_path):
    path = analysis()
    target = tmp_path / "real"
    link = tmp_path / "link"
    os.symlink(target, link)
    assert run(path, "--out", link) == 0
    assert link.is_symlink() and (target / "manifest.json").is_file()
    assert run(path, "--out", link) == 0  # again: the target is replaced, the link still points at it
    assert link.is_symlink() and os.readlink(link) == str(target) and (link / "index.md").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".link", ".real"))]


def test_out_dot_in_a_folder_that_is_not_a_report(analysis, tmp_path, monkeypatch):
    path = analysis()
    work = tmp_path / "work"
    work.mkdir()
    (work / "data.csv").write_text("a\n1\n")
    monkeypatch.chdir(work)
    assert run(path, "--out", ".") == 2
    assert (work / "data.csv").is_file()


def test_published_folder_has_normal_permissions(analysis, tmp_path):
    path = analysis()
    out = tmp_path / "rep"
    old = os.umask(0o022)
    try:
        assert run(path, "--out", out) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


@pytest.mark.parametrize("name", ["example", "main", "robustness"])
def test_committed_reports_are_recognised(name):
    assert report._report_problems(REPO / "reports" / name) == []


def test_concurrent_runs_of_one_analysis_both_succeed(analysis, tmp_path):
    """Two runs publishing one report take turns; neither removes the other's staging folder."""
    path = analysis()
    out = tmp_path / "rep"
    assert run(path, "--out", out) == 0  # fills the cache: the runs below only render
    codes = []
    barrier = threading.Barrier(2)

    import c2stats.pipeline as pipeline

    original = pipeline.write_report_files

    def slow(folder, **kw):
        files = original(folder, **kw)
        try:
            barrier.wait(timeout=2)  # the other run is now inside recover/staging (or waiting for the lock)
        except threading.BrokenBarrierError:
            pass
        assert folder.is_dir(), "another run removed this run's staging folder"
        return files

    pipeline.write_report_files = slow
    try:
        threads = [threading.Thread(target=lambda: codes.append(run(path, "--out", out))) for _ in range(2)]
        [t.start() for t in threads]
        [t.join(60) for t in threads]
    finally:
        pipeline.write_report_files = original
    assert codes == [0, 0]
    assert report._report_problems(out) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rep.")]
