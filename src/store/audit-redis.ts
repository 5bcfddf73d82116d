import { Cluster, type Redis } from 'ioredis';
import { canonicalJson, GENESIS_HASH, hashCanonical, type ChainedAuditRecord } from '../audit/chain.js';
import type { AuditEvent, RecordWrites } from '../audit/events.js';
import { InvalidCursorError, type AuditLog, type OutboxJob, type StoredRecord } from '../audit/log.js';
import type { Backend, StoreWrite } from './backend.js';
import { APPLY_WRITES_LUA, encodeWrites } from './redis-writes.js';
import { SHA256_LUA } from './sha256.lua.js';
import { WriteBatch } from './write-batch.js';

/** A record waiting for the next group commit. */
interface Pending {
  readonly event: AuditEvent;
  readonly canonical: string;
  readonly jobArgs: readonly string[];
  readonly writes: readonly StoreWrite[];
  /** Called with the record's link in the chain once it is durable. */
  resolve(prevHash: string, hash: string): void;
  reject(err: unknown): void;
}

/** Records per group commit at most (a script's arguments stay small). */
const MAX_GROUP = 64;
/**
 * Group commits sent before the first is answered: Node chains the next group while Redis runs the
 * last one's script. Redis runs them in the order sent (one connection, one slot), and each script
 * checks the head it was chained to, so a guess made wrong by a failed commit is corrected there.
 */
const MAX_IN_FLIGHT = 2;

