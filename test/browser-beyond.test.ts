import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, newPage, screenshot, signInOnLoginPage } from './helpers/browser.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/*
 * Beyond impersonation, in Chromium: the agent asks alice for read-only access in the console;
 * alice approves on her account page; the agent opens the demo app as alice under that approval;
 * the demo app lists her orders from the orders API, and the API refuses a change (read-only);
 * alice sees what support did and revokes the approval, which ends the impersonation. Screenshots
 * of each step land in test-artifacts/screenshots/beyond-*.png.
 */

const REASON = 'Ticket 4711: alice cannot see her March orders';
let server: TestServer;
let browser: Browser;
let agent: { context: BrowserContext; page: Page };
let alice: { context: BrowserContext; page: Page };
let tab: Page;

beforeAll(async () => {
  [server, browser] = await Promise.all([
    startTestServer({ demoApp: true, ordersApi: true, policy: { rateLimit: false, requireSubjectApproval: true } }),
    launchBrowser(),
  ]);
  agent = await newPage(browser, { width: 1280, height: 900 });
  alice = await newPage(browser, { width: 1280, height: 900 });
}, 60_000);

afterAll(async () => {
  await Promise.all([agent?.context.close(), alice?.context.close()]);
  await browser?.close();
  await server?.close();
});

describe('approve → impersonate → read-only refusal (beyond RFC 8693) in Chromium', () => {
  it('1. the agent finds no Impersonate button for alice, and asks her for read-only access', async () => {
    const { page } = agent;
    await page.goto(`${server.issuer}/admin/users/alice`);
    await signInOnLoginPage(page, 'support', 'demo-password');
    await page.waitForURL(`${server.issuer}/admin/users/alice`);
    await expect(page.getByText('alice must approve before you can impersonate them.').isVisible()).resolves.toBe(true);
    await expect(page.getByRole('link', { name: 'Impersonate alice…' }).count()).resolves.toBe(0);
    const form = page.getByRole('region', { name: 'Ask alice for access' });
    await form.getByLabel(/^Why\?/).fill(REASON);
    await form.getByLabel('For how long?').selectOption({ label: '30 minutes' });
    await form.getByLabel('Read-only — look, change nothing').check();
    await form.getByLabel('orders:read').check();
    await form.getByLabel('openid').check();
    await form.getByLabel('profile').check();
    await form.getByLabel('email').check();
    await screenshot(page, 'beyond-1-ask', { fullPage: true });
    await form.getByRole('button', { name: 'Ask alice' }).click();
    await page.getByRole('status').filter({ hasText: 'Asked alice for read-only access: waiting for their answer' }).waitFor();
    await expect(page.getByRole('row').filter({ hasText: 'waiting for the user' }).count()).resolves.toBe(1);
  });

  it('2. alice sees the request on her account page and approves it', async () => {
    const { page } = alice;
    await page.goto(`${server.issuer}/account/impersonations`);
    await signInOnLoginPage(page, 'alice', 'demo-password');
    await page.waitForURL(`${server.issuer}/account/impersonations`);
    const requests = page.getByRole('region', { name: 'Requests for access' });
    await expect(requests.getByText(`Sam Support (support) asks to view your account (read-only) for up to 30 minutes, because: ${REASON}.`).isVisible()).resolves.toBe(true);
    await screenshot(page, 'beyond-2-alice-request', { fullPage: true });
    await requests.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('status').filter({ hasText: /^Approved until .* UTC\. You can revoke it here at any time\.$/ }).waitFor();
    await expect(page.getByText(/You let Sam Support view your account \(read-only\) until/).isVisible()).resolves.toBe(true);
  });

  it('3. the agent impersonates alice under the approval: the demo app opens read-only, with her orders', async () => {
    const { page, context } = agent;
    await page.goto(`${server.issuer}/admin/users/alice`);
    await page.getByText('alice approved').waitFor();
    await page.getByRole('link', { name: 'Impersonate alice…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Impersonate alice' });
    await dialog.getByLabel(/^Why\?/).fill(REASON);
    await expect(dialog.getByLabel(/^Under which approval\?/).locator('option').allInnerTexts()).resolves.toEqual([expect.stringMatching(/^Read-only, until .* UTC — Ticket 4711/)]);
    await screenshot(page, 'beyond-3-dialog-approval');
    const opened = context.waitForEvent('page');
    await dialog.getByRole('button', { name: 'Open as alice' }).click();
    tab = await opened;
    await tab.waitForURL(`${server.demoApp!.origin}/`);
    const banner = tab.locator('impersonation-banner').getByRole('alert', { name: 'Impersonation in progress' });
    await banner.waitFor();
    expect((await banner.innerText()).replace(/\s+/g, ' ')).toContain('Viewing as alice — signed in by support');
    await expect(tab.getByText('Read-only access. Support is viewing this account: the orders API refuses any change.').isVisible()).resolves.toBe(true);
    await expect(tab.getByRole('row').filter({ hasText: 'Espresso machine' }).isVisible()).resolves.toBe(true);
    await screenshot(tab, 'beyond-4-demo-app-read-only', { fullPage: true });
  });

  it('4. the orders API refuses a change: the demo app shows the refusal', async () => {
    await tab.getByRole('button', { name: 'Resend the confirmation of order A-1001' }).click();
    await tab.waitForURL(`${server.demoApp!.origin}/`);
    const refusal = tab.getByRole('alert').filter({ hasText: 'The orders API refused' });
    await refusal.waitFor();
    expect(await refusal.innerText()).toBe('The orders API refused (403 insufficient_scope): a read-only impersonation cannot change anything.');
    await screenshot(tab, 'beyond-5-refused', { fullPage: true });
  });

  it('5. alice sees what support did, and revoking her approval ends the impersonation', async () => {
    const { page } = alice;
    await page.goto(`${server.issuer}/account/impersonations`);
    const messages = page.getByRole('region', { name: 'Happening now' });
    await messages.waitFor();
    await expect(messages.getByText(new RegExp(`^Sam Support \\(support\\) is signed in to Acme Orders as you \\(read-only\\), until .* UTC, because: ${REASON}\\.$`)).isVisible()).resolves.toBe(true);
    await expect(page.getByText(/in use now/).isVisible()).resolves.toBe(true);
    await screenshot(page, 'beyond-6-alice-notice', { fullPage: true });
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('status').filter({ hasText: 'Revoked: it can no longer be used, and the access it opened has ended.' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: REASON });
    expect((await row.innerText()).replace(/\s+/g, ' ')).toContain('Ended when you revoked your approval');
    await screenshot(page, 'beyond-7-alice-revoked', { fullPage: true });
    expect(await server.reference.exchange.list({ subject: 'alice' })).toEqual([]);
    await agent.page.goto(`${server.issuer}/admin/impersonations`);
    await agent.page.getByText('Nobody is acting as anyone right now.').waitFor();
  });
});
