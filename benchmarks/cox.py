"""Benchmark: c2stats' Cox engine against R's coxph on large counting-process data.

Usage::

    python benchmarks/cox.py            # full sizes, medians of 5 (R: about 4 minutes)
    python benchmarks/cox.py --quick    # one tenth of the rows, medians of 3
    python benchmarks/cox.py --no-r     # c2stats only
    python benchmarks/cox.py --scaling 1e6 3e6 [1e7]   # cost per row and peak RSS as n grows

Two seeded datasets with 10 covariates (two binary, three subject-level, five varying by row) and
20,000 clusters (subjects) in (start, stop] form with recurrent events:

* ``continuous``: 200,000 rows, 10 per subject, continuous times (tens of thousands of unique
  event times);
* ``monthly``: 1,000,000 rows, 50 one-month rows per subject with staggered entry (integer
  times, ~240 unique event times).

For each, Efron Cox is fitted without and with cluster(id) standard errors by
``c2stats.families._cox_engine.fit_cox`` (from numpy arrays) and, when ``Rscript`` with the
survival package is on the PATH, by ``coxph(..., ties = "efron", control = coxph.control(eps =
1e-11))`` on the same numbers (handed to R as raw float64, so both read identical data). The
table gives median wall-clock seconds, the c2stats/R ratio (target <= 0.5), the peak memory of a
fresh process that loads the data and fits with cluster SEs (``ru_maxrss``; the fit's own peak by
``tracemalloc`` in brackets) and the largest differences from R: absolute for coefficients,
relative for standard errors.

``--scaling`` fits day-grid data (below) of each size in fresh processes, alternating c2stats and
(when available, up to ``--r-max-rows``) R: Efron ties, ``cluster(id)`` SEs and the proportional-hazards test (``cox.zph``,
km transform), and reports seconds, peak RSS (``ru_maxrss`` of the process that loaded the data and
fitted; R's under ``/usr/bin/time``), bytes per row and the local exponent of time in n between
consecutive sizes (1 = linear).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_COVARIATES = 10
N_CLUSTERS = 20_000
BETA = np.array([0.5, -0.3, 0.2, 0.0, 0.1, -0.2, 0.3, 0.05, -0.1, 0.15])
COLUMNS = ["id", "start", "stop", "event"] + [f"x{j + 1}" for j in range(N_COVARIATES)]


def make_data(kind: str, n_rows: int, n_clusters: int = N_CLUSTERS, seed: int = 20240604) -> dict[str, np.ndarray]:
    """Seeded counting-process data: ``id, start, stop, event`` and ``X`` (n_rows x 10)."""
    rng = np.random.default_rng(seed + (0 if kind == "continuous" else 1))
    per = n_rows // n_clusters
    n = per * n_clusters
    ident = np.repeat(np.arange(1, n_clusters + 1), per)
    subj = np.empty((n_clusters, 5))
    subj[:, 0] = rng.integers(0, 2, n_clusters)  # binary
    subj[:, 1] = rng.integers(0, 2, n_clusters)  # binary
    subj[:, 2] = rng.normal(size=n_clusters)
    subj[:, 3] = rng.normal(size=n_clusters)
    subj[:, 4] = rng.uniform(-1, 1, n_clusters)
    x = np.empty((n, N_COVARIATES))
    x[:, :5] = np.repeat(subj, per, axis=0)
    x[:, 5:] = rng.normal(size=(n, 5))
    x[:, 9] = np.round(x[:, 9], 1)  # a coarse covariate, as data often have
    if kind == "continuous":
        entry0 = rng.uniform(0, 5, n_clusters)
        gaps = rng.exponential(1.0, size=(n_clusters, per))
        stops = entry0[:, None] + np.cumsum(gaps, axis=1)
        starts = np.concatenate([entry0[:, None], stops[:, :-1]], axis=1)
        start, stop = starts.ravel(), stops.ravel()
        base = 0.15
    elif kind == "monthly":
        entry0 = rng.integers(0, 191, n_clusters).astype(float)
        starts = entry0[:, None] + np.arange(per)[None, :]
        start = starts.ravel()
        stop = start + 1.0
        base = 0.02
    else:
        raise ValueError(f"unknown kind {kind!r}")
    risk = base * (stop - start) * np.exp(x @ BETA)
    event = (rng.uniform(size=n) < -np.expm1(-risk)).astype(float)
    return {"id": ident.astype(float), "start": start, "stop": stop, "event": event, "X": x}


def make_daily(n_rows: int, per: int = 10, seed: int = 20241206) -> dict[str, np.ndarray]:
    """Seeded (start, stop] data on a day grid in years: ``per`` intervals per subject of 1-365 days
    from a staggered entry (about 16,000 distinct times); the same day reached through different
    sums differs by round-off, so ``aeqSurv``'s time-merging has ties to merge."""
    rng = np.random.default_rng(seed)
    n_subj = n_rows // per
    n = n_subj * per
    subj = np.column_stack([rng.integers(0, 2, n_subj), rng.integers(0, 2, n_subj), rng.normal(size=n_subj),
                            rng.normal(size=n_subj), rng.uniform(-1, 1, n_subj)])
    x = np.empty((n, N_COVARIATES))
    x[:, :5] = np.repeat(subj, per, axis=0)
    x[:, 5:] = rng.normal(size=(n, 5))
    x[:, 9] = np.round(x[:, 9], 1)
    entry0 = rng.integers(0, 3650, n_subj) / 365.25
    stops = entry0[:, None] + np.cumsum(rng.integers(1, 366, size=(n_subj, per)) / 365.25, axis=1)
    starts = np.concatenate([entry0[:, None], stops[:, :-1]], axis=1)
    start, stop = starts.ravel(), stops.ravel()
    risk = 0.1 * (stop - start) * np.exp(x @ BETA)
    event = (rng.uniform(size=n) < -np.expm1(-risk)).astype(float)
    return {"id": np.repeat(np.arange(1, n_subj + 1), per).astype(float), "start": start, "stop": stop,
            "event": event, "X": x}


