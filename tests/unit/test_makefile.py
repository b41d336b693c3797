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
    caches = [".pytest_cache", ".mypy_cache", ".ruff_cache"]
    for cache in caches:
        (tmp_path / cache).mkdir()
    make("clean", cwd=tmp_path)
    assert (tmp_path / "instance" / "billing.db").read_bytes() == b"the user's data"
    assert not (tmp_path / ".venv").exists()
    assert not any((tmp_path / cache).exists() for cache in caches)


LINT = [".venv/bin/ruff check .", ".venv/bin/ruff format --check .", ".venv/bin/mypy billing_dash"]


def test_make_lint_runs_ruff_and_mypy():
    assert [line for line in make("-n", "lint").splitlines() if line in LINT] == LINT


def test_make_test_lints_before_the_tests():
    steps = make("-n", "test").splitlines()
    pytest_step = next(i for i, line in enumerate(steps) if " -m pytest" in line)
    assert all(step in steps[:pytest_step] for step in LINT)
