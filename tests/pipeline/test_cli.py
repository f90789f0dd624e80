"""The command line end to end: exit codes, clear errors without tracebacks, atomic byte-identical reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from c2stats.cli import main

REPO = Path(__file__).resolve().parents[2]

LOGIT = """
[analysis]
id = "cli"
title = "CLI test"
dataset = "mid"

[[models]]
id = "logit_a"
family = "logit"
formula = "conflict ~ major + contig + power"
vcov = "HC1"

[[tables]]
id = "t1"
models = ["logit_a"]
formats = ["md", "tex"]
"""


def run_cli(*args, cwd=None):
    """Run the real console entry point in a subprocess (what a user sees)."""
    return subprocess.run([sys.executable, "-m", "c2stats", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or REPO, env={**os.environ, "MPLBACKEND": "Agg"})


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_validate_misspelt_key_exit_2_one_clear_message(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(LOGIT.replace('formula = "conflict', 'formla = "conflict'))
    proc = run_cli("validate", path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert str(path) in lines[0] and "formla" in lines[0] and "did you mean 'formula'?" in lines[0]


def test_run_writes_report_and_rerun_is_byte_identical(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text(LOGIT)
    out = tmp_path / "report"
    assert main(["run", str(path), "--out", str(out)]) == 0
    first = snapshot(out)
    assert {"index.md", "manifest.json", "tables/t1.md", "tables/t1.tex", "results/logit_a/tidy.csv"} <= set(first)
    manifest = json.loads(first["manifest.json"])
    assert manifest["analysis"]["files"][0]["path"] == "a.toml"
    assert manifest["models"][0]["nobs"] == 3126
    assert str(tmp_path) not in first["manifest.json"].decode()
    assert main(["run", str(path), "--out", str(out)]) == 0
    assert snapshot(out) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml", "report"]  # no temporaries left


def test_failed_run_leaves_previous_report_untouched(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text(LOGIT)
    out = tmp_path / "report"
    assert main(["run", str(path), "--out", str(out)]) == 0
    before = snapshot(out)
    path.write_text(LOGIT.replace("major + contig", "major + contigg"))
    proc = run_cli("run", path, "--out", out)
    assert proc.returncode == 2 and "contigg" in proc.stderr and "did you mean 'contig'?" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml", "report"]


def test_check_detects_stale_report(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text(LOGIT)
    out = tmp_path / "report"
    assert main(["run", str(path), "--out", str(out)]) == 0
    assert main(["run", str(path), "--out", str(out), "--check"]) == 0
    path.write_text(LOGIT.replace('vcov = "HC1"', 'vcov = "HC0"'))
    proc = run_cli("run", path, "--out", out, "--check")
    assert proc.returncode == 1 and "tables/t1.md (differs)" in proc.stderr
    assert main(["run", str(path), "--out", str(out)]) == 0
    assert main(["run", str(path), "--out", str(out), "--check"]) == 0


def test_refuses_to_replace_a_folder_that_is_not_a_report(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text(LOGIT)
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("keep me")
    proc = run_cli("run", path, "--out", precious)
    assert proc.returncode == 2 and "not a c2stats report" in proc.stderr
    assert (precious / "chapter1.tex").read_text() == "keep me"


def test_schema_command_prints_json():
    proc = run_cli("schema")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["title"] == "c2stats analysis file"


@pytest.mark.parametrize("args", [["run", "does/not/exist.toml"], ["validate", "nope.toml"]])
def test_missing_file_is_bad_input(args):
    proc = run_cli(*args)
    assert proc.returncode == 2 and "file not found" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("argv, message", [
    (["data", "build", "--window", "2000", "1990"], "--window 2000 1990: give FIRST <= LAST"),
    (["data", "build", "--window", "1990", "2000"], "give --dest FOLDER"),
    (["data", "build", "--coding", "provisions_only"], "give --dest FOLDER"),
    (["data", "build", "--directed"], "give --dest FOLDER"),
])
def test_data_build_variants_never_overwrite_the_shipped_files(capsys, argv, message):
    from c2stats.cli import main
    from c2stats.datasets import BUILT_DIR

    before = {p.name: p.read_bytes() for p in BUILT_DIR.iterdir()}
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in BUILT_DIR.iterdir()} == before


def test_data_build_window_and_direction(tmp_path, capsys):
    import gzip

    from c2stats.cli import main

    assert main(["data", "build", "--window", "1995", "1996", "--directed", "--dest", str(tmp_path)]) == 0
    with gzip.open(tmp_path / "dyad_years.csv.gz", "rt") as fh:
        header = fh.readline().strip().split(",")
        rows = [line.split(",") for line in fh]
    years = {r[header.index("year")] for r in rows}
    assert years == {"1995", "1996"}
    pairs = {(r[0], r[1], r[2]) for r in rows}
    assert all((b, a, y) in pairs for a, b, y in list(pairs)[:200])
