import type { AuditLog } from '../audit/log.js';
import { createMemoryStore, createStore, type Store } from '../store/index.js';

/** REDIS_URL (standalone) or REDIS_CLUSTER_NODES (host:port,…) select Redis; else process memory. */
export async function openStore(env: NodeJS.ProcessEnv): Promise<{ store: Store; auditLog: AuditLog | undefined; description: string }> {
  const prefix = env.REDIS_PREFIX ?? 'oidc:';
  if (env.REDIS_CLUSTER_NODES) {
    const nodes = env.REDIS_CLUSTER_NODES.split(',').map((n) => n.trim()).filter(Boolean);
    const { connectRedisCluster } = await import('../store/redis.js');
    const backend = await connectRedisCluster(nodes);
    return { store: createStore(backend, prefix), auditLog: backend.auditLog(prefix), description: `Redis Cluster (${nodes.length} seed nodes)` };
  }
  if (env.REDIS_URL) {
    const { connectRedis } = await import('../store/redis.js');
    const backend = await connectRedis(env.REDIS_URL);
    return { store: createStore(backend, prefix), auditLog: backend.auditLog(prefix), description: `Redis ${new URL(env.REDIS_URL).host}` };
  }
  return { store: createMemoryStore(), auditLog: undefined, description: 'in-memory store' };
}
