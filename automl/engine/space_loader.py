"""Load a search space from a Python file: ``path/to/space.py`` or ``path/to/space.py:function``."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path

from automl.space import SearchSpace, SpaceError, search_space


def load_space(reference: str) -> SearchSpace:
    """The space a file defines; with several, ``:function`` picks one.

    A plain function of wires (not decorated) is accepted when named explicitly.
    """
    path_text, _, function_name = reference.partition(":")
    path = Path(path_text)
    if path.suffix != ".py":
        raise SpaceError(f"space file {reference!r} must be a Python file (.py), optionally followed by :function")
    if not path.is_file():
        raise SpaceError(f"space file {path} not found")
    module_name = f"automl_space_{path.stem}_{uuid.uuid4().hex[:8]}"
    specification = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(specification)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        specification.loader.exec_module(module)
    except SyntaxError as error:
        raise SpaceError(f"space file {path} has a syntax error at line {error.lineno}: {error.msg}") from None
    except Exception as error:
        raise SpaceError(f"space file {path} failed to load: {type(error).__name__}: {error}") from None
    finally:
        sys.path.pop(0)
    if function_name:
        found = getattr(module, function_name, None)
        if found is None:
            raise SpaceError(f"space file {path} has no function {function_name!r}")
        if isinstance(found, SearchSpace):
            return found
        if callable(found):
            return search_space(found)
        raise SpaceError(f"{path}:{function_name} is not a search space function")
    spaces = {name: value for name, value in vars(module).items() if isinstance(value, SearchSpace)}
    if not spaces:
        raise SpaceError(f"space file {path} defines no @search_space function; decorate one or name it with :function")
    if len(spaces) > 1:
        raise SpaceError(
            f"space file {path} defines several spaces ({', '.join(sorted(spaces))}); pick one with :function"
        )
    return next(iter(spaces.values()))
