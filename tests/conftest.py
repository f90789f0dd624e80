"""Shared fixtures: reference values from R (tests/reference) and a scratch analysis folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

REFERENCE = Path(__file__).parent / "reference"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def golden() -> dict:
    """R reference values (see tests/reference/PROVENANCE.md)."""
    return json.loads((REFERENCE / "golden.json").read_text())["cases"]


def reference_data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / name)


@pytest.fixture
def write_toml(tmp_path):
    """Write a TOML file into a scratch folder and return its path."""

    def write(text: str, name: str = "analysis.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
