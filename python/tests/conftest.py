"""The tests run the real tooljail: $TOOLJAIL_BIN (tests/it/python.rs sets it), else PATH."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="session", autouse=True)
def tooljail_binary() -> str:
    path = os.environ.get("TOOLJAIL_BIN") or shutil.which("tooljail")
    if not path:
        pytest.fail("set TOOLJAIL_BIN to the tooljail binary under test")
    return path
