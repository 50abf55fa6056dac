"""automl: a plugin-based AutoML and neural-architecture-search engine.

``automl.search`` and ``automl.Study`` are loaded on first use, so that
``import automl.space`` stays free of torch.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["Study", "search"]


def __getattr__(name: str) -> Any:
    if name == "search":
        from automl.api import search

        return search
    if name == "Study":
        from automl.engine.study import Study

        return Study
    raise AttributeError(f"module 'automl' has no attribute {name!r}")
