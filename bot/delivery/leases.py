"""Send leases while a worker works: kept alive, and settled when their holder is gone.

Why: a send lease (``sending``) proves which worker may send a record.  Three things keep that
proof honest (see ``State.fence_send``):

1. The worker renews its leases while it prepares, waits for its destination and its rate slot,
   so a slow step does not lose the lease for nothing (``LeaseKeeper``).
2. Right before the request it passes the fence: an atomic check that the lease is still its own
   that also stretches the lease over the longest possible send.  A worker that lost its lease
   never sends.
3. A holder that is gone is noticed long before its lease runs out (``reap_lost_leases``, run
   by the one-second tick): each worker process proves it is alive every ``ALIVE_EVERY``
   seconds with a short-lived key, and a process on this machine whose pid is gone is known
   dead at once.  Settling a lease only requeues a record whose holder never passed the fence;
   past the fence the post may be out, so the record goes to an editor (``in_doubt``) or, where
   the platform refuses repeats, to a retry.

The lease owner string carries the holder's identity: ``host:pid:start/task:nonce``, ``start``
being the process start time so a recycled pid is never taken for the holder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from bot.processes import pid_alive, start_time
from bot.state import Record, State

__all__ = ["ALIVE_EVERY", "ALIVE_TTL", "LeaseKeeper", "Owner", "new_owner", "parse_owner",
           "reap_lost_leases", "worker_id"]

log = logging.getLogger(__name__)

ALIVE_EVERY = 1.0
ALIVE_TTL = 6.0

_ids: dict[int, str] = {}


def worker_id() -> str:
    """This process's identity (fork-aware): ``host:pid:start``."""
    pid = os.getpid()
    wid = _ids.get(pid)
    if wid is None:
        host = socket.gethostname().replace(":", "-").replace("/", "-") or "host"
        start = start_time(pid) or uuid.uuid4().hex[:8]
        wid = _ids[pid] = f"{host}:{pid}:{start}"
    return wid


def new_owner(task: str = "direct") -> str:
    """A lease owner unique per attempt, naming the process that holds it."""
    task = "".join(c for c in task if c.isalnum() or c in "-_.")[:64] or "task"
    return f"{worker_id()}/{task}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class Owner:
    worker: str
    host: str
    pid: int
    start: str


def parse_owner(owner: str) -> Owner | None:
    """The holder of a lease owner string, or None for owners not made by ``new_owner``."""
    wid, sep, _ = owner.partition("/")
    if not sep:
        return None
    parts = wid.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return Owner(worker=wid, host=parts[0], pid=int(parts[1]), start=parts[2])


def _known_dead(holder: Owner) -> bool:
    """True only when the holder is certainly gone: same machine, and its pid is not running or
    is another process now (a recycled pid has another start time)."""
    if holder.host != worker_id().rsplit(":", 2)[0]:
        return False
    if os.path.exists("/proc/self/stat"):
        return start_time(holder.pid) != holder.start  # None: the pid is gone
    return not pid_alive(holder.pid)


def reap_lost_leases(state: State) -> list[Record]:
    """Settle the leases whose holder is gone; returns the records that changed.

    A holder is gone when it is known dead (see ``_known_dead``) or has not proved it is alive
    for ``ALIVE_TTL`` seconds.  Owners not made by ``new_owner`` are left to lease expiry.
    """
    held = state.held_leases()
    holders = {rid: parse_owner(owner) for rid, owner in held}
    alive = state.alive_workers(h.worker for h in holders.values() if h is not None)
    changed: list[Record] = []
    for rid, owner in held:
        holder = holders[rid]
        if holder is None or holder.worker == worker_id():
            continue
        dead = _known_dead(holder)
        if not dead and holder.worker in alive:
            continue
        why = "worker died" if dead else "worker stopped answering"
        rec = state.reap_lease(rid, owner, why=why, dead=dead)
        if rec is not None:
            changed.append(rec)
    return changed


class LeaseKeeper:
    """One daemon thread per process: proves the process alive and renews the leases it holds.

    Renewal only ever lengthens a lease (a fenced lease already covers its send), and stops the
    moment a ``hold`` block ends.  Redis errors are logged and retried on the next beat: a
    worker cut off from Redis loses its leases, and the fence then keeps it from sending.
    """

    def __init__(self, state: State, lease_seconds: float, *, every: float = ALIVE_EVERY,
                 alive_ttl: float = ALIVE_TTL) -> None:
        self._state = state
        self._lease_seconds = lease_seconds
        self._every = every
        self._alive_ttl = alive_ttl
        self._held: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def start(self) -> None:
        """Prove alive now (before any lease is taken) and start the beat thread once."""
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._state.prove_alive(worker_id(), self._alive_ttl)
            self._stop.clear()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
            self._thread.start()

    @contextlib.contextmanager
    def hold(self, ref: tuple[str, str, str], owner: str) -> Iterator[None]:
        self.start()
        with self._lock:
            self._held[ref] = owner
        try:
            yield
        finally:
            with self._lock:
                if self._held.get(ref) == owner:
                    del self._held[ref]

    def beat(self) -> None:
        """One round: the alive key, then every held lease."""
        self._state.prove_alive(worker_id(), self._alive_ttl)
        with self._lock:
            held = list(self._held.items())
        for ref, owner in held:
            self._state.renew_lease(*ref, owner=owner, lease_seconds=self._lease_seconds)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.beat()
            except Exception as exc:  # Redis restarting: try again next beat
                log.debug("lease keeper beat failed: %s", type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._thread = None
        with contextlib.suppress(Exception):
            self._state.forget_alive(worker_id())
