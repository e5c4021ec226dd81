"""A kiosk process for the check-in reliability tests, driven line by line on stdin.

``python tests/e2e/checkin_driver.py --data DIR [run options]`` is ``signage-kiosk --data DIR
run --headless ...`` (``kiosk.__main__.main``, unchanged: journal, sync thread, player loop on
the main thread) plus one thread that reads commands on stdin. It keeps a reference to what
``run`` built (the journal it opened, the player and its event queue) by wrapping the
factories ``run`` calls; nothing else of the kiosk is replaced.

Input is injected at the leaf, by one of two paths (the ``READY`` line says which):

- ``player``, when the kiosk's player records check-ins itself (it was given a Recorder):
  a button press is a ``ButtonPressed`` on the player's queue; a scan is the text a USB
  scanner types (``TextTyped``) and its Enter (``KeyPressed``), all in one burst. The player's
  flow records through the Recorder, and the driver waits until the player has drawn the
  confirmation's first frame (``Player.last_confirmation`` names a new client UUID);
- ``recorder``, when it does not: the driver calls ``kiosk.checkin.Recorder.record`` on the
  kiosk's own journal (a button press is a ``Visitor`` with ``method="button"``; a scan is the
  card's key presses fed to ``kiosk.scanner.feed`` with a scanner's timing, then
  ``kiosk.scanner.read_code``; a staff record carries a name and a phone number) and the
  confirmation is ``record`` having returned (after the durable commit).

Commands (one per line) and what the driver prints on stdout (one line each, flushed):

- ``settings``: wait until the kiosk has its venue's check-in settings (from the manifest)
  and the player has drawn the first frame of its loop -> ``SETTINGS <privacy_mode>``;
- ``record ATTEMPT WALL KIND``: one check-in, KIND ``button``, ``scan`` or ``staff`` (on the
  player path: the staff form, see ``staff_form``). WALL is the
  device time given to ``record`` on the recorder path (the test injects the clock); the
  player stamps with its own clock -> ``CONFIRMED ATTEMPT CLIENT_UUID`` once confirmed (this
  line is "confirmed on screen"), or ``REFUSED ATTEMPT reason``;
- ``fill COUNT FIRST_WALL STEP_S``: record COUNT check-ins through the Recorder (every other
  one with a sealed name and phone), one ``record`` call and one durable commit each, walls
  FIRST_WALL + i * STEP_S -> ``FILLED COUNT SECONDS``;
- ``status``: the player's own counters -> ``STATUS {json}``.

Nothing personal is printed: the lines carry attempt numbers and client UUIDs only.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

# The ID card QR of a made-up citizen: id12|old_id9|name|born|gender|address|issued.
CARD = "079203001234|261234567|Nguyễn Thị Ánh Tuyết|15071990|Nữ|12 Lý Thường Kiệt, Hà Nội|01012021"
SCANNER_GAP_S = 0.004  # between two keys of a scanner burst (kiosk.scanner: under 35 ms)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Driver:
    """The stdin side: a Recorder on the kiosk's journal, and the player the kiosk built."""

    def __init__(self, data: Path) -> None:
        from kiosk import config as config_module
        from kiosk.config import DataLayout
        from kiosk.journal import Journal

        self.layout = DataLayout(data)
        self.credentials = config_module.load_credentials(self.layout)
        self.journal: Journal | None = None  # the kiosk's own, set by the wrapped factory
        self.recorder: Any = None
        self.player: Any = None
        self.events: Any = None
        self.path = "recorder"
        self.built = threading.Event()

    def open(self) -> None:
        from kiosk.checkin import Recorder

        if not self.built.wait(120) or self.journal is None:
            raise RuntimeError("the kiosk built no journal and player within 120 s")
        key = self.credentials.server_public_key if self.credentials else None
        self.recorder = Recorder(self.journal, base64.b64decode(key) if key else None)
        if getattr(self.player, "_recorder", None) is not None and \
                hasattr(self.player, "last_confirmation"):
            self.path = "player"

    def settings(self) -> str:
        from kiosk.manifest import parse_manifest
        from kiosk.state import checkin_settings

        assert self.journal is not None
        deadline = time.monotonic() + 60
        while (stored := self.journal.last_manifest()) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("no manifest stored within 60 s")
            time.sleep(0.05)
        settings = parse_manifest(stored[0], lambda _sha: None).checkin
        self.recorder.use(settings)
        if self.path == "player":  # the player takes them from the manifest it was handed
            while getattr(self.player, "_state", None) is None or \
                    checkin_settings(self.player._state) is None:
                if time.monotonic() > deadline:
                    raise RuntimeError("the player has no check-in settings within 60 s")
                time.sleep(0.05)
        # Visitors come once the kiosk shows its loop: a check-in screen from the very first
        # frame would hold back what waits for the loop's first frame (systemd's READY, the
        # start of the sync side), which is not what a restart looks like at an entrance.
        while self.player is not None and self.player.status().first_frame_s is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the player drew no frame of its loop within 60 s")
            time.sleep(0.02)
        return settings.privacy_mode if settings else "none"

    def visitor(self, attempt: int, kind: str) -> Any:
        from bench.sync_backlog import visitor
        from kiosk import scanner
        from kiosk.checkin import Visitor

        if kind == "button":
            return visitor(attempt, personal=False)
        if kind == "staff":
            return visitor(attempt, personal=True)
        buffer, burst, at = scanner.Buffer(), None, time.monotonic()
        for index, key in enumerate([*CARD, "\r"]):
            buffer, burst = scanner.feed(buffer, key, at + index * SCANNER_GAP_S)
        assert burst is not None
        card = scanner.read_code(burst.text)
        assert isinstance(card, scanner.CitizenCard), card
        has_app = ("yes", "no", "installed_now", "unknown")[attempt % 4]
        return Visitor("in" if attempt % 3 else "out", "scanner", has_app,
                       {"name": card.name, "id_last4": card.id_last4})

    def record(self, attempt: int, wall: float, kind: str) -> str:
        from kiosk.checkin import CheckinError

        if self.path == "player":
            return self.press(attempt, kind)
        try:
            confirmation = self.recorder.record(self.visitor(attempt, kind), wall)
        except CheckinError as exc:
            return f"REFUSED {attempt} {exc.en}"
        return f"CONFIRMED {attempt} {confirmation.client_uuid}"

    def press(self, attempt: int, kind: str) -> str:
        """The player path: the input on the queue, then wait for the confirmation frame."""
        from kiosk.events import ButtonPressed, KeyPressed, TextTyped

        before = self.player.last_confirmation()
        if kind == "scan":
            self.events.put(TextTyped(CARD))
            self.events.put(KeyPressed("return"))
        elif kind == "staff":
            for event in staff_form(attempt):
                self.events.put(event)
        else:
            self.events.put(ButtonPressed("has_app" if attempt % 2 else "not_yet"))
        deadline = time.monotonic() + 30
        while (shown := self.player.last_confirmation()) == before:
            if time.monotonic() > deadline:
                return f"REFUSED {attempt} no confirmation drawn within 30 s"
            time.sleep(0.001)
        assert shown is not None
        return f"CONFIRMED {attempt} {shown[0]}"

    def fill(self, count: int, first_wall: float, step: float) -> str:
        from bench.sync_backlog import visitor

        started = time.perf_counter()
        for index in range(count):
            self.recorder.record(visitor(index, personal=index % 2 == 0), first_wall + index * step)
        return f"FILLED {count} {time.perf_counter() - started:.3f}"

    def status(self) -> str:
        if self.player is None:
            return "STATUS {}"
        figures = self.player.status()
        return "STATUS " + json.dumps({
            "running": figures.running, "frames_shown": figures.frames_shown,
            "items_shown": figures.items_shown, "fps": figures.fps,
            "late_frames": figures.late_frames, "last_error": figures.last_error})

    def serve(self) -> None:
        """Read commands until stdin closes; each answer is one flushed line."""
        self.open()
        say(f"READY {self.path}")
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            match words:
                case ["settings"]:
                    say(f"SETTINGS {self.settings()}")
                case ["record", attempt, wall, kind]:
                    say(self.record(int(attempt), float(wall), kind))
                case ["fill", count, first, step]:
                    say(self.fill(int(count), float(first), float(step)))
                case ["status"]:
                    say(self.status())
                case _:
                    say(f"UNKNOWN {words[0]}")


