import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, newPage, screenshot, signInOnLoginPage } from './helpers/browser.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/*
 * docs/browser-impersonation.md, docs/admin-console.md, the whole journey a support team clicks through, in Chromium: the agent signs in
 * to the console, finds alice, impersonates her with a reason, and the demo app opens in a new tab
 * as alice under the banner; the console lists it; "End impersonation" signs the tab out and it is
 * gone from the list; alice sees it on her own page; the audit view shows every step. Screenshots
 * of each step land in test-artifacts/screenshots/journey-*.png.
 */

const REASON = 'Ticket 4711: alice cannot see her March orders';
let server: TestServer;
let browser: Browser;
let agent: { context: BrowserContext; page: Page };
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer({ demoApp: true, policy: { rateLimit: false } }), launchBrowser()]);
  agent = await newPage(browser, { width: 1280, height: 860 });
  contexts.push(agent.context);
}, 60_000);

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  await browser?.close();
  await server?.close();
});

async function openImpersonateDialog(page: Page, user: string): Promise<void> {
  await page.goto(`${server.issuer}/admin/users/${user}`);
  await page.getByRole('link', { name: `Impersonate ${user}…` }).click();
  await expect(page.getByRole('dialog', { name: `Impersonate ${user}` }).isVisible()).resolves.toBe(true);
}

describe('the support journey (docs/browser-impersonation.md, docs/admin-console.md) in Chromium', () => {
  let tab: Page;

  it('1. the agent signs in to the console through the provider and finds alice', async () => {
    const { page } = agent;
    await page.goto(`${server.issuer}/admin`);
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await screenshot(page, 'journey-0-provider-login');
    await signInOnLoginPage(page, 'support', 'demo-password');
    await page.waitForURL(`${server.issuer}/admin/users`);
    await page.getByLabel('Search by id, name or email').fill('alice');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'alice', exact: true }).waitFor();
    await screenshot(page, 'journey-1-console-search');
    await page.getByRole('link', { name: 'alice', exact: true }).click();
    await expect(page.getByRole('heading', { name: 'Alice Anders' }).isVisible()).resolves.toBe(true);
  });

  it('2. impersonating asks why; the demo app opens in a new tab as alice under the banner', async () => {
    const { page, context } = agent;
    await openImpersonateDialog(page, 'alice');
    await page.getByLabel(/^Why\?/).fill(REASON);
    await page.getByLabel('Open which application?').selectOption('demo-app');
    await screenshot(page, 'journey-2-impersonate-dialog');
    const opened = context.waitForEvent('page');
    await page.getByRole('button', { name: 'Open as alice' }).click();
    tab = await opened;
    await tab.waitForURL(`${server.demoApp!.origin}/`);
    const banner = tab.locator('impersonation-banner').getByRole('alert', { name: 'Impersonation in progress' });
    await banner.waitFor();
    expect((await banner.innerText()).replace(/\s+/g, ' ')).toContain('Viewing as alice — signed in by support');
    await expect(tab.getByRole('heading', { name: 'Hello, Alice Anders' }).isVisible()).resolves.toBe(true);
    await screenshot(tab, 'journey-3-demo-app-as-alice');
    await expect(page.getByRole('status').filter({ hasText: 'Opened demo-app as alice in a new tab' }).isVisible()).resolves.toBe(true);
  });

  it('3. the console lists the live impersonation', async () => {
    const { page } = agent;
    await page.getByRole('link', { name: 'Live impersonations' }).click();
    const row = page.getByRole('row').filter({ hasText: REASON });
    await expect(row.count()).resolves.toBe(1);
    expect(await row.innerText()).toMatch(/alice\s+support\s+demo-app/);
    await screenshot(page, 'journey-4-console-live');
  });

  it('4. "End impersonation" signs the tab out, and the impersonation is gone from the list', async () => {
    await tab.locator('impersonation-banner').getByRole('button', { name: 'End impersonation' }).click();
    // One click: no question at the provider (docs/browser-impersonation.md, "How an impersonation ends").
    await tab.waitForURL(`${server.demoApp!.origin}/signed-out?state=impersonation-ended`);
    await screenshot(tab, 'journey-5-signed-out');
    const { page } = agent;
    await page.reload();
    await expect(page.getByText('Nobody is acting as anyone right now.').isVisible()).resolves.toBe(true);
    expect(await server.reference.exchange.list({ subject: 'alice' })).toEqual([]);
  });

  it('5. alice signs in to her own page and sees who acted as her, why, and how it ended', async () => {
    const alice = await newPage(browser);
    contexts.push(alice.context);
    await alice.page.goto(`${server.issuer}/account/impersonations`);
    await signInOnLoginPage(alice.page, 'alice', 'demo-password');
    await alice.page.waitForURL(`${server.issuer}/account/impersonations`);
    const row = alice.page.getByRole('row').filter({ hasText: REASON });
    expect((await row.innerText()).replace(/\s+/g, ' ')).toMatch(/^Sam Support \(support\) Acme Orders signed in as you Ticket 4711: alice cannot see her March orders .* Signed out/);
    await screenshot(alice.page, 'journey-6-alice-account-page');
  });

  it('6. the audit view shows the ticket minted, redeemed and the impersonation ended, with the chain intact', async () => {
    const { page } = agent;
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Subject').fill('alice');
    await page.getByRole('button', { name: 'Filter' }).click();
    const events = await page.locator('tbody td.mono').allInnerTexts();
    expect(events.slice(0, 3)).toEqual(['token.revoked', 'ticket.redeemed', 'ticket.minted']);
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await expect(page.getByRole('status').filter({ hasText: /Chain intact: \d+ records verified/ }).isVisible()).resolves.toBe(true);
    await screenshot(page, 'journey-7-audit', { fullPage: true });
  });
});

