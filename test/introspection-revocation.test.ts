import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BILLING, ORDERS, ORDERS_API, SUPPORT_CONSOLE, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

const SERVICE_X = { id: 'service-x', secret: 'service-x-secret' };
let server: TestServer;
let support: string;

beforeAll(async () => {
  server = await startTestServer();
  support = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

async function exchangeFor(resource: string, actorToken = support, subject = 'alice'): Promise<string> {
  const result = await server.exchange(impersonate(actorToken, subject, { resource }));
  if (result.status !== 200) throw new Error(JSON.stringify(result.body));
  return result.body.access_token as string;
}

const introspect = (token: string, client = ORDERS_API) => server.post('/token/introspection', { token }, client);
const revoke = (token: string, client: { id: string; secret: string } = SUPPORT_CONSOLE) => server.post('/token/revocation', { token }, client);

describe('introspection (RFC 7662, docs/introspection-revocation.md)', () => {
  it('shows a JWT impersonation token to its resource server, from its jti record', async () => {
    const token = await exchangeFor(ORDERS);
    const result = await introspect(token);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({
      active: true,
      sub: 'alice',
      act: { sub: 'support' },
      scope: 'orders:read',
      client_id: SUPPORT_CONSOLE.id,
      aud: ORDERS,
      token_type: 'Bearer',
      impersonation: { id: expect.any(String), reason: expect.any(String), started_at: expect.any(Number) },
    });
    expect(typeof result.body.exp).toBe('number');
    expect(typeof result.body.iat).toBe('number');
  });

  it('answers exactly {"active": false} to a client that is not the token\'s resource server', async () => {
    for (const token of [await exchangeFor(ORDERS), await exchangeFor(BILLING)]) {
      expect((await introspect(token, SERVICE_X)).body).toEqual({ active: false });
    }
  });

  it('answers exactly {"active": false} to the client the token was issued to', async () => {
    expect((await introspect(await exchangeFor(BILLING), { id: SUPPORT_CONSOLE.id, secret: SUPPORT_CONSOLE.secret })).body).toEqual({ active: false });
  });

  it('refuses an unauthenticated introspection', async () => {
    const result = await server.post('/token/introspection', { token: await exchangeFor(BILLING) }, { id: 'orders-api', secret: 'wrong' });
    expect(result.status).toBe(401);
    expect(result.body.error).toBe('invalid_client');
  });
});

describe('single revocation (RFC 7009, docs/introspection-revocation.md)', () => {
  it('revokes an opaque impersonation token: introspection answers {"active": false}', async () => {
    const token = await exchangeFor(BILLING);
    const mark = server.auditMark();
    expect((await revoke(token)).status).toBe(200);
    expect((await introspect(token)).body).toEqual({ active: false });
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'token.revoked', rule: 'revoked_single', subject: 'alice' })]);
    expect(await server.reference.exchange.list({ subject: 'alice' })).not.toContainEqual(expect.objectContaining({ tokenId: server.auditSince(mark)[0]!.token_id }));
  });

  it('revokes a JWT impersonation token although it still verifies', async () => {
    const token = await exchangeFor(ORDERS);
    expect((await revoke(token)).status).toBe(200);
    expect((await introspect(token)).body).toEqual({ active: false });
    const chained = await server.exchange({ subject_token: token, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API);
    expect(chained.body).toEqual({ error: 'invalid_request', error_description: 'subject_token is invalid, expired or revoked' });
  });

  it('revokes an exchanged JWT that carries no actor (a delegation) together with its grant', async () => {
    const alice = (await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid orders:read')).access_token;
    const delegated = await server.exchange({ subject_token: alice, subject_token_type: TokenType.accessToken, resource: ORDERS });
    expect(delegated.status).toBe(200);
    const token = delegated.body.access_token as string;
    expect((await introspect(token)).body).toMatchObject({ active: true, sub: 'alice' });
    expect((await revoke(token)).status).toBe(200);
    expect((await introspect(token)).body).toEqual({ active: false });
  });

  it('lets the resource server revoke a token meant for it', async () => {
    const token = await exchangeFor(ORDERS);
    expect((await revoke(token, ORDERS_API)).status).toBe(200);
    expect((await introspect(token)).body).toEqual({ active: false });
  });

  it('refuses a revocation by a client that may not revoke the token (RFC 7009 §2.1), leaves it alone and audits the attempt', async () => {
    for (const token of [await exchangeFor(ORDERS), await exchangeFor(BILLING)]) {
      const mark = server.auditMark();
      const result = await revoke(token, SERVICE_X);
      expect({ status: result.status, body: result.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'client is not authorized to revoke the presented token' } });
      expect((await introspect(token)).body.active).toBe(true);
      expect(server.auditSince(mark)).toEqual([
        expect.objectContaining({ event: 'token.revoked', outcome: 'denied', rule: 'revocation_not_allowed', actor: SERVICE_X.id, subject: 'alice', client_id: SUPPORT_CONSOLE.id }),
      ]);
    }
  });

  it('ends the tokens chained from a revoked impersonation', async () => {
    const token = await exchangeFor(ORDERS);
    const chained = await server.exchange({ subject_token: token, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API);
    expect((await introspect(chained.body.access_token as string)).body.active).toBe(true);
    await revoke(token);
    expect((await introspect(chained.body.access_token as string)).body).toEqual({ active: false });
  });
});

