"""Command line: ``c2stats run | validate | schema | data``.

Exit status: 0 success; 2 bad input (the message names the file, key or column and the fix; no
traceback), including a full disk or file-size limit under ``--out`` or ``--cache-dir``; 1 a failed
``--check``; 3 an internal error (a bug: the message says so and where to report it); 130 after
Ctrl-C and 143 after SIGTERM (fits stopped, the previous report untouched).
"""

from __future__ import annotations

import argparse
import errno
import json
import signal
import sys
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

from . import datasets
from . import describe
from .config import DatasetRef, json_schema, load_analysis
from .data import load_dataset
from .datasets.coding import load_coding
from .datasets.measurement import drop_one_table, item_table
from .errors import C2StatsWarning, UserInputError
from .pipeline import run
from .robustness import grid_model_ids
from .spec import suggest

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
BUG_HINT = ("this is a bug in c2stats, not in your input; please report it on the c2stats issue tracker with the "
            "command you ran and this message")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="c2stats", description="Declared model specifications in, R-verified tables out.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="fit every model of an analysis file and write its report")
    run.add_argument("file", type=Path, help="analysis file (TOML), e.g. analyses/example.toml")
    run.add_argument("--out", type=Path, default=None, help="report folder (default: reports/<analysis id>)")
    run.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 listing the files if the existing report is out of date")
    run.add_argument("--jobs", "-j", type=_positive_int, default=None, metavar="N",
                     help="worker processes (default: the usable cores)")
    run.add_argument("--executor", choices=("serial", "process", "dask"), default=None,
                     help="where fits run: serial, process (default: a local process pool) or dask "
                          "(needs the 'parallel' extra); results are identical")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="address of a Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --executor dask; "
                          "default with dask: a local cluster of --jobs workers)")
    run.add_argument("--no-cache", action="store_true", help="fit every model again; do not read or write the cache")
    run.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                     help="cache of fits (default: $C2STATS_CACHE_DIR or .c2stats-cache)")
    val = sub.add_parser("validate", help="check an analysis file without fitting anything")
    val.add_argument("file", type=Path)
    sch = sub.add_parser("schema", help="print the JSON Schema of analysis files")
    sch.add_argument("--out", type=Path, default=None, help="write to this file instead of standard output")
    data = sub.add_parser("data", help="the coded dataset: build or describe")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    build = dsub.add_parser("build", help="rebuild the shipped dataset from its vendored sources")
    build.add_argument("--dest", type=Path, default=None, help="output folder (default: the package's built data)")
    build.add_argument("--coding", default=None,
                       help="C2 coding: a shipped name (default, provisions_only) or a .toml file (default: default)")
    build.add_argument("--window", type=int, nargs=2, metavar=("FIRST", "LAST"), default=None,
                       help="first and last year of arrangement_years and dyad_years (default 1980 2010)")
    build.add_argument("--directed", action="store_true", help="dyad_years in both directions of every dyad")
    build.add_argument("--follow-up-end", type=int, default=None, metavar="YEAR",
                       help="last year arrangements of either form are followed (default 2010, end of DCAD; "
                            "2018 follows formal ones to the end of ATOP)")
    meas = dsub.add_parser("measurement", help="C2 measurement check: item descriptives by form, drop-one-item")
    meas.add_argument("--coding", default=None, help="C2 coding to check (default: default)")
    meas.add_argument("--out", type=Path, default=None, help="folder for c2_items.csv and c2_drop_one.csv")
    desc = dsub.add_parser("describe", help="summarise a dataset (a shipped unit name or a file)")
    desc.add_argument("dataset", help="e.g. arrangements, or path/to/file.csv")
    desc.add_argument("--unit", default=None, help="check the file against this unit's schema")
    desc.add_argument("--value-labels", action="store_true",
                      help="Stata files: show labelled columns as their value labels, not their codes")
    desc.add_argument("--max-levels", type=_positive_int, default=10, metavar="N",
                      help="frequency tables for columns with at most N distinct values (default 10)")
    return p


