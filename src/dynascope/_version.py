"""The installed version of dynascope (a leaf module, so any layer may read it)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dynascope")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
