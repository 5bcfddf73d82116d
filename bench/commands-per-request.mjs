// Counts the Redis commands one request costs (INFO commandstats before/after N requests) for the
// exchange and its client_credentials baseline: the "what costs what" of the store side.
// Usage: npm run build && node bench/commands-per-request.mjs [N=200]
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { createReferenceServer } from '../dist/server/app.js';
import { loadFixtures } from '../dist/server/fixtures.js';
import { createStore } from '../dist/store/index.js';
import { connectRedis } from '../dist/store/redis.js';
import { redeemCode, startAuthorization } from '../dist/server/console-client.js';
import { signInThroughLoginPage } from '../dist/server/demo-login.js';

const N = Number(process.argv[2] ?? 200);
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const prefix = `bench:${randomUUID()}:`;
const stats = () => {
  const out = execFileSync('redis-cli', ['-u', url, 'info', 'commandstats']).toString();
  return Object.fromEntries([...out.matchAll(/cmdstat_(\w+(?:\|\w+)?):calls=(\d+)/g)].map(([, name, calls]) => [name, Number(calls)]));
};
const diff = (a, b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]).filter(([, v]) => v > 0));

const http = createServer();
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${http.address().port}`;
const backend = await connectRedis(url);
const server = await createReferenceServer({ issuer, fixtures: await loadFixtures('config', issuer), store: createStore(backend, prefix), auditLog: backend.auditLog(prefix), policy: { rateLimit: false } });
http.on('request', server.provider.callback());
const client = { issuer, clientId: 'support-console', clientSecret: 'support-console-secret', redirectUri: `${issuer}/admin/callback` };
const start = startAuthorization(client, 'openid');
const callback = await signInThroughLoginPage({ authorizationUrl: start.url, redirectUri: client.redirectUri, login: 'support', password: 'demo-password' });
const actor = (await redeemCode(client, callback.searchParams.get('code'), start.verifier)).access_token;

async function run(auth, body) {
  const before = stats();
  for (let i = 0; i < N; i += 1) {
    const res = await fetch(`${issuer}/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body });
    if (res.status !== 200) throw new Error(await res.text());
  }
  const per = diff(before, stats());
  return Object.fromEntries(Object.entries(per).map(([k, v]) => [k, +(v / N).toFixed(2)]).filter(([k]) => k !== 'info'));
}

const exchange = (resource) => new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: 'alice', subject_token_type: 'urn:oidc-provider-token-exchange:token-type:user-id', actor_token: actor, actor_token_type: 'urn:ietf:params:oauth:token-type:access_token', reason: 'Ticket 4711: alice cannot see her orders', resource }).toString();
console.log(JSON.stringify({
  'client_credentials opaque': await run('plain-client:plain-client-secret', new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://api.example.test/billing' }).toString()),
  'exchange opaque': await run('support-console:support-console-secret', exchange('https://api.example.test/billing')),
  'exchange jwt': await run('support-console:support-console-secret', exchange('https://api.example.test/orders')),
}, null, 1));
const keys = execFileSync('redis-cli', ['-u', url, '--scan', '--pattern', `${prefix}*`], { maxBuffer: 1 << 28 }).toString().split('\n').filter(Boolean);
for (let i = 0; i < keys.length; i += 500) execFileSync('redis-cli', ['-u', url, 'UNLINK', ...keys.slice(i, i + 500)]);
await server.close();
await backend.close();
http.close();
process.exit(0);
