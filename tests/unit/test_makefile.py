"""`make run` serves where HOST and PORT say, and `make clean` never deletes the user's database."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str, cwd=ROOT) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def serve_line(output: str) -> str:
    return next(line for line in output.splitlines() if "billing-dash serve" in line)


def test_make_run_serves_on_host_and_port():
    assert serve_line(make("-n", "run", "HOST=0.0.0.0", "PORT=9000")).endswith("serve --host 0.0.0.0 --port 9000")
    assert serve_line(make("-n", "run")).endswith("serve --host 127.0.0.1 --port 8050")


def test_make_clean_keeps_instance(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "billing.db").write_bytes(b"the user's data")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".pytest_cache").mkdir()
    make("clean", cwd=tmp_path)
    assert (tmp_path / "instance" / "billing.db").read_bytes() == b"the user's data"
    assert not (tmp_path / ".venv").exists() and not (tmp_path / ".pytest_cache").exists()
