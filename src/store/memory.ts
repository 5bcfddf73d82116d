import { randomUUID } from 'node:crypto';
import { linkIds, type Backend, type LinkedRead, type LinkedValues, type LogRead, type StoreWrite, type TimelineEntry, type TimelineRange } from './backend.js';

/**
 * A timeline: each member and the epoch millisecond it was added at, in the order of their adds.
 * While the adds come in time order (they are `Date.now()` at the write), the entries to prune are
 * a prefix, so pruning stops at the first one kept instead of walking the whole timeline per add.
 */
class Timeline extends Map<string, number> {
  #ordered = true;
  #last = -Infinity;

  add(member: string, at: number): void {
    this.delete(member);
    this.set(member, at);
    if (at < this.#last) this.#ordered = false;
    else this.#last = at;
  }

  /** Deletes every entry added before `cutoff`. */
  prune(cutoff: number): void {
    if (this.#ordered) {
      for (const [member, at] of this) {
        if (at >= cutoff) return;
        this.delete(member);
      }
      return;
    }
    for (const [member, at] of this) if (at < cutoff) this.delete(member);
    this.#ordered = true;
    this.#last = -Infinity;
    for (const at of this.values()) {
      if (at < this.#last) this.#ordered = false;
      else this.#last = at;
    }
  }
}

interface Entry {
  value: string | Set<string> | Timeline | { json: string; consumed: number | undefined };
  expiresAt: number | undefined;
}

const now = () => Date.now();
const expiry = (ttlSeconds: number | undefined) => (ttlSeconds === undefined ? undefined : now() + ttlSeconds * 1000);

/**
 * The backend in process memory: the reference server's default and the tests' baseline. Nothing
 * is evicted before its TTL (unlike oidc-provider's development LRU adapter); expired keys are
 * dropped when read and by a periodic sweep.
 */
export class MemoryBackend implements Backend {
  readonly #data = new Map<string, Entry>();
  /** Ordered logs: value → { seq, expiresAt }, in order of sequence (a Map keeps insertion order). */
  readonly #logs = new Map<string, { epoch: string; head: number; values: Map<string, { seq: number; expiresAt: number }> }>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(sweepIntervalMs = 60_000) {
    this.#sweeper = setInterval(() => this.#sweep(), sweepIntervalMs);
    this.#sweeper.unref();
  }

  #live(key: string): Entry | undefined {
    const entry = this.#data.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= now()) {
      this.#data.delete(key);
      return undefined;
    }
    return entry;
  }

  #sweep(): void {
    for (const key of this.#data.keys()) this.#live(key);
  }

  async putEntity(key: string, json: string, ttlSeconds: number | undefined): Promise<void> {
    this.#data.set(key, { value: { json, consumed: undefined }, expiresAt: expiry(ttlSeconds) });
  }

  async getEntity(key: string) {
    const value = this.#live(key)?.value;
    return value && typeof value === 'object' && !(value instanceof Set) && !(value instanceof Timeline) ? { ...value } : undefined;
  }

  async consumeEntity(key: string, at: number): Promise<boolean> {
    const value = this.#live(key)?.value;
    if (!value || typeof value !== 'object' || value instanceof Set || value instanceof Timeline || value.consumed !== undefined) return false;
    value.consumed = at;
    return true;
  }

  async get(key: string): Promise<string | undefined> {
    const value = this.#live(key)?.value;
    return typeof value === 'string' ? value : undefined;
  }

  async getMany(keys: readonly string[]): Promise<Array<string | undefined>> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  async readLinked(read: LinkedRead): Promise<LinkedValues> {
    const value = await this.get(read.key);
    const { before, after } = read.link;
    return { value, also: await this.getMany(read.also), linked: linkIds(value, read.link.field).map((id) => this.#live(before + id + after) !== undefined) };
  }

  async commit(writes: readonly StoreWrite[]): Promise<void> {
    for (const write of writes) {
      if (write.op === 'putEntity') await this.putEntity(write.key, write.json, write.ttlSeconds);
      else if (write.op === 'set') await this.set(write.key, write.value, write.ttlSeconds);
      else if (write.op === 'addToTimeline') await this.addToTimeline(write.key, write.member, write.at, write.ttlSeconds);
      else await this.addToSet(write.key, write.member, write.ttlSeconds);
    }
  }

  async set(key: string, value: string, ttlSeconds: number | undefined): Promise<void> {
    this.#data.set(key, { value, expiresAt: expiry(ttlSeconds) });
  }

  async setIfAbsent(key: string, value: string): Promise<string> {
    const existing = await this.get(key);
    if (existing !== undefined) return existing;
    await this.set(key, value, undefined);
    return value;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#data.delete(key);
  }

  async addToSet(key: string, member: string, ttlSeconds: number | undefined): Promise<void> {
    const entry = this.#live(key);
    const wanted = expiry(ttlSeconds);
    if (entry && entry.value instanceof Set) {
      entry.value.add(member);
      if (entry.expiresAt !== undefined) entry.expiresAt = wanted === undefined ? undefined : Math.max(entry.expiresAt, wanted);
      return;
    }
    this.#data.set(key, { value: new Set([member]), expiresAt: wanted });
  }

  async addToSets(entries: ReadonlyArray<{ key: string; member: string; ttlSeconds: number | undefined }>): Promise<void> {
    for (const e of entries) await this.addToSet(e.key, e.member, e.ttlSeconds);
  }

  async members(key: string): Promise<string[]> {
    const value = this.#live(key)?.value;
    return value instanceof Set ? [...value] : [];
  }

  async membersOfEach(keys: readonly string[]): Promise<string[][]> {
    return Promise.all(keys.map((key) => this.members(key)));
  }

  async addToTimeline(key: string, member: string, at: number, ttlSeconds: number): Promise<void> {
    const entry = this.#live(key);
    const wanted = expiry(ttlSeconds)!;
    const timeline = entry?.value instanceof Timeline ? entry.value : new Timeline();
    timeline.add(member, at);
    timeline.prune(at - ttlSeconds * 1000);
    this.#data.set(key, { value: timeline, expiresAt: entry?.value instanceof Timeline && entry.expiresAt !== undefined ? Math.max(entry.expiresAt, wanted) : wanted });
  }

  async timeline(key: string, range: TimelineRange): Promise<TimelineEntry[]> {
    const value = this.#live(key)?.value;
    if (!(value instanceof Timeline)) return [];
    return [...value]
      .filter(([, at]) => at >= range.since && at <= range.until)
      .sort(([a, atA], [b, atB]) => atB - atA || Buffer.compare(Buffer.from(b), Buffer.from(a)))
      .slice(range.skip, range.skip + range.limit)
      .map(([member, at]) => ({ member, at }));
  }

  async removeFromSet(key: string, members: readonly string[]): Promise<void> {
    const value = this.#live(key)?.value;
    if (!(value instanceof Set)) return;
    for (const member of members) value.delete(member);
    if (value.size === 0) this.#data.delete(key);
  }

  #log(key: string, now: number) {
    let log = this.#logs.get(key);
    if (!log) this.#logs.set(key, (log = { epoch: randomUUID(), head: 0, values: new Map() }));
    for (const [value, { expiresAt }] of log.values) if (expiresAt <= now) log.values.delete(value);
    return log;
  }

  async appendToLog(key: string, entries: ReadonlyArray<{ value: string; expiresAt: number }>, now: number): Promise<void> {
    const log = this.#log(key, now);
    for (const { value, expiresAt } of entries) {
      if (expiresAt <= now) continue;
      log.values.delete(value);
      log.head += 1;
      log.values.set(value, { seq: log.head, expiresAt });
    }
  }

  async readLog(key: string, after: number, limit: number, now: number): Promise<LogRead> {
    const log = this.#log(key, now);
    const entries: Array<{ seq: number; value: string }> = [];
    let next = after;
    let scanned = 0;
    for (const [value, { seq }] of log.values) {
      if (seq <= after) continue;
      if (scanned === limit) break;
      scanned += 1;
      next = seq;
      entries.push({ seq, value });
    }
    return { epoch: log.epoch, entries, next, more: scanned === limit, head: log.head };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#data.clear();
    this.#logs.clear();
  }
}
