import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { ConfigurationError, tokenExchange } from '../src/index.js';
import type { ApprovalRequestedNotice, SubjectNotice } from '../src/notify/notice.js';
import { HttpBrowser } from './helpers/http-browser.js';
import { startReceiver } from './helpers/receiver.js';
import { expectRefusal } from './helpers/refusal.js';
import { BILLING, ORDERS, ORDERS_API, REASON, SUPPORT_CONSOLE, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

/*
 * Subject-approved support access (beyond RFC 8693, `policy.requireSubjectApproval`): the actor
 * asks (admin API, console), the subject approves or declines (account page, one-time link), only
 * an approved request starts an impersonation — once, within its window — through the grant
 * (`approval_id`) or a ticket (`approval`), every step is audited, and the subject's revocation
 * ends what started under it.
 */

const DEMO_APP = { id: 'demo-app', secret: 'demo-app-secret', redirectUri: 'http://localhost:3001/callback' };
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
let server: TestServer;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let support: string;
let supportAdmin: string;
const notices: SubjectNotice[] = [];

type Json = Record<string, unknown>;

async function api(method: string, path: string, body: unknown, token = supportAdmin): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${server.issuer}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

async function ask(body: Json = {}, token = supportAdmin): Promise<Json> {
  const asked = await api('POST', '/approvals', { subject: 'alice', reason: REASON, ...body }, token);
  if (asked.status !== 201) throw new Error(JSON.stringify(asked.body));
  return asked.body;
}

/** Asked and approved by alice (the library call the account page makes). */
async function approved(body: Json = {}, token = supportAdmin): Promise<string> {
  const { id } = await ask(body, token);
  await server.reference.exchange.answerApproval(id as string, 'alice', 'approve');
  return id as string;
}

async function mint(body: Json, token = supportAdmin) {
  return api('POST', '/tickets', { subject: 'alice', client_id: DEMO_APP.id, reason: REASON, ...body }, token);
}

/** The relying party's side of a ticket: an authorization-code request carrying it. */
async function redeem(ticket: string) {
  const config = await server.clientConfig(DEMO_APP.id, DEMO_APP.secret);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: DEMO_APP.redirectUri, scope: 'openid profile', state: 's', login_hint: ticket, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  const stop = await new HttpBrowser().navigate(url, { until: (u) => u.href.startsWith(DEMO_APP.redirectUri) });
  return { callback: stop.url, tokens: () => oidc.authorizationCodeGrant(config, stop.url, { pkceCodeVerifier: verifier, expectedState: 's' }) };
}

async function accountPage(login = 'alice') {
  const browser = new HttpBrowser();
  const page = await browser.navigate(`${server.issuer}/account/impersonations`, { until: () => false, login: { login, password: 'demo-password' } });
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)![1]!;
  return { browser, html: page.html, csrf };
}

async function post(browser: HttpBrowser, path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await browser.request(`${server.issuer}${path}`, { form, headers });
  return { status: response.status, html: await response.text() };
}

