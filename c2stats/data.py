"""Datasets: the shipped coded units, the examples, and users' own files.

``dataset = "arrangements"`` (a shipped unit) or ``"lung"`` (an example) loads package data;
anything with a file extension or a '/' is a path relative to the analysis file. Every dataset
carries the SHA-256 of the bytes it was read from, recorded in results and the report manifest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import datasets, limits
from .datasets import UNITS, read_table
from .errors import DataError, suggest

EXAMPLES_DIR = Path(__file__).parent / "examples"
EXAMPLES = {"lung": "lung.csv", "mid": "mid.csv", "leeds_anac_2005": "leeds_anac_2005.csv",
            # published replications (analyses/replications/; provenance in examples/SOURCES.md)
            "villamil_2022_guatemala": "villamil_2022_guatemala.csv",
            "villamil_balcells_2021_vox": "villamil_balcells_2021_vox.csv",
            "enamorado_kosterina_afrobarometer": "enamorado_kosterina_afrobarometer.csv",
            "enamorado_kosterina_public_goods": "enamorado_kosterina_public_goods.csv"}
READERS = {".csv", ".dta", ".parquet", ".xlsx", ".rds", ".gz"}


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset: the frame, a name for messages and its content hash."""

    frame: pd.DataFrame
    name: str
    data_hash: str
    unit: str | None = None


def _units() -> tuple[str, ...]:
    return tuple(UNITS)


def builtin_names() -> list[str]:
    """Names that ``dataset =`` resolves to package data."""
    return sorted([*_units(), *EXAMPLES])


def is_builtin(name: str) -> bool:
    return "/" not in name and "\\" not in name and "." not in name


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:  # streamed: a dataset may be gigabytes
        while chunk := fh.read(2**20):
            h.update(chunk)
    return h.hexdigest()


def read_file(path: Path, label: str, *, value_labels: bool = False) -> pd.DataFrame:
    """Read a user's file by extension; errors name the file and say how to fix it."""
    if not path.exists():
        raise DataError(f"dataset file not found (looked for {path.name} in {path.parent}); check the path, which is "
                        "relative to the analysis file.", source=label)
    if path.is_dir():
        raise DataError("is a directory, not a data file.", source=label)
    fail = lambda m: DataError(f"{m} (size limits: $C2STATS_MAX_DATASET_BYTES, $C2STATS_MAX_DECOMPRESSED_BYTES)"  # noqa: E731
                               if "limit" in m else m, source=label)
    limits.regular_file_size(path, limits.max_dataset_bytes(), fail, "dataset")  # a FIFO would block forever
    limits.check_decompressed(path, fail)
    try:
        if read_table is not None:
            frame = read_table(path, value_labels=value_labels)
        elif path.suffix.lower() in (".csv", ".gz"):
            frame = pd.read_csv(path)
        else:
            raise DataError(f"cannot read {path.suffix!r} files in this installation; use CSV.", source=label)
    except DataError:
        raise
    except UnicodeDecodeError:
        raise DataError("is not UTF-8 text; re-save it as UTF-8 CSV.", source=label) from None
    except pd.errors.EmptyDataError:
        raise DataError("is empty; it needs a header row and at least one data row.", source=label) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"cannot be parsed as CSV ({exc}); check delimiters and quoting.", source=label) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot be read ({exc}).", source=label) from None
    if frame.shape[0] == 0:
        raise DataError("has a header but no rows.", source=label)
    _check_unique_columns(path, frame, label)
    return frame


def _check_unique_columns(path: Path, frame: pd.DataFrame, label: str) -> None:
    """Refuse two columns of one name: pandas renames the second ``x.1`` and a model would silently
    use the first."""
    names = [str(c) for c in frame.columns]
    suffix = path.suffixes[-2].lower() if path.suffix.lower() == ".gz" and len(path.suffixes) > 1 else path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt", ".gz"):
            header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False,
                                 sep="\t" if suffix == ".tsv" else ",")
            names = [str(c) for c in header.iloc[0].tolist()]
        elif suffix == ".xlsx":
            names = [str(c) for c in pd.read_excel(path, header=None, nrows=1).iloc[0].tolist()]
    except (ValueError, OSError, IndexError, pd.errors.ParserError):
        pass  # the frame was read; its own columns are checked below
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"has more than one column named {', '.join(map(repr, dupes))}; a model would silently use "
                        "only one of them. Rename or remove the duplicates.", source=label)


def load_dataset(ref, base: Path | None = None) -> Dataset:
    """Load a dataset reference (a name or a :class:`~c2stats.config.DatasetRef`)."""
    path_text = ref if isinstance(ref, str) else ref.path
    unit = None if isinstance(ref, str) else ref.unit
    if is_builtin(path_text):
        if path_text in EXAMPLES:
            file = EXAMPLES_DIR / EXAMPLES[path_text]
            return Dataset(pd.read_csv(file), path_text, _file_hash(file))
        if path_text in _units():

            built = _variant(ref, base)
            frame = datasets.load_builtin(path_text, built)
            return Dataset(frame, _variant_name(ref), datasets.builtin_hash(path_text, built), path_text)

        raise DataError(f"unknown shipped dataset {path_text!r}{suggest(path_text, builtin_names())}; for a file, "
                        "give its path with its extension (e.g. data/my_arrangements.csv).")
    path = (base or Path.cwd()) / path_text
    label = path_text
    frame = read_file(path, label, value_labels=getattr(ref, "value_labels", False))
    if unit is not None:

        try:
            frame = datasets.validate(frame, unit, source=label)
        except DataError as exc:
            if not exc.where:
                raise
            # the column is part of what went wrong: keep it in the message, whoever re-labels the source
            raise DataError(f"{exc.where}: {exc.message}", source=exc.source) from None
    return Dataset(frame, label, _file_hash(path), unit)


def _variant(ref, base: Path | None) -> Path | None:
    """Folder of a non-default build (coding, window, direction), or None for the shipped files."""
    if isinstance(ref, str) or (ref.coding is None and ref.window is None and not ref.directed
                                and ref.follow_up_end is None):
        return None

    coding = ref.coding
    if coding is not None and (coding.endswith(".toml") or "/" in coding):
        coding = (base or Path.cwd()) / coding
        if not coding.exists():
            raise DataError(f"coding file {ref.coding!r} not found (paths are relative to the analysis file).",
                            where="dataset.coding")
    return datasets.variant_folder(coding, ref.window, ref.directed, follow_up_end=ref.follow_up_end)


def _variant_name(ref) -> str:
    if isinstance(ref, str):
        return ref
    parts = [f"coding={ref.coding}"] if ref.coding else []
    if ref.window:
        parts.append(f"window={ref.window[0]}-{ref.window[1]}")
    if ref.directed:
        parts.append("directed")
    if ref.follow_up_end is not None:
        parts.append(f"follow-up to {ref.follow_up_end}")
    return f"{ref.path}[{', '.join(parts)}]" if parts else ref.path


def frame_hash(frame: pd.DataFrame) -> str:
    """Content hash of an in-memory frame (for ``c2stats.fit`` on a DataFrame)."""
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()
