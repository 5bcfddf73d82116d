import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { expectRefusal } from './helpers/refusal.js';
import { now, signJwt, testKeys } from './helpers/keys.js';
import { startTestServer, TokenType, impersonate, SUPPORT_CONSOLE, type TestServer } from './helpers/server.js';
import type { JWK } from 'jose';
import { randomUUID } from 'node:crypto';
import { createStore } from '../src/store/index.js';
import { connectRedis } from '../src/store/redis.js';
import { deleteKeysWithPrefix, sharedRedisUrl } from './helpers/redis.js';

const invalidActor = (description: string, rule: string) => ({ status: 400, error: 'invalid_request', description, rule });
const INACTIVE = 'actor_token is invalid, expired or revoked';

let server: TestServer;
let providerKey: JWK;
let support: string;

beforeAll(async () => {
  const keys = await testKeys('provider-key', 'RS256');
  providerKey = keys.privateJwk;
  server = await startTestServer({ jwks: { keys: [providerKey] } });
  support = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

describe('actor token validity (docs/grant.md)', () => {
  it('refuses an actor token the provider never issued', async () => {
    await expectRefusal(server, () => server.exchange(impersonate('not-a-token-we-issued', 'alice')), invalidActor(INACTIVE, 'actor_token_invalid'));
  });

  it('refuses a revoked actor access token', async () => {
    const token = (await server.signIn('support')).access_token;
    const revoked = await server.post('/token/revocation', { token, token_type_hint: 'access_token' });
    expect(revoked.status).toBe(200);
    await expectRefusal(server, () => server.exchange(impersonate(token, 'alice')), invalidActor(INACTIVE, 'actor_token_invalid'));
  });

  it('refuses an expired actor ID token', async () => {
    const idToken = await signJwt(providerKey, { iss: server.issuer, sub: 'support', aud: SUPPORT_CONSOLE.id, iat: now() - 7200, exp: now() - 3600 });
    await expectRefusal(
      server,
      () => server.exchange(impersonate(idToken, 'alice', { actor_token_type: TokenType.idToken })),
      invalidActor(INACTIVE, 'actor_token_invalid'),
    );
  });

  it.each(['auth_time', 'iat'])('refuses an actor ID token whose %s lies in the future', async (claim) => {
    const idToken = await signJwt(providerKey, { iss: server.issuer, sub: 'support', aud: SUPPORT_CONSOLE.id, iat: now(), auth_time: now(), exp: now() + 7200, [claim]: now() + 3600 });
    await expectRefusal(
      server,
      () => server.exchange(impersonate(idToken, 'alice', { actor_token_type: TokenType.idToken })),
      invalidActor(INACTIVE, 'actor_token_invalid'),
    );
  });

  it('refuses an actor JWT signed by a key the provider does not hold', async () => {
    const stranger = await testKeys('provider-key', 'RS256');
    const idToken = await signJwt(stranger.privateJwk, { iss: server.issuer, sub: 'support', aud: SUPPORT_CONSOLE.id, iat: now(), exp: now() + 600 });
    await expectRefusal(
      server,
      () => server.exchange(impersonate(idToken, 'alice', { actor_token_type: TokenType.idToken })),
      invalidActor(INACTIVE, 'actor_token_invalid'),
    );
  });

  it('refuses an actor JWT from an issuer that is not trusted', async () => {
    const idToken = await signJwt(providerKey, { iss: 'https://elsewhere.example', sub: 'support', aud: SUPPORT_CONSOLE.id, iat: now(), exp: now() + 600 });
    await expectRefusal(
      server,
      () => server.exchange(impersonate(idToken, 'alice', { actor_token_type: TokenType.jwt })),
      invalidActor(INACTIVE, 'actor_token_invalid'),
    );
  });

  it('refuses an actor token issued to another client', async () => {
    const { access_token: token } = await server.signIn('support', { id: 'demo-app', secret: 'demo-app-secret', redirectUri: 'http://localhost:3001/callback' });
    await expectRefusal(server, () => server.exchange(impersonate(token, 'alice')), invalidActor('actor_token was not issued to this client', 'actor_token_audience'));
  });

  it('refuses an actor ID token whose audience is another client', async () => {
    const idToken = await signJwt(providerKey, { iss: server.issuer, sub: 'support', aud: 'demo-app', iat: now(), exp: now() + 600 });
    await expectRefusal(
      server,
      () => server.exchange(impersonate(idToken, 'alice', { actor_token_type: TokenType.idToken })),
      invalidActor('actor_token was not issued to this client', 'actor_token_audience'),
    );
  });

  it('refuses an actor token that itself carries act', async () => {
    const impersonated = await server.exchange(impersonate(support, 'alice', { scope: 'openid profile' }));
    expect(impersonated.status).toBe(200);
    await expectRefusal(
      server,
      () => server.exchange(impersonate(impersonated.body.access_token as string, 'bob')),
      invalidActor('actor_token must not itself carry an act claim', 'actor_token_carries_act'),
    );
  });

  it('refuses a client-credentials actor starting an impersonation', async () => {
    const service = { id: 'service-x', secret: 'service-x-secret' };
    const cc = await server.post('/token', { grant_type: 'client_credentials', scope: 'orders:read' }, service);
    expect(cc.status).toBe(200);
    await expectRefusal(
      server,
      () => server.exchange(impersonate(cc.body.access_token as string, 'alice'), service),
      invalidActor('only a user can start an impersonation', 'actor_not_a_user'),
    );
  });
});

describe('actor account, read live at exchange time (docs/policy.md)', () => {
  let admin: string;
  beforeAll(async () => {
    admin = (await server.signIn('admin')).access_token;
  });
  afterEach(() => server.reference.accounts.update('admin', { disabled: false, roles: ['admin', 'impersonator'] }));

  it('refuses an actor without the impersonator role', async () => {
    const alice = (await server.signIn('alice')).access_token;
    await expectRefusal(server, () => server.exchange(impersonate(alice, 'bob')), invalidActor('the actor is not allowed to impersonate', 'actor_not_impersonator'));
  });

  it('refuses an actor who lost the impersonator role after signing in', async () => {
    await server.reference.accounts.update('admin', { roles: ['admin'] });
    await expectRefusal(server, () => server.exchange(impersonate(admin, 'alice')), invalidActor('the actor is not allowed to impersonate', 'actor_not_impersonator'));
  });

  it('refuses an actor whose account was disabled after signing in', async () => {
    await server.reference.accounts.update('admin', { disabled: true });
    await expectRefusal(server, () => server.exchange(impersonate(admin, 'alice')), invalidActor('the actor account is disabled', 'actor_disabled'));
  });

  it('refuses an actor whose account no longer exists', async () => {
    const local = await startTestServer();
    try {
      const token = (await local.signIn('admin')).access_token;
      await local.reference.accounts.remove('admin');
      await expectRefusal(local, () => local.exchange(impersonate(token, 'alice')), invalidActor('the actor account does not exist', 'actor_unknown'));
    } finally {
      await local.close();
    }
  });

  it('accepts the same actor once the role is back', async () => {
    const result = await server.exchange(impersonate(admin, 'alice', { scope: 'openid' }));
    expect(result.status).toBe(200);
  });
});

describe('recent authentication and rate limit (docs/policy.md)', () => {
  it('counts one actor\'s budget across every instance sharing a Redis store', async () => {
    const url = await sharedRedisUrl();
    const prefix = `ratelimit:${randomUUID()}:`;
    const backends = [await connectRedis(url), await connectRedis(url)];
    const policy = { rateLimit: { points: 2, durationSeconds: 60 } };
    const [a, b] = [
      await startTestServer({ policy, store: createStore(backends[0]!, prefix) }),
      await startTestServer({ policy, store: createStore(backends[1]!, prefix) }),
    ] as const;
    try {
      const token = (await a.signIn('support')).access_token;
      expect((await a.exchange(impersonate(token, 'alice', { scope: 'openid' }))).status).toBe(200);
      expect((await a.exchange(impersonate(token, 'bob', { scope: 'openid' }))).status).toBe(200);
      const refused = await b.exchange(impersonate(token, 'alice', { scope: 'openid' }), { id: 'support-console', secret: 'support-console-secret' });
      expect({ status: refused.status, body: refused.body }).toEqual({
        status: 429,
        body: { error: 'invalid_request', error_description: 'too many impersonation requests by this actor; retry later' },
      });
    } finally {
      await a.close();
      await b.close();
      for (const backend of backends) await backend.close();
      deleteKeysWithPrefix(url, prefix);
    }
  });


  it('refuses an actor whose sign-in is older than maxActorAuthAgeSeconds, and accepts a fresh one', async () => {
    const strict = await startTestServer({ policy: { maxActorAuthAgeSeconds: 1 } });
    try {
      const stale = (await strict.signIn('support')).access_token;
      await new Promise((resolve) => setTimeout(resolve, 2100));
      await expectRefusal(
        strict,
        () => strict.exchange(impersonate(stale, 'alice')),
        invalidActor('the actor must authenticate again before impersonating', 'actor_authentication_stale'),
      );
      const fresh = (await strict.signIn('admin')).access_token;
      expect((await strict.exchange(impersonate(fresh, 'alice', { scope: 'openid' }))).status).toBe(200);
    } finally {
      await strict.close();
    }
  });

  it('answers 429 with Retry-After once an actor spends its budget', async () => {
    const limited = await startTestServer({ policy: { rateLimit: { points: 2, durationSeconds: 60 } } });
    try {
      const token = (await limited.signIn('support')).access_token;
      for (let i = 0; i < 2; i += 1) expect((await limited.exchange(impersonate(token, 'alice', { scope: 'openid' }))).status).toBe(200);
      const { result } = await expectRefusal(limited, () => limited.exchange(impersonate(token, 'alice', { scope: 'openid' })), {
        status: 429,
        error: 'invalid_request',
        description: 'too many impersonation requests by this actor; retry later',
        rule: 'actor_rate_limited',
      });
      const retryAfter = Number(result.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      const other = (await limited.signIn('admin')).access_token;
      expect((await limited.exchange(impersonate(other, 'alice', { scope: 'openid' }))).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
