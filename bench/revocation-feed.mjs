// The revocation feed (docs/resource-server.md, "The revocation feed"), measured: two provider
// instances (one issuer) on one Redis, a resource server verifying JWTs locally attached to instance
// B, revocations made at instance A. Prints one JSON line:
// - revocation → refusal latency (p50/p99 ms over SAMPLES revocations, each at a random moment of
//   the poll cycle; from sending the revocation until the resource server first refuses the token);
// - local JWT verification, CPU µs per request with the feed off and on (median of 20 interleaved rounds);
// - feed requests per second the resource server made.
// Usage: node bench/revocation-feed.mjs [samples]   Env: REDIS_URL (default local 6379).
/* global Request */
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createReferenceServer } from '../dist/server/app.js';
import { loadFixtures } from '../dist/server/fixtures.js';
import { createStore } from '../dist/store/index.js';
import { connectRedis } from '../dist/store/redis.js';
import { createResourceServer } from '../dist/resource-server/index.js';
import { exportJWK, generateKeyPair } from 'jose';
import { CONSOLE_AUTH, FORM, ORDERS, basic, deleteKeys, impersonationBody, signInSupport } from './lib.mjs';

const SAMPLES = Number(process.argv[2] ?? 30);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const prefix = `bench-feed:${randomUUID()}:`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

async function listen(handler) {
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwks = { keys: [{ ...(await exportJWK(privateKey)), kid: 'bench-feed', alg: 'RS256', use: 'sig' }] };
const policy = { rateLimit: false, clientRateLimit: false, unauthenticatedRateLimit: false };

// Instance A listens first: its origin is the issuer of both.
const httpA = await listen();
const issuer = httpA.base;
const fixtures = await loadFixtures('config', issuer);
const stores = [createStore(await connectRedis(REDIS_URL), prefix), createStore(await connectRedis(REDIS_URL), prefix)];
const a = await createReferenceServer({ issuer, fixtures, store: stores[0], jwks, policy });
const b = await createReferenceServer({ issuer, fixtures, store: stores[1], jwks, policy });
httpA.server.on('request', a.provider.callback());
const httpB = await listen(b.provider.callback());

let feedRequests = 0;
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  if (String(input).startsWith(`${httpB.base}/revocations`)) feedRequests += 1;
  return realFetch(input, init);
};

const credentials = { clientId: 'orders-api', clientSecret: 'orders-api-secret' };
const local = { issuer, audience: ORDERS, mode: 'jwt', jwks: { uri: `${httpB.base}/jwks` } };
const feedOff = createResourceServer(local);
const feedOn = createResourceServer({ ...local, revocationFeed: { endpoint: `${httpB.base}/revocations`, ...credentials } });

const actor = await signInSupport(issuer);
async function token() {
  const response = await realFetch(`${issuer}/token`, { method: 'POST', headers: { authorization: CONSOLE_AUTH, 'content-type': FORM }, body: impersonationBody(actor, ORDERS) });
  return (await response.json()).access_token;
}
const revoke = (value) =>
  realFetch(`${issuer}/token/revocation`, { method: 'POST', headers: { authorization: basic('support-console', 'support-console-secret'), 'content-type': FORM }, body: new URLSearchParams({ token: value }) });
const request = (value) => new Request('https://api.example.test/orders', { headers: { authorization: `Bearer ${value}` } });
const accepted = (api, req) =>
  api.verifyRequest(req).then(
    () => true,
    () => false,
  );

// Some revocations in the feed first, so its set is not empty.
for (let i = 0; i < 100; i += 1) await revoke(await token());
await feedOn.syncRevocations();

// Latency: revoke at A, poll the resource server (attached to B) every 5 ms until it refuses.
const latencies = [];
const started = performance.now();
for (let i = 0; i < SAMPLES; i += 1) {
  const value = await token();
  if (!(await accepted(feedOn, request(value)))) throw new Error('a fresh token was refused');
  await sleep(Math.random() * 1000);
  const t0 = performance.now();
  await revoke(value);
  while (await accepted(feedOn, request(value))) await sleep(5);
  latencies.push(performance.now() - t0);
}
const feedPerSecond = feedRequests / ((performance.now() - started) / 1000);

// Local verification µs, feed off and on, interleaved rounds of the same valid token.
const valid = request(await token());
for (const api of [feedOff, feedOn]) for (let i = 0; i < 500; i += 1) await api.verifyRequest(valid);
// Rounds alternate which goes first, so drift on a shared machine falls on both alike.
const ROUNDS = 20;
const PER_ROUND = 1000;
const perRound = { off: [], on: [] };
for (let round = 0; round < ROUNDS; round += 1) {
  const order = [
    ['off', feedOff],
    ['on', feedOn],
  ];
  if (round % 2 === 1) order.reverse();
  for (const [name, api] of order) {
    // CPU time of this process (user + system), steadier than wall time while others share the cores.
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < PER_ROUND; i += 1) await api.verifyRequest(valid);
    const cpu = process.cpuUsage(cpu0);
    perRound[name].push((cpu.user + cpu.system) / PER_ROUND);
  }
}
const median = (values) => quantile(values, 0.5);

feedOff.close();
feedOn.close();
globalThis.fetch = realFetch;
await Promise.all([a.close(), b.close()]);
for (const { server } of [httpA, httpB]) {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}
deleteKeys(REDIS_URL, prefix);
await Promise.all(stores.map((s) => s.close()));

const result = {
  samples: SAMPLES,
  revocationToRefusal: { p50Ms: Math.round(quantile(latencies, 0.5)), p99Ms: Math.round(quantile(latencies, 0.99)), maxMs: Math.round(Math.max(...latencies)) },
  verificationUs: { feedOff: Number(median(perRound.off).toFixed(1)), feedOn: Number(median(perRound.on).toFixed(1)) },
  feedRequestsPerSecond: Number(feedPerSecond.toFixed(2)),
};
result.verificationUs.ratio = Number((result.verificationUs.feedOn / result.verificationUs.feedOff).toFixed(3));
console.log(JSON.stringify(result));
