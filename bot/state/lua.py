"""The Lua scripts behind every state change: one script run = one atomic transition.

Conventions, all of them about not losing precision or atomicity:

* Numbers go into ``redis.call`` as strings made by ``fmt`` (``%.17g``): Lua's default number to
  string conversion keeps only 14 digits, which would round epoch milliseconds.
* Numbers come back as strings too (a Lua number reply is truncated to an integer).
* ``clock(arg)`` is the caller's ``now`` when given, else the server's TIME: leases are judged by
  the one clock every machine shares.
* A script that changes a record returns ``{ok, HGETALL}`` so Python needs no second read.
"""

from __future__ import annotations

# The clock and number formatting every script shares (also ``bot.state.notices``).
CLOCK = r"""
local function clock(arg)
  if arg ~= nil and arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.17g', x) end
"""

PRELUDE = CLOCK + r"""
local function move(rec, hist, recent, state_prefix, rid, from, to, now, reason, by)
  local ts = fmt(now)
  redis.call('HSET', rec, 'state', to, 'updated_at', ts)
  if reason ~= nil then redis.call('HSET', rec, 'reason', reason) end
  if from ~= to then
    redis.call('SREM', state_prefix .. from, rid)
    redis.call('SADD', state_prefix .. to, rid)
  end
  redis.call('ZADD', recent, ts, rid)
  redis.call('LPUSH', hist, cjson.encode({at = ts, from = from, to = to,
                                          reason = reason or '', by = by or ''}))
  redis.call('LTRIM', hist, 0, 49)
end
-- A lease whose holder is gone (expired, or its worker died).  Before the fence the request was
-- certainly never made: the record goes back to the queue.  Past the fence the post may be out:
-- in_doubt for an editor, or (a platform that refuses repeats, X) a retry whose duplicate answer
-- settles it.  ``dead`` = the holder is known dead, so nothing of its can still land: the fence
-- deadline is lifted; otherwise it stays and a resend waits it out (see ACQUIRE).
local function settle_lost(rec, hist, recent, schedule, leases, state_prefix, rid, now, why,
                           by, dead)
  local owner = redis.call('HGET', rec, 'lease_owner') or ''
  local fenced = (redis.call('HGET', rec, 'send_deadline') or '') ~= ''
  redis.call('ZREM', leases, rid)
  redis.call('HSET', rec, 'lease_owner', '', 'lease_until', '')
  if not fenced then
    redis.call('HINCRBY', rec, 'attempts', -1)
    move(rec, hist, recent, state_prefix, rid, 'sending', 'queued', now,
         why .. ' before sending (owner ' .. owner .. '): queued again', by)
    return 'queued'
  end
  redis.call('HSET', rec, 'maybe_sent', '1')
  if dead then redis.call('HSET', rec, 'send_deadline', '', 'inflight_owner', '') end
  if redis.call('HGET', rec, 'repeat_safe') == '1' then
    redis.call('HINCRBY', rec, 'transient_failures', 1)
    local at = fmt(now)
    local deadline = tonumber(redis.call('HGET', rec, 'send_deadline') or '')
    if deadline ~= nil and deadline > now then at = fmt(deadline) end
    redis.call('HSET', rec, 'scheduled_at', at)
    redis.call('ZADD', schedule, at, rid)
    move(rec, hist, recent, state_prefix, rid, 'sending', 'retry_wait', now,
         'transient: ' .. why .. ' mid-send (owner ' .. owner .. ') [uncertain]', by)
    return 'retry_wait'
  end
  move(rec, hist, recent, state_prefix, rid, 'sending', 'in_doubt', now,
       why .. ' mid-send (owner ' .. owner .. ')', by)
  return 'in_doubt'
end
"""

# One record created if absent (ENSURE and ENSURE_MANY): the caller knows what it just created,
# so only an existing record is read back.
CREATE = PRELUDE + r"""
local function create(rec, hist, recent, schedule, post_idx, state_prefix, rid, now, post,
                      platform, destination, state, reason, scheduled_at, by)
  if redis.call('EXISTS', rec) == 1 then return {0, redis.call('HGETALL', rec)} end
  local ts = fmt(now)
  redis.call('HSET', rec, 'post', post, 'platform', platform, 'destination', destination,
             'state', state, 'attempts', '0', 'reason', reason, 'created_at', ts,
             'updated_at', ts)
  if scheduled_at ~= '' then
    redis.call('HSET', rec, 'scheduled_at', scheduled_at)
    redis.call('ZADD', schedule, scheduled_at, rid)
  end
  redis.call('SADD', state_prefix .. state, rid)
  redis.call('SADD', post_idx, rid)
  redis.call('ZADD', recent, ts, rid)
  redis.call('LPUSH', hist, cjson.encode({at = ts, from = '', to = state, reason = reason,
                                          by = by}))
  return {1}
end
"""

