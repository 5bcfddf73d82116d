/*
 * The ordered log of the Redis backend (Backend.appendToLog / readLog): four keys beside the log's
 * name, which share its hash tag and so one Cluster slot —
 *   <log>:seq    sorted set, value → sequence number (the order of appends)
 *   <log>:exp    sorted set, value → expiry (epoch ms), to drop what no longer matters
 *   <log>:n      the last sequence number given out
 *   <log>:epoch  a random id written when the log begins: a new one tells readers it was lost
 * Each script declares the four keys, so it runs atomically on standalone Redis and on Cluster.
 */

/** The suffixes of a log's keys, in the order the scripts declare them. */
export const LOG_PARTS = [':seq', ':exp', ':n', ':epoch'] as const;

/** The keys of the log named `key`. */
export function logKeys(key: string): string[] {
  return LOG_PARTS.map((part) => `${key}${part}`);
}

/** Drops at most 1000 expired values per call (the Lua stack bounds `unpack`). */
const TRIM = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
if #expired > 0 then
  redis.call('ZREM', KEYS[1], unpack(expired))
  redis.call('ZREM', KEYS[2], unpack(expired))
end`;

/** ARGV: now (ms), a fresh epoch id, then value and expiry pairs. */
export const APPEND_LOG_LUA = `
redis.call('SET', KEYS[4], ARGV[2], 'NX')
local now = tonumber(ARGV[1])
for i = 3, #ARGV, 2 do
  local expires = tonumber(ARGV[i + 1])
  if expires > now then
    local seq = redis.call('INCR', KEYS[3])
    redis.call('ZADD', KEYS[1], seq, ARGV[i])
    redis.call('ZADD', KEYS[2], expires, ARGV[i])
  end
end
${TRIM}
return 1`;

/**
 * ARGV: now (ms), a fresh epoch id, the cursor, the limit. Answers { epoch, { value, seq, ... } of
 * the live values scanned, the last sequence number scanned (or the cursor), how many were scanned, head }.
 */
export const READ_LOG_LUA = `
redis.call('SET', KEYS[4], ARGV[2], 'NX')
${TRIM}
local now = tonumber(ARGV[1])
local epoch = redis.call('GET', KEYS[4])
local scanned = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[3], '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[4]))
local items = {}
local last = ARGV[3]
for i = 1, #scanned, 2 do
  last = scanned[i + 1]
  local expires = redis.call('ZSCORE', KEYS[2], scanned[i])
  if expires and tonumber(expires) > now then
    items[#items + 1] = scanned[i]
    items[#items + 1] = scanned[i + 1]
  end
end
local head = redis.call('GET', KEYS[3]) or '0'
return { epoch, items, last, #scanned / 2, head }`;
