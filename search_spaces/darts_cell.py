"""A DARTS-style cell space (Liu et al., 2019) for small images.

Every cell of the network has the same genotype: each intermediate node takes 2
of the previous nodes' outputs (an InputChoice), and each chosen edge applies one
of the DARTS operations (an Or). The decisions are created once and shared by
all cells, so one candidate is one cell design, as in DARTS.
"""

import itertools

from automl import space as s

OPERATIONS = [
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "none",
]


def operation(name, x, channels):
    """One DARTS operation on an edge; every one keeps the shape of its input."""
    if name.startswith("sep_conv"):
        kernel = int(name[-1])
        for _ in range(2):
            x = s.op.relu(x)
            x = s.op.separable_conv(x, filters=channels, kernel=kernel)
            x = s.op.batchnorm(x)
        return x
    if name.startswith("dil_conv"):
        x = s.op.relu(x)
        x = s.op.separable_conv(x, filters=channels, kernel=int(name[-1]), dilation=2)
        return s.op.batchnorm(x)
    if name == "max_pool_3x3":
        return s.op.max_pool(x, kernel=3, stride=1, padding=1)
    if name == "avg_pool_3x3":
        return s.op.avg_pool(x, kernel=3, stride=1, padding=1)
    if name == "skip_connect":
        return s.op.identity(x)
    return s.op.zero(x)


@s.search_space
def darts_cell(x, *, nodes=3, cells=2, channels=16):
    inputs_of = {
        node: s.Choice(list(itertools.combinations(range(node + 2), 2)), name=f"node{node}_inputs")
        for node in range(nodes)
    }
    operation_of = {
        (node, source): s.Choice(OPERATIONS, name=f"node{node}_edge{source}")
        for node in range(nodes)
        for source in range(node + 2)
    }

    def cell(previous, current):
        states = [s.op.conv2d(previous, filters=channels, kernel=1), s.op.conv2d(current, filters=channels, kernel=1)]
        for node in range(nodes):

            def edge(wire, source, node=node):
                branches = {name: (lambda x, name=name: operation(name, x, channels)) for name in OPERATIONS}
                return s.Or(branches, branch=operation_of[node, source], name="op")(wire)

            states.append(s.InputChoice(k=2, transform=edge, inputs=inputs_of[node], name=f"node{node}")(*states))
        return s.op.concat(*states[2:])

    x = s.op.conv2d(x, filters=channels, kernel=3)
    x = s.op.batchnorm(x)
    previous, current = x, x
    for index in range(cells):
        with x.architecture.scope(f"cell{index}"):
            previous, current = current, cell(previous, current)
    x = s.op.global_avg_pool(current)
    return s.op.linear(x, units=s.OUTPUTS)
