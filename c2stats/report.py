"""The report folder: tables, saved results, ``index.md`` and ``manifest.json``, written atomically.

Everything is rendered into a temporary sibling folder and moved into place only when complete,
so a failed or killed run leaves the previous report untouched. Files hold no wall-clock time and
no absolute paths, so reruns of the same config and data are byte-identical.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import ConfigError
from .results import Result, dump_json, save_result
from .tables import RENDERERS, TableModel, render_markdown

MANIFEST = "manifest.json"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_report_files(folder: Path, *, cfg, results: dict[str, Result], tables: dict[str, tuple[TableModel, list[str]]],
                       datasets: list[dict], versions: dict[str, str]) -> list[str]:
    """Render every artefact into ``folder`` (which must be empty); return the relative paths written."""
    written: list[str] = []

    def write(rel: str, content: str | bytes) -> None:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="\n")

    for table_id, (model, formats) in tables.items():
        for fmt in formats:
            renderer = RENDERERS.get(fmt)
            if renderer is None:
                continue  # formats of later issues (html, csv, docx) are skipped until implemented
            write(f"tables/{table_id}.{fmt}", renderer(model))
    for model_id, result in results.items():
        save_result(result, folder / "results" / model_id)
    write("index.md", _index_markdown(cfg, results, tables, datasets))
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    manifest = {
        "analysis": {
            "id": cfg.id,
            "title": cfg.spec.analysis.title,
            "config_hash": cfg.config_hash,
            "files": [
                {"path": os.path.relpath(f, cfg.path.resolve().parent).replace(os.sep, "/"), "sha256": _sha(f)}
                for f in cfg.files
            ],
        },
        "datasets": datasets,
        "versions": versions,
        "models": [
            {
                "id": mid,
                "family": r.meta["family"],
                "spec_hash": r.meta["spec_hash"],
                "data_hash": r.meta["data_hash"],
                "nobs": r.glance.get("nobs"),
                "n_events": r.glance.get("n_events"),
                "converged": r.glance.get("converged"),
                "warnings": list(r.meta.get("warnings", [])),
            }
            for mid, r in results.items()
        ],
        "outputs": [{"path": rel, "sha256": _sha(folder / rel)} for rel in written],
    }
    write(MANIFEST, dump_json(manifest))
    return sorted([*written, MANIFEST])


def _index_markdown(cfg, results: dict[str, Result], tables, datasets: list[dict]) -> str:
    spec = cfg.spec.analysis
    lines = [f"# {spec.title}", ""]
    if spec.description:
        lines += [spec.description, ""]
    lines += [
        f"Analysis `{cfg.id}` — config hash `{cfg.config_hash[:12]}`; "
        + "; ".join(f"dataset `{d['name']}` ({d['rows']:,} rows, sha256 `{d['sha256'][:12]}`)" for d in datasets)
        + ". Full provenance in `manifest.json`.",
        "",
    ]
    for table_id, (model, formats) in tables.items():
        lines.append(f"## Table `{table_id}`" + (f": {model.title}" if model.title else ""))
        lines.append("")
        shown = model if not model.title else TableModel(model.id, "", model.columns, model.rows, model.notes)
        lines.append(render_markdown(shown).rstrip("\n"))
        links = ", ".join(f"[{fmt}](tables/{table_id}.{fmt})" for fmt in formats if fmt in RENDERERS)
        lines += ["", f"Files: {links}", ""]
    lines += ["## Models", ""]
    for mid, r in results.items():
        lines.append(f"- `{mid}` ({r.meta['family']}): `{r.meta['formula']}`, N = {r.glance.get('nobs')}, "
                     f"spec hash `{r.meta['spec_hash'][:12]}`")
        for w in r.meta.get("warnings", []):
            lines.append(f"  - warning: {w}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# Atomic publication
# ----------------------------------------------------------------------------------------------
def _is_report(folder: Path) -> bool:
    return (folder / MANIFEST).is_file() or not any(folder.iterdir())


def recover(out: Path) -> None:
    """Undo what a killed run may have left: restore a moved-away report, remove stale temporaries."""
    parent = out.parent
    if not parent.is_dir():
        return
    olds = sorted(parent.glob(f".{out.name}.old-*"))
    if not out.exists() and olds:
        os.replace(olds[-1], out)
        olds = olds[:-1]
    for stale in [*olds, *parent.glob(f".{out.name}.tmp-*")]:
        shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A fresh temporary folder beside ``out``; removed if the block fails."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def publish(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp`` with two renames (the old report survives until the new one is in place)."""
    if out.exists() and (not out.is_dir() or not _is_report(out)):
        shutil.rmtree(tmp, ignore_errors=True)
        raise ConfigError(
            f"refusing to replace {out}: it exists and is not a c2stats report (no {MANIFEST}); choose another --out."
        )
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def compare_folders(expected: Path, actual: Path) -> list[str]:
    """Relative paths that differ between two report folders (missing, extra or changed)."""
    def files(folder: Path) -> dict[str, Path]:
        if not folder.is_dir():
            return {}
        return {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}

    a, b = files(expected), files(actual)
    out = []
    for rel in sorted(set(a) | set(b)):
        if rel not in a:
            out.append(f"{rel} (missing from the committed report)")
        elif rel not in b:
            out.append(f"{rel} (no longer produced)")
        elif a[rel].read_bytes() != b[rel].read_bytes():
            out.append(f"{rel} (differs)")
    return out
