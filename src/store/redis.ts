import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { AuditLog } from '../audit/log.js';
import { createHash, randomUUID } from 'node:crypto';
import type { ReplayCache } from '../dpop/replay-cache.js';
import { linkIds, type Backend, type LinkedRead, type LinkedValues, type LogRead, type StoreWrite, type TimelineEntry, type TimelineRange } from './backend.js';
import { APPEND_LOG_LUA, READ_LOG_LUA, logKeys } from './redis-log.js';
import { RedisAuditLog } from './audit-redis.js';
import { APPLY_WRITES_LUA, encodeWrites, ttlMs } from './redis-writes.js';

const CONNECT_TIMEOUT_MS = 5_000;
const retry = (attempt: number) => Math.min(attempt * 100, 1000);

// Scripts declared with one key run anywhere; the variadic ones (a batch of writes, a linked read)
// on standalone Redis only. TTLs travel in milliseconds ('' for none).
const SCRIPTS = {
  /** 1 when this call set the consumed mark; 0 when missing (never created) or already consumed. */
  storeConsumeEntity: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'c', ARGV[1])`,
  /** One write (an entity, a value, a set member with the set's TTL rule): declared with one key, so Cluster routes it. */
  storeWrite: `${APPLY_WRITES_LUA}
applyWrites(0, 0, 1)
return 1`,
  /** Applies writes in order (standalone only: the keys may hash to different slots). */
  storeCommit: `${APPLY_WRITES_LUA}
applyWrites(0, 0, #KEYS)
return #KEYS`,
  /**
   * GET KEYS[1], GET each further key, and EXISTS for each id of the value's ARGV[1] array, as key
   * ARGV[2]..id..ARGV[3] (standalone only: those keys are not declared). Decodes the JSON in Lua.
   */
  storeReadLinked: `
local value = redis.call('GET', KEYS[1])
local also = {}
for i = 2, #KEYS do also[i - 1] = redis.call('GET', KEYS[i]) end
local linked = {}
if value then
  local ok, doc = pcall(cjson.decode, value)
  if ok and type(doc) == 'table' and type(doc[ARGV[1]]) == 'table' then
    for _, id in ipairs(doc[ARGV[1]]) do
      if type(id) == 'string' then linked[#linked + 1] = redis.call('EXISTS', ARGV[2] .. id .. ARGV[3]) end
    end
  end
end
return { value, also, linked }`,
  /** SMEMBERS of each key (standalone only: the keys may hash to different slots). */
  storeMembersOfEach: `
local out = {}
for i = 1, #KEYS do out[i] = redis.call('SMEMBERS', KEYS[i]) end
return out`,
  /** SET NX; answers the value stored afterwards. */
  storeSetIfAbsent: `
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return ARGV[1] end
return redis.call('GET', KEYS[1])`,
  /** An ordered log's append and read (src/store/redis-log.ts): four keys of one slot. */
  storeAppendLog: APPEND_LOG_LUA,
  storeReadLog: READ_LOG_LUA,
} as const;

/** Scripts whose number of keys each call gives (the others take exactly one, or as many as below). */
const VARIADIC = new Set(['storeCommit', 'storeReadLinked', 'storeMembersOfEach']);
const KEY_COUNTS: Partial<Record<keyof typeof SCRIPTS, number>> = { storeAppendLog: 4, storeReadLog: 4 };

interface Scripts {
  storeConsumeEntity(key: string, at: string): Promise<number>;
  storeWrite(key: string, op: string, ttlMs: string, value: string): Promise<number>;
  storeSetIfAbsent(key: string, value: string): Promise<string>;
  storeMembersOfEach(count: number, ...keys: string[]): Promise<string[][]>;
  storeCommit(count: number, ...keysThenArgs: string[]): Promise<number>;
  storeReadLinked(count: number, ...keysThenArgs: string[]): Promise<[string | null, Array<string | null>, number[]]>;
  storeAppendLog(...keysThenArgs: string[]): Promise<number>;
  storeReadLog(...keysThenArgs: string[]): Promise<[string, string[], string, number, string]>;
}

type Client = (Redis | Cluster) & Scripts;

/** Keys per MGET on a standalone server (a Cluster gets one GET per key). */
const READ_CHUNK = 1000;

/** Keys per UNLINK on a standalone server (a Cluster gets one UNLINK per key). */
const DELETE_CHUNK = 1000;

/** `keys` cut into runs of at most `size`, one command each. */
function chunksOf(keys: readonly string[], size: number): string[][] {
  const chunks: string[][] = [];
  for (let i = 0; i < keys.length; i += size) chunks.push(keys.slice(i, i + size));
  return chunks;
}


/**
 * The {@link Backend} on Redis, standalone or Cluster. Create it with {@link connectRedis} or
 * {@link connectRedisCluster}; while Redis is unreachable, calls fail fast and the client keeps
 * reconnecting.
 */
export class RedisBackend implements Backend {
  readonly #client: Client;

