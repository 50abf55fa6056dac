"""The space language: tree-structured search spaces after DeepArchitect.

Negrinho & Gordon, "DeepArchitect: Automatically Designing and Training Deep
Architectures", 2017. Modules with inputs and outputs, hyperparameters shared by
object identity, and substitution modules that unfold lazily.
"""

from automl.space.architecture import Architecture
from automl.space.candidate import Candidate
from automl.space.errors import InvalidDecisionError, SpaceError, UnboundedSpaceError
from automl.space.hyperparameters import OUTPUTS, Bool, Choice, Derived, Float, Hyperparameter, Int
from automl.space.modules import Module, OpModule, Output, SubstitutionModule
from automl.space.ops import op, training
from automl.space.search_space import SearchSpace, search_space
from automl.space.substitutions import InputChoice, Optional, Or, Repeat, substitute

__all__ = [
    "OUTPUTS",
    "Architecture",
    "Bool",
    "Candidate",
    "Choice",
    "Derived",
    "Float",
    "Hyperparameter",
    "InputChoice",
    "Int",
    "InvalidDecisionError",
    "Module",
    "OpModule",
    "Optional",
    "Or",
    "Output",
    "Repeat",
    "SearchSpace",
    "SpaceError",
    "SubstitutionModule",
    "UnboundedSpaceError",
    "op",
    "search_space",
    "substitute",
    "training",
]
