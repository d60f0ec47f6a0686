"""Fixtures for the edgekit-rt code generation tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))



@pytest.fixture(scope="session")
def ekrt_build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compiled model executables, keyed by a hash of the generated code."""
    return tmp_path_factory.mktemp("ekrt_build")


@pytest.fixture(scope="session")
def sweep_cache(request: pytest.FixtureRequest) -> Path:
    """Converted sweep models persist across runs in the pytest cache (conversion is slow)."""
    return Path(request.config.cache.mkdir("ekrt_sweep_models"))
