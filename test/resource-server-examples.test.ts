import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { ORDERS, SUPPORT_CONSOLE, impersonate, startTestServer, type TestServer } from './helpers/server.js';

/** The examples of docs/resource-server.md ("Protecting your API"), as files: loaded against a test provider and run. */
const EXAMPLES = ['koa', 'express', 'fetch'] as const;
type Example = (typeof EXAMPLES)[number];

let server: TestServer;
let alice: string;
let impersonated: string;
const servers: Server[] = [];
const send: Record<Example, (method: string, path: string, token?: string) => Promise<Response>> = {} as never;

beforeAll(async () => {
  server = await startTestServer();
  const support = (await server.signIn('support')).access_token;
  alice = (await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid orders:read', ORDERS)).access_token;
  const result = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }));
  impersonated = result.body.access_token as string;

  // The examples read ISSUER and PORT when loaded, as they would when pasted and run.
  const saved = { ISSUER: process.env.ISSUER, PORT: process.env.PORT };
  Object.assign(process.env, { ISSUER: server.issuer, PORT: '0' });
  try {
    for (const name of ['koa', 'express'] as const) {
      const { server: http } = (await import(`../examples/resource-server/${name}.js`)) as { server: Server };
      servers.push(http);
      if (!http.listening) await once(http, 'listening');
      const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      send[name] = (method, path, token) => fetch(`${base}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    }
    const { handle } = (await import('../examples/resource-server/fetch.js')) as { handle: (request: Request) => Promise<Response> };
    send.fetch = (method, path, token) => handle(new Request(`https://api.example.test${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} }));
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await server.close();
});

async function answer(response: Response) {
  const text = await response.text();
  return { status: response.status, challenge: response.headers.get('www-authenticate'), body: text ? JSON.parse(text) : null };
}

const IMPERSONATED = 'this action is not allowed while someone else acts for the user';

describe.each(EXAMPLES)('the %s example (docs/resource-server.md, Protecting your API)', (name) => {
  it('answers who acts on GET /orders', async () => {
    expect(await answer(await send[name]('GET', '/orders', impersonated))).toEqual({ status: 200, challenge: null, body: { subject: 'alice', actor: 'support' } });
    expect(await answer(await send[name]('GET', '/orders', alice))).toEqual({ status: 200, challenge: null, body: { subject: 'alice', actor: null } });
  });

  it('refuses POST /account/password while impersonated, and lets alice through', async () => {
    expect(await answer(await send[name]('POST', '/account/password', impersonated))).toEqual({
      status: 403,
      challenge: `Bearer error="insufficient_scope", error_description="${IMPERSONATED}"`,
      body: { error: 'insufficient_scope', error_description: IMPERSONATED },
    });
    expect((await send[name]('POST', '/account/password', alice)).status).toBe(204);
  });

  it('asks for a token (401 with WWW-Authenticate)', async () => {
    const refused = await answer(await send[name]('GET', '/orders'));
    expect(refused).toEqual({ status: 401, challenge: 'Bearer, DPoP algs="ES256 ES384 PS256 RS256 EdDSA Ed25519"', body: { error_description: 'an access token is required' } });
  });

  it('is pasted into docs/resource-server.md as it is', () => {
    const readme = readFileSync('docs/resource-server.md', 'utf8');
    const path = `examples/resource-server/${name}.ts`;
    const block = new RegExp(`<!-- example: ${path} -->\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\n`).exec(readme)?.[1];
    expect(block).toBe(readFileSync(path, 'utf8'));
  });
});

describe('the package export oidc-provider-token-exchange/resource-server', () => {
  it('resolves through package.json exports once dist/ is built', () => {
    const script = "const m = await import('oidc-provider-token-exchange/resource-server'); console.log(Object.keys(m).sort().join(' '));";
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split(' ')).toEqual(
      expect.arrayContaining(['AccessDenied', 'ConfigurationError', 'MemoryReplayCache', 'createResourceServer', 'denyWhenImpersonated', 'requireScopes']),
    );
  });

  it('imports nothing at run time but jose and zod (no oidc-provider, koa, express or Node built-ins)', () => {
    const seen = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, 'utf8');
      for (const [, specifier] of source.matchAll(/^\s*(?:import|export)\s(?:[^'"]*?\sfrom\s)?['"]([^'"]+)['"]/gm)) {
        if (specifier!.startsWith('.')) visit(join(dirname(file), specifier!));
        else bare.add(specifier!);
      }
    };
    visit('dist/resource-server/index.js');
    expect(seen.size).toBeGreaterThan(5);
    expect([...bare].sort()).toEqual(['jose', 'zod']);
  });
});
