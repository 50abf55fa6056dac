"""automl: a plugin-based AutoML and neural-architecture-search engine."""

__version__ = "0.1.0"
