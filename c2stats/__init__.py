"""c2stats: declared model specifications in, R-verified tables and reports out."""

__version__ = "0.1.0"
