// Times the browser-impersonation journey (docs/browser-impersonation.md) end to end over HTTP, in-process server on
// 127.0.0.1: mint a ticket through the admin API, follow the third-party login with the ticket as
// login_hint (the extension redeems it and issues a code), redeem the code at the token endpoint.
// Reports per-journey latency and journeys per second with a few running at once.
// Usage: npm run build && node bench/browser-journey.mjs [N=200] [memory|redis]
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createReferenceServer } from '../dist/server/app.js';
import { loadFixtures } from '../dist/server/fixtures.js';
import { createMemoryStore, createStore } from '../dist/store/index.js';
import { connectRedis } from '../dist/store/redis.js';
import { FORM, basic, deleteKeys, signInSupport } from './lib.mjs';

const N = Number(process.argv[2] ?? 200);
const storeKind = process.argv[3] ?? 'redis';
const CONCURRENCY = 4;
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const prefix = `bench:${randomUUID()}:`;
const APP = { id: 'demo-app', secret: 'demo-app-secret' };

const http = createServer();
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${http.address().port}`;
const backend = storeKind === 'redis' ? await connectRedis(url) : undefined;
const store = backend ? createStore(backend, prefix) : createMemoryStore();
const fixtures = await loadFixtures('config', issuer);
const server = await createReferenceServer({ issuer, fixtures, store, ...(backend ? { auditLog: backend.auditLog(prefix) } : {}), policy: { rateLimit: false } });
http.on('request', server.provider.callback());
const redirectUri = fixtures.clients.find((c) => c.client_id === APP.id).redirect_uris[0];
const admin = await signInSupport(issuer, 'openid impersonation:admin');

/** Follows redirects by hand with one cookie jar until one leads to the client's redirect_uri. */
async function follow(start) {
  const jar = new Map();
  let next = new URL(start);
  for (let hop = 0; hop < 12; hop += 1) {
    if (next.href.startsWith(redirectUri)) return next;
    const res = await fetch(next, { redirect: 'manual', headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    await res.arrayBuffer();
    const location = res.headers.get('location');
    if (!location) throw new Error(`stopped at ${next.pathname} (${res.status})`);
    next = new URL(location, next);
  }
  throw new Error('too many redirects');
}

async function journey() {
  const t0 = performance.now();
  const minted = await fetch(`${issuer}/admin/api/tickets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: 'alice', client_id: APP.id, reason: 'Ticket 4711: alice cannot see her orders' }),
  });
  if (minted.status !== 201) throw new Error(`mint: ${minted.status} ${await minted.text()}`);
  const { ticket } = await minted.json();
  const verifier = randomBytes(32).toString('base64url');
  const authorization = new URL(`${issuer}/auth`);
  authorization.search = new URLSearchParams({
    client_id: APP.id, response_type: 'code', scope: 'openid', redirect_uri: redirectUri, state: 's', login_hint: ticket,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  }).toString();
  const callback = await follow(authorization);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code: ${callback.search}`);
  const token = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic(APP.id, APP.secret), 'content-type': FORM },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }),
  });
  if (token.status !== 200) throw new Error(`token: ${token.status} ${await token.text()}`);
  await token.arrayBuffer();
  return performance.now() - t0;
}

for (let i = 0; i < 5; i += 1) await journey(); // warm-up
const times = [];
const t0 = performance.now();
let started = 0;
await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
  while (started < N) {
    started += 1;
    times.push(await journey());
  }
}));
const seconds = (performance.now() - t0) / 1000;
times.sort((a, b) => a - b);
const at = (q) => +times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(1);
console.log(JSON.stringify({ store: storeKind, journeys: times.length, concurrency: CONCURRENCY, perSecond: +(times.length / seconds).toFixed(1), p50Ms: at(0.5), p99Ms: at(0.99) }, null, 2));

if (backend) deleteKeys(url, prefix);
await store.close?.();
http.close();
process.exit(0);
