import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, newPage, screenshot, signInOnLoginPage } from './helpers/browser.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

/*
 * Delegation to an AI agent, in Chromium: the example agent (examples/agent/orders-assistant.mjs)
 * asks alice; alice allows it on her account page (read-only, 30 minutes); the agent reads her
 * orders as `act: { sub: orders-assistant, sub_profile: ai_agent }`; alice ends it, and the agent's
 * next call is refused. Screenshots at 1280 px and 390 px land in test-artifacts/screenshots/agent-*.png.
 */

let server: TestServer;
let browser: Browser;
let desktop: { context: BrowserContext; page: Page };
let phone: { context: BrowserContext; page: Page };
let agent: ChildProcess;
let output = '';

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer({ ordersApi: true, policy: { rateLimit: false } }), launchBrowser()]);
  desktop = await newPage(browser, { width: 1280, height: 900 });
  phone = await newPage(browser, { width: 390, height: 844 });
}, 60_000);

afterAll(async () => {
  if (agent && agent.exitCode === null) agent.kill();
  await Promise.all([desktop?.context.close(), phone?.context.close()]);
  await browser?.close();
  await server?.close();
});

describe('an AI agent acts for alice only with her consent, in Chromium', () => {
  it('1. the agent asks; alice sees who asks, what for, read-only by default', async () => {
    agent = spawn(process.execPath, ['examples/agent/orders-assistant.mjs'], {
      env: { ...process.env, ISSUER: server.issuer, ORDERS_API_URL: server.ordersApiUrl!, POLL_MS: '200' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    agent.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(async () => output.includes('waiting for consent'));
    for (const { page } of [desktop, phone]) {
      await page.goto(`${server.issuer}/account/impersonations`);
      await signInOnLoginPage(page, 'alice', 'demo-password');
      await page.waitForURL(`${server.issuer}/account/impersonations`);
    }
    const section = desktop.page.getByRole('region', { name: 'Assistants acting for you' });
    await expect(section.getByText('Orders Assistant AI assistant asks to act for you: Summarise your recent orders.').isVisible()).resolves.toBe(true);
    await expect(section.getByLabel('Read-only: it cannot change anything').isChecked()).resolves.toBe(true);
    await screenshot(desktop.page, 'agent-1-request', { fullPage: true });
    await phone.page.reload();
    await screenshot(phone.page, 'agent-1-request-390', { fullPage: true });
  });

  it('2. alice allows it for 30 minutes; the agent reads her orders as an AI agent acting for her', async () => {
    const { page } = desktop;
    const section = page.getByRole('region', { name: 'Assistants acting for you' });
    await section.getByLabel('For how long').selectOption({ label: '30 minutes' });
    await section.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('status').filter({ hasText: /^Allowed: Orders Assistant may act for you \(orders:read\) until .* UTC\. You can pause or end it here\.$/ }).waitFor();
    await until(async () => output.split('orders: A-1001').length > 2);
    await page.goto(`${server.issuer}/account/impersonations`);
    await expect(page.getByRole('region', { name: 'Assistants acting for you' }).getByText(/Orders Assistant AI assistant may act for you — orders:read — until/).isVisible()).resolves.toBe(true);
    await expect(page.getByRole('region', { name: 'Happening now' }).getByText(/^An AI assistant, Orders Assistant \(orders-assistant\), is using Orders Assistant to view your account \(read-only\), until .* UTC, because: Summarise your recent orders\.$/).isVisible()).resolves.toBe(true);
    await screenshot(page, 'agent-2-allowed', { fullPage: true });
    await phone.page.reload();
    await screenshot(phone.page, 'agent-2-allowed-390', { fullPage: true });
  });

  it('3. alice ends it: the agent’s next call is refused', async () => {
    const { page } = desktop;
    await page.getByRole('region', { name: 'Assistants acting for you' }).getByRole('button', { name: 'End' }).click();
    await page.getByRole('status').filter({ hasText: 'Ended: Orders Assistant can no longer act for you.' }).waitFor();
    await until(async () => agent.exitCode !== null);
    expect(agent.exitCode).toBe(0);
    expect(output).toMatch(/refused: subject_token is invalid, expired or revoked \(the delegation was paused or ended\)/);
    await screenshot(page, 'agent-3-ended', { fullPage: true });
    await phone.page.reload();
    await screenshot(phone.page, 'agent-3-ended-390', { fullPage: true });
  });
});
