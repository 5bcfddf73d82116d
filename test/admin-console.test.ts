import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { HttpBrowser } from './helpers/http-browser.js';
import { REASON, startTestServer, type TestServer } from './helpers/server.js';

/*
 * docs/admin-console.md over HTTP: the support console's pages and forms (the browser journey, with its script,
 * is in test/browser-journey.test.ts).
 */

let server: TestServer;
let support: HttpBrowser;
let csrf: string;

async function signedInConsole(login: string): Promise<{ browser: HttpBrowser; html: string; status: number }> {
  const browser = new HttpBrowser();
  const page = await browser.navigate(`${server.issuer}/admin/login`, { until: () => false, login: { login, password: 'demo-password' } });
  return { browser, html: page.html, status: page.status };
}

async function get(path: string, browser = support): Promise<{ status: number; html: string; headers: Headers }> {
  const response = await browser.request(`${server.issuer}${path}`);
  return { status: response.status, html: await response.text(), headers: response.headers };
}

async function post(path: string, form: Record<string, string>, options: { json?: boolean; headers?: Record<string, string> } = {}) {
  const response = await support.request(`${server.issuer}${path}`, { form, headers: { ...(options.json ? { accept: 'application/json' } : {}), ...options.headers } });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: options.json && text ? (JSON.parse(text) as Record<string, string>) : undefined };
}

beforeAll(async () => {
  server = await startTestServer({ policy: { rateLimit: false } });
  const signedIn = await signedInConsole('support');
  support = signedIn.browser;
  csrf = /name="csrf" value="([^"]+)"/.exec(signedIn.html)![1]!;
});
afterAll(() => server.close());

