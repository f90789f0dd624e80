"""On-disk cache of fits: reruns fit only what changed.

Each fit is stored under ``<cache dir>/fits/<key[:2]>/<key>.json``, keyed by the SHA-256 of

* the model's canonical spec (every key that can change the numbers or the saved Result,
  including its id; not its display ``label``/``labels``/``description`` or ``extends``),
* the resolved dataset reference and the SHA-256 of the data,
* the library versions (:func:`c2stats.families._base.library_versions`, linearmodels) and a hash
  of c2stats' own source files, so editing the package invalidates every entry,
* the cache format.

The cache directory is ``--cache-dir``, else ``$C2STATS_CACHE_DIR``, else ``.c2stats-cache`` in
the working directory (shared with the built dataset variants under ``datasets/``). A cached fit
read back gives a Result whose saved files are byte-identical to a fresh fit's: tidy, glance,
meta and frames are stored as typed JSON (:func:`encode`; floats in round-trip precision, dtypes
kept, checked to decode to the same text before an entry is written), and the few meta entries
outside the key (``config_hash``, ``label``, ``labels`` and those keys of ``model_spec``) are
set from the current model. Fits that failed with a c2stats error (bad specification,
non-convergence) are cached too, so a rerun reports the same failure without refitting; other
exceptions are not. Entries are written atomically (temporary file, then rename).

Reading an entry never runs code: there are no pickles, the decoder builds only plain values,
numpy/pandas data and c2stats' own exception and warning classes. Each entry starts with a header
line holding its key, format and the SHA-256 of its body; an entry whose header names another key,
whose body does not match its hash, that is not a regular file or is larger than
:data:`MAX_ENTRY_BYTES` is a miss with a :class:`~c2stats.errors.CacheWarning` (the model is
fitted again and the entry rewritten). The hash detects corruption and edits by hand; it does not
stop someone who can write to the cache folder from planting a consistent, false entry, so keep
``--cache-dir`` writable only by you (see docs/security.md).
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import json
import os
import stat
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import errors
from .errors import C2StatsError, CacheWarning, CacheWriteError
from .provenance import canonical_json, library_versions, sha256
from .results import Result

CACHE_FORMAT = 2
#: Entries larger than this are not read (a planted or runaway file); the model is refitted.
MAX_ENTRY_BYTES = 512 * 2**20
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
    """A Result as plain objects (``raw`` is dropped)."""
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
        return self.folder / key[:2] / f"{key}.json"

    def load(self, key: str) -> Payload | None:
        """The stored payload of ``key``, or None (missing, or refused with a CacheWarning)."""
        if not self.read:
            return None
        path = self.path(key)
        try:
            blob = _read_regular(path, MAX_ENTRY_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return _refused(path, f"cannot be read as a cache entry ({exc.strerror or exc})")
        head, _, body = blob.partition(b"\n")
        try:
            header = json.loads(head)
            if not isinstance(header, dict):
                raise ValueError("the header is not an object")
        except ValueError:
            return _refused(path, "has no valid header (corrupt, or not written by c2stats)")
        if header.get("format") != CACHE_FORMAT:
            return None  # another version of c2stats wrote it; overwritten by this run
        if header.get("key") != key:
            return _refused(path, "holds the fit of another key (copied or renamed)")
        if header.get("sha256") != hashlib.sha256(body).hexdigest():
            return _refused(path, "does not match its recorded hash (corrupt or edited)")
        try:
            return decode_payload(json.loads(body))
        except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
            return _refused(path, f"cannot be decoded ({type(exc).__name__}: {exc})")

    def store(self, key: str, payload: Payload) -> bool:
        """Store ``payload`` if it is cacheable and writing is on; returns whether it was stored.

        A full disk or a file-size limit raises :class:`CacheWriteError` naming the cache folder.
        """
        if not self.write or not cacheable(payload):
            return False
        try:
            body = encode_payload(payload)
        except Unencodable:  # a value the JSON encoding does not cover exactly: simply not cached
            return False
        header = json.dumps({"format": CACHE_FORMAT, "key": key, "sha256": hashlib.sha256(body).hexdigest()})
        path = self.path(key)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key[:12]}-", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(header.encode() + b"\n" + body)
            os.replace(tmp, path)
        except OSError as exc:
            raise _write_error(self.root, exc) from None
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
        return True

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*/*.json")) if self.folder.is_dir() else 0


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes (a FIFO or device
    planted in the cache would block or never end; a symbolic link is not followed)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(0, "not a regular file")
        if st.st_size > limit:
            raise OSError(0, f"larger than {limit} bytes")
        return fh.read(limit + 1)


def _refused(path: Path, why: str) -> None:
    warnings.warn(f"fit cache entry {path} {why}; the model is fitted again and the entry rewritten.",
                  CacheWarning, stacklevel=3)
    return None


def _write_error(root: Path, exc: OSError) -> CacheWriteError:
    reason = {errno.ENOSPC: "the disk is full", errno.EFBIG: "a file exceeds the file-size limit (ulimit -f)",
              errno.EDQUOT: "the disk quota is exceeded", errno.EROFS: "the file system is read-only"}.get(
        exc.errno or 0, exc.strerror or str(exc))
    return CacheWriteError(f"--cache-dir {root}: cannot store a fit there ({reason}). Free space, choose another "
                           "folder with --cache-dir (or $C2STATS_CACHE_DIR), or run with --no-cache.")


# ----------------------------------------------------------------------------------------------
# The entry encoding: typed JSON, decoded without running code
# ----------------------------------------------------------------------------------------------
class Unencodable(TypeError):
    """A value the cache encoding does not represent exactly (the fit is then not cached)."""


def encode_payload(payload: Payload) -> bytes:
    """The JSON body of an entry; checked to decode to the same text (else :class:`Unencodable`)."""
    tree = {"result": encode(payload.result), "error": encode(payload.error),
            "warnings": [[_class_ref(c, Warning), m] for c, m in payload.warnings]}
    text = json.dumps(tree, sort_keys=True, separators=(",", ":"), allow_nan=True)
    again = decode_payload(json.loads(text))
    retext = json.dumps({"result": encode(again.result), "error": encode(again.error),
                         "warnings": [[_class_ref(c, Warning), m] for c, m in again.warnings]},
                        sort_keys=True, separators=(",", ":"), allow_nan=True)
    if retext != text:
        raise Unencodable("the payload does not survive the JSON encoding unchanged")
    return text.encode("utf-8")


def decode_payload(tree: Any) -> Payload:
    """The payload of a decoded entry body (see :func:`encode_payload`)."""
    if not isinstance(tree, dict):
        raise ValueError("the body is not an object")
    warns = tuple((_class_of(ref, Warning), str(message)) for ref, message in tree["warnings"])
    return Payload(decode(tree["result"]), decode(tree["error"]), warns)


_NUMERIC_KINDS = "biuf"
#: pandas extension dtypes kept by name (``str`` is pandas 3's default for text; missing -> null).
_EXTENSION_DTYPES = ("str", "string", "boolean", "Int64", "Int32", "Float64")


def encode(value: Any) -> Any:
    """A JSON tree for ``value``: plain scalars as themselves, everything else as a tagged list
    (``["L", ...]`` list, ``["T", ...]`` tuple, ``["D", [k, v], ...]`` dict, ``["N", dtype, x]``
    numpy scalar, ``["A", dtype, shape, values]`` array, ``["F", ...]`` data frame, ``["E", ...]``
    a c2stats exception). Anything else raises :class:`Unencodable`."""
    if value is None or isinstance(value, (bool, int, str)) and type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value
    if isinstance(value, np.str_):
        return str(value)
    if isinstance(value, list):
        return ["L", *(encode(v) for v in value)]
    if isinstance(value, tuple) and type(value) is tuple:
        return ["T", *(encode(v) for v in value)]
    if isinstance(value, Mapping):
        return ["D", *([encode(k), encode(v)] for k, v in value.items())]
    if isinstance(value, np.generic) and value.dtype.kind in _NUMERIC_KINDS:
        return ["N", value.dtype.str, value.item()]
    if isinstance(value, np.ndarray) and value.dtype.kind in _NUMERIC_KINDS:
        return ["A", value.dtype.str, list(value.shape), value.ravel().tolist()]
    if isinstance(value, pd.DataFrame):
        return ["F", _encode_index(value.index), [encode(c) for c in value.columns],
                [_encode_column(value.iloc[:, i]) for i in range(value.shape[1])]]
    if isinstance(value, BaseException):
        return ["E", _class_ref(type(value), C2StatsError), encode(list(value.args)), encode(dict(vars(value)))]
    raise Unencodable(f"cannot encode a {type(value).__name__}")


def _encode_index(index) -> Any:
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None:
        return len(index)
    if type(index) is pd.Index:
        return ["I", encode(index.name), _encode_column(pd.Series(index))]
    raise Unencodable(f"cannot encode a {type(index).__name__}")


def _encode_column(col) -> Any:
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return ["C", encode(list(dtype.categories)), bool(dtype.ordered), col.cat.codes.tolist()]
    if isinstance(dtype, np.dtype) and dtype.kind in _NUMERIC_KINDS:
        return ["V", dtype.str, col.to_numpy().tolist()]
    if dtype == object:
        return ["O", *(encode(v) for v in col.tolist())]
    if str(dtype) in _EXTENSION_DTYPES:
        return ["X", str(dtype), [None if pd.isna(v) else encode(v) for v in col.tolist()]]
    raise Unencodable(f"cannot encode a column of dtype {dtype}")


def decode(node: Any) -> Any:
    """The value of a tree written by :func:`encode` (only whitelisted types are built)."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        raise ValueError(f"unexpected node {type(node).__name__}")
    tag, rest = node[0], node[1:]
    if tag == "L":
        return [decode(v) for v in rest]
    if tag == "T":
        return tuple(decode(v) for v in rest)
    if tag == "D":
        return {decode(k): decode(v) for k, v in rest}
    if tag == "N":
        return np.dtype(_numeric_dtype(rest[0])).type(rest[1])
    if tag == "A":
        return np.array(rest[2], dtype=_numeric_dtype(rest[0])).reshape(rest[1])
    if tag == "F":
        index_node, columns, data = rest
        index = pd.RangeIndex(index_node) if isinstance(index_node, int) else _decode_index(index_node)
        cols = [_decode_column(c).set_axis(index) for c in data]
        if len(cols) != len(columns):
            raise ValueError("a frame's columns and names disagree")
        frame = pd.concat(cols, axis=1) if cols else pd.DataFrame(index=index)
        frame.columns = pd.Index([decode(c) for c in columns], dtype=object)
        return frame
    if tag == "E":
        cls = _class_of(rest[0], C2StatsError)
        exc = cls.__new__(cls)
        exc.args = tuple(decode(rest[1]))
        exc.__dict__.update(decode(rest[2]))
        return exc
    raise ValueError(f"unknown tag {tag!r}")


