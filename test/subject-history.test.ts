import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpBrowser } from './helpers/http-browser.js';
import { BILLING, ORDERS, SUPPORT_CONSOLE, impersonate, startTestServer, type TestServer } from './helpers/server.js';

/*
 * The subject's page (docs/browser-impersonation.md, "The subject's page") reads a per-subject index
 * of the impersonations of that subject, one entry per impersonation started, paged 20 at a time —
 * so nobody's traffic (refused requests, other subjects' records) can push the subject's history out.
 * Refusals at the admin API are rate-limited (docs/policy.md, "Rate limits"): 429 with Retry-After,
 * one audit record for the window.
 */

/** `policy.rateLimit`: impersonations per actor, and refused admin API requests per caller. */
const LIMIT = 50;

let server: TestServer;
let support: string;
let agent: string;

async function mint(body: Record<string, unknown>, token = agent) {
  const response = await fetch(`${server.issuer}/admin/api/tickets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, string> };
}

async function pageOf(login: string, path = '/account/impersonations') {
  const browser = new HttpBrowser();
  const page = await browser.navigate(`${server.issuer}${path}`, { until: () => false, login: { login, password: 'demo-password' } });
  return { browser, page };
}

/** The rows of the "Every impersonation" table: who, app, why. */
function rowsOf(html: string): Array<{ who: string; app: string; why: string }> {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? '';
  return [...body.matchAll(/<tr>\s*<td[^>]*><strong>([^<]*)<\/strong>[\s\S]*?<\/td>\s*<td>([^<]*)(?:<br>[\s\S]*?)?<\/td>\s*<td>([^<]*)<\/td>/g)].map((m) => ({ who: m[1]!, app: m[2]!, why: m[3]! }));
}

const olderLink = (html: string) => /<a class="button secondary" href="(\/account\/impersonations\?before=[^"]+)">Older<\/a>/.exec(html)?.[1]?.replace(/&amp;/g, '&');

beforeAll(async () => {
  server = await startTestServer({ policy: { rateLimit: { points: LIMIT, durationSeconds: 60 } } });
  support = (await server.signIn('support')).access_token;
  agent = (await server.signIn('admin', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
});
afterAll(() => server.close());

describe("the subject's history cannot be pushed out", () => {
  it('lists her ended impersonations after 250 refused ticket mints for her by an agent, the mints over the limit answered 429', async () => {
    for (let i = 1; i <= 3; i += 1) {
      expect((await server.exchange(impersonate(support, 'alice', { resource: BILLING, reason: `Ticket 100${i}: real impersonation` }))).status).toBe(200);
    }
    await server.reference.exchange.revoke({ subject: 'alice' });
    const mark = server.auditMark();
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof mint>> | undefined;
    for (let i = 0; i < 250; i += 1) {
      const refused = await mint({ subject: 'alice', client_id: 'demo-app', reason: 'too short' });
      statuses.push(refused.status);
      if (refused.status === 429) limited ??= refused;
    }
    expect(statuses.slice(0, LIMIT).every((s) => s === 400)).toBe(true);
    expect(statuses.slice(LIMIT).every((s) => s === 429)).toBe(true);
    expect({ status: limited!.status, body: limited!.body }).toEqual({ status: 429, body: { error: 'invalid_request', error_description: 'too many refused requests by this caller; retry later' } });
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    const records = server.auditSince(mark);
    expect(records.filter((r) => r.rule === 'reason_invalid')).toHaveLength(LIMIT);
    expect(records.filter((r) => r.rule === 'admin_refusals_rate_limited')).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', actor: 'admin', subject: 'alice' })]);
    expect(records).toHaveLength(LIMIT + 1);
    // Spent on refusals: the agent's other admin API requests wait for the window too.
    const settings = await fetch(`${server.issuer}/admin/api/settings`, { headers: { authorization: `Bearer ${agent}` } });
    expect(settings.status).toBe(429);

    const { page } = await pageOf('alice');
    expect(page.html).not.toContain('Nobody has acted as you');
    expect(rowsOf(page.html)).toEqual([3, 2, 1].map((i) => ({ who: 'Sam Support', app: 'Support console', why: `Ticket 100${i}: real impersonation` })));
    expect(page.html.match(/<span class="badge ended">Revoked by an administrator<\/span>/g)).toHaveLength(3);
  });

  it('lists her ended impersonations after 250 refused token exchanges naming her, each audited', async () => {
    for (let i = 4; i <= 5; i += 1) {
      expect((await server.exchange(impersonate(support, 'alice', { resource: BILLING, reason: `Ticket 100${i}: real impersonation` }))).status).toBe(200);
    }
    await server.reference.exchange.revoke({ subject: 'alice' });
    const started = server.auditMark();
    // Another agent asks for a scope policy denies: refused (then rate-limited), each refusal naming alice.
    const other = (await server.signIn('admin')).access_token;
    for (let i = 0; i < 250; i += 1) expect([400, 429]).toContain((await server.exchange(impersonate(other, 'alice', { resource: ORDERS, scope: 'orders:write' }))).status);
    expect(server.auditSince(started).filter((r) => r.event === 'exchange.denied' && r.subject === 'alice')).toHaveLength(250);
    const { page } = await pageOf('alice');
    expect(rowsOf(page.html).map((r) => r.why).slice(0, 2)).toEqual(['Ticket 1005: real impersonation', 'Ticket 1004: real impersonation']);
  });

  it('pages the history 20 at a time, newest first, with an "Older" link to the rest', async () => {
    for (let i = 1; i <= 23; i += 1) {
      expect((await server.exchange(impersonate(support, 'bob', { resource: BILLING, reason: `Ticket ${String(i).padStart(4, '0')}: paging` }))).status).toBe(200);
    }
    const { browser, page } = await pageOf('bob');
    const first = rowsOf(page.html);
    expect(first.map((r) => r.why)).toEqual(Array.from({ length: 20 }, (_, i) => `Ticket ${String(23 - i).padStart(4, '0')}: paging`));
    expect(page.html.match(/<span class="badge live">Live<\/span>/g)).toHaveLength(20);
    const older = olderLink(page.html);
    expect(older).toBeDefined();
    const response = await browser.request(`${server.issuer}${older!}`);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(rowsOf(html).map((r) => r.why)).toEqual(['Ticket 0003: paging', 'Ticket 0002: paging', 'Ticket 0001: paging']);
    expect(olderLink(html)).toBeUndefined();
    expect(html).toContain('<a class="button secondary" href="/account/impersonations">Newest</a>');
  });

  it('refuses a cursor that is not one of the page', async () => {
    const { browser } = await pageOf('bob');
    const response = await browser.request(`${server.issuer}/account/impersonations?before=nonsense`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('That page of your history does not exist.');
  });
});

describe('refusals at the admin API are rate-limited', () => {
  it('answers 429 with Retry-After to an address past its budget of refusals without a valid token; a valid caller there is not affected', async () => {
    const settings = (token: string) => fetch(`${server.issuer}/admin/api/settings`, { headers: { authorization: `Bearer ${token}` } });
    const statuses: number[] = [];
    for (let i = 0; i < 61; i += 1) statuses.push((await settings('not-a-token')).status);
    expect(statuses.slice(0, 60).every((s) => s === 401)).toBe(true);
    const limited = await settings('not-a-token');
    expect({ status: limited.status, body: await limited.json() }).toEqual({ status: 429, body: { error: 'invalid_request', error_description: 'too many refused requests by this caller; retry later' } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('www-authenticate')).toBeNull();
    const another = (await server.signIn('support', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
    expect((await settings(another)).status).toBe(200);
  });
});