def scaling_child(npz: str) -> None:
    """Fresh process: load, fit with cluster SEs, run cox.zph; print seconds and peak RSS as JSON."""
    import resource

    from c2stats.families._cox_zph import cox_zph

    loaded = np.load(npz)
    data = {k: loaded[k] for k in loaded.files}
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    fit = _fit(data, cluster=True)
    t1 = time.perf_counter()
    zph = cox_zph(fit, data["X"], data["stop"], data["event"], entry=data["start"])
    t2 = time.perf_counter()
    print(json.dumps({"fit_s": t1 - t0, "zph_s": t2 - t1, "base_mb": base,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "coef": fit.coef.tolist(), "se": fit.se_robust.tolist(), "zph": zph.chisq.tolist()}))


R_SCALING = r"""
suppressMessages(library(survival))
args <- commandArgs(TRUE)
nr <- as.integer(args[2]); nc <- as.integer(args[3])
con <- file(args[1], "rb"); v <- readBin(con, "double", n = nr * nc); close(con)
d <- as.data.frame(matrix(v, nrow = nr, ncol = nc)); rm(v)
names(d) <- c("id", "start", "stop", "event", paste0("x", 1:(nc - 4)))
fml <- as.formula(paste("Surv(start, stop, event) ~", paste(paste0("x", 1:(nc - 4)), collapse = " + ")))
t1 <- system.time(f <- coxph(fml, data = d, ties = "efron", cluster = id,
                             control = coxph.control(eps = 1e-11, iter.max = 100)))[["elapsed"]]
t2 <- system.time(z <- cox.zph(f))[["elapsed"]]
fmt <- function(z) paste(sprintf("%.17g", z), collapse = ",")
writeLines(c(paste0("fit_s=", t1), paste0("zph_s=", t2), paste0("coef=", fmt(coef(f))),
             paste0("se=", fmt(sqrt(diag(f$var)))), paste0("zph=", fmt(z$table[, "chisq"]))), args[4])
"""


