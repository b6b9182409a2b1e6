"""medrun: offline evaluation of medical LLMs on clinical scenarios."""

from runner import offline as _offline

_offline.apply()  # before anything below can import a model library

__version__ = "0.1.0"
