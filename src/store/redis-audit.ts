import type { Cluster, Redis } from 'ioredis';
import { canonicalJson, GENESIS_HASH, hashCanonical, type ChainedAuditRecord } from '../audit/chain.js';
import type { AuditEvent } from '../audit/events.js';
import { InvalidCursorError, type AuditLog, type OutboxJob, type StoredRecord } from '../audit/log.js';
import { SHA256_LUA } from './sha256.lua.js';

// Every key of the audit log carries the hash tag {audit}: the stream, the outbox and its jobs sit
// on one Cluster slot, so extending the chain and enqueueing its webhooks is one atomic script.
const SCRIPTS = {
  /**
   * Extends the chain atomically: reads the head (the last entry's hash, or genesis); when the
   * caller chained to an expected head (ARGV[4]) that is no longer the head, answers {0}; else
   * appends with the caller's hash (ARGV[5]) or one computed here — SHA-256 of head + "\n" + the
   * canonical event — and enqueues the record's webhook jobs.
   * KEYS: stream, outbox, jobs. ARGV: canonical event JSON, now, genesis, expected head or '',
   * hash or '', (job id, job JSON)… Answers {1, stream id, prev_hash, hash}.
   */
  auditAppend: {
    keys: 3,
    lua: `${SHA256_LUA}
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local head = ARGV[3]
if #last > 0 then
  local fields = last[1][2]
  for i = 1, #fields, 2 do if fields[i] == 'h' then head = fields[i + 1] end end
end
if ARGV[4] ~= '' and head ~= ARGV[4] then return {0} end
local hash = ARGV[5]
if hash == '' then hash = sha256(head .. '\\n' .. ARGV[1]) end
local id = redis.call('XADD', KEYS[1], '*', 'p', head, 'h', hash, 'r', ARGV[1])
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[i])
end
return {1, id, head, hash}`,
  },
  /** SHA-256 of ARGV[1], for checking the Lua implementation against Node's. */
  auditSha256: { keys: 0, lua: `${SHA256_LUA}\nreturn sha256(ARGV[1])` },
  /** Claims due jobs by pushing their due time to the lease's end. KEYS: outbox, jobs. ARGV: now, lease end, max. */
  auditClaim: {
    keys: 2,
    lua: `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local out = {}
for _, id in ipairs(ids) do
  local job = redis.call('HGET', KEYS[2], id)
  if job then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    table.insert(out, job)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out`,
  },
} as const;

interface Scripts {
  auditAppend(stream: string, outbox: string, jobs: string, ...args: string[]): Promise<[0] | [1, string, string, string]>;
  auditSha256(input: string): Promise<string>;
  auditClaim(outbox: string, jobs: string, now: string, leaseEnd: string, max: string): Promise<string[]>;
}

type Client = (Redis | Cluster) & Scripts;

/** A stream entry id (`<ms>-<seq>`), each part well inside Redis' 64-bit range. */
const STREAM_ID = /^(\d{1,19})-(\d{1,19})$/;

/** Whether a cursor is a stream id; rejects anything else (Redis would answer with an error). */
function streamId(cursor: string): { id: string; first: boolean } {
  const match = STREAM_ID.exec(cursor);
  if (!match) throw new InvalidCursorError();
  return { id: cursor, first: BigInt(match[1]!) === 0n && BigInt(match[2]!) === 0n };
}

/** The audit log as a Redis Stream (append-only), with its webhook outbox beside it. */
export class RedisAuditLog implements AuditLog {
  readonly #client: Client;
  readonly #stream: string;
  readonly #outbox: string;
  readonly #jobs: string;
  readonly #dead: string;
  /** The head as this instance last wrote it (a guess: another writer may have moved it). */
  #head: string | undefined;

  constructor(client: Redis | Cluster, prefix: string) {
    for (const [name, { keys, lua }] of Object.entries(SCRIPTS)) client.defineCommand(name, { numberOfKeys: keys, lua });
    this.#client = client as Client;
    this.#stream = `${prefix}{audit}:stream`;
    this.#outbox = `${prefix}{audit}:outbox`;
    this.#jobs = `${prefix}{audit}:jobs`;
    this.#dead = `${prefix}{audit}:dead`;
  }

  /**
   * Appends with the hash computed here when this instance's last known head is still the head
   * (the common case: one writer at a time); otherwise lets the server-side script chain it, which
   * cannot lose a race. Either way the record is linked exactly once, atomically with its jobs.
   */
  async append(event: AuditEvent, jobs: readonly OutboxJob[]): Promise<ChainedAuditRecord> {
    const jobArgs = jobs.flatMap((job) => [job.id, JSON.stringify(job)]);
    const canonical = canonicalJson(event);
    const append = (expectedHead: string, hash: string) =>
      this.#client.auditAppend(this.#stream, this.#outbox, this.#jobs, canonical, String(Date.now()), GENESIS_HASH, expectedHead, hash, ...jobArgs);
    let result = this.#head === undefined ? undefined : await append(this.#head, hashCanonical(canonical, this.#head));
    if (result?.[0] !== 1) result = await append('', '');
    const [, , prevHash, hash] = result as [1, string, string, string];
    this.#head = hash;
    return { ...event, prev_hash: prevHash, hash };
  }

  /** SHA-256 computed by the server-side script (to check it against Node's). */
  sha256(input: string): Promise<string> {
    return this.#client.auditSha256(input);
  }

  #parse(entries: Array<[string, string[]]>): StoredRecord[] {
    return entries.map(([cursor, fields]) => {
      const field = (name: string) => fields[fields.indexOf(name) + 1]!;
      const event = JSON.parse(field('r')) as AuditEvent;
      return { cursor, record: { ...event, prev_hash: field('p'), hash: field('h') } };
    });
  }

  async read(after: string | undefined, count: number): Promise<StoredRecord[]> {
    return this.#parse(await this.#client.xrange(this.#stream, after === undefined ? '-' : `(${streamId(after).id}`, '+', 'COUNT', count));
  }

  async readBackwards(before: string | undefined, count: number): Promise<StoredRecord[]> {
    if (before !== undefined && streamId(before).first) return []; // nothing precedes 0-0
    return this.#parse(await this.#client.xrevrange(this.#stream, before === undefined ? '+' : `(${before}`, '-', 'COUNT', count));
  }

  async claimDue(now: number, leaseMs: number, max: number): Promise<OutboxJob[]> {
    const jobs = await this.#client.auditClaim(this.#outbox, this.#jobs, String(now), String(now + leaseMs), String(max));
    return jobs.map((json) => JSON.parse(json) as OutboxJob);
  }

  async settle(jobId: string): Promise<void> {
    await Promise.all([this.#client.zrem(this.#outbox, jobId), this.#client.hdel(this.#jobs, jobId)]);
  }

  async reschedule(job: OutboxJob, at: number): Promise<void> {
    await this.#client.hset(this.#jobs, job.id, JSON.stringify(job));
    await this.#client.zadd(this.#outbox, at, job.id);
  }

  async bury(job: OutboxJob, reason: string): Promise<void> {
    await this.#client.rpush(this.#dead, JSON.stringify({ ...job, reason }));
    await Promise.all([this.#client.zrem(this.#outbox, job.id), this.#client.hdel(this.#jobs, job.id)]);
  }

  async deadLetters(): Promise<Array<OutboxJob & { reason: string }>> {
    return (await this.#client.lrange(this.#dead, 0, -1)).map((json) => JSON.parse(json) as OutboxJob & { reason: string });
  }
}
