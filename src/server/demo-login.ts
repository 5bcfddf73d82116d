/**
 * Plays the user's browser against the reference server's login page: follows the authorization
 * redirects with a cookie jar, posts `login` and `password` (and the consent form, when one is
 * shown), and returns the redirect back to the client (carrying `code` and `state`). For the README walk-through and the end-to-end tests.
 */
export async function signInThroughLoginPage(input: {
  authorizationUrl: string;
  redirectUri: string;
  login: string;
  password: string;
}): Promise<URL> {
  const jar = new Map<string, string>();
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const remember = (response: Response) => {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
  };

  let url = new URL(input.authorizationUrl);
  let init: RequestInit = { method: 'GET' };
  for (let hop = 0; hop < 12; hop += 1) {
    const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: cookieHeader() } });
    remember(response);
    const location = response.headers.get('location');
    if (location) {
      const next = new URL(location, url);
      if (next.href.startsWith(input.redirectUri)) return next;
      url = next;
      init = { method: 'GET' };
      continue;
    }
    const html = await response.text();
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    if (response.status === 200 && action && init.method === 'GET') {
      url = new URL(action, url);
      const fields: Record<string, string> = action.endsWith('/login') ? { login: input.login, password: input.password } : {};
      init = {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      };
      continue;
    }
    const alert = /role="alert">([^<]*)</.exec(html)?.[1];
    if (alert) throw new Error(`sign-in refused: ${alert}`);
    const text = html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 300);
    throw new Error(`sign-in stopped at ${url.pathname} with status ${response.status}: ${text}`);
  }
  throw new Error('sign-in did not finish within 12 redirects');
}
