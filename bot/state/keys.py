"""Every Redis key newsbot owns is built here and nowhere else.

All keys start with a namespace (default ``newsbot``) so tests, several sites and other
applications can share one server.  ``{ns}`` below is that namespace, ``{rid}`` a record id (the
"record key": 24 hex chars of a BLAKE2b hash of post URL, platform and destination), ``{site}`` a
caller-chosen site key, ``{bucket}`` a rate-limit bucket name.

Delivery records (see ``records.py``)

===============================  ===========  =====================================================
key                              type         holds
===============================  ===========  =====================================================
``{ns}:rec:{rid}``               hash         one delivery record: post, platform, destination,
                                              state, attempts, reason, receipt_id, receipt_url,
                                              lease_owner, lease_until, scheduled_at, created_at,
                                              updated_at, teaser_hash, the scripts' counters
                                              and flags (transient_failures, maybe_sent,
                                              send_deadline, repeat_safe, inflight_fp), plus
                                              extra fields (``transition(**fields)``:
                                              manual, approved_fp, push_anyway, notes;
                                              ``prev_receipt_*``)
``{ns}:hist:{rid}``              list         JSON history entries, newest first, capped at 50:
                                              {"at", "from", "to", "reason", "by"}
``{ns}:idx:state:{state}``       set          rids currently in that state (counts, listings)
``{ns}:idx:post:{post_hash}``    set          rids of one post URL (all platforms/destinations)
``{ns}:idx:recent``              sorted set   rid -> updated_at (every record; ``recent()``)
``{ns}:schedule``                sorted set   rid -> due epoch (waiting / retry_wait records)
``{ns}:leases``                  sorted set   rid -> lease_until (records in ``sending``)
``{ns}:edits``                   sorted set   rid -> when its message's edit may next be taken
                                              (a claim's lease end while one is running;
                                              ``edits.py``: corrections of sent posts)
===============================  ===========  =====================================================

Scanning, control, audit

===============================  ===========  =====================================================
``{ns}:site:{site}:files``       hash         rel_path -> "mtime_ns:size" (rescan skips unchanged)
``{ns}:site:{site}:seen``        hash         post URL -> JSON info, set once (first sighting);
                                              the identity URL of a post whose URL changed
                                              keeps its entry ("url" holds the current one)
``{ns}:site:{site}:ids``         hash         rel_path -> identity URL: the URL the file's
                                              records live under, whatever its URL is now
``{ns}:site:{site}:names``       hash         "t:"/"e:" + hash of a title / excerpt ->
                                              identity URL (a renamed file is recognised)
``{ns}:site:{site}:baseline``    string       epoch when the first-run baseline was recorded
``{ns}:pause``                   hash         present = paused: {"who", "reason", "at"}
``{ns}:audit``                   stream       capped (~10,000): who, action, target, result, at
``{ns}:heartbeat``               hash         worker name -> server epoch of its last beat
``{ns}:destination_names``       hash         "platform:destination" -> readable name learnt
                                              from the platform (the X account's @handle)
``{ns}:alive:{wid}``             string       "1" while worker process ``wid`` (host:pid:start)
                                              is alive; short TTL, refreshed by its lease keeper
``{ns}:health:{role}``           hash         "host:pid" -> server epoch: health beats of the
                                              worker, beat and bot processes (``bot.health``)
``{ns}:dest_health:{platform}:{destination}``
                                 hash         connection health of one destination
                                              (``destination_health.py``, written by
                                              ``bot.delivery.connection_health``): status (ok,
                                              unhealthy), reason, since, checked_at,
                                              check_error, failures (checks in a row without
                                              an answer)
===============================  ===========  =====================================================

Deploy signals (``deploy_signal.py``: written by the webhook endpoint, read by the live checks)

===============================  ===========  =====================================================
``{ns}:deploy``                  hash         the latest deploy signal: at (server epoch),
                                              source (``deploy-hook``, ``github:page_build``,
                                              ``github:deployment_status``, ``push``, ...), seq
``{ns}:deploy:events``           pub/sub      channel: one message per signal (its seq), so a
                                              waiting checker wakes at once
``{ns}:live:{post_hash}``        hash         live check of one post's page (``live.py``,
                                              ``LiveBook``): url, title, verdict (live |
                                              not_live), status, since (first held), checked_at,
                                              etag, last_modified, had_title, reported; expires
                                              7 days after its last write
``{ns}:live:held``               set          rids held for their page (an index, so the checker's
                                              round reads those records only, not every waiting
                                              one; a stale member is dropped by the next round)
===============================  ===========  =====================================================

A site that lives in Git (``site_git.py``, written by ``bot.delivery.site_sync``)

===============================  ===========  =====================================================
``{ns}:site_git:problem``        string       the identity of the pull problem the editors were
                                              told about (deleted by the next good pull), so each
                                              distinct problem is reported once
===============================  ===========  =====================================================

Breaking pins (``pins.py``: written by the sender after a pin, worked off by the tick)

===============================  ===========  =====================================================
``{ns}:pins:due``                zset         destination, unit separator, message id -> when
                                              its unpin is due (epoch); claimed (ZREM) by one
                                              tick
``{ns}:pins:current``            hash         destination -> message id of its breaking pin now
===============================  ===========  =====================================================

Once-only claims and short-lived blobs (``State.claim_once`` / ``put_blob``; ``kind`` -> key)

=====================================  ======  ================================================
``{ns}:notice:{digest}``               string  "1": this notice was queued once (kind
                                               ``notice``; 30 days; ``bot.delivery.notify``, set by
                                               ``NoticeQueue.add`` with the entry)
``{ns}:editor:refused:{user_id}``      string  "1": a refusal was answered in this window
                                               (kind ``refusal``; ``bot.editor.auth``)
``{ns}:editor:refused-n:{who}``        string  refused attempts of one requester (hash of
                                               ``who``) since they were last quiet for 600 s
                                               (``State.audit_refusal``)
``{ns}:editor:refused-tally:{who}``    string  id of that requester's running flood-tally
                                               entry in ``{ns}:audit`` (replaced on each
                                               further refusal)
``{ns}:editor:cb:{handle}``            string  JSON button payload {"a", "t", "o", "e", "s",
                                               "n", "g"} (blob kind ``button``; its TTL + 60 s;
                                               ``bot.editor.callbacks``)
``{ns}:editor:cb:{handle}:used``       string  "1": a single-use button was pressed (kind
                                               ``button-used``; ``g<group>`` for a group:
                                               one of its alternative buttons was pressed)
=====================================  ======  ================================================

Editors' notice queue (``notices.py``: written by ``bot.delivery.notify``, sent by the desk)

===============================  ===========  =====================================================
``{ns}:notices:queue``           sorted set   entry id -> enqueue epoch (server clock); an entry
                                              stays until Telegram accepted its message or it is
                                              given up; at most 10,000 (oldest dropped)
``{ns}:notices:lease``           sorted set   entry id -> epoch before which no sender may take it
                                              (held while being sent; backing off after a refusal)
``{ns}:notices:entry``           hash         entry id -> JSON {"notice": {...}, "part", "tries"}
``{ns}:notices:seq``             string       counter; entry ids are it zero-padded to 12 digits
===============================  ===========  =====================================================

Rate limits (see ``ratelimit.py``)

===============================  ===========  =====================================================
``{ns}:rl:{bucket}:log``         sorted set   one member per granted send slot, score = its epoch
``{ns}:rl:{bucket}:seq``         string       counter making log members unique
``{ns}:rl:{bucket}:block``       string       epoch before which nobody sends (after a 429)
``{ns}:rl:{bucket}:daily``       hash         platform-reported daily quota: limit, remaining,
                                              reset_at, reported_at
``{ns}:rl:{bucket}:budget``      hash         the platform's own windows (X headers):
                                              {window}:remaining, {window}:reset
===============================  ===========  =====================================================

X spend ledger (``spend.py``: every billable X call priced as it is made, in micro-dollars, UTC)

===============================  ===========  =====================================================
``{ns}:spend:day:{date}``        hash         one UTC day (YYYY-MM-DD): ``total`` micro-USD and,
                                              per kind (post, post_url, media, delete, read),
                                              ``{kind}:n`` calls and ``{kind}:usd`` micro-USD;
                                              kept 400 days
``{ns}:spend:month:{month}``     hash         the same for one UTC month (YYYY-MM); kept 3 years
``{ns}:spend:holds``             hash         holder (record id) -> "micro|until": the price of
                                              a post being sent, reserved against the budgets
                                              (gone when the send ends or at ``until``)
``{ns}:spend:waits``             sorted set   record id -> epoch it first waited for budget
                                              (``waiting (budget)``; released in this order)
``{ns}:spend:need``              hash         record id -> micro-USD its post needs
===============================  ===========  =====================================================

Pacing (``pacing.py``: MAX_PER_HOUR / MIN_SPACING_SECONDS backlog of one destination)

===============================  ===========  =====================================================
``{ns}:pace:{bucket}:queue``     sorted set   record id -> order score (BACKLOG_ORDER: the post
                                              date, negated for newest first): records waiting
                                              for a paced slot, released lowest score first by
                                              the tick (``bot.delivery.pacing``)
===============================  ===========  =====================================================

Buckets are ``{platform}:{destination}``; the editors' chat is the bucket ``telegram:{chat}`` that
the notice sender reserves on (and blocks after a 429 or while backing off).

Lua scripts receive the keys they touch in KEYS where the key is known up front; keys that depend
on data read inside the script (the state index of the *current* state, records claimed from a
sorted set) are derived in the script from the prefixes this module passes in ARGV.  That is fine
for a single server or a primary/replica pair, not for Redis Cluster (not a goal).
"""

