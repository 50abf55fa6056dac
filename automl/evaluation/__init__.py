"""Statistics for results people can trust: confidence intervals and tests that compare models or strategies."""
