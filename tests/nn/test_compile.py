import pytest
import torch
from torch import nn

from automl import space as s
from automl.nn import CompileError, OpSpec, compile_architecture, default_op_registry


def specified(function, decisions=None):
    space = s.search_space(function)
    return space.replay(decisions or {})


def test_mlp_matches_a_hand_written_network():
    def mlp(x):
        x = s.op.linear(x, units=32)
        x = s.op.relu(x)
        return s.op.linear(x, units=s.OUTPUTS)

    compiled = compile_architecture(specified(mlp), (10,), num_outputs=3)
    hand = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
    assert compiled.parameter_count == sum(parameter.numel() for parameter in hand.parameters())
    hand[0].load_state_dict(compiled.module.linear.state_dict())
    hand[2].load_state_dict(compiled.module.linear_1.state_dict())
    inputs = torch.randn(4, 10)
    assert torch.allclose(compiled.module(inputs), hand(inputs))


def test_residual_and_concat_on_images():
    def network(x):
        x = s.op.conv2d(x, filters=8, kernel=3)
        y = s.op.relu(s.op.conv2d(x, filters=8, kernel=5))
        x = s.op.add(x, y)
        x = s.op.concat(x, s.op.max_pool(x, kernel=3, stride=1, padding=1))
        x = s.op.batchnorm(x)
        x = s.op.global_avg_pool(x)
        return s.op.linear(x, units=s.OUTPUTS)

    compiled = compile_architecture(specified(network), (3, 8, 8), num_outputs=5)
    assert compiled.module(torch.randn(2, 3, 8, 8)).shape == (2, 5)
    assert compiled.output_shapes == [(5,)]


def test_shape_mismatch_names_the_op_path():
    def broken(x):
        a = s.op.linear(x, units=4)
        b = s.op.linear(x, units=5)
        return s.op.add(a, b)

    with pytest.raises(CompileError, match=r"add.*one shape"):
        compile_architecture(specified(broken), (3,))


def test_unknown_op_lists_known_ops():
    def unknown(x):
        return s.op.convolution(x, filters=3)

    with pytest.raises(CompileError, match=r"unknown op 'convolution'; known ops: .*conv2d"):
        compile_architecture(specified(unknown), (1, 4, 4))


def test_pooling_past_the_input_size_is_an_error():
    def too_much(x):
        for _ in range(4):
            x = s.op.max_pool(x, kernel=2)
        return x

    with pytest.raises(CompileError, match="max_pool"):
        compile_architecture(specified(too_much), (1, 8, 8))


def test_ops_a_plugin_registers_compile():
    registry = default_op_registry()

    class Square(nn.Module):
        def forward(self, tensor):
            return tensor * tensor

    registry.register(OpSpec("square", lambda shapes: Square(), "element-wise square"))

    def network(x):
        return s.op.square(x)

    compiled = compile_architecture(specified(network), (3,), registry=registry)
    assert torch.equal(compiled.module(torch.full((1, 3), 3.0)), torch.full((1, 3), 9.0))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(OpSpec("square", lambda shapes: Square(), ""))


def test_unused_modules_are_not_compiled():
    def dangling(x):
        s.op.linear(x, units=100, name="unused")
        return s.op.linear(x, units=2)

    compiled = compile_architecture(specified(dangling), (3,))
    assert compiled.parameter_count == 3 * 2 + 2


def test_compiled_module_exports_with_torch_export():
    def network(x):
        return s.op.linear(s.op.gelu(s.op.linear(x, units=8)), units=2)

    compiled = compile_architecture(specified(network), (4,))
    program = torch.export.export(compiled.module.eval(), (torch.randn(2, 4),))
    inputs = torch.randn(2, 4)
    assert torch.allclose(program.module()(inputs), compiled.module(inputs))


def test_one_emission_loop_serves_special_nodes_and_lazy_values():
    """``emit_graph_module``, shared by compile_graph and the supernet: hooks emit nodes and resolve values."""
    import networkx as nx

    from automl.nn.compile import emit_graph_module

    graph = nx.DiGraph(inputs=["x"], outputs=["double"])
    graph.add_node("layer.one", kind="linear", hyperparameters={"units": "width"}, inputs=["x"])
    graph.add_node("double", kind="twice", hyperparameters={}, inputs=["layer.one"])
    graph.add_node("unused", kind="no_such_op", hyperparameters={}, inputs=["x"])
    graph.add_edges_from([("x", "layer.one"), ("layer.one", "double"), ("x", "unused")])

    def twice(fx_graph, path, attributes, arguments, inputs):
        if attributes["kind"] != "twice":
            return None
        return fx_graph.call_function(torch.mul, (arguments[0], fx_graph.get_attr("factor"))), inputs[0]

    root = nn.Module()
    root.register_buffer("factor", torch.full((1,), 2.0))
    module, shapes = emit_graph_module(
        graph,
        {"x": (3,)},
        None,
        default_op_registry(),
        class_name="Emitted",
        root=root,
        values_of=lambda path, values: {"units": 5 if values["units"] == "width" else 0},
        emit_special=twice,
    )
    assert type(module).__name__ == "Emitted" and shapes == [(5,)]
    assert [name for name, _ in module.named_children()] == ["layer__one"]  # '.' is not allowed in submodule names
    assert torch.equal(module.factor, torch.full((1,), 2.0))  # the root's attributes that the graph reads
    inputs = torch.randn(2, 3)
    assert torch.allclose(module(inputs), 2 * module.layer__one(inputs))


# ---------------------------------------------------------------------------------------------------------------
# The compiled module computes what the candidate decided: widths, kernels, the chosen branch, shared values, skips.


def op_sequence(module: torch.fx.GraphModule) -> list[str]:
    """The compiled forward's ops in execution order, each with the sizes a decision sets."""
    sequence = []
    for node in module.graph.nodes:
        if node.op == "call_module":
            sequence.append(describe(module.get_submodule(node.target)))
        elif node.op == "call_function":
            sequence.append(node.target.__name__)
    return sequence


def op_graph(module: torch.fx.GraphModule) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The compiled forward as a DAG: each op node's description and the nodes it reads, in argument order."""
    graph = {}
    for node in module.graph.nodes:
        if node.op == "call_module":
            graph[node.name] = (describe(module.get_submodule(node.target)), tuple(map(str, node.args)))
        elif node.op == "call_function":
            graph[node.name] = (node.target.__name__, tuple(map(str, node.args)))
    return graph


def describe(layer: nn.Module) -> str:
    if isinstance(layer, nn.Linear):
        return f"Linear({layer.in_features}->{layer.out_features})"
    if isinstance(layer, nn.Conv2d):
        return f"Conv2d({layer.in_channels}->{layer.out_channels}, k={layer.kernel_size[0]})"
    if isinstance(layer, nn.Dropout):
        return f"Dropout({layer.p})"
    return type(layer).__name__


def test_mlp_candidate_compiles_to_its_widths_its_shared_activation_and_its_dropout() -> None:
    """Every decision of the README's MLP shows in the module: each layer's units, the one shared activation
    in both layers, dropout only where present and with its rate; the parameter count is the hand-computed one."""
    from search_spaces.mlp import mlp

    candidate = {
        "repeat.times": 2,
        "repeat.0.linear.units": 64,
        "repeat.1.linear.units": 256,
        "activation": "tanh",
        "repeat.0.optional.present": True,
        "repeat.0.optional.dropout.p": 0.25,
        "repeat.1.optional.present": False,
    }
    compiled = compile_architecture(mlp.replay(candidate), (20,), num_outputs=7)
    module = compiled.module
    assert op_sequence(module) == [
        "Linear(20->64)",
        "Tanh",
        "Dropout(0.25)",
        "Linear(64->256)",
        "Tanh",
        "Linear(256->7)",
    ]
    expected = (20 * 64 + 64) + (64 * 256 + 256) + (256 * 7 + 7)
    assert compiled.parameter_count == expected == sum(parameter.numel() for parameter in module.parameters())
    module.eval()  # dropout off: the network is the plain composition of its layers
    inputs = torch.randn(5, 20)
    hand = module.linear(torch.tanh(module.repeat__1__linear(torch.tanh(module.repeat__0__linear(inputs)))))
    assert torch.allclose(module(inputs), hand)


