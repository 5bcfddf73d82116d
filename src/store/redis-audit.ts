import type { Cluster, Redis } from 'ioredis';
import { chain, GENESIS_HASH, type ChainedAuditRecord } from '../audit/chain.js';
import type { AuditEvent } from '../audit/events.js';
import type { AuditLog, OutboxJob, StoredRecord } from '../audit/log.js';

// Every key of the audit log carries the hash tag {audit}: the stream, the outbox and its jobs sit
// on one Cluster slot, so appending a record and enqueueing its webhooks is one atomic script.
const SCRIPTS = {
  /**
   * Compare-and-set append: if the chain's head (the last entry's hash, or genesis) is ARGV[1],
   * XADD the record and enqueue its jobs; else answer the current head for a retry.
   * KEYS: stream, outbox, jobs. ARGV: expected head, hash, record JSON, now, genesis, (job id, job JSON)…
   */
  auditAppend: {
    keys: 3,
    lua: `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local head = ARGV[5]
if #last > 0 then
  local fields = last[1][2]
  for i = 1, #fields, 2 do if fields[i] == 'h' then head = fields[i + 1] end end
end
if head ~= ARGV[1] then return {0, head} end
local id = redis.call('XADD', KEYS[1], '*', 'h', ARGV[2], 'r', ARGV[3])
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[i])
end
return {1, id}`,
  },
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
  auditAppend(stream: string, outbox: string, jobs: string, ...args: string[]): Promise<[number, string]>;
  auditClaim(outbox: string, jobs: string, now: string, leaseEnd: string, max: string): Promise<string[]>;
}

type Client = (Redis | Cluster) & Scripts;

const MAX_APPEND_ATTEMPTS = 100;

/** The audit log as a Redis Stream (append-only), with its webhook outbox beside it. */
export class RedisAuditLog implements AuditLog {
  readonly #client: Client;
  readonly #stream: string;
  readonly #outbox: string;
  readonly #jobs: string;
  readonly #dead: string;
  #head: string | undefined;

  constructor(client: Redis | Cluster, prefix: string) {
    for (const [name, { keys, lua }] of Object.entries(SCRIPTS)) client.defineCommand(name, { numberOfKeys: keys, lua });
    this.#client = client as Client;
    this.#stream = `${prefix}{audit}:stream`;
    this.#outbox = `${prefix}{audit}:outbox`;
    this.#jobs = `${prefix}{audit}:jobs`;
    this.#dead = `${prefix}{audit}:dead`;
  }

  async append(event: AuditEvent, jobs: readonly OutboxJob[]): Promise<ChainedAuditRecord> {
    const jobArgs = jobs.flatMap((job) => [job.id, JSON.stringify(job)]);
    let head = this.#head ?? GENESIS_HASH;
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt += 1) {
      const record = chain(event, head);
      const [appended, value] = await this.#client.auditAppend(
        this.#stream, this.#outbox, this.#jobs,
        head, record.hash, JSON.stringify(record), String(Date.now()), GENESIS_HASH, ...jobArgs,
      );
      if (appended === 1) {
        this.#head = record.hash;
        return record;
      }
      head = value;
    }
    throw new Error('audit append kept losing the race for the chain head');
  }

  #parse(entries: Array<[string, string[]]>): StoredRecord[] {
    return entries.map(([cursor, fields]) => {
      const json = fields[fields.indexOf('r') + 1]!;
      return { cursor, record: JSON.parse(json) as ChainedAuditRecord };
    });
  }

  async read(after: string | undefined, count: number): Promise<StoredRecord[]> {
    return this.#parse(await this.#client.xrange(this.#stream, after === undefined ? '-' : `(${after}`, '+', 'COUNT', count));
  }

  async readBackwards(before: string | undefined, count: number): Promise<StoredRecord[]> {
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
