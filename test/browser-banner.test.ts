import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEMO_APP_COOKIE, type DemoApp } from '../src/server/demo-app.js';
import { launchBrowser, newPage, screenshot } from './helpers/browser.js';
import { REASON, SUPPORT_CONSOLE, startTestServer, type TestServer } from './helpers/server.js';

/**
 * `<impersonation-banner>` on the demo app's home page, in Chromium. The first test signs the tab in
 * through a real ticket (docs/browser-impersonation.md); the others open the app session with the claims such an ID token
 * carries (`act`) through the app's own session store, to vary them.
 */
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

interface Opened {
  page: Page;
  sessionId: string;
  /** Content-Security-Policy violations the page reported. */
  violations: string[];
}

/** The demo app's home page for a session whose ID token claims are `claims` (alice, acted on by support, unless overridden). */
async function impersonatedHome(claims: Record<string, unknown> = {}, options: Parameters<typeof newPage>[1] = {}): Promise<Opened> {
  const session = app.sessions.create(10 * 60_000, {
    claims: { iss: server.issuer, aud: 'demo-app', sub: 'alice', act: { sub: 'support' }, impersonation: { id: 'imp-1', started_at: 1 }, ...claims },
    profile: { sub: 'alice', name: 'Alice Anders', email: 'alice@acme.example' },
    signedInAt: Date.now(),
  });
  const { context, page } = await newPage(browser, options);
  contexts.push(context);
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  await context.addCookies([{ name: DEMO_APP_COOKIE, value: session.id, url: app.origin }]);
  await page.goto(app.origin);
  if (options.javaScriptEnabled !== false) await page.locator('impersonation-banner .bar').waitFor();
  return { page, sessionId: session.id, violations };
}

