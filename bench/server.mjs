// The reference server for benchmarks: the same assembly as `npm start` (dist/), with the actor rate
// limit and the endpoint limits off, optionally in WORKERS Node cluster workers sharing Redis. Prints one JSON line
// {"ready":true,"pids":[…]} once every worker listens. Env: PORT, REDIS_URL, REDIS_PREFIX, WORKERS,
// AUDIT=memory (keep the audit log in memory even on Redis). The support console may also use the
// exchange's floor (bench/floor-grant.mjs), measured beside the real grant.
import cluster from 'node:cluster';
import { MemoryAuditLog } from '../dist/store/audit-memory.js';
import { createReferenceServer } from '../dist/server/app.js';
import { loadFixtures } from '../dist/server/fixtures.js';
import { sharedSecrets } from '../dist/server/secrets.js';
import { openStore } from '../dist/server/store-from-env.js';
import { FLOOR_GRANT, registerFloorGrant } from './floor-grant.mjs';

const port = Number(process.env.PORT ?? 3900);
const workers = Number(process.env.WORKERS ?? 1);
const issuer = `http://127.0.0.1:${port}`;

async function serve() {
  const { store, auditLog } = await openStore(process.env);
  const { jwks, cookieKeys } = await sharedSecrets(store, issuer);
  const fixtures = await loadFixtures('config', issuer);
  const console = fixtures.clients.find((client) => client.client_id === 'support-console');
  console.grant_types = [...console.grant_types, FLOOR_GRANT];
  const server = await createReferenceServer({
    issuer,
    fixtures,
    store,
    jwks,
    cookieKeys,
    policy: { rateLimit: false, clientRateLimit: false, unauthenticatedRateLimit: false },
    auditLog: process.env.AUDIT === 'memory' || !auditLog ? new MemoryAuditLog() : auditLog,
  });
  registerFloorGrant(server.provider, fixtures.resourceServers, server.accounts.oidcFindAccount);
  await server.listen(port, '127.0.0.1');
}

if (workers > 1 && cluster.isPrimary) {
  const pids = [process.pid];
  let listening = 0;
  for (let i = 0; i < workers; i += 1) {
    const worker = cluster.fork();
    pids.push(worker.process.pid);
    worker.on('listening', () => {
      listening += 1;
      if (listening === workers) process.stdout.write(`${JSON.stringify({ ready: true, pids })}\n`);
    });
  }
} else {
  await serve();
  if (!cluster.isWorker) process.stdout.write(`${JSON.stringify({ ready: true, pids: [process.pid] })}\n`);
}

// Exit cleanly on a signal, so `node --cpu-prof bench/server.mjs` writes its profile.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
