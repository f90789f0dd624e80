"""The one result every family returns and every renderer reads.

``Result(tidy, glance, meta, frames, raw)`` is frozen. Renderers read ``tidy``, ``glance``,
``meta`` and ``frames`` only; ``raw`` (the backend's object) is for interactive inspection and is
never saved. A result saved with :func:`save_result` (CSV + JSON, no pickles) and read back with
:func:`load_result` renders identically: floats are written with round-trip precision.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from .errors import C2StatsError

TIDY_REQUIRED = ("term", "estimate")
TIDY_STANDARD = ("std_error", "statistic", "p_value", "conf_low", "conf_high")
TIDY_OPTIONAL = ("component",)
GLANCE_CORE = ("nobs", "loglik", "aic", "bic", "vcov_type", "n_clusters", "converged")

#: The scale of ``tidy.estimate`` for each kind of model; tables exponentiate on request.
SCALES = ("log_hazard", "log_odds", "log_relative_risk", "log_time", "probit", "identity")


def _freeze(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Result:
    """A fitted model in a backend-neutral form.

    Attributes
    ----------
    tidy
        One row per term: ``term``, ``estimate``, ``std_error``, ``statistic``, ``p_value``,
        ``conf_low``, ``conf_high`` (NA where unavailable), optional ``component``.
    glance
        One value per statistic: ``nobs``, ``loglik``, ``aic``, ``bic``, ``vcov_type``, ``n_clusters``,
        ``converged`` and family keys (``n_events``, ``n_subjects``, ``pseudo_r2``, ``ties`` ...).
    meta
        ``model_id``, ``family``, ``formula``, ``scale``, ``conf_level``, ``spec_hash``, ``config_hash``,
        ``data_hash``, ``versions``, ``warnings`` ...
    frames
        Optional long-format extras (e.g. ``vcov``: the covariance matrix with a ``term`` column).
    raw
        The backend's own result object; not saved.
    """

    tidy: pd.DataFrame
    glance: Mapping[str, Any]
    meta: Mapping[str, Any]
    frames: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    raw: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tidy", normalise_tidy(self.tidy, self.meta.get("family", "?")))
        object.__setattr__(self, "glance", _freeze(self.glance))
        object.__setattr__(self, "meta", _freeze(self.meta))
        object.__setattr__(self, "frames", _freeze(self.frames))

    @property
    def model_id(self) -> str:
        return self.meta["model_id"]

    def coef(self) -> pd.Series:
        """Estimates indexed by term."""
        return self.tidy.set_index("term")["estimate"]

    def se(self) -> pd.Series:
        """Standard errors indexed by term."""
        return self.tidy.set_index("term")["std_error"]

    def vcov(self) -> pd.DataFrame | None:
        """The covariance matrix of the estimates (rows/columns by term), if the family saved it."""
        frame = self.frames.get("vcov")
        return None if frame is None else frame.set_index("term")

    def _keys(self) -> list[str]:
        """Row names of :meth:`summary`: the term, ``"<component>: <term>"`` for equations and ancillary rows."""
        if "component" not in self.tidy.columns:
            return self.tidy["term"].tolist()
        comp = self.tidy["component"].fillna("").astype(str)
        return [f"{c}: {t}" if c else t for c, t in zip(comp, self.tidy["term"])]

    def conf_int(self, level: float | None = None) -> pd.DataFrame:
        """Confidence limits ``conf_low``, ``conf_high`` by term at ``level`` (default: the model's ``conf_level``).

        At the model's own level these are the family's intervals (``tidy``). At another level they are
        Wald intervals ``estimate +- q se`` with q from t(``meta["df_resid"]``) when the model has residual
        degrees of freedom (R ``confint(lm)``), else the normal (R ``confint.default``).
        """
        if level is not None and not 0 < level < 1:
            raise C2StatsError(f"conf_int: level must be in (0, 1), e.g. 0.9; got {level!r}.")
        own = float(self.meta.get("conf_level", 0.95))
        out = self.tidy[["conf_low", "conf_high"]].copy()
        if level is not None and not math.isclose(level, own):
            df = self.meta.get("df_resid")
            dist = stats.t(df) if df is not None and np.isfinite(df) else stats.norm
            q = float(dist.ppf(0.5 + level / 2))
            out["conf_low"] = self.tidy["estimate"] - q * self.tidy["std_error"]
            out["conf_high"] = self.tidy["estimate"] + q * self.tidy["std_error"]
        out.index = pd.Index(self._keys(), name="term")
        return out

    def summary(self, exponentiate: bool = False, level: float | None = None) -> pd.DataFrame:
        """The coefficient table as a DataFrame indexed by term (lifelines' ``summary``).

        Columns: ``estimate``, ``std_error``, ``statistic``, ``p_value``, ``conf_low``, ``conf_high``;
        with ``exponentiate`` also ``exp_estimate`` and the exp of both limits (``exp_conf_low``,
        ``exp_conf_high``) for the regression terms (ancillary rows are left NaN). ``level`` as in
        :meth:`conf_int`.
        """
        frame = self.tidy[["estimate", "std_error", "statistic", "p_value"]].copy()
        frame.index = pd.Index(self._keys(), name="term")
        frame = frame.join(self.conf_int(level))
        if exponentiate:
            ancillary = (self.tidy["component"].fillna("").astype(str) == "ancillary").to_numpy() \
                if "component" in self.tidy.columns else np.zeros(len(frame), dtype=bool)
            for col, source in (("exp_estimate", "estimate"), ("exp_conf_low", "conf_low"),
                                ("exp_conf_high", "conf_high")):
                frame[col] = np.where(ancillary, np.nan, np.exp(frame[source].to_numpy(dtype=float)))
        return frame

    def _repr_html_(self) -> str:
        """Jupyter display: the model, its fit statistics and :meth:`summary` as an HTML table."""
        head = f"{self.meta.get('label') or self.model_id} ({self.meta.get('family', '?')})"
        facts = [f"{k} = {self.glance[k]:,}" if isinstance(self.glance.get(k), (int, np.integer)) else
                 f"{k} = {self.glance[k]}" for k in ("nobs", "n_events", "vcov_type", "n_clusters", "converged")
                 if self.glance.get(k) is not None and not (isinstance(self.glance.get(k), float)
                                                             and math.isnan(self.glance[k]))]
        table = self.summary().to_html(float_format=lambda v: f"{v:.4g}", na_rep="", border=0,
                                       classes="c2stats-result")
        return (f"<div class=\"c2stats-result\"><p><strong>{html.escape(head)}</strong>: "
                f"{html.escape(self.meta.get('formula', ''))}<br/>{html.escape('; '.join(facts))}</p>{table}</div>")


def normalise_tidy(tidy: pd.DataFrame, family: str) -> pd.DataFrame:
    """Check the required columns and fill missing standard ones with NA, in standard order."""
    missing = [c for c in TIDY_REQUIRED if c not in tidy.columns]
    if missing:
        raise C2StatsError(f"family {family!r} returned a tidy frame without {missing}; it must have term and estimate.")
    out = tidy.copy()
    for col in TIDY_STANDARD:
        if col not in out.columns:
            out[col] = np.nan
    cols = ["term", *(c for c in TIDY_OPTIONAL if c in out.columns), "estimate", *TIDY_STANDARD]
    extra = [c for c in out.columns if c not in cols]
    out = out[cols + extra].reset_index(drop=True)
    out["term"] = out["term"].astype(str)
    for col in ("estimate", *TIDY_STANDARD):
        out[col] = out[col].astype(float)
    return out


# ----------------------------------------------------------------------------------------------
# Save / load
# ----------------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    return value


def dump_json(value: Any) -> str:
    """Deterministic JSON text (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(_jsonable(value), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV with round-trip float precision and '\\n' line endings (byte-stable)."""
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.17g")


def save_result(result: Result, folder: str | Path) -> Path:
    """Write ``result`` to ``folder`` as tidy.csv, glance.json, meta.json and frames/*.csv."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(result.tidy, folder / "tidy.csv")
    (folder / "glance.json").write_text(dump_json(dict(result.glance)), encoding="utf-8")
    (folder / "meta.json").write_text(dump_json(dict(result.meta)), encoding="utf-8")
    if result.frames:
        (folder / "frames").mkdir(exist_ok=True)
        for name, frame in sorted(result.frames.items()):
            write_csv(frame, folder / "frames" / f"{name}.csv")
    return folder


def load_result(folder: str | Path) -> Result:
    """Read a result written by :func:`save_result`."""
    folder = Path(folder)
    tidy = pd.read_csv(folder / "tidy.csv", dtype={"term": str, "component": str}, keep_default_na=False,
                       na_values={c: [""] for c in ("estimate", *TIDY_STANDARD)})
    glance = json.loads((folder / "glance.json").read_text(encoding="utf-8"))
    glance = {k: (np.nan if v is None else v) for k, v in glance.items()}
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    frames = {}
    if (folder / "frames").is_dir():
        for path in sorted((folder / "frames").glob("*.csv")):
            frames[path.stem] = pd.read_csv(path, dtype={"term": str})
    return Result(tidy=tidy, glance=glance, meta=meta, frames=frames)