const userinfo = async (token: string) => (await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${token}` } })).status;

/** Moves the clock `seconds` ahead for the body (Date.now drives the provider, the store and the extension). */
async function later<T>(seconds: number, body: () => Promise<T>): Promise<T> {
  const real = Date.now.bind(Date);
  const spy = jest.spyOn(Date, 'now').mockImplementation(() => real() + seconds * 1000);
  try {
    return await body();
  } finally {
    spy.mockRestore();
  }
}

const lastNotice = () => notices.filter((n): n is ApprovalRequestedNotice => n.type === 'approval.requested').at(-1)!;

beforeAll(async () => {
  receiver = await startReceiver();
  server = await startTestServer({
    policy: { rateLimit: false, requireSubjectApproval: true, readOnlyScopes: ['openid', 'profile', 'orders:read', 'billing:read'] },
    hooks: { notifySubject: (notice) => void notices.push(notice) },
    webhooks: { endpoints: [{ url: receiver.url, secret: SECRET, events: ['approval.requested', 'approval.granted', 'approval.declined', 'approval.revoked'] }], pollIntervalMs: 20, baseDelayMs: 60 },
  });
  support = (await server.signIn('support')).access_token;
  supportAdmin = (await server.signIn('support', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
});
afterAll(async () => {
  await server.close();
  await receiver.close();
});

describe('configuration', () => {
  const accounts = { findAccount: async () => undefined };
  const messageOf = (input: Record<string, unknown>) => {
    try {
      tokenExchange({ accounts, ...input });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigurationError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigurationError');
  };

  it('rejects a requireSubjectApproval object that names neither tenants nor roles', () => {
    expect(messageOf({ policy: { requireSubjectApproval: {} } })).toBe(
      'invalid token exchange options: policy.requireSubjectApproval: give tenants (subjects of these tenants must approve) and/or actorRoles (actors holding these roles must ask), or true for every impersonation',
    );
  });

  it('rejects a requireSubjectApproval that is neither a boolean nor an object', () => {
    expect(messageOf({ policy: { requireSubjectApproval: 'yes' } })).toBe(
      'invalid token exchange options: policy.requireSubjectApproval: must be true, false, or { tenants?: [...], actorRoles?: [...] }',
    );
  });

  it('rejects an empty tenant list', () => {
    expect(messageOf({ policy: { requireSubjectApproval: { tenants: [] } } })).toBe('invalid token exchange options: policy.requireSubjectApproval.tenants: must list at least one tenant (or leave it out)');
  });

  it('rejects a request lifetime above 7 days and an approval window above 3600 s', () => {
    expect(messageOf({ approvals: { requestLifetimeSeconds: 8 * 24 * 3600 } })).toBe('invalid token exchange options: approvals.requestLifetimeSeconds: must be at most 604800 seconds (7 days)');
    expect(messageOf({ approvals: { defaultDurationSeconds: 7200 } })).toBe(
      'invalid token exchange options: approvals.defaultDurationSeconds: must be at most 3600 seconds (an approval never outlasts an impersonation)',
    );
  });
});

describe('the actor asks (POST /admin/api/approvals)', () => {
  it('stores a pending request, audits it and tells the subject with a one-time link', async () => {
    const mark = server.auditMark();
    const asked = await api('POST', '/approvals', { subject: 'alice', reason: REASON, scope: 'openid billing:read', duration_seconds: 900, mode: 'read' });
    expect(asked.status).toBe(201);
    expect(asked.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      actor: 'support',
      subject: 'alice',
      reason: REASON,
      scope: 'openid billing:read',
      duration_seconds: 900,
      mode: 'read',
      state: 'pending',
      requested_at: expect.any(String),
      answer_by: expect.any(String),
    });
    expect(Date.parse(asked.body.answer_by as string) - Date.parse(asked.body.requested_at as string)).toBe(24 * 3600 * 1000);
    expect(server.auditSince(mark)).toEqual([
      expect.objectContaining({ event: 'approval.requested', outcome: 'granted', actor: 'support', subject: 'alice', reason: REASON, scope: 'openid billing:read', mode: 'read', approval_id: asked.body.id }),
    ]);
    expect(lastNotice()).toEqual({
      type: 'approval.requested',
      subject: 'alice',
      actor: 'support',
      actor_name: 'Sam Support',
      reason: REASON,
      scope: 'openid billing:read',
      duration_seconds: 900,
      mode: 'read',
      approval_id: asked.body.id,
      answer_by: asked.body.answer_by,
      link: expect.stringMatching(new RegExp(`^${server.issuer}/account/approvals/respond\\?token=[\\w-]+\\.[\\w-]{43}$`)),
      message: expect.stringMatching(/^Sam Support \(support\) asks to view your account \(read-only\) for up to 15 minutes, because: Ticket 4711: customer cannot see her orders\. Approve or decline by .* UTC\.$/),
    });
    expect((await api('GET', '/approvals?subject=alice', undefined)).body.approvals).toContainEqual(asked.body);
  });

  const refusals: Array<[string, Json, number, string, string, string]> = [
    ['a protected subject', { subject: 'root' }, 400, 'invalid_request', 'subject cannot be impersonated by this actor', 'subject_protected'],
    ['a missing reason', { reason: undefined }, 400, 'invalid_request', "missing required parameter 'reason'", 'reason_missing'],
    ['a window above the ceiling', { duration_seconds: 3601 }, 400, 'invalid_request', 'duration must be 60 to 3600 seconds', 'approval_invalid'],
    ['a scope no impersonation may carry', { scope: 'openid orders:write' }, 400, 'invalid_request', 'an impersonation cannot be granted: orders:write', 'approval_invalid'],
    ['a read-only request for a scope outside the read-only set', { scope: 'billing:read email', mode: 'read' }, 400, 'invalid_request', 'an impersonation cannot be granted: email', 'approval_invalid'],
  ];
  for (const [name, change, status, error, description, rule] of refusals) {
    it(`refuses ${name}, audited`, async () => {
      const mark = server.auditMark();
      const asked = await api('POST', '/approvals', { subject: 'alice', reason: REASON, ...change });
      expect(asked).toEqual({ status, body: { error, error_description: description } });
      expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'approval.requested', outcome: 'denied', rule })]);
    });
  }

  it('lists requests by subject or actor, for administrators only', async () => {
    await ask();
    expect((await api('GET', '/approvals?actor=support', undefined)).body.approvals).toEqual(expect.arrayContaining([expect.objectContaining({ actor: 'support', subject: 'alice' })]));
    expect(await api('GET', '/approvals', undefined)).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'approvals query: give exactly one of subject or actor' } });
    expect((await api('GET', '/approvals?subject=alice', undefined, support)).status).toBe(403);
  });
});

describe('only an approved request starts an impersonation: the grant (approval_id)', () => {
  it('refuses an impersonation without approval', async () => {
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { resource: BILLING })), {
      status: 400,
      error: 'invalid_request',
      description: "this impersonation needs the subject's approval: ask them first",
      rule: 'approval_required',
    });
  });

  it('refuses a request the subject has not answered', async () => {
    const { id } = await ask();
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { approval_id: id as string })), {
      status: 400, error: 'invalid_request', description: 'the subject has not answered this request yet', rule: 'approval_pending',
    });
  });

  it('refuses a declined request', async () => {
    const { id } = await ask();
    await server.reference.exchange.answerApproval(id as string, 'alice', 'decline');
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { approval_id: id as string })), {
      status: 400, error: 'invalid_request', description: 'the subject declined this request', rule: 'approval_declined',
    });
  });

  it("refuses another actor's approval, and an id that names none, alike", async () => {
    const adminAdmin = (await server.signIn('admin', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
    const theirs = await approved({}, adminAdmin);
    for (const id of [theirs, '00000000-0000-4000-8000-000000000000', 'not-an-id']) {
      await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { approval_id: id })), {
        status: 400, error: 'invalid_request', description: 'unknown approval', rule: 'approval_unknown',
      });
    }
  });

  it('starts under an approval: the token holds the approved scopes, lasts at most its window, and is audited with it', async () => {
    const id = await approved({ scope: 'billing:read', duration_seconds: 600 });
    const mark = server.auditMark();
    const result = await server.exchange(impersonate(support, 'alice', { approval_id: id, resource: BILLING }));
    expect(result.status).toBe(200);
    expect(result.body.scope).toBe('billing:read');
    expect(result.body.expires_in as number).toBeLessThanOrEqual(600);
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'exchange.granted', actor: 'support', subject: 'alice', approval_id: id })]);
    expect(await server.reference.exchange.list({ subject: 'alice' })).toContainEqual(expect.objectContaining({ approvalId: id }));
  });

  it('refuses a scope beyond the approved ones: invalid_scope naming the approval, and the approval is not spent', async () => {
    const id = await approved({ scope: 'billing:read' });
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { approval_id: id, resource: ORDERS })), {
      status: 400, error: 'invalid_scope', description: 'the subject approved none of the requested scopes', rule: 'scope_empty',
    });
    expect((await server.exchange(impersonate(support, 'alice', { approval_id: id, resource: BILLING }))).status).toBe(200);
  });

  it('starts once: the second use is refused', async () => {
    const id = await approved();
    expect((await server.exchange(impersonate(support, 'alice', { approval_id: id, resource: BILLING }))).status).toBe(200);
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { approval_id: id, resource: BILLING })), {
      status: 400, error: 'invalid_request', description: 'this approval was already used', rule: 'approval_used',
    });
  });

  it('of 20 concurrent uses of one approval, exactly one starts', async () => {
    const id = await approved();
    const results = await Promise.all(Array.from({ length: 20 }, () => server.exchange(impersonate(support, 'alice', { approval_id: id, resource: BILLING }))));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.body.error_description === 'this approval was already used')).toHaveLength(19);
  });

  it('refuses an approval whose window has ended', async () => {
    const id = await approved({ duration_seconds: 300 });
    await later(301, () =>
      expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { approval_id: id, resource: BILLING })), {
        status: 400, error: 'invalid_request', description: "this approval's window has ended", rule: 'approval_expired',
      }),
    );
  });

  it('makes the impersonation read-only when the subject approved read-only access, and refuses full', async () => {
    const id = await approved({ mode: 'read' });
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { approval_id: id, resource: ORDERS, impersonation_mode: 'full' })), {
      status: 400, error: 'invalid_request', description: 'the subject approved read-only access', rule: 'impersonation_mode_not_allowed',
    });
    const result = await server.exchange(impersonate(support, 'alice', { approval_id: id, resource: ORDERS }));
    expect(JSON.parse(Buffer.from((result.body.access_token as string).split('.')[1]!, 'base64url').toString())).toMatchObject({ impersonation: { mode: 'read' } });
  });

  it('refuses approval_id on a delegation (no impersonation starts)', async () => {
    const id = await approved();
    const own = (await server.signIn('alice')).access_token;
    await expectRefusal(server, () => server.exchange({ subject_token: own, subject_token_type: TokenType.accessToken, approval_id: id }), {
      status: 400, error: 'invalid_request', description: 'approval_id applies only to starting an impersonation', rule: 'approval_not_applicable',
    });
  });

  it('refuses approval_id on a chained exchange (only a start spends an approval)', async () => {
    const id = await approved();
    const started = (await server.exchange(impersonate(support, 'alice', { approval_id: id, resource: ORDERS }))).body.access_token as string;
    const other = await approved();
    await expectRefusal(server, () => server.exchange({ subject_token: started, subject_token_type: TokenType.accessToken, resource: ORDERS, approval_id: other }, ORDERS_API), {
      status: 400, error: 'invalid_request', description: 'approval_id applies only to starting an impersonation', rule: 'approval_not_applicable',
    });
  });
});

describe('only an approved request starts an impersonation: tickets (approval)', () => {
  it('refuses to mint without approval, audited', async () => {
    const mark = server.auditMark();
    expect(await mint({})).toEqual({ status: 400, body: { error: 'invalid_request', error_description: "this impersonation needs the subject's approval: ask them first" } });
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', rule: 'approval_required' })]);
  });

  it('mints under an approval (spending it), and the session starts with it', async () => {
    const id = await approved({ mode: 'read', duration_seconds: 900 });
    const mark = server.auditMark();
    const minted = await mint({ approval: id });
    expect(minted.status).toBe(201);
    expect((await mint({ approval: id })).body).toEqual({ error: 'invalid_request', error_description: 'this approval was already used' });
    const tokens = await (await redeem(minted.body.ticket as string)).tokens();
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ sub: 'alice', act: { sub: 'support' }, impersonation: { mode: 'read' } });
    expect(claims.exp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 900);
    expect(server.auditSince(mark)).toEqual([
      expect.objectContaining({ event: 'ticket.minted', outcome: 'granted', approval_id: id, mode: 'read' }),
      expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', rule: 'approval_used' }),
      expect.objectContaining({ event: 'ticket.redeemed', outcome: 'granted', approval_id: id, mode: 'read' }),
    ]);
  });

  it('holds the browser session to the approved scopes, plus openid (no sign-in without it)', async () => {
    const id = await approved({ scope: 'profile' });
    const minted = await mint({ approval: id });
    const tokens = await (await redeem(minted.body.ticket as string)).tokens();
    expect(tokens.scope).toBe('openid profile');
  });

  it('refuses to redeem a ticket whose approval the subject revoked since', async () => {
    const id = await approved();
    const minted = await mint({ approval: id });
    await server.reference.exchange.revokeApproval(id, 'alice');
    const mark = server.auditMark();
    const { callback } = await redeem(minted.body.ticket as string);
    expect(Object.fromEntries(callback.searchParams)).toMatchObject({ error: 'access_denied', error_description: 'the subject revoked this approval' });
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.redeemed', outcome: 'denied', rule: 'approval_revoked' })]);
  });
});

describe('who needs approval: per tenant, per actor role', () => {
  let scoped: TestServer;
  beforeAll(async () => {
    scoped = await startTestServer({ policy: { rateLimit: false, requireSubjectApproval: { tenants: ['globex'], actorRoles: ['support'] } } });
  });
  afterAll(() => scoped.close());

  it('holds an actor with a listed role to approval, and not an actor without it', async () => {
    const sam = (await scoped.signIn('support')).access_token;
    const ada = (await scoped.signIn('admin')).access_token;
    expect((await scoped.exchange(impersonate(sam, 'alice', { resource: BILLING }))).body).toEqual({ error: 'invalid_request', error_description: "this impersonation needs the subject's approval: ask them first" });
    expect((await scoped.exchange(impersonate(ada, 'alice', { resource: BILLING }))).status).toBe(200);
  });

  it('holds subjects of a listed tenant to approval', async () => {
    await scoped.reference.accounts.update('admin', { roles: ['admin', 'impersonator', 'global_impersonator'] });
    try {
      const ada = (await scoped.signIn('admin')).access_token;
      expect((await scoped.exchange(impersonate(ada, 'carol', { resource: BILLING }))).body).toEqual({ error: 'invalid_request', error_description: "this impersonation needs the subject's approval: ask them first" });
    } finally {
      await scoped.reference.accounts.update('admin', { roles: ['admin', 'impersonator'] });
    }
  });
});

describe("the subject answers on their page (/account/impersonations)", () => {
  it('shows a pending request with Approve and Decline; approving opens its window, audited', async () => {
    const { id } = await ask({ mode: 'read', duration_seconds: 1800 });
    const page = await accountPage();
    expect(page.html).toContain('<h2 id="requests-heading">Requests for access</h2>');
    expect(page.html).toContain(`data-approval="${id}"`);
    expect(page.html).toMatch(/<strong>Sam Support \(support\) asks to view your account \(read-only\) for up to 30 minutes, because: Ticket 4711: customer cannot see her orders\. Approve or decline by .* UTC\.<\/strong>/);
    const mark = server.auditMark();
    const answered = await post(page.browser, '/account/approvals/answer', { csrf: page.csrf, approval: id as string, decision: 'approve' });
    expect(answered.status).toBe(200);
    expect(answered.html).toMatch(/Approved until .* UTC\. You can revoke it here at any time\./);
    expect(answered.html).toContain('You let <strong>Sam Support</strong> view your account (read-only) until');
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'approval.granted', outcome: 'granted', rule: 'approved_by_subject', actor: 'support', subject: 'alice', approval_id: id })]);
  });

  it('declines, audited', async () => {
    const { id } = await ask();
    const page = await accountPage();
    const mark = server.auditMark();
    const answered = await post(page.browser, '/account/approvals/answer', { csrf: page.csrf, approval: id as string, decision: 'decline' });
    expect(answered.html).toContain('Declined: support cannot use this request.');
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'approval.declined', rule: 'declined_by_subject', approval_id: id })]);
  });

  it('refuses an answer without the form token or from another site, and changes nothing', async () => {
    const { id } = await ask();
    const page = await accountPage();
    const mark = server.auditMark();
    expect((await post(page.browser, '/account/approvals/answer', { approval: id as string, decision: 'approve' })).status).toBe(403);
    expect((await post(page.browser, '/account/approvals/answer', { csrf: page.csrf, approval: id as string, decision: 'approve' }, { origin: 'https://evil.example' })).status).toBe(403);
    expect(server.auditSince(mark)).toEqual([]);
    expect((await api('GET', '/approvals?subject=alice', undefined)).body.approvals).toContainEqual(expect.objectContaining({ id, state: 'pending' }));
  });

  it("cannot answer someone else's request", async () => {
    const { id } = await ask();
    const bob = await accountPage('bob');
    const mark = server.auditMark();
    const answered = await post(bob.browser, '/account/approvals/answer', { csrf: bob.csrf, approval: id as string, decision: 'approve' });
    expect(answered.status).toBe(404);
    expect(answered.html).toContain('There is no such request.');
    expect(server.auditSince(mark)).toEqual([]);
  });

  it('cannot approve a request that lapsed unanswered', async () => {
    const { id } = await ask();
    const answered = await later(24 * 3600 + 1, async () => {
      const page = await accountPage();
      return post(page.browser, '/account/approvals/answer', { csrf: page.csrf, approval: id as string, decision: 'approve' });
    });
    expect(answered.status).toBe(409);
    expect(answered.html).toContain('This request has lapsed: it was not answered in time.');
  });
});

describe('the one-time link (delivered through hooks.notifySubject)', () => {
  it('shows the request without changing anything; a button answers it, audited as by link', async () => {
    const { id } = await ask();
    const link = lastNotice().link!;
    const browser = new HttpBrowser();
    const mark = server.auditMark();
    const shown = await browser.request(link);
    const html = await shown.text();
    expect(shown.status).toBe(200);
    expect(shown.headers.get('referrer-policy')).toBe('no-referrer');
    expect(html).toContain('Support asks for access to your account');
    expect(server.auditSince(mark)).toEqual([]);
    const token = new URL(link).searchParams.get('token')!;
    const answered = await post(browser, '/account/approvals/respond', { token, decision: 'approve' });
    expect(answered.status).toBe(200);
    expect(answered.html).toContain('<h1>Approved</h1>');
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'approval.granted', rule: 'approved_by_link', approval_id: id })]);
    expect((await browser.request(link)).status).toBe(409);
  });

  it('is single-use: of an approval and a decline racing on one link, exactly one is taken', async () => {
    await ask();
    const token = new URL(lastNotice().link!).searchParams.get('token')!;
    const browser = new HttpBrowser();
    const answers = await Promise.all(['approve', 'decline', 'approve', 'decline'].map((decision) => post(browser, '/account/approvals/respond', { token, decision })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409]);
  });

  it('refuses a tampered or expired link', async () => {
    await ask();
    const token = new URL(lastNotice().link!).searchParams.get('token')!;
    const tampered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    const browser = new HttpBrowser();
    expect((await post(browser, '/account/approvals/respond', { token: tampered, decision: 'approve' })).status).toBe(404);
    const expired = await later(24 * 3600 + 1, () => post(browser, '/account/approvals/respond', { token, decision: 'approve' }));
    expect(expired).toMatchObject({ status: 404, html: expect.stringContaining('This link is not valid, or it has expired.') });
  });

  it('refuses an answer posted from another site', async () => {
    await ask();
    const token = new URL(lastNotice().link!).searchParams.get('token')!;
    expect((await post(new HttpBrowser(), '/account/approvals/respond', { token, decision: 'approve' }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
  });
});

describe('the subject revokes an approval at any time', () => {
  it('ends the browser session started under it: its tokens stop working, audited', async () => {
    const id = await approved();
    const minted = await mint({ approval: id });
    const tokens = await (await redeem(minted.body.ticket as string)).tokens();
    expect(await userinfo(tokens.access_token)).toBe(200);
    const page = await accountPage();
    const mark = server.auditMark();
    const revoked = await post(page.browser, '/account/approvals/revoke', { csrf: page.csrf, approval: id });
    expect(revoked.html).toContain('Revoked: it can no longer be used, and the access it opened has ended.');
    expect(await userinfo(tokens.access_token)).toBe(401);
    expect((await server.reference.exchange.list({ subject: 'alice' })).filter((r) => r.approvalId === id)).toEqual([]);
    expect(server.auditSince(mark)).toEqual([
      expect.objectContaining({ event: 'approval.revoked', rule: 'revoked_by_subject', actor: 'support', subject: 'alice', approval_id: id }),
      expect.objectContaining({ event: 'token.revoked', rule: 'approval_revoked', actor: 'alice', subject: 'alice', client_id: DEMO_APP.id }),
    ]);
  });

  it('ends an exchanged impersonation and what was passed on from it', async () => {
    const id = await approved();
    const started = (await server.exchange(impersonate(support, 'alice', { approval_id: id, resource: ORDERS }))).body.access_token as string;
    const chained = (await server.exchange({ subject_token: started, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API)).body.access_token as string;
    expect(await server.reference.exchange.revokeApproval(id, 'alice')).toBe(2);
    for (const token of [started, chained]) expect((await server.post('/token/introspection', { token }, ORDERS_API)).body).toEqual({ active: false });
  });

  it('makes an unused approval unusable', async () => {
    const id = await approved();
    await server.reference.exchange.revokeApproval(id, 'alice');
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { approval_id: id, resource: BILLING })), {
      status: 400, error: 'invalid_request', description: 'the subject revoked this approval', rule: 'approval_revoked',
    });
  });
});

describe('webhooks for every step', () => {
  it('delivers approval.requested (with a notice but never the link), granted, declined and revoked', async () => {
    const first = await ask();
    await server.reference.exchange.answerApproval(first.id as string, 'alice', 'approve');
    await server.reference.exchange.revokeApproval(first.id as string, 'alice');
    const second = await ask();
    await server.reference.exchange.answerApproval(second.id as string, 'alice', 'decline');
    const ours = () => receiver.deliveries.map((d) => JSON.parse(d.body) as Json).filter((b) => [first.id, second.id].includes((b.data as Json).approval_id));
    for (let i = 0; i < 500 && ours().length < 5; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    const bodies = ours();
    const steps = bodies.map((b) => [b.type, (b.data as Json).approval_id]);
    expect(steps).toHaveLength(5);
    expect(steps).toEqual(
      expect.arrayContaining([
        ['approval.requested', first.id],
        ['approval.granted', first.id],
        ['approval.revoked', first.id],
        ['approval.requested', second.id],
        ['approval.declined', second.id],
      ]),
    );
    const requested = bodies.find((b) => b.type === 'approval.requested' && (b.data as Json).approval_id === first.id)!;
    expect(requested.notice).toMatchObject({ type: 'approval.requested', subject: 'alice', actor_name: 'Sam Support', approval_id: first.id });
    expect((requested.notice as Json).link).toBeUndefined();
    expect(receiver.deliveries.map((d) => d.body).join('')).not.toContain('/account/approvals/respond');
  });
});