describe('refusals and attacks, in Chromium', () => {
  it('7. fits a phone (390 px wide) without sideways scrolling: the console and the account page', async () => {
    const phone = await newPage(browser, { width: 390, height: 844 });
    contexts.push(phone.context);
    const widths: Record<string, number> = {};
    const measure = async (name: string) => {
      widths[name] = await phone.page.evaluate(() => document.documentElement.scrollWidth);
      await screenshot(phone.page, `phone-${name}`, { fullPage: true });
    };
    await phone.page.goto(`${server.issuer}/admin`);
    await signInOnLoginPage(phone.page, 'support', 'demo-password');
    await phone.page.waitForURL(`${server.issuer}/admin/users`);
    await measure('console-users');
    await phone.page.goto(`${server.issuer}/admin/users/alice`);
    await measure('console-user');
    await phone.page.goto(`${server.issuer}/admin/impersonations`);
    await measure('console-live');
    await phone.page.goto(`${server.issuer}/admin/audit`);
    await measure('console-audit');
    const alice = await newPage(browser, { width: 390, height: 844 });
    contexts.push(alice.context);
    await alice.page.goto(`${server.issuer}/account/impersonations`);
    await signInOnLoginPage(alice.page, 'alice', 'demo-password');
    await alice.page.waitForURL(`${server.issuer}/account/impersonations`);
    widths['account'] = await alice.page.evaluate(() => document.documentElement.scrollWidth);
    await screenshot(alice.page, 'phone-account', { fullPage: true });
    expect(widths).toEqual({ 'console-users': 390, 'console-user': 390, 'console-live': 390, 'console-audit': 390, account: 390 });
  });

  it('says on a protected account\'s page, before any reason is typed, that nobody can impersonate it, and offers no Impersonate button', async () => {
    const { page } = agent;
    await page.goto(`${server.issuer}/admin/users/root`);
    const verdict = page.getByRole('status').filter({ hasText: 'You cannot impersonate root.' });
    expect(await verdict.innerText()).toBe('You cannot impersonate root. Rita Root holds the protected role admin: nobody can impersonate this account.');
    expect(await page.getByRole('link', { name: /^Impersonate/ }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Ask/ }).count()).toBe(0);
    await screenshot(page, 'console-protected-account');
    const phone = await newPage(browser, { width: 390, height: 844 });
    contexts.push(phone.context);
    await phone.page.goto(`${server.issuer}/admin`);
    await signInOnLoginPage(phone.page, 'support', 'demo-password');
    await phone.page.waitForURL(`${server.issuer}/admin/users`);
    await phone.page.goto(`${server.issuer}/admin/users/root`);
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBe(390);
    await screenshot(phone.page, 'phone-console-protected-account', { fullPage: true });
  });

  it('shows a refusal the page could not foresee (the account was disabled meanwhile) in the dialog, in words, and opens nothing', async () => {
    const { page, context } = agent;
    await openImpersonateDialog(page, 'bob');
    await page.getByLabel(/^Why\?/).fill(REASON);
    await server.reference.accounts.update('bob', { disabled: true });
    try {
      const pagesBefore = context.pages().length;
      await page.getByRole('button', { name: 'Open as bob' }).click();
      const alert = page.getByRole('dialog').getByRole('alert');
      await alert.waitFor();
      expect(await alert.innerText()).toBe('This account is disabled: nobody can impersonate it until it is enabled again.');
      expect(context.pages()).toHaveLength(pagesBefore);
      await screenshot(page, 'journey-8-refused');
      await page.getByRole('button', { name: 'Cancel' }).click();
    } finally {
      await server.reference.accounts.update('bob', { disabled: false });
    }
  });

  it('keeps the dialog usable from the keyboard: it opens, takes the reason, and Escape closes it', async () => {
    const { page } = agent;
    await page.goto(`${server.issuer}/admin/users/bob`);
    await page.getByRole('link', { name: 'Impersonate bob…' }).focus();
    await page.keyboard.press('Enter');
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('impersonate-reason');
    await page.keyboard.type('Ticket 99: bob cannot log in');
    await page.keyboard.press('Escape');
    await expect(page.getByRole('dialog').isVisible()).resolves.toBe(false);
  });

  it('changes nothing when another site posts to the console (CSRF)', async () => {
    const attacker: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><form method="post" action="${server.issuer}/admin/settings"><input name="enabled" value="false"><button>go</button></form>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    try {
      const { page } = agent;
      // localhost is another site than 127.0.0.1 (the issuer): the browser sends the console cookie (SameSite=Lax) only to its own site.
      await page.goto(`http://localhost:${(attacker.address() as AddressInfo).port}/`);
      await page.getByRole('button', { name: 'go' }).click();
      await page.waitForLoadState();
      expect(await page.content()).not.toContain('Impersonation is off');
      expect(await server.reference.exchange.isEnabled()).toBe(true);
    } finally {
      attacker.close();
    }
  });
});
