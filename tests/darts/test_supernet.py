"""The supernet compiler: mixed ops, shared alphas, masks and clear errors (DARTS, Liu et al. 2019), and the
first-order bilevel training step of its weights and alphas."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch.nn import functional

from automl import space as s
from automl.data import DataSplits, Split
from automl.nn.mixed_ops import mixed_sum
from automl.nn.supernet import Selection, Supernet, SupernetError, build_supernet
from automl.space.errors import InvalidDecisionError
from automl.strategies.darts import SupernetSettings, SupernetTrainer
from search_spaces.darts_cell import OPERATIONS, darts_cell

SMALL = darts_cell.bind(nodes=2, cells=2, channels=8)
EDGES = ["node0_edge0", "node0_edge1", "node1_edge0", "node1_edge1", "node1_edge2"]


@s.search_space
def five_branches(x):
    """One Or whose branches can be computed by hand: relu, tanh, identity, a linear layer and DARTS' 'none'."""
    branches = {
        "relu": lambda x: s.op.relu(x),
        "tanh": lambda x: s.op.tanh(x),
        "skip": lambda x: s.op.identity(x),
        "dense": lambda x: s.op.linear(x, units=4),
        "zero": lambda x: s.op.zero(x),
    }
    return s.op.linear(s.Or(branches, name="edge")(x), units=s.OUTPUTS)


def _supernet(space=SMALL, **options):
    torch.manual_seed(0)
    return build_supernet(space, (1, 8, 8), 10, **options)


def _alpha_gradients(supernet: Supernet, batch: torch.Tensor) -> list[torch.Tensor]:
    alphas = supernet.architecture_parameters()
    gradients = torch.autograd.grad(supernet(batch).sum(), alphas, allow_unused=True)
    return [torch.zeros_like(alpha) if gradient is None else gradient for alpha, gradient in zip(alphas, gradients)]


def _without_alpha_gradient_through(supernet: Supernet, cell: str) -> Supernet:
    """A copy in which the mixed ops of ``cell`` use their branch weights as constants (detached)."""
    clone = copy.deepcopy(supernet)
    graph = clone.network.graph
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target is mixed_sum and node.args[1].name.startswith(f"{cell}__"):
            with graph.inserting_before(node):
                constant = graph.call_method("detach", (node.args[0],))
            node.args = (constant, *node.args[1:])
    clone.network.recompile()
    return clone


def _random_splits() -> DataSplits:
    """40 rows of 4 features and 3 random classes, used as every split (the training tests never validate)."""
    rng = np.random.default_rng(0)
    train = Split(rng.normal(size=(40, 4)).astype(np.float32), rng.integers(0, 3, size=40))
    return DataSplits(train, train, train, "classification", 3, (4,), ["a", "b", "c", "d"])


def test_one_alpha_per_decision_shared_across_cells() -> None:
    supernet = _supernet()
    paths = [decision.path for decision in supernet.operation_decisions]
    assert paths == EDGES
    for decision in supernet.operation_decisions:
        assert decision.places == (
            f"cell0.node{decision.path[4]}.input_{decision.path[-1]}.op",
            f"cell1.node{decision.path[4]}.input_{decision.path[-1]}.op",
        )
        assert decision.candidates == tuple(OPERATIONS)
        assert decision.zero_candidates == ("none",)
        assert supernet.alpha(decision.path).shape == (len(OPERATIONS),)  # one architecture weight per branch
    assert len(supernet.architecture_parameters()) == 5
    # one mixed op per Or (5 edges in each of the 2 cells), each summing all 8 branches
    mixed_ops = [node for node in supernet.network.graph.nodes if node.target is mixed_sum]
    assert len(mixed_ops) == 10 and all(len(node.args) == 1 + len(OPERATIONS) for node in mixed_ops)
    # the gradient of one shared alpha collects both cells: it is the sum of what cell0's mixed op and what
    # cell1's mixed op contribute, and each contributes
    batch = torch.randn(4, 1, 8, 8)
    both = _alpha_gradients(supernet, batch)
    only_cell0 = _alpha_gradients(_without_alpha_gradient_through(supernet, "cell1"), batch)
    only_cell1 = _alpha_gradients(_without_alpha_gradient_through(supernet, "cell0"), batch)
    for path, total, cell0, cell1 in zip(EDGES, both, only_cell0, only_cell1):
        assert cell0.abs().sum() > 0 and cell1.abs().sum() > 0, path
        torch.testing.assert_close(total, cell0 + cell1, rtol=1e-4, atol=1e-6, msg=path)
    inputs = {decision.path: decision for decision in supernet.input_decisions}
    assert inputs["node1_inputs"].positions == 3 and inputs["node1_inputs"].k == 2
    assert inputs["node1_inputs"].edge_operations == (("node1_edge0",), ("node1_edge1",), ("node1_edge2",))