@s.search_space
def residual_or_towers(x):
    """The docs' residual MLP: a shared width, an Or of a residual block (with a skip) and two towers."""
    width = s.Choice([32, 64], name="width")
    x = s.op.linear(x, units=width, name="stem")

    def residual(x):
        h = s.op.linear(x, units=width)
        h = s.op.relu(h)
        h = s.op.linear(h, units=width)
        return s.op.add(x, h)

    def two_towers(x):
        left = s.op.relu(s.op.linear(x, units=16))
        right = s.op.tanh(s.op.linear(x, units=16))
        return s.op.concat(left, right)

    x = s.Or({"residual": residual, "towers": two_towers}, name="block")(x)
    return s.op.linear(x, units=s.OUTPUTS, name="head")


def test_the_chosen_or_branch_and_only_it_is_compiled() -> None:
    """Each branch of the Or compiles to its own wiring (the skip into the add, the towers into the concat), the
    shared width sets the stem and both linears of the residual block, and the other branch is absent."""
    residual = compile_architecture(residual_or_towers.replay({"width": 64, "block.branch": "residual"}), (6,), 3)
    towers = compile_architecture(residual_or_towers.replay({"width": 32, "block.branch": "towers"}), (6,), 3)
    assert op_graph(residual.module) == {
        "stem": ("Linear(6->64)", ("x",)),
        "block__residual__linear": ("Linear(64->64)", ("stem",)),
        "block__residual__relu": ("ReLU", ("block__residual__linear",)),
        "block__residual__linear_1": ("Linear(64->64)", ("block__residual__relu",)),
        "add_tensors": ("add_tensors", ("stem", "block__residual__linear_1")),
        "head": ("Linear(64->3)", ("add_tensors",)),
    }
    assert op_graph(towers.module) == {
        "stem": ("Linear(6->32)", ("x",)),
        "block__towers__linear": ("Linear(32->16)", ("stem",)),
        "block__towers__linear_1": ("Linear(32->16)", ("stem",)),
        "block__towers__relu": ("ReLU", ("block__towers__linear",)),
        "block__towers__tanh": ("Tanh", ("block__towers__linear_1",)),
        "concat_tensors": ("concat_tensors", ("block__towers__relu", "block__towers__tanh")),
        "head": ("Linear(32->3)", ("concat_tensors",)),
    }
    assert residual.parameter_count == (6 * 64 + 64) + 2 * (64 * 64 + 64) + (64 * 3 + 3)
    assert towers.parameter_count == (6 * 32 + 32) + 2 * (32 * 16 + 16) + (32 * 3 + 3)


def test_residual_skip_adds_the_block_input_to_its_output() -> None:
    """The skip edge is live: the output is head(stem + f(stem)), not head(f(stem))."""
    compiled = compile_architecture(residual_or_towers.replay({"width": 32, "block.branch": "residual"}), (6,), 3)
    module = compiled.module
    inputs = torch.randn(4, 6)
    stem = module.stem(inputs)
    block = module.block__residual__linear_1(torch.relu(module.block__residual__linear(stem)))
    assert torch.allclose(module(inputs), module.head(stem + block), atol=1e-6)