/** WCAG 2.x contrast ratios of each element's text against its nearest opaque background, computed in the page. */
function contrastRatios(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => {
    const root = document.querySelector('impersonation-banner')!.shadowRoot!;
    const channels = (css: string) => css.match(/[\d.]+/g)!.map(Number);
    const luminance = (css: string) => {
      const [r, g, b] = channels(css).map((c) => {
        const s = c / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    const background = (start: Element): string => {
      for (let node: Element | null = start; node; node = node.parentElement ?? ((node.getRootNode() as ShadowRoot).host ?? null)) {
        const color = getComputedStyle(node).backgroundColor;
        const alpha = channels(color)[3];
        if (alpha === undefined || alpha === 1) return color;
      }
      return 'rgb(255, 255, 255)';
    };
    const ratio = (selector: string) => {
      const node = root.querySelector(selector)!;
      const [a, b] = [luminance(getComputedStyle(node).color), luminance(background(node))].sort((x, y) => y - x);
      return Math.round(((a! + 0.05) / (b! + 0.05)) * 100) / 100;
    };
    return { text: ratio('.text'), name: ratio('.text strong'), badge: ratio('.badge'), button: ratio('button') };
  });
}

describe('<impersonation-banner> in a browser (docs/admin-console.md)', () => {
  it('appears after a real impersonated sign-in through a ticket, and End impersonation ends it at the provider', async () => {
    const { access_token: adminToken } = await server.signIn('support', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin');
    const minted = await fetch(`${server.issuer}/admin/api/tickets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: 'alice', client_id: 'demo-app', reason: REASON }),
    });
    expect(minted.status).toBe(201);
    const { login_url: loginUrl } = (await minted.json()) as { login_url: string };
    expect(loginUrl.startsWith(`${app.origin}/login?`)).toBe(true);

    const { context, page } = await newPage(browser);
    contexts.push(context);
    await page.goto(loginUrl);
    await page.waitForURL(`${app.origin}/`);
    await page.locator('impersonation-banner .bar').waitFor();
    await screenshot(page, 'banner-ticket-1-home');
    expect(await page.locator('impersonation-banner .text').innerText()).toBe('Viewing as alice — signed in by support');
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Hello, Alice Anders');
    const sessionId = (await context.cookies(app.origin)).find((c) => c.name === DEMO_APP_COOKIE)!.value;
    expect(app.sessions.get(sessionId)?.user?.claims).toMatchObject({ sub: 'alice', aud: 'demo-app', act: { sub: 'support' } });

    await page.getByRole('button', { name: 'End impersonation' }).click();
    // One click: the provider's end-session page submits itself (the app sent its ID token as id_token_hint).
    await page.waitForURL(`${app.origin}/signed-out?state=impersonation-ended`);
    await screenshot(page, 'banner-ticket-2-end');
    expect(app.sessions.get(sessionId)).toBeUndefined();
    expect(await server.reference.exchange.store.impersonations.list({ subject: 'alice' })).toEqual([]);
  });

  it('shows "Viewing as alice — signed in by support" when the ID token carries act', async () => {
    const { page } = await impersonatedHome();
    await screenshot(page, 'banner-demo-app');
    expect(await page.locator('impersonation-banner .text').innerText()).toBe('Viewing as alice — signed in by support');
    expect(await page.getByRole('button', { name: 'End impersonation' }).count()).toBe(1);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Hello, Alice Anders');
  });

  it('names the human at the end of an actor chain, and the service in between', async () => {
    const { page } = await impersonatedHome({ act: { sub: 'orders-api', act: { sub: 'support' } } });
    expect(await page.locator('impersonation-banner .text').innerText()).toBe('Viewing as alice — signed in by support (via orders-api)');
  });

  it('says an AI assistant acts when the actor is an AI agent (act.sub_profile)', async () => {
    const { page } = await impersonatedHome({ act: { sub: 'orders-assistant', sub_profile: 'ai_agent' } });
    expect(await page.locator('impersonation-banner .text').innerText()).toBe('Viewing as alice — an AI assistant acts: orders-assistant');
  });

  it('is an alert region with a label', async () => {
    const { page } = await impersonatedHome();
    const region = page.getByRole('alert', { name: 'Impersonation in progress' });
    expect(await region.count()).toBe(1);
    expect(await region.innerText()).toContain('Viewing as alice — signed in by support');
  });

  it('stays fixed at the top while the page scrolls, and pushes the page below it', async () => {
    const { page } = await impersonatedHome({}, { width: 900, height: 320 });
    const bar = page.locator('impersonation-banner .bar');
    const before = (await bar.boundingBox())!;
    const header = (await page.locator('header.topbar').boundingBox())!;
    expect(before.y).toBe(0);
    expect(before.width).toBe(900);
    expect(header.y).toBeGreaterThanOrEqual(before.height);
    await page.mouse.wheel(0, 400);
    await page.waitForFunction(() => window.scrollY > 0);
    expect((await bar.boundingBox())!.y).toBe(0);
  });

  it('wraps on a narrow screen and still keeps the page clear of it', async () => {
    const { page } = await impersonatedHome({}, { width: 375, height: 700 });
    await screenshot(page, 'banner-narrow');
    const bar = (await page.locator('impersonation-banner .bar').boundingBox())!;
    const header = (await page.locator('header.topbar').boundingBox())!;
    expect(bar.width).toBe(375);
    expect(header.y).toBeGreaterThanOrEqual(bar.height);
  });

  it('has text and button colours with a contrast of at least 4.5:1, computed in the browser', async () => {
    const { page } = await impersonatedHome();
    const ratios = await contrastRatios(page);
    for (const [element, ratio] of Object.entries(ratios)) expect([element, ratio >= 4.5]).toEqual([element, true]);
  });

  it('puts the End impersonation button first in keyboard order, with a visible focus ring', async () => {
    const { page } = await impersonatedHome();
    await page.keyboard.press('Tab');
    const focus = await page.evaluate(() => {
      const host = document.activeElement!;
      const inner = host.shadowRoot?.activeElement;
      return { host: host.localName, inner: inner?.textContent, visible: inner?.matches(':focus-visible'), outline: inner && getComputedStyle(inner).outlineStyle };
    });
    await screenshot(page, 'banner-focus');
    expect(focus).toEqual({ host: 'impersonation-banner', inner: 'End impersonation', visible: true, outline: 'solid' });
  });

  it('does not animate when the reader prefers reduced motion', async () => {
    const still = await impersonatedHome({}, { reducedMotion: 'reduce' });
    const moving = await impersonatedHome({}, { reducedMotion: 'no-preference' });
    const animations = (page: Page) => page.evaluate(() => {
      const root = document.querySelector('impersonation-banner')!.shadowRoot!;
      return [getComputedStyle(root.querySelector('.bar')!).animationName, getComputedStyle(root.querySelector('.dot')!).animationName];
    });
    expect(await animations(still.page)).toEqual(['none', 'none']);
    expect(await animations(moving.page)).toEqual(['enter', 'pulse']);
  });

  it("renders under the demo app's strict CSP without a single violation", async () => {
    const { page, violations } = await impersonatedHome();
    const styled = await page.evaluate(() => {
      const root = document.querySelector('impersonation-banner')!.shadowRoot!;
      return { sheets: root.adoptedStyleSheets.length, background: getComputedStyle(root.querySelector('.bar')!).backgroundColor };
    });
    expect(styled).toEqual({ sheets: 1, background: 'rgb(255, 196, 0)' });
    expect(violations).toEqual([]);
  });

  it('shows markup in a claim as text', async () => {
    const { page } = await impersonatedHome({ sub: '<img src=x onerror="document.title=1">', act: { sub: '<b>support</b>' } });
    expect(await page.locator('impersonation-banner .text').innerText()).toBe('Viewing as <img src=x onerror="document.title=1"> — signed in by <b>support</b>');
    const injected = await page.evaluate(() => {
      const root = document.querySelector('impersonation-banner')!.shadowRoot!;
      return root.querySelectorAll('img, b').length + document.querySelectorAll('img, b').length;
    });
    expect(injected).toBe(0);
  });

  it('still shows the notice and the End impersonation form when scripts do not run', async () => {
    const { page, sessionId } = await impersonatedHome({}, { javaScriptEnabled: false });
    await screenshot(page, 'banner-no-script');
    const notice = page.getByRole('alert', { name: 'Impersonation in progress' });
    expect(await notice.innerText()).toBe('Viewing as alice — signed in by support End impersonation');
    await notice.getByRole('button', { name: 'End impersonation' }).click();
    await page.waitForURL(`${server.issuer}/session/end?**`);
    expect(app.sessions.get(sessionId)).toBeUndefined();
  });

  it('End impersonation posts to the app and signs the tab out through RP-initiated logout', async () => {
    const { page, sessionId } = await impersonatedHome();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(`${request.method()} ${request.url()}`));
    await page.getByRole('button', { name: 'End impersonation' }).click();
    // This browser holds no provider session, so the provider signs out without asking.
    await page.waitForURL(`${app.origin}/signed-out?state=impersonation-ended`);
    const endSession = new URL(`${server.issuer}/session/end`);
    endSession.search = new URLSearchParams({ client_id: 'demo-app', post_logout_redirect_uri: `${app.origin}/signed-out`, state: 'impersonation-ended' }).toString();
    expect(requests.slice(0, 2)).toEqual([`POST ${app.origin}/logout`, `GET ${endSession.href}`]);
    expect(requests).toContain(`GET ${app.origin}/signed-out?state=impersonation-ended`);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('The impersonation has ended');
    expect(app.sessions.get(sessionId)).toBeUndefined();
    expect(await page.locator('impersonation-banner').count()).toBe(0);
  });
});
