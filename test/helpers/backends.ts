import type { Backend } from '../../src/store/index.js';
import { MemoryBackend } from '../../src/store/memory.js';
import { LOG_PARTS } from '../../src/store/redis-log.js';
import { connectRedis, connectRedisCluster } from '../../src/store/redis.js';
import { requireRedisServerBinary, sharedRedisUrl, startRedisCluster } from './redis.js';

/** The backend with `close()` replaced by `close`. */
function withClose(backend: Backend, close: () => Promise<void>): Backend {
  return {
    putEntity: (key, json, ttl) => backend.putEntity(key, json, ttl),
    getEntity: (key) => backend.getEntity(key),
    consumeEntity: (key, at) => backend.consumeEntity(key, at),
    get: (key) => backend.get(key),
    getMany: (keys) => backend.getMany(keys),
    readLinked: (read) => backend.readLinked(read),
    set: (key, value, ttl) => backend.set(key, value, ttl),
    setIfAbsent: (key, value) => backend.setIfAbsent(key, value),
    delete: (keys) => backend.delete(keys),
    addToSet: (key, member, ttl) => backend.addToSet(key, member, ttl),
    addToSets: (entries) => backend.addToSets(entries),
    members: (key) => backend.members(key),
    membersOfEach: (keys) => backend.membersOfEach(keys),
    addToTimeline: (key, member, at, ttl) => backend.addToTimeline(key, member, at, ttl),
    timeline: (key, range) => backend.timeline(key, range),
    removeFromSet: (key, members) => backend.removeFromSet(key, members),
    commit: (writes) => backend.commit(writes),
    appendToLog: (key, entries, now) => backend.appendToLog(key, entries, now),
    readLog: (key, after, limit, now) => backend.readLog(key, after, limit, now),
    ping: () => backend.ping(),
    close,
  };
}

/** A shared Redis backend that deletes, on close, every key written through it. */
function cleaningUp(backend: Backend): Backend {
  const written = new Set<string>();
  const wrapped = withClose(backend, () => backend.delete([...written]).finally(() => backend.close()));
  const note = <A extends unknown[], R>(write: (key: string, ...rest: A) => Promise<R>) => (key: string, ...rest: A) => {
    written.add(key);
    return write(key, ...rest);
  };
  const addToSets: Backend['addToSets'] = (entries) => {
    for (const { key } of entries) written.add(key);
    return wrapped.addToSets(entries);
  };
  const commit: Backend['commit'] = (writes) => {
    for (const { key } of writes) written.add(key);
    return wrapped.commit(writes);
  };
  const appendToLog: Backend['appendToLog'] = (key, entries, now) => {
    for (const part of LOG_PARTS) written.add(`${key}${part}`);
    return wrapped.appendToLog(key, entries, now);
  };
  const readLog: Backend['readLog'] = (key, after, limit, now) => {
    for (const part of LOG_PARTS) written.add(`${key}${part}`);
    return wrapped.readLog(key, after, limit, now);
  };
  return { ...wrapped, putEntity: note(wrapped.putEntity), set: note(wrapped.set), setIfAbsent: note(wrapped.setIfAbsent), addToSet: note(wrapped.addToSet), addToTimeline: note(wrapped.addToTimeline), addToSets, commit, appendToLog, readLog };
}

async function openCluster(): Promise<Backend> {
  const cluster = await startRedisCluster();
  try {
    const backend = await connectRedisCluster(cluster.nodes);
    return withClose(backend, () => backend.close().finally(() => cluster.stop()));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** Every backend the contract suite runs against, by name. */
export function backendsUnderTest(): Array<[string, () => Promise<Backend>]> {
  const backends: Array<[string, () => Promise<Backend>]> = [
    ['memory', async () => new MemoryBackend()],
    ['redis', async () => cleaningUp(await connectRedis(await sharedRedisUrl()))],
  ];
  if (requireRedisServerBinary()) backends.push(['redis-cluster', openCluster]);
  else console.error('!!! Redis Cluster contract tests NOT RUN: redis-server is not on PATH (CI has it; apt-get install redis-server)');
  return backends;
}
