"""What sealing and erasing cost the kiosk's journal, against the bare journal in the same run.

- **record**: ``kiosk.checkin.Recorder.record`` of a staff check-in with name and phone
  (checked, NFC, sealed with a SealedBox, one durable commit), against the ceiling
  ``Journal.add`` of an anonymous check-in of the same shape (the same durable commit, nothing
  to check or seal);
- **settle**: ``Journal.settle`` of a batch of acknowledged check-ins with sealed boxes
  (``secure_delete`` and a truncating WAL checkpoint, so no byte of a box stays on disk),
  against the ceiling ``Journal.settle`` of the same number of play records (a plain delete).

Each pair alternates in one process on the same disk, so load hits both alike; the ratios are
what to read. Nothing here has a target of its own: a check-in's time to the confirmation is
``checkin_latency``'s, the backlog's ``sync_backlog``'s; this shows what the privacy parts add.

    python -m bench checkin_journal -- --records 300 --batches 20 --batch-size 500
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from nacl.public import PrivateKey

from kiosk.checkin import CheckinSettings, Recorder, Visitor
from kiosk.events import PlayRecord
from kiosk.ids import new_client_uuid
from kiosk.journal import CHECKIN, PLAY, Journal

from ._common import machine, median, percentile, say, table

SETTINGS = CheckinSettings("contact", 21, 1, "Tôi đồng ý.", "I agree.", "Asia/Ho_Chi_Minh")
NAMES = ("Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Cường", "Phạm Thu Dung")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench checkin_journal",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=300, help="check-ins to time")
    parser.add_argument("--batches", type=int, default=20, help="settled batches to time")
    parser.add_argument("--batch-size", type=int, default=500, help="records per batch")
    parser.add_argument("--quick", action="store_true",
                        help="20 records, 2 batches of 50: only shows it still works")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.batches, args.batch_size = 20, 2, 50
    return args


def time_records(journal: Journal, count: int) -> tuple[list[float], list[float]]:
    """Alternate a sealed Recorder.record and a bare Journal.add; milliseconds each."""
    recorder = Recorder(journal, bytes(PrivateKey.generate().public_key), SETTINGS)
    recorder.record(Visitor("in", "staff", "yes", {"name": "Khởi động"}), time.time())  # warm
    sealed, bare = [], []
    for index in range(count):
        visitor = Visitor("in", "staff", "yes",
                          {"name": NAMES[index % len(NAMES)], "phone": "0912 345 678"})
        start = time.perf_counter()
        recorder.record(visitor, time.time())
        sealed.append((time.perf_counter() - start) * 1000)
        now = time.time()
        start = time.perf_counter()
        occurred, uncorrected = journal.corrected(now)
        uuid = new_client_uuid(now)
        journal.add(CHECKIN, uuid, {
            "client_uuid": uuid, "occurred_at": occurred, "clock_uncorrected": uncorrected,
            "direction": "in", "method": "button", "has_app": "yes", "consent_version": None,
            "sealed": None}, now)
        bare.append((time.perf_counter() - start) * 1000)
    return sealed, bare


def time_settles(journal: Journal, batches: int, size: int) -> tuple[list[float], list[float]]:
    """Alternate settling a batch of sealed check-ins and a batch of plays; ms per batch."""
    recorder = Recorder(journal, bytes(PrivateKey.generate().public_key), SETTINGS)
    erasing, plain = [], []
    for _ in range(batches):
        _drain(journal)
        for index in range(size):
            recorder.record(Visitor("in", "staff", "no", {"name": NAMES[index % 4]}),
                            time.time())
        now = time.time()
        journal.add_many(PLAY, [(r.client_uuid, journal.play_payload(r)) for r in (
            PlayRecord(new_client_uuid(now), 1, "a" * 64, "video", now, 8000, "v")
            for _ in range(size))], now)
        for kind, into in ((CHECKIN, erasing), (PLAY, plain)):
            rows = journal.pending(kind, size)
            answers = [{"index": i, "client_uuid": r.client_uuid, "status": "accepted"}
                       for i, r in enumerate(rows)]
            start = time.perf_counter()
            journal.settle(kind, rows, answers, time.time())
            into.append((time.perf_counter() - start) * 1000)
    return erasing, plain


def _drain(journal: Journal) -> None:
    for kind in (CHECKIN, PLAY):
        while rows := journal.pending(kind, 1000):
            journal.settle(kind, rows, [{"index": i, "status": "accepted"}
                                        for i in range(len(rows))], time.time())


def row(name: str, values: list[float], ceiling: list[float]) -> list[object]:
    return [name, len(values), f"{median(values):.2f}", f"{percentile(values, 99):.2f}",
            f"{median(values) / median(ceiling):.2f}"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say(f"checkin_journal on {machine()}; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="bench-checkin-journal-") as folder:
        journal = Journal(Path(folder) / "journal.sqlite")
        try:
            sealed, bare = time_records(journal, args.records)
            erasing, plain = time_settles(journal, args.batches, args.batch_size)
        finally:
            journal.close()
    say(table([
        row("record(): checked, sealed, committed", sealed, bare),
        row("ceiling: Journal.add, anonymous", bare, bare),
        row(f"settle {args.batch_size} sealed check-ins (erasing)", erasing, plain),
        row(f"ceiling: settle {args.batch_size} plays", plain, plain),
    ], ["operation", "n", "p50 ms", "p99 ms", "p50 / ceiling p50"]))
    say(f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json is not None:
        figures = {name: {"p50_ms": median(values), "p99_ms": percentile(values, 99)}
                   for name, values in (("record", sealed), ("record_ceiling", bare),
                                        ("settle", erasing), ("settle_ceiling", plain))}
        figures["ratios"] = {"record": median(sealed) / median(bare),
                             "settle": median(erasing) / median(plain)}
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
