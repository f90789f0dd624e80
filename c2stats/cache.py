"""On-disk cache of fits: reruns fit only what changed.

Each fit is stored under ``<cache dir>/fits/<key[:2]>/<key>.pkl``, keyed by the SHA-256 of

* the model's canonical spec (every key that can change the numbers or the saved Result,
  including its id; not its display ``label``/``labels``/``description`` or ``extends``),
* the resolved dataset reference and the SHA-256 of the data,
* the library versions (:func:`c2stats.families._base.library_versions`, linearmodels) and a hash
  of c2stats' own source files, so editing the package invalidates every entry,
* the cache format.

The cache directory is ``--cache-dir``, else ``$C2STATS_CACHE_DIR``, else ``.c2stats-cache`` in
the working directory (shared with the built dataset variants under ``datasets/``). A cached fit
read back gives a Result whose saved files are byte-identical to a fresh fit's: tidy, glance,
meta and frames are stored as pickled pandas/Python objects (exact), and the few meta entries
outside the key (``config_hash``, ``label``, ``labels`` and those keys of ``model_spec``) are
set from the current model. Fits that failed with a c2stats error (bad specification,
non-convergence) are cached too, so a rerun reports the same failure without refitting; other
exceptions are not. Entries are written atomically (temporary file, then rename); an unreadable
entry counts as a miss.

The cache holds pickles: only point ``--cache-dir`` at folders you trust.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import C2StatsError
from .provenance import canonical_json, library_versions, sha256
from .results import Result

CACHE_FORMAT = 1
#: Model keys that only label the fit; they are left out of the key and refreshed on read.
DISPLAY_KEYS = ("label", "labels", "description", "extends")


def default_cache_dir() -> Path:
    """``$C2STATS_CACHE_DIR`` or ``.c2stats-cache`` (relative to the working directory)."""
    return Path(os.environ.get("C2STATS_CACHE_DIR") or ".c2stats-cache")


@lru_cache(maxsize=1)
def code_hash() -> str:
    """SHA-256 of c2stats' Python sources (paths and bytes), so code changes invalidate the cache."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@lru_cache(maxsize=1)
def environment() -> dict[str, str]:
    """What besides spec and data determines a fit: library versions, c2stats' code, cache format."""
    env = dict(library_versions())
    try:
        import linearmodels

        env["linearmodels"] = linearmodels.__version__
    except ImportError:  # pragma: no cover - a hard dependency
        pass
    env["c2stats_code"] = code_hash()
    env["cache_format"] = str(CACHE_FORMAT)
    return env


def fit_key(model, dataset_ref: Any, data_hash: str | None) -> str:
    """The cache key of fitting ``model`` (a validated ModelSpec) on the referenced data."""
    body = model.model_dump(mode="json")
    for key in DISPLAY_KEYS:
        body.pop(key, None)
    return sha256(canonical_json({"model": body, "dataset": dataset_ref, "data": data_hash, "env": environment()}))


@dataclass(frozen=True)
class Payload:
    """A fit in transportable form: a Result without its backend object, or the error it raised.

    ``warnings`` are the (category, message) pairs the fit emitted, re-emitted for main models.
    """

    result: dict[str, Any] | None
    error: BaseException | None = None
    warnings: tuple[tuple[type, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


def to_payload(result, warnings: tuple = ()) -> Payload:
    """A Result as plain objects (pickle-able; ``raw`` is dropped)."""
    return Payload({"tidy": result.tidy, "glance": dict(result.glance), "meta": dict(result.meta),
                    "frames": dict(result.frames)}, None, tuple(warnings))


def to_result(payload: Payload, model=None, config_hash: str | None = None):
    """The Result of a payload; with ``model``, refresh the display keys and ``config_hash`` from it."""
    data = payload.result
    meta = dict(data["meta"])
    if model is not None:
        meta["config_hash"] = config_hash
        if "label" in meta:
            meta["label"] = model.label or model.id
        if "labels" in meta:
            meta["labels"] = dict(model.labels)
        if isinstance(meta.get("model_spec"), Mapping):
            current = model.model_dump(mode="json")
            meta["model_spec"] = {**meta["model_spec"], **{k: current.get(k) for k in DISPLAY_KEYS
                                                           if k in meta["model_spec"]}}
    # Result copies tidy; payloads are not shared, so the frames need no copy
    return Result(tidy=data["tidy"], glance=dict(data["glance"]), meta=meta, frames=dict(data["frames"]))


def cacheable(payload: Payload) -> bool:
    """Successes and c2stats' own (deterministic) errors are cached; unexpected exceptions are not."""
    return payload.error is None or isinstance(payload.error, C2StatsError)


class FitCache:
    """Fits on disk, keyed by :func:`fit_key`.

    Parameters
    ----------
    root
        The cache directory (default :func:`default_cache_dir`); fits go in ``root/fits``.
    read, write
        Whether to use stored fits and to store new ones (``--check`` reads only).
    """

    def __init__(self, root: str | Path | None = None, *, read: bool = True, write: bool = True):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.folder = self.root / "fits"
        self.read = read
        self.write = write

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.pkl"

    def load(self, key: str) -> Payload | None:
        """The stored payload of ``key``, or None (missing, unreadable or from another format)."""
        if not self.read:
            return None
        path = self.path(key)
        try:
            with open(path, "rb") as fh:
                stored = pickle.load(fh)
        except FileNotFoundError:
            return None
        except Exception:  # noqa: BLE001 - a corrupt or foreign entry is a miss; it is overwritten
            return None
        if not isinstance(stored, dict) or stored.get("key") != key or stored.get("format") != CACHE_FORMAT:
            return None
        return stored["payload"]

    def store(self, key: str, payload: Payload) -> bool:
        """Store ``payload`` if it is cacheable and writing is on; returns whether it was stored."""
        if not self.write or not cacheable(payload):
            return False
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = pickle.dumps({"format": CACHE_FORMAT, "key": key, "payload": payload}, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled is simply not cached
            return False
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:12]}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return True

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*/*.pkl")) if self.folder.is_dir() else 0


class LazyResults(Mapping):
    """Model id -> Result, each built from its payload on first access (a grid's thousand Results
    are not built unless asked for). :meth:`views` reads tidy/glance/meta without building."""

    def __init__(self, entries: Mapping[str, tuple[Payload, Any]], config_hash: str | None):
        self._entries = dict(entries)
        self._config_hash = config_hash
        self._built: dict[str, Any] = {}

    def __getitem__(self, key: str):
        if key not in self._built:
            payload, model = self._entries[key]
            self._built[key] = to_result(payload, model, self._config_hash)
        return self._built[key]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def views(self) -> dict[str, Any]:
        """Id -> an object with the payload's ``tidy``, ``glance`` and ``meta`` (read-only use)."""
        from types import SimpleNamespace

        return {k: SimpleNamespace(tidy=p.result["tidy"], glance=p.result["glance"], meta=p.result["meta"])
                for k, (p, _) in self._entries.items()}