# KEYS: rec, hist, recent, schedule, post_idx
# ARGV: state_prefix, rid, now, post, platform, destination, state, reason, scheduled_at, by
ENSURE = CREATE + r"""
local made = create(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2],
                    clock(ARGV[3]), ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9],
                    ARGV[10])
if made[1] == 1 then return {1, redis.call('HGETALL', KEYS[1])} end
return made
"""

# Many records in one run: a first run creates tens of thousands, and one script call per
# record cost the scan more in packing its arguments than the server spent running it.
# KEYS: recent, schedule
# ARGV: state_prefix, now, by, rec_prefix, hist_prefix, JSON list of
#       [rid, post_idx, post, platform, destination, state, reason, scheduled_at]
# Returns {flags, HGETALL, HGETALL, ...}: flags has one character per record in order, '1'
# created or '0' there already, and each '0' has the HGETALL of the record that was there, in
# order.  (A reply of one small array per record cost the caller more to parse than the run.)
ENSURE_MANY = CREATE + r"""
local now = clock(ARGV[2])
local flags = {}
local out = {''}
for i, s in ipairs(cjson.decode(ARGV[6])) do
  local made = create(ARGV[4] .. s[1], ARGV[5] .. s[1], KEYS[1], KEYS[2], s[2], ARGV[1], s[1],
                      now, s[3], s[4], s[5], s[6], s[7], s[8], ARGV[3])
  flags[i] = tostring(made[1])
  if made[1] == 0 then out[#out + 1] = made[2] end
end
out[1] = table.concat(flags)
return out
"""

# HSETNX of many fields of one hash; the flags string says which were set ('1') in order.
# KEYS: hash   ARGV: JSON list of [field, value]
HSETNX_MANY = r"""
local flags = {}
for i, pair in ipairs(cjson.decode(ARGV[1])) do
  flags[i] = tostring(redis.call('HSETNX', KEYS[1], pair[1], pair[2]))
end
return table.concat(flags)
"""

# KEYS: rec, hist, recent, schedule
# ARGV: state_prefix, rid, now, ",expected,", new, reason_given, reason, by, scheduled_at,
#       field, value, field, value ...
TRANSITION = PRELUDE + r"""
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {0} end
if not string.find(ARGV[4], ',' .. cur .. ',', 1, true) then
  return {0, redis.call('HGETALL', KEYS[1])}
end
local now = clock(ARGV[3])
local new = ARGV[5]
local at = ARGV[9]
if at == '' and new == 'retry_wait' then at = fmt(now) end
if at ~= '' then
  redis.call('HSET', KEYS[1], 'scheduled_at', at)
  redis.call('ZADD', KEYS[4], at, ARGV[2])
elseif new ~= 'waiting' then
  redis.call('ZREM', KEYS[4], ARGV[2])
end
for i = 10, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local reason = nil
if ARGV[6] == '1' then reason = ARGV[7] end
move(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], cur, new, now, reason, ARGV[8])
return {1, redis.call('HGETALL', KEYS[1])}
"""

# KEYS: rec, hist, recent, schedule, leases, pause
# ARGV: state_prefix, rid, now, owner, lease_seconds, ignore_pause, repeat_safe
ACQUIRE = PRELUDE + r"""
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {0, 'missing'} end
if ARGV[6] ~= '1' and redis.call('EXISTS', KEYS[6]) == 1 then return {0, 'paused'} end
local now = clock(ARGV[3])
if cur == 'retry_wait' then
  local at = tonumber(redis.call('HGET', KEYS[1], 'scheduled_at') or '')
  if at ~= nil and at > now then return {0, 'not_due'} end
elseif cur ~= 'queued' then
  return {0, cur}
end
-- an earlier attempt whose holder vanished past its fence may still land until its deadline
local deadline = tonumber(redis.call('HGET', KEYS[1], 'send_deadline') or '')
if deadline ~= nil and deadline > now then return {0, 'fenced', fmt(deadline)} end
local lease_until = fmt(now + tonumber(ARGV[5]))
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'lease_owner', ARGV[4], 'lease_until', lease_until,
           'send_deadline', '', 'inflight_owner', '', 'repeat_safe', ARGV[7])
redis.call('ZADD', KEYS[5], lease_until, ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[2])
move(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], cur, 'sending', now, '', ARGV[4])
return {1, redis.call('HGETALL', KEYS[1])}
"""

