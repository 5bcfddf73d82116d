/*
 * For this example only: a scripted browser that plays the support agent signing in to the support
 * tool through server.ts's login page (a real agent uses a real browser).
 */

/** Plays a browser: follows redirects with a cookie jar, posts the login form, returns the callback URL. */
export async function signInAs(authorizationUrl: URL, redirectUri: string, login: string, password: string): Promise<URL> {
  const cookies = new Map<string, string>();
  let url = authorizationUrl;
  let init: RequestInit = {};
  for (let hop = 0; hop < 10; hop += 1) {
    const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const location = response.headers.get('location');
    if (location && location.startsWith(redirectUri)) return new URL(location);
    if (location) {
      url = new URL(location, url);
      init = {};
    } else if (response.status === 200 && url.pathname.startsWith('/interaction/')) {
      url = new URL(`${url.pathname}/login`, url);
      init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ login, password }).toString() };
    } else {
      throw new Error(`sign-in stopped at ${url.pathname} (${response.status}): ${await response.text()}`);
    }
  }
  throw new Error('sign-in did not finish within 10 redirects');
}