def run_r_scaling(data: dict[str, np.ndarray], workdir: Path) -> dict:
    mat = np.column_stack([data["id"], data["start"], data["stop"], data["event"], data["X"]])
    binf = workdir / "data.bin"
    np.asfortranarray(mat).T.ravel().tofile(binf)
    del mat
    script = workdir / "scaling.R"
    script.write_text(R_SCALING)
    out = workdir / "r_scaling.txt"
    n, nc = data["X"].shape[0], data["X"].shape[1] + 4
    proc = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", "Rscript", str(script), str(binf), str(n),
                           str(nc), str(out)], check=True, capture_output=True, text=True)
    binf.unlink()
    res = {}
    for line in out.read_text().splitlines():
        key, val = line.split("=", 1)
        res[key] = [float(z) for z in val.split(",")] if key in ("coef", "se", "zph") else float(val)
    rss = [line for line in proc.stderr.splitlines() if line.startswith("maxrss_kb=")]
    res["peak_mb"] = float(rss[-1].split("=")[1]) / 1024 if rss else float("nan")
    return res


def scaling(sizes: list[int], use_r: bool, r_max_rows: int) -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="c2stats_cox_scaling_") as tmp:
        work = Path(tmp)
        for n_rows in sizes:
            data = make_daily(n_rows)
            n = data["X"].shape[0]
            print(f"{n:,} rows, {int(data['event'].sum()):,} events, {np.unique(data['stop']).size:,} distinct stop "
                  f"times, {n // 10:,} clusters", flush=True)
            npz = work / "scaling.npz"
            _save_npz(npz, data)
            c2 = json.loads(subprocess.run([sys.executable, __file__, "--scaling-child", str(npz)], check=True,
                                           capture_output=True, text=True).stdout.strip().splitlines()[-1])
            r = run_r_scaling(data, work) if use_r and n <= r_max_rows else None
            npz.unlink()
            del data
            row = {"n": n, "c2": c2, "r": r}
            if r is not None:
                row["dcoef"] = float(np.max(np.abs(np.subtract(c2["coef"], r["coef"]))))
                row["dse"] = float(np.max(np.abs(np.divide(c2["se"], r["se"]) - 1)))
                row["dzph"] = float(np.max(np.abs(np.divide(c2["zph"], r["zph"]) - 1)))
            rows.append(row)
    print()
    head = (f"{'rows':>11}  {'fit s':>6} {'zph s':>6} {'exp.':>5} {'peak MB':>8} {'B/row':>6}   "
            f"{'R fit s':>7} {'R zph s':>7} {'R MB':>6}  {'max|dcoef|':>10} {'rel dSE':>8} {'rel dzph':>8}")
    print(head)
    print("-" * len(head))
    prev = None
    for row in rows:
        c2, r = row["c2"], row["r"]
        total = c2["fit_s"] + c2["zph_s"]
        expo = f"{np.log(total / prev[1]) / np.log(row['n'] / prev[0]):5.2f}" if prev else f"{'':>5}"
        prev = (row["n"], total)
        rpart = (f"{r['fit_s']:7.1f} {r['zph_s']:7.1f} {r['peak_mb']:6.0f}  {row['dcoef']:10.1e} {row['dse']:8.1e} "
                 f"{row['dzph']:8.1e}") if r else ""
        print(f"{row['n']:>11,}  {c2['fit_s']:6.2f} {c2['zph_s']:6.2f} {expo} {c2['peak_mb']:8.0f} "
              f"{c2['peak_mb'] * 2**20 / row['n']:6.0f}   {rpart}")
    print("\nexp. = local exponent of c2stats' fit + zph time in n; B/row = peak RSS / rows (data included)")
    return 0


def _fit(data: dict[str, np.ndarray], cluster: bool):
    from c2stats.families._cox_engine import fit_cox

    return fit_cox(
        data["X"],
        data["stop"],
        data["event"],
        entry=data["start"],
        ties="efron",
        cluster=data["id"] if cluster else None,
        eps=1e-11,
        max_iter=100,
    )


def time_c2stats(data: dict[str, np.ndarray], cluster: bool, repeats: int) -> tuple[list[float], object]:
    times, fit = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit = _fit(data, cluster)
        times.append(time.perf_counter() - t0)
    return times, fit


