"""The package is typed: its sources pass `mypy --strict`, and code using the installed
package is checked against its types (py.typed is installed with it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="needs the test extra")

HERE = Path(__file__).resolve().parent


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    # No cache: the test user cannot write in the checkout.
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir=/dev/null", *args],
        capture_output=True, text=True, timeout=300, cwd=HERE,
    )


def test_the_standard_library_modules_pass_mypy_strict() -> None:
    src = HERE.parent / "src" / "tooljail"
    r = mypy(*(str(src / m) for m in ("__init__.py", "_run.py", "codex_hook.py")))
    assert r.returncode == 0, r.stdout + r.stderr


def test_callers_are_checked_against_the_installed_packages_types(tmp_path: Path) -> None:
    import tooljail

    assert "site-packages" in tooljail.__file__, tooljail.__file__
    assert Path(tooljail.__file__).with_name("py.typed").is_file()
    r = mypy(str(HERE / "test_run.py"))
    assert r.returncode == 0, r.stdout + r.stderr
    bad = tmp_path / "bad.py"
    bad.write_text("import tooljail\nr = tooljail.run(['true'])\nx: int = r.stdout\n")
    r = mypy(str(bad))
    assert r.returncode == 1, r.stdout
    assert 'Incompatible types in assignment (expression has type "str"' in r.stdout, r.stdout
