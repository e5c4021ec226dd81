"""Fixtures for the deployment checks: the deploy/ folder, free loopback ports, and tools.

Each check needs a real tool (shellcheck, systemd-analyze, nginx, openssl, mosquitto). CI
installs them (see deploy/README.md, "Checks"); on a laptop without one, the check is
skipped with the Debian package to install, never failed.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: tool -> the Debian package that provides it
PACKAGES = {
    "shellcheck": "shellcheck",
    "systemd-analyze": "systemd",
    "nginx": "nginx (or nginx-light)",
    "openssl": "openssl",
    "mosquitto": "mosquitto",
    "mosquitto_passwd": "mosquitto",
    "bash": "bash",
}


@pytest.fixture(scope="session")
def deploy_dir() -> Path:
    return REPO / "deploy"


@pytest.fixture(scope="session")
def installed() -> Callable[[str], str]:
    """``installed("nginx")`` is the tool's path, or skips the test saying what to install.

    Daemons live in /usr/sbin, which is not on every user's PATH, so it is searched too."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin",
                              "/sbin"])

    def find(tool: str) -> str:
        path = shutil.which(tool, path=search)
        if path is None:
            pytest.skip(f"{tool} is not installed (Debian package: "
                        f"{PACKAGES.get(tool, tool)}); CI installs it")
        return path

    return find


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """A function returning a loopback TCP port that was free a moment ago."""

    def pick() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    return pick
