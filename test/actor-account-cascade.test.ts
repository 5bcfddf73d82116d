import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { now, signJwt, testKeys } from './helpers/keys.js';
import { ORDERS, ORDERS_API, SUPPORT_CONSOLE, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

/*
 * The cascade re-reads the account of the person who started an impersonation: deleted, disabled
 * or demoted, their impersonations end — also when they acted through a trusted issuer's token,
 * mapped to a local account by `hooks.resolveSubject`.
 */

const PARTNER = 'https://idp.partner.example';
let server: TestServer;
let partner: Awaited<ReturnType<typeof testKeys>>;

beforeAll(async () => {
  partner = await testKeys('partner-key');
  server = await startTestServer({
    trustedIssuers: [{ issuer: PARTNER, jwks: partner.jwks as { keys: Array<Record<string, unknown>> } }],
    hooks: { resolveSubject: async ({ issuer, sub }) => (issuer === PARTNER && sub === 'agent-7' ? 'admin' : undefined) },
  });
});
afterAll(() => server.close());

const introspect = async (token: string) => (await server.post('/token/introspection', { token }, ORDERS_API)).body;

async function impersonation(actorToken: string, extra: Record<string, string> = {}): Promise<string> {
  const result = await server.exchange(impersonate(actorToken, 'alice', { resource: ORDERS, ...extra }));
  if (result.status !== 200) throw new Error(JSON.stringify(result.body));
  return result.body.access_token as string;
}

describe('the cascade re-reads the person who started an impersonation', () => {
  it("ends an impersonation when its agent's account is deleted: a deleted agent is no service", async () => {
    const support = (await server.signIn('support')).access_token;
    const token = await impersonation(support);
    expect((await introspect(token)).active).toBe(true);
    const mark = server.auditMark();
    await server.reference.accounts.remove('support');
    expect(await introspect(token)).toEqual({ active: false });
    expect(server.auditSince(mark)).toEqual([
      expect.objectContaining({ event: 'token.revoked', outcome: 'granted', rule: 'cascade_actor_ineligible', actor: 'support', subject: 'alice', token_id: decodeJwt(token).jti }),
    ]);
  });

  it("ends a trusted-issuer agent's impersonation when the local account it maps to is disabled", async () => {
    const foreign = await signJwt(partner.privateJwk, { iss: PARTNER, sub: 'agent-7', aud: SUPPORT_CONSOLE.id, iat: now(), exp: now() + 600 });
    const token = await impersonation(foreign, { actor_token_type: TokenType.jwt });
    expect(decodeJwt(token).act).toEqual({ sub: 'agent-7', iss: PARTNER, sub_profile: 'user' });
    expect((await introspect(token)).active).toBe(true);
    const [record] = await server.reference.exchange.list({ actor: 'admin' });
    expect(record).toMatchObject({ actors: ['agent-7'], actorAccount: 'admin', tokenId: decodeJwt(token).jti });

    const mark = server.auditMark();
    await server.reference.accounts.update('admin', { disabled: true });
    expect(await server.reference.exchange.list({ actor: 'admin' })).toEqual([]);
    expect(await introspect(token)).toEqual({ active: false });
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'token.revoked', rule: 'cascade_actor_ineligible', token_id: decodeJwt(token).jti })]);
  });
});
