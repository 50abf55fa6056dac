"""The supernet compiler: mixed ops, shared alphas, masks and clear errors (DARTS, Liu et al. 2019)."""

from __future__ import annotations

import pytest
import torch

from automl import space as s
from automl.nn.supernet import Selection, SupernetError, build_supernet
from search_spaces.darts_cell import OPERATIONS, darts_cell

SMALL = darts_cell.bind(nodes=2, cells=2, channels=8)


def _supernet(space=SMALL, **options):
    torch.manual_seed(0)
    return build_supernet(space, (1, 8, 8), 10, **options)


def test_one_alpha_per_decision_shared_across_cells() -> None:
    supernet = _supernet()
    paths = [decision.path for decision in supernet.operation_decisions]
    assert paths == ["node0_edge0", "node0_edge1", "node1_edge0", "node1_edge1", "node1_edge2"]
    for decision in supernet.operation_decisions:
        assert decision.places == (
            f"cell0.node{decision.path[4]}.input_{decision.path[-1]}.op",
            f"cell1.node{decision.path[4]}.input_{decision.path[-1]}.op",
        )
        assert decision.candidates == tuple(OPERATIONS)
        assert decision.zero_candidates == ("none",)
    assert len(supernet.architecture_parameters()) == 5
    # the gradient of one shared alpha collects both cells: zeroing cell1's contribution changes it
    output = supernet(torch.randn(4, 1, 8, 8))
    output.sum().backward()
    assert all(alpha.grad is not None and alpha.grad.abs().sum() > 0 for alpha in supernet.architecture_parameters())
    inputs = {decision.path: decision for decision in supernet.input_decisions}
    assert inputs["node1_inputs"].positions == 3 and inputs["node1_inputs"].k == 2
    assert inputs["node1_inputs"].edge_operations == (("node1_edge0",), ("node1_edge1",), ("node1_edge2",))


def test_masking_freezing_and_dropping_change_the_output() -> None:
    supernet = _supernet().eval()
    batch = torch.randn(6, 1, 8, 8)
    with torch.no_grad():
        before = supernet(batch)
        with supernet.without_operation("node0_edge0", "sep_conv_3x3"):
            masked = supernet(batch)
            weights = supernet.operation_weights("node0_edge0")
        after = supernet(batch)
    assert not torch.allclose(before, masked)
    assert torch.allclose(before, after)
    assert weights[0] == 0 and torch.all(weights[1:] > 0)
    supernet.mask_operation("node0_edge0", "none")  # masking 'none' leaves the output as it is
    with torch.no_grad():
        assert torch.allclose(before, supernet(batch), atol=1e-6)
    supernet.freeze_operation("node0_edge1", "skip_connect")
    assert supernet.frozen_operation("node0_edge1") == "skip_connect"
    assert supernet.operation_weights("node0_edge1").tolist() == [0, 0, 0, 0, 0, 0, 1, 0]
    with torch.no_grad():
        frozen = supernet(batch)
        supernet.drop_input("node1_inputs", 0)
        dropped = supernet(batch)
    assert not torch.allclose(before, frozen) and not torch.allclose(frozen, dropped)
    assert supernet.active_inputs("node1_inputs") == (1, 2)


def test_candidate_replays_and_has_fixed_values() -> None:
    @s.search_space
    def stacked(x):
        x = s.op.linear(x, units=s.Choice([4, 8], name="width"))
        x = s.Or({"relu": lambda x: s.op.relu(x), "tanh": lambda x: s.op.tanh(x)}, name="act")(x)
        x = s.Repeat(lambda x: s.op.relu(s.op.linear(x, units=8)), times=s.Int(1, 3), name="stack")(x)
        return s.op.linear(x, units=s.OUTPUTS)

    supernet = build_supernet(stacked, (5,), 3, fixed={"width": 8, "stack.times": 2})
    assert supernet.fixed_values == {"width": 8, "stack.times": 2}
    assert supernet(torch.randn(2, 5)).shape == (2, 3)
    candidate = supernet.candidate(Selection({"act.branch": "tanh"}, {}))
    assert dict(candidate) == {"width": 8, "act.branch": "tanh", "stack.times": 2}
    stacked.replay(candidate)


def test_or_with_different_output_shapes_is_a_clear_error() -> None:
    @s.search_space
    def mismatched(x):
        x = s.Or({"narrow": lambda x: s.op.linear(x, units=4), "wide": lambda x: s.op.linear(x, units=8)})(x)
        return s.op.linear(x, units=s.OUTPUTS)

    with pytest.raises(SupernetError, match=r"'or\.branch'.*different output shapes.*'narrow': \(4,\)"):
        build_supernet(mismatched, (5,), 2)
    # fixing the decision makes it an ordinary op
    supernet = build_supernet(mismatched, (5,), 2, fixed={"or.branch": "wide"})
    assert supernet.operation_decisions == []


def test_unknown_fixed_path_and_concat_input_choice_are_errors() -> None:
    with pytest.raises(SupernetError, match="nodes_typo"):
        _supernet(fixed={"nodes_typo": 1})

    @s.search_space
    def concatenated(x):
        a, b = s.op.linear(x, units=4), s.op.linear(x, units=4)
        return s.op.linear(s.InputChoice(k=1, combine="concat", name="pick")(a, b), units=s.OUTPUTS)

    with pytest.raises(SupernetError, match=r"'pick\.inputs'"):
        build_supernet(concatenated, (3,), 2)
