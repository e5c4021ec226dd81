"""The journal: durable settings, an outbox that empties only on acknowledgement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.errors import JournalError
from kiosk.events import PlayRecord
from kiosk.ids import new_client_uuid
from kiosk.journal import (
    CHECKIN,
    PLAY,
    Journal,
    PlayWriter,
    current_boot_id,
    journal_damage,
    open_journal,
    rfc3339,
)
from kiosk.recovery import KEEP, set_aside_copies

NOW = 1_795_420_800.0  # 2026-11-23T08:00:00Z


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / "journal.sqlite")
    yield opened
    opened.close()


def play(offset_s: float = 0.0, item_id: int | None = 7) -> PlayRecord:
    started = NOW + offset_s
    return PlayRecord(new_client_uuid(started), item_id, "a" * 64, "video", started, 15_000,
                      "5f0c1e9a2b7d4c11")


def results(*statuses: str, reason: str = "bad") -> list[dict[str, object]]:
    return [{"index": i, "client_uuid": None, "status": s,
             "reason": reason if s == "rejected" else None} for i, s in enumerate(statuses)]


def test_wal_and_full_synchronous_are_set(journal: Journal) -> None:
    assert journal.pragma("journal_mode") == "wal"
    assert journal.pragma("synchronous") == 2  # FULL


def test_a_play_is_queued_in_wire_form(journal: Journal) -> None:
    record = play()
    journal.add_play(record, NOW)
    [row] = journal.pending(PLAY, 10)
    assert row.client_uuid == record.client_uuid
    assert row.payload == {
        "client_uuid": record.client_uuid, "item_id": 7, "sha256": "a" * 64, "kind": "video",
        "started_at": "2026-11-23T08:00:00.000Z", "duration_ms": 15_000,
        "manifest_version": "5f0c1e9a2b7d4c11", "clock_uncorrected": True,
    }


def test_times_are_corrected_by_the_learned_offset(journal: Journal) -> None:
    journal.set_clock_offset(-3600.5)  # the Pi booted an hour ahead
    journal.add_play(play(), NOW)
    [row] = journal.pending(PLAY, 10)
    assert row.payload["started_at"] == "2026-11-23T06:59:59.500Z"
    assert row.payload["clock_uncorrected"] is False


def test_the_same_record_is_journaled_once(journal: Journal) -> None:
    record = play()
    assert journal.add_play(record, NOW) is True
    assert journal.add_play(record, NOW) is False
    assert journal.unsynced() == {PLAY: 1, CHECKIN: 0}


def test_many_records_go_in_one_commit(journal: Journal) -> None:
    records = [play(float(i)) for i in range(3)]
    rows = [(r.client_uuid, journal.play_payload(r)) for r in records]
    assert journal.add_many(PLAY, rows, NOW) == 3
    assert journal.add_many(PLAY, rows[1:], NOW) == 0
    assert journal.unsynced()[PLAY] == 3


def test_pending_is_oldest_first_and_bounded(journal: Journal) -> None:
    records = [play(float(i)) for i in range(5)]
    for record in records:
        journal.add_play(record, NOW)
    assert [r.client_uuid for r in journal.pending(PLAY, 3)] == \
        [r.client_uuid for r in records[:3]]
    assert journal.pending(CHECKIN, 3) == []


def test_rows_leave_only_when_acknowledged(journal: Journal) -> None:
    for i in range(4):
        journal.add_play(play(float(i)), NOW)
    sent = journal.pending(PLAY, 4)
    settled = journal.settle(PLAY, sent, results("accepted", "duplicate"), NOW)
    assert (settled.acknowledged, settled.rejected, settled.unanswered) == (2, 0, 2)
    assert [r.client_uuid for r in journal.pending(PLAY, 10)] == \
        [r.client_uuid for r in sent[2:]]


def test_a_lost_answer_keeps_every_row(journal: Journal) -> None:
    journal.add_play(play(), NOW)
    sent = journal.pending(PLAY, 10)
    journal.settle(PLAY, sent, [], NOW)
    assert journal.pending(PLAY, 10) == sent


def test_rejected_rows_go_to_the_dead_letters_with_their_reason(journal: Journal) -> None:
    journal.add_play(play(0.0), NOW)
    journal.add_play(play(1.0), NOW)
    sent = journal.pending(PLAY, 10)
    journal.settle(PLAY, sent, results("rejected", "accepted", reason="sha256: bad"), NOW)
    assert journal.pending(PLAY, 10) == []
    [dead] = journal.dead_letters()
    assert dead["client_uuid"] == sent[0].client_uuid
    assert dead["reason"] == "sha256: bad"


def test_a_result_naming_another_record_is_ignored(journal: Journal) -> None:
    journal.add_play(play(), NOW)
    sent = journal.pending(PLAY, 10)
    other = [{"index": 0, "client_uuid": "00000000-0000-7000-8000-000000000000",
              "status": "accepted"}]
    journal.settle(PLAY, sent, other, NOW)
    assert journal.unsynced()[PLAY] == 1


def test_check_ins_share_the_outbox_by_kind(journal: Journal) -> None:
    uuid = new_client_uuid(NOW)
    journal.add(CHECKIN, uuid, {"client_uuid": uuid, "direction": "in"}, NOW)
    journal.add_play(play(), NOW)
    assert journal.unsynced() == {PLAY: 1, CHECKIN: 1}
    assert journal.pending(CHECKIN, 10)[0].payload["direction"] == "in"


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    first = Journal(path)
    first.add_play(play(), NOW)
    first.save_manifest({"manifest_version": "v1", "playlist": None}, '"v1"')
    first.set_clock_offset(12.25)
    first.close()
    again = Journal(path)
    assert again.unsynced()[PLAY] == 1
    assert again.last_manifest() == ({"manifest_version": "v1", "playlist": None}, '"v1"')
    assert again.clock_offset == 12.25
    again.close()


def test_small_offset_drifts_are_used_but_not_written(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    first = Journal(path)
    first.set_clock_offset(10.0)
    first.set_clock_offset(10.4)
    assert first.clock_offset == 10.4
    first.close()
    again = Journal(path)
    assert again.clock_offset == 10.0
    again.close()


def test_an_offset_from_before_a_reboot_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    first = Journal(path, boot_id="boot-1")
    first.set_clock_offset(3600.0)
    first.close()
    restarted = Journal(path, boot_id="boot-1")
    assert restarted.clock_offset == 3600.0  # the process restarted, the clock did not
    restarted.close()
    rebooted = Journal(path, boot_id="boot-2")
    assert rebooted.clock_offset is None
    rebooted.add_play(play(), NOW)
    assert rebooted.pending(PLAY, 1)[0].payload["clock_uncorrected"] is True
    rebooted.close()


def test_the_boot_id_comes_from_the_kernel(tmp_path: Path) -> None:
    (tmp_path / "boot_id").write_text("0d9c2c59-8e8c-4b43-a8d7-2f3e0c1a5b6e\n")
    assert current_boot_id(tmp_path / "boot_id") == "0d9c2c59-8e8c-4b43-a8d7-2f3e0c1a5b6e"
    assert current_boot_id(tmp_path / "absent") is None


def test_no_manifest_before_the_first_one(journal: Journal) -> None:
    assert journal.last_manifest() is None


@pytest.mark.parametrize(("unix", "text"), [
    (0.0, "1970-01-01T00:00:00.000Z"),
    (NOW + 0.9999, "2026-11-23T08:00:00.999Z"),
    (NOW + 61.25, "2026-11-23T08:01:01.250Z"),
])
def test_rfc3339_table(unix: float, text: str) -> None:
    assert rfc3339(unix) == text


def test_the_play_writer_journals_off_the_callers_thread(journal: Journal) -> None:
    writer = PlayWriter(journal, clock=lambda: NOW)
    records = [play(float(i)) for i in range(3)]
    for record in records:
        writer.submit(record)
    writer.close()
    assert [r.client_uuid for r in journal.pending(PLAY, 10)] == \
        [r.client_uuid for r in records]


# -- a damaged journal is set aside, not fatal ----------------------------------------------


def filled_journal(path: Path, plays: int = 400) -> None:
    """A journal with enough rows to span many pages, closed cleanly (WAL checkpointed)."""
    opened = Journal(path)
    opened.add_many(PLAY, [(new_client_uuid(NOW + i), {"n": i, "pad": "x" * 200})
                           for i in range(plays)], NOW)
    opened.close()


def test_a_file_that_is_not_a_database_is_set_aside_and_replaced(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"\0" * 4096 + b"not sqlite")
    path.with_name("journal.sqlite-wal").write_bytes(b"its wal")
    opened = open_journal(path, None, NOW)
    try:
        assert opened.add(PLAY, new_client_uuid(NOW), {"n": 1}, NOW)
        assert opened.unsynced()[PLAY] == 1
    finally:
        opened.close()
    (aside,) = set_aside_copies(path)
    assert aside.name == "journal.sqlite.corrupt-20261123T080000Z"
    assert aside.read_bytes().endswith(b"not sqlite")  # kept as it was, for diagnosis
    assert aside.with_name(aside.name + "-wal").read_bytes() == b"its wal"
    assert "set aside as journal.sqlite.corrupt-20261123T080000Z" in caplog.text


def test_a_journal_with_a_damaged_page_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    filled_journal(path)
    with path.open("r+b") as handle:  # garbage over a page in the middle of the table
        handle.seek(path.stat().st_size // 2)
        handle.write(bytes(range(256)) * 16)
    assert journal_damage(path) is not None
    opened = open_journal(path, None, NOW)
    try:
        assert journal_damage(path) is None
        assert opened.unsynced()[PLAY] == 0
    finally:
        opened.close()
    (aside,) = set_aside_copies(path)
    assert aside.stat().st_size > 400 * 200


def test_a_big_journal_gets_only_the_cheap_check(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    filled_journal(path)
    with path.open("r+b") as handle:  # a damaged page deep inside
        handle.seek(path.stat().st_size // 2)
        handle.write(bytes(range(256)) * 16)
    assert journal_damage(path) is not None
    assert journal_damage(path, max_bytes=path.stat().st_size - 1) is None  # not looked at
    with path.open("r+b") as handle:  # a broken header is found whatever the size
        handle.write(b"garbage" * 20)
    assert "not a database" in str(journal_damage(path, max_bytes=1))


def test_a_sound_journal_is_opened_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    filled_journal(path, plays=3)
    opened = open_journal(path, None, NOW)
    try:
        assert opened.unsynced()[PLAY] == 3
    finally:
        opened.close()
    assert set_aside_copies(path) == []


def test_a_journal_that_cannot_be_opened_is_not_damaged(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    path.mkdir()  # SQLite cannot open it, but moving it aside would be no cure
    with pytest.raises(JournalError, match="cannot open journal"):
        open_journal(path, None, NOW)
    assert path.is_dir() and set_aside_copies(path) == []


def test_only_the_newest_damaged_copies_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    for second in range(KEEP + 2):
        path.write_bytes(b"garbage %d" % second)
        path.with_name("journal.sqlite-wal").write_bytes(b"wal %d" % second)
        open_journal(path, None, NOW + second).close()
    kept = set_aside_copies(path)
    assert [p.read_bytes() for p in kept] == [b"garbage %d" % s for s in range(2, KEEP + 2)]
    walls = sorted(p.name for p in tmp_path.glob("journal.sqlite.corrupt-*-wal"))
    assert walls == [p.name + "-wal" for p in kept]
