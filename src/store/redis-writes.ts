import type { StoreWrite } from './backend.js';

/**
 * A Lua function applying a batch of writes inside a script, in order: every store write on Redis
 * goes through it (the backend's `storeCommit`, the audit log's group commit). Write i takes its key
 * from KEYS[k0 + i] and three arguments from ARGV[a0 + 3i - 2 …]: an op code (E entity, S set,
 * A add to set, Z add to timeline), the TTL in milliseconds ('' for none), and the value (for Z:
 * the epoch millisecond, a space, the member).
 */
export const APPLY_WRITES_LUA = `
local function applyWrites(k0, a0, n)
  for i = 1, n do
    local key = KEYS[k0 + i]
    local op, ttl, value = ARGV[a0 + 3 * i - 2], ARGV[a0 + 3 * i - 1], ARGV[a0 + 3 * i]
    if op == 'E' then
      redis.call('DEL', key)
      redis.call('HSET', key, 'p', value)
      if ttl ~= '' then redis.call('PEXPIRE', key, ttl) end
    elseif op == 'S' then
      if ttl == '' then redis.call('SET', key, value)
      elseif tonumber(ttl) > 0 then redis.call('SET', key, value, 'PX', ttl)
      else redis.call('UNLINK', key) end
    elseif op == 'Z' then
      local at, member = string.match(value, '^(%d+) (.*)$')
      local wanted = tonumber(ttl)
      local existed = redis.call('EXISTS', key)
      redis.call('ZADD', key, at, member)
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%d', tonumber(at) - wanted))
      local current = redis.call('PTTL', key)
      if existed == 0 or (current >= 0 and current < wanted) then redis.call('PEXPIRE', key, wanted) end
    else
      local existed = redis.call('EXISTS', key)
      redis.call('SADD', key, value)
      if ttl == '' then
        if existed == 1 then redis.call('PERSIST', key) end
      else
        local wanted = tonumber(ttl)
        if existed == 0 then
          redis.call('PEXPIRE', key, wanted)
        else
          local current = redis.call('PTTL', key)
          if current >= 0 and current < wanted then redis.call('PEXPIRE', key, wanted) end
        end
      end
    end
  end
end`;

export const ttlMs = (ttlSeconds: number | undefined) => (ttlSeconds === undefined ? '' : String(Math.max(0, Math.round(ttlSeconds * 1000))));

/** KEYS and ARGV for {@link APPLY_WRITES_LUA}. */
export function encodeWrites(writes: readonly StoreWrite[]): { keys: string[]; args: string[] } {
  const keys: string[] = [];
  const args: string[] = [];
  for (const write of writes) {
    keys.push(write.key);
    const value = write.op === 'putEntity' ? write.json : write.op === 'set' ? write.value : write.op === 'addToTimeline' ? `${Math.floor(write.at)} ${write.member}` : write.member;
    const code = write.op === 'putEntity' ? 'E' : write.op === 'set' ? 'S' : write.op === 'addToTimeline' ? 'Z' : 'A';
    args.push(code, ttlMs(write.ttlSeconds), value);
  }
  return { keys, args };
}
