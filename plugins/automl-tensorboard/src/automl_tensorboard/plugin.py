"""The object the ``automl`` entry point names: one logging plugin per process, its state kept per study.

An entry point can only name a module attribute, so the instance lives here; it holds no
state until a search starts, and that state is keyed by study (``TensorboardTracking``).
"""

from __future__ import annotations

from automl_tensorboard.tracking import TensorboardTracking

tracking = TensorboardTracking()
