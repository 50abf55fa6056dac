"""Shared fixtures of the distributed tests: a LocalCluster on 127.0.0.1."""

from __future__ import annotations

import logging

import behaviours
import cloudpickle
import dask
import distributed
import pytest

cloudpickle.register_pickle_by_value(behaviours)  # workers receive it by value, like a user's own script


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes on 127.0.0.1, whose scheduler lets the runner decide on retries."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        local = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    yield local
    local.close()
