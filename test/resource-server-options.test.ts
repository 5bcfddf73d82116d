import { describe, expect, it } from '@jest/globals';
import { resolveResourceServerOptions } from '../src/resource-server/options.js';
import { ConfigurationError, createResourceServer, MemoryReplayCache, requireScopes } from '../src/resource-server/index.js';

const BASE = { issuer: 'https://id.example.test', audience: 'https://api.example.test/orders' };

function messageOf(options: unknown): string {
  try {
    createResourceServer(options as Parameters<typeof createResourceServer>[0]);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationError);
    return (err as Error).message;
  }
  throw new Error('no ConfigurationError');
}

describe('resource-server options (docs/resource-server.md)', () => {
  it.each(['none', 'HS256'])('rejects %s in the algorithm allow-list', (alg) => {
    expect(messageOf({ ...BASE, algorithms: ['RS256', alg] })).toBe('invalid resource server options: algorithms.1: must be an asymmetric JWS algorithm (never none, never HS*)');
  });

  it('rejects HS256 for DPoP proofs too', () => {
    expect(messageOf({ ...BASE, dpop: { algorithms: ['HS256'] } })).toBe('invalid resource server options: dpop.algorithms.0: must be an asymmetric JWS algorithm (never none, never HS*)');
  });

  it('refuses a revocation feed without client credentials', () => {
    expect(messageOf({ ...BASE, revocationFeed: {} })).toBe("invalid resource server options: revocationFeed.clientId: needs the resource server's client credentials (here or in introspection)");
  });

  it("refuses whenStale: 'introspect' without introspection credentials", () => {
    expect(messageOf({ ...BASE, revocationFeed: { clientId: 'orders-api', clientSecret: 's', whenStale: 'introspect' } })).toBe(
      "invalid resource server options: revocationFeed.whenStale: 'introspect' needs introspection client credentials",
    );
  });

  it("refuses a revocation feed with mode 'introspect', which introspects every token anyway", () => {
    const introspection = { clientId: 'orders-api', clientSecret: 's' };
    expect(messageOf({ ...BASE, mode: 'introspect', introspection, revocationFeed: {} })).toBe("invalid resource server options: revocationFeed: serves JWTs verified locally: mode 'introspect' introspects every token");
  });

  it('bounds the feed poll interval at 10 seconds', () => {
    expect(messageOf({ ...BASE, revocationFeed: { clientId: 'orders-api', clientSecret: 's', pollIntervalMs: 60_000 } })).toBe('invalid resource server options: revocationFeed.pollIntervalMs: must be at most 10000 ms');
  });

  it('bounds a receipts batch at 500, what the provider takes', () => {
    expect(messageOf({ ...BASE, introspection: { clientId: 'a', clientSecret: 'b' }, receipts: { batchSize: 501 } })).toBe('invalid resource server options: receipts.batchSize: must be at most 500 (the provider takes at most 500 a batch)');
  });

  it('bounds the clock tolerance at 60 seconds', () => {
    expect(messageOf({ ...BASE, clockToleranceSeconds: 300 })).toBe('invalid resource server options: clockToleranceSeconds: must be at most 60 seconds');
  });

  it('bounds the introspection staleness at one hour', () => {
    expect(messageOf({ ...BASE, introspection: { clientId: 'a', clientSecret: 'b', maxStalenessSeconds: 7200 } })).toBe(
      'invalid resource server options: introspection.maxStalenessSeconds: must be at most 3600 seconds',
    );
  });

  it('refuses an introspecting mode without client credentials', () => {
    expect(messageOf({ ...BASE, mode: 'introspect' })).toBe("invalid resource server options: introspection: mode 'introspect' needs introspection client credentials");
  });

  it('verifies JWTs locally by default, and introspects opaque tokens once credentials are given', () => {
    expect(resolveResourceServerOptions(BASE)).toMatchObject({ mode: 'jwt', algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'], clockToleranceSeconds: 5, jwks: { cooldownSeconds: 30 } });
    expect(resolveResourceServerOptions({ ...BASE, introspection: { clientId: 'a', clientSecret: 'b' } })).toMatchObject({
      mode: 'auto',
      introspection: { maxStalenessSeconds: 30, authMethod: 'client_secret_basic' },
    });
  });

  it('requires a scope in requireScopes()', () => {
    expect(() => requireScopes()).toThrow('requireScopes needs at least one scope');
  });
});

describe('the in-memory DPoP replay cache', () => {
  it('remembers a key until it expires', () => {
    let clock = 1_000;
    const cache = new MemoryReplayCache({ now: () => clock });
    expect(cache.remember('k', 2_000)).toBe(true);
    expect(cache.remember('k', 2_000)).toBe(false);
    clock = 2_000;
    expect(cache.remember('k', 3_000)).toBe(true);
  });

  it('refuses new proofs when full of live ones rather than forget one', () => {
    let clock = 1_000;
    const cache = new MemoryReplayCache({ maxEntries: 2, now: () => clock });
    expect([cache.remember('a', 5_000), cache.remember('b', 2_000), cache.remember('c', 5_000)]).toEqual([true, true, false]);
    clock = 2_000; // b expired: room again
    expect(cache.remember('c', 5_000)).toBe(true);
    expect(cache.size).toBe(2);
  });
});
