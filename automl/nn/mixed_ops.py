"""Tensor functions of a weight-sharing supernet (DARTS, Liu et al. 2019; DARTS-PT, Wang et al. 2021).

They are plain module-level functions so that ``torch.fx`` can call them from the
straight-line ``forward`` it generates for a supernet (see ``automl.nn.supernet``):
no per-op Python objects, dictionaries or loops at run time, which keeps the
supernet as fast as a hand-written mixed-op network.

Masks are tensors (buffers), not Python flags, so masking an op, freezing an
edge or dropping an input never regenerates code: the perturbation step of
DARTS-PT flips many masks and evaluates after each flip.
"""

from __future__ import annotations

import torch


def operation_weights(alpha: torch.Tensor, mask: torch.Tensor, frozen: torch.Tensor) -> torch.Tensor:
    """The weights of a mixed op's branches.

    ``softmax(alpha) * mask`` while the edge is searched: a masked branch gets
    weight 0 and the others keep theirs (the perturbation of DARTS-PT, not a
    renormalised softmax). Once the edge is frozen (``frozen`` is 1) the mask is
    the one-hot vector of the kept op and is used as is.
    """
    return frozen * mask + (1.0 - frozen) * torch.softmax(alpha, dim=-1) * mask


def mixed_sum(weights: torch.Tensor, *branches: torch.Tensor) -> torch.Tensor:
    """Weighted sum of the branch outputs of one mixed op."""
    parts = weights.unbind(0)
    result = parts[0] * branches[0]
    for weight, branch in zip(parts[1:], branches[1:]):
        result = result + weight * branch
    return result


def input_sum(edge_mask: torch.Tensor, *edges: torch.Tensor) -> torch.Tensor:
    """Sum of every candidate input edge of a node (original DARTS), dropped edges times 0."""
    parts = edge_mask.unbind(0)
    result = parts[0] * edges[0]
    for weight, edge in zip(parts[1:], edges[1:]):
        result = result + weight * edge
    return result


def expected_cost(weights: torch.Tensor, costs: torch.Tensor) -> torch.Tensor:
    """The expected cost of one mixed op, ``sum_i weights_i * costs_i`` (FBNet, ProxylessNAS).

    With ``weights`` the branch weights of ``operation_weights`` the cost is a
    differentiable function of alpha, so a cost penalty in the architecture
    loss moves weight from expensive branches to cheap ones.
    """
    return (weights * costs.to(weights.dtype)).sum()
