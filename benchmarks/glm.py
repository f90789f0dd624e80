"""Benchmark: logit and multinomial logit engines against statsmodels, time and peak memory.

Usage::

    python benchmarks/glm.py            # logit 1,000,000 x 20 (cluster SEs), mnlogit 1,000,000 x 10, 4 outcomes
    python benchmarks/glm.py --quick    # a tenth of the rows

Seeded data: an intercept and standard-normal covariates, a logistic (or multinomial-logistic)
outcome from known coefficients, 10,000 clusters. Each fit runs in a fresh process that loads
the data from an ``.npz`` file, so its peak RSS (``ru_maxrss``) is its own; the runs of c2stats
and statsmodels alternate (c2stats, statsmodels, c2stats, statsmodels) and the table gives the
median time of the two runs and the larger peak.

* logit: ``fit_binary_glm`` + ``sandwich.vcov_cluster(correction="HC1")`` against
  ``statsmodels.Logit(y, X).fit(method="newton", cov_type="cluster",
  cov_kwds={"groups": g, "use_correction": True, "df_correction": False})`` — the same estimator
  (``G/(G-1) (n-1)/(n-k)``, R's ``vcovCL(type = "HC1")``).
* mnlogit: ``fit_mnlogit`` (model SEs) against ``statsmodels.MNLogit(y, X).fit(method="newton")``.

"baseline MB" is the RSS of a process that has imported both libraries and loaded the data;
the other columns are peaks of the fitting processes. Largest coefficient and SE differences
between the two libraries are printed too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

N_CLUSTERS = 10_000


def make_logit(n: int, k: int, seed: int = 20241206) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.empty((n, k))
    X[:, 0] = 1.0
    X[:, 1:] = rng.standard_normal((n, k - 1))
    beta = np.linspace(-0.5, 0.5, k)
    beta[0] = -1.0
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-(X @ beta)))).astype(float)
    return {"X": X, "y": y, "groups": rng.integers(0, N_CLUSTERS, n)}


def make_mnlogit(n: int, k: int, n_outcomes: int = 4, seed: int = 20241207) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.empty((n, k))
    X[:, 0] = 1.0
    X[:, 1:] = rng.standard_normal((n, k - 1))
    beta = rng.normal(scale=0.3, size=(n_outcomes - 1, k))
    eta = np.column_stack([np.zeros(n), X @ beta.T])
    p = np.exp(eta - eta.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = (rng.uniform(size=n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1).astype(float)
    return {"X": X, "y": y}


def child(kind: str, lib: str, npz: str) -> None:
    """In a fresh process: load, fit, print time, peak RSS, coefficients and SEs as JSON."""
    import resource
    import time

    import statsmodels.api as sm

    from c2stats import sandwich
    from c2stats.families._glm_engine import fit_binary_glm
    from c2stats.families._mnlogit_engine import fit_mnlogit

    d = dict(np.load(npz))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    if kind == "logit" and lib == "c2stats":
        fit = fit_binary_glm(X=d["X"], y=d["y"], check_separation=False)
        vcov = sandwich.vcov_cluster(bread=fit.bread, scores=fit.scores, groups=d["groups"], correction="HC1")
        coef = fit.coef
    elif kind == "logit":
        res = sm.Logit(d["y"], d["X"]).fit(method="newton", disp=0, cov_type="cluster",
                                           cov_kwds={"groups": d["groups"], "use_correction": True,
                                                     "df_correction": False})
        coef, vcov = res.params, res.cov_params()
    elif lib == "c2stats":
        fit = fit_mnlogit(X=d["X"], y=d["y"])
        coef, vcov = fit.coef, fit.vcov_model
    else:
        res = sm.MNLogit(d["y"], d["X"]).fit(method="newton", disp=0)
        coef, vcov = np.asarray(res.params).T.ravel(), res.cov_params()
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_mb": peak, "baseline_mb": base,
                      "coef": np.asarray(coef).tolist(), "se": np.sqrt(np.diag(np.asarray(vcov))).tolist()}))


def run_child(kind: str, lib: str, npz: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, lib, str(npz)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a tenth of the rows")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    factor = 10 if args.quick else 1
    cases = [("logit", 1_000_000 // factor, 20), ("mnlogit", 1_000_000 // factor, 10)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="c2stats_glm_bench_") as tmp:
        for kind, n, k in cases:
            data = make_logit(n, k) if kind == "logit" else make_mnlogit(n, k)
            npz = Path(tmp) / f"{kind}.npz"
            np.savez(npz, **data)
            del data
            runs: dict[str, list[dict]] = {"c2stats": [], "statsmodels": []}
            for _ in range(2):
                for lib, results in runs.items():
                    results.append(run_child(kind, lib, npz))
            c, s = runs["c2stats"], runs["statsmodels"]
            rows.append({
                "kind": kind, "n": n, "k": k,
                "c2_s": statistics.median(r["seconds"] for r in c),
                "sm_s": statistics.median(r["seconds"] for r in s),
                "c2_mb": max(r["peak_mb"] for r in c), "sm_mb": max(r["peak_mb"] for r in s),
                "base_mb": min(r["baseline_mb"] for r in c + s),
                "dcoef": float(np.max(np.abs(np.subtract(c[0]["coef"], s[0]["coef"])))),
                "dse": float(np.max(np.abs(np.divide(c[0]["se"], s[0]["se"]) - 1))),
            })
            npz.unlink()
    head = (f"{'model':<8} {'rows':>9} {'k':>3}  {'c2stats s':>9} {'sm s':>7} {'ratio':>6}  "
            f"{'baseline MB':>11} {'c2stats MB':>10} {'sm MB':>7}  {'max|dcoef|':>10} {'max rel dSE':>11}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['kind']:<8} {r['n']:>9,} {r['k']:>3}  {r['c2_s']:9.2f} {r['sm_s']:7.2f} {r['c2_s'] / r['sm_s']:6.2f}  "
              f"{r['base_mb']:11.0f} {r['c2_mb']:10.0f} {r['sm_mb']:7.0f}  {r['dcoef']:10.1e} {r['dse']:11.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
