import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import type { JWK } from 'jose';
import Koa from 'koa';
import { createServer, request, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AccessDenied, ConfigurationError, createResourceServer, requireScopes, type ResourceServer, type ResourceServerOptions, type VerifiedAccess } from '../src/resource-server/index.js';
import { randomUUID } from 'node:crypto';
import { connectRedis } from '../src/store/redis.js';
import { testKeys } from './helpers/keys.js';
import { sharedRedisUrl } from './helpers/redis.js';
import { ath, forge, proof, realTokens, type RealTokens } from './helpers/resource-tokens.js';
import { BILLING, ORDERS, ORDERS_API, impersonate, startTestServer, type TestServer } from './helpers/server.js';

/** The toolkit as an attacker tries it: route settings, `act`, `iat`, DPoP `htu` (docs/resource-server.md). */
let server: TestServer;
let providerKey: JWK;
let tokens: RealTokens;
const CREDENTIALS = { clientId: ORDERS_API.id, clientSecret: ORDERS_API.secret };
const INVALID = { error: 'invalid_token', error_description: 'the access token is invalid, expired or revoked' };

beforeAll(async () => {
  providerKey = (await testKeys('provider-key', 'RS256')).privateJwk;
  server = await startTestServer({ jwks: { keys: [providerKey] } });
  tokens = await realTokens(server, BILLING);
});
afterAll(() => server.close());

async function listen(handler: RequestListener): Promise<{ server: Server; base: string; close(): Promise<void> }> {
  const http = createServer(handler);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    server: http,
    base: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => http.close(() => resolve())),
  };
}

/** A GET through node:http, which sends the headers as given (fetch would set its own `Host`). */
function get(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end();
  });
}

const api = (options: Partial<ResourceServerOptions> = {}) => createResourceServer({ issuer: server.issuer, audience: ORDERS, ...options });

async function present(resourceServer: ResourceServer, token: string): Promise<VerifiedAccess | { status: number; code: string; body: unknown }> {
  try {
    return await resourceServer.verifyRequest(new Request('https://api.example.test/orders', { headers: { authorization: `Bearer ${token}` } }));
  } catch (err) {
    if (!(err instanceof AccessDenied)) throw err;
    return { status: err.status, code: err.code, body: err.body() };
  }
}

describe('a route verifies under its own settings, whatever ran before it', () => {
  /** A Koa app with an app-wide local instance, then a route of another instance. */
  async function koaApp(routeApi: ResourceServer, path: string) {
    const wide = api({ publicOrigin: 'http://placeholder.test' });
    const app = new Koa();
    app.use(wide.koa());
    const route = routeApi.koa(requireScopes('orders:read'));
    app.use(async (ctx) => {
      if (ctx.path !== path) return;
      await route(ctx, async () => {
        ctx.body = { subject: (ctx.state.access as VerifiedAccess).subject };
      });
    });
    return listen(app.callback());
  }

  it('refuses a revoked JWT at a route that introspects, behind an app-wide instance that verifies locally', async () => {
    const issued = await server.exchange(impersonate(tokens.support, 'alice', { resource: ORDERS }));
    const revoked = issued.body.access_token as string;
    expect((await server.post('/token/revocation', { token: revoked })).status).toBe(200);
    const http = await koaApp(api({ mode: 'introspect', introspection: CREDENTIALS }), '/orders');
    try {
      expect(await get(http.base, '/orders', { authorization: `Bearer ${revoked}` })).toEqual({ status: 401, body: INVALID });
      expect(await get(http.base, '/orders', { authorization: `Bearer ${tokens.impersonated}` })).toEqual({ status: 200, body: { subject: 'alice' } });
    } finally {
      await http.close();
    }
  });

  it('refuses a bearer token at a route that requires DPoP, behind an app-wide instance that does not', async () => {
    const http = await koaApp(api({ dpop: { required: true }, publicOrigin: 'http://127.0.0.1' }), '/orders');
    try {
      expect(await get(http.base, '/orders', { authorization: `Bearer ${tokens.impersonated}` })).toEqual({
        status: 401,
        body: { error: 'invalid_token', error_description: 'this API accepts only DPoP-bound access tokens' },
      });
    } finally {
      await http.close();
    }
  });

  it('refuses an orders token at a billing route behind an app-wide orders instance (Express)', async () => {
    const wide = api();
    const billing = createResourceServer({ issuer: server.issuer, audience: BILLING });
    const app = express();
    app.use(wide.express());
    app.get('/invoices', billing.express(), (_req, res) => {
      res.json({ subject: res.locals.access!.subject });
    });
    const http = await listen(app);
    try {
      expect(await get(http.base, '/invoices', { authorization: `Bearer ${tokens.impersonated}` })).toEqual({ status: 401, body: INVALID });
    } finally {
      await http.close();
    }
  });

  it('reuses what an instance with the same settings verified: one DPoP proof serves both middlewares', async () => {
    let handler: RequestListener = () => undefined;
    const http = await listen((req, res) => handler(req, res));
    const base = http.base;
    const wide = api({ publicOrigin: base });
    const route = api({ publicOrigin: base });
    const app = new Koa();
    app.use(wide.koa());
    const guarded = route.koa(requireScopes('orders:read'));
    app.use((ctx) =>
      guarded(ctx, async () => {
        ctx.body = { subject: (ctx.state.access as VerifiedAccess).subject };
      }),
    );
    handler = app.callback();
    try {
      const dpop = await proof(tokens.dpopKey, 'GET', `${base}/orders`, { ath: ath(tokens.bound) });
      expect(await get(base, '/orders', { authorization: `DPoP ${tokens.bound}`, dpop })).toEqual({ status: 200, body: { subject: 'alice' } });
    } finally {
      await http.close();
    }
  });
});