def _save_npz(path: Path, data: dict[str, np.ndarray]) -> None:
    np.savez(path, **data)


def memory_child(npz: str) -> None:
    """Run in a fresh process: load, fit with cluster SEs, print peak memory as JSON."""
    import resource
    import tracemalloc

    loaded = np.load(npz)
    data = {k: loaded[k] for k in loaded.files}
    tracemalloc.start()
    _fit(data, cluster=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"maxrss_mb": rss_kb / 1024, "fit_peak_mb": peak / 2**20}))


def measure_memory(data: dict[str, np.ndarray], workdir: Path) -> dict[str, float]:
    npz = workdir / "mem.npz"
    _save_npz(npz, data)
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(npz)], check=True, capture_output=True, text=True
    )
    npz.unlink()
    return json.loads(out.stdout.strip().splitlines()[-1])


R_SCRIPT = r"""
suppressMessages(library(survival))
args <- commandArgs(TRUE)
nr <- as.integer(args[2]); nc <- as.integer(args[3]); reps <- as.integer(args[4])
con <- file(args[1], "rb"); v <- readBin(con, "double", n = nr * nc); close(con)
d <- as.data.frame(matrix(v, nrow = nr, ncol = nc)); rm(v)
names(d) <- c("id", "start", "stop", "event", paste0("x", 1:(nc - 4)))
fml <- as.formula(paste("Surv(start, stop, event) ~", paste(paste0("x", 1:(nc - 4)), collapse = " + ")))
ctl <- coxph.control(eps = 1e-11, iter.max = 100)
t1 <- t2 <- numeric(reps)
for (i in seq_len(reps)) t1[i] <- system.time(f1 <- coxph(fml, data = d, ties = "efron", control = ctl))[["elapsed"]]
for (i in seq_len(reps)) t2[i] <- system.time(f2 <- coxph(fml, data = d, ties = "efron", control = ctl, cluster = id))[["elapsed"]]
fmt <- function(z) paste(sprintf("%.17g", z), collapse = ",")
writeLines(c(paste0("time_plain=", fmt(t1)), paste0("time_cluster=", fmt(t2)),
             paste0("coef=", fmt(coef(f1))), paste0("se_model=", fmt(sqrt(diag(f1$var)))),
             paste0("se_cluster=", fmt(sqrt(diag(f2$var)))), paste0("loglik=", fmt(f1$loglik)),
             paste0("iter=", fmt(f1$iter)), paste0("survival=", packageVersion("survival"))), args[5])
"""


def run_r(data: dict[str, np.ndarray], repeats: int, workdir: Path) -> dict[str, list[float] | str]:
    mat = np.column_stack([data["id"], data["start"], data["stop"], data["event"], data["X"]])
    binf = workdir / "data.bin"
    np.asfortranarray(mat).T.ravel().tofile(binf)  # column-major, as R's matrix()
    script = workdir / "bench.R"
    script.write_text(R_SCRIPT)
    out = workdir / "r_out.txt"
    subprocess.run(
        ["Rscript", str(script), str(binf), str(mat.shape[0]), str(mat.shape[1]), str(repeats), str(out)],
        check=True,
    )
    res: dict[str, list[float] | str] = {}
    for line in out.read_text().splitlines():
        key, val = line.split("=", 1)
        res[key] = val if key == "survival" else [float(z) for z in val.split(",")]
    binf.unlink()
    return res


