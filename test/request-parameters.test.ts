import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { expectRefusal } from './helpers/refusal.js';
import { REASON, startTestServer, TokenType, impersonate, type TestServer } from './helpers/server.js';

let server: TestServer;
let actor: string;

beforeAll(async () => {
  server = await startTestServer();
  actor = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

const invalidRequest = (description: string, rule: string) => ({ status: 400, error: 'invalid_request', description, rule });

describe('request parameters (docs/grant.md, RFC 8693 §2.1)', () => {
  it('refuses a request without subject_token', async () => {
    const { subject_token: _omit, ...params } = impersonate(actor, 'alice');
    await expectRefusal(server, () => server.exchange(params), invalidRequest("missing required parameter 'subject_token'", 'parameter_missing'));
  });

  it('refuses a request without subject_token_type', async () => {
    const { subject_token_type: _omit, ...params } = impersonate(actor, 'alice');
    await expectRefusal(server, () => server.exchange(params), invalidRequest("missing required parameter 'subject_token_type'", 'parameter_missing'));
  });

  it('refuses an unknown subject_token_type', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { subject_token_type: 'urn:example:unknown' })),
      invalidRequest('unsupported subject_token_type', 'token_type_unsupported'),
    );
  });

  it('refuses a refresh token offered as subject_token_type', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { subject_token_type: TokenType.refreshToken })),
      invalidRequest('unsupported subject_token_type', 'token_type_unsupported'),
    );
  });

  it('refuses an unknown actor_token_type', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { actor_token_type: TokenType.userId })),
      invalidRequest('unsupported actor_token_type', 'token_type_unsupported'),
    );
  });

  it('refuses actor_token without actor_token_type', async () => {
    const { actor_token_type: _omit, ...params } = impersonate(actor, 'alice');
    await expectRefusal(server, () => server.exchange(params), invalidRequest("missing required parameter 'actor_token_type'", 'parameter_missing'));
  });

  it('refuses actor_token_type without actor_token', async () => {
    const { actor_token: _omit, ...params } = impersonate(actor, 'alice');
    await expectRefusal(server, () => server.exchange(params), invalidRequest("actor_token_type given without 'actor_token'", 'parameter_missing'));
  });

  it('refuses the user-id subject type without an actor token', async () => {
    const { actor_token: _a, actor_token_type: _t, ...params } = impersonate(actor, 'alice');
    await expectRefusal(
      server,
      () => server.exchange(params),
      invalidRequest('actor_token is required when subject_token_type is the user-id type', 'actor_token_required'),
    );
  });

  it('refuses a request for a refresh token', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { requested_token_type: TokenType.refreshToken })),
      invalidRequest('refresh tokens are never issued by token exchange', 'requested_token_type_unsupported'),
    );
  });

  it('refuses an unknown requested_token_type', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { requested_token_type: 'urn:ietf:params:oauth:token-type:saml2' })),
      invalidRequest('unsupported requested_token_type', 'requested_token_type_unsupported'),
    );
  });

  it.each(['0', '-5', '1.5', 'soon', '99999999999'])('refuses requested_expires_in=%s', async (value) => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { requested_expires_in: value })),
      invalidRequest('requested_expires_in must be a positive integer number of seconds', 'requested_expires_in_invalid'),
    );
  });

  it('refuses a parameter given twice', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { subject_token: ['alice', 'bob'] })),
      invalidRequest("'subject_token' parameter must not be provided twice", 'parameter_duplicated'),
    );
  });

  it('refuses impersonation without a reason', async () => {
    const { reason: _omit, ...params } = impersonate(actor, 'alice');
    await expectRefusal(server, () => server.exchange(params), invalidRequest("missing required parameter 'reason'", 'reason_missing'));
  });

  it('refuses a reason that is blank once trimmed', async () => {
    await expectRefusal(server, () => server.exchange(impersonate(actor, 'alice', { reason: '   \t ' })), invalidRequest("missing required parameter 'reason'", 'reason_missing'));
  });

  it('refuses a reason shorter than 10 characters after trimming', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { reason: '   too short  ' })),
      invalidRequest('reason must be 10 to 500 characters', 'reason_invalid'),
    );
  });

  it('names the actor and the subject in the audit record of a request refused for its reason', async () => {
    const { record } = await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { reason: 'too short' })),
      invalidRequest('reason must be 10 to 500 characters', 'reason_invalid'),
    );
    expect(record).toMatchObject({ actor: 'support', subject: 'alice' });
  });

  it('refuses a reason longer than 500 characters', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { reason: 'x'.repeat(501) })),
      invalidRequest('reason must be 10 to 500 characters', 'reason_invalid'),
    );
  });

  it('refuses a reason with control characters', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { reason: `${REASON}\nINFO forged log line` })),
      invalidRequest('reason must not contain control characters', 'reason_invalid'),
    );
  });

  it.each([
    ['a zero-width space', '\u200B'],
    ['a right-to-left override', '\u202E'],
    ['a left-to-right isolate', '\u2066'],
    ['a zero-width joiner', '\u200D'],
    ['a byte order mark', '\uFEFF'],
  ])('refuses a reason with %s (Unicode Cf, docs/grant.md)', async (_name, character) => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { reason: `Ticket 4711${character}: alice cannot see orders` })),
      invalidRequest('reason must not contain control characters', 'reason_invalid'),
    );
  });

  it('refuses a reason that holds a token, which would reach the audit record', async () => {
    await expectRefusal(
      server,
      () => server.exchange(impersonate(actor, 'alice', { reason: `Ticket 4711: token was ${actor}` })),
      invalidRequest('reason must not contain a token or other credential', 'reason_invalid'),
    );
  });

  it('accepts a reason of exactly 10 and of exactly 500 characters', async () => {
    for (const reason of ['0123456789', 'y'.repeat(500)]) {
      const result = await server.exchange(impersonate(actor, 'alice', { reason, scope: 'openid' }));
      if (result.status !== 200) throw new Error(JSON.stringify(result.body));
    }
  });
});
