import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpBrowser } from './helpers/http-browser.js';
import { REASON, startTestServer, type TestServer } from './helpers/server.js';

/*
 * The support console (docs/admin-console.md) with subject-approved access and read-only impersonation: asking
 * the user on their page in the console, impersonating under an approval, choosing read-only in
 * the dialog, the read-only badge, and the approval steps in the audit filter.
 */

interface Console {
  readonly server: TestServer;
  readonly browser: HttpBrowser;
  readonly csrf: string;
}

async function signedIn(server: TestServer): Promise<Console> {
  const browser = new HttpBrowser();
  const page = await browser.navigate(`${server.issuer}/admin/login`, { until: () => false, login: { login: 'support', password: 'demo-password' } });
  return { server, browser, csrf: /name="csrf" value="([^"]+)"/.exec(page.html)![1]! };
}

async function get(c: Console, path: string) {
  const response = await c.browser.request(`${c.server.issuer}${path}`);
  return { status: response.status, html: await response.text() };
}

async function post(c: Console, path: string, form: Record<string, string>, json = false) {
  const response = await c.browser.request(`${c.server.issuer}${path}`, { form, headers: json ? { accept: 'application/json' } : {} });
  const text = await response.text();
  return { status: response.status, text, json: json ? (JSON.parse(text) as Record<string, string>) : undefined };
}

describe('when the user must approve', () => {
  let server: TestServer;
  let agent: Console;
  beforeAll(async () => {
    server = await startTestServer({ policy: { rateLimit: false, requireSubjectApproval: true } });
    agent = await signedIn(server);
  });
  afterAll(() => server.close());

  it("shows no Impersonate button on the user's page, but a form to ask them", async () => {
    const page = await get(agent, '/admin/users/alice');
    expect(page.html).toContain('<div class="alert info" role="status">alice must approve before you can impersonate them.</div>');
    expect(page.html).not.toContain('id="impersonate-open"');
    expect(page.html).toContain('<h2 id="ask-title">Ask alice for access</h2>');
    expect(page.html).toContain('<form method="post" action="/admin/users/alice/approvals" class="stack">');
    expect(page.html.match(/<option value="(\d+)"/g)).toEqual(['<option value="900"', '<option value="1800"', '<option value="3600"']);
    expect(page.html).toContain('<input type="radio" name="mode" value="read" id="ask-mode-read">');
    expect(page.html).toContain('<input type="checkbox" name="scope" value="billing:read">');
    expect(page.html).not.toContain('value="orders:write"');
  });

  it('asks the user (audited) and lists the request as waiting', async () => {
    const mark = server.auditMark();
    const asked = await post(agent, '/admin/users/alice/approvals', { csrf: agent.csrf, reason: REASON, duration: '900', mode: 'read', scope: 'billing:read' });
    expect(asked.status).toBe(200);
    expect(asked.text).toMatch(/<div class="alert ok" role="status">Asked alice for read-only access: waiting for their answer \(until .* UTC\)\.<\/div>/);
    expect(asked.text).toContain('<span class="badge warn">waiting for the user</span>');
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'approval.requested', outcome: 'granted', actor: 'support', subject: 'alice', mode: 'read', scope: 'billing:read' })]);
  });

  it('shows a refused request with its reason, audited', async () => {
    const mark = server.auditMark();
    const asked = await post(agent, '/admin/users/alice/approvals', { csrf: agent.csrf, reason: 'short', duration: '900' });
    expect(asked.status).toBe(400);
    expect(asked.text).toContain('<div class="alert error" role="alert">Not asked. Reason must be 10 to 500 characters.</div>');
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'approval.requested', outcome: 'denied', rule: 'reason_invalid' })]);
  });

  it('accepts a form a browser posts with Origin: null (Referrer-Policy: no-referrer) when its token holds', async () => {
    const response = await agent.browser.request(`${server.issuer}/admin/users/bob/approvals`, { form: { csrf: agent.csrf, reason: REASON, duration: '900' }, headers: { origin: 'null', 'sec-fetch-site': 'same-origin' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Asked bob for full access');
  });

  it('refuses to ask without the form token, and records nothing', async () => {
    const mark = server.auditMark();
    expect((await post(agent, '/admin/users/alice/approvals', { reason: REASON, duration: '900' })).status).toBe(403);
    expect(server.auditSince(mark)).toEqual([]);
  });

  it('once approved, impersonates under the approval chosen in the dialog (spent; audited with it)', async () => {
    const [request] = await server.reference.exchange.listApprovals({ subject: 'alice' });
    await server.reference.exchange.answerApproval(request!.id, 'alice', 'approve');
    const page = await get(agent, '/admin/users/alice');
    expect(page.html).toContain('id="impersonate-open"');
    expect(page.html).toContain('<span class="badge live">alice approved</span>');
    expect(page.html).toMatch(new RegExp(`<select id="impersonate-approval" name="approval"><option value="${request!.id}">Read-only, until .* UTC — ${REASON}</option></select>`));
    const mark = server.auditMark();
    const opened = await post(agent, '/admin/users/alice/impersonate', { csrf: agent.csrf, reason: REASON, client_id: 'demo-app', approval: request!.id }, true);
    expect(opened.status).toBe(201);
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'granted', approval_id: request!.id, mode: 'read' })]);
    expect((await get(agent, '/admin/users/alice')).html).toContain('<span class="badge ended">used</span>');
  });

  it('offers the approval steps in the audit filter', async () => {
    const page = await get(agent, '/admin/audit?event=approval.requested');
    for (const event of ['approval.requested', 'approval.granted', 'approval.declined', 'approval.revoked']) expect(page.html).toContain(event);
    expect(page.html).toContain('<option selected>approval.requested</option>');
    expect(page.html).toMatch(/<td class="mono">approval\.requested<\/td>/);
    expect(page.html).not.toMatch(/<td class="mono">ticket\.minted<\/td>/);
  });
});

describe('read-only impersonation in the console', () => {
  let server: TestServer;
  let agent: Console;
  beforeAll(async () => {
    server = await startTestServer({ policy: { rateLimit: false } });
    agent = await signedIn(server);
  });
  afterAll(() => server.close());

  it('offers full or read-only access in the Impersonate dialog', async () => {
    const page = await get(agent, '/admin/users/alice');
    expect(page.html).toContain('<fieldset class="choice"><legend>Access</legend>');
    expect(page.html).toContain('<input type="radio" name="mode" value="full" id="impersonate-mode-full" checked> Full — act as the user');
    expect(page.html).toContain('<input type="radio" name="mode" value="read" id="impersonate-mode-read"> Read-only — look, change nothing');
    expect(page.html).not.toContain('Ask alice for access');
  });

  it('mints a read-only ticket when chosen, and badges read-only impersonations in the live list', async () => {
    const mark = server.auditMark();
    const opened = await post(agent, '/admin/users/alice/impersonate', { csrf: agent.csrf, reason: REASON, client_id: 'demo-app', mode: 'read' }, true);
    expect(opened.status).toBe(201);
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'granted', mode: 'read' })]);
    const actor = (await server.signIn('support')).access_token;
    const read = await server.exchange({
      subject_token: 'alice',
      subject_token_type: 'urn:oidc-provider-token-exchange:token-type:user-id',
      actor_token: actor,
      actor_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      reason: REASON,
      scope: 'openid',
      impersonation_mode: 'read',
    });
    expect(read.status).toBe(200);
    expect((await get(agent, '/admin/impersonations')).html).toMatch(/<td>API <span class="badge info">read-only<\/span><\/td>/);
  });
});

