"""The search space a study was searched over, loaded again from its file, for the plots that need it.

The decisions of a trial say what was chosen, not what the space offered: the
log scale of a range, the order of a choice's values, and the architecture a
candidate builds are in the space. A study stores the space's file and the hash
of its source, so the space is loaded only when the file is still there and
unchanged; otherwise a plot that needs it says why it is not drawn
(:class:`PlotUnavailable`) rather than drawing something that may be wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl.engine.study import Study


class PlotUnavailable(ValueError):
    """A plot this study cannot give; the message is the one line that says why."""


def study_space(study: Study) -> Any:
    """The study's :class:`~automl.space.SearchSpace`, or :class:`PlotUnavailable` saying why it cannot be had."""
    from automl.cli.show_command import study_config
    from automl.engine.config import source_hash
    from automl.engine.space_loader import load_space
    from automl.space import SpaceError

    config = study_config(study)
    reference = getattr(config, "space", None)
    if not reference:
        raise PlotUnavailable(f"study {study.path} stores no search space to load")
    if str(reference).startswith("python:"):
        raise PlotUnavailable(
            f"the study's space ({reference}) was given as a Python object, which cannot be loaded from the study"
        )
    space_file = Path(str(reference).partition(":")[0])
    if not space_file.is_file():
        raise PlotUnavailable(f"the study's space file {space_file} is gone")
    expected = getattr(config, "space_hash", None)
    if expected is not None and source_hash(space_file.read_text()) != expected:
        raise PlotUnavailable(f"the study's space file {space_file} changed since the search")
    try:
        return load_space(str(reference))
    except SpaceError as error:
        raise PlotUnavailable(str(error)) from None