from __future__ import annotations

import hashlib

__all__ = ["BLOB_KINDS", "ONCE_KINDS", "Keys", "post_hash", "record_id"]

# kind -> key shape after the namespace; every kind is documented in the table above.
ONCE_KINDS = {
    "notice": "notice:{id}",
    "refusal": "editor:refused:{id}",
    "button-used": "editor:cb:{id}:used",
    "refusal-count": "editor:refused-n:{id}",
    "refusal-tally": "editor:refused-tally:{id}",
}
BLOB_KINDS = {
    "button": "editor:cb:{id}",
}


def _digest(*parts: str) -> str:
    data = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def record_id(post_url: str, platform: str, destination: str) -> str:
    """The stable record key of one post x platform x destination."""
    return _digest(post_url, platform, destination)


def post_hash(post_url: str) -> str:
    return _digest(post_url)


class Keys:
    """Key builder for one namespace."""

    def __init__(self, namespace: str) -> None:
        if not namespace or any(c in namespace for c in " \t\r\n{}"):
            raise ValueError(f"bad Redis namespace {namespace!r}")
        self.ns = namespace

    # records
    @property
    def rec_prefix(self) -> str:
        return f"{self.ns}:rec:"

    @property
    def hist_prefix(self) -> str:
        return f"{self.ns}:hist:"

    @property
    def state_prefix(self) -> str:
        return f"{self.ns}:idx:state:"

    def rec(self, rid: str) -> str:
        return self.rec_prefix + rid

    def hist(self, rid: str) -> str:
        return self.hist_prefix + rid

    def by_state(self, state: str) -> str:
        return self.state_prefix + state

    def by_post(self, post_url: str) -> str:
        return f"{self.ns}:idx:post:{post_hash(post_url)}"

    @property
    def recent(self) -> str:
        return f"{self.ns}:idx:recent"

    @property
    def schedule(self) -> str:
        return f"{self.ns}:schedule"

    @property
    def leases(self) -> str:
        return f"{self.ns}:leases"

    @property
    def edits(self) -> str:
        return f"{self.ns}:edits"

    # scanning
    def site_files(self, site: str) -> str:
        return f"{self.ns}:site:{site}:files"

    def site_seen(self, site: str) -> str:
        return f"{self.ns}:site:{site}:seen"

    def site_ids(self, site: str) -> str:
        return f"{self.ns}:site:{site}:ids"

    def site_names(self, site: str) -> str:
        return f"{self.ns}:site:{site}:names"

    def site_baseline(self, site: str) -> str:
        return f"{self.ns}:site:{site}:baseline"

    # control
    @property
    def pause(self) -> str:
        return f"{self.ns}:pause"

    @property
    def audit(self) -> str:
        return f"{self.ns}:audit"

    @property
    def heartbeat(self) -> str:
        return f"{self.ns}:heartbeat"

    @property
    def destination_names(self) -> str:
        return f"{self.ns}:destination_names"

    def alive(self, worker_id: str) -> str:
        if not worker_id or any(c in worker_id for c in " \t\r\n{}"):
            raise ValueError(f"bad worker id {worker_id!r}")
        return f"{self.ns}:alive:{worker_id}"

    def health(self, role: str) -> str:
        """Health beats of one role ("worker", "beat", "bot"; ``bot.health``)."""
        if role not in ("worker", "beat", "bot"):
            raise ValueError(f"unknown role {role!r}")
        return f"{self.ns}:health:{role}"

    def dest_health(self, platform: str, destination: str) -> str:
        """Connection health of one destination (``destination_health.py``)."""
        for part in (platform, destination):
            if not part or any(c in part for c in " \t\r\n{}"):
                raise ValueError(f"bad destination {platform!r} {destination!r}")
        return f"{self.ns}:dest_health:{platform}:{destination}"

    # once-only claims and blobs
    def once(self, kind: str, ident: str) -> str:
        return self._kinded(ONCE_KINDS, kind, ident)

    def blob(self, kind: str, ident: str) -> str:
        return self._kinded(BLOB_KINDS, kind, ident)

    def _kinded(self, kinds: dict[str, str], kind: str, ident: str) -> str:
        shape = kinds.get(kind)
        if shape is None:
            raise ValueError(f"unknown key kind {kind!r}; one of {sorted(kinds)}")
        ident = str(ident)
        if not ident or any(c in ident for c in " \t\r\n{}"):
            raise ValueError(f"bad key identifier {ident!r}")
        return f"{self.ns}:" + shape.format(id=ident)

    # editors' notice queue
    @property
    def notice_queue(self) -> str:
        return f"{self.ns}:notices:queue"

    @property
    def notice_lease(self) -> str:
        return f"{self.ns}:notices:lease"

    @property
    def notice_entry(self) -> str:
        return f"{self.ns}:notices:entry"

    @property
    def notice_seq(self) -> str:
        return f"{self.ns}:notices:seq"

    # breaking pins
    @property
    def pins_due(self) -> str:
        return f"{self.ns}:pins:due"

    @property
    def pins_current(self) -> str:
        return f"{self.ns}:pins:current"

    # deploy signals
    @property
    def deploy(self) -> str:
        return f"{self.ns}:deploy"

    @property
    def deploy_events(self) -> str:
        return f"{self.ns}:deploy:events"

    # a site that lives in Git (site_git.py)
    @property
    def site_git_problem(self) -> str:
        return f"{self.ns}:site_git:problem"

    def live(self, post_url: str) -> str:
        return f"{self.ns}:live:{post_hash(post_url)}"

    @property
    def live_held(self) -> str:
        return f"{self.ns}:live:held"

    # X spend ledger
    def spend_day(self, day: str) -> str:
        return f"{self.ns}:spend:day:{day}"

    def spend_month(self, month: str) -> str:
        return f"{self.ns}:spend:month:{month}"

    @property
    def spend_holds(self) -> str:
        return f"{self.ns}:spend:holds"

    @property
    def spend_waits(self) -> str:
        return f"{self.ns}:spend:waits"

    @property
    def spend_need(self) -> str:
        return f"{self.ns}:spend:need"

    # rate limits
    def rl_log(self, bucket: str) -> str:
        return f"{self.ns}:rl:{bucket}:log"

    def rl_seq(self, bucket: str) -> str:
        return f"{self.ns}:rl:{bucket}:seq"

    def rl_block(self, bucket: str) -> str:
        return f"{self.ns}:rl:{bucket}:block"

    def rl_daily(self, bucket: str) -> str:
        return f"{self.ns}:rl:{bucket}:daily"

    def rl_budget(self, bucket: str) -> str:
        return f"{self.ns}:rl:{bucket}:budget"

    # pacing
    def pace_queue(self, bucket: str) -> str:
        return f"{self.ns}:pace:{bucket}:queue"
