import { describe, expect, it } from '@jest/globals';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { ConfigurationError, tokenExchange } from '../src/index.js';
import { createReferenceServer } from '../src/server/app.js';
import { loadFixtures } from '../src/server/fixtures.js';
import { CONFIG_DIR } from './helpers/server.js';

const accounts = { findAccount: async () => undefined };
const jwks = { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI', kid: 'k', use: 'sig', alg: 'ES256' }] };
/** A host configuration without oidc-provider's development-only interactions (and their warnings). */
const noDevInteractions = { devInteractions: { enabled: false } };

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}

describe('options are validated at start-up, naming the bad field', () => {
  it('rejects a lifetime ceiling above 3600 seconds', () => {
    expect(messageOf(() => tokenExchange({ accounts, policy: { maxLifetimeSeconds: 7200 } }))).toBe(
      'invalid token exchange options: policy.maxLifetimeSeconds: must be at most 3600 seconds (the hard maximum of an impersonation)',
    );
  });

  it('rejects a ticket lifetime above 600 seconds (docs/browser-impersonation.md §1)', () => {
    expect(messageOf(() => tokenExchange({ accounts, tickets: { lifetimeSeconds: 601 } }))).toBe(
      'invalid token exchange options: tickets.lifetimeSeconds: must be at most 600 seconds (the hard maximum of a ticket)',
    );
  });

  it('rejects a loopback initiate-login URI that is not on a loopback host', async () => {
    const exchange = tokenExchange({ accounts, policy: { enabled: true } });
    const provider = new Provider('http://localhost:3999', exchange.configuration({ jwks, findAccount: async () => undefined, clients: [], features: noDevInteractions }));
    exchange.register(provider);
    await expect(provider.Client.validate({ client_id: 'x', client_secret: 'secret-secret-secret', redirect_uris: ['https://rp.example/cb'], id_token_signed_response_alg: 'ES256', initiate_login_uri_loopback: 'http://rp.example/login' })).rejects.toMatchObject({
      error: 'invalid_client_metadata',
      error_description: 'initiate_login_uri_loopback must be an http(s) URL on a loopback host (localhost, 127.0.0.1, [::1])',
    });
    await expect(provider.Client.validate({ client_id: 'x', client_secret: 'secret-secret-secret', redirect_uris: ['https://rp.example/cb'], id_token_signed_response_alg: 'ES256', initiate_login_uri_loopback: 'http://localhost:3001/login' })).resolves.toBeUndefined();
  });

  it('rejects a missing account directory', () => {
    expect(messageOf(() => tokenExchange({} as never))).toBe(
      'invalid token exchange options: accounts: must be an AccountDirectory (an object with findAccount(id))',
    );
  });

  it('rejects a misspelt policy field', () => {
    expect(messageOf(() => tokenExchange({ accounts, policy: { enabeld: true } as never }))).toMatch(/^invalid token exchange options: policy: .*"enabeld"/);
  });

  it('rejects a trusted issuer with both jwks and jwksUri', () => {
    expect(
      messageOf(() => tokenExchange({ accounts, trustedIssuers: [{ issuer: 'https://idp.example', jwks: { keys: [{ kty: 'EC' }] }, jwksUri: 'https://idp.example/jwks' }] })),
    ).toBe('invalid token exchange options: trustedIssuers.0: give exactly one of jwks or jwksUri');
  });

  it('starts disabled, with the docs/policy.md defaults', () => {
    const { policy } = tokenExchange({ accounts }).options;
    expect(policy).toEqual({
      enabled: false,
      actorRoles: ['impersonator'],
      globalRole: 'global_impersonator',
      protectedRoles: ['admin'],
      requireReason: true,
      maxLifetimeSeconds: 3600,
      scopes: { deny: [] },
      audiences: {},
      maxActors: 3,
      rateLimit: { points: 30, durationSeconds: 60 },
      clientRateLimit: { points: 3000, durationSeconds: 60 },
      unauthenticatedRateLimit: { points: 60, durationSeconds: 60 },
      requireSubjectApproval: false,
      readOnlyRoles: [],
      actorProfiles: {},
    });
  });

  it('needs the provider signing keys in the configuration', () => {
    expect(messageOf(() => tokenExchange({ accounts }).configuration({ findAccount: async () => undefined }))).toBe(
      'token exchange needs configuration.jwks: it verifies JWTs this provider signed',
    );
  });

  it('enables introspection and revocation when the host leaves them out (RFC 7662, RFC 7009)', async () => {
    const exchange = tokenExchange({ accounts, policy: { enabled: true } });
    const client = { client_id: 'rs', client_secret: 'rs-secret-rs-secret', grant_types: [], response_types: [], redirect_uris: [], id_token_signed_response_alg: 'ES256' as const };
    const provider = new Provider('http://localhost:3999', exchange.configuration({ jwks, findAccount: async () => undefined, clients: [client], features: noDevInteractions }));
    exchange.register(provider);
    const http = createServer(provider.callback());
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      const post = async (path: string) => {
        const response = await fetch(`${base}${path}`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from('rs:rs-secret-rs-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: 'token=not-a-token',
        });
        return { status: response.status, body: await response.text() };
      };
      expect(await post('/token/introspection')).toEqual({ status: 200, body: '{"active":false}' });
      expect(await post('/token/revocation')).toEqual({ status: 200, body: '' });
    } finally {
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it.each(['introspection', 'revocation'] as const)('refuses a host that turned %s off, naming the feature', (feature) => {
    const host = { jwks, findAccount: async () => undefined, features: { ...noDevInteractions, [feature]: { enabled: false } } };
    expect(messageOf(() => tokenExchange({ accounts }).configuration(host))).toBe(
      `token exchange needs features.${feature}: exchanged tokens are ${feature === 'introspection' ? 'introspected' : 'revoked'} there (set enabled: true, or leave it out)`,
    );
  });

  it('refuses to register on a provider not built from its configuration', () => {
    const provider = new Provider('http://localhost:3999', { jwks, features: noDevInteractions });
    expect(messageOf(() => tokenExchange({ accounts }).register(provider))).toBe(
      'build the provider from exchange.configuration(yourConfiguration) before exchange.register(provider)',
    );
  });

  it('stops the reference server from starting with a ceiling above 3600', async () => {
    const fixtures = await loadFixtures(CONFIG_DIR, 'http://localhost:3000');
    await expect(createReferenceServer({ issuer: 'http://localhost:3000', fixtures, policy: { maxLifetimeSeconds: 3601 } })).rejects.toThrow(
      'policy.maxLifetimeSeconds: must be at most 3600 seconds',
    );
  });
});
