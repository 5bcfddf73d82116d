/** One write of a batch ({@link Backend.commit}, the store's WriteBatch); each touches one key (one Redis Cluster slot). TTLs in seconds. */
export type StoreWrite =
  | { readonly op: 'putEntity'; readonly key: string; readonly json: string; readonly ttlSeconds: number | undefined }
  | { readonly op: 'set'; readonly key: string; readonly value: string; readonly ttlSeconds: number | undefined }
  | { readonly op: 'addToSet'; readonly key: string; readonly member: string; readonly ttlSeconds: number | undefined }
  | { readonly op: 'addToTimeline'; readonly key: string; readonly member: string; readonly at: number; readonly ttlSeconds: number };

/** What {@link Backend.readLinked} reads. */
export interface LinkedRead {
  readonly key: string;
  readonly also: readonly string[];
  readonly link: { readonly field: string; readonly before: string; readonly after: string };
}

/** What {@link Backend.readLinked} answers: `linked[i]` for the i-th id of the value's link array. */
export interface LinkedValues {
  readonly value: string | undefined;
  readonly also: Array<string | undefined>;
  readonly linked: boolean[];
}

/** A member of a timeline and the epoch millisecond it was added at. */
export interface TimelineEntry {
  readonly member: string;
  readonly at: number;
}

/** Which part of a timeline {@link Backend.timeline} reads: `since <= at <= until`, newest first. */
export interface TimelineRange {
  readonly since: number;
  readonly until: number;
  /** Entries of the range to pass over first (a page's cursor among entries added in the same millisecond). */
  readonly skip: number;
  readonly limit: number;
}

/** The ids a value's link field names (none when the value is missing, not JSON, or holds no array of strings). */
export function linkIds(value: string | undefined, field: string): string[] {
  if (value === undefined) return [];
  try {
    const ids = (JSON.parse(value) as Record<string, unknown>)[field];
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

/** One value of an ordered log ({@link Backend.appendToLog}), with the sequence number it was given. */
export interface LogEntry {
  readonly seq: number;
  readonly value: string;
}

/** What {@link Backend.readLog} answers. */
export interface LogRead {
  /** A random id the log took when it was created: another one means the log was lost and begun again. */
  readonly epoch: string;
  /** The live entries after the cursor, oldest first. */
  readonly entries: readonly LogEntry[];
  /** Where the next read goes on from: the last sequence number this read looked at (or the cursor). */
  readonly next: number;
  /** Whether this read stopped at its limit: more may follow `next`. */
  readonly more: boolean;
  /** The highest sequence number the log has given out (0 when none). */
  readonly head: number;
}

/**
 * The storage primitives everything persistent is built on: oidc-provider's adapter, the
 * impersonation index, the global switch. Each call touches one key (one Redis Cluster slot);
 * `consume` is atomic. Two implementations: process memory and Redis (standalone or cluster).
 *
 * Contract, proven by test/store-contract.test.ts for every backend:
 * - `get` answers `undefined` for a key never written, deleted, or past its TTL;
 * - `consume` marks a live entity consumed exactly once: of N concurrent calls one answers `true`;
 *   it answers `false` for a missing or expired entity and never creates one;
 * - `addToSet` keeps the set alive at least as long as the longest-lived member added;
 * - `commit` leaves the same state as the writes applied one by one, in order;
 * - `readLinked` answers what `get`, `getMany` and one existence check per linked key would;
 * - `timeline` answers a timeline's members newest first (same millisecond: by member, descending,
 *   bytewise), never one older than `ttlSeconds` before the newest `at` written with it, and the
 *   timeline lives at least `ttlSeconds` after its last write.
 * - `appendToLog` numbers values strictly increasingly in the order they are appended, and a value
 *   becomes readable only with every value numbered before it; `readLog` never answers a value past
 *   its `expiresAt`.
 */
export interface Backend {
  /** Stores a JSON entity, replacing any previous value and its consumed mark. */
  putEntity(key: string, json: string, ttlSeconds: number | undefined): Promise<void>;
  /** The entity and, when consumed, the epoch second it was. */
  getEntity(key: string): Promise<{ json: string; consumed: number | undefined } | undefined>;
  /** Atomically marks a live entity consumed at `at`; false when missing or already consumed. */
  consumeEntity(key: string, at: number): Promise<boolean>;
  /** A plain string value (index pointers, records, settings). */
  get(key: string): Promise<string | undefined>;
  /** Several plain values: one round trip on standalone Redis; on Cluster one GET per key (pipelined per node). */
  getMany(keys: readonly string[]): Promise<Array<string | undefined>>;
  /**
   * Reads a JSON value, plain values beside it, and whether each key its `link.field` array names
   * exists (`link.before + id + link.after`) — one round trip on standalone Redis. On Cluster the
   * reads go out per key (pipelined per node); the keys may live anywhere.
   */
  readLinked(read: LinkedRead): Promise<LinkedValues>;
  set(key: string, value: string, ttlSeconds: number | undefined): Promise<void>;
  /** Sets `value` unless the key exists; answers the value stored afterwards. */
  setIfAbsent(key: string, value: string): Promise<string>;
  /** Removes keys; each key is its own operation, so keys may live on different slots. */
  delete(keys: readonly string[]): Promise<void>;
  /** Adds a member, extending the set's TTL to at least `ttlSeconds` (never shortening it). */
  addToSet(key: string, member: string, ttlSeconds: number | undefined): Promise<void>;
  /** `addToSet` for several sets; one round trip where the backend can (not across Cluster slots). */
  addToSets(entries: ReadonlyArray<{ key: string; member: string; ttlSeconds: number | undefined }>): Promise<void>;
  members(key: string): Promise<string[]>;
  /** The members of each set, in the order of `keys`; one round trip per chunk on standalone Redis. */
  membersOfEach(keys: readonly string[]): Promise<string[][]>;
  /**
   * Adds a member to a time-ordered index at `at` (epoch ms); members added more than `ttlSeconds`
   * before `at` are dropped, and the index's TTL is extended to at least `ttlSeconds`.
   */
  addToTimeline(key: string, member: string, at: number, ttlSeconds: number): Promise<void>;
  /** A page of a timeline: members within the range, newest first. */
  timeline(key: string, range: TimelineRange): Promise<TimelineEntry[]>;
  removeFromSet(key: string, members: readonly string[]): Promise<void>;
  /**
   * Applies a batch of writes in order: in one script on standalone Redis (all or nothing), one
   * command per key on Cluster (sets before entities, so no entity is stored unreachable).
   */
  commit(writes: readonly StoreWrite[]): Promise<void>;
  /**
   * Appends values to the ordered log `key` (one slot: its keys share `key`'s hash tag), each kept
   * until its `expiresAt` (epoch ms) and no longer; values already past it are dropped. A value
   * appended again moves to the end.
   */
  appendToLog(key: string, entries: ReadonlyArray<{ value: string; expiresAt: number }>, now: number): Promise<void>;
  /** The live values among the next `limit` numbered after `after`, oldest first. */
  readLog(key: string, after: number, limit: number, now: number): Promise<LogRead>;
  /** Answers when the backend is reachable; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** A Redis backend's ioredis client (absent in memory), for libraries that need one. */
  readonly redisClient?: unknown;
}
