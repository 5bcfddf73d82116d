import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { expectRefusal } from './helpers/refusal.js';
import { ORDERS_API, startTestServer, TOKEN_EXCHANGE_GRANT, impersonate, type TestServer } from './helpers/server.js';

let server: TestServer;
let actor: string;

beforeAll(async () => {
  server = await startTestServer();
  actor = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

describe('the client (docs/grant.md)', () => {
  it('lists the grant in discovery', async () => {
    const response = await fetch(`${server.issuer}/.well-known/openid-configuration`);
    const metadata = (await response.json()) as { grant_types_supported: string[] };
    expect(metadata.grant_types_supported).toContain(TOKEN_EXCHANGE_GRANT);
  });

  it('refuses a client whose grant_types lack token exchange with unauthorized_client', async () => {
    await expectRefusal(server, () => server.exchange(impersonate(actor, 'alice'), { id: 'plain-client', secret: 'plain-client-secret' }), {
      status: 400,
      error: 'unauthorized_client',
      description: 'this client is not allowed to use the token-exchange grant',
      rule: 'client_grant_not_allowed',
    });
  });

  it('refuses a wrong client secret in the Authorization header with 401 and WWW-Authenticate', async () => {
    const { result } = await expectRefusal(server, () => server.exchange(impersonate(actor, 'alice'), { id: 'support-console', secret: 'wrong' }), {
      status: 401,
      error: 'invalid_client',
      description: 'client authentication failed',
      rule: 'client_authentication_failed',
    });
    expect(result.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  it('refuses a request without client authentication with invalid_client (RFC 6749 §5.2)', async () => {
    const { result } = await expectRefusal(server, () => server.exchange(impersonate(actor, 'alice'), null), {
      status: 400,
      error: 'invalid_client',
      description: 'client authentication is required',
      rule: 'client_authentication_failed',
    });
    expect(result.headers.get('www-authenticate')).toBeNull();
  });

  it('refuses a public client', async () => {
    await expectRefusal(server, () => server.exchange({ ...impersonate(actor, 'alice'), client_id: 'public-app' }, null), {
      status: 400,
      error: 'invalid_client',
      description: 'public clients cannot use token exchange',
      rule: 'client_public',
    });
  });

  it('answers with Cache-Control: no-store on success', async () => {
    const result = await server.exchange(impersonate(actor, 'alice', { scope: 'openid' }));
    expect(result.status).toBe(200);
    expect(result.headers.get('cache-control')).toBe('no-store');
  });
});

describe('the global switch (docs/grant.md, docs/policy.md)', () => {
  let off: TestServer;
  beforeAll(async () => {
    off = await startTestServer({ policy: { enabled: false } });
  });
  afterAll(() => off.close());

  it('answers unsupported_grant_type while impersonation is disabled', async () => {
    const token = (await off.signIn('support')).access_token;
    await expectRefusal(off, () => off.exchange(impersonate(token, 'alice')), {
      status: 400,
      error: 'unsupported_grant_type',
      description: 'token exchange is disabled',
      rule: 'impersonation_disabled',
    });
  });

  it('disables even a delegation without actor', async () => {
    await expectRefusal(off, () => off.exchange({ subject_token: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' }, ORDERS_API), {
      status: 400,
      error: 'unsupported_grant_type',
      description: 'token exchange is disabled',
      rule: 'impersonation_disabled',
    });
  });
});
