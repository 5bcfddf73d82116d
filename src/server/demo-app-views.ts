import { html, type Html } from '../web/html.js';

/** The demo app's stylesheet, served as a file (`style-src 'self'`: no inline style anywhere). */
export const DEMO_APP_CSS = `
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#f3f4f7;color:#1b2230;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans","DejaVu Sans",sans-serif}
a{color:#1a56c4}
.topbar{background:#fff;border-bottom:1px solid #dfe3ea}
.topbar .inner{max-width:56rem;margin:0 auto;padding:.75rem 1.25rem;display:flex;align-items:center;gap:1rem}
.brand{display:flex;align-items:center;gap:.6rem;font-weight:700;font-size:1.1rem;color:#1b2230;text-decoration:none;white-space:nowrap}
.logo{display:inline-grid;place-items:center;width:2rem;height:2rem;border-radius:.5rem;background:#1a56c4;color:#fff;font-weight:800}
.spacer{flex:1}
.who{color:#4a5568;font-size:.95rem}
.who strong{color:#1b2230}
main{max-width:56rem;margin:0 auto;padding:2rem 1.25rem 4rem}
h1{font-size:1.75rem;line-height:1.25;margin:0 0 .4rem}
.lead{color:#4a5568;margin:0 0 1.75rem}
.card{background:#fff;border:1px solid #dfe3ea;border-radius:.75rem;padding:1.5rem;box-shadow:0 1px 2px rgb(16 24 40 / .05)}
.card+.card{margin-top:1.25rem}
.card h2{font-size:1.05rem;margin:0 0 1rem}
.center{max-width:28rem;margin:4rem auto;text-align:center}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.6rem 1.5rem;margin:0}
dt{color:#4a5568}
dd{margin:0;font-weight:600;overflow-wrap:anywhere}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.92em;background:#eef1f6;border-radius:.3rem;padding:.1rem .35rem}
.button{display:inline-block;white-space:nowrap;border:1px solid transparent;border-radius:.5rem;padding:.55rem 1.1rem;font:inherit;font-weight:600;text-decoration:none;cursor:pointer;background:#1a56c4;color:#fff}
.button:hover{background:#1546a0}
.button.secondary{background:#fff;color:#1b2230;border-color:#c5ccd8}
.button.secondary:hover{background:#f3f4f7}
.button:focus-visible{outline:3px solid #1a56c4;outline-offset:2px}
form.inline{display:inline;margin:0}
.error{border-left:4px solid #b42318;background:#fef3f2;color:#7a271a;padding:1rem 1.25rem;border-radius:.5rem;text-align:start}
.muted{color:#5b6576;font-size:.9rem}
impersonation-banner:not(:defined){display:block;background:#ffc400;color:#161616;padding:.6rem 1rem;border-bottom:5px solid #161616}
impersonation-banner:not(:defined) button{margin-inline-start:.75rem;border:2px solid #161616;border-radius:6px;background:#161616;color:#fff;font:inherit;font-weight:600;padding:.3rem .9rem;cursor:pointer}
.ok{border-left:4px solid #067647;background:#ecfdf3;color:#054f31;padding:.75rem 1rem;border-radius:.5rem;margin:0 0 1rem}
.card .error{margin:0 0 1rem}
.note{border-left:4px solid #93370d;background:#fffaeb;color:#7a2e0e;padding:.75rem 1rem;border-radius:.5rem;margin:0 0 1rem}
table{width:100%;border-collapse:collapse}
.table-wrap{overflow-x:auto;margin:0 -.5rem;padding:0 .5rem}
@media (max-width:34rem){td code{white-space:nowrap}}
th,td{text-align:left;padding:.55rem .5rem;border-bottom:1px solid #dfe3ea;vertical-align:middle}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:#4a5568}
tr:last-child td{border-bottom:0}
td.actions,th.actions{text-align:right}
.button.small{padding:.3rem .7rem;font-size:.9rem}
@media (max-width:34rem){.who{display:none}main{padding-top:1.5rem}h1{font-size:1.45rem}}
footer{max-width:56rem;margin:0 auto;padding:0 1.25rem 2rem;color:#5b6576;font-size:.85rem}
`;

export interface DemoPageParts {
  readonly title: string;
  /** Placed first in <body>: the impersonation banner. */
  readonly banner?: Html;
  /** The signed-in user's display name and the anti-CSRF token of the sign-out form. */
  readonly user?: { readonly name: string; readonly csrf: string };
  readonly main: Html;
  readonly assets: { readonly css: string; readonly banner: string };
}

// Fragments one per line.
function lines(parts: readonly Html[]): Html[] {
  return parts.map((part, i) => (i === 0 ? part : html`\n${part}`));
}

/** The demo app's page frame: external stylesheet and module script only (strict CSP). */
export function demoPage(parts: DemoPageParts): string {
  const account = parts.user
    ? html`<span class="who">Signed in as <strong>${parts.user.name}</strong></span>
<form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" value="${parts.user.csrf}"><button class="button secondary" type="submit">Sign out</button></form>`
    : html`<a class="button" href="/signin">Sign in</a>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${parts.title} · Acme Orders</title>
<link rel="stylesheet" href="${parts.assets.css}">
${parts.banner ? html`<script type="module" src="${parts.assets.banner}"></script>` : ''}
</head><body>
${parts.banner}
<header class="topbar"><div class="inner"><a class="brand" href="/"><span class="logo" aria-hidden="true">A</span>Acme Orders</a><span class="spacer"></span>${account}</div></header>
<main>
${parts.main}
</main>
<footer>Demo relying party of oidc-provider-token-exchange: a plain OpenID Connect client (authorization code + PKCE).</footer>
</body></html>`.value;
}

