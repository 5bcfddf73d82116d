import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { JWK } from 'jose';
import { expectRefusal } from './helpers/refusal.js';
import { now, signJwt, testKeys } from './helpers/keys.js';
import { idTokenRecordId } from '../src/exchange/token-ids.js';
import { ORDERS_API, startTestServer, SUPPORT_CONSOLE, TokenType, impersonate, type TestServer } from './helpers/server.js';

const SAME_ANSWER = 'subject cannot be impersonated by this actor';
const subjectRefusal = (rule: string) => ({ status: 400, error: 'invalid_request', description: SAME_ANSWER, rule });

let server: TestServer;
let providerKey: JWK;
let support: string;

beforeAll(async () => {
  providerKey = (await testKeys('provider-key', 'RS256')).privateJwk;
  server = await startTestServer({
    jwks: { keys: [providerKey] },
    hooks: {
      async authorize({ subject }) {
        return subject.id === 'bob' ? { allow: false, detail: 'bob opted out of support access' } : undefined;
      },
    },
  });
  support = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

describe('the subject: every refusal reads the same (docs/grant.md, docs/policy.md)', () => {
  it('refuses an unknown subject', async () => {
    await expectRefusal(server, () => server.exchange(impersonate(support, 'nobody')), subjectRefusal('subject_unknown'));
  });

  it('refuses a disabled subject', async () => {
    await server.reference.accounts.update('alice', { disabled: true });
    try {
      await expectRefusal(server, () => server.exchange(impersonate(support, 'alice')), subjectRefusal('subject_disabled'));
    } finally {
      await server.reference.accounts.update('alice', { disabled: false });
    }
  });

  it('refuses impersonating oneself', async () => {
    await expectRefusal(server, () => server.exchange(impersonate(support, 'support')), subjectRefusal('subject_is_actor'));
  });

  it('refuses a subject holding a protected role', async () => {
    await expectRefusal(server, () => server.exchange(impersonate(support, 'root')), subjectRefusal('subject_protected'));
  });

  it('refuses a subject of another tenant', async () => {
    await expectRefusal(server, () => server.exchange(impersonate(support, 'carol')), subjectRefusal('subject_other_tenant'));
  });

  it('lets a global_impersonator cross tenants', async () => {
    await server.reference.accounts.update('support', { roles: ['support', 'impersonator', 'global_impersonator'] });
    try {
      const result = await server.exchange(impersonate(support, 'carol', { scope: 'openid' }));
      expect(result.status).toBe(200);
    } finally {
      await server.reference.accounts.update('support', { roles: ['support', 'impersonator'] });
    }
  });

  it('refuses a subject the authorize hook denies', async () => {
    const { record } = await expectRefusal(server, () => server.exchange(impersonate(support, 'bob')), subjectRefusal('subject_denied_by_hook'));
    expect(record.subject).toBe('bob');
  });

  /**
   * An ID token with `may_act`, as a host's claims would give one, recorded under alice's sign-in
   * grant the way the provider records the ID tokens of its token endpoint.
   */
  async function aliceIdTokenWithMayAct(mayAct: Record<string, unknown>): Promise<string> {
    const subjectToken = await signJwt(providerKey, { iss: server.issuer, sub: 'alice', aud: SUPPORT_CONSOLE.id, iat: now(), exp: now() + 600, may_act: mayAct });
    const signedIn = await server.signIn('alice');
    const grantId = (await server.reference.provider.AccessToken.find(signedIn.access_token))!.grantId!;
    await server.reference.exchange.store.impersonations.addJwt(idTokenRecordId(subjectToken, undefined), grantId, 600);
    return subjectToken;
  }

  it('refuses an actor that may_act in the subject token does not name (RFC 8693 §4.4)', async () => {
    const subjectToken = await aliceIdTokenWithMayAct({ sub: 'admin' });
    await expectRefusal(
      server,
      () => server.exchange(impersonate(support, 'alice', { subject_token: subjectToken, subject_token_type: TokenType.idToken })),
      subjectRefusal('subject_may_act'),
    );
  });

  it('honours may_act naming the actor', async () => {
    const subjectToken = await aliceIdTokenWithMayAct({ sub: 'support' });
    const result = await server.exchange(impersonate(support, 'alice', { subject_token: subjectToken, subject_token_type: TokenType.idToken, scope: 'openid' }));
    expect(result.status).toBe(200);
  });
});

describe('the subject token (docs/grant.md)', () => {
  it('refuses a subject token that does not verify', async () => {
    await expectRefusal(server, () => server.exchange({ subject_token: 'garbage', subject_token_type: TokenType.accessToken }, ORDERS_API), {
      status: 400,
      error: 'invalid_request',
      description: 'subject_token is invalid, expired or revoked',
      rule: 'subject_token_invalid',
    });
  });

  it('refuses a subject token without actor that was not issued to the requesting client', async () => {
    const aliceAtConsole = (await server.signIn('alice')).access_token;
    await expectRefusal(server, () => server.exchange({ subject_token: aliceAtConsole, subject_token_type: TokenType.accessToken }, ORDERS_API), {
      status: 400,
      error: 'invalid_request',
      description: 'subject_token was not issued to this client',
      rule: 'subject_token_audience',
    });
  });

  it('refuses a client-credentials token as subject', async () => {
    const service = { id: 'service-x', secret: 'service-x-secret' };
    const cc = await server.post('/token', { grant_type: 'client_credentials', scope: 'orders:read' }, service);
    await expectRefusal(server, () => server.exchange({ subject_token: cc.body.access_token as string, subject_token_type: TokenType.accessToken }, service), {
      status: 400,
      error: 'invalid_request',
      description: 'subject_token must identify a user',
      rule: 'subject_token_invalid',
    });
  });

  it('exchanges a subject token the client holds without an actor, and adds no act', async () => {
    const alice = (await server.signIn('alice')).access_token;
    const mark = server.auditMark();
    const result = await server.exchange({ subject_token: alice, subject_token_type: TokenType.accessToken, scope: 'openid' });
    expect(result.status).toBe(200);
    const userinfo = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${result.body.access_token as string}` } });
    expect(await userinfo.json()).toEqual({ sub: 'alice' });
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'exchange.granted', subject: 'alice' })]);
    expect(server.auditSince(mark)[0]!.actor).toBeUndefined();
  });
});

describe('policy hooks and relaxations (docs/policy.md)', () => {
  it('maps a trusted issuer\'s subject to a local account with resolveSubject', async () => {
    const partner = await testKeys('partner-2');
    const mapped = await startTestServer({
      trustedIssuers: [{ issuer: 'https://idp.partner.example', jwks: partner.jwks as { keys: Array<Record<string, unknown>> } }],
      hooks: { resolveSubject: async ({ issuer, sub }) => (issuer === 'https://idp.partner.example' && sub === 'ext-4242' ? 'alice' : undefined) },
    });
    try {
      const actor = (await mapped.signIn('support')).access_token;
      const token = (sub: string) => signJwt(partner.privateJwk, { iss: 'https://idp.partner.example', sub, aud: SUPPORT_CONSOLE.id, iat: now(), exp: now() + 600 });
      const granted = await mapped.exchange(impersonate(actor, 'x', { subject_token: await token('ext-4242'), subject_token_type: TokenType.jwt, scope: 'openid' }));
      expect(granted.status).toBe(200);
      const userinfo = await fetch(`${mapped.issuer}/me`, { headers: { authorization: `Bearer ${granted.body.access_token as string}` } });
      expect(((await userinfo.json()) as { sub: string }).sub).toBe('alice');
      await expectRefusal(mapped, async () => mapped.exchange(impersonate(actor, 'x', { subject_token: await token('ext-9999'), subject_token_type: TokenType.jwt })), subjectRefusal('subject_unknown'));
    } finally {
      await mapped.close();
    }
  });

  it('issues without a reason when policy relaxes requireReason', async () => {
    const relaxed = await startTestServer({ policy: { requireReason: false } });
    try {
      const actor = (await relaxed.signIn('support')).access_token;
      const { reason: _omit, ...params } = impersonate(actor, 'alice', { scope: 'openid' });
      const mark = relaxed.auditMark();
      expect((await relaxed.exchange(params)).status).toBe(200);
      expect(relaxed.auditSince(mark)[0]!.reason).toBeUndefined();
    } finally {
      await relaxed.close();
    }
  });
});
