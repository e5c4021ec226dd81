"""The sync thread: keeps the kiosk's manifest, media, outbox and heartbeat in step with the
server, in the background, so drawing never waits for the network.

One round, whenever it is due (the poll interval, jittered 20 % below it) or woken (MQTT
push, a heartbeat naming another manifest version):
1. poll the manifest with ``If-None-Match``; on a new one, fetch every media file into the cache
   and only when all are cached and verified post ``ManifestReady`` on the player's queue (the
   player switches at its next item boundary) and remember the manifest in the journal;
2. upload the outbox (plays, then check-ins) in idempotent batches.
A failed round waits an exponential, jittered, capped backoff (``backoff_delay``). Heartbeats
run on their own interval and right after a new manifest was handed over.

Wall time, monotonic time and randomness are injected, and ``run_round`` can be driven by a
test without a thread; the delays are pure functions with their own table tests.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kiosk import errors, heartbeat
from kiosk.backoff import backoff_delay, poll_delay
from kiosk.cache import MediaCache, MediaSource
from kiosk.config import KioskConfig
from kiosk.events import ManifestReady, SyncStatus
from kiosk.heartbeat import Device, PlayerView
from kiosk.journal import CHECKIN, PLAY, Journal, rfc3339

log = logging.getLogger(__name__)

ENDPOINTS = ((PLAY, "plays"), (CHECKIN, "checkins"))
MAX_BATCH_JSON_BYTES = 1536 * 1024  # under the API's 2 MiB body limit, with room to spare
EXPIRY_EVERY_S = 3600.0  # how often unsent check-ins are checked against the retention
MAX_RETENTION_DAYS = 30  # the server never keeps personal data longer
LAST_SYNC_WRITE_S = 60.0  # "last sync" is for humans: do not write the SD card every poll


@dataclass(frozen=True)
class SyncSettings:
    """The part of the kiosk's configuration the sync thread uses."""

    poll_seconds: float = 30.0
    poll_jitter: float = 0.2
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 300.0
    heartbeat_seconds: float = 60.0
    heartbeat_screenshot: bool = True
    batch_size: int = 500
    download_attempts: int = 3

    @classmethod
    def from_config(cls, config: KioskConfig) -> SyncSettings:
        """Pick the sync settings out of the whole kiosk configuration."""
        return cls(config.poll_seconds, config.poll_jitter, config.backoff_base_seconds,
                   config.backoff_cap_seconds, config.heartbeat_seconds,
                   config.heartbeat_screenshot, config.batch_size, config.download_attempts)


class FootfallSource(Protocol):
    """Motion counts for the heartbeat (``kiosk.hardware.Footfall``)."""

    def pending(self) -> int: ...

    def acknowledge(self, sent: int) -> None: ...


class SyncApi(MediaSource, Protocol):
    """The calls the sync thread makes (``kiosk.client.KioskClient`` provides them)."""

    @property
    def clock_offset_s(self) -> float | None: ...

    def manifest(self, etag: str | None) -> tuple[dict[str, Any] | None, str | None]: ...

    def media_url(self, sha256: str) -> str: ...

    def post_batch(self, kind: str, records: list[dict[str, Any]]) -> dict[str, Any]: ...

    def heartbeat(self, status: dict[str, Any]) -> dict[str, Any]: ...


def media_of(manifest: Mapping[str, Any] | None) -> dict[str, tuple[str | None, int | None]]:
    """sha256 → (url, bytes) of every file a manifest's playlist needs."""
    playlist = (manifest or {}).get("playlist") or {}
    needed: dict[str, tuple[str | None, int | None]] = {}
    for item in playlist.get("items") or []:
        sha = item.get("sha256")
        if isinstance(sha, str) and sha:
            size = item.get("bytes")
            needed[sha] = (item.get("url"), size if isinstance(size, int) else None)
    return needed


def last_good_manifest(journal: Journal,
                       cache: MediaCache) -> tuple[dict[str, Any], str | None] | None:
    """The journal's last good manifest and its ETag when every file it needs is cached and
    usable (``MediaCache.usable``: unchanged since it was hashed, or hashing right now), else
    None. Cheap enough to run before the first frame: a restart plays the programme, not the
    built-in content."""
    stored = journal.last_manifest()
    if stored is None:
        return None
    manifest, _etag = stored
    missing = [sha for sha in media_of(manifest) if not cache.usable(sha)]
    if missing:
        log.warning("stored manifest %s lacks %d cached file(s); waiting for the server",
                    manifest.get("manifest_version"), len(missing))
        return None
    return stored