// Every key of the audit log carries the hash tag {audit}: the stream, the outbox and its jobs sit
// on one Cluster slot, so extending the chain and enqueueing its webhooks is one atomic script.
const SCRIPTS = {
  /**
   * Group commit: appends the records of several requests to the chain, in order, with their webhook
   * jobs and — on standalone Redis — every store write those records authorize, in one atomic
   * script. Reads the head (the last entry's hash, or genesis); when the caller chained the records
   * to an expected head that is still the head, keeps the caller's hashes, else computes each here —
   * SHA-256 of head + "\n" + the canonical event — so racing writers still form one chain.
   * KEYS: stream, outbox, jobs, then one key per write. ARGV: genesis, now, expected head or '',
   * record count, write count, then per record (canonical event JSON, hash or '', job count,
   * (job id, job JSON)…), then per write (op, TTL ms, value). Answers {prev head, hash…}.
   */
  auditCommit: {
    keys: undefined,
    lua: `${SHA256_LUA}
${APPLY_WRITES_LUA}
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local head = ARGV[1]
if #last > 0 then
  local fields = last[1][2]
  for i = 1, #fields, 2 do if fields[i] == 'h' then head = fields[i + 1] end end
end
local compute = ARGV[3] == '' or head ~= ARGV[3]
local out = {head}
local a = 6
for r = 1, tonumber(ARGV[4]) do
  local canonical, hash, jobs = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  if compute or hash == '' then hash = sha256(head .. '\\n' .. canonical) end
  redis.call('XADD', KEYS[1], '*', 'p', head, 'h', hash, 'r', canonical)
  for j = 1, jobs do
    redis.call('HSET', KEYS[3], ARGV[a + 1 + 2 * j], ARGV[a + 2 + 2 * j])
    redis.call('ZADD', KEYS[2], ARGV[2], ARGV[a + 1 + 2 * j])
  end
  table.insert(out, hash)
  head = hash
  a = a + 3 + 2 * jobs
end
applyWrites(3, a - 1, tonumber(ARGV[5]))
return out`,
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
  auditCommit(keyCount: number, ...keysThenArgs: string[]): Promise<string[]>;
  auditSha256(input: string): Promise<string>;
  auditClaim(outbox: string, jobs: string, now: string, leaseEnd: string, max: string): Promise<string[]>;
}

type Client = (Redis | Cluster) & Scripts;

/** A record waiting for its group commit: its canonical JSON and its jobs as the script takes them. */
function pendingOf(event: AuditEvent, jobs: readonly OutboxJob[], writes: readonly StoreWrite[], resolve: Pending['resolve'], reject: Pending['reject']): Pending {
  const jobArgs: string[] = [];
  for (const job of jobs) jobArgs.push(job.id, JSON.stringify(job));
  return { event, canonical: canonicalJson(event), jobArgs, writes, resolve, reject };
}

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
  /**
   * The head after the last group this instance sent, as it chained it (a guess: another writer may
   * have moved it, or a commit before it failed); undefined when unknown, and the script then chains.
   */
  #head: string | undefined;

  /** Records waiting for the next group commit, the commits under way, and groups sent so far. */
  readonly #queue: Pending[] = [];
  #inFlight = 0;
  #sent = 0;
  #scheduled = false;

  /** `owner`: the store backend on the same connection, whose write batches may join a commit. */
  constructor(
    client: Redis | Cluster,
    prefix: string,
    private readonly owner?: Backend,
  ) {
    for (const [name, { keys, lua }] of Object.entries(SCRIPTS)) client.defineCommand(name, keys === undefined ? { lua } : { numberOfKeys: keys, lua });
    this.#client = client as Client;
    this.#stream = `${prefix}{audit}:stream`;
    this.#outbox = `${prefix}{audit}:outbox`;
    this.#jobs = `${prefix}{audit}:jobs`;
    this.#dead = `${prefix}{audit}:dead`;
  }

  /**
   * Appends a record, with its webhook jobs, by group commit: records of concurrent requests are
   * chained and stored by one script call (the chain order is the queue order), and each request
   * waits for its own record to be durable. A batch of store writes on this connection (standalone
   * Redis) joins the same script, so the record and what it authorizes are stored together or not
   * at all; otherwise the batch is committed once the record is durable. A failed commit fails
   * every request in it.
   */
  append(event: AuditEvent, jobs: readonly OutboxJob[], batch?: RecordWrites): Promise<ChainedAuditRecord> {
    const joins = batch instanceof WriteBatch && batch.backend === this.owner && !(this.#client instanceof Cluster);
    const record = new Promise<ChainedAuditRecord>((resolve, reject) => {
      const stored: Pending['resolve'] = (prevHash, hash) => resolve(Object.assign({}, event, { prev_hash: prevHash, hash }));
      this.#queue.push(pendingOf(event, jobs, joins ? batch.writes : [], stored, reject));
    });
    this.#schedule();
    if (!batch) return record;
    if (joins) return batch.commit(() => record.then(() => undefined)).then(() => record);
    return record.then(async (stored) => {
      await batch.commit();
      return stored;
    });
  }

  /** Queues every event for the group commits, in order, and answers once all are durable. */
  appendAll(entries: ReadonlyArray<{ readonly event: AuditEvent; readonly jobs: readonly OutboxJob[] }>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let left = entries.length;
      if (left === 0) return resolve();
      const stored = () => {
        left -= 1;
        if (left === 0) resolve();
      };
      for (const { event, jobs } of entries) this.#queue.push(pendingOf(event, jobs, [], stored, reject));
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#inFlight >= MAX_IN_FLIGHT || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => void this.#flush());
  }

  /** At most {@link MAX_IN_FLIGHT} commits under way: what queues meanwhile goes in the next one. */
  async #flush(): Promise<void> {
    this.#scheduled = false;
    const group = this.#queue.splice(0, MAX_GROUP);
    if (group.length === 0) return;
    this.#inFlight += 1;
    if (this.#queue.length) this.#schedule();
    try {
      await this.#commit(group);
    } finally {
      this.#inFlight -= 1;
      if (this.#queue.length) this.#schedule();
    }
  }

  async #commit(group: readonly Pending[]): Promise<void> {
    const expected = this.#head;
    let head = expected;
    const hashes = group.map((entry) => (head === undefined ? '' : (head = hashCanonical(entry.canonical, head))));
    // The next group is chained to this one's last hash before Redis has answered.
    this.#head = head;
    const sequence = (this.#sent += 1);
    const writes = group.flatMap((entry) => entry.writes);
    const { keys, args } = encodeWrites(writes);
    try {
      const [prevHead, ...chained] = await this.#client.auditCommit(
        3 + keys.length,
        this.#stream,
        this.#outbox,
        this.#jobs,
        ...keys,
        GENESIS_HASH,
        String(Date.now()),
        expected ?? '',
        String(group.length),
        String(writes.length),
        ...group.flatMap((entry, i) => [entry.canonical, hashes[i]!, String(entry.jobArgs.length / 2), ...entry.jobArgs]),
        ...args,
      );
      // The chain as Redis holds it, unless a later group was sent meanwhile (its answer will say).
      if (sequence === this.#sent) this.#head = chained.at(-1);
      group.forEach((entry, i) => entry.resolve(i === 0 ? prevHead! : chained[i - 1]!, chained[i]!));
    } catch (err) {
      if (sequence === this.#sent) this.#head = undefined;
      for (const entry of group) entry.reject(err);
    }
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
