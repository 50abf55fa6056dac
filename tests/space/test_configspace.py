import pytest

from automl import space as s
from automl.space import UnboundedSpaceError
from automl.space.configspace import candidate_from_configuration, configuration_from_candidate, to_configspace


def test_structure_decided_by_a_float_cannot_be_bounded():
    @s.search_space
    def continuous(x):
        return s.substitute(lambda x, rate: s.op.dropout(x, p=rate), name="drop", rate=s.Float(0.0, 0.5))(x)

    with pytest.raises(UnboundedSpaceError, match="continuous range"):
        to_configspace(continuous)


def test_endless_recursion_cannot_be_bounded():
    def grow(x, more):
        x = s.op.relu(x)
        return s.substitute(grow, name="grow", more=s.Bool())(x) if more else x

    @s.search_space
    def recursive(x):
        return s.substitute(grow, name="grow", more=s.Bool())(x)

    with pytest.raises(UnboundedSpaceError, match="past depth"):
        to_configspace(recursive)


def test_float_decisions_inside_branches_are_fine():
    @s.search_space
    def space(x):
        return s.Or([lambda x: s.op.dropout(x, p=s.Float(0.0, 0.5)), lambda x: s.op.relu(x)])(x)

    configuration_space = to_configspace(space, seed=0)
    assert set(configuration_space) == {"or.branch", "or.0.dropout.p"}
    for configuration in configuration_space.sample_configuration(20):
        assert space.replay(candidate_from_configuration(space, configuration)).is_specified


def test_tuple_choices_survive_the_round_trip():
    @s.search_space
    def cell(x):
        a, b, c = (s.op.relu(x, name=name) for name in "abc")
        return s.InputChoice(k=2)(a, b, c)

    configuration_space = to_configspace(cell)
    candidate = cell.replay({"input_choice.inputs": (0, 2)}).decisions
    configuration = configuration_from_candidate(configuration_space, candidate)
    assert candidate_from_configuration(cell, configuration)["input_choice.inputs"] == (0, 2)


def test_decisions_inside_a_branch_stay_conditional_on_it():
    @s.search_space
    def nested(x):
        deep = lambda x: s.Repeat(lambda x: s.op.linear(x, units=s.Choice([8, 16])), times=s.Int(1, 2))(x)  # noqa: E731
        wide = lambda x: s.op.linear(x, units=s.Choice([128, 256]))  # noqa: E731
        return s.Or({"deep": deep, "wide": wide})(x)

    configuration_space = to_configspace(nested, seed=0)
    children = {condition.child.name for condition in configuration_space.conditions}
    assert "or.deep.repeat.0.linear.units" in children  # exists for every repeat count, but only in the deep branch
    for configuration in configuration_space.sample_configuration(100):
        assert nested.replay(candidate_from_configuration(nested, configuration)).is_specified
