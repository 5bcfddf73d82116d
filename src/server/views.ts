/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The reference server's page frame: plain, server-rendered, no scripts. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d2430}
label{display:block;margin:.8rem 0 .2rem}input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}
button{margin-top:1rem;font-size:1rem;padding:.5rem 1.2rem}.error{color:#a40000}
pre{white-space:pre-wrap;word-break:break-all;background:#f3f4f6;padding:.8rem}
</style></head><body>
${body}
</body></html>`;
}

export function loginPage(action: string, clientId: string, error?: string): string {
  return page(
    'Sign in',
    `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(clientId)}</strong></p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(action)}" autocomplete="off">
<label for="login">Login</label><input id="login" name="login" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit">Sign in</button>
</form>`,
  );
}

export function consentPage(action: string, clientId: string, scopes: readonly string[]): string {
  return page(
    'Allow access',
    `<h1>Allow access</h1>
<p><strong>${escapeHtml(clientId)}</strong> asks for: ${scopes.map((s) => `<code>${escapeHtml(s)}</code>`).join(', ') || 'nothing more'}</p>
<form method="post" action="${escapeHtml(action)}"><button type="submit">Allow</button></form>`,
  );
}

/**
 * RP-initiated logout's confirmation (oidc-provider's `logoutSource`): `form` is the provider's
 * hidden form (`op.logoutForm`, with its xsrf token) that both buttons submit.
 */
export function logoutPage(form: string, clientName: string | undefined): string {
  return page(
    'Sign out',
    `<h1>Sign out</h1>
<p>${clientName ? `<strong>${escapeHtml(clientName)}</strong> asks to end your session.` : 'End your session?'} Do you want to sign out of your account on this provider too?</p>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}

/** Shown after a logout that has no post-logout redirect URI to return to. */
export function loggedOutPage(clientName: string | undefined): string {
  return page('Signed out', `<h1>Signed out</h1><p>You have signed out${clientName ? ` of ${escapeHtml(clientName)}` : ''}.</p>`);
}
