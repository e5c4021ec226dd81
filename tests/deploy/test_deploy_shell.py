"""shellcheck on every shell script under deploy/ (found by their #! line, not their name)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

SHELL_SHEBANG = re.compile(rb"^#!\s*(/usr)?/bin/(env\s+)?(ba|da)?sh\b")


def shell_scripts(deploy_dir: Path) -> list[Path]:
    scripts = []
    for path in sorted(deploy_dir.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                if SHELL_SHEBANG.match(handle.readline()):
                    scripts.append(path)
    return scripts


def test_the_scripts_are_found(deploy_dir: Path) -> None:
    names = {p.name for p in shell_scripts(deploy_dir)}

    assert {"install.sh", "data-mount", "signage-maintenance", "pg-backup.sh",
            "postgres-setup.sh"} <= names


def test_every_script_is_executable(deploy_dir: Path) -> None:
    assert [p for p in shell_scripts(deploy_dir) if not os.access(p, os.X_OK)] == []


def test_shellcheck_finds_nothing(installed: Callable[[str], str], deploy_dir: Path) -> None:
    shellcheck = installed("shellcheck")
    scripts = shell_scripts(deploy_dir)

    result = subprocess.run([shellcheck, "--format=gcc", *map(str, scripts)],
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr
