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
