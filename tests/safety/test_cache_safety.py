"""The fit cache never runs code and never passes off an edited entry as a fit."""

from __future__ import annotations

import errno
import json
import os
import pickle
import threading
from pathlib import Path

import pytest

from c2stats import cache as cache_module
from tests.safety.conftest import run


class Planted:
    """A pickle that, when loaded, creates a marker file (stands for arbitrary code)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def entries(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "cache" / "fits").glob("*/*") if p.is_file())


def test_planted_pickle_is_never_loaded(analysis, tmp_path, capsys):
    path = analysis()
    assert run(path, "--out", tmp_path / "r") == 0
    marker = tmp_path / "pwned"
    for entry in entries(tmp_path):
        entry.write_bytes(pickle.dumps({"format": 1, "key": entry.stem, "payload": Planted(str(marker))}))
    assert run(path, "--out", tmp_path / "r") == 0
    assert not marker.exists()
    assert "has no valid header" in capsys.readouterr().err


def test_edited_entry_is_refitted_with_a_warning(analysis, tmp_path, capsys):
    path = analysis()
    assert run(path, "--out", tmp_path / "r") == 0
    fitted = (tmp_path / "r" / "tables" / "t1.md").read_text()
    [entry] = entries(tmp_path)
    head, body = entry.read_bytes().split(b"\n", 1)
    tree = json.loads(body)
    tidy = tree["result"][1 + 2 * 0]  # ["D", ["tidy", frame], ...]
    assert tidy[0] == "tidy"
    estimate = tidy[1][3][2]  # the estimate column of the tidy frame: ["V", dtype, values]
    assert estimate[0] == "V"
    estimate[2] = [v * 100 for v in estimate[2]]
    entry.write_bytes(head + b"\n" + json.dumps(tree).encode())
    assert run(path, "--out", tmp_path / "r") == 0
    assert "does not match its recorded hash" in capsys.readouterr().err
    assert (tmp_path / "r" / "tables" / "t1.md").read_text() == fitted


def test_consistent_entry_naming_a_foreign_class_is_refused(analysis, tmp_path, capsys):
    """Even with a matching hash, the decoder builds only c2stats' exception classes."""
    path = analysis()
    assert run(path, "--out", tmp_path / "r") == 0
    [entry] = entries(tmp_path)
    header = json.loads(entry.read_bytes().split(b"\n", 1)[0])
    body = json.dumps({"result": None, "error": ["E", "os:system", ["L", "touch pwned"], ["D"]],
                       "warnings": []}).encode()
    header["sha256"] = __import__("hashlib").sha256(body).hexdigest()
    entry.write_bytes(json.dumps(header).encode() + b"\n" + body)
    assert run(path, "--out", tmp_path / "r") == 0
    assert "is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "pwned").exists()


def test_fifo_planted_as_an_entry_does_not_block(analysis, tmp_path, capsys):
    path = analysis()
    assert run(path, "--out", tmp_path / "r") == 0
    [entry] = entries(tmp_path)
    entry.unlink()
    os.mkfifo(entry)
    codes = []
    worker = threading.Thread(target=lambda: codes.append(run(path, "--out", tmp_path / "r")), daemon=True)
    worker.start()
    worker.join(30)
    if worker.is_alive():  # unblock the reader so the test process can exit
        with open(entry, "wb"):
            pass
        pytest.fail("reading a FIFO in the cache blocked the run")
    assert codes == [0] and "not a regular file" in capsys.readouterr().err


def test_full_disk_while_caching_names_the_cache_option(analysis, tmp_path, monkeypatch, capsys):
    path = analysis()
    real = os.replace

    def full(src, dst, *a, **kw):
        if "fits" in str(dst):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(cache_module.os, "replace", full)
    assert run(path, "--out", tmp_path / "r", "--cache-dir", tmp_path / "c") == 2
    err = capsys.readouterr().err
    assert "--cache-dir" in err and "disk is full" in err and "Traceback" not in err


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, float("nan"), None, "x"], "t": (1, "b"), "n": __import__("numpy").int64(3)},
    [__import__("numpy").float32(0.1), __import__("numpy").array([[1.0, 2.0]]), True],
])
def test_encoding_round_trips_exactly(value):
    text = json.dumps(cache_module.encode(value), allow_nan=True)
    back = cache_module.decode(json.loads(text))
    assert json.dumps(cache_module.encode(back), allow_nan=True) == text
    assert type(back) is type(value)
