"""The report folder: tables, saved results, ``index.md`` and ``manifest.json``, written atomically.

Everything is rendered into a temporary sibling folder and moved into place only when complete,
so a failed or killed run leaves the previous report untouched. Files hold no wall-clock time and
no absolute paths, so reruns of the same config and data are byte-identical.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import html
import json
import os
import stat
import shutil
import tempfile
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

from . import escape
from .errors import ConfigError, ReportWriteError
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

    _check_distinct(artefacts)
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


def _check_distinct(artefacts: Sequence[Artefact]) -> None:
    """Two artefacts of one kind and id would write the same files, the second silently replacing
    the first (a declared table ``diagnostics``, a grid and a table of one id, ...): refuse."""
    seen: dict[tuple[str, str], Artefact] = {}
    for art in artefacts:
        key = (art.kind, art.id)
        if key in seen:
            first = seen[key]
            raise ConfigError(f"two outputs would be written as {art.kind}s/{art.id}.*: {first.title or first.id!r} "
                              f"({first.section}) and {art.title or art.id!r} ({art.section}); give the declared "
                              "one another id.")
        seen[key] = art


def _provenance_line(cfg, datasets: list[dict]) -> str:
    return (f"Analysis `{cfg.id}` — config hash `{cfg.config_hash[:12]}`; "
            + "; ".join(f"dataset {escape.markdown_code(d['name'])} ({d['rows']:,} rows, sha256 `{d['sha256'][:12]}`)"
                        for d in datasets)
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
    md = escape.markdown  # user text (titles, levels, labels, notes) never acts as Markdown or HTML
    lines = [f"# {md(spec.title)}", ""]
    if spec.description:
        lines += [escape.markdown_line(spec.description), ""]
    lines += [_provenance_line(cfg, datasets), ""]
    section = None
    for art in artefacts:
        if art.section != section:
            section = art.section
            lines += [f"## {md(section)}", ""]
        lines += [f"### {md(art.title or art.id)}", ""]
        if art.caption:
            lines += [escape.markdown_line(art.caption), ""]
        if art.kind == "table":
            lines.append(render_markdown(_untitled(art.table)).rstrip("\n"))
            lines += ["", _files_line(art, "tables"), ""]
        else:
            lines += [f"![{md(art.title or art.id)}]({_preview(art)})", "", _files_line(art, "figures"), ""]
    lines += ["## Models", ""]
    for mid, r in results.items():
        lines.append(f"- {escape.markdown_code(mid)} ({md(r.meta['family'])}): {escape.markdown_code(r.meta['formula'])}, "
                     f"N = {r.glance.get('nobs')}, spec hash `{r.meta['spec_hash'][:12]}`")
        for note in r.meta.get("notes", []):
            lines.append(f"  - note: {md(note)}")
        for w in r.meta.get("warnings", []):
            lines.append(f"  - warning: {md(w)}")
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
# Only a folder c2stats wrote is ever replaced: its manifest lists every other file with its
# SHA-256 (``outputs``), so a folder is recognised as a report when it holds exactly those files,
# unchanged, and nothing else (no extra file, no symbolic link, no special file). A user's file
# dropped into a report, or a folder that merely holds some ``manifest.json``, is refused.
_local = threading.local()  #: ``held``: parent folder -> depth of this thread's hold on its lock


def _report_problems(folder: Path) -> list[str]:
    """Why ``folder`` is not a report c2stats wrote (empty list: it is one, or it is empty)."""
    entries: dict[str, os.stat_result] = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(root) / name
            entries[path.relative_to(folder).as_posix()] = path.lstat()
    if not entries:
        return []
    if MANIFEST not in entries:
        return [f"it has no {MANIFEST}"]
    try:
        if entries[MANIFEST].st_size > 64 * 2**20 or not stat.S_ISREG(entries[MANIFEST].st_mode):
            raise ValueError("too large or not a regular file")
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        listed = {o["path"]: o["sha256"] for o in manifest["outputs"]}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in listed.items()):
            raise ValueError("outputs are not path/sha256 strings")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"its {MANIFEST} is not one c2stats wrote ({type(exc).__name__}: {exc})"]
    problems = []
    dirs = {p.rsplit("/", i)[0] for p in listed for i in range(1, p.count("/") + 1)}
    for rel, st in sorted(entries.items()):
        if rel == MANIFEST:
            continue
        if stat.S_ISDIR(st.st_mode):
            if rel not in dirs:
                problems.append(f"{rel}/ (a folder the manifest does not list)")
        elif not stat.S_ISREG(st.st_mode):
            problems.append(f"{rel} (a symbolic link or special file)")
        elif rel not in listed:
            problems.append(f"{rel} (not written by c2stats)")
        elif _sha(folder / rel) != listed[rel]:
            problems.append(f"{rel} (changed since c2stats wrote it)")
    problems += [f"{rel} (listed in the manifest but missing)" for rel in sorted(set(listed) - set(entries))]
    return problems


def _is_report(folder: Path) -> bool:
    return not _report_problems(folder)


def resolve_out(out: Path) -> Path:
    """The folder a report for ``out`` is published at: a symbolic link is followed to its target
    (which is then replaced in place, so the link stays valid); a dangling link is refused."""
    out = Path(out)
    if out.name in ("", ".", ".."):  # "--out ." names the folder itself, not an entry of its parent
        out = Path(os.path.abspath(out))
    if out.is_symlink():
        target = out.resolve()
        if not target.exists() and not target.parent.is_dir():
            raise ConfigError(f"--out {out} is a symbolic link to {target}, which does not exist; give a real "
                              "folder or fix the link.")
        return target
    return out


@contextmanager
def _locked(parent: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``parent`` (the folder reports are published in) for the block.

    Concurrent runs publishing into one folder take turns: recovery, staging and the two renames
    of one run never interleave with another's, so no run removes a staging folder in use. The lock
    is on the folder itself (no lock file is left behind) and is released when the process dies.
    Re-entrant within one thread; a no-op where ``fcntl`` is missing (Windows).
    """
    key = str(parent.resolve())
    _held = _local.__dict__.setdefault("held", {})
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(key, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def recover(out: Path) -> None:
    """Undo what a killed run may have left: restore a moved-away report, remove stale temporaries."""
    out = resolve_out(out)
    parent = out.parent
    if not parent.is_dir():
        return
    with _locked(parent):
        olds = sorted(parent.glob(f".{out.name}.old-*"))
        if not out.exists() and olds:
            os.replace(olds[-1], out)
            olds = olds[:-1]
        for stale in [*olds, *parent.glob(f".{out.name}.tmp-*")]:
            shutil.rmtree(stale, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A fresh temporary folder beside ``out``; removed if the block fails.

    The block runs under the lock of ``out``'s parent (see :func:`_locked`), after recovering what
    a killed run left; an error writing into it (a full disk, a file-size limit) names ``--out``.
    """
    out = resolve_out(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportWriteError(_write_message(out, exc)) from None
    with _locked(out.parent):
        recover(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        try:
            yield tmp
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.errno in _SPACE_ERRNOS or exc.filename is None or str(exc.filename).startswith(str(tmp)):
                raise ReportWriteError(_write_message(out, exc)) from None
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


_SPACE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _write_message(out: Path, exc: OSError) -> str:
    reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
              errno.EFBIG: "a file exceeds the file-size limit (ulimit -f)",
              errno.EROFS: "the file system is read-only"}.get(exc.errno, exc.strerror or str(exc))
    return (f"--out {out}: cannot write the report there ({reason}); the previous report is untouched. Free "
            "space, raise the limit or choose another folder for --out.")


def check_replaceable(out: Path) -> None:
    """Raise ConfigError unless ``out`` is missing, empty or a report c2stats wrote (see
    :func:`_report_problems`); cheap, so a run can check before it fits anything."""
    out = resolve_out(out)
    if not (out.exists() or out.is_symlink()):
        return
    problems = [] if out.is_dir() and not out.is_symlink() else ["it is not a folder"]
    problems = problems or _report_problems(out)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ConfigError(
            f"refusing to replace {out}: it exists and is not a c2stats report ({shown}); choose another "
            "--out, or move those files away (c2stats only replaces a folder holding exactly the files its "
            f"{MANIFEST} lists)."
        )


def publish(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp`` with two renames (the old report survives until the new one is in place).

    Only an empty folder or a report c2stats wrote (see :func:`_report_problems`) is replaced; the
    published folder gets the permissions of a folder made with the user's umask.
    """
    out = resolve_out(out)
    try:
        check_replaceable(out)
    except ConfigError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    with _locked(out.parent):
        tmp.chmod(0o777 & ~_umask())
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:  # an interrupt or error between the renames: put the old report back
            if old is not None and not out.exists():
                os.replace(old, out)
            raise
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