# The fencing token: right before the request, the holder proves it still owns the lease and
# stretches it to cover the longest possible send, atomically.  Refused (nothing may be sent)
# when the lease was lost or, unless the push ignores it, when publishing was paused meanwhile.
# KEYS: rec, leases, pause
# ARGV: rid, now, owner, send_seconds, ignore_pause, fingerprint
FENCE = PRELUDE + r"""
local cur = redis.call('HGET', KEYS[1], 'state')
if cur ~= 'sending' or redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[3] then
  return {0, cur or 'missing'}
end
local now = clock(ARGV[2])
local lease = tonumber(redis.call('HGET', KEYS[1], 'lease_until') or '')
if lease == nil or lease < now then return {0, 'expired'} end
if ARGV[5] ~= '1' and redis.call('EXISTS', KEYS[3]) == 1 then return {0, 'paused'} end
local deadline = now + tonumber(ARGV[4])
if deadline < lease then deadline = lease end
redis.call('HSET', KEYS[1], 'lease_until', fmt(deadline), 'send_deadline', fmt(deadline),
           'inflight_fp', ARGV[6], 'inflight_owner', ARGV[3])
redis.call('ZADD', KEYS[2], fmt(deadline), ARGV[1])
return {1, fmt(deadline)}
"""

# The holder gives the record back untouched (it found it must not send after all: paused at the
# fence, content now held).  The attempt is not counted.
# KEYS: rec, hist, recent, leases
# ARGV: state_prefix, rid, now, owner, reason
RELEASE = PRELUDE + r"""
if redis.call('HGET', KEYS[1], 'state') ~= 'sending' then return {0} end
if redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[4] then return {0} end
if (redis.call('HGET', KEYS[1], 'send_deadline') or '') ~= '' then return {0} end
local now = clock(ARGV[3])
redis.call('HSET', KEYS[1], 'lease_owner', '', 'lease_until', '')
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
redis.call('ZREM', KEYS[4], ARGV[2])
move(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], 'sending', 'queued', now, ARGV[5], ARGV[4])
return {1, redis.call('HGETALL', KEYS[1])}
"""

# The platform's receipt.  Accepted from the lease holder, and from the attempt that passed the
# fence (``inflight_owner``) even after its lease was lost: the receipt proves the post is out,
# and recording it is what keeps a resend (which waits for ``send_deadline``) from posting twice.
# KEYS: rec, hist, recent, leases, schedule
# ARGV: state_prefix, rid, now, owner, receipt_id, receipt_url, notes (JSON list or '')
COMPLETE = PRELUDE + r"""
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur or cur == 'sent' then return {0} end
local holds = cur == 'sending' and redis.call('HGET', KEYS[1], 'lease_owner') == ARGV[4]
local inflight = redis.call('HGET', KEYS[1], 'inflight_owner') == ARGV[4]
if not holds and not inflight then return {0} end
local now = clock(ARGV[3])
redis.call('HSET', KEYS[1], 'receipt_id', ARGV[5], 'receipt_url', ARGV[6],
           'lease_owner', '', 'lease_until', '', 'send_deadline', '', 'inflight_owner', '')
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[2])
redis.call('HSET', KEYS[1], 'notes', ARGV[7] or '')
for i = 8, #ARGV - 1, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local reason = ''
if cur ~= 'sending' or not holds then
  reason = 'receipt arrived after the lease was lost (was ' .. cur .. ')'
end
move(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], cur, 'sent', now, reason, ARGV[4])
return {1, redis.call('HGETALL', KEYS[1])}
"""

