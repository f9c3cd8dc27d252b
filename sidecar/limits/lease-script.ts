/**
 * The Redis side of pool-wide limits: two Lua scripts (atomic: one renewal sees and changes the
 * budget alone) and the key names. Redis's own clock (TIME) stamps every grant, so sidecars'
 * clocks never need to agree.
 *
 * Keys (docs/configuration.md "Rate limits"), `<prefix>` = router_settings.redis_key_prefix (the
 * operator renders `<namespace>/<pool>`), `<backend>` = sha256(api_base|model_name), 16 hex:
 *   rrlb:{<prefix>}:<backend>:rpm   hash: slice number -> requests granted in it, plus `born`
 *   rrlb:{<prefix>}:<backend>:tpm   the same for tokens
 *   rrlb:{<prefix>}:<backend>:par   hash: sidecar id -> "<slots>:<expires ms>"
 * Each key expires (PEXPIRE) a little after the window (rpm/tpm) or twice the slot expiry (par)
 * when nobody renews; a renewal deletes the slices that left the window.
 */
import { createHash } from 'node:crypto';

/** The key of one backend's limit; the braces keep a pool's keys in one Redis Cluster slot. */
export function limitKey(prefix: string, backendId: string, kind: 'rpm' | 'tpm' | 'par'): string {
  return `rrlb:{${prefix}}:${createHash('sha256').update(backendId).digest('hex').slice(0, 16)}:${kind}`;
}

/** Reply groups of the pool's grants returned to a sidecar (what it falls back on). */
export const HIST_GROUPS = 12;

/**
 * KEYS[1] the rpm/tpm hash. ARGV: limit, windowMs, leaseMs (with the dispatch margin), sliceMs, want, minFree, charge,
 * nRefunds, [slice, units]*, nSeed, [slice, units]*.
 * Returns {grant, slice, nowMs, fresh, lastSlice1, units1, ...}.
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
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = math.floor(nowMs / sliceMs)
-- A grant made in a slice counts until that slice ends + window + lease.
local oldest = math.floor((nowMs - windowMs - leaseMs) / sliceMs)
local fresh = 0
local born = redis.call('HGET', key, 'born')
if born then born = tonumber(born) else
  fresh = 1
  born = cur
  redis.call('HSET', key, 'born', cur)
end
local i = 8
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local s = tonumber(ARGV[i]); local u = tonumber(ARGV[i + 1]); i = i + 2
  -- A slice from before a flush is not ours to lower.
  if s >= oldest and s >= born then
    local v = tonumber(redis.call('HGET', key, s) or '0')
    if v > 0 then redis.call('HSET', key, s, math.max(0, v - u)) end
  end
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local s = tonumber(ARGV[i]); local u = tonumber(ARGV[i + 1]); i = i + 2
  if s >= oldest and s < born then redis.call('HSETNX', key, s, u) end
end
if charge > 0 then redis.call('HINCRBY', key, cur, charge) end
local all = redis.call('HGETALL', key)
local sum = 0
local groupSlices = math.ceil((windowMs + leaseMs) / sliceMs / ${HIST_GROUPS})
local groups = {}
for j = 1, #all, 2 do
  local f = all[j]
  if f ~= 'born' then
    local s = tonumber(f)
    local v = tonumber(all[j + 1])
    if s < oldest then redis.call('HDEL', key, f)
    elseif v > 0 then
      sum = sum + v
      local g = math.floor(s / groupSlices)
      groups[g] = (groups[g] or 0) + v
    end
  end
end
local grant = math.max(0, math.min(want, limit - minFree - sum))
if grant > 0 then redis.call('HINCRBY', key, cur, grant) end
redis.call('PEXPIRE', key, windowMs + leaseMs + 2 * sliceMs)
local out = {grant, cur, nowMs, fresh}
for g, v in pairs(groups) do
  out[#out + 1] = (g + 1) * groupSlices - 1
  out[#out + 1] = v
end
return out
`;

/**
 * KEYS[1] the par hash. ARGV: limit, sidecarId, want, inFlight, expiryMs. A sidecar's slots are
 * its own field; fields nobody renewed within expiryMs are dropped (a dead sidecar's share comes
 * back). Calls already in flight keep their slots. Returns {slots, others}.
 */
export const SLOT_SCRIPT = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local id = ARGV[2]
local want = tonumber(ARGV[3])
local inFlight = tonumber(ARGV[4])
local expiryMs = tonumber(ARGV[5])
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', key)
local others = 0
for j = 1, #all, 2 do
  if all[j] ~= id then
    local v = all[j + 1]
    local sep = string.find(v, ':', 1, true)
    local slots = tonumber(string.sub(v, 1, sep - 1))
    local expires = tonumber(string.sub(v, sep + 1))
    if expires <= nowMs then redis.call('HDEL', key, all[j]) else others = others + slots end
  end
end
local slots = math.max(inFlight, math.min(want, limit - others))
if slots > 0 then redis.call('HSET', key, id, slots .. ':' .. (nowMs + expiryMs)) else redis.call('HDEL', key, id) end
redis.call('PEXPIRE', key, 2 * expiryMs)
return {slots, others}
`;
