// Issues N live impersonation tokens of one actor through the real grant (HTTP, in-process server on
// 127.0.0.1, Redis store), reports Redis memory per token, then times bulk revocation by actor.
// Usage: npm run build && node bench/bulk-revocation.mjs [N=10000] [opaque|jwt]
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { createReferenceServer } from '../dist/server/app.js';
import { loadFixtures } from '../dist/server/fixtures.js';
import { createStore } from '../dist/store/index.js';
import { connectRedis } from '../dist/store/redis.js';
import { redeemCode, startAuthorization } from '../dist/server/console-client.js';
import { signInThroughLoginPage } from '../dist/server/demo-login.js';

const N = Number(process.argv[2] ?? 10_000);
const format = process.argv[3] ?? 'opaque';
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const prefix = `bench:${randomUUID()}:`;
const usedMemory = () => Number(/used_memory:(\d+)/.exec(execFileSync('redis-cli', ['-u', url, 'info', 'memory']).toString())[1]);

const http = createServer();
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${http.address().port}`;
const store = createStore(await connectRedis(url), prefix);
const fixtures = await loadFixtures('config', issuer);
const server = await createReferenceServer({ issuer, fixtures, store, policy: { rateLimit: false } });
http.on('request', server.provider.callback());

const client = { issuer, clientId: 'support-console', clientSecret: 'support-console-secret', redirectUri: `${issuer}/admin/callback` };
const start = startAuthorization(client, 'openid');
const callback = await signInThroughLoginPage({ authorizationUrl: start.url, redirectUri: client.redirectUri, login: 'support', password: 'demo-password' });
const actor = (await redeemCode(client, callback.searchParams.get('code'), start.verifier)).access_token;
const resource = format === 'jwt' ? 'https://api.example.test/orders' : 'https://api.example.test/billing';
const body = new URLSearchParams({
  grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
  subject_token: 'alice',
  subject_token_type: 'urn:oidc-provider-token-exchange:token-type:user-id',
  actor_token: actor,
  actor_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  reason: 'Ticket 4711: alice cannot see her orders',
  resource,
}).toString();
const auth = `Basic ${Buffer.from('support-console:support-console-secret').toString('base64')}`;

const before = usedMemory();
let issued = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (issued < N) {
      issued += 1;
      const res = await fetch(`${issuer}/token`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body });
      if (res.status !== 200) throw new Error(`exchange failed: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
  }),
);
const issueMs = performance.now() - t0;
const after = usedMemory();
const live = (await server.exchange.list({ actor: 'support' })).length;

const r0 = performance.now();
const revoked = await server.exchange.revoke({ actor: 'support' });
const revokeMs = performance.now() - r0;
const left = (await server.exchange.list({ actor: 'support' })).length;

console.log(JSON.stringify({
  tokens: N, format, live, issueSeconds: +(issueMs / 1000).toFixed(1),
  redisBytesPerToken: Math.round((after - before) / N),
  bulkRevocation: { revoked, ms: Math.round(revokeMs), left },
}, null, 2));

const keys = execFileSync('redis-cli', ['-u', url, '--scan', '--pattern', `${prefix}*`], { maxBuffer: 1 << 28 }).toString().split('\n').filter(Boolean);
for (let i = 0; i < keys.length; i += 500) execFileSync('redis-cli', ['-u', url, 'UNLINK', ...keys.slice(i, i + 500)]);
await store.close();
http.close();
process.exit(0);
