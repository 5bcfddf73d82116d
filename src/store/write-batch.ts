import { AsyncLocalStorage } from 'node:async_hooks';
import type { Backend, StoreWrite } from './backend.js';

const scope = new AsyncLocalStorage<WriteBatch>();

/**
 * The writes of one request, committed together: everything an exchange stores — the grant, the
 * token, the JWT record, the index entries — and, through the audit log, its audit record (one
 * script on standalone Redis). Inside {@link withWriteBatch}, the store's writes are collected
 * instead of sent: the extension's own writes are taken at once, oidc-provider's model writes
 * (through the adapter) resolve only once the batch is committed, so a model's `save()` and its
 * `saved` event follow durability.
 */
export class WriteBatch {
  readonly #writes: StoreWrite[] = [];
  readonly #deferred: Array<{ resolve(): void; reject(err: unknown): void }> = [];
  readonly #waiters: Array<{ count: number; resolve(): void }> = [];
  #commit: Promise<void> | undefined;

  constructor(readonly backend: Backend) {}

  get writes(): readonly StoreWrite[] {
    return this.#writes;
  }

  /** The extension's own writes: collected now, durable when the batch commits. */
  add(...writes: StoreWrite[]): void {
    if (this.#commit) throw new Error('write batch already committed');
    this.#writes.push(...writes);
  }

  /** A model's writes (the adapter's `upsert`): the promise settles when the batch commits. */
  defer(...writes: StoreWrite[]): Promise<void> {
    this.add(...writes);
    const settled = new Promise<void>((resolve, reject) => this.#deferred.push({ resolve, reject }));
    for (const waiter of this.#waiters.filter((w) => this.#deferred.length >= w.count)) waiter.resolve();
    return settled;
  }

  /**
   * Resolves once `count` model writes were deferred (the models reached the adapter); rejects as
   * soon as one of `saves` does (a model failed before writing).
   */
  untilDeferred(count: number, saves: ReadonlyArray<Promise<unknown>>): Promise<void> {
    const reached = this.#deferred.length >= count ? Promise.resolve() : new Promise<void>((resolve) => this.#waiters.push({ count, resolve }));
    return Promise.race([reached, ...saves.map((save) => save.then(() => new Promise<void>(() => undefined)))]);
  }

  /**
   * Commits the writes, once: `through` lets the audit log write them atomically with its record;
   * without it they go to the backend (`Backend.commit`). Later calls answer the same promise.
   */
  commit(through?: (writes: readonly StoreWrite[]) => Promise<void>): Promise<void> {
    this.#commit ??= (through ?? ((writes) => this.backend.commit(writes)))(this.#writes).then(
      () => this.#settle(undefined),
      (err: unknown) => {
        this.#settle(err);
        throw err;
      },
    );
    return this.#commit;
  }

  /** Ends a batch that will never commit (the request failed first): its model writes reject. */
  abandon(err: unknown): void {
    if (this.#commit) return;
    this.#commit = Promise.reject(err);
    this.#commit.catch(() => undefined);
    this.#settle(err);
  }

  #settle(err: unknown): void {
    for (const { resolve, reject } of this.#deferred.splice(0)) {
      if (err === undefined) resolve();
      else reject(err);
    }
  }
}

/** Runs `fn` with `batch` current: the store's writes made inside it are collected by the batch. */
export function withWriteBatch<T>(batch: WriteBatch, fn: () => Promise<T>): Promise<T> {
  return scope.run(batch, fn);
}

/** The batch collecting writes for `backend` in this async context, if any. */
export function currentBatch(backend: Backend): WriteBatch | undefined {
  const batch = scope.getStore();
  return batch?.backend === backend ? batch : undefined;
}

/**
 * The backend as the extension's stores see it: inside a write batch for this backend, its writes
 * are collected by the batch; everywhere else they go straight through.
 */
export function batching(backend: Backend): Backend {
  const collect = (write: StoreWrite): boolean => {
    const batch = currentBatch(backend);
    batch?.add(write);
    return batch !== undefined;
  };
  return {
    putEntity: async (key, json, ttlSeconds) => {
      if (!collect({ op: 'putEntity', key, json, ttlSeconds })) await backend.putEntity(key, json, ttlSeconds);
    },
    set: async (key, value, ttlSeconds) => {
      if (!collect({ op: 'set', key, value, ttlSeconds })) await backend.set(key, value, ttlSeconds);
    },
    addToSet: async (key, member, ttlSeconds) => {
      if (!collect({ op: 'addToSet', key, member, ttlSeconds })) await backend.addToSet(key, member, ttlSeconds);
    },
    addToTimeline: async (key, member, at, ttlSeconds) => {
      if (!collect({ op: 'addToTimeline', key, member, at, ttlSeconds })) await backend.addToTimeline(key, member, at, ttlSeconds);
    },
    addToSets: async (entries) => {
      const batch = currentBatch(backend);
      if (batch) batch.add(...entries.map((e) => ({ op: 'addToSet' as const, key: e.key, member: e.member, ttlSeconds: e.ttlSeconds })));
      else await backend.addToSets(entries);
    },
    getEntity: (key) => backend.getEntity(key),
    consumeEntity: (key, at) => backend.consumeEntity(key, at),
    get: (key) => backend.get(key),
    getMany: (keys) => backend.getMany(keys),
    readLinked: (read) => backend.readLinked(read),
    setIfAbsent: (key, value) => backend.setIfAbsent(key, value),
    delete: (keys) => backend.delete(keys),
    members: (key) => backend.members(key),
    membersOfEach: (keys) => backend.membersOfEach(keys),
    timeline: (key, range) => backend.timeline(key, range),
    removeFromSet: (key, members) => backend.removeFromSet(key, members),
    commit: async (writes) => {
      const batch = currentBatch(backend);
      if (batch) batch.add(...writes);
      else await backend.commit(writes);
    },
    appendToLog: (key, entries, now) => backend.appendToLog(key, entries, now),
    readLog: (key, after, limit, now) => backend.readLog(key, after, limit, now),
    ping: () => backend.ping(),
    close: () => backend.close(),
    redisClient: backend.redisClient,
  };
}
