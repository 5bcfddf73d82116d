import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { startOrdersApi } from '../src/server/orders-api.js';
import { loadFixtures } from '../src/server/fixtures.js';
import { until } from './helpers/until.js';
import { BILLING, CONFIG_DIR, ORDERS, ORDERS_API, SUPPORT_CONSOLE, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let ordersApi: Server;
let base: string;
let support: string;
let alice: string;
let impersonated: string;
const denials: string[] = [];
const logger = { info: (fields: Record<string, unknown>) => denials.push(String(fields.code)), warn: () => undefined, error: () => undefined };

const ALICE_ORDERS = [
  { id: 'A-1001', item: 'Espresso machine', total: '249.00 EUR', status: 'delivered' },
  { id: 'A-1002', item: 'Coffee beans, 1 kg', total: '24.90 EUR', status: 'shipped' },
];
const IMPERSONATED = 'this action is not allowed while someone else acts for the user';

async function exchanged(params: Record<string, string | string[]>, client = SUPPORT_CONSOLE): Promise<string> {
  const result = await server.exchange(params, client);
  if (result.status !== 200) throw new Error(JSON.stringify(result.body));
  return result.body.access_token as string;
}

async function call(method: string, path: string, token?: string, origin = base) {
  const response = await fetch(`${origin}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await response.text();
  return { status: response.status, challenge: response.headers.get('www-authenticate'), body: text ? JSON.parse(text) : null };
}

beforeAll(async () => {
  server = await startTestServer();
  ordersApi = await startOrdersApi({ issuer: server.issuer, fixtures: await loadFixtures(CONFIG_DIR, server.issuer), port: 0, host: '127.0.0.1', logger });
  base = `http://127.0.0.1:${(ordersApi.address() as AddressInfo).port}`;
  support = (await server.signIn('support')).access_token;
  alice = (await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid orders:read', ORDERS)).access_token;
  impersonated = await exchanged(impersonate(support, 'alice', { resource: ORDERS }));
});
afterAll(async () => {
  await new Promise<void>((resolve) => ordersApi.close(() => resolve()));
  await server.close();
});

describe('the reference orders API, built with the toolkit (docs/resource-server.md, docs/reference-server.md)', () => {
  it("answers alice's orders to alice, with no actor", async () => {
    expect(await call('GET', '/orders', alice)).toEqual({ status: 200, challenge: null, body: { subject: 'alice', actor: null, actor_chain: [], orders: ALICE_ORDERS } });
  });

  it("answers alice's orders to support acting as alice, saying who acts", async () => {
    expect(await call('GET', '/orders', impersonated)).toEqual({ status: 200, challenge: null, body: { subject: 'alice', actor: 'support', actor_chain: ['support'], orders: ALICE_ORDERS } });
  });

  it('names every actor of a token orders-api passed on', async () => {
    const chained = await exchanged({ subject_token: impersonated, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API);
    expect((await call('GET', '/orders', chained)).body).toMatchObject({ subject: 'alice', actor: 'orders-api', actor_chain: ['orders-api', 'support'] });
  });

  it('refuses a password change while impersonated (403, insufficient_scope)', async () => {
    expect(await call('POST', '/account/password', impersonated)).toEqual({
      status: 403,
      challenge: `Bearer error="insufficient_scope", error_description="${IMPERSONATED}"`,
      body: { error: 'insufficient_scope', error_description: IMPERSONATED },
    });
  });

  it('lets alice herself change her password', async () => {
    expect(await call('POST', '/account/password', alice)).toEqual({ status: 204, challenge: null, body: null });
  });

  it('asks for a token when none is sent (401)', async () => {
    expect((await call('GET', '/orders')).status).toBe(401);
  });

  it('introspects an opaque token as the orders-api client, and refuses one meant for the billing API', async () => {
    const billing = await exchanged(impersonate(support, 'alice', { resource: BILLING }));
    expect(await call('GET', '/orders', billing)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    expect(denials.at(-1)).toBe('token_audience');
  });

  it('refuses an impersonation JWT once it is revoked, learning it from the revocation feed', async () => {
    const token = await exchanged(impersonate(support, 'alice', { resource: ORDERS }));
    expect((await call('GET', '/orders', token)).status).toBe(200);
    expect((await server.post('/token/revocation', { token })).status).toBe(200);
    await until(async () => (await call('GET', '/orders', token)).status === 401);
    expect(await call('GET', '/orders', token)).toEqual({
      status: 401,
      challenge: 'Bearer error="invalid_token", error_description="the access token is invalid, expired or revoked"',
      body: { error: 'invalid_token', error_description: 'the access token is invalid, expired or revoked' },
    });
    expect(denials.at(-1)).toBe('token_revoked');
  });

  it('says in GET /health that its revocation feed is fresh', async () => {
    const health = await call('GET', '/health');
    expect(health).toMatchObject({ status: 200, body: { status: 'ok', revocationFeed: { state: 'fresh', whenStale: 'refuse', revoked: expect.any(Number) } } });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

describe('npm start (dist/server/main.js)', () => {
  let child: ChildProcess;
  let issuer: string;
  let ordersBase: string;

  beforeAll(async () => {
    const [port, ordersPort] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${port}`;
    ordersBase = `http://127.0.0.1:${ordersPort}`;
    child = spawn(process.execPath, ['dist/server/main.js'], {
      env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), ORDERS_API_PORT: String(ordersPort), DEMO_APP_PORT: 'off', ISSUER: issuer, REDIS_URL: '', REDIS_CLUSTER_NODES: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    for (let i = 0; i < 100 && !output.includes('orders API listening'); i += 1) {
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!output.includes('orders API listening')) throw new Error(`main.js did not start the orders API: ${output}`);
  }, 30_000);
  // Wait for the server to be gone: a child still shutting down holds this jest worker open.
  afterAll(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill();
    await exited;
  });

  it('starts the orders API beside the provider; a token from demo:login with RESOURCE reads the orders', async () => {
    const login = spawnSync(process.execPath, ['dist/server/login-cli.js', 'alice'], {
      env: { ...process.env, NODE_OPTIONS: '', ISSUER: issuer, SCOPE: 'openid orders:read', RESOURCE: ORDERS },
      encoding: 'utf8',
    });
    expect(login.stderr).toBe('');
    const token = login.stdout.trim();
    expect(await call('GET', '/orders', token, ordersBase)).toEqual({ status: 200, challenge: null, body: { subject: 'alice', actor: null, actor_chain: [], orders: ALICE_ORDERS } });
  });
});