  /** Takes over a connected client; prefer the `connect*` factories. */
  constructor(client: Redis | Cluster) {
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      client.defineCommand(name, VARIADIC.has(name) ? { lua } : { numberOfKeys: KEY_COUNTS[name as keyof typeof SCRIPTS] ?? 1, lua });
    }
    this.#client = client as Client;
  }

  /** The ioredis client, for libraries that take one (the shared per-actor rate limit). */
  get redisClient(): Redis | Cluster {
    return this.#client;
  }

  /**
   * A DPoP replay cache (RFC 9449 §11.1) on this connection, for the resource-server toolkit's
   * `dpop.replayCache`: every instance of an API sharing it refuses a proof any of them saw. Each
   * key (digested) is `SET NX` with the proof's expiry, under `prefix`. Fails closed: a Redis error
   * rejects, which the toolkit answers 503 — never taking the proof for a fresh one.
   */
  replayCache(prefix = 'dpop:'): ReplayCache {
    return {
      remember: async (key, expiresAt) => {
        const ttl = Math.max(1, Math.ceil(expiresAt - Date.now()));
        const digest = createHash('sha256').update(key).digest('base64url');
        return (await this.#client.set(`${prefix}{proof:${digest}}`, '1', 'PX', ttl, 'NX')) === 'OK';
      },
    };
  }

  /** The durable audit log (a Redis Stream) on this connection, its keys under `prefix`. */
  auditLog(prefix: string): AuditLog {
    return new RedisAuditLog(this.#client, prefix, this);
  }

  /** One write through the write script (one key: safe on Cluster too). */
  async #write(write: StoreWrite): Promise<void> {
    const { keys, args } = encodeWrites([write]);
    await this.#client.storeWrite(keys[0]!, args[0]!, args[1]!, args[2]!);
  }

  async putEntity(key: string, json: string, ttlSeconds: number | undefined): Promise<void> {
    await this.#write({ op: 'putEntity', key, json, ttlSeconds });
  }

  async getEntity(key: string): Promise<{ json: string; consumed: number | undefined } | undefined> {
    const [json, consumed] = await this.#client.hmget(key, 'p', 'c');
    if (json === null || json === undefined) return undefined;
    return { json, consumed: consumed === null || consumed === undefined ? undefined : Number(consumed) };
  }

  async consumeEntity(key: string, at: number): Promise<boolean> {
    return (await this.#client.storeConsumeEntity(key, String(at))) === 1;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#client.get(key)) ?? undefined;
  }

  async getMany(keys: readonly string[]): Promise<Array<string | undefined>> {
    if (keys.length === 0) return [];
    if (this.#client instanceof Cluster && keys.length > 1) {
      // Keys may sit on different slots: one GET each (auto-pipelined per node).
      return Promise.all(keys.map((key) => this.get(key)));
    }
    return (await Promise.all(chunksOf(keys, READ_CHUNK).map((chunk) => this.#client.mget(...chunk)))).flat().map((value) => value ?? undefined);
  }

  async readLinked(read: LinkedRead): Promise<LinkedValues> {
    const { field, before, after } = read.link;
    if (this.#client instanceof Cluster) {
      const [value, also] = await Promise.all([this.get(read.key), this.getMany(read.also)]);
      const linked = await Promise.all(linkIds(value, field).map(async (id) => (await this.#client.exists(before + id + after)) === 1));
      return { value, also, linked };
    }
    const [value, also, linked] = await this.#client.storeReadLinked(1 + read.also.length, read.key, ...read.also, field, before, after);
    return { value: value ?? undefined, also: also.map((v) => v ?? undefined), linked: linked.map((n) => n === 1) };
  }

  async commit(writes: readonly StoreWrite[]): Promise<void> {
    if (writes.length === 0) return;
    if (this.#client instanceof Cluster) {
      // One command per key (auto-pipelined per node): the indexes first, then the entities they point to.
      const entities = writes.filter((w) => w.op === 'putEntity');
      await Promise.all(writes.filter((w) => w.op !== 'putEntity').map((w) => this.#write(w)));
      await Promise.all(entities.map((w) => this.#write(w)));
      return;
    }
    const { keys, args } = encodeWrites(writes);
    await this.#client.storeCommit(keys.length, ...keys, ...args);
  }


  /** Whether this backend talks to a Redis Cluster (no script may span slots there). */
  get clustered(): boolean {
    return this.#client instanceof Cluster;
  }

  async set(key: string, value: string, ttlSeconds: number | undefined): Promise<void> {
    if (ttlSeconds === undefined) {
      await this.#client.set(key, value);
      return;
    }
    const ms = Number(ttlMs(ttlSeconds));
    if (ms > 0) await this.#client.set(key, value, 'PX', ms);
    else await this.#client.unlink(key); // already expired
  }

  async setIfAbsent(key: string, value: string): Promise<string> {
    return this.#client.storeSetIfAbsent(key, value);
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (this.#client instanceof Cluster) {
      // Keys may sit on different slots: one UNLINK each (auto-pipelined per node).
      await Promise.all(keys.map((key) => this.#client.unlink(key)));
      return;
    }
    await Promise.all(chunksOf(keys, DELETE_CHUNK).map((chunk) => this.#client.unlink(...chunk)));
  }

  async addToSet(key: string, member: string, ttlSeconds: number | undefined): Promise<void> {
    await this.#write({ op: 'addToSet', key, member, ttlSeconds });
  }

  async addToSets(entries: ReadonlyArray<{ key: string; member: string; ttlSeconds: number | undefined }>): Promise<void> {
    await this.commit(entries.map((e) => ({ op: 'addToSet', key: e.key, member: e.member, ttlSeconds: e.ttlSeconds })));
  }

  async members(key: string): Promise<string[]> {
    return this.#client.smembers(key);
  }

  async membersOfEach(keys: readonly string[]): Promise<string[][]> {
    if (this.#client instanceof Cluster) return Promise.all(keys.map((key) => this.members(key)));
    // One script per chunk instead of one SMEMBERS each: a bulk revocation reads thousands of grant indexes.
    return (await Promise.all(chunksOf(keys, READ_CHUNK).map((chunk) => this.#client.storeMembersOfEach(chunk.length, ...chunk)))).flat();
  }

  async addToTimeline(key: string, member: string, at: number, ttlSeconds: number): Promise<void> {
    await this.#write({ op: 'addToTimeline', key, member, at, ttlSeconds });
  }

  async timeline(key: string, range: TimelineRange): Promise<TimelineEntry[]> {
    const flat = await this.#client.zrevrangebyscore(key, range.until, range.since, 'WITHSCORES', 'LIMIT', range.skip, range.limit);
    const entries: TimelineEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) entries.push({ member: flat[i]!, at: Number(flat[i + 1]) });
    return entries;
  }

  async removeFromSet(key: string, members: readonly string[]): Promise<void> {
    if (members.length) await this.#client.srem(key, ...members);
  }

  async appendToLog(key: string, entries: ReadonlyArray<{ value: string; expiresAt: number }>, now: number): Promise<void> {
    if (entries.length === 0) return;
    await this.#client.storeAppendLog(...logKeys(key), String(now), randomUUID(), ...entries.flatMap((e) => [e.value, String(e.expiresAt)]));
  }

  async readLog(key: string, after: number, limit: number, now: number): Promise<LogRead> {
    const [epoch, items, last, scanned, head] = await this.#client.storeReadLog(...logKeys(key), String(now), randomUUID(), String(after), String(limit));
    const entries = [];
    for (let i = 0; i < items.length; i += 2) entries.push({ value: items[i]!, seq: Number(items[i + 1]) });
    return { epoch, entries, next: Number(last), more: scanned === limit, head: Number(head) };
  }

  async ping(): Promise<void> {
    if (this.#client.status !== 'ready') throw new Error('Redis is not connected');
    await this.#client.ping();
  }

  async close(): Promise<void> {
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }
}

/** Waits for `ready`, then turns the offline queue off so calls fail fast during outages. */
async function whenReady(client: Redis | Cluster, address: string): Promise<void> {
  let lastError: string | undefined;
  client.on('error', (error: Error) => {
    lastError = error.message;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.removeListener('ready', onReady);
      client.disconnect();
      reject(new Error(`cannot connect to Redis at ${address} within ${CONNECT_TIMEOUT_MS / 1000} s${lastError ? `: ${lastError}` : ''}`));
    }, CONNECT_TIMEOUT_MS);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
  client.options.enableOfflineQueue = false;
}

/** The URL without credentials, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(unparsable Redis URL)';
  }
}

const REDIS_OPTIONS = {
  enableAutoPipelining: true,
  // Auto-pipelining sends one pipeline at a time and holds every later command until it is answered;
  // the audit log's group commit goes out at once instead, so the next group (and the reads and
  // writes of other requests) need not wait for the last group's script (src/store/audit-redis.ts).
  autoPipeliningIgnoredCommands: ['auditCommit'],
  maxRetriesPerRequest: 1,
} satisfies RedisOptions;

/** Connects to a standalone Redis (`redis://host:port/db`); rejects if not ready within ~5 s. */
export async function connectRedis(url: string): Promise<RedisBackend> {
  const client = new Redis(url, { ...REDIS_OPTIONS, retryStrategy: retry });
  await whenReady(client, redact(url));
  return new RedisBackend(client);
}

/** Connects to a Redis Cluster through its seed nodes (`host:port`); rejects if not ready within ~5 s. */
export async function connectRedisCluster(nodes: readonly string[]): Promise<RedisBackend> {
  const options: ClusterOptions = {
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: REDIS_OPTIONS.autoPipeliningIgnoredCommands,
    clusterRetryStrategy: retry,
    redisOptions: { ...REDIS_OPTIONS },
  };
  const client = new Cluster(
    nodes.map((node) => {
      const at = node.lastIndexOf(':');
      return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
    }),
    options,
  );
  await whenReady(client, `cluster ${nodes.join(', ')}`);
  return new RedisBackend(client);
}
