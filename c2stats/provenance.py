"""Provenance: stable hashes of configs and data, and the library versions stamped on every output."""

from __future__ import annotations

import hashlib
import json
import platform
from typing import Any

from ._version import __version__


def canonical_json(obj: Any) -> str:
    """Stable JSON (sorted keys, no whitespace) used for every hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def sha256(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def library_versions() -> dict[str, str]:
    """Versions that determine the numbers (recorded in every result and report)."""
    import numpy
    import pandas
    import scipy
    import statsmodels

    return {
        "c2stats": __version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "python": platform.python_version(),
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
    }
