import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { startReceiver } from './helpers/receiver.js';
import { REASON, SUPPORT_CONSOLE, startTestServer, type TestServer } from './helpers/server.js';
import { HttpBrowser } from './helpers/http-browser.js';

/*
 * docs/browser-impersonation.md §1: minting runs the same rules as the grant — the per-actor rate limit and the host's
 * authorize hook included — as a library call too; and the webhooks see browser impersonations.
 */

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
let server: TestServer;
let admin: string;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

async function mint(body: Record<string, unknown>) {
  const response = await fetch(`${server.issuer}/admin/api/tickets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, string> };
}

beforeAll(async () => {
  receiver = await startReceiver();
  server = await startTestServer({
    policy: { rateLimit: { points: 3, durationSeconds: 60 } },
    hooks: { authorize: async ({ subject }) => (subject.id === 'bob' ? { allow: false, detail: 'bob opted out of support access' } : undefined) },
    webhooks: { endpoints: [{ url: receiver.url, secret: SECRET }], pollIntervalMs: 20 },
  });
  admin = (await server.signIn('support', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
});
afterAll(async () => {
  await server.close();
  await receiver.close();
});

describe('ticket minting rules shared with the grant', () => {
  it("refuses a subject the host's authorize hook denies, with the subject refusal's words", async () => {
    const mark = server.auditMark();
    const minted = await mint({ subject: 'bob', client_id: 'demo-app', reason: REASON });
    expect({ status: minted.status, body: minted.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'subject cannot be impersonated by this actor' } });
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', rule: 'subject_denied_by_hook', subject: 'bob' })]);
  });

  it('mints through the library call with the same answer and audit record', async () => {
    const mark = server.auditMark();
    const minted = await server.reference.exchange.mintTicket({
      actor: { sub: 'support', issuer: server.issuer, ownIssuer: true, authTime: undefined },
      subject: 'alice',
      clientId: 'demo-app',
      reason: REASON,
    });
    expect(minted).toEqual({ ticket: expect.stringMatching(/^imptkt_/), expires_at: expect.any(String), login_url: expect.stringContaining('login_hint=imptkt_') });
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'granted', actor: 'support', subject: 'alice', request_id: expect.any(String) })]);
  });

  it("counts tickets against the actor's rate limit: 429 with Retry-After, audited", async () => {
    // Two attempts were spent above (the hook's refusal counts: the limit is spent first); one remains.
    expect((await mint({ subject: 'alice', client_id: 'demo-app', reason: REASON })).status).toBe(201);
    const mark = server.auditMark();
    const limited = await mint({ subject: 'alice', client_id: 'demo-app', reason: REASON });
    expect({ status: limited.status, body: limited.body }).toEqual({ status: 429, body: { error: 'invalid_request', error_description: 'too many impersonation requests by this actor; retry later' } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', rule: 'actor_rate_limited' })]);
  });
});

describe('webhooks for browser impersonation (docs/audit.md)', () => {
  it('delivers impersonation.started for a redeemed ticket and impersonation.denied for a refused one', async () => {
    const minted = await server.reference.exchange.mintTicket({ actor: { sub: 'admin', issuer: server.issuer, ownIssuer: true, authTime: undefined }, subject: 'alice', clientId: 'demo-app', reason: REASON });
    const login = new URL(minted.login_url);
    const authorize = new URL(`${server.issuer}/auth`);
    authorize.search = new URLSearchParams({ client_id: 'demo-app', response_type: 'code', scope: 'openid', redirect_uri: 'http://localhost:3001/callback', login_hint: login.searchParams.get('login_hint')!, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).toString();
    for (let i = 0; i < 2; i += 1) await new HttpBrowser().navigate(authorize, { until: (u) => u.href.startsWith('http://localhost:3001/callback') });
    // Two refusals above, then the redemption and the refused replay here.
    await receiver.received(4);
    const bodies = receiver.deliveries.map((d) => JSON.parse(d.body) as { type: string; data: Record<string, unknown> });
    expect(bodies).toContainEqual(expect.objectContaining({ type: 'impersonation.started', data: expect.objectContaining({ event: 'ticket.redeemed', actor: 'admin', subject: 'alice' }) }));
    expect(bodies).toContainEqual(expect.objectContaining({ type: 'impersonation.denied', data: expect.objectContaining({ event: 'ticket.redeemed', rule: 'ticket_used' }) }));
    expect(receiver.deliveries.map((d) => d.body).join('')).not.toContain(login.searchParams.get('login_hint')!);
  });
});
