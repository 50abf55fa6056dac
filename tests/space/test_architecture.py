"""The space language: sharing, lazy unfolding, traversal, replay and its errors."""

import networkx as nx
import numpy as np
import pytest

from automl import space as s
from automl.space import Candidate, InvalidDecisionError, SpaceError


@s.search_space
def branching(x):
    shared = s.Choice([8, 16], name="width")
    x = s.op.linear(x, units=shared)
    x = s.Or(
        {
            "wide": lambda x: s.op.linear(x, units=s.Choice([64, 128])),
            "deep": lambda x: s.Repeat(lambda x: s.op.linear(x, units=shared), times=s.Int(1, 3))(x),
        }
    )(x)
    return s.op.linear(x, units=s.OUTPUTS)


def test_first_decisions_are_the_top_level_ones():
    architecture = branching.new()
    assert [path for path, _ in architecture.open_decisions()] == ["width", "or.branch"]


def test_unchosen_branch_contributes_no_decisions():
    architecture = branching.new()
    architecture.assign("width", 8)
    architecture.assign("or.branch", "wide")
    assert [path for path, _ in architecture.open_decisions()] == ["or.wide.linear.units"]
    assert not any(path.startswith("or.deep") for path, _ in architecture.open_decisions())


def test_children_of_a_choice_take_its_place_in_the_order():
    architecture = branching.new()
    architecture.assign("or.branch", "deep")  # decided out of order, by name
    assert [path for path, _ in architecture.open_decisions()] == ["width", "or.deep.repeat.times"]
    architecture = branching.new()
    architecture.assign("width", 8)
    architecture.assign("or.branch", "deep")
    architecture.assign("or.deep.repeat.times", 2)
    assert architecture.is_specified


def test_shared_hyperparameter_is_one_decision():
    candidate = Candidate({"width": 16, "or.branch": "deep", "or.deep.repeat.times": 3})
    architecture = branching.replay(candidate)
    graph = architecture.to_networkx()
    widths = [data["hyperparameters"]["units"] for _, data in graph.nodes(data=True) if data["kind"] == "linear"]
    assert widths.count(16) == 4  # the first layer and three repeated ones follow one decision
    assert list(architecture.decisions) == ["width", "or.branch", "or.deep.repeat.times"]


def test_replay_of_json_gives_identical_graph():
    rng = np.random.default_rng(3)
    for _ in range(20):
        architecture = branching.sample(rng)
        text = Candidate(architecture.decisions).to_json()
        again = branching.replay(Candidate.from_json(text))
        assert nx.utils.graphs_equal(architecture.to_networkx(), again.to_networkx())
        assert again.decisions == architecture.decisions


def test_replay_does_not_depend_on_decision_order():
    candidate = {"or.deep.repeat.times": 2, "or.branch": "deep", "width": 8}
    assert branching.replay(candidate).decisions == {"width": 8, "or.branch": "deep", "or.deep.repeat.times": 2}


def test_value_outside_domain_names_path_and_domain():
    with pytest.raises(InvalidDecisionError, match=r"width: 12 is outside its domain, one of \[8, 16\]"):
        branching.replay({"width": 12, "or.branch": "wide", "or.wide.linear.units": 64})


def test_missing_and_extra_paths_are_named():
    with pytest.raises(InvalidDecisionError, match=r"no value for 'or\.wide\.linear\.units'"):
        branching.replay({"width": 8, "or.branch": "wide"})
    with pytest.raises(InvalidDecisionError, match=r"'or\.deep\.repeat\.times'"):
        branching.replay({"width": 8, "or.branch": "wide", "or.wide.linear.units": 64, "or.deep.repeat.times": 2})


def test_assign_unknown_path_lists_open_decisions():
    architecture = branching.new()
    with pytest.raises(InvalidDecisionError, match=r"open decisions are: width, or\.branch"):
        architecture.assign("depth", 3)


def test_two_hyperparameters_with_one_name_is_an_error():
    @s.search_space
    def clash(x):
        x = s.op.linear(x, units=s.Choice([1, 2], name="units"))
        return s.op.linear(x, units=s.Choice([3, 4], name="units"))

    with pytest.raises(SpaceError, match="two different hyperparameters are named 'units'"):
        clash.new()


def test_non_wire_input_is_an_error():
    @s.search_space
    def wrong(x):
        return s.op.linear(3, units=4)

    with pytest.raises(SpaceError, match="needs at least one input wire"):
        wrong.new()


def test_optional_absent_passes_input_through():
    @s.search_space
    def optional(x):
        return s.Optional(lambda x: s.op.dropout(x, p=0.5))(x)

    architecture = optional.replay({"optional.present": False})
    graph = architecture.to_networkx()
    assert graph.graph["outputs"] == ["x"]


def test_input_choice_picks_k_inputs_and_transforms_each():
    @s.search_space
    def cell(x):
        a = s.op.linear(x, units=4, name="a")
        b = s.op.linear(x, units=4, name="b")
        c = s.op.linear(x, units=4, name="c")
        return s.InputChoice(k=2, transform=lambda wire, position: s.op.relu(wire))(a, b, c)

    architecture = cell.new()
    path, decision = architecture.next_decision()
    assert path == "input_choice.inputs"
    assert decision.finite_values() == [(0, 1), (0, 2), (1, 2)]
    architecture.assign(path, [0, 2])
    graph = architecture.to_networkx()
    assert graph.nodes["input_choice.add"]["inputs"] == ["input_choice.input_0.relu", "input_choice.input_2.relu"]


def test_substitute_calls_user_function_with_values():
    def block(x, width, depth):
        for _ in range(depth):
            x = s.op.linear(x, units=width)
        return x

    @s.search_space
    def custom(x):
        return s.substitute(block, width=s.Choice([4, 8]), depth=s.Int(1, 3))(x)

    architecture = custom.replay({"block.width": 8, "block.depth": 3})
    kinds = [data["kind"] for _, data in architecture.to_networkx().nodes(data=True)]
    assert kinds.count("linear") == 3


def test_derived_follows_its_input():
    @s.search_space
    def derived(x):
        width = s.Choice([4, 8])
        x = s.op.linear(x, units=width)
        return s.op.linear(x, units=s.Derived(lambda units: units * 2, units=width))

    architecture = derived.replay({"linear.units": 8})
    assert architecture.to_networkx().nodes["linear_1"]["hyperparameters"]["units"] == 16


def test_substitution_with_only_constants_expands_at_once():
    @s.search_space
    def fixed(x):
        return s.Repeat(lambda x: s.op.relu(x), times=2)(x)

    architecture = fixed.new()
    assert architecture.is_specified
    assert [node for node in architecture.to_networkx().nodes] == ["x", "repeat.0.relu", "repeat.1.relu"]


def test_architectures_of_one_space_are_independent():
    first, second = branching.new(), branching.new()
    first.assign("width", 8)
    assert [path for path, _ in second.open_decisions()] == ["width", "or.branch"]


def test_space_function_without_inputs_is_an_error():
    with pytest.raises(SpaceError, match="needs at least one input"):
        s.search_space(lambda: None)
