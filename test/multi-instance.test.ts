import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { BILLING, ORDERS, ORDERS_API, SUPPORT_CONSOLE, TokenType, impersonate } from './helpers/server.js';
import { deleteKeysWithPrefix, sharedRedisUrl } from './helpers/redis.js';
import { signInThroughLoginPage } from '../src/server/demo-login.js';
import { redeemCode, startAuthorization } from '../src/server/console-client.js';

/** Two reference-server processes (dist/, built by the global setup) on one Redis: what one revokes is gone on both. */
const prefix = `multi:${randomUUID()}:`;
const instances: Array<{ port: number; child: ChildProcess; base: string }> = [];
let redisUrl: string;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startInstance(port: number, issuer: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['dist/server/main.js'], {
    env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), ORDERS_API_PORT: 'off', DEMO_APP_PORT: 'off', ISSUER: issuer, REDIS_URL: redisUrl, REDIS_PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  for (let i = 0; i < 100; i += 1) {
    if (output.includes('server listening')) return child;
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new Error(`instance on ${port} did not start: ${output}`);
}

async function post(base: string, path: string, params: Record<string, string>, client: { id: string; secret: string }) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

beforeAll(async () => {
  redisUrl = await sharedRedisUrl();
  const ports = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${ports[0]}`;
  for (const port of ports) instances.push({ port, child: await startInstance(port, issuer), base: `http://127.0.0.1:${port}` });
}, 60_000);

afterAll(async () => {
  for (const { child } of instances) {
    child.kill();
    if (child.exitCode === null) await once(child, 'exit');
  }
  deleteKeysWithPrefix(redisUrl, prefix);
});

describe('two provider processes sharing Redis (docs/storage.md, docs/introspection-revocation.md)', () => {
  it('sees on both instances, at once, what either issued and revoked', async () => {
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const client = { issuer: a.base, clientId: SUPPORT_CONSOLE.id, clientSecret: SUPPORT_CONSOLE.secret, redirectUri: `${a.base}/admin/callback` };
    const start = startAuthorization(client, 'openid');
    const callback = await signInThroughLoginPage({ authorizationUrl: start.url, redirectUri: client.redirectUri, login: 'support', password: 'demo-password' });
    const actor = (await redeemCode(client, callback.searchParams.get('code')!, start.verifier)).access_token;

    const tokens: string[] = [];
    for (const resource of [BILLING, ORDERS]) {
      const issued = await post(a.base, '/token', { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', ...(impersonate(actor, 'alice', { resource }) as Record<string, string>) }, SUPPORT_CONSOLE);
      expect(issued.status).toBe(200);
      tokens.push(issued.body.access_token as string);
    }
    for (const token of tokens) {
      for (const instance of [a, b]) {
        expect((await post(instance.base, '/token/introspection', { token }, ORDERS_API)).body).toMatchObject({ active: true, sub: 'alice', act: { sub: 'support' } });
      }
    }
    for (const token of tokens) expect((await post(b.base, '/token/revocation', { token, token_type_hint: TokenType.accessToken }, SUPPORT_CONSOLE)).status).toBe(200);
    for (const token of tokens) {
      for (const instance of [a, b]) {
        expect((await post(instance.base, '/token/introspection', { token }, ORDERS_API)).body).toEqual({ active: false });
      }
    }
  });

  it('refuses to start on a prefix another issuer already uses, naming both and REDIS_PREFIX', async () => {
    const port = await freePort();
    const run = spawnSync(process.execPath, ['dist/server/main.js'], {
      env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), ORDERS_API_PORT: 'off', DEMO_APP_PORT: 'off', ISSUER: 'https://other.example.test', REDIS_URL: redisUrl, REDIS_PREFIX: prefix },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect({ status: run.status, stderr: run.stderr.replace(/^oidc-provider WARNING: Unsupported runtime.*\n/m, '') }).toEqual({
      status: 1,
      stderr:
        `REDIS_PREFIX ${prefix} on this Redis database already belongs to the issuer http://127.0.0.1:${instances[0]!.port}, not https://other.example.test: ` +
        'the prefix holds that issuer\'s signing keys, cookie keys, sessions and tokens, so a second deployment must not share it. ' +
        'Give each deployment its own REDIS_PREFIX (or its own database).\n',
    });
  });
});
