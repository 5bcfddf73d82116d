import { describe, expect, it } from '@jest/globals';
import { bannerMarkup } from '../src/banner/render.js';
import { demoPage, errorPage as demoErrorPage, ordersCard, signedInHome } from '../src/server/demo-app-views.js';
import { consentPage, errorPage, loggedOutPage, loginPage, logoutPage } from '../src/server/interaction-views.js';
import { html } from '../src/web/html.js';

/** The reference server's pages escape every value they did not write themselves. */
const HOSTILE = `<img src=x onerror="alert('x')">&`;
const ESCAPED = '&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;';

describe("the provider's own pages (docs/reference-server.md)", () => {
  it('escapes the application name, the error and the form action of the login page', () => {
    const page = loginPage('n0nce', `/interaction/${HOSTILE}/login`, HOSTILE, HOSTILE);
    expect(page).toContain(`<p>to continue to <strong>${ESCAPED}</strong></p>`);
    expect(page).toContain(`<p class="alert error" role="alert">${ESCAPED}</p>`);
    expect(page).toContain(`<form method="post" action="/interaction/${ESCAPED}/login" autocomplete="off">`);
    expect(page).toContain('<style nonce="n0nce">');
    expect(page).not.toContain('<img');
  });

  it('lists the scopes a consent asks for, each escaped, or "nothing more"', () => {
    expect(consentPage(undefined, '/i/1/confirm', 'Acme Orders', ['openid', HOSTILE])).toContain(`asks for: <code>openid</code>, <code>${ESCAPED}</code></p>`);
    expect(consentPage(undefined, '/i/1/confirm', 'Acme Orders', [])).toContain('asks for: nothing more</p>');
  });

  it("keeps oidc-provider's logout form as it is and escapes the client's name", () => {
    const form = '<form id="op.logoutForm" method="post" action="/session/end/confirm"><input type="hidden" name="xsrf" value="t"/></form>';
    const page = logoutPage(undefined, form, HOSTILE);
    expect(page).toContain(`\n${form}\n`);
    expect(page).toContain(`<strong>${ESCAPED}</strong> asks to end your session.`);
    expect(loggedOutPage(undefined, HOSTILE)).toContain(`You have signed out of ${ESCAPED}.`);
  });

  it('escapes the OAuth error and its description on the error page', () => {
    expect(errorPage(HOSTILE, { error: HOSTILE, error_description: HOSTILE })).toContain(`<code>${ESCAPED}</code> ${ESCAPED}</p>`);
    expect(errorPage(undefined, {})).toContain('<code>server_error</code></p>');
  });
});

describe("the demo app's pages", () => {
  it("escapes the ID token's claims on the home page", () => {
    const page = String(signedInHome({ name: HOSTILE, sub: HOSTILE, email: HOSTILE }));
    expect(page).toContain(`<h1>Hello, ${ESCAPED}</h1>`);
    expect(page).toContain(`<dt>Name</dt><dd>${ESCAPED}</dd>\n<dt>User ID</dt><dd><code>${ESCAPED}</code></dd>\n<dt>Email</dt><dd>${ESCAPED}</dd>`);
  });

  it("escapes the orders API's answers, the message of the last resend and the form's token", () => {
    const order = { id: 'A-1001', item: HOSTILE, total: HOSTILE, status: HOSTILE };
    const card = String(ordersCard({ orders: [order] }, { csrf: HOSTILE, readOnly: false, flash: { kind: 'error', text: HOSTILE } }));
    expect(card).toContain(`<div class="error" role="alert">${ESCAPED}</div>`);
    expect(card).toContain(`<td><code>A-1001</code></td><td>${ESCAPED}</td><td>${ESCAPED}</td><td>${ESCAPED}</td>`);
    expect(card).toContain(`<input type="hidden" name="csrf" value="${ESCAPED}">`);
    expect(String(ordersCard({ error: HOSTILE }, { csrf: 'c', readOnly: true }))).toContain(`Your orders could not be loaded: ${ESCAPED}.</div>`);
    expect(card).not.toContain('<img');
  });

  it("escapes the page title, the user's name and the error; places the banner's escaped markup first in the body", () => {
    const banner = bannerMarkup({ subject: HOSTILE, actor: 'support', chain: [] }, { csrfToken: 't' });
    const page = demoPage({ title: HOSTILE, main: demoErrorPage(HOSTILE, HOSTILE, HOSTILE), banner, user: { name: HOSTILE, csrf: HOSTILE }, assets: { css: '/a.css', banner: '/b.js' } });
    expect(page).toContain(`<title>${ESCAPED} · Acme Orders</title>`);
    expect(page).toContain(`<body>\n<impersonation-banner subject="${ESCAPED}" actor="support"`);
    expect(page).toContain(`Signed in as <strong>${ESCAPED}</strong>`);
    expect(page).toContain(`<h1>${ESCAPED}</h1>\n<div class="error" role="alert"><p>${ESCAPED}</p><p class="muted">Error code: <code>${ESCAPED}</code></p></div>`);
    expect(page).not.toContain('<img');
    expect(demoPage({ title: 'Home', main: html`<p>x</p>`, assets: { css: '/a.css', banner: '/b.js' } })).not.toContain('<script');
  });
});
