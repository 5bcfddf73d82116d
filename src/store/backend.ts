/**
 * The storage primitives everything persistent is built on: oidc-provider's adapter, the
 * impersonation index, the global switch. Each call touches one key (one Redis Cluster slot);
 * `consume` is atomic. Two implementations: process memory and Redis (standalone or cluster).
 *
 * Contract, proven by test/store-contract.test.ts for every backend:
 * - `get` answers `undefined` for a key never written, deleted, or past its TTL;
 * - `consume` marks a live entity consumed exactly once: of N concurrent calls one answers `true`;
 *   it answers `false` for a missing or expired entity and never creates one;
 * - `addToSet` keeps the set alive at least as long as the longest-lived member added.
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
  removeFromSet(key: string, members: readonly string[]): Promise<void>;
  /** Answers when the backend is reachable; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** A Redis backend's ioredis client (absent in memory), for libraries that need one. */
  readonly redisClient?: unknown;
}
