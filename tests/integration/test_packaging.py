"""The package is self-contained: its wheel carries SQL, assets and templates, and runs installed outside the checkout."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests import ROOT, unavailable

from ..factories import free_port

pytestmark = pytest.mark.wheel
TIMEOUT = 120
# What a checkout may hold that is no part of the source (and would make the copy slow or stale).
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "instance", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "results"
)


def run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=TIMEOUT, **kwargs)
    assert result.returncode == 0, (argv, result.stdout, result.stderr)
    return result


def test_cli_does_not_load_the_web_stack():
    code = (
        "import sys, billing_dash.cli; "
        "loaded = sorted(m for m in ('dash', 'flask') if m in sys.modules); "
        "assert not loaded, loaded"
    )
    run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built offline from a copy of the checkout (setuptools writes build/ next to the source)."""
    if not (importlib.util.find_spec("wheel") or importlib.util.find_spec("setuptools.command.bdist_wheel")):
        unavailable(
            "setuptools in this venv cannot build wheels (needs setuptools>=70.1 or the wheel package; "
            "`make venv-test` installs it)"
        )
    source = tmp_path_factory.mktemp("source") / "billing-dash"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, source])
    (built,) = out.glob("billing_dash-*.whl")
    return built


def test_wheel_holds_every_file_of_the_package(wheel):
    package = ROOT / "billing_dash"
    source = {
        p.relative_to(ROOT).as_posix() for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert source - names == set()
    # The kinds of file that used to be left out, so an empty glob above cannot pass unnoticed.
    for wanted in (
        "billing_dash/sql/daily.sql",
        "billing_dash/sql/aggregate/day.sql",
        "billing_dash/assets/login.css",
        "billing_dash/assets/billing.js",
        "billing_dash/templates/login.html",
        "billing_dash/migrations/script.py.mako",
    ):
        assert wanted in names


def fetch(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


def test_installed_wheel_runs_from_an_empty_directory(wheel, tmp_path):
    venv = tmp_path / "venv"
    # Without PYTHONPATH: a checkout on it (and its egg-info) would make pip think it is installed.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DATABASE_URL", "SECRET_KEY")}
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel], env=env)
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    # The dependencies come from the venv running the tests; billing_dash only from the wheel (a plain
    # path entry, so the shared venv's editable-install hook of billing_dash is not loaded).
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "work"
    work.mkdir()
    where = run([python, "-c", "import billing_dash; print(billing_dash.__file__)"], cwd=work, env=env).stdout
    assert Path(where.strip()).is_relative_to(venv)

    cli = venv / "bin" / "billing-dash"
    run([cli, "db", "upgrade"], cwd=work, env=env)
    loaded = run([cli, "demo-data", "--org", "X", "--days", "3"], cwd=work, env=env).stdout
    inserted = int(loaded.split("inserted ", 1)[1].split(",", 1)[0])
    token = run([cli, "create-token", "--org", "X"], cwd=work, env=env).stdout.strip().splitlines()[-1]
    assert (work / "instance" / "billing.db").is_file()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "serve.log", "wb") as log:
        server = subprocess.Popen(
            [cli, "serve", "--port", str(port)], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = fetch(base + "/healthz")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.3)
        assert status == 200
        status, page = fetch(base + "/login")
        assert status == 200 and b'name="password"' in page
        status, css = fetch(base + "/assets/login.css")
        assert status == 200 and css == (ROOT / "billing_dash" / "assets" / "login.css").read_bytes()
        today = datetime.now(ZoneInfo("Europe/Berlin")).date()  # demo-data's organization zone
        status, body = fetch(
            f"{base}/api/v1/analytics/billing?period=custom&startDate={today - timedelta(days=10)}&endDate={today}",
            token,
        )
        assert status == 200 and json.loads(body)["summary"]["totalMessages"] == inserted > 0
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (work / "instance" / "secret_key").is_file()
    assert not (site / "instance").exists() and not list(venv.rglob("billing.db"))