def test_mixed_op_is_the_softmax_alpha_weighted_sum_of_its_branches() -> None:
    torch.manual_seed(0)
    supernet = build_supernet(five_branches, (4,), 3)
    candidates = supernet.operation_decision("edge.branch").candidates
    assert candidates == ("relu", "tanh", "skip", "dense", "zero")
    alpha = [0.5, -1.0, 2.0, 0.0, 1.0]
    with torch.no_grad():
        supernet.alpha("edge.branch").copy_(torch.tensor(alpha))
    total = sum(math.exp(value) for value in alpha)
    weights = [math.exp(value) / total for value in alpha]
    assert supernet.operation_weights("edge.branch").tolist() == pytest.approx(weights)

    x = torch.randn(6, 4)
    dense, head = supernet.network.get_submodule("edge__dense__linear"), supernet.network.get_submodule("linear")
    with torch.no_grad():
        outputs = {
            "relu": torch.relu(x),
            "tanh": torch.tanh(x),
            "skip": x,
            "dense": functional.linear(x, dense.weight, dense.bias),
            "zero": torch.zeros_like(x),
        }
        branches = [outputs[name] for name in candidates]

        def by_hand(branch_weights: list[float]) -> torch.Tensor:
            mixed = sum(weight * branch for weight, branch in zip(branch_weights, branches))
            return functional.linear(mixed, head.weight, head.bias)

        torch.testing.assert_close(supernet(x), by_hand(weights))
        # masking (DARTS-PT's perturbation) zeroes one weight and leaves the others as they were, not renormalised
        with supernet.without_operation("edge.branch", "skip"):
            masked = [0.0 if name == "skip" else weight for name, weight in zip(candidates, weights)]
            assert supernet.operation_weights("edge.branch").tolist() == pytest.approx(masked)
            torch.testing.assert_close(supernet(x), by_hand(masked))
        supernet.freeze_operation("edge.branch", "dense")  # a frozen edge is the kept op alone, weight 1
        torch.testing.assert_close(supernet(x), by_hand([0.0, 0.0, 0.0, 1.0, 0.0]))


def test_masking_freezing_and_dropping_change_the_output() -> None:
    supernet = _supernet().eval()
    batch = torch.randn(6, 1, 8, 8)
    softmax = torch.softmax(supernet.alpha("node0_edge0").detach(), dim=-1)
    with torch.no_grad():
        before = supernet(batch)
        with supernet.without_operation("node0_edge0", "sep_conv_3x3"):
            masked = supernet(batch)
            weights = supernet.operation_weights("node0_edge0")
        after = supernet(batch)
    assert not torch.allclose(before, masked)
    assert torch.allclose(before, after)
    assert weights[0] == 0 and torch.equal(weights[1:], softmax[1:])  # the others keep their softmax weight
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


def test_first_order_bilevel_step_alphas_on_one_half_then_weights_on_the_other() -> None:
    data = _random_splits()
    torch.manual_seed(0)
    supernet = build_supernet(five_branches, (4,), 3)
    with torch.no_grad():
        supernet.alpha("edge.branch").copy_(torch.tensor([0.5, -1.0, 2.0, 0.0, 1.0]))
    before = copy.deepcopy(supernet)
    # a batch holds a whole half, so an epoch is one step; the clip is small enough to act on this step, and the
    # alphas move enough for the weight step to tell whether it ran at the old or the new alphas
    settings = SupernetSettings(
        epochs=1, batch_size=64, learning_rate=0.1, gradient_clip=0.1, architecture_learning_rate=0.5, finetune_epochs=0
    )
    trainer = SupernetTrainer(supernet, data, settings, "cpu", seed=0)
    # the training split is cut in two halves, one for the weights and one for the alphas
    weight_rows = {tuple(row) for row in trainer.weight_features.tolist()}
    architecture_rows = {tuple(row) for row in trainer.architecture_features.tolist()}
    assert len(weight_rows) == len(architecture_rows) == 20 and not weight_rows & architecture_rows
    alpha_gradients: list[torch.Tensor] = []
    step = trainer.architecture_optimizer.step

    def recording_step() -> None:
        alpha_gradients.append(supernet.alpha("edge.branch").grad.clone())
        step()

    trainer.architecture_optimizer.step = recording_step
    assert trainer.train(1) == 1 and trainer.steps == 1

    # architecture step, by hand: the gradient on the architecture half at the initial weights, then Adam's
    # first step (bias-corrected: lr * g / (|g| + eps), g including the weight decay); the weights do not move
    alpha = before.alpha("edge.branch")
    loss = functional.cross_entropy(before(trainer.architecture_features), trainer.architecture_target)
    (gradient,) = torch.autograd.grad(loss, [alpha])
    assert len(alpha_gradients) == 1
    torch.testing.assert_close(alpha_gradients[0], gradient)
    decayed = gradient + settings.architecture_weight_decay * alpha.detach()
    expected_alpha = alpha.detach() - settings.architecture_learning_rate * decayed / (decayed.abs() + 1e-8)
    torch.testing.assert_close(supernet.alpha("edge.branch").detach(), expected_alpha)

    # weight step, by hand: the gradient on the weight half at the NEW alphas, clipped, SGD with weight decay
    # (momentum's first step is the gradient itself); the alphas do not move
    with torch.no_grad():
        alpha.copy_(expected_alpha)
    weights = before.weight_parameters()
    loss = functional.cross_entropy(before(trainer.weight_features), trainer.weight_target)
    gradients = torch.autograd.grad(loss, weights)
    norm = torch.sqrt(sum((gradient**2).sum() for gradient in gradients))
    clip = settings.gradient_clip / (float(norm) + 1e-6)
    assert clip < 1.0
    for trained, weight, gradient in zip(supernet.weight_parameters(), weights, gradients):
        value = weight.detach()
        expected = value - settings.learning_rate * (clip * gradient + settings.weight_decay * value)
        torch.testing.assert_close(trained.detach(), expected)


