"""Shared fixtures.

`chromium_path`: the browser for tests that drive a real JupyterLab.  Outside CI a
missing Chromium skips the test with the reason; in CI (CI=true or
ENOT_REQUIRE_BROWSER=1, which `.ci/run` sets) it fails, so nothing is silently skipped.
"""
import os
import shutil

import pytest


@pytest.fixture(scope="session")
def chromium_path():
    path = os.environ.get("ENOT_CHROMIUM", "/usr/bin/chromium")
    if os.path.exists(path) or shutil.which(path):
        return path
    message = f"Chromium not found at {path} (apt-get install chromium, or set ENOT_CHROMIUM)"
    if os.environ.get("ENOT_REQUIRE_BROWSER") == "1" or os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
