"""``unavailable()``: the one way a test here may skip, for a reason outside this project.

A skip is allowed only for what a checkout cannot provide by itself: node, the built server, the
test model, the API reference beside the repo. Where everything must be there (CI, or a developer
who asks for it), the same call fails the test instead, so a missing build cannot pass as green.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["unavailable"]

# Each of these, when set to its value, turns a skip into a failure.
_STRICT_ENVIRONMENT = {"CI": "true", "QUANDEX_CI": "1", "QUANDEX_REQUIRE_INTEGRATION": "1"}


def unavailable(reason: str) -> NoReturn:
    """Skips the calling test (or fixture) with ``reason``, or fails it where skips are not allowed."""
    strict = [f"{name}={value}" for name, value in _STRICT_ENVIRONMENT.items() if os.environ.get(name) == value]
    if strict:
        pytest.fail(f"cannot run: {reason} (with {', '.join(strict)} this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)
