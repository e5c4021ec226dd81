"""deploy/pi/install.sh against a scratch root: what a fresh Pi OS Lite would get, and that a
second run changes nothing.

The scratch root holds the three files of a fresh Pi OS image the script edits (cmdline.txt,
config.txt, fstab). Commands that need a real Pi (apt, useradd, pip, raspi-config) are only
printed under ``--root``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

CMDLINE = ("console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 "
           "fsck.repair=yes rootwait quiet cfg80211.ieee80211_regdom=VN\n")
CONFIG = ("# For more options\ndtparam=audio=on\ncamera_auto_detect=1\n\n"
          "[cm4]\notg_mode=1\n\n[all]\n")
FSTAB = ("proc            /proc           proc    defaults          0       0\n"
         "PARTUUID=4e639091-01  /boot/firmware  vfat    defaults          0       2\n"
         "PARTUUID=4e639091-02  /               ext4    defaults,noatime  0       1\n")
Install = Callable[..., subprocess.CompletedProcess[str]]
ARGS = ["--server", "https://signage.example.org", "--code", "K7Q2-9XMP-4TRA"]


@pytest.fixture
def pi_root(tmp_path: Path) -> Path:
    """A scratch root with the files a fresh Raspberry Pi OS Lite image has."""
    root = tmp_path / "root"
    (root / "boot" / "firmware").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "boot" / "firmware" / "cmdline.txt").write_text(CMDLINE)
    (root / "boot" / "firmware" / "config.txt").write_text(CONFIG)
    (root / "etc" / "fstab").write_text(FSTAB)
    return root


@pytest.fixture
def install(installed: Callable[[str], str], deploy_dir: Path) -> Install:
    bash = installed("bash")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([bash, str(deploy_dir / "pi" / "install.sh"), *args],
                              capture_output=True, text=True, timeout=60)

    return run


def test_the_first_run_plans_everything_and_writes_the_files(install: Install,
                                                             pi_root: Path) -> None:
    result = install("--dry-run", "--root", str(pi_root), *ARGS)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    for planned in ("skip (needs a real Pi): apt-get install", "create user kiosk",
                    "pip install --no-binary pygame", "enroll at https://signage.example.org",
                    "raspi-config nonint do_overlayfs 0",
                    "wrote /etc/systemd/system/signage-kiosk.service (new)",
                    "linked /etc/systemd/system/multi-user.target.wants/signage-kiosk.service",
                    "linked /etc/systemd/system/getty@tty1.service -> /dev/null",
                    "wrote /boot/firmware/cmdline.txt (changed)"):
        assert planned in out
    assert "nothing to change" not in out
    unit = pi_root / "etc/systemd/system/signage-kiosk.service"
    assert unit.read_bytes() == (Path(__file__).parents[2] /
                                 "deploy/pi/files/signage-kiosk.service").read_bytes()


def test_a_second_run_reports_nothing_to_change(install: Install, pi_root: Path) -> None:
    install("--dry-run", "--root", str(pi_root), *ARGS)
    before = snapshot(pi_root)

    again = install("--dry-run", "--root", str(pi_root), *ARGS)

    assert again.returncode == 0, again.stderr
    assert "nothing to change" in again.stdout
    assert not [line for line in again.stdout.splitlines()
                if line.startswith(("wrote ", "linked ", "created "))]
    assert snapshot(pi_root) == before


def test_the_kernel_command_line_gets_each_setting_once(install: Install, pi_root: Path) -> None:
    install("--root", str(pi_root), *ARGS)
    install("--root", str(pi_root), *ARGS)

    line = (pi_root / "boot/firmware/cmdline.txt").read_text()
    assert line.endswith("\n") and line.count("\n") == 1
    tokens, original = line.split(), CMDLINE.split()
    assert tokens[:len(original)] == original
    assert tokens[len(original):] == ["consoleblank=0", "vt.global_cursor_default=0", "logo.nologo"]


def test_the_overlay_keeps_the_data_partition_out_of_ram(install: Install, pi_root: Path) -> None:
    cmdline = pi_root / "boot/firmware/cmdline.txt"
    cmdline.write_text("overlayroot=tmpfs " + CMDLINE)  # as raspi-config leaves it

    install("--root", str(pi_root), *ARGS)

    assert cmdline.read_text().split()[0] == "overlayroot=tmpfs:recurse=0"


def test_config_txt_enables_the_hardware_watchdog_in_one_block(install: Install,
                                                               pi_root: Path) -> None:
    install("--root", str(pi_root), *ARGS)
    install("--root", str(pi_root), *ARGS)

    text = (pi_root / "boot/firmware/config.txt").read_text()
    assert text.startswith(CONFIG)
    assert text.count("dtparam=watchdog=on") == 1
    block = text[len(CONFIG):].splitlines()
    assert block[1:4] == ["[all]", "dtparam=watchdog=on", "disable_splash=1"]


def test_the_boot_partition_is_mounted_read_only(install: Install, pi_root: Path) -> None:
    install("--root", str(pi_root), *ARGS)

    rows = [line.split() for line in (pi_root / "etc/fstab").read_text().splitlines()]
    assert ["PARTUUID=4e639091-01", "/boot/firmware", "vfat", "defaults,ro", "0", "2"] in rows
    assert ["PARTUUID=4e639091-02", "/", "ext4", "defaults,noatime", "0", "1"] in rows


def test_a_data_device_is_mounted_on_the_data_folder(install: Install, pi_root: Path) -> None:
    install("--root", str(pi_root), "--data-device", "LABEL=signage-data", *ARGS)
    install("--root", str(pi_root), "--data-device", "LABEL=signage-data", *ARGS)

    rows = [line.split() for line in (pi_root / "etc/fstab").read_text().splitlines()]
    data = [row for row in rows if row[1] == "/var/lib/signage-kiosk"]
    assert len(data) == 1
    assert data[0][0] == "LABEL=signage-data" and data[0][2] == "ext4"
    assert "nofail" in data[0][3].split(",")


def test_the_journal_stays_in_ram_and_the_watchdog_is_fed(install: Install, pi_root: Path) -> None:
    install("--root", str(pi_root), *ARGS)

    journald = (pi_root / "etc/systemd/journald.conf.d/signage-kiosk.conf").read_text()
    assert "Storage=volatile" in journald.splitlines()
    manager = (pi_root / "etc/systemd/system.conf.d/signage-kiosk-watchdog.conf").read_text()
    assert "RuntimeWatchdogSec=15s" in manager.splitlines()


def test_the_data_folder_is_private(install: Install, pi_root: Path) -> None:
    install("--root", str(pi_root), *ARGS)

    assert (pi_root / "var/lib/signage-kiosk").stat().st_mode & 0o777 == 0o700


def test_a_plain_dry_run_only_says_what_it_would_do(install: Install) -> None:
    """Without --root the script reads this machine and must not touch it."""
    result = install("--dry-run", *ARGS)

    assert result.returncode == 0, result.stderr
    assert "would " in result.stdout
    acted = [line for line in result.stdout.splitlines()
             if line.startswith(("wrote ", "linked ", "created ", "run: "))]
    assert acted == []


@pytest.mark.parametrize(("args", "message"), [
    (["--root", "/nonexistent-signage-root"], "not a folder"),
    (["--server", "ftp://x", "--code", "A"], "must be an http(s):// URL"),
    (["--bogus"], "unknown argument"),
])
def test_bad_arguments_are_refused_with_a_reason(install: Install, args: list[str],
                                                 message: str) -> None:
    result = install("--dry-run", *args)

    assert result.returncode != 0
    assert message in result.stderr


def test_enrolling_needs_the_server_and_the_code(install: Install, pi_root: Path) -> None:
    result = install("--root", str(pi_root), "--server", "https://signage.example.org")

    assert result.returncode == 2
    assert "--server and --code are needed" in result.stderr


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every file's bytes and every link's target under ``folder``."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = "-> " + str(path.readlink())
        elif path.is_file():
            found[key] = path.read_bytes()
    return found