def test_towers_concatenate_both_branches_in_their_order() -> None:
    compiled = compile_architecture(residual_or_towers.replay({"width": 32, "block.branch": "towers"}), (6,), 3)
    module = compiled.module
    inputs = torch.randn(4, 6)
    stem = module.stem(inputs)
    left = torch.relu(module.block__towers__linear(stem))
    right = torch.tanh(module.block__towers__linear_1(stem))
    assert torch.allclose(module(inputs), module.head(torch.cat([left, right], dim=1)), atol=1e-6)


@s.search_space
def picking_cell(x):
    """The docs' InputChoice cell: two of three wires, each through a relu or a skip, added."""
    a = s.op.linear(x, units=8, name="a")
    b = s.op.linear(x, units=8, name="b")
    c = s.op.linear(x, units=8, name="c")

    def edge(wire, position):
        return s.Or({"relu": s.op.relu, "skip": s.op.identity}, name="op")(wire)

    y = s.InputChoice(k=2, combine="add", transform=edge, name="pick")(a, b, c)
    return s.op.linear(y, units=s.OUTPUTS, name="head")


def test_input_choice_compiles_the_chosen_inputs_through_their_chosen_edges() -> None:
    decisions = {"pick.inputs": (0, 2), "pick.input_0.op.branch": "relu", "pick.input_2.op.branch": "skip"}
    compiled = compile_architecture(picking_cell.replay(decisions), (5,), num_outputs=2)
    module = compiled.module
    children = {name for name, _ in module.named_children()}
    assert {"a", "c", "head"} <= children and "b" not in children  # the unchosen input is not compiled
    assert compiled.parameter_count == 2 * (5 * 8 + 8) + (8 * 2 + 2)
    inputs = torch.randn(3, 5)
    before = module(inputs)
    with torch.no_grad():
        module.c.bias.add_(1.0)  # only the input of the skip edge changes
    assert not torch.allclose(module(inputs), before, atol=1e-3)
    assert torch.allclose(module(inputs), module.head(torch.relu(module.a(inputs)) + module.c(inputs)), atol=1e-6)


def test_cnn_candidate_compiles_its_shared_width_and_chosen_kernel() -> None:
    """The ready CNN: the shared ``width`` sets the stem and the block's filters, the block's kernel its
    convolution, the residual branch adds the block input; the parameter count is the hand-computed one."""
    from search_spaces.cnn import cnn

    candidate = {
        "training.learning_rate": 0.01,
        "width": 16,
        "repeat.times": 1,
        "repeat.0.or.branch": "residual",
        "repeat.0.or.residual.conv2d.kernel": 5,
        "repeat.0.optional.present": False,
        "optional.present": False,
    }
    compiled = compile_architecture(cnn.replay(candidate), (1, 8, 8), num_outputs=10)
    assert op_sequence(compiled.module) == [
        "Conv2d(1->16, k=3)",
        "BatchNorm2d",
        "ReLU",
        "Conv2d(16->16, k=5)",
        "BatchNorm2d",
        "ReLU",
        "add_tensors",
        "Sequential",  # global average pooling and flatten
        "Linear(16->10)",
    ]
    stem = 1 * 16 * 3 * 3 + 16
    block = 16 * 16 * 5 * 5 + 16
    batchnorms = 2 * (2 * 16)  # weight and bias of each (running statistics are buffers)
    assert compiled.parameter_count == stem + block + batchnorms + (16 * 10 + 10)


def test_derived_hyperparameter_reaches_the_compiled_layer() -> None:
    @s.search_space
    def bottleneck(x):
        width = s.Choice([16, 32], name="width")
        x = s.op.linear(x, units=width)
        x = s.op.linear(x, units=s.Derived(lambda w: 2 * w, w=width))
        return s.op.linear(x, units=s.OUTPUTS)

    compiled = compile_architecture(bottleneck.replay({"width": 32}), (4,), num_outputs=1)
    assert op_sequence(compiled.module) == ["Linear(4->32)", "Linear(32->64)", "Linear(64->1)"]