# The holder reports an unsuccessful attempt.  mode: 'failed' (permanent), 'retry' (retry_wait
# due at retry_at), 'doubt' (in_doubt: the request may have reached a platform that cannot tell a
# repeat, so only an editor may decide).  Counters are fields, not read back from the capped
# history: ``transient_failures`` (toward MAX_ATTEMPTS) and ``maybe_sent`` (an attempt may be out).
# KEYS: rec, hist, recent, schedule, leases
# ARGV: state_prefix, rid, now, owner, reason, mode, retry_at, count_transient, uncertain
FAIL = PRELUDE + r"""
local cur = redis.call('HGET', KEYS[1], 'state')
if cur ~= 'sending' then return {0} end
if redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[4] then return {0} end
local now = clock(ARGV[3])
redis.call('HSET', KEYS[1], 'lease_owner', '', 'lease_until', '', 'send_deadline', '',
           'inflight_owner', '')
redis.call('ZREM', KEYS[5], ARGV[2])
if ARGV[8] == '1' then redis.call('HINCRBY', KEYS[1], 'transient_failures', 1) end
if ARGV[9] == '1' then redis.call('HSET', KEYS[1], 'maybe_sent', '1') end
if ARGV[6] == 'failed' then
  move(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], cur, 'failed', now, ARGV[5], ARGV[4])
elseif ARGV[6] == 'doubt' then
  move(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], cur, 'in_doubt', now, ARGV[5], ARGV[4])
else
  local at = ARGV[7]
  if at == '' then at = fmt(now) end
  redis.call('HSET', KEYS[1], 'scheduled_at', at)
  redis.call('ZADD', KEYS[4], at, ARGV[2])
  move(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], cur, 'retry_wait', now, ARGV[5], ARGV[4])
end
return {1, redis.call('HGETALL', KEYS[1])}
"""

# KEYS: rec, leases
# ARGV: rid, now, owner, lease_seconds
RENEW = PRELUDE + r"""
if redis.call('HGET', KEYS[1], 'state') ~= 'sending' then return {0} end
if redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[3] then return {0} end
local want = clock(ARGV[2]) + tonumber(ARGV[4])
local cur = tonumber(redis.call('HGET', KEYS[1], 'lease_until') or '')
if cur ~= nil and cur > want then want = cur end
local lease_until = fmt(want)
redis.call('HSET', KEYS[1], 'lease_until', lease_until)
redis.call('ZADD', KEYS[2], lease_until, ARGV[1])
return {1, lease_until}
"""

# Leases that ran out: their holders stopped renewing (dead, or cut off from Redis).
# KEYS: leases, recent, schedule
# ARGV: state_prefix, rec_prefix, hist_prefix, now, limit
# Returns a flat list: rid, outcome, rid, outcome ...
EXPIRE = PRELUDE + r"""
local now = clock(ARGV[4])
local rids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. fmt(now),
                        'LIMIT', '0', ARGV[5])
local out = {}
for _, rid in ipairs(rids) do
  local rec = ARGV[2] .. rid
  local cur = redis.call('HGET', rec, 'state')
  local lease = tonumber(redis.call('HGET', rec, 'lease_until') or '')
  if cur == 'sending' and lease ~= nil and lease >= now then
    redis.call('ZADD', KEYS[1], fmt(lease), rid)
  elseif cur == 'sending' then
    local what = settle_lost(rec, ARGV[3] .. rid, KEYS[2], KEYS[3], KEYS[1], ARGV[1], rid, now,
                             'lease expired', 'lease-expiry', false)
    table.insert(out, rid)
    table.insert(out, what)
  else
    redis.call('ZREM', KEYS[1], rid)
  end
end
return out
"""

# A lease whose holder is gone before its lease ran out: its worker is known dead (same machine,
# pid gone) or stopped proving it is alive.  Acts only if that holder still holds it.
# KEYS: rec, hist, recent, schedule, leases
# ARGV: state_prefix, rid, now, owner, why, dead
REAP = PRELUDE + r"""
if redis.call('HGET', KEYS[1], 'state') ~= 'sending' then return {0} end
if redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[4] then return {0} end
local now = clock(ARGV[3])
local what = settle_lost(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2], now,
                         ARGV[5], 'reaper', ARGV[6] == '1')
return {1, what}
"""

