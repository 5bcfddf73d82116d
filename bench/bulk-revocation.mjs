// Issues N live impersonation tokens of one actor through the real grant (HTTP, in-process server on
// 127.0.0.1, Redis store and the durable audit log), reports Redis memory per token, then times bulk revocation by actor.
// Usage: npm run build && node bench/bulk-revocation.mjs [N=10000] [opaque|jwt]
// BENCH_PROFILE=file: write a V8 CPU profile (a sample every 500 µs) of the revocation alone to file
// (bench/profile.mjs bulk reads it; the time reported then includes the profiler's overhead).
import { BILLING, ORDERS, impersonationBody, issueImpersonations, signInSupport, startRedisReference } from './lib.mjs';

const N = Number(process.argv[2] ?? 10_000);
const format = process.argv[3] ?? 'opaque';
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const { issuer, server, usedMemory, close } = await startRedisReference(url);

const actor = await signInSupport(issuer);
const body = impersonationBody(actor, format === 'jwt' ? ORDERS : BILLING);

const before = usedMemory();
const t0 = performance.now();
await issueImpersonations(issuer, body, N, 16);
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

await close();
process.exit(0);
