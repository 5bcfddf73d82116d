import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, newPage, screenshot, signInOnLoginPage } from './helpers/browser.js';
import { PASSWORD, startTestServer, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

/** The provider's pages under their Content-Security-Policy in Chromium (docs/security.md). */
let server: TestServer;
let browser: Browser;
let framing: { server: Server; origin: string };
const contexts: BrowserContext[] = [];

/** Another origin whose page frames whatever `?src=` names. */
function startFramingSite(): Promise<{ server: Server; origin: string }> {
  const site = createServer((req, res) => {
    const src = new URL(req.url ?? '/', 'http://x').searchParams.get('src') ?? '';
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><title>Evil</title><h1>Win a prize</h1><iframe id="victim" src="${src.replace(/"/g, '&quot;')}" width="800" height="600"></iframe>`);
  });
  return new Promise((resolve) => site.listen(0, '127.0.0.1', () => resolve({ server: site, origin: `http://127.0.0.1:${(site.address() as AddressInfo).port}` })));
}

beforeAll(async () => {
  [server, browser, framing] = await Promise.all([startTestServer({ demoApp: true }), launchBrowser(), startFramingSite()]);
}, 60_000);

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  await browser?.close();
  await server?.close();
  framing?.server.closeAllConnections();
  await new Promise<void>((resolve) => (framing ? framing.server.close(() => resolve()) : resolve()));
});

/** A fresh tab that records every console message (CSP violations are reported there). */
async function page(): Promise<{ tab: Page; messages: string[] }> {
  const opened = await newPage(browser);
  contexts.push(opened.context);
  const messages: string[] = [];
  opened.page.on('console', (message) => messages.push(message.text()));
  return { tab: opened.page, messages };
}

describe("the provider's pages in a browser (docs/security.md)", () => {
  it('signs alice in through the login and consent pages under their CSP, styled, with no violation', async () => {
    const { tab, messages } = await page();
    const app = server.demoApp!;
    await tab.goto(app.origin);
    await tab.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
    await tab.waitForURL(`${server.issuer}/interaction/**`);
    // The inline stylesheet runs under the response's nonce: the button has the brand colour.
    expect(await tab.getByRole('button', { name: 'Sign in' }).evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(31, 79, 209)');
    await screenshot(tab, 'provider-pages-login');
    await signInOnLoginPage(tab, 'alice', PASSWORD);
    await tab.getByRole('button', { name: 'Allow' }).click();
    await tab.waitForURL(`${app.origin}/`);
    expect(await tab.getByRole('heading', { level: 1 }).innerText()).toBe('Hello, Alice Anders');
    expect(messages.filter((m) => /Content Security Policy/i.test(m))).toEqual([]);
  });

  it('refuses to show the login page in a frame of another origin', async () => {
    const { tab, messages } = await page();
    // The browser holds the interaction (its cookie), as a victim tricked into a sign-in would.
    await tab.goto(server.demoApp!.origin);
    await tab.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
    await tab.waitForURL(`${server.issuer}/interaction/**`);
    const loginPage = tab.url();
    await tab.goto(`${framing.origin}/?src=${encodeURIComponent(loginPage)}`);
    await until(async () => messages.some((m) => m.includes("frame-ancestors 'none'")));
    await screenshot(tab, 'provider-pages-framed-login');
    const frame = tab.frames().find((f) => f !== tab.mainFrame())!;
    expect(frame.url()).not.toBe(loginPage);
    expect(await frame.locator('#password').count()).toBe(0);
    expect(messages.find((m) => m.includes("frame-ancestors 'none'"))).toContain(`Framing '${server.issuer}/' violates`);
  });
});