# An editor's decision.  Queued again: a fresh MAX_ATTEMPTS budget; a forced re-post is a new
# post, so an earlier attempt that may be out no longer explains a duplicate answer.  A resend
# keeps ``send_deadline`` (ACQUIRE waits until a vanished attempt can no longer land).
# KEYS: rec, hist, recent, schedule, leases
# ARGV: state_prefix, rid, now, ",allowed,", target, reason, who, action
EDITOR = PRELUDE + r"""
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {0} end
if not string.find(ARGV[4], ',' .. cur .. ',', 1, true) then
  return {0, redis.call('HGETALL', KEYS[1])}
end
local now = clock(ARGV[3])
redis.call('HSET', KEYS[1], 'lease_owner', '', 'lease_until', '')
redis.call('ZREM', KEYS[5], ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[2])
if ARGV[5] == 'queued' then
  local rid_ = redis.call('HGET', KEYS[1], 'receipt_id') or ''
  local rurl = redis.call('HGET', KEYS[1], 'receipt_url') or ''
  if rid_ ~= '' or rurl ~= '' then
    redis.call('HSET', KEYS[1], 'prev_receipt_id', rid_, 'prev_receipt_url', rurl)
  end
  redis.call('HSET', KEYS[1], 'receipt_id', '', 'receipt_url', '', 'transient_failures', '0')
  if ARGV[8] == 'force' then
    redis.call('HSET', KEYS[1], 'maybe_sent', '', 'inflight_fp', '', 'inflight_owner', '',
               'send_deadline', '')
  end
elseif ARGV[5] == 'sent' then
  redis.call('HSET', KEYS[1], 'send_deadline', '', 'inflight_owner', '')
end
move(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], cur, ARGV[5], now, ARGV[6], ARGV[7])
return {1, redis.call('HGETALL', KEYS[1])}
"""

# KEYS: schedule
# ARGV: now, limit
DUE = PRELUDE + r"""
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', fmt(clock(ARGV[1])), 'LIMIT', '0', ARGV[2])
for _, id in ipairs(ids) do redis.call('ZREM', KEYS[1], id) end
return ids
"""

# KEYS: schedule, recent
# ARGV: state_prefix, rec_prefix, hist_prefix, now, limit
PROMOTE_DUE = PRELUDE + r"""
local now = clock(ARGV[4])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', fmt(now), 'LIMIT', '0', ARGV[5])
local out = {}
for _, rid in ipairs(ids) do
  redis.call('ZREM', KEYS[1], rid)
  local rec = ARGV[2] .. rid
  local cur = redis.call('HGET', rec, 'state')
  if cur == 'waiting' or cur == 'retry_wait' then
    move(rec, ARGV[3] .. rid, KEYS[2], ARGV[1], rid, cur, 'queued', now, '', 'schedule')
    table.insert(out, rid)
  end
end
return out
"""

# KEYS: log, seq, block, budget
# ARGV: now, spacing, dry_run, n_rules, limit1, window1, limit2, window2 ...
# ``budget`` holds what the platform itself said is left in its windows (X's rate-limit headers):
# {name}:remaining / {name}:reset.  A spent window waits for its reset; a granted slot takes one
# from every window still running, so sends in flight are counted before their answers arrive.
# KEYS: log ; ARGV: the slot's time (as given to RESERVE), the time the answer came back
# Moves the slot granted at that time later, to when the platform may have timed the request at
# the latest; never earlier.
SETTLE = PRELUDE + r"""
local ts = fmt(clock(ARGV[1]))
local later = tonumber(ARGV[2])
local moved = 0
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ts, ts)) do
  redis.call('ZADD', KEYS[1], 'GT', fmt(later), member)
  moved = moved + 1
end
return moved
"""

