/**
 * The Redis side of pool-wide limits: two Lua scripts (atomic: one renewal sees and changes the
 * budget alone) and the key names. Redis's own clock (TIME) stamps every grant, so sidecars'
 * clocks never need to agree.
 *
 * Keys (docs/configuration.md "Rate limits"), `<prefix>` = router_settings.redis_key_prefix (the
 * operator renders `<namespace>/<pool>`), `<backend>` = sha256(api_base|model_name), 16 hex:
 *   rrlb:{<prefix>}:<backend>:rpm   hash: s<slice> -> requests granted in it, g<group> sums, sum, low, born
 *   rrlb:{<prefix>}:<backend>:tpm   the same for tokens
 *   rrlb:{<prefix>}:<backend>:rpm-promised   sorted set: sidecar id -> what the pool's grant counter `G`
 *       may reach before it renews again (its promise); :rpm-seen: sidecar id -> when its promise lapses (ms)
 *   rrlb:{<prefix>}:<backend>:tpm-promised, :tpm-seen   the same for tokens
 *   rrlb:{<prefix>}:<backend>:par   hash: sidecar id -> slots held, plus `total`
 *   rrlb:{<prefix>}:<backend>:par-expiry   sorted set: sidecar id -> when its slots expire (ms)
 * Each key expires (PEXPIRE) a little after the window (rpm/tpm) or twice the slot expiry (par)
 * when nobody renews; a renewal deletes the slices that left the window and the expired slots.
 */
import { createHash } from 'node:crypto';

/** The key of one backend's limit; the braces keep a pool's keys in one Redis Cluster slot. */
export type LimitKeyKind = 'rpm' | 'tpm' | `${'rpm' | 'tpm'}-${'promised' | 'seen'}` | 'par' | 'par-expiry';

export function limitKey(prefix: string, backendId: string, kind: LimitKeyKind): string {
  return `rrlb:{${prefix}}:${createHash('sha256').update(backendId).digest('hex').slice(0, 16)}:${kind}`;
}

/** Reply groups of the pool's grants returned to a sidecar (what it falls back on). */
export const HIST_GROUPS = 12;

/**
 * KEYS[1] the rpm/tpm hash, KEYS[2] its promises, KEYS[3] when they lapse. ARGV: limit, windowMs,
 * leaseMs (with the dispatch margin), sliceMs, want, minFree, charge, sidecarId, promiseFloor,
 * promiseMs, promiseShare, need, nRefunds, [slice, units]*, nSeed, [slice, units]*. `minFree`
 * holds back only what is asked beyond `need` (the sidecar's demand): a burst lease or an idle
 * floor is granted while the window keeps `minFree` free, the demand while it has room at all.
 * Returns {grant, slice, nowMs, born, promise, lastSlice1, units1, ...}: the pool's counted grants
 * before this one, in groups (what a sidecar falls back on).
 *
 * Promises. A sidecar's fallback must know what the others may be granted after its reply and
 * before Redis fails. Each reply promises the sidecar that the pool's grants and charges to others
 * (the counter `G`, which only grows) will not exceed `promise` more until it renews again or
 * `promiseMs` passes; grants to the others wait for it beyond that. The promise is `promiseShare`
 * (a half) of what the window has left (bursts get half, then half of the rest at the next round
 * of renewals), never less than `promiseFloor` (twice the rate the whole limit allows over an idle
 * renewal period: the steady state never waits); a settling sidecar asks for the floor only. Charges are counted unconditionally (spends already made) and can
 * exceed a promise.
 *
 * Fields: `s<slice>` units granted in that slice, `g<group>` the sum of its slices (HIST_GROUPS
 * groups span the counted time), `sum` all counted units, `low` the oldest counted slice, `born`
 * the slice the key was created in. A renewal touches only the slices that left the window since
 * the last one (0 or 1 in the steady state; at most the ~125 of a key about to expire) and the
 * groups: O(1) work, not O(fields).
 */
export const RATE_SCRIPT = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local leaseMs = tonumber(ARGV[3])
local sliceMs = tonumber(ARGV[4])
local want = tonumber(ARGV[5])
local minFree = tonumber(ARGV[6])
local charge = tonumber(ARGV[7])
local id = ARGV[8]
local promiseFloor = tonumber(ARGV[9])
local promiseMs = tonumber(ARGV[10])
local promiseShare = tonumber(ARGV[11])
local need = tonumber(ARGV[12])
local promised = KEYS[2]
local seen = KEYS[3]
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = math.floor(nowMs / sliceMs)
-- A grant made in a slice counts until that slice ends + window + lease.
local oldest = math.floor((nowMs - windowMs - leaseMs) / sliceMs)
local gs = math.ceil((windowMs + leaseMs) / sliceMs / ${HIST_GROUPS})
local meta = redis.call('HMGET', key, 'born', 'sum', 'low')
local born = tonumber(meta[1])
local sum = tonumber(meta[2]) or 0
local low = tonumber(meta[3]) or oldest
if not born then
  born = cur
  sum = 0
  low = oldest
  redis.call('HSET', key, 'born', born)
