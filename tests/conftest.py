"""Shared fixtures (helpers that hypothesis tests call directly live in helpers.py)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)
