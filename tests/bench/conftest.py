"""The lab fixtures of the end-to-end tests, for the benchmark's smoke run too."""

from tests.e2e.conftest import lab_capability

__all__ = ["lab_capability"]
