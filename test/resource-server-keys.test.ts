import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { AccessDenied, createResourceServer, type ResourceServer } from '../src/resource-server/index.js';
import { now, testKeys } from './helpers/keys.js';
import { forge } from './helpers/resource-tokens.js';
import { ORDERS } from './helpers/server.js';

const ISSUER = 'https://issuer.example.test';

/** A JWKS endpoint whose key set a test rotates, counting the fetches. */
let jwksServer: Server;
let jwksUri: string;
let published: { keys: JWK[] };
let fetches = 0;
let keyA: { privateJwk: JWK; jwks: { keys: JWK[] } };
let keyB: { privateJwk: JWK; jwks: { keys: JWK[] } };
let keyC: { privateJwk: JWK; jwks: { keys: JWK[] } };

beforeAll(async () => {
  [keyA, keyB, keyC] = await Promise.all([testKeys('key-a'), testKeys('key-b'), testKeys('key-c')]);
  jwksServer = createServer((_req, res) => {
    fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(published));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
});
afterAll(() => new Promise<void>((resolve) => jwksServer.close(() => resolve())));

// Only Date is faked: jose's cache and cooldown read Date.now(); sockets and timers stay real.
const REAL_TIMERS = ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] as const;
let t0: number;
beforeEach(() => {
  jest.useFakeTimers({ doNotFake: [...REAL_TIMERS] });
  t0 = Date.now();
  published = keyA.jwks;
  fetches = 0;
});
afterEach(() => {
  jest.useRealTimers();
});

const at = (seconds: number) => jest.setSystemTime(t0 + seconds * 1000);

function token(key: { privateJwk: JWK }): Promise<string> {
  return forge(key.privateJwk, { iss: ISSUER, aud: ORDERS, sub: 'alice', client_id: 'demo-app', jti: `j-${Math.random()}`, iat: now(), exp: now() + 3600, scope: 'orders:read' });
}

async function outcome(api: ResourceServer, jwt: string): Promise<string> {
  try {
    return (await api.verifyRequest(new Request('https://api.example.test/orders', { headers: { authorization: `Bearer ${jwt}` } }))).subject;
  } catch (err) {
    if (err instanceof AccessDenied) return err.code;
    throw err;
  }
}

const resourceServer = () => createResourceServer({ issuer: ISSUER, audience: ORDERS, jwks: { uri: jwksUri } });

describe("the issuer's JWKS through jose's remote key set (docs/resource-server.md)", () => {
  it('fetches the key set once and serves later tokens from its cache', async () => {
    const api = resourceServer();
    for (let i = 0; i < 3; i += 1) expect(await outcome(api, await token(keyA))).toBe('alice');
    expect(fetches).toBe(1);
  });

  it('fetches a rotated-in key once, and no more often than the cooldown allows', async () => {
    const api = resourceServer();
    expect(await outcome(api, await token(keyA))).toBe('alice');
    published = { keys: [...keyA.jwks.keys, ...keyB.jwks.keys] };

    at(1); // within the 30 s cooldown: an unknown kid does not refetch
    expect(await outcome(api, await token(keyB))).toBe('token_unknown_key');
    expect(fetches).toBe(1);

    at(31); // cooldown over: the new kid is fetched once
    expect(await outcome(api, await token(keyB))).toBe('alice');
    expect(await outcome(api, await token(keyB))).toBe('alice');
    expect(fetches).toBe(2);

    at(32); // a flood of unknown kids right after that fetch costs nothing
    const flood = await Promise.all(Array.from({ length: 10 }, async () => outcome(api, await token(keyC))));
    expect(new Set(flood)).toEqual(new Set(['token_unknown_key']));
    expect(fetches).toBe(2);

    at(62); // and after the cooldown, ten at once share one refetch
    const again = await Promise.all(Array.from({ length: 10 }, async () => outcome(api, await token(keyC))));
    expect(new Set(again)).toEqual(new Set(['token_unknown_key']));
    expect(fetches).toBe(3);
  });

  it('answers 503 issuer_unavailable when the key set cannot be fetched', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const uri = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const api = createResourceServer({ issuer: ISSUER, audience: ORDERS, jwks: { uri } });
    expect(await outcome(api, await token(keyA))).toBe('issuer_unavailable');
  });
});
