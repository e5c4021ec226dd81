"""Switching the display itself off and on while the screen sleeps, in the background.

The screen loop draws black when the screen sleeps (``kiosk.state``); a venue can also have
the panel switched off (``screen_off_command``, e.g. ``["vcgencmd", "display_power", "0"]``
on a Raspberry Pi, or ``["wlr-randr", "--output", "HDMI-A-1", "--off"]`` under Wayland) and
back on (``screen_on_command``). Those commands can take a second or hang on a confused
HDMI link, so one worker thread runs them in order, each with a timeout, and the loop only
queues a request: it never waits for a display. A command that fails is logged once per
kind of failure; the screen stays black (or lit) either way.
"""

from __future__ import annotations

import logging
import queue
import subprocess
import threading
from collections.abc import Sequence

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 15.0


class ScreenSwitch:
    """Runs the configured off/on commands, in order, in one background thread.

    With no command configured it does nothing and starts no thread.
    """

    def __init__(self, off: Sequence[str] = (), on: Sequence[str] = (),
                 timeout_s: float = COMMAND_TIMEOUT_S) -> None:
        self._commands = {False: tuple(off), True: tuple(on)}
        self._timeout = timeout_s
        self._requests: queue.Queue[bool | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._last_problem: str | None = None
        self.ran: list[tuple[str, ...]] = []  # what was run, in order (for status and tests)

    def set(self, on: bool) -> None:
        """Ask for the display on or off; returns at once."""
        if not self._commands[on]:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="screen-power", daemon=True)
            self._thread.start()
        self._requests.put(on)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the worker after what was asked so far (the display is left as it is)."""
        if self._thread is None:
            return
        self._requests.put(None)
        self._thread.join(timeout_s)
        self._thread = None

    def _work(self) -> None:
        while (on := self._requests.get()) is not None:
            self._run(self._commands[on])

    def _run(self, argv: tuple[str, ...]) -> None:
        try:
            subprocess.run(argv, check=True, timeout=self._timeout, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except (OSError, subprocess.SubprocessError) as exc:
            problem = f"{argv[0]}: {type(exc).__name__}"
            if problem != self._last_problem:
                log.warning("screen power command failed: %s (%s)", problem, exc)
            self._last_problem = problem
        else:
            self._last_problem = None
        self.ran.append(argv)
