"""c2stats: declared model specifications in, R-verified tables and reports out.

Public API: :func:`run`, :func:`load_analysis`, :func:`fit`, :func:`load_dataset`,
:class:`Result`, :func:`register_family`; from Python and notebooks :func:`table` (a ``[[tables]]``
entry as keyword arguments), :mod:`plot` (``c2stats.plot.<kind>`` for every ``[[figures]]`` kind) and
:func:`predict_result` (docs/notebook.md).
"""

from ._version import __version__
from .config import load_analysis
from .data import load_dataset
from .families import register_family
from .pipeline import fit, run
from .results import Result, load_result, save_result
from . import plot
from .plot import predict_result
from .tables import LATEX_PREAMBLE, Table, table

__all__ = ["LATEX_PREAMBLE", "Result", "Table", "fit", "load_analysis", "load_dataset", "load_result", "plot",
           "predict_result", "register_family", "run", "save_result", "table", "__version__"]
