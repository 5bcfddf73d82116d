// Issues N live impersonation tokens of one actor through the real grant (HTTP, in-process server on
// 127.0.0.1, Redis store and the durable audit log), reports Redis memory per token, then times bulk revocation by actor.
// Usage: npm run build && node bench/bulk-revocation.mjs [N=10000] [opaque|jwt]
// BENCH_PROFILE=file: write a V8 CPU profile (a sample every 500 µs) of the revocation alone to file
// (bench/profile.mjs bulk reads it; the time reported then includes the profiler's overhead).
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { createReferenceServer } from '../dist/server/app.js';
import { loadFixtures } from '../dist/server/fixtures.js';
import { createStore } from '../dist/store/index.js';
import { connectRedis } from '../dist/store/redis.js';
import { BILLING, CONSOLE_AUTH, FORM, ORDERS, deleteKeys, impersonationBody, signInSupport } from './lib.mjs';

const N = Number(process.argv[2] ?? 10_000);
const format = process.argv[3] ?? 'opaque';
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const prefix = `bench:${randomUUID()}:`;
const usedMemory = () => Number(/used_memory:(\d+)/.exec(execFileSync('redis-cli', ['-u', url, 'info', 'memory']).toString())[1]);

const http = createServer();
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${http.address().port}`;
const backend = await connectRedis(url);
const store = createStore(backend, prefix);
const fixtures = await loadFixtures('config', issuer);
const server = await createReferenceServer({ issuer, fixtures, store, auditLog: backend.auditLog(prefix), policy: { rateLimit: false } });
http.on('request', server.provider.callback());

const actor = await signInSupport(issuer);
const body = impersonationBody(actor, format === 'jwt' ? ORDERS : BILLING);

const before = usedMemory();
let issued = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (issued < N) {
      issued += 1;
      const res = await fetch(`${issuer}/token`, { method: 'POST', headers: { authorization: CONSOLE_AUTH, 'content-type': FORM }, body });
      if (res.status !== 200) throw new Error(`exchange failed: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
  }),
);
const issueMs = performance.now() - t0;
const after = usedMemory();
const live = (await server.exchange.list({ actor: 'support' })).length;

let session;
if (process.env.BENCH_PROFILE) {
  const { Session } = await import('node:inspector/promises');
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
}
const c0 = process.cpuUsage();
const r0 = performance.now();
const revoked = await server.exchange.revoke({ actor: 'support' });
const revokeMs = performance.now() - r0;
const cpu = process.cpuUsage(c0);
if (session) {
  const { profile } = await session.post('Profiler.stop');
  (await import('node:fs')).writeFileSync(process.env.BENCH_PROFILE, JSON.stringify(profile));
}
const left = (await server.exchange.list({ actor: 'support' })).length;

console.log(JSON.stringify({
  tokens: N, format, live, issueSeconds: +(issueMs / 1000).toFixed(1),
  redisBytesPerToken: Math.round((after - before) / N),
  bulkRevocation: { revoked, ms: Math.round(revokeMs), cpuUs: cpu.user + cpu.system, left },
}, null, 2));

deleteKeys(url, prefix);
await store.close();
http.close();
process.exit(0);
