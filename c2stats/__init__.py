"""c2stats: declared model specifications in, R-verified tables and reports out.

Public API: :func:`run`, :func:`load_analysis`, :func:`fit`, :func:`load_dataset`,
:class:`Result`, :func:`register_family`.
"""

from ._version import __version__
from .config import load_analysis
from .data import load_dataset
from .families import register_family
from .pipeline import fit, run
from .results import Result, load_result, save_result

__all__ = ["Result", "fit", "load_analysis", "load_dataset", "load_result", "register_family", "run", "save_result", "__version__"]
