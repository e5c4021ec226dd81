"""``systemd-analyze verify`` on every unit file under deploy/.

verify checks each setting and that every ExecStart program exists and is executable. The
programs our units start (/opt/signage-*/venv/bin/..., /usr/local/lib/...) exist only on an
installed machine, so the units are verified from a copy whose missing programs point at a
stub; everything else is the file as shipped. verify exits 0 even when it ignored a
setting it could not parse, so any message about our units fails the check too.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

UNIT_SUFFIXES = (".service", ".timer", ".path", ".socket", ".mount")
EXEC_LINE = re.compile(r"^(Exec[A-Za-z]*=[-+@!:]*)(/\S+)", re.MULTILINE)


def unit_files(deploy_dir: Path) -> list[Path]:
    return sorted(p for p in deploy_dir.rglob("*") if p.suffix in UNIT_SUFFIXES)


def test_the_deploy_folder_has_the_units_we_ship(deploy_dir: Path) -> None:
    names = {p.name for p in unit_files(deploy_dir)}

    assert {"signage-kiosk.service", "signage-data.service", "signage-server.service",
            "signage-purge.service", "signage-purge.timer", "signage-pgdump.service",
            "signage-pgdump.timer", "signage-mqtt-export.service",
            "signage-mqtt-export.timer", "signage-mqtt-reload.path",
            "signage-mqtt-reload.service"} <= names


def with_stub_programs(text: str, stub: Path) -> str:
    """Programs that only exist once installed are replaced by ``stub``."""
    def swap(match: re.Match[str]) -> str:
        program = Path(match.group(2))
        return match.group(0) if program.exists() else match.group(1) + str(stub)

    return EXEC_LINE.sub(swap, text)


def test_systemd_accepts_every_unit(installed: Callable[[str], str], deploy_dir: Path,
                                    tmp_path: Path) -> None:
    analyze = installed("systemd-analyze")
    stub = tmp_path / "stub"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    copies = []
    for unit in unit_files(deploy_dir):
        copy = tmp_path / unit.name
        copy.write_text(with_stub_programs(unit.read_text(), stub))
        copies.append(copy)

    result = subprocess.run([analyze, "verify", "--man=no", *map(str, copies)],
                            capture_output=True, text=True, timeout=60)

    output = (result.stdout + result.stderr).splitlines()
    ours = [line for line in output
            if str(tmp_path) in line or any(c.name in line for c in copies)]
    assert result.returncode == 0, "\n".join(output)
    assert ours == [], "\n".join(ours)


@pytest.mark.parametrize("unit", ["signage-kiosk.service", "signage-server.service"])
def test_long_running_services_restart_and_notify(deploy_dir: Path, unit: str) -> None:
    text = next(p for p in unit_files(deploy_dir) if p.name == unit).read_text()

    assert "Type=notify" in text.splitlines()
    assert "Restart=always" in text.splitlines()


def test_the_kiosk_unit_carries_the_watchdog_contract(deploy_dir: Path) -> None:
    lines = (deploy_dir / "pi" / "files" / "signage-kiosk.service").read_text().splitlines()

    assert {"Type=notify", "NotifyAccess=main", "WatchdogSec=10s", "Restart=always",
            "StartLimitIntervalSec=0", "Environment=SDL_VIDEODRIVER=kmsdrm",
            "User=kiosk"} <= set(lines)


def test_the_kiosk_unit_uses_the_kiosks_own_data_folder(deploy_dir: Path) -> None:
    from kiosk.config import DATA_ENV, SYSTEM_DATA_DIR

    lines = (deploy_dir / "pi" / "files" / "signage-kiosk.service").read_text().splitlines()

    assert f"Environment={DATA_ENV}={SYSTEM_DATA_DIR}" in lines
    assert f"StateDirectory={SYSTEM_DATA_DIR.name}" in lines