def _cmd_run(args) -> int:

    summary = run(args.file, out=args.out, check=args.check, executor=args.executor, jobs=args.jobs,
                  scheduler=args.scheduler, cache=not args.no_cache, cache_dir=args.cache_dir,
                  progress=sys.stderr.isatty())
    replication_failed = _report_replications(summary)
    if summary.checked:
        if summary.differences:
            print(f"report {summary.out} is out of date ({len(summary.differences)} file(s)):", file=sys.stderr)
            for line in summary.differences:
                print(f"  {line}", file=sys.stderr)
            print(f"regenerate it with: c2stats run {args.file}" + (f" --out {args.out}" if args.out else ""), file=sys.stderr)
            return EXIT_CHECK_FAILED
        print(f"report {summary.out} is current ({len(summary.files)} files)")
        return EXIT_CHECK_FAILED if replication_failed else EXIT_OK
    print(f"wrote {len(summary.files)} files to {summary.out}" + _fit_counts(summary.stats))
    return EXIT_CHECK_FAILED if replication_failed else EXIT_OK


def _option_of(filename: str, args) -> str | None:
    """The command-line option whose path ``filename`` lies under (to name it in the message)."""
    for option, attr in (("--out", "out"), ("--cache-dir", "cache_dir")):
        value = getattr(args, attr, None)
        if value is not None and (filename == str(value) or filename.startswith(str(value).rstrip("/") + "/")
                                  or str(value).startswith(filename.rstrip("/") + "/")):
            return option
    return None


def _report_replications(summary) -> bool:
    """Print replicated numbers outside their tolerance (the run then exits 1); True if any."""
    for line in summary.replication_failures:
        print(f"replication failed: {line}", file=sys.stderr)
    return bool(summary.replication_failures)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def _fit_counts(stats) -> str:
    if not stats:
        return ""
    parts = [f"{stats.get('fitted', 0)} fitted", f"{stats.get('cached', 0)} from the cache"]
    if stats.get("failed"):
        parts.append(f"{stats['failed']} grid specification(s) failed (see the specifications table)")
    return f" ({', '.join(parts)})"


def _cmd_validate(args) -> int:

    cfg = load_analysis(args.file)
    spec = cfg.spec

    n_grid = len(grid_model_ids(cfg))
    n_main = len(spec.models) - len(spec.robustness) - n_grid
    extra = (f", {len(spec.robustness)} robustness overlays" if spec.robustness else "") + (
        f", a grid of {n_grid} specifications" if n_grid else "")
    print(f"{args.file}: valid ({n_main} models{extra}, {len(spec.tables)} tables, {len(spec.figures)} figures, "
          f"{len(spec.hypotheses)} hypotheses)")
    return EXIT_OK


def _cmd_schema(args) -> int:

    text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _cmd_data(args) -> int:
    if args.data_command == "build":
        if args.window is not None and not (datasets.WINDOW_LIMITS[0] <= args.window[0] <= args.window[1]
                                            <= datasets.WINDOW_LIMITS[1]):
            raise UserInputError(f"--window {args.window[0]} {args.window[1]}: give FIRST <= LAST within "
                                 f"{datasets.WINDOW_LIMITS[0]}-{datasets.WINDOW_LIMITS[1]}.")
        if (args.window is not None or args.directed or args.coding not in (None, "default")
                or args.follow_up_end not in (None, datasets.DEFAULT_FOLLOW_UP_END)) and args.dest is None:
            raise UserInputError("--coding, --window, --directed and --follow-up-end build a variant: give --dest "
                                 "FOLDER (the shipped files are the default build and stay as they are).")
        paths = datasets.build(args.dest, coding=args.coding, window=tuple(args.window) if args.window else None,
                               directed=args.directed, follow_up_end=args.follow_up_end)
        for unit, path in paths.items():
            print(f"{unit}: {path}")
        return EXIT_OK
    if args.data_command == "measurement":
        coding = load_coding(args.coding)
        arr = datasets.load_builtin("arrangements")
        tables = {"c2_items": item_table(arr, coding), "c2_drop_one": drop_one_table(arr, coding)}
        for name, table in tables.items():
            print(f"{name} (coding {coding.name}, arrangements formed 1980-2010):")
            print(table.to_string(index=False))
            if args.out is not None:
                args.out.mkdir(parents=True, exist_ok=True)
                table.to_csv(args.out / f"{name}.csv", index=False, lineterminator="\n")
        return EXIT_OK

    if args.unit is not None and args.unit not in datasets.UNITS:

        raise UserInputError(f"--unit: unknown unit {args.unit!r}{suggest(args.unit, list(datasets.UNITS))}; "
                             f"the units are {', '.join(datasets.UNITS)}.")
    ref = args.dataset if args.unit is None else {"path": args.dataset, "unit": args.unit}
    if args.value_labels:
        if not args.dataset.lower().endswith(".dta"):
            raise UserInputError(f"--value-labels applies to Stata .dta files, not to {args.dataset!r}.")
        ref = {"path": args.dataset, "value_labels": True, **({"unit": args.unit} if args.unit else {})}
    if isinstance(ref, dict):

        ref = DatasetRef(**ref)
    ds = load_dataset(ref, Path.cwd())
    unit = ds.unit or (ds.name if ds.name in datasets.UNITS else None)
    if unit is not None:
        print(datasets.describe(ds.frame, unit))
        print()
    print(describe.describe_text(ds.frame, max_levels=args.max_levels))
    return EXIT_OK


def _show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001
    print(f"warning: {message}", file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that the cleanup of Ctrl-C runs (staging folder removed,
    worker processes stopped, previous report intact)."""


EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


@contextmanager
def _signals():
    """SIGTERM raises :class:`Terminated`; SIGXFSZ (a file-size limit) is ignored so the write fails
    with EFBIG and is reported, instead of killing the process. Only in the main thread (tests call
    :func:`main` from others); the previous handlers are restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):  # noqa: ARG001
        raise Terminated()

    saved = {}
    for name, handler in (("SIGTERM", terminate), ("SIGXFSZ", signal.SIG_IGN)):
        number = getattr(signal, name, None)
        if number is not None:
            saved[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with _signals():
        return _main(args)


def _main(args) -> int:
    handlers = {"run": _cmd_run, "validate": _cmd_validate, "schema": _cmd_schema, "data": _cmd_data}
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        warnings.simplefilter("default", C2StatsWarning)
        try:
            return handlers[args.command](args)
        except UserInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt as exc:
            what = "terminated" if isinstance(exc, Terminated) else "interrupted"
            print(f"{what}; the previous report is untouched.", file=sys.stderr)
            return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
        except OSError as exc:  # a path the user gave that cannot be written (or read)
            if exc.filename is None and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                print(f"error: cannot write ({exc.strerror or exc}); free space or raise the limit, or choose "
                      "other folders for --out and --cache-dir.", file=sys.stderr)
                return EXIT_BAD_INPUT
            if exc.filename is None:
                print(f"internal error: {type(exc).__name__}: {exc}\n({BUG_HINT})", file=sys.stderr)
                return EXIT_INTERNAL
            option = _option_of(str(exc.filename), args)
            if option:
                value = getattr(args, option.lstrip("-").replace("-", "_"))
                print(f"error: {option} {value}: cannot write there ({exc.filename}: {exc.strerror or exc}); "
                      f"choose another path for {option}.", file=sys.stderr)
            else:
                print(f"error: {exc.filename}: {exc.strerror or exc}; check the path and its permissions.",
                      file=sys.stderr)
            return EXIT_BAD_INPUT
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            print(f"internal error: {type(exc).__name__}: {exc}\n({BUG_HINT})", file=sys.stderr)
            return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
