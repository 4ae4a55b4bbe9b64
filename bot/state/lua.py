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

PRELUDE = r"""
local function clock(arg)
  if arg ~= nil and arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.17g', x) end
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
"""

# KEYS: rec, hist, recent, schedule, post_idx
# ARGV: state_prefix, rid, now, post, platform, destination, state, reason, scheduled_at, by
ENSURE = PRELUDE + r"""
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('HGETALL', KEYS[1])} end
local now = clock(ARGV[3])
local ts = fmt(now)
redis.call('HSET', KEYS[1], 'post', ARGV[4], 'platform', ARGV[5], 'destination', ARGV[6],
           'state', ARGV[7], 'attempts', '0', 'reason', ARGV[8], 'created_at', ts,
           'updated_at', ts)
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[1], 'scheduled_at', ARGV[9])
  redis.call('ZADD', KEYS[4], ARGV[9], ARGV[2])
end
redis.call('SADD', ARGV[1] .. ARGV[7], ARGV[2])
redis.call('SADD', KEYS[5], ARGV[2])
redis.call('ZADD', KEYS[3], ts, ARGV[2])
redis.call('LPUSH', KEYS[2], cjson.encode({at = ts, from = '', to = ARGV[7], reason = ARGV[8],
                                          by = ARGV[10]}))
return {1, redis.call('HGETALL', KEYS[1])}
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
# ARGV: state_prefix, rid, now, owner, lease_seconds, ignore_pause
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
local lease_until = fmt(now + tonumber(ARGV[5]))
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'lease_owner', ARGV[4], 'lease_until', lease_until)
redis.call('ZADD', KEYS[5], lease_until, ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[2])
move(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], cur, 'sending', now, '', ARGV[4])
return {1, redis.call('HGETALL', KEYS[1])}
"""

# KEYS: rec, hist, recent, leases
# ARGV: state_prefix, rid, now, owner, receipt_id, receipt_url
COMPLETE = PRELUDE + r"""
local cur = redis.call('HGET', KEYS[1], 'state')
if cur ~= 'sending' and cur ~= 'in_doubt' then return {0} end
if redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[4] then return {0} end
local now = clock(ARGV[3])
redis.call('HSET', KEYS[1], 'receipt_id', ARGV[5], 'receipt_url', ARGV[6],
           'lease_owner', '', 'lease_until', '')
redis.call('ZREM', KEYS[4], ARGV[2])
local reason = ''
if cur == 'in_doubt' then reason = 'receipt arrived after the lease expired' end
move(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], cur, 'sent', now, reason, ARGV[4])
return {1, redis.call('HGETALL', KEYS[1])}
"""

# KEYS: rec, hist, recent, schedule, leases
# ARGV: state_prefix, rid, now, owner, reason, permanent, retry_at
FAIL = PRELUDE + r"""
local cur = redis.call('HGET', KEYS[1], 'state')
if cur ~= 'sending' then return {0} end
if redis.call('HGET', KEYS[1], 'lease_owner') ~= ARGV[4] then return {0} end
local now = clock(ARGV[3])
redis.call('HSET', KEYS[1], 'lease_owner', '', 'lease_until', '')
redis.call('ZREM', KEYS[5], ARGV[2])
if ARGV[6] == '1' then
  move(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], cur, 'failed', now, ARGV[5], ARGV[4])
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
local lease_until = fmt(clock(ARGV[2]) + tonumber(ARGV[4]))
redis.call('HSET', KEYS[1], 'lease_until', lease_until)
redis.call('ZADD', KEYS[2], lease_until, ARGV[1])
return {1, lease_until}
"""

# KEYS: leases, recent
# ARGV: state_prefix, rec_prefix, hist_prefix, now, limit
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
    redis.call('ZREM', KEYS[1], rid)
    local owner = redis.call('HGET', rec, 'lease_owner') or ''
    redis.call('HSET', rec, 'lease_until', '')
    move(rec, ARGV[3] .. rid, KEYS[2], ARGV[1], rid, 'sending', 'in_doubt', now,
         'lease expired mid-send (owner ' .. owner .. ')', 'lease-expiry')
    table.insert(out, rid)
  else
    redis.call('ZREM', KEYS[1], rid)
  end
end
return out
"""

# KEYS: rec, hist, recent, schedule, leases
# ARGV: state_prefix, rid, now, ",allowed,", target, reason, who
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
  redis.call('HSET', KEYS[1], 'receipt_id', '', 'receipt_url', '')
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

# KEYS: log, seq, block
# ARGV: now, spacing, dry_run, n_rules, limit1, window1, limit2, window2 ...
RESERVE = PRELUDE + r"""
local now = clock(ARGV[1])
local spacing = tonumber(ARGV[2])
local nrules = tonumber(ARGV[4])
local wait = 0
local blocked = tonumber(redis.call('GET', KEYS[3]) or '')
if blocked ~= nil and blocked - now > wait then wait = blocked - now end
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
local seq = redis.call('INCR', KEYS[2])
local ts = fmt(now)
redis.call('ZADD', KEYS[1], ts, ts .. '#' .. seq)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now - maxw))
local ttl = tostring(math.ceil(maxw * 1000) + 60000)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return '0'
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
