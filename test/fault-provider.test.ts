import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import type { ChainedAuditRecord } from '../src/audit/chain.js';
import { readAll } from '../src/audit/query.js';
import { auditableTokenId } from '../src/exchange/issue.js';
import { redeemCode, startAuthorization } from '../src/server/console-client.js';
import { signInThroughLoginPage } from '../src/server/demo-login.js';
import { KeyLayout } from '../src/store/index.js';
import { connectRedis, type RedisBackend } from '../src/store/redis.js';
import { startRedisServer } from './helpers/redis.js';
import { BILLING, ORDERS, ORDERS_API, SUPPORT_CONSOLE, TOKEN_EXCHANGE_GRANT, impersonate } from './helpers/server.js';

/*
 * Fault test (issue 8): the reference server (dist/, as `npm start` runs it) on a Redis of this
 * file's own is killed with SIGKILL in the middle of a load of exchanges. Every token it returned
 * has its audit record and its store entry, and after a restart the audit chain verifies.
 */

const PREFIX = 'kill:';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let redis: Awaited<ReturnType<typeof startRedisServer>>;
let backend: RedisBackend;
let configDir: string;
let port: number;
let base: string;
let child: ChildProcess | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
}

async function startProvider(): Promise<ChildProcess> {
  const started = spawn(process.execPath, ['dist/server/main.js'], {
    env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), ISSUER: base, REDIS_URL: redis.url, REDIS_PREFIX: PREFIX, CONFIG_DIR: configDir, LOG_LEVEL: 'warn', DEMO_APP_PORT: 'off', ORDERS_API_PORT: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  started.stdout!.on('data', (chunk) => (output += chunk));
  started.stderr!.on('data', (chunk) => (output += chunk));
  for (let i = 0; i < 150; i += 1) {
    if (await fetch(`${base}/.well-known/openid-configuration`).then((r) => r.ok, () => false)) return started;
    if (started.exitCode !== null) break;
    await sleep(100);
  }
  started.kill('SIGKILL');
  throw new Error(`the reference server did not start: ${output}`);
}

async function post(path: string, params: Record<string, string>, client: { id: string; secret: string }) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function signInSupport(): Promise<string> {
  const client = { issuer: base, clientId: SUPPORT_CONSOLE.id, clientSecret: SUPPORT_CONSOLE.secret, redirectUri: `${base}/admin/callback` };
  const start = startAuthorization(client, 'openid');
  const callback = await signInThroughLoginPage({ authorizationUrl: start.url, redirectUri: client.redirectUri, login: 'support', password: 'demo-password' });
  return (await redeemCode(client, callback.searchParams.get('code')!, start.verifier)).access_token;
}

beforeAll(async () => {
  redis = await startRedisServer();
  backend = await connectRedis(redis.url);
  // The shipped configuration, with the per-actor rate limit off: the load comes from one actor.
  configDir = mkdtempSync(join(tmpdir(), 'fault-config-'));
  cpSync('config', configDir, { recursive: true });
  const exchange = JSON.parse(readFileSync(join(configDir, 'impersonation.json'), 'utf8')) as { policy: Record<string, unknown> };
  exchange.policy.rateLimit = false;
  writeFileSync(join(configDir, 'impersonation.json'), JSON.stringify(exchange));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
}, 30_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  await backend.close();
  await redis.stop();
  rmSync(configDir, { recursive: true, force: true });
});

describe('the provider killed with SIGKILL under load (docs/audit.md)', () => {
  it('returned no token without its audit record and store entry, and the chain verifies after a restart', async () => {
    child = await startProvider();
    const actor = await signInSupport();
    const returned: string[] = [];
    let running = true;
    const loops = Array.from({ length: 4 }, async (_, worker) => {
      for (let n = 0; running; n += 1) {
        try {
          const result = await post('/token', { grant_type: TOKEN_EXCHANGE_GRANT, ...(impersonate(actor, 'alice', { resource: (n + worker) % 2 ? ORDERS : BILLING }) as Record<string, string>) }, SUPPORT_CONSOLE);
          if (result.status === 200) returned.push(result.body.access_token as string);
        } catch {
          return; // the connection died with the process
        }
      }
    });
    const deadline = Date.now() + 20_000;
    while (returned.length < 40) {
      if (Date.now() > deadline) throw new Error(`only ${returned.length} tokens in 20 s`);
      await sleep(20);
    }
    child.kill('SIGKILL');
    await once(child, 'exit');
    running = false;
    await Promise.all(loops);

    const keys = new KeyLayout(PREFIX);
    const records: ChainedAuditRecord[] = [];
    for await (const record of readAll(backend.auditLog(PREFIX))) records.push(record);
    const granted = new Set(records.filter((r) => r.event === 'exchange.granted').map((r) => r.token_id));
    for (const token of returned) {
      if (token.includes('.')) {
        const jti = String(decodeJwt(token).jti);
        expect(granted.has(jti)).toBe(true);
        expect(await backend.get(keys.jwt(jti))).toEqual(expect.any(String));
      } else {
        expect(granted.has(auditableTokenId(token, 'opaque'))).toBe(true);
        expect(await backend.getEntity(keys.entity('AccessToken', token))).toBeDefined();
      }
    }

    child = await startProvider();
    const verified = spawnSync(process.execPath, ['dist/server/audit-cli.js', 'verify'], { env: { ...process.env, NODE_OPTIONS: '', REDIS_URL: redis.url, REDIS_PREFIX: PREFIX }, encoding: 'utf8' });
    expect({ status: verified.status, out: verified.stdout }).toEqual({ status: 0, out: `ok: ${records.length} records, chain intact\n` });
    for (const token of [returned[0]!, returned.at(-1)!]) {
      expect((await post('/token/introspection', { token }, ORDERS_API)).body).toMatchObject({ active: true, sub: 'alice', act: { sub: 'support' } });
    }
  }, 60_000);
});