def _train_for_two_epochs(weights_rate: float, alphas_rate: float, relabel: str | None = None) -> Supernet:
    """The supernet of ``_random_splits`` after 2 epochs of 3 steps; ``relabel`` shifts one half's classes."""
    torch.manual_seed(0)
    supernet = build_supernet(five_branches, (4,), 3)
    settings = SupernetSettings(
        epochs=2, batch_size=8, learning_rate=weights_rate, architecture_learning_rate=alphas_rate, finetune_epochs=0
    )
    trainer = SupernetTrainer(supernet, _random_splits(), settings, "cpu", seed=0)
    if relabel is not None:
        setattr(trainer, f"{relabel}_target", (getattr(trainer, f"{relabel}_target") + 1) % 3)
    assert trainer.train(2) == 2 and trainer.steps == 6
    return supernet


def test_over_many_steps_alphas_learn_only_from_their_half_and_weights_only_from_theirs() -> None:
    torch.manual_seed(0)
    initial = build_supernet(five_branches, (4,), 3)
    initial_alpha = initial.alpha("edge.branch").detach()

    # weights frozen (learning rate 0): only the alphas move, and the weight half's labels never reach them
    alphas_only = _train_for_two_epochs(weights_rate=0.0, alphas_rate=0.5)
    for trained, weight in zip(alphas_only.weight_parameters(), initial.weight_parameters()):
        assert torch.equal(trained, weight)
    assert not torch.equal(alphas_only.alpha("edge.branch"), initial_alpha)
    relabelled = _train_for_two_epochs(weights_rate=0.0, alphas_rate=0.5, relabel="weight")
    assert torch.equal(relabelled.alpha("edge.branch"), alphas_only.alpha("edge.branch"))

    # alphas frozen: only the weights move, and the architecture half's labels never reach them
    weights_only = _train_for_two_epochs(weights_rate=0.1, alphas_rate=0.0)
    assert torch.equal(weights_only.alpha("edge.branch"), initial_alpha)
    relabelled = _train_for_two_epochs(weights_rate=0.1, alphas_rate=0.0, relabel="architecture")
    for trained, weight, other in zip(
        weights_only.weight_parameters(), initial.weight_parameters(), relabelled.weight_parameters()
    ):
        assert not torch.equal(trained, weight) and torch.equal(trained, other)


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
    with pytest.raises(InvalidDecisionError, match=r"act\.branch.*'sigmoid'"):
        supernet.candidate(Selection({"act.branch": "sigmoid"}, {}))


def test_cell_candidate_has_exactly_the_decisions_of_the_selected_cell() -> None:
    supernet = _supernet()
    operations = dict(zip(EDGES, ["skip_connect", "sep_conv_3x3", "max_pool_3x3", "dil_conv_5x5", "avg_pool_3x3"]))
    candidate = supernet.candidate(Selection(operations, {"node0_inputs": (0, 1), "node1_inputs": (0, 2)}))
    # node1 does not take input 1, so its edge's operation is no decision of this cell
    assert dict(candidate) == {
        "node0_inputs": (0, 1),
        "node0_edge0": "skip_connect",
        "node0_edge1": "sep_conv_3x3",
        "node1_inputs": (0, 2),
        "node1_edge0": "max_pool_3x3",
        "node1_edge2": "avg_pool_3x3",
    }
    SMALL.replay(candidate)


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