describe('the support console (docs/admin-console.md)', () => {
  it('finds users by id, name or email', async () => {
    const page = await get('/admin/users?q=anders');
    expect(page.status).toBe(200);
    expect(page.html).toContain('<a href="/admin/users/alice"><strong>alice</strong></a>');
    expect(page.html).not.toContain('/admin/users/bob"');
    expect((await get('/admin/users?q=globex')).html).toContain('/admin/users/carol"');
    expect((await get('/admin/users?q=nobody-at-all')).html).toContain('No user matches “nobody-at-all”.');
  });

  it("shows a user's page with the Impersonate dialog: reason and application", async () => {
    const page = await get('/admin/users/alice');
    expect(page.html).toContain('<h1>Alice Anders</h1>');
    expect(page.html).toContain('<dialog id="impersonate-dialog" aria-labelledby="impersonate-title">');
    expect(page.html).toMatch(/<textarea id="impersonate-reason" name="reason" required minlength="10" maxlength="500">/);
    expect(page.html).toContain('<option value="demo-app">demo-app</option>');
  });

  it('mints a ticket for the dialog and answers the login URL to open (JSON for the script)', async () => {
    const mark = server.auditMark();
    const answer = await post('/admin/users/alice/impersonate', { csrf, reason: REASON, client_id: 'demo-app' }, { json: true });
    expect(answer.status).toBe(201);
    expect(new URL(answer.json!.login_url!).searchParams.get('login_hint')).toMatch(/^imptkt_/);
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'granted', actor: 'support', subject: 'alice', client_id: 'demo-app', reason: REASON })]);
  });

  it('redirects a plain form post (no script) to the login URL', async () => {
    const answer = await post('/admin/users/alice/impersonate', { csrf, reason: REASON, client_id: 'demo-app' });
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toMatch(/^http:\/\/localhost:3001\/login\?iss=.*&login_hint=imptkt_/);
    expect(answer.headers.get('content-security-policy')).toContain("form-action 'self' http://localhost:3001");
  });

  it('shows a refused impersonation in the dialog in plain words naming the rule, audited', async () => {
    const mark = server.auditMark();
    const answer = await post('/admin/users/root/impersonate', { csrf, reason: REASON, client_id: 'demo-app' }, { json: true });
    expect({ status: answer.status, body: answer.json }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'Rita Root holds the protected role admin: nobody can impersonate this account.' } });
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', rule: 'subject_protected' })]);
    const page = await post('/admin/users/alice/impersonate', { csrf, reason: 'short', client_id: 'demo-app' });
    expect(page.status).toBe(400);
    expect(page.text).toContain('<div id="impersonate-error" class="alert error" role="alert">Reason must be 10 to 500 characters.</div>');
  });

  it("keeps the token endpoint's one public description for the same refusal", async () => {
    const actor = (await server.signIn('support')).access_token;
    const answer = await server.exchange({ subject_token: 'root', subject_token_type: 'urn:oidc-provider-token-exchange:token-type:user-id', actor_token: actor, actor_token_type: 'urn:ietf:params:oauth:token-type:access_token', reason: REASON, scope: 'openid' });
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'subject cannot be impersonated by this actor' } });
  });

  it.each([
    ['a protected account', 'root', 'Rita Root holds the protected role admin: nobody can impersonate this account.'],
    ['an account of another tenant', 'carol', 'Carol Chen belongs to another tenant (globex). You may impersonate users of your own tenant (acme) only, unless you hold the global_impersonator role.'],
  ])("says on the user page of %s why it cannot be impersonated, with no Impersonate button and no dialog", async (_, id, words) => {
    const page = await get(`/admin/users/${id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain(`<div class="alert warn" role="status" id="impersonate-verdict"><strong>You cannot impersonate ${id}.</strong> ${words}</div>`);
    expect(page.html).not.toMatch(/Impersonate \w+…|<dialog|impersonate-reason/);
  });

  it('says on the user page of a disabled account that it cannot be impersonated, with no Impersonate button', async () => {
    await server.reference.accounts.update('bob', { disabled: true });
    try {
      const page = await get('/admin/users/bob');
      expect(page.html).toContain('<strong>You cannot impersonate bob.</strong> This account is disabled: nobody can impersonate it until it is enabled again.</div>');
      expect(page.html).not.toMatch(/Impersonate bob…|<dialog/);
    } finally {
      await server.reference.accounts.update('bob', { disabled: false });
    }
  });

  it("answers the Impersonate page (no script) of a protected account with the refusal in words, not the form", async () => {
    const page = await get('/admin/users/root/impersonate');
    expect(page.status).toBe(200);
    expect(page.html).toContain('<div class="alert warn" role="alert" id="impersonate-verdict"><strong>You cannot impersonate root.</strong> Rita Root holds the protected role admin: nobody can impersonate this account.</div>');
    expect(page.html).not.toContain('impersonate-reason');
    expect((await get('/admin/users/nobody-here/impersonate')).html).toContain('<strong>You cannot impersonate nobody-here.</strong> There is no user “nobody-here”.</div>');
  });

  it('refuses an application that is not offered', async () => {
    const answer = await post('/admin/users/alice/impersonate', { csrf, reason: REASON, client_id: 'support-console' }, { json: true });
    expect(answer.json).toEqual({ error: 'invalid_request', error_description: 'Choose one of the listed applications.' });
  });

  it('refuses a state change without its CSRF token, or from another origin, and changes nothing', async () => {
    const mark = server.auditMark();
    expect((await post('/admin/users/alice/impersonate', { reason: REASON, client_id: 'demo-app' })).status).toBe(403);
    expect((await post('/admin/users/alice/impersonate', { csrf, reason: REASON, client_id: 'demo-app' }, { headers: { origin: 'https://evil.example' } })).status).toBe(403);
    expect((await post('/admin/settings', { csrf, enabled: 'false' }, { headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
    expect(await server.reference.exchange.isEnabled()).toBe(true);
    expect(server.auditSince(mark)).toEqual([]);
  });

  it('lists live impersonations and revokes one, all of an actor, all of a subject', async () => {
    await server.reference.exchange.revoke({ all: true });
    const actor = (await server.signIn('support')).access_token;
    const exchange = (subject: string) => server.exchange({ subject_token: subject, subject_token_type: 'urn:oidc-provider-token-exchange:token-type:user-id', actor_token: actor, actor_token_type: 'urn:ietf:params:oauth:token-type:access_token', reason: REASON, scope: 'openid' });
    for (const subject of ['alice', 'alice', 'bob']) expect((await exchange(subject)).status).toBe(200);
    const page = await get('/admin/impersonations');
    expect(page.html.match(/<td><strong>alice<\/strong><\/td><td>support<\/td>/g)).toHaveLength(2);
    const grant = /name="grant" value="([^"]+)"/.exec(page.html)![1]!;
    const one = await post('/admin/impersonations/revoke', { csrf, grant, back: '/admin/impersonations' });
    expect(one.text).toContain(': 1 revoked.');
    expect(await server.reference.exchange.list({ all: true })).toHaveLength(2);
    expect((await post('/admin/impersonations/revoke', { csrf, subject: 'bob', back: '/admin/impersonations' })).text).toContain('Ended every impersonation of bob: 1 revoked.');
    expect((await post('/admin/impersonations/revoke', { csrf, actor: 'support', back: '/admin/impersonations' })).text).toContain('Ended every impersonation by support: 1 revoked.');
    expect((await get('/admin/impersonations')).html).toContain('Nobody is acting as anyone right now.');
  });

  it('shows the audit log with filters, paging and the chain status', async () => {
    for (let i = 0; i < 26; i += 1) await post('/admin/users/carol/impersonate', { csrf, reason: REASON, client_id: 'demo-app' }, { json: true });
    const page = await get('/admin/audit?event=ticket.minted&outcome=denied');
    expect(page.html).toContain('<td class="mono">ticket.minted</td>');
    expect(page.html).not.toContain('<td class="mono">exchange.granted</td>');
    expect(page.html).toContain('subject_other_tenant');
    const all = await get('/admin/audit');
    const older = /href="(\/admin\/audit\?cursor=[^"]+)"/.exec(all.html)?.[1];
    expect(older).toBeDefined();
    expect((await get(older!.replace(/&amp;/g, '&'))).html).toContain('(older page)');
    expect((await get('/admin/audit/verify')).html).toMatch(/Chain intact: \d+ records verified/);
    expect((await get('/admin/audit?cursor=not a cursor&since=garbage')).status).toBe(200);
  });

  it('shows each audit record to the second, with the full ISO 8601 time on hover', async () => {
    await post('/admin/users/root/impersonate', { csrf, reason: REASON, client_id: 'demo-app' }, { json: true });
    const page = await get('/admin/audit?event=ticket.minted&outcome=denied');
    const [, datetime, title, shown] = /<td><time datetime="([^"]+)" title="([^"]+)">([^<]+)<\/time><\/td>/.exec(page.html)!;
    expect(datetime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(title).toBe(datetime);
    expect(shown).toBe(`${datetime!.slice(0, 10)} ${datetime!.slice(11, 19)} UTC`);
  });

  it('holds the global switch: off ends every live impersonation, audited', async () => {
    const mark = server.auditMark();
    expect((await post('/admin/settings', { csrf, enabled: 'false' })).text).toContain('Impersonation is off;');
    expect(await server.reference.exchange.isEnabled()).toBe(false);
    expect((await get('/admin/settings')).html).toContain('Off: nobody can impersonate');
    expect((await post('/admin/settings', { csrf, enabled: 'true' })).text).toContain('Impersonation is on.');
    expect(server.auditSince(mark).filter((r) => r.event === 'settings.changed').map((r) => r.rule)).toEqual(['impersonation_disabled', 'impersonation_enabled']);
  });

  it('turns away an account that may not impersonate', async () => {
    const bob = await signedInConsole('bob');
    expect(bob.status).toBe(403);
    expect(bob.html).toContain('You may not use this console');
  });

  it('sends every page with a strict CSP, no framing, no caching, and no token in the source', async () => {
    for (const path of ['/admin/users', '/admin/users/alice', '/admin/impersonations', '/admin/audit', '/admin/settings']) {
      const page = await get(path);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'; style-src 'self'.*frame-ancestors 'none'/);
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.html).not.toMatch(/eyJ[\w-]+\.|imptkt_/);
      expect(page.html).not.toMatch(/<script>|style="/);
    }
  });

  it('signs out, ending the console session', async () => {
    const { browser, html } = await signedInConsole('admin');
    const token = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const out = await browser.request(`${server.issuer}/admin/logout`, { form: { csrf: token } });
    expect(await out.text()).toContain('You have left the support console.');
    expect((await get('/admin/users', browser)).status).toBe(302);
  });
});

describe('the agent, read live on every console request (docs/admin-console.md, docs/admin-console.md)', () => {
  const refusal = 'You may not use this console: this account may not administer impersonation.';
  let agent: HttpBrowser;
  let token: string;

  async function as(path: string, form?: Record<string, string>) {
    const response = await agent.request(`${server.issuer}${path}`, form ? { form: { csrf: token, ...form } } : {});
    return { status: response.status, html: await response.text() };
  }

  beforeEach(async () => {
    const signedIn = await signedInConsole('admin');
    agent = signedIn.browser;
    token = /name="csrf" value="([^"]+)"/.exec(signedIn.html)![1]!;
    await server.reference.exchange.revoke({ all: true });
    const actor = (await server.signIn('support')).access_token;
    await server.exchange({ subject_token: 'bob', subject_token_type: 'urn:oidc-provider-token-exchange:token-type:user-id', actor_token: actor, actor_token_type: 'urn:ietf:params:oauth:token-type:access_token', reason: REASON, scope: 'openid' });
  });
  afterEach(() => server.reference.accounts.update('admin', { disabled: false, roles: ['admin', 'impersonator'] }));

  const demotions: Array<[string, { disabled?: boolean; roles?: string[] }]> = [
    ['demoted (lost the impersonator role)', { roles: ['admin'] }],
    ['disabled', { disabled: true }],
  ];
  const actions: Array<[string, string, Record<string, string> | undefined]> = [
    ['the global switch', '/admin/settings', { enabled: 'false' }],
    ['revoking impersonations', '/admin/impersonations/revoke', { subject: 'bob', back: '/admin/impersonations' }],
    ['the audit log', '/admin/audit', undefined],
    ['the user search', '/admin/users?q=alice', undefined],
    ['the Impersonate dialog', '/admin/users/alice/impersonate', undefined],
    ['minting a ticket', '/admin/users/alice/impersonate', { reason: REASON, client_id: 'demo-app' }],
    ['asking the user for approval', '/admin/users/alice/approvals', { reason: REASON, duration: '900' }],
  ];

  for (const [who, change] of demotions) {
    it.each(actions)(`refuses an agent ${who} since signing in: %s, and changes nothing`, async (_, path, form) => {
      expect((await as('/admin/settings')).status).toBe(200);
      await server.reference.accounts.update('admin', change);
      const mark = server.auditMark();
      const answer = await as(path, form);
      expect(answer.status).toBe(403);
      expect(answer.html).toContain(`<div class="alert error" role="alert">${refusal}</div>`);
      expect(answer.html).not.toMatch(/alice@acme|<table|imptkt_/);
      expect(await server.reference.exchange.isEnabled()).toBe(true);
      expect((await server.reference.exchange.list({ all: true })).map((r) => r.subject)).toEqual(['bob']);
      expect(server.auditSince(mark).filter((r) => r.outcome === 'granted')).toEqual([]);
      // The session is over: restoring the role does not bring it back.
      await server.reference.accounts.update('admin', { disabled: false, roles: ['admin', 'impersonator'] });
      expect((await as('/admin/users')).status).toBe(302);
    });
  }

  it('audits a refused ticket from an agent demoted since signing in', async () => {
    await server.reference.accounts.update('admin', { roles: ['admin'] });
    const mark = server.auditMark();
    expect((await as('/admin/users/alice/impersonate', { reason: REASON, client_id: 'demo-app' })).status).toBe(403);
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', rule: 'actor_not_impersonator', actor: 'admin', subject: 'alice' })]);
  });
});

describe('malformed percent-encoding in console addresses', () => {
  const bad = '<div class="alert error" role="alert">That address is malformed.</div>';

  it.each([
    ['a user page', '/admin/users/%E0%A4%A'],
    ['the Impersonate page', '/admin/users/%zz/impersonate'],
  ])('answers 400 with a page for %s', async (_, path) => {
    const page = await get(path);
    expect(page.status).toBe(400);
    expect(page.html).toContain(bad);
  });

  it.each([
    ['minting a ticket', '/admin/users/%zz/impersonate', { reason: REASON, client_id: 'demo-app' }],
    ['asking for approval', '/admin/users/%E0%A4%A/approvals', { reason: REASON, duration: '900' }],
  ])('answers 400 with a page for %s, and nothing is asked or minted', async (_, path, form) => {
    const mark = server.auditMark();
    const answer = await post(path, { csrf, ...form });
    expect(answer.status).toBe(400);
    expect(answer.text).toContain(bad);
    expect(server.auditSince(mark)).toEqual([]);
  });

  it.each(['/account/%E0%A4%A', '/account/impersonations%zz', '/account/approvals/respond?token=%zz'])(
    'answers an account page address with a malformed percent-encoding as not found, never a server error: %s',
    async (path) => {
      expect((await get(path, new HttpBrowser())).status).toBe(404);
    },
  );

  it("ignores a revoke form's malformed back address in favour of the live impersonations page", async () => {
    await server.reference.exchange.revoke({ all: true });
    const actor = (await server.signIn('support')).access_token;
    await server.exchange({ subject_token: 'bob', subject_token_type: 'urn:oidc-provider-token-exchange:token-type:user-id', actor_token: actor, actor_token_type: 'urn:ietf:params:oauth:token-type:access_token', reason: REASON, scope: 'openid' });
    const answer = await post('/admin/impersonations/revoke', { csrf, subject: 'bob', back: '/admin/users/%zz' });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('<h1>Live impersonations</h1>');
    expect(answer.text).toContain('Ended every impersonation of bob: 1 revoked.');
  });
});
