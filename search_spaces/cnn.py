"""A CNN for small images: a stem, 1 to 3 conv blocks (plain or residual, optional pooling), a pooled head."""

from automl import space as s


@s.search_space
def cnn(x):
    width = s.Choice([16, 32, 48], name="width")
    x = s.training(x, learning_rate=s.Float(1e-3, 3e-2, log=True))
    x = s.op.conv2d(x, filters=width, kernel=3)
    x = s.op.batchnorm(x)
    x = s.op.relu(x)

    def convolution(x):
        x = s.op.conv2d(x, filters=width, kernel=s.Choice([3, 5]))
        x = s.op.batchnorm(x)
        return s.op.relu(x)

    def residual(x):
        return s.op.add(x, convolution(x))

    def block(x):
        x = s.Or({"plain": convolution, "residual": residual})(x)
        return s.Optional(lambda x: s.op.max_pool(x, kernel=2))(x)

    x = s.Repeat(block, times=s.Int(1, 3))(x)
    x = s.op.global_avg_pool(x)
    x = s.Optional(lambda x: s.op.dropout(x, p=s.Choice([0.1, 0.3, 0.5])))(x)
    return s.op.linear(x, units=s.OUTPUTS)