def staff_form(attempt: int) -> list[Any]:
    """A receptionist's record on the player path: F2 opens the form (its first field, the
    name, focused), the name and the phone typed on the on-screen keyboard (the name in Telex:
    "Traafn Binhf" is "Trần Bình"), the has-app answer and the confirm button tapped."""
    from kiosk.events import KeyPressed, Tapped

    keys = [*"Traafn", "space", *"Binhf", "next", *f"09{attempt % 100_000_000:08d}"]
    return [KeyPressed("f2"), *(Tapped(f"key:{key}") for key in keys),
            Tapped(f"has_app:{('yes', 'no', 'installed_now')[attempt % 3]}"),
            Tapped("confirm")]


def keeping_journal(driver: Driver, factory: Any) -> Any:
    def build(*args: Any, **kwargs: Any) -> Any:
        journal = factory(*args, **kwargs)
        if driver.journal is None:
            driver.journal = journal
        return journal

    return build


def main(argv: list[str]) -> int:
    import kiosk.__main__ as entry

    data = Path(argv[argv.index("--data") + 1])
    driver = Driver(data)
    build_player = entry._player

    def keep_player(*args: Any, **kwargs: Any) -> Any:  # the kiosk's own player, remembered
        driver.player = build_player(*args, **kwargs)
        driver.events = kwargs.get("events", args[2] if len(args) > 2 else None)
        driver.built.set()
        return driver.player

    entry._player = keep_player
    for name in ("open_journal", "Journal"):  # whichever ``run`` opens its journal with
        factory = getattr(entry, name, None)
        if factory is not None:
            setattr(entry, name, keeping_journal(driver, factory))

    def serve() -> None:
        try:
            driver.serve()
        except Exception as exc:  # the test reads this line and fails with it
            say(f"DRIVER-ERROR {type(exc).__name__}: {exc}")

    threading.Thread(target=serve, name="checkin-driver", daemon=True).start()
    return entry.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
