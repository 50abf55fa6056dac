"""Test kits for code that plugs into automl.

``automl.testing.strategies.StrategyConformance`` is a pytest test class that a
strategy's test module subclasses to check the strategy contract (v2)::

    from automl.testing.strategies import StrategyConformance
    from my_plugin import MyStrategy


    class TestMyStrategy(StrategyConformance):
        strategy_class = MyStrategy

Nothing here is imported by automl itself; the kits need pytest.
"""