describe('bulk revocation and the switch (docs/introspection-revocation.md)', () => {
  it('revokes every live impersonation of an actor, and only those', async () => {
    const local = await startTestServer();
    try {
      const sup = (await local.signIn('support')).access_token;
      const adm = (await local.signIn('admin')).access_token;
      const bySupport = [];
      for (const subject of ['alice', 'bob']) {
        for (const resource of [ORDERS, BILLING]) bySupport.push((await local.exchange(impersonate(sup, subject, { resource }))).body.access_token as string);
      }
      const byAdmin = (await local.exchange(impersonate(adm, 'alice', { resource: BILLING }))).body.access_token as string;
      const mark = local.auditMark();
      expect(await local.reference.exchange.revoke({ actor: 'support' })).toBe(4);
      for (const token of bySupport) expect((await local.post('/token/introspection', { token }, ORDERS_API)).body).toEqual({ active: false });
      expect((await local.post('/token/introspection', { token: byAdmin }, ORDERS_API)).body.active).toBe(true);
      expect(local.auditSince(mark).filter((r) => r.event === 'token.revoked' && r.rule === 'revoked_bulk_actor')).toHaveLength(4);
    } finally {
      await local.close();
    }
  });

  it('revokes every live impersonation of a subject', async () => {
    const local = await startTestServer();
    try {
      const sup = (await local.signIn('support')).access_token;
      const alice = (await local.exchange(impersonate(sup, 'alice', { resource: BILLING }))).body.access_token as string;
      const bob = (await local.exchange(impersonate(sup, 'bob', { resource: BILLING }))).body.access_token as string;
      expect(await local.reference.exchange.revoke({ subject: 'alice' })).toBe(1);
      expect((await local.post('/token/introspection', { token: alice }, ORDERS_API)).body).toEqual({ active: false });
      expect((await local.post('/token/introspection', { token: bob }, ORDERS_API)).body.active).toBe(true);
    } finally {
      await local.close();
    }
  });

  it('turning impersonation off ends every live one and refuses new ones until it is on again', async () => {
    const local = await startTestServer();
    try {
      const sup = (await local.signIn('support')).access_token;
      const tokens = [
        (await local.exchange(impersonate(sup, 'alice', { resource: BILLING }))).body.access_token as string,
        (await local.exchange(impersonate(sup, 'bob', { resource: ORDERS }))).body.access_token as string,
      ];
      expect(await local.reference.exchange.setEnabled(false, { actor: 'admin' })).toBe(2);
      for (const token of tokens) expect((await local.post('/token/introspection', { token }, ORDERS_API)).body).toEqual({ active: false });
      const refused = await local.exchange(impersonate(sup, 'alice'));
      expect(refused.body).toEqual({ error: 'unsupported_grant_type', error_description: 'token exchange is disabled' });
      await local.reference.exchange.setEnabled(true, { actor: 'admin' });
      expect((await local.exchange(impersonate(sup, 'alice', { resource: BILLING }))).status).toBe(200);
      expect(local.audit.records().filter((r) => r.event === 'settings.changed').map((r) => r.rule)).toEqual(['impersonation_disabled', 'impersonation_enabled']);
    } finally {
      await local.close();
    }
  });
});

describe('the cascade (docs/introspection-revocation.md)', () => {
  let local: TestServer;
  beforeAll(async () => {
    local = await startTestServer();
  });
  afterAll(() => local.close());

  async function impersonation(): Promise<{ actorToken: string; opaque: string; jwt: string }> {
    const actorToken = (await local.signIn('admin')).access_token;
    const opaque = (await local.exchange(impersonate(actorToken, 'alice', { resource: BILLING }))).body.access_token as string;
    const jwt = (await local.exchange(impersonate(actorToken, 'bob', { resource: ORDERS }))).body.access_token as string;
    return { actorToken, opaque, jwt };
  }
  const inactive = async (token: string) => expect((await local.post('/token/introspection', { token }, ORDERS_API)).body).toEqual({ active: false });

  it('ends an actor\'s impersonations when the account is disabled', async () => {
    const { opaque, jwt } = await impersonation();
    await local.reference.accounts.update('admin', { disabled: true });
    await inactive(opaque);
    await inactive(jwt);
    await local.reference.accounts.update('admin', { disabled: false });
    await inactive(opaque);
  });

  it('ends an actor\'s impersonations when the impersonator role is removed', async () => {
    const { opaque, jwt } = await impersonation();
    await local.reference.accounts.update('admin', { roles: ['admin'] });
    await local.reference.accounts.update('admin', { roles: ['admin', 'impersonator'] });
    await inactive(opaque);
    await inactive(jwt);
  });

  it('ends the impersonations started with an actor token when that token is revoked', async () => {
    const { actorToken, opaque, jwt } = await impersonation();
    expect((await local.post('/token/revocation', { token: actorToken }, SUPPORT_CONSOLE)).status).toBe(200);
    await inactive(opaque);
    await inactive(jwt);
  });

  it('answers inactive at introspection once the actor grant is gone, even unannounced', async () => {
    const { actorToken, opaque } = await impersonation();
    const stored = await local.reference.provider.AccessToken.find(actorToken);
    await local.reference.provider.Grant.adapter.destroy(stored!.grantId);
    await inactive(opaque);
  });
});
