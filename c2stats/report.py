"""The report folder: tables, saved results, ``index.md`` and ``manifest.json``, written atomically.

Everything is rendered into a temporary sibling folder and moved into place only when complete,
so a failed or killed run leaves the previous report untouched. Files hold no wall-clock time and
no absolute paths, so reruns of the same config and data are byte-identical.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

from .errors import ConfigError
from .figures import save_figure
from .results import Result, dump_json, save_result
from .tables import RENDERERS, TableModel, render_markdown

MANIFEST = "manifest.json"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Artefact:
    """One table or figure of the report, in the order the index shows them."""

    kind: Literal["table", "figure"]
    id: str
    title: str
    section: str  #: heading it is listed under in the index (e.g. "Tables", "Hypotheses")
    formats: tuple[str, ...]
    table: TableModel | None = None
    figure: Any = None  #: a matplotlib Figure (closed after saving)
    caption: str = ""


def write_report_files(folder: Path, *, cfg, results: dict[str, Result], artefacts: Sequence[Artefact],
                       datasets: list[dict], versions: dict[str, str], summary: dict | None = None) -> list[str]:
    """Render every artefact into ``folder`` (which must be empty); return the relative paths written."""

    def write(rel: str, content: str | bytes) -> None:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="\n")

    for art in artefacts:
        if art.kind == "table":
            for fmt in art.formats:
                write(f"tables/{art.id}.{fmt}", RENDERERS[fmt](art.table))
        else:

            import matplotlib.pyplot as plt

            for fmt in art.formats:
                path = folder / "figures" / f"{art.id}.{fmt}"
                path.parent.mkdir(parents=True, exist_ok=True)
                save_figure(art.figure, path, fmt)
            plt.close(art.figure)
    for model_id, result in results.items():
        save_result(result, folder / "results" / model_id)
    write("index.md", _index_markdown(cfg, results, artefacts, datasets))
    write("index.html", _index_html(cfg, results, artefacts, datasets))
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
                "notes": list(r.meta.get("notes", [])),
            }
            for mid, r in results.items()
        ],
        **(summary or {}),
        "outputs": [{"path": rel, "sha256": _sha(folder / rel)} for rel in written],
    }
    write(MANIFEST, dump_json(manifest))
    return sorted([*written, MANIFEST])


def _provenance_line(cfg, datasets: list[dict]) -> str:
    return (f"Analysis `{cfg.id}` — config hash `{cfg.config_hash[:12]}`; "
            + "; ".join(f"dataset `{d['name']}` ({d['rows']:,} rows, sha256 `{d['sha256'][:12]}`)" for d in datasets)
            + ". Full provenance in `manifest.json`.")


def _untitled(model: TableModel) -> TableModel:
    return dataclasses.replace(model, title="")


def _preview(art: Artefact) -> str:
    """The figure file the indexes show (PNG when there is one)."""
    return f"figures/{art.id}.{'png' if 'png' in art.formats else art.formats[0]}"


def _files_line(art: Artefact, folder: str) -> str:
    return "Files: " + ", ".join(f"[{fmt}]({folder}/{art.id}.{fmt})" for fmt in art.formats)


def _index_markdown(cfg, results: dict[str, Result], artefacts: Sequence[Artefact], datasets: list[dict]) -> str:
    spec = cfg.spec.analysis
    lines = [f"# {spec.title}", ""]
    if spec.description:
        lines += [spec.description, ""]
    lines += [_provenance_line(cfg, datasets), ""]
    section = None
    for art in artefacts:
        if art.section != section:
            section = art.section
            lines += [f"## {section}", ""]
        lines += [f"### {art.title or art.id}", ""]
        if art.caption:
            lines += [art.caption, ""]
        if art.kind == "table":
            lines.append(render_markdown(_untitled(art.table)).rstrip("\n"))
            lines += ["", _files_line(art, "tables"), ""]
        else:
            lines += [f"![{art.title or art.id}]({_preview(art)})", "", _files_line(art, "figures"), ""]
    lines += ["## Models", ""]
    for mid, r in results.items():
        lines.append(f"- `{mid}` ({r.meta['family']}): `{r.meta['formula']}`, N = {r.glance.get('nobs')}, "
                     f"spec hash `{r.meta['spec_hash'][:12]}`")
        for note in r.meta.get("notes", []):
            lines.append(f"  - note: {note}")
        for w in r.meta.get("warnings", []):
            lines.append(f"  - warning: {w}")
    return "\n".join(lines) + "\n"


def _index_html(cfg, results: dict[str, Result], artefacts: Sequence[Artefact], datasets: list[dict]) -> str:
    esc = html.escape
    spec = cfg.spec.analysis
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{esc(spec.title)}</title>",
             "<style>body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{padding:.2em .6em}"
             "thead th{border-bottom:1px solid #000}tfoot td{font-size:.85em}img{max-width:100%}"
             "code{background:#f4f4f4}</style>", "</head>", "<body>", f"<h1>{esc(spec.title)}</h1>"]
    if spec.description:
        parts.append(f"<p>{esc(spec.description)}</p>")
    parts.append(f"<p>{esc(_provenance_line(cfg, datasets).replace('`', ''))}</p>")
    section = None
    for art in artefacts:
        if art.section != section:
            section = art.section
            parts.append(f"<h2>{esc(section)}</h2>")
        parts.append(f'<section id="{esc(art.id)}"><h3>{esc(art.title or art.id)}</h3>')
        if art.caption:
            parts.append(f"<p>{esc(art.caption)}</p>")
        folder = "tables" if art.kind == "table" else "figures"
        if art.kind == "table":
            parts.append(RENDERERS["html"](_untitled(art.table)).rstrip("\n"))
        else:
            parts.append(f'<img src="{esc(_preview(art))}" alt="{esc(art.title or art.id)}">')
        links = ", ".join(f'<a href="{folder}/{esc(art.id)}.{fmt}">{fmt}</a>' for fmt in art.formats)
        parts.append(f"<p>Files: {links}</p></section>")
    parts.append("<h2>Models</h2><ul>")
    for mid, r in results.items():
        items = "".join(f"<li>note: {esc(n)}</li>" for n in r.meta.get("notes", []))
        items += "".join(f"<li>warning: {esc(w)}</li>" for w in r.meta.get("warnings", []))
        parts.append(f"<li><code>{esc(mid)}</code> ({esc(r.meta['family'])}): <code>{esc(r.meta['formula'])}</code>, "
                     f"N = {r.glance.get('nobs')}, spec hash <code>{r.meta['spec_hash'][:12]}</code>"
                     + (f"<ul>{items}</ul>" if items else "") + "</li>")
    parts += ["</ul>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


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