@dataclass
class _Schedule:
    """When each kind of work is next due, on the monotonic clock."""

    next_poll: float = 0.0
    next_beat: float = 0.0
    next_expiry: float = 0.0
    failures: int = 0
    last_sync_written: float | None = None
    applied: dict[str, Any] | None = None
    etag: str | None = None
    pending_version: str | None = None  # seen, but its media are not all cached yet
    last_error: str | None = None
    unreported_error: str | None = None  # the latest error no heartbeat has told yet
    online: bool | None = None
    posted: SyncStatus | None = None
    topic_listeners: list[Callable[[list[str]], None]] = field(default_factory=list)


class Sync:
    """The kiosk's sync side; ``start()`` runs it in a daemon thread, ``wake()`` hurries it."""

    def __init__(self, client: SyncApi, journal: Journal, cache: MediaCache,
                 events: queue.Queue[Any], settings: SyncSettings, device: Device, *,
                 footfall: FootfallSource | None = None,
                 player: PlayerView | None = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 rnd: Callable[[], float] | None = None,
                 restored: tuple[dict[str, Any], str | None] | None = None) -> None:
        self.client = client
        self.journal = journal
        self.cache = cache
        self.events = events
        self.settings = settings
        self.device = device
        self.player = player
        self.footfall = footfall
        self._clock = clock
        self._monotonic = monotonic
        self._rnd = rnd or random.Random().random
        self._started = monotonic()
        self._state = _Schedule(next_poll=self._started, next_beat=self._started)
        if restored is not None:  # already handed to the player (``last_good_manifest``)
            self._state.applied, self._state.etag = restored
        self._wake = threading.Event()
        self._urgent = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- control ------------------------------------------------------------------------

    def on_topics(self, listener: Callable[[list[str]], None]) -> None:
        """Call ``listener`` with the manifest's MQTT topics whenever a manifest takes effect."""
        self._state.topic_listeners.append(listener)
        if self._state.applied is not None:
            listener(_topics(self._state.applied))

    def wake(self) -> None:
        """Fetch the manifest at once (an MQTT push said it changed); safe from any thread."""
        self._urgent = True
        self._wake.set()

    def start(self) -> None:
        """Run the sync loop in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="kiosk-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to end after its current request, and wait for it a little."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Restore the last good manifest (unless the caller did), then do rounds until
        stopped. One broad ``except`` per round: whatever went wrong is logged and the next
        round comes."""
        if self._state.applied is None:
            self._guarded(self.restore)
        else:
            self._post_status()
        while not self._stopping:
            delay = self._guarded(self.run_round)
            self._wake.wait(self.settings.backoff_base_s if delay is None else delay)
            self._wake.clear()

    @property
    def manifest_version(self) -> str | None:
        """The version of the manifest in effect (handed to the player), if any."""
        applied = self._state.applied
        return applied.get("manifest_version") if applied else None

    # -- the work -----------------------------------------------------------------------

    def restore(self) -> bool:
        """Hand the player the journal's last good manifest if all its media are cached and
        verified, so a restart with the server down keeps playing it. True when it did."""
        self._post_status()
        stored = last_good_manifest(self.journal, self.cache)
        if stored is None:
            return False
        self._hand_over(*stored, remember=False)
        return True

    def run_round(self) -> float:
        """Do whatever is due now; return the seconds until something is due again."""
        now = self._monotonic()
        state = self._state
        if now >= state.next_expiry:
            state.next_expiry = now + EXPIRY_EVERY_S
            self._guarded(self._expire_personal)
        if self._urgent or now >= state.next_poll:
            self._urgent = False
            self._sync_round(now)
        if not state.online:  # heartbeats wait until a round reached the server
            return max(0.0, state.next_poll - self._monotonic())
        if self._monotonic() >= state.next_beat:
            self._beat()
        return max(0.0, min(state.next_poll, state.next_beat) - self._monotonic())

    def _expire_personal(self) -> None:
        """Drop the sealed personal fields of unsent check-ins past the venue's retention
        (``Journal.expire_personal``); runs offline too, since that is when they pile up.
        Needs the venue's retention (a manifest) and a corrected clock."""
        checkin = (self._state.applied or {}).get("checkin")
        days = checkin.get("retention_days") if isinstance(checkin, Mapping) else None
        offset = self.journal.clock_offset
        if type(days) is not int or offset is None:
            return
        days = min(max(days, 1), MAX_RETENTION_DAYS)
        self.journal.expire_personal(rfc3339(self._clock() + offset - days * 86400))

    def _sync_round(self, now: float) -> None:
        """Manifest, media and outbox; the round's outcome sets the next poll."""
        state = self._state
        try:
            media_error = self._refresh_manifest()
            self._upload_outbox()
        except errors.SyncError as exc:
            state.failures += 1
            delay = backoff_delay(state.failures, self._rnd, self.settings.backoff_base_s,
                                  self.settings.backoff_cap_s)
            state.next_poll = now + delay
            self._set_online(False, str(exc))
            return
        self._set_online(True, media_error)
        if media_error is not None:
            state.failures += 1
            state.next_poll = now + backoff_delay(state.failures, self._rnd,
                                                  self.settings.backoff_base_s,
                                                  self.settings.backoff_cap_s)
        else:
            state.failures = 0
            state.next_poll = now + poll_delay(self._poll_seconds(), self.settings.poll_jitter,
                                               self._rnd)
        self._note_last_sync(now)

    def _refresh_manifest(self) -> str | None:
        """Poll; on a new manifest fetch its media and hand it over. Returns the media problem
        that kept a new manifest from taking effect, if any (the server itself was fine)."""
        manifest, etag = self.client.manifest(self._state.etag)
        self._learn_clock()
        if manifest is None:
            return None
        if manifest.get("manifest_version") == self.manifest_version:
            self._state.etag = etag  # same content, new validator (e.g. after a restore)
            return None
        problem = self._fetch_media(manifest)
        if problem is not None:
            self._state.pending_version = manifest.get("manifest_version")
            return problem
        self._hand_over(manifest, etag, remember=True)
        return None

    def _fetch_media(self, manifest: Mapping[str, Any]) -> str | None:
        """Cache every file the manifest needs; tries them all, reports the first failure."""
        first_problem: str | None = None
        for sha, (url, size) in media_of(manifest).items():
            try:
                self.cache.fetch(self.client, sha, url or self.client.media_url(sha), size,
                                 self.settings.download_attempts)
            except errors.TransportError:
                raise
            except (errors.CacheError, errors.SyncError) as exc:
                log.warning("media %s not cached: %s", sha[:12], exc)
                first_problem = first_problem or f"media {sha[:12]}: {exc}"
        return first_problem

    def _hand_over(self, manifest: dict[str, Any], etag: str | None, remember: bool) -> None:
        """The manifest takes effect: player told, journal updated, old media released."""
        state = self._state
        previous = state.applied
        if remember:
            self.journal.save_manifest(manifest, etag)
        state.applied, state.etag, state.pending_version = manifest, etag, None
        self.events.put(ManifestReady(manifest, self.cache.resolve))
        log.info("manifest %s handed to the player", manifest.get("manifest_version"))
        if remember:
            # The player may still be showing an item of the previous manifest: keep its
            # files. (Not after a restore: the partial files of a newer manifest that was on
            # its way before the restart are still wanted.)
            self.cache.remove_unreferenced(set(media_of(manifest)) | set(media_of(previous)))
        state.next_beat = self._monotonic()  # report the new version promptly
        for listener in state.topic_listeners:
            listener(_topics(manifest))

    def _upload_outbox(self) -> None:
        """Send every waiting record, oldest first, in batches; stop a kind when a batch makes
        no progress (the server answered nothing usable for it)."""
        for kind, endpoint in ENDPOINTS:
            while not self._stopping:
                rows = _within_bytes(self.journal.pending(kind, self.settings.batch_size))
                if not rows:
                    break
                answer = self.client.post_batch(endpoint, [row.payload for row in rows])
                self._learn_clock()
                settled = self.journal.settle(kind, rows, answer["results"], self._clock())
                if settled.unanswered == len(rows):
                    log.warning("server answered no record of a %s batch", kind)
                    break

    def _beat(self) -> None:
        """Send the heartbeat; a server naming another manifest version triggers a poll."""
        state = self._state
        state.next_beat = self._monotonic() + self._heartbeat_seconds()
        body = self.heartbeat_body()
        try:
            answer = self.client.heartbeat(body)
        except errors.SyncError as exc:
            log.info("heartbeat failed: %s", exc)
            return
        if self.footfall is not None and body.get("footfall"):
            self.footfall.acknowledge(body["footfall"])  # motion since then waits its turn
        state.unreported_error = None
        self._learn_clock()
        theirs = answer.get("manifest_version")
        if isinstance(theirs, str) and theirs not in (self.manifest_version,
                                                      state.pending_version):
            state.next_poll = min(state.next_poll, self._monotonic())

    def heartbeat_body(self) -> dict[str, Any]:
        """The status fields of ``POST /api/v1/heartbeat``."""
        counts = self.journal.unsynced()
        state = self._state
        facts = heartbeat.SyncFacts(
            uptime_s=self._monotonic() - self._started, manifest_version=self.manifest_version,
            unsynced_plays=counts[PLAY], unsynced_checkins=counts[CHECKIN],
            clock_offset_s=self.client.clock_offset_s,
            error=state.last_error or state.unreported_error,
            footfall=self.footfall.pending() if self.footfall is not None else None)
        return heartbeat.body(self.device, self.player, facts,
                              self.settings.heartbeat_screenshot)

    # -- bookkeeping --------------------------------------------------------------------

    def _learn_clock(self) -> None:
        self.journal.set_clock_offset(self.client.clock_offset_s)

    def _set_online(self, online: bool, error: str | None) -> None:
        """Track the online edge and the last error; log and post only when they change."""
        state = self._state
        if online != state.online:
            if online:
                log.info("sync with the server works")
            else:
                log.warning("sync with the server fails: %s", error)
        state.online, state.last_error = online, error
        if error is not None:
            state.unreported_error = error
        self._post_status()

    def _post_status(self) -> None:
        state = self._state
        offset = self.client.clock_offset_s
        if offset is None:
            offset = self.journal.clock_offset
        status = SyncStatus(bool(state.online), offset, state.last_error)
        if _status_changed(state.posted, status):
            state.posted = status
            self.events.put(status)

    def _note_last_sync(self, now: float) -> None:
        state = self._state
        if state.last_sync_written is None or now - state.last_sync_written >= LAST_SYNC_WRITE_S:
            self.journal.put("last_sync_at", repr(self._clock()))
            state.last_sync_written = now

    def _poll_seconds(self) -> float:
        told = ((self._state.applied or {}).get("sync") or {}).get("poll_seconds")
        return float(told) if isinstance(told, int | float) and told > 0 else \
            self.settings.poll_seconds

    def _heartbeat_seconds(self) -> float:
        told = ((self._state.applied or {}).get("sync") or {}).get("heartbeat_seconds")
        return float(told) if isinstance(told, int | float) and told > 0 else \
            self.settings.heartbeat_seconds

    def _guarded(self, work: Callable[[], Any]) -> Any:
        try:
            return work()
        except Exception:
            log.exception("sync round failed")
            return None


def _topics(manifest: Mapping[str, Any]) -> list[str]:
    topics = (manifest.get("sync") or {}).get("mqtt_topics") or []
    return [t for t in topics if isinstance(t, str) and t]


def _within_bytes(rows: list[Any], budget: int = MAX_BATCH_JSON_BYTES) -> list[Any]:
    """The longest prefix of ``rows`` whose JSON fits the request budget (at least one row)."""
    used = 0
    for index, row in enumerate(rows):
        used += len(json.dumps(row.payload, ensure_ascii=False).encode()) + 2
        if used > budget and index > 0:
            return rows[:index]
    return rows


def _status_changed(old: SyncStatus | None, new: SyncStatus) -> bool:
    """Online and error changes always count; the offset only when it moved over a second."""
    if old is None or (old.online, old.last_error) != (new.online, new.last_error):
        return True
    if (old.clock_offset_s is None) != (new.clock_offset_s is None):
        return True
    return old.clock_offset_s is not None and new.clock_offset_s is not None and \
        abs(old.clock_offset_s - new.clock_offset_s) > 1.0
