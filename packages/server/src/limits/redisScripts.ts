/**
 * The Lua scripts of the Redis store. Each runs atomically on the server, which is what makes two
 * replicas share one bucket exactly. Time comes from `redis.call('TIME')` unless the caller passes
 * `now` (ms), so replicas with drifting clocks still agree; Redis >= 5 replicates scripts by effect,
 * so reading TIME before writing is allowed.
 *
 * The daily and usage scripts build the day's key from the server's time inside the script (the
 * day is only known there), with the prefix passed as KEYS[1]. That is fine on a single Redis or
 * Sentinel; Redis Cluster would need the key to be declared, which this server does not target.
 */

/** Shared prologue: `now` in ms from ARGV[n] or from the server clock. */
const NOW = (argIndex: number): string => `
local now = tonumber(ARGV[${argIndex}])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`;

/**
 * Token bucket step, a port of `takeFromBucket` (same epsilon). KEYS[1] bucket hash;
 * ARGV: burst, rps, now ('' = server time), cost (0 peeks). Returns {allowed, tokens as string}.
 * The key expires when the bucket would be full, since a missing bucket reads as full.
 */
export const RATE_SCRIPT = `
local burst = tonumber(ARGV[1])
local rps = tonumber(ARGV[2])
${NOW(3)}
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
if now > ts then
  tokens = tokens + (now - ts) * rps / 1000
  ts = now
end
if tokens > burst then tokens = burst end
local allowed = 0
if tokens >= 1 - 1e-9 then allowed = 1 end
if cost > 0 then
  if allowed == 1 then tokens = math.max(0, tokens - cost) end
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', ts))
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rps) + 1000)
end
return {allowed, string.format('%.17g', tokens)}
`;

/**
 * Daily admission or peek. KEYS[1] prefix; ARGV: keyId, limit ('' = no quota), now ('' = server
 * time), mode ('admit' | 'peek'), retention seconds. The day's hash `<prefix>usage:<epochDay>:<keyId>`
 * holds requests and tokens; the set `<prefix>usage:<epochDay>` indexes the day's key ids.
 * Returns {counted, used, now}.
 */
export const DAILY_SCRIPT = `
${NOW(3)}
local day = math.floor(now / 86400000)
local index = KEYS[1] .. 'usage:' .. day
local key = index .. ':' .. ARGV[1]
local used = tonumber(redis.call('HGET', key, 'requests')) or 0
local limit = tonumber(ARGV[2])
if ARGV[4] ~= 'admit' or (limit and used >= limit) then
  return {0, used, now}
end
used = redis.call('HINCRBY', key, 'requests', 1)
local ttl = tonumber(ARGV[5])
redis.call('EXPIRE', key, ttl)
redis.call('SADD', index, ARGV[1])
redis.call('EXPIRE', index, ttl)
return {1, used, now}
`;

/** Adds tokens to today's usage. KEYS[1] prefix; ARGV: keyId, prompt, completion, now, retention seconds. */
export const USAGE_SCRIPT = `
${NOW(4)}
local day = math.floor(now / 86400000)
local index = KEYS[1] .. 'usage:' .. day
local key = index .. ':' .. ARGV[1]
redis.call('HINCRBY', key, 'prompt_tokens', ARGV[2])
redis.call('HINCRBY', key, 'completion_tokens', ARGV[3])
local ttl = tonumber(ARGV[5])
redis.call('EXPIRE', key, ttl)
redis.call('SADD', index, ARGV[1])
redis.call('EXPIRE', index, ttl)
return now
`;

/** Gives back one admitted request, never below zero. KEYS[1] the day's hash for the key. */
export const REFUND_SCRIPT = `
local used = tonumber(redis.call('HGET', KEYS[1], 'requests')) or 0
if used > 0 then redis.call('HINCRBY', KEYS[1], 'requests', -1) end
return used
`;
