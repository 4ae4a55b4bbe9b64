"""Seeded random faults for the fake platforms, and the watch on what clients do after a 429.

Why: a promise about a platform's bad days ("each post once, 0 requests before a retry-after
has passed") is only a promise if it is tried against many faults in random combinations, and
only a proof if the same seed gives the same plan.  Both fakes (``FakeTelegram.set_fault_plan``,
``FakeX.set_fault_plan``) draw from a :class:`FaultPlan` for their send methods and keep a
:class:`RateWatch` of every 429 they answered (injected or their own) with the requests of the
same client to the same chat or endpoint that arrived before its wait had passed.

Fault kinds (what the client sees):

* ``429``: rate limited, wait ``retry_after`` seconds (Telegram ``retry_after``, X
  ``x-rate-limit-reset``), drawn from ``retry_after`` (real seconds: platforms do not scale);
* ``500`` / ``502``: a server error, nothing done;
* ``reset``: the connection is reset (TCP RST) after the request arrived, nothing done;
* ``hang``: no answer for ``hang_seconds`` (longer than the client's timeout), then the call
  is carried out anyway, as a slow platform does after the client gave up;
* ``drop``: the call is carried out, then the connection is closed without an answer.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

__all__ = ["FAULT_KINDS", "Early", "Fault", "FaultPlan", "RateBlock", "RateWatch", "peer_closed"]

FAULT_KINDS: tuple[str, ...] = ("429", "500", "502", "reset", "hang", "drop")


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    retry_after: int = 0
    """Seconds to wait (``429`` only)."""
    hang_seconds: float = 0.0
    """How long the answer is held back (``hang`` only)."""


class FaultPlan:
    """Answers a share ``rate`` of the calls with one of ``kinds``, drawn from ``seed``.

    ``limits`` caps a kind (e.g. ``{"hang": 2}``: each hang costs the client's whole timeout
    in real time); once a kind reached its cap the draw falls on the others, so the share of
    faulted calls stays ``rate`` while any kind is left.  Thread-safe; the draws follow the
    order in which calls arrive.
    """

    def __init__(self, rate: float, kinds: Iterable[str] = FAULT_KINDS, seed: int = 0, *,
                 retry_after: tuple[int, int] = (1, 5), hang_seconds: float = 25.0,
                 limits: Mapping[str, int] | None = None) -> None:
        kinds = tuple(kinds)
        unknown = sorted(set(kinds) - set(FAULT_KINDS))
        if unknown or not kinds:
            raise ValueError(f"fault kinds must be some of {FAULT_KINDS}, not {unknown or kinds}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        low, high = retry_after
        if not 1 <= low <= high:
            raise ValueError("retry_after must be (low, high) with 1 <= low <= high")
        self.rate = rate
        self.kinds = kinds
        self.seed = seed
        self.retry_after = (low, high)
        self.hang_seconds = hang_seconds
        self.limits = dict(limits or {})
        self.calls = 0
        """Calls the plan was asked about (faulted or not)."""
        self.injected: Counter[str] = Counter()
        self.log: list[tuple[float, Hashable, Fault]] = []
        """(time, key, fault) of each injected fault."""
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self, key: Hashable = None) -> Fault | None:
        """The fault for the next call to ``key`` (a method or an endpoint), or None."""
        with self._lock:
            self.calls += 1
            roll = self._rng.random()
            kind = self._rng.choice(self.kinds)
            if roll >= self.rate:
                return None
            if not self._open(kind):
                left = [k for k in self.kinds if self._open(k)]
                if not left:
                    return None
                kind = self._rng.choice(left)
            self.injected[kind] += 1
            fault = Fault(
                kind,
                retry_after=self._rng.randint(*self.retry_after) if kind == "429" else 0,
                hang_seconds=self.hang_seconds if kind == "hang" else 0.0,
            )
            self.log.append((time.time(), key, fault))
            return fault

    def _open(self, kind: str) -> bool:
        cap = self.limits.get(kind)
        return cap is None or self.injected[kind] < cap

    @property
    def faulted(self) -> int:
        return sum(self.injected.values())


@dataclass(frozen=True, slots=True)
class RateBlock:
    """A 429 answered at ``answered_at`` that told the client to wait until ``until``."""

    key: Hashable
    answered_at: float
    until: float


@dataclass(frozen=True, slots=True)
class Early:
    """A request to ``key`` that arrived at ``at``, before the wait of ``block`` had passed."""

    key: Hashable
    at: float
    block: RateBlock


class RateWatch:
    """Every 429 a fake answered, and the requests that did not wait for it.

    A request counts as early only when it *arrived* after the 429 was answered (a request
    already on its way when the answer left could not know) and before the wait was over.
    """

    def __init__(self) -> None:
        self.blocks: list[RateBlock] = []
        self.early: list[Early] = []
        self.arrivals: Counter[Hashable] = Counter()
        self.unread = 0
        """429s answered to a client that had already hung up: nobody was told to wait."""
        self._until: dict[Hashable, RateBlock] = {}
        self._lock = threading.Lock()

    def arrived(self, key: Hashable, at: float) -> bool:
        """Note a request to ``key`` that arrived at ``at``; True when it came too early."""
        with self._lock:
            self.arrivals[key] += 1
            block = self._until.get(key)
            if block is not None and block.answered_at <= at < block.until:
                self.early.append(Early(key, at, block))
                return True
            return False

    def answered_429(self, key: Hashable, until: float, at: float | None = None, *,
                     read: bool = True) -> None:
        """A 429 for ``key`` left now (or at ``at``): no request before ``until``.  ``read``
        False: its client had hung up (it gave up during a hang), so it blocks nobody."""
        answered = time.time() if at is None else at
        with self._lock:
            if not read:
                self.unread += 1
                return
            block = RateBlock(key, answered, until)
            self.blocks.append(block)
            current = self._until.get(key)
            if current is None or until >= current.until:
                self._until[key] = block


def peer_closed(conn: socket.socket) -> bool:
    """True when the client already hung up, so the answer will never be read.

    A non-blocking peek, not ``select``: ``select`` refuses descriptors above 1023, and a
    long-lived test process passes that (each refusal read as "client gone").
    """
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False  # nothing to read: the client is still waiting for its answer
    except OSError:
        return True
