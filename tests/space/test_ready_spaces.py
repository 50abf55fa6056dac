"""Property tests over every ready space: random candidates are valid, compile, and replay identically."""

import math

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automl.nn import compile_architecture
from automl.space import Candidate
from automl.space.configspace import candidate_from_configuration, configuration_from_candidate, to_configspace

SPACES = ["mlp", "tabular", "cnn", "darts_cell"]
seeds = st.integers(0, 2**32 - 1)


@pytest.mark.parametrize("name", SPACES)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=seeds)
def test_random_candidates_are_valid_and_replay_identically(ready_spaces, name, seed):
    space, _ = ready_spaces[name]
    architecture = space.sample(np.random.default_rng(seed))
    assert architecture.is_specified
    candidate = Candidate.from_json(Candidate(architecture.decisions).to_json())
    again = space.replay(candidate)
    assert nx.utils.graphs_equal(architecture.to_networkx(), again.to_networkx())
    for path, value in candidate.items():
        assert again.hyperparameter_at(path).contains(value)


@pytest.mark.parametrize("name", SPACES)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=seeds, batch=st.integers(2, 5))
def test_random_candidates_compile_and_give_the_output_shape(ready_spaces, name, seed, batch):
    space, shape = ready_spaces[name]
    compiled = compile_architecture(space.sample(np.random.default_rng(seed)), shape, num_outputs=7)
    output = compiled.module(torch.randn(batch, *shape))
    assert output.shape == (batch, 7)
    assert compiled.parameter_count == sum(parameter.numel() for parameter in compiled.module.parameters())


@pytest.mark.parametrize("name", SPACES)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=seeds)
def test_unchosen_branches_contribute_no_decisions(ready_spaces, name, seed):
    space, _ = ready_spaces[name]
    decisions = space.sample(np.random.default_rng(seed)).decisions
    for path, value in decisions.items():
        if path.endswith(".branch"):
            scope = path.removesuffix(".branch")
            inside = {
                other.removeprefix(scope + ".").split(".")[0] for other in decisions if other.startswith(scope + ".")
            }
            assert inside <= {"branch", str(value)}
        if path.endswith(".times"):
            scope = path.removesuffix(".times")
            copies = {
                other.removeprefix(scope + ".").split(".")[0] for other in decisions if other.startswith(scope + ".")
            }
            assert copies <= {"times", *map(str, range(value))}
        if path.endswith(".present") and value is False:
            scope = path.removesuffix(".present")
            assert not [other for other in decisions if other.startswith(scope + ".") and other != path]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=seeds)
def test_a_shared_hyperparameter_is_one_decision(ready_spaces, seed):
    mlp, _ = ready_spaces["mlp"]
    architecture = mlp.sample(np.random.default_rng(seed))
    assert list(architecture.decisions).count("activation") == 1
    kinds = {
        data["hyperparameters"]["kind"]
        for _, data in architecture.to_networkx().nodes(data=True)
        if data["kind"] == "activation"
    }
    assert kinds == {architecture.decisions["activation"]}  # every layer follows the one decision
    darts, _ = ready_spaces["darts_cell"]
    decisions = darts.sample(np.random.default_rng(seed)).decisions
    assert not any(path.startswith("cell") for path in decisions)  # both cells follow one genotype


@pytest.mark.parametrize("name", SPACES)
def test_every_configuration_maps_to_a_valid_candidate(ready_spaces, name):
    space, _ = ready_spaces[name]
    configuration_space = to_configspace(space, seed=1)
    for configuration in configuration_space.sample_configuration(200):
        candidate = candidate_from_configuration(space, configuration)
        assert space.replay(candidate).is_specified


@pytest.mark.parametrize("name", SPACES)
def test_every_candidate_maps_to_a_valid_configuration(ready_spaces, name):
    space, _ = ready_spaces[name]
    configuration_space = to_configspace(space, seed=1)
    rng = np.random.default_rng(2)
    for _ in range(200):
        candidate = space.sample_candidate(rng)
        configuration = configuration_from_candidate(configuration_space, candidate)
        configuration.check_valid_configuration()
        back = candidate_from_configuration(space, configuration)
        assert list(back) == list(candidate)
        for path, value in candidate.items():
            if isinstance(value, float):  # ConfigSpace keeps floats to about 13 digits
                assert math.isclose(back[path], value, rel_tol=1e-6)
            else:
                assert back[path] == value


def test_configspace_conditions_follow_branches(ready_spaces):
    space, _ = ready_spaces["cnn"]
    configuration_space = to_configspace(space)
    parents = {condition.child.name: condition for condition in configuration_space.conditions}
    assert "repeat.1.or.branch" in parents  # the second block exists only for repeat counts >= 2
    assert set(parents["repeat.1.or.branch"].values) == {2, 3}
    assert parents["optional.dropout.p"].parent.name == "optional.present"
    assert parents["optional.dropout.p"].value is True
