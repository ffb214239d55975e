"""The hash chain of a peering's history (record.verify_chain), over crafted entries: intact,
an entry's content changed, an entry taken out, relinked, and the oldest entries expired by the
table's TTL (the chain is checked from the oldest entry kept)."""

from __future__ import annotations

from peering_autopilot.record import ZERO_HASH, ChainBreak, HistoryEntry, next_entry, verify_chain

PCX = "pcx-0123456789abcdef0"
KINDS = ["requested", "accepted", "configured", "verified", "deleted", "cleaned-up"]


def chain(n: int = len(KINDS)) -> list[HistoryEntry]:
    entries: list[HistoryEntry] = []
    for i, kind in enumerate(KINDS[:n]):
        previous = entries[-1] if entries else None
        at = f"2026-12-07T10:00:0{i}.000Z"
        entries.append(next_entry(previous, PCX, at, kind, "peering-autopilot:F", f"ev-{i}", kind, {"i": i}))
    return entries


def test_an_untouched_chain_is_intact_and_each_entry_names_the_one_before() -> None:
    entries = chain()
    check = verify_chain(list(reversed(entries)))  # in any order: checked by sequence number
    assert check.intact
    assert (check.entries, check.first_seq, check.breaks) == (6, 1, ())
    assert check.describe() == "intact: 6 entries, each chained to the one before"
    assert entries[0].prev == ZERO_HASH
    assert [e.prev for e in entries[1:]] == [e.hash for e in entries[:-1]]


def test_no_entries_is_no_history() -> None:
    check = verify_chain([])
    assert check.intact and check.describe() == "no history recorded"


def test_a_changed_summary_evidence_or_actor_breaks_that_entry_only() -> None:
    for change in ({"summary": "nothing happened"}, {"evidence": '{"i":99}'}, {"actor": "someone-else"}):
        entries = chain()
        entries[2] = entries[2]._replace(**change)
        check = verify_chain(entries)
        assert check.breaks == (ChainBreak(3, "its content does not match its hash (changed after it was written)"),)
        assert check.describe() == (
            "BROKEN: entry 3: its content does not match its hash (changed after it was written)"
        )


def test_an_entry_taken_out_breaks_the_chain_at_the_next() -> None:
    entries = chain()
    del entries[3]
    assert verify_chain(entries).breaks == (ChainBreak(5, "entries 4 to 4 are missing"),)


def test_the_last_entry_taken_out_is_not_seen_by_the_chain_alone() -> None:
    # What the chain cannot show: the newest entry gone leaves a shorter, intact chain.
    assert verify_chain(chain()[:-1]).intact


def test_an_entry_relinked_and_rehashed_breaks_where_it_no_longer_names_its_predecessor() -> None:
    entries = chain()
    forged = next_entry(entries[0], PCX, entries[2].at, "configured", "x", "ev-2", "forged", {})
    entries[2] = forged._replace(seq=3)  # points at entry 1; hash no longer matches once its seq moved
    check = verify_chain(entries)
    assert [b.seq for b in check.breaks] == [3, 3, 4]
    assert check.breaks[1:] == (
        ChainBreak(3, "it does not name the hash of entry 2"),
        ChainBreak(4, "it does not name the hash of entry 3"),
    )


def test_a_first_entry_that_does_not_start_the_chain_is_a_break() -> None:
    entries = chain()
    first = entries[0]
    entries[0] = next_entry(entries[1], PCX, first.at, first.kind, first.actor, first.event_id, first.summary, {"i": 0})
    entries[0] = entries[0]._replace(seq=1)
    assert ChainBreak(1, "the first entry does not start the chain") in verify_chain(entries).breaks


def test_entries_expired_by_ttl_the_chain_is_checked_from_the_oldest_kept() -> None:
    # GIVEN the table's TTL removed entries 1 and 2
    kept = chain()[2:]

    # THEN the rest is intact, and the check says where it started
    check = verify_chain(kept)
    assert check.intact
    assert (check.entries, check.first_seq) == (4, 3)
    assert check.describe() == "intact: 4 entries, each chained to the one before (entries before 3 expired)"
    # ... and a change after the expired ones is still found
    kept[1] = kept[1]._replace(summary="changed")
    assert [b.seq for b in verify_chain(kept).breaks] == [4]
