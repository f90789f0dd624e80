"""The package version (one place: the package, reports and caches read it from here)."""

__version__ = "0.1.0"
