"""``make demo``: one machine, SQLite, a demo venue, an admin and one kiosk, all running.

First run: creates ``demo/instance`` (SQLite in WAL mode), a province, a district, a venue,
an admin with a random password (printed once, never stored in clear), imports the default
content and assigns it to the venue, enrolls a kiosk in ``demo/kiosk``. Every run: starts the
server (gunicorn) and the kiosk (headless without a display, writing what it shows to
``demo/kiosk/screen.png``) until Ctrl-C. A second run reuses everything the first made.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path("demo").resolve()
INSTANCE = ROOT / "instance"
KIOSK_DATA = ROOT / "kiosk"
STATE = ROOT / "demo.json"
HOST, PORT = "127.0.0.1", 5000
URL = f"http://{HOST}:{PORT}"
BIN = Path(sys.executable).parent


def server(*args: str, stdin: str | None = None) -> dict[str, object]:
    """Run a ``signage-server`` command against the demo instance; parse its JSON."""
    out = subprocess.run([str(BIN / "signage-server"), "--instance", str(INSTANCE), *args],
                         input=stdin, capture_output=True, text=True, check=False,
                         env=_env())
    if out.returncode != 0:
        sys.exit(f"signage-server {' '.join(args)} failed:\n{out.stderr or out.stdout}")
    lines = out.stdout.strip().splitlines()
    return dict(json.loads(lines[-1])) if "--json" in args and lines else {}


def _env() -> dict[str, str]:
    return {**os.environ, "SIGNAGE_PUBLIC_URL": URL, "SIGNAGE_INSTANCE_PATH": str(INSTANCE)}


def first_run() -> dict[str, object]:
    INSTANCE.mkdir(parents=True, exist_ok=True)
    server("db", "upgrade")
    province = server("area", "add", "TP. Hồ Chí Minh", "--kind", "province", "--json")["id"]
    district = server("area", "add", "Quận 1", "--kind", "district", "--parent",
                      str(province), "--json")["id"]
    venue = server("venue", "add", "Văn phòng UBND Quận 1", "--kind", "office", "--area",
                   str(district), "--privacy", "contact", "--json")["id"]
    password = secrets.token_urlsafe(12)
    server("user", "add", "admin@demo.local", "--role", "admin", "--password-stdin", "--json",
           stdin=password + "\n")
    playlist = server("media", "import-default", "--json")["playlist_id"]
    server("playlist", "assign", str(playlist), "--venue", str(venue), "--json")
    code = server("kiosk", "add", "--venue", str(venue), "--name", "Demo kiosk",
                  "--json")["enrollment_code"]
    print("\n  Admin:    admin@demo.local")
    print(f"  Password: {password}   (shown once; `make demo` never prints it again)\n")
    state = {"venue": venue, "code": code}
    STATE.write_text(json.dumps(state))
    return state


def enroll_kiosk(code: str) -> bool:
    if (KIOSK_DATA / "credentials.json").exists():
        return True
    kiosk = shutil.which("signage-kiosk", path=str(BIN))
    if kiosk is None:
        print("signage-kiosk is not installed; running the server only")
        return False
    result = subprocess.run([kiosk, "--data", str(KIOSK_DATA), "enroll", code,
                             "--server", URL], check=False)
    return result.returncode == 0


def wait_for_server(proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("the server stopped during start-up; see the messages above")
        try:
            with urllib.request.urlopen(f"{URL}/api/v1/openapi.json", timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"the server did not answer on {URL} within {seconds:.0f} s")


def main() -> None:
    state = json.loads(STATE.read_text()) if STATE.exists() else first_run()
    procs: list[subprocess.Popen[bytes]] = []
    web = subprocess.Popen([str(BIN / "gunicorn"), "--workers", "2", "--bind",
                            f"{HOST}:{PORT}", "signage_server:create_app()"], env=_env())
    procs.append(web)
    wait_for_server(web)
    print(f"  Server:   {URL}")
    if enroll_kiosk(str(state["code"])):
        mode = "--windowed" if os.environ.get("DISPLAY") or os.environ.get(
            "WAYLAND_DISPLAY") else "--headless"
        screen = KIOSK_DATA / "screen.png"
        procs.append(subprocess.Popen([str(BIN / "signage-kiosk"), "--data", str(KIOSK_DATA),
                                       "run", mode, "--screenshot", str(screen)]))
        print(f"  Kiosk:    {mode[2:]}, screen in {screen}")
    print("  Stop with Ctrl-C.\n")
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=15)


if __name__ == "__main__":
    main()
