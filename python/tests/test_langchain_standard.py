"""LangChain's standard sandbox integration tests (langchain-tests) on TooljailSandbox, and
what they do not ask: that the jail is a jail."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Iterator, Optional

import pytest

pytest.importorskip("deepagents", reason="needs the langchain extra")

from deepagents.backends.protocol import SandboxBackendProtocol  # noqa: E402
from langchain_tests.integration_tests import SandboxIntegrationTests  # noqa: E402

from tooljail.langchain import TooljailSandbox  # noqa: E402

class TestTooljailSandboxStandard(SandboxIntegrationTests):
    # The workspace the standard tests work in (only it persists between the jails' calls),
    # made when a test first needs it, removed with the class's sandbox.
    _workspace: Optional[str] = None

    @classmethod
    def workspace(cls) -> str:
        if cls._workspace is None:
            cls._workspace = os.path.realpath(tempfile.mkdtemp(prefix="tooljail-standard-"))
        return cls._workspace

    @property
    def sandbox_root_dir(self) -> str:
        # The suite's default is /tmp/test_sandbox_ops/; a jail's /tmp is its own scratch, gone
        # when the call ends, so the suite works below the sandbox's workspace instead.
        return f"{self.workspace()}/test_sandbox_ops/"

    @pytest.fixture(scope="class")
    def sandbox(self) -> Iterator[SandboxBackendProtocol]:
        backend = TooljailSandbox(self.workspace(), timeout=120)
        try:
            yield backend
        finally:
            shutil.rmtree(self.workspace(), ignore_errors=True)
            type(self)._workspace = None


@pytest.fixture
def sandbox() -> Iterator[TooljailSandbox]:
    with TooljailSandbox() as s:
        yield s


def test_the_workspace_persists_and_is_private(sandbox: TooljailSandbox) -> None:
    assert os.stat(sandbox.workspace).st_mode & 0o777 == 0o700
    assert sandbox.execute("echo kept > f.txt && echo gone > /tmp/g.txt").exit_code == 0
    r = sandbox.execute("cat f.txt; cat /tmp/g.txt")
    assert r.output.startswith("kept\n") and "No such file" in r.output
    assert r.exit_code == 1


def test_nothing_else_of_the_host_is_visible_or_writable(sandbox: TooljailSandbox) -> None:
    outside = tempfile.mkdtemp(prefix="tooljail-outside-")
    try:
        os.chmod(outside, 0o777)
        r = sandbox.execute(f"ls {outside}; touch {outside}/x; ls ~/.ssh /root /home 2>&1")
        assert r.exit_code != 0
        assert not os.listdir(outside)
    finally:
        os.rmdir(outside)


def test_a_symlink_planted_in_the_workspace_reads_nothing_outside(sandbox: TooljailSandbox) -> None:
    secret_dir = tempfile.mkdtemp(prefix="tooljail-secret-")
    secret = os.path.join(secret_dir, "key")
    with open(secret, "w") as f:
        f.write("host secret")
    os.chmod(secret_dir, 0o755)
    os.chmod(secret, 0o644)
    try:
        assert sandbox.execute(f"ln -s {secret} link").exit_code == 0
        (down,) = sandbox.download_files([f"{sandbox.workspace}/link"])
        assert down.content is None and down.error == "file_not_found"
        (up,) = sandbox.upload_files([(f"{sandbox.workspace}/link", b"overwritten")])
        with open(secret) as f:
            assert f.read() == "host secret"
        read = sandbox.read(f"{sandbox.workspace}/link")
        assert read.file_data is None or "host secret" not in str(read.file_data)
    finally:
        os.unlink(secret)
        os.rmdir(secret_dir)


def test_uploads_outside_the_workspace_are_refused(sandbox: TooljailSandbox) -> None:
    (up,) = sandbox.upload_files([("/tmp/elsewhere.txt", b"x")])
    assert up.error == "permission_denied"
    (up,) = sandbox.upload_files([(f"{sandbox.workspace}/../escape.txt", b"x")])
    assert up.error == "permission_denied"
    (up,) = sandbox.upload_files([("relative.txt", b"x")])
    assert up.error == "invalid_path"


def test_a_timeout_and_a_capped_output_are_reported() -> None:
    with TooljailSandbox(max_output=1000) as s:
        r = s.execute("sleep 20", timeout=1)
        assert r.exit_code == 124 and "[tooljail: timeout" in r.output
        r = s.execute("yes | head -c 50000")
        assert r.truncated is True
        assert len(r.output) < 2000


def test_a_large_edit_works_without_a_lasting_tmp(sandbox: TooljailSandbox) -> None:
    path = f"{sandbox.workspace}/big.txt"
    old = "A" * 40_000
    sandbox.write(path, f"head\n{old}\ntail\n")
    res = sandbox.edit(path, old, "B" * 40_000)
    assert res.error is None and res.occurrences == 1
    (down,) = sandbox.download_files([path])
    assert down.content == f"head\n{'B' * 40_000}\ntail\n".encode()
    assert sorted(os.listdir(sandbox.workspace)) == ["big.txt"]


def test_a_call_tooljail_refuses_is_its_line_not_an_exception() -> None:
    with TooljailSandbox(profile="no-such-profile-xyz") as s:
        r = s.execute("echo never")
        assert r.exit_code == 125
        assert r.output.startswith('tooljail: -p no-such-profile-xyz: profile "no-such-profile-xyz" not found')
        (up,) = s.upload_files([(f"{s.workspace}/f", b"x")])
        assert up.error is not None and up.error.startswith("tooljail: -p no-such-profile-xyz")
        (down,) = s.download_files([f"{s.workspace}/f"])
        assert down.content is None and down.error is not None
