import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMemoryStore, createStore, type Store } from '../store/index.js';
import { createReferenceServer } from './app.js';
import { loadFixtures } from './fixtures.js';
import { sharedSecrets } from './secrets.js';

/** REDIS_URL (standalone) or REDIS_CLUSTER_NODES (host:port,…) select Redis; else process memory. */
async function openStore(): Promise<{ store: Store; description: string }> {
  const prefix = process.env.REDIS_PREFIX ?? 'oidc:';
  if (process.env.REDIS_CLUSTER_NODES) {
    const nodes = process.env.REDIS_CLUSTER_NODES.split(',').map((n) => n.trim()).filter(Boolean);
    const { connectRedisCluster } = await import('../store/redis.js');
    return { store: createStore(await connectRedisCluster(nodes), prefix), description: `Redis Cluster (${nodes.length} seed nodes)` };
  }
  if (process.env.REDIS_URL) {
    const { connectRedis } = await import('../store/redis.js');
    const url = new URL(process.env.REDIS_URL);
    return { store: createStore(await connectRedis(process.env.REDIS_URL), prefix), description: `Redis ${url.host}` };
  }
  return { store: createMemoryStore(), description: 'in-memory store' };
}

/** The reference server's bootstrap: the only place that reads the environment. */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const issuer = process.env.ISSUER ?? `http://localhost:${port}`;
  const host = process.env.HOST ?? '127.0.0.1';
  const configDir = process.env.CONFIG_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'config');
  const fixtures = await loadFixtures(configDir, issuer);
  const { store, description } = await openStore();
  const { jwks, cookieKeys } = await sharedSecrets(store);
  const server = await createReferenceServer({ issuer, fixtures, store, jwks, cookieKeys });
  await server.listen(port, host);
  process.stdout.write(`oidc-provider-token-exchange reference server: issuer ${issuer}, listening on ${host}:${port}, ${description}\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
