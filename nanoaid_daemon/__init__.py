"""NanoAID daemon: labelled, explained, findable SEM frames within a second of saving."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nanoaid-daemon")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
