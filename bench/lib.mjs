// Shared by the benchmark scripts: demo credentials, the impersonation request, clean-up.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createReferenceServer } from '../dist/server/app.js';
import { loadFixtures } from '../dist/server/fixtures.js';
import { createStore } from '../dist/store/index.js';
import { connectRedis } from '../dist/store/redis.js';
import { redeemCode, startAuthorization } from '../dist/server/console-client.js';
import { signInThroughLoginPage } from '../dist/server/demo-login.js';

export const ORDERS = 'https://api.example.test/orders';
export const BILLING = 'https://api.example.test/billing';
export const FORM = 'application/x-www-form-urlencoded';

export const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
export const CONSOLE_AUTH = basic('support-console', 'support-console-secret');

/** The support agent's access token (`scope`: `openid impersonation:admin` for the admin API), through the real login page (authorization code + PKCE). */
export async function signInSupport(issuer, scope = 'openid') {
  const client = { issuer, clientId: 'support-console', clientSecret: 'support-console-secret', redirectUri: `${issuer}/admin/callback` };
  const start = startAuthorization(client, scope);
  const callback = await signInThroughLoginPage({ authorizationUrl: start.url, redirectUri: client.redirectUri, login: 'support', password: 'demo-password' });
  return (await redeemCode(client, callback.searchParams.get('code'), start.verifier)).access_token;
}

/** The form body of an impersonation of alice by the actor, for `resource`. */
export function impersonationBody(actorToken, resource) {
  return new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: 'alice',
    subject_token_type: 'urn:oidc-provider-token-exchange:token-type:user-id',
    actor_token: actorToken,
    actor_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    reason: 'Ticket 4711: alice cannot see her orders',
    resource,
  }).toString();
}

/** Deletes every key under `prefix` (benchmarks clean up after themselves). */
export function deleteKeys(url, prefix) {
  const keys = execFileSync('redis-cli', ['-u', url, '--scan', '--pattern', `${prefix}*`], { maxBuffer: 1 << 28 }).toString().split('\n').filter(Boolean);
  for (let i = 0; i < keys.length; i += 500) execFileSync('redis-cli', ['-u', url, 'UNLINK', ...keys.slice(i, i + 500)]);
}

/**
 * The reference server in this process on a free 127.0.0.1 port, on Redis under a random prefix of
 * its own with the durable audit log and rate limits off; `usedMemory()` reads Redis' `used_memory`,
 * `close()` deletes the prefix and stops it.
 */
export async function startRedisReference(url) {
  const prefix = `bench:${randomUUID()}:`;
  const http = createServer();
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${http.address().port}`;
  const backend = await connectRedis(url);
  const store = createStore(backend, prefix);
  const server = await createReferenceServer({ issuer, fixtures: await loadFixtures('config', issuer), store, auditLog: backend.auditLog(prefix), policy: { rateLimit: false } });
  http.on('request', server.provider.callback());
  return {
    issuer,
    prefix,
    server,
    usedMemory: () => Number(/used_memory:(\d+)/.exec(execFileSync('redis-cli', ['-u', url, 'info', 'memory']).toString())[1]),
    async close() {
      deleteKeys(url, prefix);
      await store.close();
      http.close();
    },
  };
}

/** Issues `n` impersonation tokens through the grant, `connections` requests at a time. */
export async function issueImpersonations(issuer, body, n, connections) {
  let issued = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (issued < n) {
        issued += 1;
        const res = await fetch(`${issuer}/token`, { method: 'POST', headers: { authorization: CONSOLE_AUTH, 'content-type': FORM }, body });
        if (res.status !== 200) throw new Error(`exchange failed: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      }
    }),
  );
}
