import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { ConfigurationError, tokenExchange } from '../src/index.js';
import type { SubjectNotice } from '../src/notify/notice.js';
import { HttpBrowser } from './helpers/http-browser.js';
import { startReceiver } from './helpers/receiver.js';
import { BILLING, ORDERS, ORDERS_API, REASON, SUPPORT_CONSOLE, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

/*
 * The subject is told (beyond RFC 8693): every impersonation that starts — an exchange with an
 * actor, a ticket redeemed — produces an `impersonation.started` webhook carrying a `notice`
 * addressed to the subject, and calls `hooks.notifySubject` with it; the hook can never block or
 * fail an impersonation; the reference server logs what it would send (never the reason) and the
 * subject's page shows it.
 */

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const FAST = { pollIntervalMs: 20, baseDelayMs: 60, maxDelayMs: 1000, timeoutMs: 2000, leaseMs: 5000 };
const DEMO_APP = { id: 'demo-app', secret: 'demo-app-secret', redirectUri: 'http://localhost:3001/callback' };
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

let server: TestServer;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let support: string;
const notices: SubjectNotice[] = [];
const logs: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
let failNext: 'throw' | 'reject' | undefined;

const logger = {
  info: (fields: Record<string, unknown>, message: string) => logs.push({ level: 'info', fields, message }),
  warn: (fields: Record<string, unknown>, message: string) => logs.push({ level: 'warn', fields, message }),
  error: (fields: Record<string, unknown>, message: string) => logs.push({ level: 'error', fields, message }),
};

/** Waits (bounded) until `count` notices reached the hook: it runs off the request path. */
async function noticesReach(count: number): Promise<SubjectNotice[]> {
  for (let i = 0; i < 200 && notices.length < count; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(notices.length).toBeGreaterThanOrEqual(count);
  return notices;
}

async function ticketSession(mode?: 'read') {
  const admin = (await server.signIn('support', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
  const minted = await fetch(`${server.issuer}/admin/api/tickets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: 'alice', client_id: DEMO_APP.id, reason: REASON, ...(mode ? { mode } : {}) }),
  });
  const { ticket } = (await minted.json()) as { ticket: string };
  const config = await server.clientConfig(DEMO_APP.id, DEMO_APP.secret);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: DEMO_APP.redirectUri, scope: 'openid profile', state: 's', login_hint: ticket, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  const stop = await new HttpBrowser().navigate(url, { until: (u) => u.href.startsWith(DEMO_APP.redirectUri) });
  return oidc.authorizationCodeGrant(config, stop.url, { pkceCodeVerifier: verifier, expectedState: 's' });
}

beforeAll(async () => {
  receiver = await startReceiver();
  server = await startTestServer({
    webhooks: { endpoints: [{ url: receiver.url, secret: SECRET }], ...FAST },
    policy: { rateLimit: false },
    logger,
    hooks: {
      notifySubject: async (notice) => {
        const failure = failNext;
        failNext = undefined;
        if (failure === 'throw') throw new Error('mailer down');
        if (failure === 'reject') await Promise.reject(new Error('mailer timed out'));
        notices.push(notice);
      },
    },
  });
  support = (await server.signIn('support')).access_token;
});
afterAll(async () => {
  await server.close();
  await receiver.close();
});
afterEach(() => {
  notices.length = 0;
  receiver.deliveries.length = 0;
  logs.length = 0;
});

describe('the webhook addresses the subject', () => {
  it('adds a notice to impersonation.started for an exchange, keeping the audit record as data', async () => {
    const issued = await server.exchange(impersonate(support, 'alice', { resource: BILLING }));
    expect(issued.status).toBe(200);
    await receiver.received(1);
    const body = JSON.parse(receiver.deliveries[0]!.body);
    expect(body.type).toBe('impersonation.started');
    expect(body.data).toMatchObject({ event: 'exchange.granted', outcome: 'granted', actor: 'support', subject: 'alice', client_id: SUPPORT_CONSOLE.id, reason: REASON });
    // The end is given with its date only when it falls on another day (an hour's impersonation started after 23:00 UTC).
    const endDate = String(body.notice.started_at).slice(0, 10) === String(body.data.expires_at).slice(0, 10) ? '' : '\\d{4}-\\d\\d-\\d\\d ';
    expect(body.notice).toEqual({
      type: 'impersonation.started',
      subject: 'alice',
      actor: 'support',
      actor_name: 'Sam Support',
      actor_profile: 'user',
      reason: REASON,
      client_id: SUPPORT_CONSOLE.id,
      started_at: ISO,
      until: body.data.expires_at,
      mode: 'full',
      message: expect.stringMatching(new RegExp(`^Sam Support \\(support\\) signed in as you in support-console on \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC, until ${endDate}\\d\\d:\\d\\d UTC, because: ${REASON}\\.$`)),
    });
    expect(receiver.deliveries[0]!.body).not.toContain(issued.body.access_token as string);
  });

  it('adds a notice when a ticket is redeemed (browser impersonation), naming the application', async () => {
    await ticketSession();
    await receiver.received(1);
    const started = receiver.deliveries.map((d) => JSON.parse(d.body)).find((b) => b.type === 'impersonation.started');
    expect(started.data).toMatchObject({ event: 'ticket.redeemed', subject: 'alice' });
    expect(started.notice).toMatchObject({ type: 'impersonation.started', subject: 'alice', actor: 'support', actor_name: 'Sam Support', client_id: DEMO_APP.id, mode: 'full', reason: REASON });
  });

  it('says "viewed your account (read-only)" for a read-only impersonation', async () => {
    await server.exchange(impersonate(support, 'alice', { resource: BILLING, impersonation_mode: 'read' }));
    await receiver.received(1);
    const { notice } = JSON.parse(receiver.deliveries[0]!.body);
    expect(notice).toMatchObject({ mode: 'read', message: expect.stringContaining('Sam Support (support) viewed your account (read-only) in support-console on ') });
  });

  it('carries no notice for other events (a refusal, an ending)', async () => {
    await server.exchange(impersonate(support, 'root'));
    const ended = await server.reference.exchange.revoke({ all: true });
    expect(ended).toBeGreaterThan(0);
    await receiver.received(1 + ended);
    for (const delivery of receiver.deliveries) expect(JSON.parse(delivery.body).notice).toBeUndefined();
  });
});

describe('hooks.notifySubject', () => {
  it('receives the same notice for an exchange and for a ticket redeemed', async () => {
    await server.exchange(impersonate(support, 'alice', { resource: BILLING }));
    await ticketSession('read');
    const [exchange, ticket] = await noticesReach(2);
    expect(exchange).toMatchObject({ type: 'impersonation.started', subject: 'alice', actor: 'support', actor_name: 'Sam Support', client_id: SUPPORT_CONSOLE.id, mode: 'full' });
    expect(ticket).toMatchObject({ type: 'impersonation.started', subject: 'alice', client_id: DEMO_APP.id, mode: 'read' });
    await receiver.received(2);
    const webhooked = receiver.deliveries.map((d) => JSON.parse(d.body)).filter((b) => b.type === 'impersonation.started').map((b) => b.notice);
    expect(webhooked).toEqual(expect.arrayContaining([exchange, ticket]));
  });

  it('is not called again when an impersonation is passed on (a chained exchange)', async () => {
    const impersonated = (await server.exchange(impersonate(support, 'alice', { resource: ORDERS }))).body.access_token as string;
    await noticesReach(1);
    const chained = await server.exchange({ subject_token: impersonated, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API);
    expect(chained.status).toBe(200);
    await receiver.received(2);
    expect(notices).toHaveLength(1);
  });

  it('never fails an impersonation when it throws or rejects, and the failure is logged without the reason', async () => {
    for (const failure of ['throw', 'reject'] as const) {
      failNext = failure;
      const issued = await server.exchange(impersonate(support, 'alice', { resource: BILLING }));
      expect(issued.status).toBe(200);
    }
    for (let i = 0; i < 200 && logs.filter((l) => l.level === 'warn').length < 2; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    const warnings = logs.filter((l) => l.level === 'warn');
    expect(warnings.map((w) => [w.message, w.fields.err])).toEqual([
      ['notifySubject failed; the impersonation is unaffected', { name: 'Error', message: 'mailer down' }],
      ['notifySubject failed; the impersonation is unaffected', { name: 'Error', message: 'mailer timed out' }],
    ]);
    expect(JSON.stringify(logs)).not.toContain(REASON);
    expect(notices).toHaveLength(0);
  });

  it('must be a function', () => {
    expect(() => tokenExchange({ accounts: { findAccount: async () => undefined }, hooks: { notifySubject: 'mailer' as never } })).toThrow(
      new ConfigurationError('invalid token exchange options: hooks.notifySubject: must be a function'),
    );
  });
});

describe('the reference server', () => {
  it('logs the message it would send, without the reason', async () => {
    await server.exchange(impersonate(support, 'alice', { resource: BILLING }));
    await noticesReach(1);
    const logged = logs.find((l) => l.fields.event === 'subject.notice');
    expect(logged).toEqual({
      level: 'info',
      message: 'would tell the subject',
      fields: {
        event: 'subject.notice',
        notice: 'impersonation.started',
        to: 'alice',
        message: expect.stringMatching(/^Sam Support \(support\) signed in as you in support-console on .* UTC \(reason withheld here\)\.$/),
        link: undefined,
      },
    });
    expect(JSON.stringify(logs)).not.toContain(REASON);
  });

  it("keeps the person in a chained token on the subject's page, and names apps by their names", async () => {
    const granted = await server.exchange(impersonate(support, 'bob', { resource: ORDERS }));
    const chained = await server.exchange({ subject_token: granted.body.access_token as string, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API);
    expect(chained.status).toBe(200);
    const page = await new HttpBrowser().navigate(`${server.issuer}/account/impersonations`, { until: () => false, login: { login: 'bob', password: 'demo-password' } });
    const messages = /<h2 id="notices-heading">Happening now<\/h2><ul class="plain notices">([\s\S]*?)<\/ul>/.exec(page.html)![1]!.match(/<li>.*?<\/li>/g);
    expect(messages).toEqual([
      expect.stringMatching(new RegExp(`^<li>Orders API is acting as you for Sam Support \\(support\\), passing on the access they opened, until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC, because: ${REASON}\\.</li>$`)),
      expect.stringMatching(new RegExp(`^<li>Sam Support \\(support\\) is using Support console to act as you, until .* UTC, because: ${REASON}\\.</li>$`)),
    ]);
    // The history lists each impersonation once; the chain continues it (docs/browser-impersonation.md).
    const who = [...page.html.matchAll(/<tr>\n<td title="[^"]*">([\s\S]*?)<\/td>\n<td>([\s\S]*?)<\/td>/g)].map((m) => [m[1], m[2]]);
    expect(who).toEqual([['<strong>Sam Support</strong> <span class="meta">(support)</span>', 'Support console<br><span class="meta">a token for an app</span>']]);
  });

  it("shows the notices on the subject's page", async () => {
    await server.exchange(impersonate(support, 'alice', { resource: BILLING, impersonation_mode: 'read' }));
    const browser = new HttpBrowser();
    const page = await browser.navigate(`${server.issuer}/account/impersonations`, { until: () => false, login: { login: 'alice', password: 'demo-password' } });
    expect(page.status).toBe(200);
    const messages = /<h2 id="notices-heading">Happening now<\/h2><ul class="plain notices">([\s\S]*?)<\/ul>/.exec(page.html)![1]!;
    expect(messages).toMatch(/^<li>Sam Support \(support\) is using Support console to view your account \(read-only\), until \d{4}-\d\d-\d\d \d\d:\d\d UTC, because: Ticket 4711: customer cannot see her orders\.<\/li><li>/);
    expect(page.html).toContain('<span class="badge info">Read-only</span>');
  });
});
