"""A tabular network: categorical embeddings, widths and depth together with training hyperparameters.

``categories`` is bound by the search from the data (``DataSplits.categorical_columns``):
each categorical column's index becomes a learnt vector of ``embedding_size`` numbers
(Guo & Berkhahn, 2016). Without categorical columns the embedding op passes the input
through, and the ``embedding_size`` decision has no effect.
"""

from automl import space as s


@s.search_space
def tabular(x, *, categories=()):
    x = s.training(
        x,
        learning_rate=s.Float(1e-4, 3e-2, log=True),
        batch_size=s.Choice([32, 64, 128]),
        weight_decay=s.Float(1e-6, 1e-2, log=True),
        optimizer=s.Choice(["adam", "sgd"]),
    )
    x = s.op.embedding(x, size=s.Int(2, 16, log=True, name="embedding_size"), categories=categories)
    normalise = s.Bool(name="batchnorm")

    def layer(x):
        x = s.op.linear(x, units=s.Int(16, 256, log=True))
        x = s.Optional(s.op.batchnorm, present=normalise)(x)
        x = s.op.activation(x, kind=s.Choice(["relu", "gelu", "silu"]))
        return s.op.dropout(x, p=s.Float(0.0, 0.4))

    x = s.Repeat(layer, times=s.Int(1, 3))(x)
    return s.op.linear(x, units=s.OUTPUTS)
