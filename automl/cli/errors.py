"""The errors that are the user's to fix: reported as one line with exit status 2."""

from __future__ import annotations


class UsageProblem(ValueError):
    """A bad option value or combination on the command line."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from automl.api import SearchSetupError
    from automl.data import DataError
    from automl.engine.feature_selection import FeatureSelectionError
    from automl.engine.storage import StudyError
    from automl.nn import CompileError
    from automl.plugins import PluginError
    from automl.ranking import RankingInputError
    from automl.space import SpaceError
    from automl.strategies import StrategyOptionError
    from automl.training import TrainingSettingsError

    return (
        UsageProblem,
        SearchSetupError,
        DataError,
        StudyError,
        FeatureSelectionError,
        CompileError,
        PluginError,
        RankingInputError,
        SpaceError,
        StrategyOptionError,
        TrainingSettingsError,
    )


USER_ERRORS = _user_errors()
