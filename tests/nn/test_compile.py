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
