"""Without SECRET_KEY the development server signs sessions with a key of its own instance, never a public one."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest

from billing_dash import config
from billing_dash.config import Settings
from billing_dash.web.app import create_app

from ..factories import TEST_PASSWORD, login

# The constant every earlier install signed its development sessions with.
OLD_PUBLIC_KEY = "dev-only-insecure-secret-key"


@pytest.fixture
def instance_dir(tmp_path, monkeypatch):
    folder = tmp_path / "instance"
    monkeypatch.setattr(config, "INSTANCE_DIR", folder)
    return folder


def dev_app(database_url):
    return create_app(Settings.from_env({}, database_url=database_url), dev=True)


def test_two_starts_share_one_random_key_kept_private(database_url, instance_dir):
    first, second = dev_app(database_url), dev_app(database_url)
    key = first.server.secret_key
    assert key == second.server.secret_key
    assert key != OLD_PUBLIC_KEY and len(key) >= 32
    files = list(instance_dir.iterdir())
    assert len(files) == 1 and files[0].read_text().strip() == key
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_each_instance_gets_its_own_key(database_url, tmp_path, monkeypatch):
    keys = set()
    for name in ("a", "b"):
        monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path / name)
        keys.add(dev_app(database_url).server.secret_key)
    assert len(keys) == 2


def test_a_session_signed_with_the_old_public_key_is_refused(database_url, instance_dir, user_email):
    forger = create_app(Settings.from_env({}, database_url=database_url, secret_key=OLD_PUBLIC_KEY)).server
    forged = forger.test_client()
    login(forged, user_email, TEST_PASSWORD)
    assert forged.get("/_dash-layout").status_code == 200  # a valid session for the old key...
    cookie = forged.get_cookie("session")

    victim = dev_app(database_url).server.test_client()
    victim.set_cookie("session", cookie.value)
    assert victim.get("/_dash-layout").status_code == 401  # ...is nobody to the development server


def test_the_production_app_still_refuses_to_start_without_a_key(database_url, instance_dir):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Settings.from_env({}, database_url=database_url))
    assert not instance_dir.exists()


def _serve_stderr(database_url: str, instance: str, host: str) -> str:
    """Start `billing-dash serve` on a free port with its instance folder at `instance`; its stderr once up."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = (
        "import sys, pathlib; from billing_dash import config; config.INSTANCE_DIR = pathlib.Path(sys.argv[1]); "
        "from billing_dash.cli import main; main(sys.argv[2:])"
    )
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "", "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, instance, "serve", "--host", host, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.2)
    finally:
        proc.terminate()
    return proc.communicate(timeout=10)[1]


def test_serving_beyond_loopback_warns(database_url, tmp_path):
    exposed = _serve_stderr(database_url, str(tmp_path / "i"), "0.0.0.0")
    assert "WARNING" in exposed and "0.0.0.0" in exposed and "SECRET_KEY" in exposed
    local = _serve_stderr(database_url, str(tmp_path / "i"), "127.0.0.1")
    assert "SECRET_KEY" not in local
