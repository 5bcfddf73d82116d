import { STYLESHEET } from '../web/assets.js';
import { Html, html } from '../web/html.js';

// The extension's stylesheet is our own CSS, placed as it is under the page's nonce.
const AUTH_STYLE = new Html(`${STYLESHEET}
.auth{max-width:27rem;margin:5vh auto 2rem;padding:0 1rem}
.auth .brand{display:block;text-align:center;font-weight:700;margin-bottom:1.2rem;color:var(--muted)}
.auth .card{padding:1.6rem 1.6rem 1.8rem}.auth h1{margin-top:0}
.auth label{margin-top:1rem}.auth .button{margin-top:1.4rem;width:100%}
.auth .button + .button{margin-top:.6rem}
`);

/**
 * The provider's own pages (login, consent, logout, errors): the extension's stylesheet, one card
 * in the middle of the page, no script. The stylesheet is inline under the response's CSP nonce
 * (`pageNonce`, docs/security.md).
 */
export function page(title: string, body: Html, nonce: string | undefined): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Acme identity</title>
<style${nonce ? html` nonce="${nonce}"` : ''}>${AUTH_STYLE}</style></head><body>
<div class="auth"><span class="brand">Acme identity</span><main class="card">
${body}
</main></div>
</body></html>`.value;
}

export function loginPage(nonce: string | undefined, action: string, appName: string, error?: string): string {
  return page(
    'Sign in',
    html`<h1>Sign in</h1>
<p>to continue to <strong>${appName}</strong></p>
${error ? html`<p class="alert error" role="alert">${error}</p>` : ''}
<form method="post" action="${action}" autocomplete="off">
<label for="login">Login</label><input id="login" name="login" type="text" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit" class="button">Sign in</button>
</form>`,
    nonce,
  );
}

export function consentPage(nonce: string | undefined, action: string, appName: string, scopes: readonly string[]): string {
  const asked = scopes.length ? scopes.map((s, i) => html`${i ? ', ' : ''}<code>${s}</code>`) : 'nothing more';
  return page(
    'Allow access',
    html`<h1>Allow access</h1>
<p><strong>${appName}</strong> asks for: ${asked}</p>
<form method="post" action="${action}"><button type="submit" class="button">Allow</button></form>`,
    nonce,
  );
}

/**
 * RP-initiated logout's confirmation (oidc-provider's `logoutSource`): `form` is the provider's
 * hidden form (`op.logoutForm`, with its xsrf token) that both buttons submit.
 */
export function logoutPage(nonce: string | undefined, form: string, clientName: string | undefined): string {
  // oidc-provider's own markup, which escapes what it holds.
  const providerForm = new Html(form);
  return page(
    'Sign out',
    html`<h1>Sign out</h1>
<p>${clientName ? html`<strong>${clientName}</strong> asks to end your session.` : 'End your session?'} Do you want to sign out of your account on this provider too?</p>
${providerForm}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout" class="button">Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="button secondary">No, stay signed in</button>`,
    nonce,
  );
}

/** Shown after a logout that has no post-logout redirect URI to return to. */
export function loggedOutPage(nonce: string | undefined, clientName: string | undefined): string {
  return page('Signed out', html`<h1>Signed out</h1><p>You have signed out${clientName ? html` of ${clientName}` : ''}.</p>`, nonce);
}

/**
 * oidc-provider's `renderError`: the OAuth error and its description (RFC 6749 §4.1.2.1), nothing
 * else of the request.
 */
export function errorPage(nonce: string | undefined, out: { error?: unknown; error_description?: unknown }): string {
  const description = typeof out.error_description === 'string' ? out.error_description : '';
  return page(
    'Sign-in failed',
    html`<h1>Sign-in failed</h1>
<p class="alert error" role="alert"><code>${String(out.error ?? 'server_error')}</code>${description ? html` ${description}` : ''}</p>
<p>Go back to the application and try again.</p>`,
    nonce,
  );
}
