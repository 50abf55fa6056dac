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
