"""The test suite: a regular package, so that a `tests` package another wheel installs cannot shadow it."""