RESERVE = PRELUDE + r"""
local now = clock(ARGV[1])
local spacing = tonumber(ARGV[2])
local nrules = tonumber(ARGV[4])
local wait = 0
local blocked = tonumber(redis.call('GET', KEYS[3]) or '')
if blocked ~= nil and blocked - now > wait then wait = blocked - now end
local budget = redis.call('HGETALL', KEYS[4])
local running = {}
for i = 1, #budget, 2 do
  local name = string.match(budget[i], '^(.*):reset$')
  if name ~= nil then
    local reset = tonumber(budget[i + 1])
    local left = tonumber(redis.call('HGET', KEYS[4], name .. ':remaining') or '')
    if reset ~= nil and left ~= nil and reset > now then
      table.insert(running, name)
      if left <= 0 and reset - now > wait then wait = reset - now end
    end
  end
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #last > 0 then
  -- slots are granted in time order, so a caller whose clock lags the newest slot waits for it
  local need = tonumber(last[2]) + spacing
  if need - now > wait then wait = need - now end
end
local maxw = spacing
for i = 0, nrules - 1 do
  local limit = tonumber(ARGV[5 + 2 * i])
  local window = tonumber(ARGV[6 + 2 * i])
  if window > maxw then maxw = window end
  local lower = '(' .. fmt(now - window)
  local c = redis.call('ZCOUNT', KEYS[1], lower, '+inf')
  if c >= limit then
    -- the window frees a slot once its (c - limit + 1)-th oldest entry is `window` old
    local e = redis.call('ZRANGEBYSCORE', KEYS[1], lower, '+inf', 'WITHSCORES',
                         'LIMIT', tostring(c - limit), '1')
    local need = tonumber(e[2]) + window
    if need - now > wait then wait = need - now end
  end
end
if wait > 0 or ARGV[3] == '1' then return fmt(wait) end
for _, name in ipairs(running) do redis.call('HINCRBY', KEYS[4], name .. ':remaining', -1) end
local seq = redis.call('INCR', KEYS[2])
local ts = fmt(now)
redis.call('ZADD', KEYS[1], ts, ts .. '#' .. seq)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now - maxw))
local ttl = tostring(math.ceil(maxw * 1000) + 60000)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return '0'
"""

# What the platform reported after a request: per window, remaining and reset.  A report for
# the running window can only lower what we counted (an answer may predate sends still in
# flight); a later reset starts a new window; an older one is stale and ignored.
# KEYS: budget
# ARGV: ttl_ms, name1, remaining1, reset1, name2 ...
BUDGET = PRELUDE + r"""
for i = 2, #ARGV, 3 do
  local name, left, reset = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local cur_reset = tonumber(redis.call('HGET', KEYS[1], name .. ':reset') or '')
  local cur_left = tonumber(redis.call('HGET', KEYS[1], name .. ':remaining') or '')
  if cur_reset == nil or reset > cur_reset then
    redis.call('HSET', KEYS[1], name .. ':reset', fmt(reset), name .. ':remaining', fmt(left))
  elseif reset == cur_reset and (cur_left == nil or left < cur_left) then
    redis.call('HSET', KEYS[1], name .. ':remaining', fmt(left))
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

# KEYS: block
# ARGV: until, now
BLOCK = PRELUDE + r"""
local now = clock(ARGV[2])
local until_ = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '')
if cur ~= nil and cur >= until_ then return fmt(cur) end
if until_ <= now then return fmt(cur or until_) end
redis.call('SET', KEYS[1], fmt(until_), 'PX', tostring(math.ceil((until_ - now) * 1000) + 60000))
return fmt(until_)
"""

# Audit one refused attempt, bounded per requester (``State.audit_refusal``).  KEYS: the
# requester's counter, the id of their running tally entry, the audit stream.  ARGV: limit,
# window seconds, maxlen, who, target, result JSON, now.  The first ``limit`` refusals of a
# requester within a quiet ``window`` get an entry each; after that one tally entry stands for
# the rest: it is replaced (XDEL + XADD) by an updated one on every further attempt, so a flood
# costs the stream one entry and the count stays exact.  Returns {entry id, n}.
AUDIT_REFUSAL = CLOCK + r"""
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], window)
local now = fmt(clock(ARGV[7]))
if n <= limit then
  return {redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'who', ARGV[4],
                     'action', 'refused', 'target', ARGV[5], 'result', ARGV[6], 'at', now), n}
end
local old = redis.call('GET', KEYS[2])
if old then redis.call('XDEL', KEYS[3], old) end
local result = '{"why": "flood", "more": ' .. (n - limit) .. ', "after": ' .. limit ..
               ', "last": ' .. ARGV[6] .. '}'
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'who', ARGV[4],
                      'action', 'refused', 'target', ARGV[5], 'result', result, 'at', now)
redis.call('SET', KEYS[2], id, 'EX', window)
return {id, n}
"""
