"""medrun: offline evaluation of medical LLMs on clinical scenarios."""

from runner import offline as _offline

_offline.apply()  # before anything below can import a model library

from importlib.metadata import PackageNotFoundError, version  # noqa: E402

try:
    __version__ = version("medrun")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "unknown"