describe('a nested act is read whole or refused', () => {
  const ACT_REFUSED = {
    status: 401,
    code: 'token_act',
    body: { error: 'invalid_token', error_description: 'the access token names who acts (act) in a form that cannot be read whole, or names too many actors' },
  };

  it('refuses a token whose inner actor is malformed, rather than drop the person who started it', async () => {
    const token = await forge(providerKey, { ...tokens.claims, act: { sub: 'orders-api', act: { sub: 42 } } });
    expect(await present(api(), token)).toEqual(ACT_REFUSED);
  });

  it('refuses a token whose act nests more than 10 actors', async () => {
    let act: Record<string, unknown> = { sub: 'support' };
    for (let i = 0; i < 20; i += 1) act = { sub: `service-${i}`, act };
    const token = await forge(providerKey, { ...tokens.claims, act });
    expect(await present(api(), token)).toEqual(ACT_REFUSED);
  });

  it('still reads a well-formed chain whole', async () => {
    expect(await present(api(), tokens.chained)).toMatchObject({ actor: 'orders-api', actorChain: [{ sub: 'orders-api' }, { sub: 'support' }] });
  });
});

describe('a token issued in the future', () => {
  it('is refused (iat beyond the clock tolerance)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await forge(providerKey, { ...tokens.claims, iat: now + 10 * 365 * 24 * 3600 });
    expect(await present(api(), token)).toEqual({ status: 401, code: 'token_not_yet_valid', body: INVALID });
  });

  it('is accepted within the clock tolerance', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await forge(providerKey, { ...tokens.claims, iat: now + 3 });
    expect(await present(api(), token)).toMatchObject({ subject: 'alice' });
  });
});

describe('DPoP htu is checked against the configured origin, never the Host header', () => {
  /** What an API with these options answers a proof made for the host the caller names in `Host`. */
  async function answerToSpoofedHost(options: Parameters<typeof api>[0] = {}) {
    const app = new Koa();
    app.use(api(options).koa());
    app.use((ctx) => {
      ctx.body = { subject: (ctx.state.access as VerifiedAccess).subject };
    });
    const http = await listen(app.callback());
    try {
      const dpop = await proof(tokens.dpopKey, 'GET', 'http://evil.example/orders', { ath: ath(tokens.bound) });
      return await get(http.base, '/orders', { authorization: `DPoP ${tokens.bound}`, dpop, host: 'evil.example' });
    } finally {
      await http.close();
    }
  }

  it('refuses a proof made for a host the client chose when no publicOrigin is configured', async () => {
    expect(await answerToSpoofedHost()).toEqual({
      status: 401,
      body: { error: 'invalid_token', error_description: 'this API cannot check DPoP proofs: its public origin is not configured' },
    });
  });

  it('refuses a proof for another host than publicOrigin, whatever the Host header says', async () => {
    expect(await answerToSpoofedHost({ publicOrigin: 'https://api.example.test' })).toEqual({
      status: 401,
      body: { error: 'invalid_dpop_proof', error_description: 'invalid DPoP proof' },
    });
  });

  it('refuses to start when DPoP is required and publicOrigin is not given', () => {
    expect(() => api({ dpop: { required: true } })).toThrow(ConfigurationError);
    expect(() => api({ dpop: { required: true } })).toThrow(
      'invalid resource server options: publicOrigin: dpop.required needs publicOrigin: DPoP proofs (RFC 9449 §4.3 htu) are checked against it, never against the Host header',
    );
  });
});

describe('a DPoP replay cache shared on Redis', () => {
  it('refuses at a second API instance a proof the first one accepted', async () => {
    const backend = await connectRedis(await sharedRedisUrl());
    const prefix = `dpop-test:${randomUUID()}:`;
    try {
      const origin = 'https://api.example.test';
      const instances = [0, 1].map(() => api({ publicOrigin: origin, dpop: { replayCache: backend.replayCache(prefix) } }));
      const dpop = await proof(tokens.dpopKey, 'GET', `${origin}/orders`, { ath: ath(tokens.bound) });
      const send = (instance: ResourceServer) =>
        instance.verifyRequest(new Request(`${origin}/orders`, { headers: { authorization: `DPoP ${tokens.bound}`, dpop } })).then(
          (access) => access.subject,
          (err: AccessDenied) => ({ status: err.status, code: err.code, body: err.body() }),
        );
      expect(await send(instances[0]!)).toBe('alice');
      expect(await send(instances[1]!)).toEqual({ status: 401, code: 'dpop_proof_replayed', body: { error: 'invalid_dpop_proof', error_description: 'invalid DPoP proof' } });
    } finally {
      await backend.close();
    }
  });
});