def r_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "library(survival)"], capture_output=True)
    return probe.returncode == 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one tenth of the rows, 3 repeats")
    ap.add_argument("--repeats", type=int, default=None, help="timing repeats (default 5, quick 3)")
    ap.add_argument("--no-r", action="store_true", help="skip R even if installed")
    ap.add_argument("--scaling", nargs="+", type=float, metavar="ROWS",
                    help="fit day-grid data of these sizes (e.g. 1e6 3e6 1e7) in fresh processes")
    ap.add_argument("--r-max-rows", type=float, default=1e6,
                    help="with --scaling, run R only up to this many rows (its clustered score residuals "
                         "cost O(rows x event times): about 4 minutes at 1e6 rows, hours at 3e6)")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    ap.add_argument("--scaling-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    if args.scaling_child:
        scaling_child(args.scaling_child)
        return 0
    if args.scaling:
        return scaling([int(z) for z in args.scaling], not args.no_r and r_available(), int(args.r_max_rows))
    repeats = args.repeats or (3 if args.quick else 5)
    factor = 10 if args.quick else 1
    use_r = not args.no_r and r_available()
    if not args.no_r and not use_r:
        print("Rscript with the survival package not found: timing c2stats only.")
    cases = [("continuous", 200_000 // factor), ("monthly", 1_000_000 // factor)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="c2stats_cox_bench_") as tmp:
        work = Path(tmp)
        for kind, n_rows in cases:
            data = make_data(kind, n_rows, N_CLUSTERS // factor)
            n_ev = int(data["event"].sum())
            n_times = int(np.unique(data["stop"][data["event"] > 0]).size)
            print(f"{kind}: {data['X'].shape[0]:,} rows, {n_ev:,} events, {n_times:,} unique event times, "
                  f"{N_CLUSTERS // factor:,} clusters", flush=True)
            _fit(data, cluster=False)  # warm-up (imports, BLAS threads)
            t_plain, fit_plain = time_c2stats(data, False, repeats)
            t_cl, fit_cl = time_c2stats(data, True, repeats)
            mem = measure_memory(data, work)
            r = run_r(data, repeats, work) if use_r else None
            for label, ts, fit, rkey in (("Efron", t_plain, fit_plain, "time_plain"),
                                         ("Efron + cluster", t_cl, fit_cl, "time_cluster")):
                row = {"data": kind, "rows": data["X"].shape[0], "fit": label,
                       "c2stats_s": statistics.median(ts), "iter": fit.iterations,
                       "mem": mem if label != "Efron" else None}
                if r is not None:
                    row["r_s"] = statistics.median(r[rkey])
                    row["ratio"] = row["c2stats_s"] / row["r_s"]
                    row["coef_diff"] = float(np.max(np.abs(fit.coef - np.array(r["coef"]))))
                    if label == "Efron":
                        row["se_rel"] = float(np.max(np.abs(fit.se_model / np.array(r["se_model"]) - 1)))
                        row["r_iter"] = int(r["iter"][0])
                    else:
                        row["se_rel"] = float(np.max(np.abs(fit.se_robust / np.array(r["se_cluster"]) - 1)))
                    row["survival"] = r["survival"]
                rows.append(row)
            del data
    print()
    head = f"{'data':<11} {'rows':>9}  {'fit':<16} {'c2stats s':>9} {'R s':>8} {'ratio':>6}  {'peak MB':>15}  {'max|dcoef|':>10} {'max rel dSE':>11}"
    print(head)
    print("-" * len(head))
    for row in rows:
        mem = row["mem"]
        mem_s = f"{mem['maxrss_mb']:.0f} ({mem['fit_peak_mb']:.0f})" if mem else ""
        r_s = f"{row['r_s']:8.2f}" if "r_s" in row else f"{'-':>8}"
        ratio = f"{row['ratio']:6.3f}" if "ratio" in row else f"{'-':>6}"
        dc = f"{row['coef_diff']:10.1e}" if "coef_diff" in row else f"{'-':>10}"
        ds = f"{row['se_rel']:11.1e}" if "se_rel" in row else f"{'-':>11}"
        print(f"{row['data']:<11} {row['rows']:>9,}  {row['fit']:<16} {row['c2stats_s']:9.3f} {r_s} {ratio}  {mem_s:>15}  {dc} {ds}")
    print()
    survival = next((row["survival"] for row in rows if "survival" in row), None)
    print(f"medians of {repeats}; peak MB = max RSS of a fresh process loading the data and fitting with "
          f"cluster SEs (tracemalloc peak of the fit alone in brackets); "
          f"{'R survival ' + survival + ', ' if survival else ''}{os.cpu_count()} CPUs")
    if any("ratio" in row for row in rows):
        ok = all(row["ratio"] <= 0.5 and row["coef_diff"] <= 1e-8 for row in rows)
        print("target (ratio <= 0.5, |dcoef| <= 1e-8 in every row):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
