import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEMO_APP_COOKIE, type DemoApp } from '../src/server/demo-app.js';
import { generateSigningKeys } from '../src/server/provider.js';
import { createStore } from '../src/store/index.js';
import { connectRedis } from '../src/store/redis.js';
import type { Backend } from '../src/store/index.js';
import { launchBrowser, newPage, screenshot, signInOnLoginPage } from './helpers/browser.js';
import { HttpBrowser } from './helpers/http-browser.js';
import { deleteKeysWithPrefix, sharedRedisUrl } from './helpers/redis.js';
import { PASSWORD, REASON, SUPPORT_CONSOLE, startTestServer, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

/*
 * How an impersonation ends, in Chromium, with the demo relying party (docs/browser-impersonation.md,
 * "How an impersonation ends"): the banner's End, and every ending elsewhere reaching the relying
 * party by OpenID Connect Back-Channel Logout 1.0 — two instances of one issuer on one Redis.
 */
const prefix = `endings:${randomUUID()}:`;
let redisUrl: string;
const backends: Backend[] = [];
let server: TestServer;
let other: TestServer;
let app: DemoApp;
let browser: Browser;
let admin: string;
const contexts: BrowserContext[] = [];

/** Every ending below must reach the relying party within this bound (the "within 1 s"). */
const WITHIN_MS = 1000;

beforeAll(async () => {
  redisUrl = await sharedRedisUrl();
  backends.push(await connectRedis(redisUrl), await connectRedis(redisUrl));
  const jwks = await generateSigningKeys();
  const policy = { rateLimit: { points: 1000, durationSeconds: 60 } };
  [server, browser] = await Promise.all([startTestServer({ demoApp: true, ordersApi: true, jwks, policy, store: createStore(backends[0]!, prefix) }), launchBrowser()]);
  app = server.demoApp!;
  other = await startTestServer({ issuer: server.issuer, demoAppOrigin: app.origin, jwks, policy, store: createStore(backends[1]!, prefix) });
  admin = (await server.signIn('support', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
}, 60_000);

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  await browser?.close();
  await other?.close();
  await server?.close();
  for (const backend of backends) await backend.close();
  if (redisUrl) deleteKeysWithPrefix(redisUrl, prefix);
});

async function tab(width?: number): Promise<Page> {
  const opened = await newPage(browser, width ? { width, height: 844 } : {});
  contexts.push(opened.context);
  return opened.page;
}

async function mint(body: Record<string, unknown> = {}): Promise<{ ticket: string; login_url: string }> {
  const response = await fetch(`${server.issuer}/admin/api/tickets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: 'alice', client_id: 'demo-app', reason: REASON, ...body }),
  });
  const minted = (await response.json()) as { ticket: string; login_url: string };
  if (response.status !== 201) throw new Error(JSON.stringify(minted));
  return minted;
}

async function sessionId(page: Page): Promise<string | undefined> {
  return (await page.context().cookies(app.origin)).find((c) => c.name === DEMO_APP_COOKIE)?.value;
}

/** Opens a fresh ticket's login URL in `page`: the demo app as alice, under the banner. Answers the app session's id. */
async function impersonate(page: Page, body: Record<string, unknown> = {}): Promise<string> {
  const { login_url } = await mint(body);
  await page.goto(login_url);
  await page.waitForURL(`${app.origin}/`);
  await page.locator('impersonation-banner .bar').waitFor();
  expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Hello, Alice Anders');
  const id = await sessionId(page);
  expect(app.sessions.get(id)?.user?.claims).toMatchObject({ sub: 'alice', act: { sub: 'support' }, sid: expect.any(String) });
  return id!;
}

/** The relying party learnt of the ending: the app session is gone within the bound; the tab then shows the signed-out app. */
async function signedOutWithin(page: Page, id: string): Promise<void> {
  await until(async () => app.sessions.get(id) === undefined, WITHIN_MS);
  // The orders the tab still shows are no longer the app's to act on: Resend confirmation finds no session.
  const resend = page.getByRole('button', { name: /Resend the confirmation/ }).first();
  if (await resend.count()) {
    await resend.click();
    await page.waitForURL(`${app.origin}/`);
  } else {
    await page.reload();
  }
  expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Welcome to Acme Orders');
  expect(await page.locator('impersonation-banner').count()).toBe(0);
}

describe('End impersonation in the banner (one click, final)', () => {
  it('ends it at the provider without a question, signs the demo app out, says so, and a new sign-in asks for a password', async () => {
    for (const [width, name] of [[undefined, 'desktop'], [390, 'phone']] as const) {
      const page = await tab(width);
      const id = await impersonate(page);
      await screenshot(page, `endings-1-banner-${name}`);
      // The demo app under the banner fits a phone: the orders table scrolls inside its card.
      if (width !== undefined) expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
      const seen: string[] = [];
      page.on('framenavigated', (frame) => {
        if (frame === page.mainFrame()) seen.push(frame.url());
      });
      const mark = server.auditMark();
      await page.getByRole('button', { name: 'End impersonation' }).click();
      await page.waitForURL(`${app.origin}/signed-out?state=impersonation-ended`);
      await screenshot(page, `endings-2-ended-${name}`);
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('The impersonation has ended');
      expect(app.sessions.get(id)).toBeUndefined();
      expect(await server.reference.exchange.list({ subject: 'alice' })).toEqual([]);
      expect(server.auditSince(mark)).toContainEqual(expect.objectContaining({ event: 'token.revoked', outcome: 'granted', rule: 'ended_by_logout', actor: 'support', subject: 'alice', client_id: 'demo-app' }));
      // No page asked anything: the provider's end-session answered with a page that submitted itself.
      expect(seen.filter((url) => url.startsWith(server.issuer)).every((url) => new URL(url).pathname.startsWith('/session/end'))).toBe(true);
      await page.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
      await page.waitForURL(`${server.issuer}/interaction/**`);
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Sign in');
    }
  });

  it('asks before ending when the request does not carry the relying party\'s ID token (a link from elsewhere), with one button and no "stay"', async () => {
    const page = await tab();
    const id = await impersonate(page);
    await page.goto(`${server.issuer}/session/end?client_id=demo-app`);
    await screenshot(page, 'endings-3-confirm-without-hint');
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('End the impersonation?');
    expect(await page.getByRole('button').allInnerTexts()).toEqual(['End impersonation']);
    expect(await server.reference.exchange.list({ subject: 'alice' })).toHaveLength(1);
    await page.getByRole('button', { name: 'End impersonation' }).click();
    await page.waitForURL(`${server.issuer}/session/end/success**`);
    await until(async () => (await server.reference.exchange.list({ subject: 'alice' })).length === 0, WITHIN_MS);
    await signedOutWithin(await reopen(page), id);
  });
});

/** The demo app's tab again (after the test left it elsewhere). */
async function reopen(page: Page): Promise<Page> {
  await page.goto(app.origin);
  return page;
}

describe('every ending elsewhere signs the demo app out within 1 s (Back-Channel Logout)', () => {
  it("the subject's End now on their page", async () => {
    const page = await tab();
    const id = await impersonate(page);
    const alice = new HttpBrowser();
    const own = await alice.navigate(`${server.issuer}/account/login`, { until: (u) => u.pathname === '/account/impersonations', login: { login: 'alice', password: PASSWORD } });
    expect(own.url.pathname).toBe('/account/impersonations');
    const html = await (await alice.request(`${server.issuer}/account/impersonations`)).text();
    const [, csrf, grant] = /name="csrf" value="([^"]+)"><input type="hidden" name="impersonation" value="([^"]+)"/.exec(html)!;
    expect((await alice.request(`${server.issuer}/account/impersonations/end`, { form: { csrf: csrf!, impersonation: grant! } })).status).toBe(200);
    await signedOutWithin(page, id);
  });

  it('a console Revoke on another instance of the issuer (Redis)', async () => {
    const page = await tab();
    const id = await impersonate(page);
    const response = await fetch(`${other.listening}/admin/api/revocations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: 'alice' }),
    });
    expect({ status: response.status, body: await response.json() }).toEqual({ status: 200, body: { revoked: 1 } });
    await signedOutWithin(page, id);
  });

  it("the subject's revocation of the approval it started under", async () => {
    const page = await tab();
    const asked = await fetch(`${server.issuer}/admin/api/approvals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: 'alice', reason: REASON }),
    });
    const { id: approval } = (await asked.json()) as { id: string };
    await server.reference.exchange.answerApproval(approval, 'alice', 'approve');
    const id = await impersonate(page, { approval });
    expect(await server.reference.exchange.revokeApproval(approval, 'alice')).toBe(1);
    await signedOutWithin(page, id);
  });

  it('the switch', async () => {
    const page = await tab();
    const id = await impersonate(page);
    try {
      expect(await other.reference.exchange.setEnabled(false, { actor: 'admin' })).toBe(1);
      await signedOutWithin(page, id);
    } finally {
      await server.reference.exchange.setEnabled(true, { actor: 'admin' });
    }
  });
});

describe('a ticket opened in a browser signed in as someone else', () => {
  it("changes nothing there: bob stays signed in, and sees his own account", async () => {
    const page = await tab();
    await page.goto(app.origin);
    await page.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.issuer}/interaction/**`);
    await signInOnLoginPage(page, 'bob', PASSWORD);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${app.origin}/`);
    const bobSession = await sessionId(page);
    const { login_url } = await mint();
    await page.goto(login_url);
    await page.waitForURL(`${app.origin}/callback**`);
    await screenshot(page, 'endings-4-ticket-in-another-browser');
    expect(await page.getByRole('alert').first().innerText()).toContain('this browser is signed in to another account: the impersonation was not started');
    await page.goto(app.origin);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Hello, Bob Berg');
    expect(await page.locator('impersonation-banner').count()).toBe(0);
    expect(await sessionId(page)).toBe(bobSession);
    expect(await server.reference.exchange.list({ subject: 'alice' })).toEqual([]);
  });
});
