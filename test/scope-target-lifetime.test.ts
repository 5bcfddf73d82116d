import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { expectRefusal } from './helpers/refusal.js';
import { BILLING, ORDERS, ORDERS_API, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let support: string;

beforeAll(async () => {
  server = await startTestServer();
  support = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

const invalidTarget = (description: string, rule: string) => ({ status: 400, error: 'invalid_target', description, rule });
const invalidScope = (description: string) => ({ status: 400, error: 'invalid_scope', description, rule: 'scope_empty' });
const UNSCOPED_CONSOLE = { id: 'unscoped-console', secret: 'unscoped-console-secret', redirectUri: 'http://localhost:3004/callback' };

describe('scope (docs/grant.md)', () => {
  it('grants the requested scopes the subject, the client and the allow-list all permit', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { scope: 'openid profile email' }));
    expect(result.body.scope).toBe('openid profile email');
  });

  it('drops a scope outside the impersonation allow-list', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { scope: 'openid impersonation:admin' }));
    expect(result.body.scope).toBe('openid');
  });

  it('drops a scope on the deny-list', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: ORDERS, scope: 'orders:read orders:write' }));
    expect(result.body.scope).toBe('orders:read');
  });

  it('never grants offline_access', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { scope: 'openid offline_access' }));
    expect(result.body.scope).toBe('openid');
    expect(result.body.refresh_token).toBeUndefined();
  });

  it('limits scopes to the resource server', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: BILLING, scope: 'openid billing:read' }));
    expect(result.body.scope).toBe('billing:read');
  });

  it('answers invalid_scope naming the impersonation policy when its lists leave nothing', async () => {
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { resource: ORDERS, scope: 'orders:write' })), invalidScope('the impersonation policy allows none of the requested scopes'));
  });

  it("answers invalid_scope naming the client's registered scope when it holds none of the requested scopes", async () => {
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { scope: 'phone' })), invalidScope("the client's registered scope holds none of the requested scopes"));
  });

  it('answers invalid_scope naming the resource when it serves none of the requested scopes', async () => {
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { resource: BILLING, scope: 'orders:read' })), invalidScope('the requested resource or audience serves none of the requested scopes'));
  });

  it("answers invalid_scope naming the subject token's scope when a chained exchange asks for more", async () => {
    const impersonated = (await server.exchange(impersonate(support, 'alice', { resource: ORDERS }))).body.access_token as string;
    await expectRefusal(
      server,
      () => server.exchange({ subject_token: impersonated, subject_token_type: TokenType.accessToken, scope: 'billing:read' }, ORDERS_API),
      invalidScope("the subject_token's scope holds none of the requested scopes"),
    );
  });

  it('answers invalid_scope saying a scope or a resource is needed when neither the request nor the client gives one', async () => {
    const actor = (await server.signIn('support', UNSCOPED_CONSOLE)).access_token;
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice'), UNSCOPED_CONSOLE),
      invalidScope('no scope was requested and none can be derived: send scope, or a resource (RFC 8707) to take its scopes'),
    );
    const withResource = await server.exchange(impersonate(actor, 'alice', { resource: ORDERS }), UNSCOPED_CONSOLE);
    expect([withResource.status, withResource.body.scope]).toEqual([200, 'orders:read']);
  });

  it('limits scopes with the scopesFor hook', async () => {
    const hooked = await startTestServer({ hooks: { scopesFor: async (subject) => (subject.id === 'alice' ? ['openid'] : undefined) } });
    try {
      const token = (await hooked.signIn('support')).access_token;
      const result = await hooked.exchange(impersonate(token, 'alice', { scope: 'openid profile' }));
      expect(result.body.scope).toBe('openid');
    } finally {
      await hooked.close();
    }
  });
});

describe('resource and audience (RFC 8707, RFC 8693 §2.1)', () => {
  it('accepts the target as audience as well as resource', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { audience: ORDERS }));
    expect(decodeJwt(result.body.access_token as string).aud).toBe(ORDERS);
  });

  it('refuses an unknown resource', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(support, 'alice', { resource: 'https://unknown.example/api' })),
      invalidTarget('the requested resource or audience is unknown', 'target_unknown'),
    );
  });

  it('refuses more than one target', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(support, 'alice', { resource: [ORDERS, BILLING] })),
      invalidTarget('only one resource or audience may be requested', 'target_multiple'),
    );
  });

  it('refuses a JWT without a target', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(support, 'alice', { requested_token_type: TokenType.jwt })),
      invalidTarget('a JWT needs a resource or audience', 'target_required'),
    );
  });

  it('refuses a target for an ID token', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(support, 'alice', { requested_token_type: TokenType.idToken, resource: ORDERS })),
      invalidTarget('resource and audience do not apply to an ID token', 'target_not_allowed'),
    );
  });

  it('refuses a target outside the policy audience allow-list', async () => {
    const narrow = await startTestServer({ policy: { audiences: { allow: [ORDERS] } } });
    try {
      const token = (await narrow.signIn('support')).access_token;
      await expectRefusal(
        narrow,
        () => narrow.exchange(impersonate(token, 'alice', { resource: BILLING })),
        invalidTarget('the requested resource or audience is not allowed for impersonation', 'target_not_allowed'),
      );
    } finally {
      await narrow.close();
    }
  });
});

describe('lifetime (docs/grant.md, docs/policy.md)', () => {
  it('defaults to the 3600-second ceiling', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }));
    const payload = decodeJwt(result.body.access_token as string);
    expect(result.body.expires_in).toBe(3600);
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it('honours a shorter requested_expires_in', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: ORDERS, requested_expires_in: '120' }));
    const payload = decodeJwt(result.body.access_token as string);
    expect(result.body.expires_in).toBe(120);
    expect(payload.exp! - payload.iat!).toBe(120);
  });

  it('never exceeds the configured ceiling', async () => {
    const short = await startTestServer({ policy: { maxLifetimeSeconds: 600 } });
    try {
      const token = (await short.signIn('support')).access_token;
      const result = await short.exchange(impersonate(token, 'alice', { resource: ORDERS, requested_expires_in: '3600' }));
      expect(result.body.expires_in).toBe(600);
    } finally {
      await short.close();
    }
  });

  it('keeps the opaque token and its grant alive exactly as long', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: BILLING, requested_expires_in: '300' }));
    const introspection = await server.post('/token/introspection', { token: result.body.access_token as string }, { id: 'orders-api', secret: 'orders-api-secret' });
    expect((introspection.body.exp as number) - (introspection.body.iat as number)).toBe(300);
  });
});
