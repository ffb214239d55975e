"""What a step reads from and writes to the autopilot's record (record.py: the items; the table
behind aws/dynamodb.py).

Failures never stop the hands-off path: a read that fails gives a record marked unreadable (then
nothing counts as the autopilot's own, so nothing is removed); a write that fails goes to the
backlog queue, which the sweep writes to the table once it answers (`drain`). What could not be
kept at all is in `problems`, for the step to report. A dry run reads and never writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from peering_autopilot.aws.dynamodb import BacklogQueue, RecordStore
from peering_autopilot.errors import RecordConflictError, RecordUnavailableError
from peering_autopilot.record import (
    HISTORY,
    INTENT,
    MADE,
    PEERING_ITEM,
    HistoryEntry,
    Origin,
    OwnedPeering,
    OwnedRoute,
    OwnedRule,
    PeeringRecord,
    next_entry,
    own_key,
    parse_own_items,
    peering_item,
    route_item,
    rule_item,
    unreadable_record,
)
from peering_autopilot.structs import NamedTuple


class LockTaken(NamedTuple):
    """What taking a lock found: who holds it (empty: it is this run's now, or the table did not
    answer), and the item it replaced."""

    held_by: str = ""
    previous: Mapping[str, Any] | None = None
    unavailable: str = ""  # why the table could not be asked: the caller goes on without the lock
    held: Mapping[str, Any] | None = None  # the holder's item, when another holds it


_APPEND_TRIES = 5  # racing writers of one peering's history: each retries on the next number
NO_TABLE = "no record table is configured"
NO_ORIGIN = Origin()


class Recorder:
    def __init__(
        self,
        store: RecordStore | None,
        backlog: BacklogQueue | None,
        origin: Origin = NO_ORIGIN,
        clock: Callable[[], float] = time.time,
        retention_days: int = 400,
        dry_run: bool = False,
    ) -> None:
        self.store = store
        self.backlog = backlog
        self.origin = origin
        self.clock = clock
        self.retention_days = retention_days
        self.dry_run = dry_run
        self.problems: list[str] = []  # what could not be recorded, not even on the backlog
        self.deferred = 0  # writes left on the backlog

    # ------------------------------------------------------------------ reading
    def peering(self, peering_id: str) -> PeeringRecord:
        """What the record holds of one peering; marked unreadable when the table does not answer."""
        if self.store is None:
            return unreadable_record(peering_id, NO_TABLE)
        try:
            return parse_own_items(peering_id, self.store.items(own_key(peering_id)))
        except RecordUnavailableError as e:
            return unreadable_record(peering_id, str(e))

    def history(self, peering_id: str) -> list[HistoryEntry]:
        """The peering's timeline, oldest first (raises RecordUnavailableError: a reader asked)."""
        if self.store is None:
            raise RecordUnavailableError(table="(none)", operation="Query", reason=NO_TABLE)
        return [HistoryEntry.from_item(peering_id, i) for i in self.store.items(f"{HISTORY}{peering_id}")]

    def last_decision(self, peering_id: str) -> HistoryEntry | None:
        if self.store is None:
            return None
        try:
            item = self.store.last(f"{HISTORY}{peering_id}")
        except RecordUnavailableError:
            return None
        return HistoryEntry.from_item(peering_id, item) if item else None

    # ------------------------------------------------------------------ ownership
    def intend(
        self, peering_id: str, routes: Iterable[OwnedRoute] = (), rules: Iterable[OwnedRule] = (), how: str = "created"
    ) -> bool:
        """Write the intent to make these, before the EC2 calls. False when it could not be
        written: the caller still acts, and confirms (to the backlog, if need be) after."""
        items = [route_item(peering_id, r, INTENT, self.now(), how) for r in routes]
        items += [rule_item(peering_id, r, INTENT, self.now(), how) for r in rules]
        if not items or self.dry_run:
            return True
        if self.store is None:
            return False
        try:
            self.store.write(puts=items)
        except RecordUnavailableError:
            return False
        return True

    def confirm(
        self,
        peering_id: str,
        routes: Iterable[OwnedRoute] = (),
        rules: Mapping[OwnedRule, str] | Iterable[OwnedRule] = (),
        how: str = "created",
    ) -> None:
        """Record these as made (rule -> the rule id AWS gave it, where known)."""
        rule_ids = rules if isinstance(rules, Mapping) else dict.fromkeys(rules, "")
        items = [route_item(peering_id, r, MADE, self.now(), how) for r in routes]
        items += [rule_item(peering_id, r, MADE, self.now(), how, rule_id) for r, rule_id in rule_ids.items()]
        self._write({"op": "put", "items": items})

    def release(self, peering_id: str, routes: Iterable[OwnedRoute] = (), rules: Iterable[OwnedRule] = ()) -> None:
        """Forget these: removed from EC2, or never made (another writer's was there first)."""
        keys = [[own_key(peering_id), r.sort_key] for r in routes] + [[own_key(peering_id), r.sort_key] for r in rules]
        self._write({"op": "delete", "keys": keys})

    def own_peering(self, peering_id: str, owned: OwnedPeering, how: str = "requested") -> None:
        self._write({"op": "put", "items": [peering_item(peering_id, owned, MADE, self.now(), how)]})

    def release_peering(self, peering_id: str) -> None:
        self._write({"op": "delete", "keys": [[own_key(peering_id), PEERING_ITEM]]})

    # ------------------------------------------------------------------ history
    def log(
        self,
        peering_id: str,
        kind: str,
        summary: str,
        evidence: Mapping[str, Any] | None = None,
        by_person: bool = False,
        once: bool = False,
    ) -> None:
        """Append one entry to the peering's history, chained to the one before. Its actor is this
        function, or with `by_person` the identity CloudTrail gave for the triggering call. With
        `once`, nothing when the history already holds this kind from this event (a delivery again:
        EventBridge delivers at least once)."""
        if once and not self.dry_run and self._logged(peering_id, kind):
            return
        actor = self.origin.person if by_person and self.origin.person else self.origin.function
        self._write(
            {
                "op": "history",
                "peeringId": peering_id,
                "at": self.now(),
                "kind": kind,
                "actor": actor,
                "eventId": self.origin.event_id,
                "summary": summary,
                "evidence": dict(evidence or {}),
            }
        )

    def _logged(self, peering_id: str, kind: str) -> bool:
        if not self.origin.event_id or self.store is None:
            return False
        try:
            entries = self.history(peering_id)
        except RecordUnavailableError:
            return False  # written again rather than lost: the chain still holds
        return any(e.kind == kind and e.event_id == self.origin.event_id for e in entries)

    # ------------------------------------------------------------------ the pair lock
    def lock(self, key: str, holder: str, lease_seconds: int, facts: Mapping[str, Any]) -> str | None:
        """Take the lock `key` for `lease_seconds`; None when taken (or when the table cannot be
        reached: the caller goes on, as before the record existed), else who holds it."""
        return self.take_lock(key, holder, lease_seconds, facts).held_by or None

    def take_lock(self, key: str, holder: str, lease_seconds: int, facts: Mapping[str, Any]) -> LockTaken:
        """`lock`, and the item the lock replaced (an earlier holder's, its lease over): what that
        holder meant to do and, if it settled, what came of it."""
        if self.store is None or self.dry_run:
            return LockTaken()
        now = self.clock()
        item = {"pk": key, "sk": "lock", "holder": holder, "leaseUntil": int(now + lease_seconds), **facts}
        item["at"] = self.now()
        try:
            previous = self.store.put_if(item, "attribute_not_exists(pk) OR leaseUntil < :now", {":now": int(now)})
        except RecordConflictError:
            try:
                held = self.store.last(key) or {}
            except RecordUnavailableError:
                held = {}
            return LockTaken(f"{held.get('holder', 'another run')} since {held.get('at', 'just now')}", held=held)
        except RecordUnavailableError as e:
            self.problems.append(f"the pair lock could not be taken: {e}")
            return LockTaken(unavailable=str(e))
        return LockTaken(previous=previous)

    def settle(self, key: str, holder: str, facts: Mapping[str, Any]) -> None:
        """Keep the lock's item with what came of it (the peering made), for the lease's rest."""
        if self.store is None or self.dry_run:
            return
        try:
            current = self.store.last(key) or {}
            if current.get("holder") == holder:
                self.store.put_if({**current, **facts}, "holder = :me", {":me": holder})
        except (RecordConflictError, RecordUnavailableError) as e:
            self.problems.append(f"the pair lock could not be settled: {e}")

    # ------------------------------------------------------------------ writes, now or later
    def _write(self, op: dict[str, Any]) -> None:
        if self.dry_run:
            return
        if self.store is not None:
            try:
                self.apply(op)
                return
            except RecordUnavailableError as e:
                why = str(e)
        else:
            why = NO_TABLE
        if self.backlog is None:
            self.problems.append(f"not recorded ({why}): {_describe(op)}")
            return
        try:
            self.backlog.send(op)
            self.deferred += 1
        except RecordUnavailableError as e:
            self.problems.append(f"not recorded ({why}; backlog: {e}): {_describe(op)}")

    def apply(self, op: Mapping[str, Any]) -> None:
        """Carry out one write (raises RecordUnavailableError)."""
        if self.store is None:
            raise RecordUnavailableError(table="(none)", operation="write", reason=NO_TABLE)
        kind = op.get("op")
        if kind == "put":
            self.store.write(puts=list(op["items"]))
        elif kind == "delete":
            self.store.write(deletes=[(str(pk), str(sk)) for pk, sk in op["keys"]])
        elif kind == "history":
            self._append(op)

    def _append(self, op: Mapping[str, Any]) -> None:
        assert self.store is not None
        peering_id = str(op["peeringId"])
        pk = f"{HISTORY}{peering_id}"
        expires_at = int(self.clock() + self.retention_days * 86400)
        for _ in range(_APPEND_TRIES):
            last = self.store.last(pk)
            previous = HistoryEntry.from_item(peering_id, last) if last else None
            entry = next_entry(
                previous,
                peering_id,
                str(op["at"]),
                str(op["kind"]),
                str(op["actor"]),
                str(op["eventId"]),
                str(op["summary"]),
                op.get("evidence") or {},
            )
            try:
                self.store.put_new(entry.as_item(expires_at))
                return
            except RecordConflictError:
                continue  # another writer took this number: chain onto theirs
        raise RecordUnavailableError(table=self.store.table, operation="PutItem", reason="history kept moving")

    def drain(self, limit: int = 100) -> int:
        """Write what the backlog holds, oldest first, while the table answers; the number written."""
        if self.backlog is None or self.store is None or self.dry_run:
            return 0
        written = 0
        while written < limit:
            try:
                messages = self.backlog.receive()
            except RecordUnavailableError as e:
                self.problems.append(f"the backlog could not be read: {e}")
                return written
            if not messages:
                return written
            for receipt, op in messages:
                try:
                    self.apply(op)
                    self.backlog.done(receipt)
                except RecordUnavailableError:
                    return written  # still unavailable: the messages come back after their timeout
                except (KeyError, TypeError, ValueError):
                    self.problems.append(f"a backlog message is not a record write: {str(op)[:200]}")
                    continue
                written += 1
        return written

    def now(self) -> str:
        # ISO 8601 in UTC to the millisecond, without datetime (one module less at cold start)
        seconds = self.clock()
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}Z"


class RecordReads:
    """What the record holds of each peering, read once per run (one Query) and only when asked:
    the sweep's places, read side by side, and both sides of a peering share it."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self._read: dict[str, PeeringRecord] = {}
        self._lock = threading.Lock()

    def __call__(self, peering_id: str) -> PeeringRecord:
        with self._lock:
            if peering_id not in self._read:
                self._read[peering_id] = self._recorder.peering(peering_id)
            return self._read[peering_id]

    @property
    def reads(self) -> int:
        return len(self._read)

    def unreadable(self) -> list[str]:
        """The peerings whose record could not be read (nothing of theirs was removed), and why."""
        with self._lock:
            return [
                f"the record of {pid} could not be read: nothing of it is removed ({r.unreadable})"
                for pid, r in sorted(self._read.items())
                if r.unreadable
            ]


def _describe(op: Mapping[str, Any]) -> str:
    if op.get("op") == "history":
        return f"history of {op.get('peeringId')}: {op.get('kind')}"
    if op.get("op") == "put":
        return f"{len(op.get('items', []))} ownership item(s)"
    return f"forgetting {len(op.get('keys', []))} ownership item(s)"
