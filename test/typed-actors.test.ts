import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { expectRefusal } from './helpers/refusal.js';
import { BILLING, ORDERS, ORDERS_API, SUPPORT_CONSOLE, startTestServer, TokenType, impersonate, type TestServer } from './helpers/server.js';
import { startedMessage } from '../src/notify/notice.js';
import { actOf } from '../src/browser/provider-config.js';
import { ConfigurationError, resolveOptions } from '../src/config.js';

const AGENT = { id: 'orders-assistant', secret: 'orders-assistant-secret' };

let server: TestServer;
let support: string;

beforeAll(async () => {
  server = await startTestServer();
  support = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

async function agentToken(): Promise<string> {
  const cc = await server.post('/token', { grant_type: 'client_credentials', scope: 'orders:read' }, AGENT);
  expect(cc.status).toBe(200);
  return cc.body.access_token as string;
}

describe('every act names its actor’s kind (draft-mcguinness-oauth-actor-profile §3.4)', () => {
  it('names a person, read from the account directory, in a JWT access token', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }));
    expect(result.status).toBe(200);
    expect(decodeJwt(result.body.access_token as string).act).toEqual({ sub: 'support', sub_profile: 'user' });
  });

  it('names the kind in introspection of an opaque token', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: BILLING }));
    expect(result.status).toBe(200);
    const introspected = await server.post('/token/introspection', { token: result.body.access_token as string }, ORDERS_API);
    expect(introspected.body).toMatchObject({ active: true, sub: 'alice', act: { sub: 'support', sub_profile: 'user' } });
  });

  it('names a service passing an impersonation on, and keeps the inner actor’s kind', async () => {
    const started = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }));
    const chained = await server.exchange({ subject_token: started.body.access_token as string, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API);
    expect(chained.status).toBe(200);
    expect(decodeJwt(chained.body.access_token as string).act).toEqual({ sub: 'orders-api', sub_profile: 'service', act: { sub: 'support', sub_profile: 'user' } });
  });

  it('names an AI agent from its registered client_profile', async () => {
    const alice = (await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid profile orders:read')).access_token;
    const result = await server.exchange(
      { subject_token: alice, subject_token_type: TokenType.accessToken, actor_token: await agentToken(), actor_token_type: TokenType.accessToken, resource: ORDERS },
      AGENT,
    );
    expect(result.status).toBe(200);
    expect(decodeJwt(result.body.access_token as string).act).toEqual({ sub: 'orders-assistant', sub_profile: 'ai_agent' });
  });

  it('names the actor’s kind in a browser impersonation’s act', () => {
    const act = actOf({ grantId: 'g', impersonationId: 'i', actors: ['support'], actorProfiles: ['user'], subject: 'alice', clientId: 'demo-app', reason: undefined, startedAt: 0, expiresAt: 1, sources: [], tokenId: 't' } as never);
    expect(act).toEqual({ sub: 'support', sub_profile: 'user' });
  });
});

describe('policy gates on the kind of actor (policy.actorProfiles)', () => {
  it('refuses an AI agent acting for a protected account', async () => {
    const admin = (await server.signIn('admin', SUPPORT_CONSOLE, undefined, 'openid profile orders:read')).access_token;
    const actor = await agentToken();
    await expectRefusal(
      server,
      () => server.exchange({ subject_token: admin, subject_token_type: TokenType.accessToken, actor_token: actor, actor_token_type: TokenType.accessToken, resource: ORDERS }, AGENT),
      { status: 400, error: 'invalid_request', description: 'subject cannot be impersonated by this actor', rule: 'subject_protected' },
    );
  });

  it('refuses at start-up a read-only kind without policy.readOnlyScopes', () => {
    const start = () => resolveOptions({ accounts: { findAccount: async () => undefined }, policy: { actorProfiles: { ai_agent: { readOnly: true } } } });
    expect(start).toThrow(ConfigurationError);
    expect(start).toThrow('policy.readOnlyScopes: is required when an actorProfiles rule is readOnly: list the scopes a read-only actor may carry');
  });

  it('makes an impersonation by a read-only kind of person read-only', async () => {
    const strict = await startTestServer({ policy: { actorProfiles: { user: { readOnly: true } } } });
    try {
      const token = (await strict.signIn('support')).access_token;
      const result = await strict.exchange(impersonate(token, 'alice', { resource: ORDERS }));
      expect(result.status).toBe(200);
      expect(decodeJwt(result.body.access_token as string).impersonation).toMatchObject({ mode: 'read' });
    } finally {
      await strict.close();
    }
  });

  it('refuses asking a read-only kind of actor for full access', async () => {
    const strict = await startTestServer({ policy: { actorProfiles: { user: { readOnly: true } } } });
    try {
      const token = (await strict.signIn('support')).access_token;
      await expectRefusal(strict, () => strict.exchange(impersonate(token, 'alice', { resource: ORDERS, impersonation_mode: 'full' })), {
        status: 400,
        error: 'invalid_request',
        description: 'this actor may only impersonate read-only',
        rule: 'impersonation_mode_not_allowed',
      });
    } finally {
      await strict.close();
    }
  });
});

describe('discovery and notices', () => {
  it('advertises the kinds of actor it names (draft-mcguinness-oauth-actor-profile §10.1)', async () => {
    const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.entity_profiles_supported).toEqual({ actor: ['user', 'service', 'ai_agent'], subject: ['user'] });
    expect(metadata.actor_profile_token_exchange).toMatchObject({ actor_token_types_supported: expect.arrayContaining([TokenType.accessToken]) });
  });

  it('tells the subject an AI assistant acted, not a person', () => {
    const base = { actor: 'orders-assistant', actor_name: 'Orders Assistant', reason: undefined, client_id: 'orders-assistant', started_at: '2026-12-06T10:00:00.000Z', until: '2026-12-06T10:30:00.000Z', mode: 'read' as const };
    expect(startedMessage({ ...base, actor_profile: 'ai_agent' })).toBe('An AI assistant, Orders Assistant (orders-assistant), viewed your account (read-only) in orders-assistant on 2026-12-06 10:00 UTC, until 10:30 UTC.');
    expect(startedMessage({ ...base, actor: 'support', actor_name: 'Sam Support', actor_profile: 'user' })).toBe('Sam Support (support) viewed your account (read-only) in orders-assistant on 2026-12-06 10:00 UTC, until 10:30 UTC.');
  });
});
