"""An MLP: 1 to 4 layers, each with its own width, one shared activation, optional dropout."""

from automl import space as s


@s.search_space
def mlp(x):
    activation = s.Choice(["relu", "gelu", "tanh"], name="activation")  # one decision shared by every layer

    def layer(x):
        x = s.op.linear(x, units=s.Choice([32, 64, 128, 256]))
        x = s.op.activation(x, kind=activation)
        return s.Optional(lambda x: s.op.dropout(x, p=s.Float(0.0, 0.5)))(x)

    x = s.Repeat(layer, times=s.Int(1, 4))(x)
    return s.op.linear(x, units=s.OUTPUTS)