export function signedOutHome(): Html {
  return html`<div class="card center">
<h1>Welcome to Acme Orders</h1>
<p class="lead">Sign in with your Acme account to see your orders and your profile.</p>
<a class="button" href="/signin">Sign in</a>
</div>`;
}

/** The home page of a signed-in user: who the ID token says is signed in. */
export function signedInHome(claims: Readonly<Record<string, unknown>>): Html {
  const text = (name: string) => (typeof claims[name] === 'string' ? (claims[name] as string) : undefined);
  const name = text('name') ?? text('sub') ?? '';
  const rows: Array<[string, string | undefined, boolean]> = [
    ['Name', text('name'), false],
    ['User ID', text('sub'), true],
    ['Email', text('email'), false],
  ];
  const list = rows
    .filter((row): row is [string, string, boolean] => row[1] !== undefined)
    .map(([label, value, code]) => html`<dt>${label}</dt><dd>${code ? html`<code>${value}</code>` : value}</dd>`);
  return html`<h1>Hello, ${name}</h1>
<p class="lead">You are signed in to Acme Orders.</p>
<section class="card" aria-labelledby="account-heading">
<h2 id="account-heading">Your account</h2>
<dl id="account">
${lines(list)}
</dl>
</section>`;
}

export function signedOutPage(): Html {
  return html`<div class="card center">
<h1>You have signed out</h1>
<p class="lead">Your Acme Orders session has ended.</p>
<a class="button" href="/signin">Sign in again</a>
</div>`;
}

/** After "End impersonation": the impersonation is over, here and at the provider. */
export function impersonationEndedPage(): Html {
  return html`<div class="card center">
<h1>The impersonation has ended</h1>
<p class="lead">This browser is signed out of the account you were viewing, at Acme Orders and at the identity provider. The support console lists the impersonation as ended.</p>
<p class="muted">You can close this tab. Signing in again asks for a password.</p>
<a class="button secondary" href="/signin">Sign in</a>
</div>`;
}

/** A sign-in that did not complete: the OAuth error (RFC 6749 §4.1.2.1) or what went wrong. */
export function errorPage(heading: string, message: string, code?: string): Html {
  return html`<div class="card center">
<h1>${heading}</h1>
<div class="error" role="alert"><p>${message}</p>${code ? html`<p class="muted">Error code: <code>${code}</code></p>` : ''}</div>
<p><a class="button" href="/">Back to Acme Orders</a></p>
</div>`;
}

export function notFoundPage(): Html {
  return html`<div class="card center"><h1>Page not found</h1><p><a href="/">Back to Acme Orders</a></p></div>`;
}

/** An order as the orders API answers it. */
export interface DemoOrder {
  readonly id: string;
  readonly item: string;
  readonly total: string;
  readonly status: string;
}

/**
 * The user's orders from the orders API, each with "Resend confirmation" (a POST the API decides
 * on: it refuses a read-only impersonation), and the outcome of the last one.
 */
export function ordersCard(
  result: { orders: readonly DemoOrder[] } | { error: string },
  options: { csrf: string; readOnly: boolean; flash?: { kind: 'ok' | 'error'; text: string } | undefined },
): Html {
  const flash = options.flash
    ? html`<div class="${options.flash.kind === 'ok' ? 'ok' : 'error'}" role="${options.flash.kind === 'ok' ? 'status' : 'alert'}">${options.flash.text}</div>`
    : '';
  const note = options.readOnly ? html`<p class="note"><strong>Read-only access.</strong> Support is viewing this account: the orders API refuses any change.</p>` : '';
  return html`
<section class="card" aria-labelledby="orders-heading">
<h2 id="orders-heading">Your orders</h2>
${note}${flash}${ordersBody(result, options.csrf)}
</section>`;
}

function ordersBody(result: { orders: readonly DemoOrder[] } | { error: string }, csrf: string): Html {
  if ('error' in result) return html`<div class="error" role="alert">Your orders could not be loaded: ${result.error}.</div>`;
  if (result.orders.length === 0) return html`<p class="muted">No orders yet.</p>`;
  const rows = result.orders.map(
    (o) => html`<tr><td><code>${o.id}</code></td><td>${o.item}</td><td>${o.total}</td><td>${o.status}</td>
<td class="actions"><form class="inline" method="post" action="/orders/${encodeURIComponent(o.id)}/resend"><input type="hidden" name="csrf" value="${csrf}"><button class="button secondary small" type="submit" aria-label="Resend the confirmation of order ${o.id}">Resend confirmation</button></form></td></tr>`,
  );
  return html`<div class="table-wrap"><table><caption class="muted">From the orders API, with your access token.</caption><thead><tr><th scope="col">Order</th><th scope="col">Item</th><th scope="col">Total</th><th scope="col">Status</th><th scope="col" class="actions">Action</th></tr></thead><tbody>
${lines(rows)}
</tbody></table></div>`;
}
