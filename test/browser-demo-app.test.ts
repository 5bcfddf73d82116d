import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEMO_APP_COOKIE, type DemoApp } from '../src/server/demo-app.js';
import { launchBrowser, newPage, screenshot, signInOnLoginPage } from './helpers/browser.js';
import { PASSWORD, startTestServer, type TestServer } from './helpers/server.js';

/** The demo relying party in Chromium: sign-in through the real login and consent pages, sign-out. */
let server: TestServer;
let app: DemoApp;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer({ demoApp: true }), launchBrowser()]);
  app = server.demoApp!;
}, 60_000);

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  await browser?.close();
  await server?.close();
});

async function page(): Promise<Page> {
  const opened = await newPage(browser);
  contexts.push(opened.context);
  return opened.page;
}

async function sessionId(target: Page): Promise<string | undefined> {
  const cookies = await target.context().cookies(app.origin);
  return cookies.find((c) => c.name === DEMO_APP_COOKIE)?.value;
}

/** From the signed-out home page through the provider's login and consent pages, back to the app. */
async function signIn(target: Page, login: string, shots?: string): Promise<void> {
  await target.goto(app.origin);
  if (shots) await screenshot(target, `${shots}-1-signed-out`);
  await target.getByRole('main').getByRole('link', { name: 'Sign in' }).click();
  await target.waitForURL(`${server.issuer}/interaction/**`);
  if (shots) await screenshot(target, `${shots}-2-login`);
  await signInOnLoginPage(target, login, PASSWORD);
  await target.getByRole('button', { name: 'Allow' }).waitFor();
  if (shots) await screenshot(target, `${shots}-3-consent`);
  await target.getByRole('button', { name: 'Allow' }).click();
  await target.waitForURL(`${app.origin}/`);
}

describe('demo-app in a browser (docs/admin-console.md)', () => {
  it('alice signs in through the login and consent pages and sees her name, with no banner', async () => {
    const tab = await page();
    await signIn(tab, 'alice', 'demo-app-sign-in');
    await screenshot(tab, 'demo-app-sign-in-4-home');
    expect(await tab.getByRole('heading', { level: 1 }).innerText()).toBe('Hello, Alice Anders');
    expect(await tab.locator('#account').innerText()).toBe('Name\nAlice Anders\nUser ID\nalice\nEmail\nalice@acme.example');
    expect(await tab.getByRole('banner').innerText()).toContain('Signed in as Alice Anders');
    expect(await tab.locator('impersonation-banner').count()).toBe(0);
    const user = app.sessions.get(await sessionId(tab))?.user;
    expect(user?.claims).toMatchObject({ sub: 'alice', aud: 'demo-app', iss: server.issuer });
    expect(user?.claims.act).toBeUndefined();
    expect(user?.profile).toMatchObject({ sub: 'alice', name: 'Alice Anders', email: 'alice@acme.example' });
  });

  it('alice signs out through RP-initiated logout: the app session and the provider session are gone', async () => {
    const tab = await page();
    await signIn(tab, 'alice');
    const id = await sessionId(tab);
    expect(app.sessions.get(id)?.user).toBeDefined();

    await tab.getByRole('button', { name: 'Sign out' }).click();
    await tab.waitForURL(`${server.issuer}/session/end**`);
    await screenshot(tab, 'demo-app-sign-out-1-confirm');
    await tab.getByRole('button', { name: 'Yes, sign me out' }).click();
    await tab.waitForURL(`${app.origin}/signed-out`);
    await screenshot(tab, 'demo-app-sign-out-2-signed-out');

    expect(await tab.getByRole('heading', { level: 1 }).innerText()).toBe('You have signed out');
    expect(app.sessions.get(id)).toBeUndefined();
    expect(await sessionId(tab)).toBeUndefined();
    // Signing in again asks for the password: the provider's session ended too.
    await tab.getByRole('main').getByRole('link', { name: 'Sign in again' }).click();
    await tab.waitForURL(`${server.issuer}/interaction/**`);
    expect(await tab.getByRole('heading', { level: 1 }).innerText()).toBe('Sign in');
  });

  it('third-party initiated login lands on target_link_uri after the sign-in', async () => {
    const tab = await page();
    const query = new URLSearchParams({ iss: server.issuer, login_hint: 'alice', target_link_uri: `${app.origin}/?from=portal` });
    await tab.goto(`${app.origin}/login?${query}`);
    await tab.waitForURL(`${server.issuer}/interaction/**`);
    await signInOnLoginPage(tab, 'alice', PASSWORD);
    await tab.getByRole('button', { name: 'Allow' }).click();
    await tab.waitForURL(`${app.origin}/?from=portal`);
    expect(await tab.getByRole('heading', { level: 1 }).innerText()).toBe('Hello, Alice Anders');
  });
});