end
local function add(s, u)
  redis.call('HINCRBY', key, 's' .. s, u)
  local g = redis.call('HINCRBY', key, 'g' .. math.floor(s / gs), u)
  if g <= 0 then redis.call('HDEL', key, 'g' .. math.floor(s / gs)) end
  sum = sum + u
end
-- Slices that left the window since the last renewal (bounded: the key expires when idle).
for s = low, oldest - 1 do
  local v = tonumber(redis.call('HGET', key, 's' .. s) or '0')
  if v ~= 0 then
    add(s, -v)
    redis.call('HDEL', key, 's' .. s)
  end
end
if sum < 0 then sum = 0 end
local i = 13
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local s = tonumber(ARGV[i]); local u = tonumber(ARGV[i + 1]); i = i + 2
  -- A slice from before a flush is not ours to lower.
  if s >= oldest and s >= born then
    local v = tonumber(redis.call('HGET', key, 's' .. s) or '0')
    if v > 0 then add(s, -math.min(u, v)) end
  end
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local s = tonumber(ARGV[i]); local u = tonumber(ARGV[i + 1]); i = i + 2
  -- Every sidecar seeds what it knew (groups and its promise, before born): the larger count per slice.
  if s >= oldest and s < born then
    local v = tonumber(redis.call('HGET', key, 's' .. s) or '0')
    if u > v then add(s, u - v) end
  end
end
if charge > 0 then add(cur, charge) end
-- Promises of sidecars not heard from for promiseMs lapse (a dead sidecar's stops holding the pool back).
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', seen, '-inf', nowMs)) do
  redis.call('ZREM', promised, gone)
  redis.call('ZREM', seen, gone)
end
local counter = tonumber(redis.call('HGET', key, 'G') or '0') + math.max(0, charge)
local room = limit
local lowest = redis.call('ZRANGE', promised, 0, 1, 'WITHSCORES')
for j = 1, #lowest, 2 do
  if lowest[j] ~= id then
    room = tonumber(lowest[j + 1]) - counter
    break
  end
end
local out = {0, cur, nowMs, born, 0}
local first = math.floor(oldest / gs)
local last = math.floor(cur / gs)
local names = {}
for g = first, last do names[#names + 1] = 'g' .. g end
local sums = redis.call('HMGET', key, unpack(names))
for j = 1, #names do
  local v = tonumber(sums[j] or '0')
  if v > 0 then
    out[#out + 1] = (first + j) * gs - 1
    out[#out + 1] = v
  end
end
local grant = math.max(0, math.min(want, limit - sum, room, math.max(need, limit - minFree - sum)))
if grant > 0 then add(cur, grant) end
counter = counter + grant
local promise = math.max(promiseFloor, math.floor((limit - sum) * promiseShare))
redis.call('ZADD', promised, counter + promise, id)
redis.call('ZADD', seen, nowMs + promiseMs, id)
out[1] = grant
out[5] = promise
redis.call('HSET', key, 'sum', sum, 'low', oldest, 'G', counter)
local ttl = windowMs + leaseMs + 2 * sliceMs
redis.call('PEXPIRE', key, ttl)
redis.call('PEXPIRE', promised, ttl)
redis.call('PEXPIRE', seen, ttl)
return out
`;

/**
 * KEYS[1] the par hash (sidecar id -> slots, and `total`), KEYS[2] its expiry index (a sorted
 * set: sidecar id -> expires ms). ARGV: limit, sidecarId, want, inFlight, expiryMs. A sidecar's
 * slots are its own field; ids nobody renewed within expiryMs are dropped (a dead sidecar's share
 * comes back). Calls already in flight keep their slots; want 0 with none in flight gives them
 * all back (a graceful stop). O(log sidecars) per renewal. Returns {slots, others}.
 */
export const SLOT_SCRIPT = `
local key = KEYS[1]
local expiries = KEYS[2]
local limit = tonumber(ARGV[1])
local id = ARGV[2]
local want = tonumber(ARGV[3])
local inFlight = tonumber(ARGV[4])
local expiryMs = tonumber(ARGV[5])
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local total = tonumber(redis.call('HGET', key, 'total') or '0')
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', expiries, '-inf', nowMs)) do
  total = total - tonumber(redis.call('HGET', key, dead) or '0')
  redis.call('HDEL', key, dead)
  redis.call('ZREM', expiries, dead)
end
local mine = tonumber(redis.call('HGET', key, id) or '0')
local others = math.max(0, total - mine)
local slots = math.max(inFlight, math.min(want, limit - others))
if slots > 0 then
  redis.call('HSET', key, id, slots)
  redis.call('ZADD', expiries, nowMs + expiryMs, id)
else
  redis.call('HDEL', key, id)
  redis.call('ZREM', expiries, id)
end
redis.call('HSET', key, 'total', others + math.max(0, slots))
redis.call('PEXPIRE', key, 2 * expiryMs)
redis.call('PEXPIRE', expiries, 2 * expiryMs)
return {slots, others}
`;