def _numeric_dtype(text: str):
    dtype = np.dtype(str(text))
    if dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"dtype {text!r} is not numeric")
    return dtype


def _decode_index(node):
    if not (isinstance(node, list) and node and node[0] == "I"):
        raise ValueError("bad index")
    return pd.Index(_decode_column(node[2]), name=decode(node[1]))


def _decode_column(node):
    tag = node[0]
    if tag == "V":
        return pd.Series(np.array(node[2], dtype=_numeric_dtype(node[1])))
    if tag == "O":
        return pd.Series([decode(v) for v in node[1:]], dtype=object)
    if tag == "C":
        categories = decode(node[1])
        return pd.Series(pd.Categorical.from_codes(node[3], categories=categories, ordered=bool(node[2])))
    if tag == "X":
        if node[1] not in _EXTENSION_DTYPES:
            raise ValueError(f"dtype {node[1]!r} is not allowed")
        return pd.Series([None if v is None else decode(v) for v in node[2]], dtype=node[1])
    raise ValueError(f"unknown column tag {tag!r}")


def _class_ref(cls: type, base: type) -> str:
    """``module:name`` of an exception or warning class of :mod:`c2stats.errors` (or a built-in warning)."""
    module = cls.__module__
    if not (isinstance(cls, type) and issubclass(cls, base)) or not (
            module == "c2stats.errors" or (module == "builtins" and base is Warning)):
        raise Unencodable(f"{cls!r} is not a {base.__name__} of c2stats.errors")
    return f"{module}:{cls.__qualname__}"


def _class_of(ref: Any, base: type) -> type:
    """The class named by :func:`_class_ref`: looked up in :mod:`c2stats.errors` (or builtins), never imported."""
    module, _, name = str(ref).partition(":")
    source = {"c2stats.errors": errors, "builtins": builtins}.get(module)
    cls = getattr(source, name, None) if source is not None and name.isidentifier() else None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"class {ref!r} is not allowed")
    return cls


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
