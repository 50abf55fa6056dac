"""Regularised evolution (Real et al., 2019) as an automl strategy plugin."""

from automl_evolution.strategy import EvolutionStrategy

__all__ = ["EvolutionStrategy"]
