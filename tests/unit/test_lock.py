"""requirements.lock pins every dependency pyproject.toml names, within its range, and the venvs install with it."""

from __future__ import annotations

import shutil
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests import ROOT


def lock() -> dict[str, str]:
    lines = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {canonicalize_name(name): version for name, version in pins}


def test_lock_pins_every_dependency_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = lock()
    for requirement in map(Requirement, project["dependencies"] + project["optional-dependencies"]["test"]):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock has {name}=={pins[name]}, outside {requirement}: run make lock"
        )


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["venv", "venv-test"])
def test_venvs_install_with_the_lock_as_constraints(target, tmp_path):
    # A copy, so the checkout's own .venv being up to date does not make `make -n` print nothing.
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for name in ("pyproject.toml", "requirements.lock"):
        (tmp_path / name).touch()
    out = subprocess.run(["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, timeout=60).stdout
    (install,) = [line for line in out.splitlines() if " install " in line and "-e " in line]
    assert "-c requirements.lock" in install
