"""The server's configuration as deployed: gunicorn.conf.py, the unit's command line and the
environment file."""

from __future__ import annotations

import os
import runpy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def load_config(deploy_dir: Path, monkeypatch: pytest.MonkeyPatch,
                **environ: str) -> dict[str, object]:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(deploy_dir / "server" / "gunicorn.conf.py"))


def test_workers_are_twice_the_usable_cores_plus_one(deploy_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(deploy_dir, monkeypatch)

    assert config["workers"] == 2 * len(os.sched_getaffinity(0)) + 1
    assert config["bind"] == "127.0.0.1:8000"


def test_web_concurrency_overrides_the_worker_count(deploy_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(deploy_dir, monkeypatch, WEB_CONCURRENCY="3",
                         GUNICORN_BIND="10.0.0.5:8000")

    assert (config["workers"], config["bind"]) == (3, "10.0.0.5:8000")


def test_gunicorn_accepts_the_config_and_the_app_of_the_unit(deploy_dir: Path,
                                                            tmp_path: Path) -> None:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    if gunicorn is None:
        pytest.skip("gunicorn is not installed (pip install '.[server]')")
    unit = (deploy_dir / "server" / "systemd" / "signage-server.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    words = shlex.split(exec_start.removeprefix("ExecStart="))
    app = words[-1]
    assert Path(words[0]).name == "gunicorn" and app == "signage_server:create_app()"

    result = subprocess.run(
        [gunicorn, "--check-config", "--config",
         str(deploy_dir / "server" / "gunicorn.conf.py"), app],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, "SIGNAGE_INSTANCE_PATH": str(tmp_path / "instance")})

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_environment_file_names_only_real_settings(deploy_dir: Path) -> None:
    from signage_server.config import ENV_PREFIX, SETTINGS

    # the instance folder is not a setting: create_app reads it to find config.toml
    known = {ENV_PREFIX + setting.name for setting in SETTINGS} | {"SIGNAGE_INSTANCE_PATH"}
    text = (deploy_dir / "server" / "signage-server.env").read_text()
    names = {line.lstrip("#").split("=", 1)[0] for line in text.splitlines()
             if line.lstrip("#").startswith(ENV_PREFIX)}

    assert names - known == set()
    assert {"SIGNAGE_DATABASE_URL", "SIGNAGE_MEDIA_ACCEL_REDIRECT", "SIGNAGE_MQTT_URL",
            "SIGNAGE_TRUSTED_PROXY_HOPS"} <= names
