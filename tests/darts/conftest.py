"""Shared fixtures of the one-shot NAS tests: small data sets shaped like ``automl.data.DataSplits``."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from automl.data import DataSplits, Split


def _splits(features: np.ndarray, target: np.ndarray, sizes: tuple[int, int, int], seed: int) -> DataSplits:
    order = np.random.default_rng(seed).permutation(len(features))
    train, validation, test = np.split(order[: sum(sizes)], [sizes[0], sizes[0] + sizes[1]])
    return DataSplits(
        Split(features[train], target[train]),
        Split(features[validation], target[validation]),
        Split(features[test], target[test]),
        "classification",
        int(target.max()) + 1,
        tuple(features.shape[1:]),
        [f"feature_{index}" for index in range(int(np.prod(features.shape[1:])))],
    )


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny networks train fastest (and steadiest on a shared machine) on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def digits() -> DataSplits:
    """Digits as 1x8x8 images: 400 train, 150 validation, 150 test rows."""
    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, np.newaxis]
    return _splits(images, bunch.target.astype(np.int64), (400, 150, 150), seed=0)


@pytest.fixture(scope="session")
def xor_data() -> DataSplits:
    """8 features; the class is the XOR of the signs of the first two, which no linear model of x can learn."""
    rng = np.random.default_rng(1)
    features = rng.normal(size=(1200, 8)).astype(np.float32)
    target = ((features[:, 0] > 0) ^ (features[:, 1] > 0)).astype(np.int64)
    return _splits(features, target, (800, 300, 100), seed=1)
